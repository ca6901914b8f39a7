"""The biased SVD baseline for ratings: r̂(u, i) = μ + b_u + b_i + p_u · q_i.

It is the model of the hybrid's star predictor (`recommender.predict.BiasedMF`, fitted by
alternating least squares rather than SGD), shown in the report on its own: tuned on
validation RMSE, scored on RMSE / MAE, and ranking movies by predicted stars (a rating model
ranks poorly for top-N; the table shows how poorly).
"""

from __future__ import annotations

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
    def unfitted(cls, config: PredictorConfig) -> Unfitted[BiasedSVD]:
        """This baseline with `config`, for the harness to fit."""
        return Unfitted(cls.name, lambda ratings, catalog: cls.fit(ratings, catalog, config))

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: PredictorConfig | None = None) -> Self:
        return cls(BiasedMF.fit(ratings, catalog, config))

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        m = self.model
        user = m.user_params(rows)
        stars = m.mean + user[:, :1] + m.item_bias[None, :] + user[:, 1:] @ m.item_factors.T
        return np.asarray(stars, dtype=np.float32)

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        return self.model.predict(rows)
