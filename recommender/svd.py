"""The biased SVD baseline for ratings: r̂(u, i) = μ + b_u + b_i + p_u · q_i.

It is the model of the hybrid's star predictor (`recommender.predict.BiasedMF`), fitted the
classic way: one MAP fit (by alternating least squares rather than SGD), where the hybrid
averages Bayesian posterior draws. Shown in the report on its own: tuned on validation RMSE,
scored on RMSE / MAE, and ranking movies by predicted stars (a rating model ranks poorly for
top-N; the table shows how poorly).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import Unfitted
from recommender.data import Catalog, Ratings
from recommender.predict import BiasedMF, PredictorConfig


class BiasedSVD:
    """A scorer (predicted stars, unclipped so that ties are rare) and rating predictor."""

    name: ClassVar[str] = "svd"

    def __init__(self, model: BiasedMF) -> None:
        self.model = model

    @property
    def params(self) -> dict[str, Any]:
        return self.model.params

    @classmethod
    def unfitted(cls, config: PredictorConfig, bayesian: bool = False) -> Unfitted[BiasedSVD]:
        """This baseline with `config`, for the harness to fit: the classic MAP fit, or with
        `bayesian` `config` as it is (the hybrid's star predictor, tuned on its own)."""
        if not bayesian:
            return Unfitted(cls.name, lambda ratings, catalog: cls.fit(ratings, catalog, config))
        return Unfitted(
            cls.name, lambda ratings, catalog: cls(BiasedMF.fit(ratings, catalog, config))
        )

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: PredictorConfig | None = None) -> Self:
        """A MAP fit of `config` (its `samples` are ignored: this is the classic SVD)."""
        return cls(BiasedMF.fit(ratings, catalog, replace(config or PredictorConfig(), samples=0)))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.model.stars(rows), dtype=np.float32)

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        return self.model.predict(rows)
