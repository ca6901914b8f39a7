"""Popularity: how many people rated a movie, with recent ratings counting more.

The fallback for users we know nothing about, and a blend term that keeps personal lists
anchored to movies people actually watch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, check_ratings, check_rows
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

    name: ClassVar[str] = "popularity"

    def __init__(self, config: PopularityConfig, scores: np.ndarray, counts: np.ndarray) -> None:
        self.config = config
        self.scores = np.asarray(scores, dtype=np.float32)
        self.counts = np.asarray(counts, dtype=np.int64)  # ratings per movie (undecayed)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(
        cls, ratings: Ratings, catalog: Catalog, config: PopularityConfig | None = None
    ) -> Self:
        cfg = config or PopularityConfig()
        check_ratings(ratings, catalog, cls.name)
        matrix = ratings.matrix.tocsr()  # its column indices: no COO copy of the rows
        n_items = matrix.shape[1]
        counts = np.bincount(matrix.indices, minlength=n_items)
        decay = _decay(ratings, cfg)
        if decay is None and not (matrix.data < cfg.min_stars).any():
            return cls(cfg, np.log1p(counts), counts)  # every rating counts once
        weights = (matrix.data >= cfg.min_stars).astype(np.float64)
        if decay is not None:
            weights *= decay
        mass = np.bincount(matrix.indices, weights=weights, minlength=n_items)
        return cls(cfg, np.log1p(mass), counts)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """The same popularity row for every user: popularity is not personal."""
        return np.tile(self.scores, (rows.shape[0], 1))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores, "counts": self.counts}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: PopularityConfig
    ) -> Self:
        check_rows(arrays["scores"], catalog, cls.name)
        return cls(config, arrays["scores"], arrays["counts"])

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training: as popular as `change.counts` says (else unrated)."""
        scores, counts = change.gather(self.scores), change.gather(self.counts)
        fresh = change.added_counts()
        if fresh is not None:
            counts[change.added] = fresh
            scores[change.added] = np.log1p(fresh)
        return type(self)(self.config, scores, counts)


def _decay(ratings: Ratings, config: PopularityConfig) -> np.ndarray | None:
    """Per-rating weights 0.5 ** (age / half-life), in `ratings.matrix` order."""
    half_life = config.half_life_days
    times = rating_times(ratings) if half_life else None
    if times is None or not half_life:
        return None
    age_days = (times.max() - times) / SECONDS_PER_DAY
    return np.asarray(0.5 ** (age_days / half_life))
