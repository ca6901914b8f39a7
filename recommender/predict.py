"""Rating prediction: biased matrix factorisation fitted by alternating least squares.

    r̂(u, i) = μ + b_u + b_i + p_u · q_i

The item side (b_i, q_i) is learnt; the user side is always solved from the user's current
ratings (a ridge regression over the item side), so predictions for a user who rated a movie a
second ago, or who is not in the training data at all, are as good as for anyone else.
Regularisation grows with the number of ratings behind each solve (weighted-λ, Zhou et al. 2008).
At scale the item side is learnt from a seeded sample of users (`PredictorConfig.max_ratings`):
its cost stays bounded, and the user side never needed the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.component import CatalogChange, RecommenderError, check_ratings, check_rows
from recommender.data import Catalog, Ratings

MAX_BATCH = 1024  # rows gathered together
BATCH_CELLS = 32_768  # rows × longest row in a batch: bounds the padded arrays' memory
SOLVE_BATCH = 4_096  # rows whose normal equations are solved by one call
# Training refines each row's previous solution by this many conjugate-gradient steps instead
# of solving exactly (as implicit's ALS does): several times cheaper, the same held-out RMSE.
CG_STEPS = 3


class PredictorError(RecommenderError):
    """The predictor cannot be trained on these data."""


@dataclass(frozen=True)
class PredictorConfig:
    factors: int = 32  # 0: biases only
    regularization: float = 0.15  # per rating, on the factors
    bias_regularization: float = 3.0  # pseudo-ratings pulling a bias towards 0
    iterations: int = 15
    seed: int = 0
    # More ratings than this: the item side is learnt from a seeded sample of users holding
    # about this many (every user is still folded in from their own ratings). 0: all.
    max_ratings: int = 5_000_000


class BiasedMF:
    """Biased MF rating predictor with closed-form fold-in of users."""

    name: ClassVar[str] = "biased_mf"

    def __init__(
        self,
        config: PredictorConfig,
        mean: float,
        item_bias: np.ndarray,
        item_factors: np.ndarray,
        scale: tuple[float, float],
    ) -> None:
        self.config = config
        self.mean = float(mean)  # μ
        self.item_bias = np.asarray(item_bias, dtype=np.float32)  # b_i
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)  # q_i
        self.scale = (float(scale[0]), float(scale[1]))  # predictions are clipped to it
        # [1 | q_i] per movie: the regressors a user's [b_u, p_u] is solved against
        side = np.hstack([self.item_bias[:, None], self.item_factors]).astype(np.float64)
        self._design, self._offset = self._regressors(side)

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @property
    def dislike_below(self) -> float:
        """Predicted stars under the middle of the rating scale (3 of 1–5) mean "you may not
        like it"."""
        return (self.scale[0] + self.scale[1]) / 2

    @staticmethod
    def _solve_side(
        cfg: PredictorConfig,
        mean: float,
        matrix: sp.csr_matrix,
        other: np.ndarray,
        offset: np.ndarray,
        start: np.ndarray | None = None,
    ) -> np.ndarray:
        """For each row: [bias, factors] minimising squared error against `other` = [1 | q],
        solved exactly, or from `start` (the previous solution) by `CG_STEPS` steps.

        `other` and `offset` have one row more than `matrix` has columns, all zeros: padding
        points there, so padded cells add nothing to the sums. Rows are gathered in batches of
        similar length (padded to the longest), so the normal equations of many rows are built
        by one batched product; they are solved together, many batches at a time.
        """
        k = other.shape[1]
        out = np.zeros((matrix.shape[0], k), dtype=other.dtype)
        lengths = np.diff(matrix.indptr)
        order = np.argsort(lengths, kind="stable")
        order = order[lengths[order] > 0]
        pad = len(other) - 1
        diag = np.arange(1, k)
        a = np.empty((min(SOLVE_BATCH, len(order)), k, k), dtype=other.dtype)
        b = np.empty((len(a), k, 1), dtype=other.dtype)
        first = 0
        while first < len(order):
            chunk = order[first : first + len(a)]
            done = 0
            while done < len(chunk):
                longest = int(lengths[chunk[min(done + MAX_BATCH, len(chunk)) - 1]])
                rows = chunk[done : done + max(1, min(MAX_BATCH, BATCH_CELLS // longest))]
                longest = int(lengths[rows[-1]])
                steps = np.arange(longest)
                valid = steps[None, :] < lengths[rows][:, None]
                positions = np.where(valid, matrix.indptr[rows][:, None] + steps[None, :], 0)
                # np.take, not fancy indexing: several times faster on these gathers
                cols = np.where(valid, np.take(matrix.indices, positions), pad)
                x = np.take(other, cols, axis=0)
                stars = np.take(matrix.data, positions)
                target = (stars - mean - np.take(offset, cols)).astype(other.dtype)
                xt = x.transpose(0, 2, 1)
                batch = slice(done, done + len(rows))
                np.matmul(xt, x, out=a[batch])
                np.matmul(xt, target[..., None], out=b[batch])
                done += len(rows)
            a[: len(chunk), diag, diag] += cfg.regularization * lengths[chunk][:, None]
            a[: len(chunk), 0, 0] += cfg.bias_regularization
            if start is None:
                out[chunk] = np.linalg.solve(a[: len(chunk)], b[: len(chunk)])[..., 0]
            else:
                out[chunk] = _refine(a[: len(chunk)], b[: len(chunk), :, 0], start[chunk])
            first += len(chunk)
        return out

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: PredictorConfig | None = None) -> Self:
        cfg = config or PredictorConfig()
        check_ratings(ratings, catalog, cls.name)
        # Single precision: the normal equations of 33 unknowns are well conditioned under the
        # regularization, and float32 halves the time of the batched products and solves.
        matrix = sp.csr_matrix(ratings.matrix, dtype=np.float32)
        mean = float(matrix.data.astype(np.float64).mean())
        rng = np.random.default_rng(cfg.seed)
        matrix = cls._sample_users(matrix, cfg.max_ratings, rng)
        n_items = matrix.shape[1]
        items = np.zeros((n_items, cfg.factors + 1), dtype=np.float32)
        items[:, 1:] = rng.normal(0, 0.1, (n_items, cfg.factors))
        by_item = matrix.T.tocsr()
        users = np.zeros((matrix.shape[0], cfg.factors + 1), dtype=np.float32)
        for _ in range(cfg.iterations):
            users = cls._solve_side(cfg, mean, matrix, *cls._regressors(items), users)
            items = cls._solve_side(cfg, mean, by_item, *cls._regressors(users), items)
        if not np.all(np.isfinite(items)):
            raise PredictorError("rating predictor diverged (non-finite factors)")
        low, high = ratings.scale
        return cls(cfg, mean, items[:, 0], items[:, 1:], (float(low), float(high)))

    @staticmethod
    def _sample_users(matrix: sp.csr_matrix, limit: int, rng: np.random.Generator) -> sp.csr_matrix:
        """The rows of users taken in a seeded random order while their ratings add up to at
        most `limit` (all rows, untouched, when there are not more than that)."""
        if limit <= 0 or matrix.nnz <= limit:
            return matrix
        order = rng.permutation(matrix.shape[0])
        taken = order[np.cumsum(np.diff(matrix.indptr)[order]) <= limit]
        return matrix[np.sort(taken)]

    @staticmethod
    def _regressors(side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[bias, factors] of one side → ([1, factors], bias) as the regressors and offsets of
        the other side's solve, each with a zero row after the last (what padding points to)."""
        design = np.zeros((len(side) + 1, side.shape[1]), dtype=side.dtype)
        design[:-1] = side
        offset = design[:, 0].copy()
        design[:-1, 0] = 1.0
        return design, offset

    def user_params(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold users in: [b_u, p_u] per row, solved against the learnt item side."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        return self._solve_side(self.config, self.mean, rows, self._design, self._offset)

    def predict(self, rows: sp.csr_matrix, columns: np.ndarray | None = None) -> np.ndarray:
        """Predicted stars (n × n_items, or n × len(columns)), clipped to the rating scale."""
        user = self.user_params(rows)
        cols = slice(None) if columns is None else np.asarray(columns)
        stars = (
            self.mean
            + user[:, :1]
            + self.item_bias[cols][None, :]
            + user[:, 1:] @ self.item_factors[cols].T
        )
        return np.clip(stars, *self.scale).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_bias": self.item_bias,
            "item_factors": self.item_factors,
            "mean_scale": np.array([self.mean, *self.scale], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: PredictorConfig
    ) -> Self:
        check_rows(arrays["item_bias"], catalog, "predictor")
        mean, low, high = (float(x) for x in arrays["mean_scale"])
        return cls(config, mean, arrays["item_bias"], arrays["item_factors"], (low, high))

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training: no bias, no factors (the global mean and the user's
        own bias predict them)."""
        return type(self)(
            self.config,
            self.mean,
            change.gather(self.item_bias),
            change.gather(self.item_factors),
            self.scale,
        )


def _refine(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`CG_STEPS` steps of Jacobi-preconditioned conjugate gradients on a[n] x[n] = b[n] (a
    batch of symmetric positive definite systems) from x."""
    tiny = np.finfo(a.dtype).tiny
    diagonal = np.maximum(np.einsum("nii->ni", a), tiny)
    residual = b - np.einsum("nij,nj->ni", a, x)
    z = residual / diagonal
    direction = z.copy()
    rz = np.einsum("ni,ni->n", residual, z)
    for _ in range(CG_STEPS):
        ad = np.einsum("nij,nj->ni", a, direction)
        alpha = rz / np.maximum(np.einsum("ni,ni->n", direction, ad), tiny)
        x = x + alpha[:, None] * direction
        residual -= alpha[:, None] * ad
        z = residual / diagonal
        rz, previous = np.einsum("ni,ni->n", residual, z), rz
        direction = z + (rz / np.maximum(previous, tiny))[:, None] * direction
    return x


def agreeing(stars: Sequence[float | None]) -> list[bool]:
    """Which of these predicted stars of a ranked list (best first) can be shown without the
    order contradicting them: the longest run, down the list, whose stars as shown (to 0.1)
    never rise, and of several such runs the one starting earliest. The list is ranked by the
    blend (a top-N relevance score), not by predicted stars, so a ★4.7 under a ★3.8 would say
    the order is wrong; its ★ is left out instead. None (no prediction) is never shown."""
    known = [(i, round(float(s), 1)) for i, s in enumerate(stars) if s is not None]
    # longest[a]: the longest non-rising run of known stars that starts at known[a]
    longest = [1] * len(known)
    for a in reversed(range(len(known))):
        for b in range(a + 1, len(known)):
            if known[b][1] <= known[a][1]:
                longest[a] = max(longest[a], longest[b] + 1)
    keep = [False] * len(stars)
    want, last = max(longest, default=0), math.inf
    for (i, value), length in zip(known, longest, strict=True):
        if want and length == want and value <= last:
            keep[i], last, want = True, value, want - 1
    return keep
