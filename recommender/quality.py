"""Quality prior: each movie's mean rating, damped towards everyone's mean (a Bayesian average).

A movie rated by few people is pulled towards the global mean by `prior` pseudo-ratings, so a
handful of 5★ ratings does not outrank a film hundreds of people rated well. The same for
every user; it matters most for newcomers, of whom nothing else is known yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, check_ratings, check_rows
from recommender.data import Catalog, Ratings


@dataclass(frozen=True)
class QualityConfig:
    prior: float = 20.0  # pseudo-ratings at the global mean added to every movie's ratings


class Quality:
    """Scores every movie by its damped mean rating (movies nobody rated: the global mean)."""

    name: ClassVar[str] = "quality"

    def __init__(self, config: QualityConfig, counts: np.ndarray, means: np.ndarray) -> None:
        self.config = config
        self.counts = np.asarray(counts, dtype=np.int64)
        self.means = np.asarray(means, dtype=np.float32)
        counts64 = self.counts.astype(np.float64)
        sums = self.means.astype(np.float64) * counts64
        self.mean = float(sums.sum() / counts64.sum()) if counts64.sum() else 0.0
        damped = (sums + config.prior * self.mean) / (counts64 + config.prior)
        self.damped = damped.astype(np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: QualityConfig | None = None) -> Self:
        check_ratings(ratings, catalog, cls.name)
        matrix = ratings.matrix.tocsr()  # its column indices: no COO copy of the rows
        n_items = matrix.shape[1]
        counts = np.bincount(matrix.indices, minlength=n_items).astype(np.int64)
        sums = np.bincount(matrix.indices, weights=matrix.data, minlength=n_items)
        means = (sums / np.maximum(counts, 1)).astype(np.float32)
        return cls(config or QualityConfig(), counts, means)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """The same row for every user: the damped mean rating of every movie."""
        return np.tile(self.damped, (rows.shape[0], 1))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts, "means": self.means}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: QualityConfig
    ) -> Self:
        check_rows(arrays["counts"], catalog, cls.name)
        return cls(config, arrays["counts"], arrays["means"])

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training: `change.counts` ratings at the global mean, as their
        ratings are not in the model yet (so they score the global mean)."""
        counts, means = change.gather(self.counts), change.gather(self.means)
        fresh = change.added_counts()
        if fresh is not None:
            known = self.counts.astype(np.float64)
            total = known.sum()
            counts[change.added] = fresh
            means[change.added] = (self.means * known).sum() / total if total else 0.0
        return type(self)(self.config, counts, means)
