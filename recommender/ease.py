"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-item model.

B = I − P · diag(1 / diag(P)) with P = (XᵀX + λI)⁻¹ and X the binary users × items matrix;
a user's scores are x · B. One items × items inverse, so it is exact and fast for catalogues of
a few tens of thousands of movies and impossible beyond: `check_memory` refuses early.
It is the strong baseline every report shows, and can be a blend component.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recommender.data import Catalog, Ratings

DEFAULT_LAMBDA = 500.0
MEMORY_LIMIT_BYTES = 4 * 1024**3
# Gram matrix, its inverse and the float32 weights alive at once: ~3 float64 n² matrices.
COPIES = 3


class CatalogTooLargeError(MemoryError):
    """The items × items matrices EASE needs would not fit in the memory limit."""


def memory_estimate(n_items: int) -> int:
    """Bytes EASE needs at its peak for `n_items` items (n² float64 matrices, ×3)."""
    return n_items * n_items * 8 * COPIES


def check_memory(n_items: int, limit: int = MEMORY_LIMIT_BYTES) -> None:
    """Raise `CatalogTooLargeError` (with the figures) if EASE cannot fit in `limit` bytes."""
    need = memory_estimate(n_items)
    if need > limit:
        raise CatalogTooLargeError(
            f"EASE needs about {need / 1024**3:.1f} GB for {n_items:,} movies "
            f"(limit {limit / 1024**3:.1f} GB)"
        )


class EASE:
    """Scorer: fit on binarised ratings, score = history (binarised) · B."""

    name = "ease"

    def __init__(self, lam: float = DEFAULT_LAMBDA, memory_limit: int = MEMORY_LIMIT_BYTES):
        if lam <= 0:
            raise ValueError(f"EASE needs λ > 0, got {lam}")
        self.lam = float(lam)
        self.memory_limit = int(memory_limit)
        self.weights: np.ndarray | None = None

    @property
    def params(self) -> dict:
        return {"lambda": self.lam}

    def fit(self, ratings: Ratings, catalog: Catalog | None = None) -> Self:
        """Solve for B in closed form on the binary train matrix."""
        n_items = ratings.matrix.shape[1]
        check_memory(n_items, self.memory_limit)
        x = _binary(ratings.matrix).astype(np.float64)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices(n_items)] += self.lam
        # Invert in place (overwrite_a) so the Gram matrix and its inverse share one buffer.
        inv = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        weights = inv / (-np.diag(inv))
        weights[np.diag_indices(n_items)] = 0.0
        self.weights = weights.astype(np.float32)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        """n × n_items scores for these histories (only which movies were rated matters)."""
        if self.weights is None:
            raise RuntimeError("EASE.score called before fit")
        if rows.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"rows have {rows.shape[1]} items, the model was fitted on {self.weights.shape[0]}"
            )
        return np.asarray(_binary(rows) @ self.weights, dtype=np.float32)


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    """1 where a rating is stored (whatever the stars), as float32 CSR."""
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out
