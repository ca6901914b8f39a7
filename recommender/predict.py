"""Rating prediction: biased matrix factorisation fitted by alternating least squares.

    r̂(u, i) = μ + b_u + b_i + p_u · q_i

The item side (b_i, q_i) is learnt; the user side is always solved from the user's current
ratings (a ridge regression over the item side), so predictions for a user who rated a movie a
second ago, or who is not in the training data at all, are as good as for anyone else.
Regularisation grows with the number of ratings behind each solve (weighted-λ, Zhou et al. 2008).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings

MAX_BATCH = 1024  # rows solved together
BATCH_CELLS = 32_768  # rows × longest row in a batch: bounds the padded arrays' memory


class PredictorError(ValueError):
    """The predictor cannot be trained on these data."""


@dataclass(frozen=True)
class PredictorConfig:
    factors: int = 32
    regularization: float = 0.15  # per rating, on the factors
    bias_regularization: float = 3.0  # pseudo-ratings pulling a bias towards 0
    iterations: int = 15
    seed: int = 0


class BiasedMF:
    """Biased MF rating predictor with closed-form fold-in of users."""

    name = "biased_mf"

    def __init__(self, config: PredictorConfig | None = None) -> None:
        self.config = config or PredictorConfig()
        self.params = asdict(self.config)
        self.mean_: float = 0.0
        self.item_bias_: np.ndarray | None = None
        self.item_factors_: np.ndarray | None = None
        self.scale: tuple[float, float] = (1.0, 5.0)

    def _solve_side(
        self, matrix: sp.csr_matrix, other: np.ndarray, offset: np.ndarray
    ) -> np.ndarray:
        """For each row: [bias, factors] minimising squared error against `other` = [1 | q].

        Rows are solved in batches of similar length (padded to the longest), so the normal
        equations of many rows are built by one batched product and one batched solve.
        """
        cfg = self.config
        out = np.zeros((matrix.shape[0], other.shape[1]), dtype=np.float64)
        lengths = np.diff(matrix.indptr)
        order = np.argsort(lengths, kind="stable")
        order = order[lengths[order] > 0]
        start = 0
        while start < len(order):
            longest = int(lengths[order[min(start + MAX_BATCH, len(order)) - 1]])
            size = max(1, min(MAX_BATCH, BATCH_CELLS // max(longest, 1)))
            rows = order[start : start + size]
            longest = int(lengths[rows].max())
            steps = np.arange(longest)
            valid = steps[None, :] < lengths[rows][:, None]
            positions = np.where(valid, matrix.indptr[rows][:, None] + steps[None, :], 0)
            cols = matrix.indices[positions]
            x = other[cols] * valid[..., None]
            target = (matrix.data[positions] - self.mean_ - offset[cols]) * valid
            xt = x.transpose(0, 2, 1)
            a = xt @ x
            diag = np.arange(other.shape[1])
            a[:, diag[1:], diag[1:]] += cfg.regularization * lengths[rows][:, None]
            a[:, 0, 0] += cfg.bias_regularization
            b = xt @ target[..., None]
            out[rows] = np.linalg.solve(a, b)[..., 0]
            start += len(rows)
        return out

    def fit(self, ratings: Ratings, catalog: Catalog) -> Self:
        cfg = self.config
        matrix = sp.csr_matrix(ratings.matrix, dtype=np.float64)
        if matrix.nnz == 0:
            raise PredictorError("no ratings to learn from")
        self.scale = tuple(float(x) for x in ratings.scale)
        self.mean_ = float(matrix.data.mean())
        rng = np.random.default_rng(cfg.seed)
        n_users, n_items = matrix.shape
        items = np.zeros((n_items, cfg.factors + 1))
        items[:, 1:] = rng.normal(0, 0.1, (n_items, cfg.factors))
        by_item = matrix.T.tocsr()
        users = np.zeros((n_users, cfg.factors + 1))
        for _ in range(cfg.iterations):
            users = self._solve_side(matrix, self._augment(items), items[:, 0])
            items = self._solve_side(by_item, self._augment(users), users[:, 0])
        if not np.all(np.isfinite(items)):
            raise PredictorError("rating predictor diverged (non-finite factors)")
        self.item_bias_ = items[:, 0].astype(np.float32)
        self.item_factors_ = np.ascontiguousarray(items[:, 1:], dtype=np.float32)
        return self

    @staticmethod
    def _augment(side: np.ndarray) -> np.ndarray:
        """[bias, factors] of one side → [1, factors] as the regressors of the other side."""
        out = side.copy()
        out[:, 0] = 1.0
        return out

    def user_params(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold users in: [b_u, p_u] per row, solved against the learnt item side."""
        self._fitted()
        rows = sp.csr_matrix(rows, dtype=np.float64)
        return self._solve_side(rows, self._design, self.item_bias_)

    @cached_property
    def _design(self) -> np.ndarray:
        """[1 | q_i] per movie: the regressors a user's [b_u, p_u] is solved against."""
        ones = np.ones((len(self._fitted()), 1), dtype=np.float64)
        return np.hstack([ones, self.item_factors_.astype(np.float64)])

    def predict(self, rows: sp.csr_matrix, columns: np.ndarray | None = None) -> np.ndarray:
        """Predicted stars (n × n_items, or n × len(columns)), clipped to the rating scale."""
        self._fitted()
        user = self.user_params(rows)
        cols = slice(None) if columns is None else np.asarray(columns)
        stars = (
            self.mean_
            + user[:, :1]
            + self.item_bias_[cols][None, :]
            + user[:, 1:] @ self.item_factors_[cols].T
        )
        return np.clip(stars, *self.scale).astype(np.float32)

    def _fitted(self) -> np.ndarray:
        if self.item_bias_ is None:
            raise RuntimeError("BiasedMF is not fitted: call fit() first")
        return self.item_bias_

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._fitted()
        return {
            "item_bias": self.item_bias_,
            "item_factors": self.item_factors_,
            "mean_scale": np.array([self.mean_, *self.scale], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict[str, np.ndarray]) -> BiasedMF:
        model = cls(PredictorConfig(**params))
        model.item_bias_ = arrays["item_bias"].astype(np.float32)
        model.item_factors_ = arrays["item_factors"].astype(np.float32)
        mean, low, high = (float(x) for x in arrays["mean_scale"])
        model.mean_, model.scale = mean, (low, high)
        return model
