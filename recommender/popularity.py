"""Popularity: how many people rated a movie, with recent ratings counting more.

The fallback for users we know nothing about, and a blend term that keeps personal lists
anchored to movies people actually watch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings, rating_times

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class PopularityConfig:
    """`half_life_days`: a rating that old counts half (None: every rating counts the same).

    `min_stars`: ratings below this do not count as "watched and liked enough to matter".
    """

    half_life_days: float | None = None
    min_stars: float = 0.0


class Popularity:
    """Scores every movie by its (time-decayed) number of ratings, log-scaled."""

    name = "popularity"

    def __init__(self, config: PopularityConfig | None = None) -> None:
        self.config = config or PopularityConfig()
        self.params = asdict(self.config)
        self.scores_: np.ndarray | None = None
        self.counts_: np.ndarray | None = None
        self.means_: np.ndarray | None = None

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        matrix = ratings.matrix.tocoo()
        n_items = ratings.matrix.shape[1]
        weights = (matrix.data >= self.config.min_stars).astype(np.float64)
        decay = self._decay(ratings)
        if decay is not None:
            weights *= decay
        mass = np.bincount(matrix.col, weights=weights, minlength=n_items)
        self.counts_ = np.bincount(matrix.col, minlength=n_items).astype(np.int64)
        sums = np.bincount(matrix.col, weights=matrix.data, minlength=n_items)
        self.means_ = (sums / np.maximum(self.counts_, 1)).astype(np.float32)
        self.scores_ = np.log1p(mass).astype(np.float32)
        return self

    def _decay(self, ratings: Ratings) -> np.ndarray | None:
        """Per-rating weights 0.5 ** (age / half-life), in `ratings.matrix.tocoo()` order."""
        times = rating_times(ratings) if self.config.half_life_days else None
        if times is None:
            return None
        age_days = (times.max() - times) / SECONDS_PER_DAY
        return 0.5 ** (age_days / self.config.half_life_days)

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        """The same popularity row for every user: popularity is not personal."""
        scores = self._fitted()
        return np.tile(scores, (rows.shape[0], 1))

    def _fitted(self) -> np.ndarray:
        if self.scores_ is None:
            raise RuntimeError("Popularity is not fitted: call fit() first")
        return self.scores_

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._fitted()
        return {"scores": self.scores_, "counts": self.counts_, "means": self.means_}

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict[str, np.ndarray]) -> Popularity:
        model = cls(PopularityConfig(**params))
        model.scores_ = arrays["scores"].astype(np.float32)
        model.counts_ = arrays["counts"].astype(np.int64)
        model.means_ = arrays["means"].astype(np.float32)
        return model
