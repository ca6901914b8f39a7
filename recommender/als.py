"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via `implicit`, with exact fold-in.

Star ratings become confidences: a rating at or above `positive_from` says "this user wants
movies like this one" with confidence 1 + alpha × (1 + slope × (stars − positive_from));
lower ratings are either dropped or, with `negative_weight` > 0, say "not this one" with that
confidence. Users are never stored: every call folds the user in from their current ratings
by solving the same least-squares problem training solves (closed form, given the item
factors), so a rating made a second ago counts and a new user needs no retrain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.component import CatalogChange, RecommenderError, check_ratings, check_rows
from recommender.data import Catalog, Ratings

log = logging.getLogger(__name__)


class ALSError(RecommenderError):
    """ALS cannot be trained on these data (too few items, non-finite factors, …)."""


@dataclass(frozen=True)
class ALSConfig:
    """`factors`, `regularization` (λ), `iterations` and `seed` are implicit's; a rating of at
    least `positive_from` stars has confidence 1 + `alpha` · (1 + `slope` · stars above it);
    lower ratings are dropped, or with `negative_weight` > 0 say "not this one"."""

    factors: int = 64
    regularization: float = 50.0
    alpha: float = 8.0
    iterations: int = 15
    positive_from: float = 4.0
    slope: float = 0.0
    negative_weight: float = 0.0
    seed: int = 0


def confidence_values(stars: np.ndarray, cfg: ALSConfig) -> np.ndarray:
    """Each rating's confidence (negative: "disliked"; 0: the rating says nothing)."""
    stars = np.asarray(stars, dtype=np.float32)
    positive = stars >= cfg.positive_from
    values = np.where(
        positive,
        1.0 + cfg.alpha * (1.0 + cfg.slope * (stars - cfg.positive_from)),
        -(1.0 + cfg.alpha * cfg.negative_weight),
    )
    keep = positive | (cfg.negative_weight > 0)
    return np.where(keep, values, 0.0).astype(np.float32)


def confidence(rows: sp.csr_matrix, cfg: ALSConfig) -> sp.csr_matrix:
    """Stars → implicit's confidence matrix (negative entries mean "disliked")."""
    conf = sp.csr_matrix(rows, dtype=np.float32, copy=True)
    conf.data = confidence_values(conf.data, cfg)
    conf.eliminate_zeros()
    return conf


# A warm start (`ALS.fit`'s `start`) runs 1 / WARM_DIVISOR of the iterations (3 of 15): on
# MovieLens 100K (seeds 0–3) and latest-small (seed 0) NDCG@10 under holdout and given-5 was
# the same as with half of them (mean +0.0004; docs/benchmarks/notes.md), at 40% of the time.
WARM_DIVISOR = 5


class ALS:
    """Item factors from implicit's ALS; user factors solved on demand from a ratings row."""

    name: ClassVar[str] = "als"

    def __init__(self, config: ALSConfig, item_factors: np.ndarray) -> None:
        self.config = config
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        y = self.item_factors.astype(np.float64)
        self._gram = y.T @ y + config.regularization * np.eye(y.shape[1])

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def fit(
        cls,
        ratings: Ratings,
        catalog: Catalog,
        config: ALSConfig | None = None,
        start: ALS | None = None,
    ) -> Self:
        """Item factors for `ratings`; from `start`'s item factors (an ALS with as many factors
        on the same movies) in `WARM_DIVISOR` times fewer iterations than from random ones."""
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = config or ALSConfig()
        check_ratings(ratings, catalog, cls.name)
        n_items = ratings.matrix.shape[1]
        if n_items <= cfg.factors:
            raise ALSError(
                f"ALS with {cfg.factors} factors needs more than {cfg.factors} movies "
                f"(have {n_items}): lower the factors or add data"
            )
        model = AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            alpha=1.0,  # confidence() already applies alpha
            iterations=cfg.iterations if start is None else max(1, cfg.iterations // WARM_DIVISOR),
            calculate_training_loss=False,
            random_state=cfg.seed,
        )
        if start is not None:
            if start.item_factors.shape != (n_items, cfg.factors):
                raise ALSError("a warm start needs the same movies and number of factors")
            # implicit keeps factors it is given: its first step solves users from these.
            model.item_factors = start.item_factors.copy()
        # implicit runs its own threads; a multi-threaded BLAS underneath would oversubscribe.
        with threadpool_limits(1, "blas"):
            model.fit(confidence(ratings.matrix, cfg), show_progress=False)
        factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        if not np.all(np.isfinite(factors)):
            raise ALSError("ALS produced non-finite item factors: check the ratings for NaNs")
        return cls(cfg, factors)

    def user_factors(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold users in: x = (YᵀY + λI + Yᵀ(C−I)Y)⁻¹ YᵀCp for each row, exactly as training."""
        factors = self.item_factors
        # Straight from the rows' arrays: building a confidence matrix costs more than the
        # solve for one user of a small catalogue (serving's fixed overhead).
        rows = rows if sp.issparse(rows) and rows.format == "csr" else sp.csr_matrix(rows)
        values = confidence_values(rows.data, self.config)
        out = np.zeros((rows.shape[0], factors.shape[1]), dtype=np.float32)
        for u in range(rows.shape[0]):
            start, end = rows.indptr[u], rows.indptr[u + 1]
            said = np.flatnonzero(values[start:end])
            if len(said) == 0:
                continue  # nothing known: the zero vector scores every movie the same
            cols = rows.indices[start:end][said]
            c = values[start:end][said].astype(np.float64)
            y = factors[cols].astype(np.float64)
            a = self._gram + (y.T * (np.abs(c) - 1.0)) @ y
            b = np.where(c > 0, c, 0.0) @ y
            out[u] = np.linalg.solve(a, b)
        return out

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        return self.user_factors(rows) @ self.item_factors.T

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: ALSConfig
    ) -> Self:
        factors = arrays["item_factors"]
        check_rows(factors, catalog, cls.name)
        return cls(config, factors)

    def reindexed(self, change: CatalogChange) -> Self:
        """Movies added since training get zero factors: ALS knows nothing of them."""
        return type(self)(self.config, change.gather(self.item_factors))
