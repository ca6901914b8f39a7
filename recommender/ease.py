"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-item model.

B = I − P · diag(1 / diag(P)) with P = (XᵀX + λI)⁻¹ and X the users × items matrix, binary
(1 per rated movie) or the rating values themselves (`EASEConfig.values`); a user's scores are
x · B. Well tuned, λ is in the thousands on MovieLens, on the stars (docs/tuning.md). One
items × items inverse, so it is exact and fast for catalogues of a few tens of thousands of
movies and impossible beyond: `check_memory` refuses early. It is the strong baseline every
report shows (`moviebot evaluate`, λ and the input chosen on validation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recommender.component import CatalogChange, Unavailable, check_ratings, check_rows
from recommender.data import Catalog, Ratings

DEFAULT_LAMBDA = 500.0
MEMORY_LIMIT_BYTES = 4 * 1024**3
# The Gram matrix (sparse, then dense) and its inverse, which becomes the weights: at most 3
# float32 n² matrices alive at once (the peak measured on 9,066 movies was 2.0 of them).
COPIES = 3


class CatalogTooLargeError(Unavailable, MemoryError):
    """The items × items matrices EASE needs would not fit in the memory limit."""


def memory_estimate(n_items: int) -> int:
    """Bytes EASE needs at its peak for `n_items` items (n² float32 matrices, ×3)."""
    return n_items * n_items * 4 * COPIES


def check_memory(n_items: int, limit: int = MEMORY_LIMIT_BYTES) -> None:
    """Raise `CatalogTooLargeError` (with the figures) if EASE cannot fit in `limit` bytes."""
    need = memory_estimate(n_items)
    if need > limit:
        raise CatalogTooLargeError(
            f"EASE needs about {need / 1024**3:.1f} GB for {n_items:,} movies "
            f"(limit {limit / 1024**3:.1f} GB)"
        )


@dataclass(frozen=True)
class EASEConfig:
    """`lam`: the ridge penalty λ (> 0); `values`: learn from and score the stars rather than
    1 per rated movie; `memory_limit`: bytes EASE may use at its peak."""

    lam: float = DEFAULT_LAMBDA
    memory_limit: int = MEMORY_LIMIT_BYTES
    values: bool = False

    def __post_init__(self) -> None:
        if self.lam <= 0:
            raise ValueError(f"EASE needs λ > 0, got {self.lam}")


class EASE:
    """Scorer: fit on the (binarised, or star) ratings, score = history (the same) · B."""

    name: ClassVar[str] = "ease"

    def __init__(self, config: EASEConfig, weights: np.ndarray) -> None:
        self.config = config
        # C order: scoring sums rows of B (see `score`)
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {"lambda": self.config.lam, "values": self.config.values}

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: EASEConfig | None = None) -> Self:
        """Solve for B in closed form on the train matrix."""
        cfg = config or EASEConfig()
        n_items = ratings.matrix.shape[1]
        check_memory(n_items, cfg.memory_limit)
        check_ratings(ratings, catalog, cls.name)
        x = _inputs(ratings.matrix, cfg.values)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices(n_items)] += cfg.lam
        # In float32, as the weights are kept: half the memory and time of float64, and the
        # same top-10s (docs/benchmarks/notes.md, "EASE in float32"). SciPy returns the
        # inverse as a new array even with overwrite_a; the Gram matrix is freed at once and
        # the weights are the inverse divided in place, so two n² matrices at the peak.
        weights = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        weights /= -np.diag(weights).copy()
        weights[np.diag_indices(n_items)] = 0.0
        return cls(cfg, weights)

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """n × n_items scores for these histories: the (star-weighted, with `values`) sum of
        B's rows of the rated movies, so the n² matrix is never copied."""
        weights = self.weights
        if rows.shape[1] != weights.shape[0]:
            raise ValueError(
                f"rows have {rows.shape[1]} items, the model was fitted on {weights.shape[0]}"
            )
        x = _inputs(rows, self.config.values)
        out = np.empty(rows.shape, dtype=np.float32)
        for u in range(rows.shape[0]):
            span = slice(x.indptr[u], x.indptr[u + 1])
            cols = x.indices[span]
            if not len(cols):
                out[u] = 0.0
            elif self.config.values:
                out[u] = x.data[span] @ weights[cols]
            else:
                out[u] = weights[cols].sum(axis=0)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: EASEConfig
    ) -> Self:
        weights = arrays["weights"]
        check_rows(weights, catalog, cls.name)
        return cls(config, weights)

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training neither suggest nor are suggested by any other."""
        return type(self)(self.config, change.gather(change.gather(self.weights).T).T)


def _inputs(matrix: sp.spmatrix, values: bool = False) -> sp.csr_matrix:
    """The stars (with `values`), else 1 where a rating is stored, as float32 CSR."""
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    if not values:
        out.data[:] = 1.0
    return out
