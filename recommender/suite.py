"""The models every report compares, configured as `train` configures them, and the served
hybrid as the harness sees it.

`standard_specs` lists popularity, content, ALS, EASE, item and user kNN, the biased SVD and
the hybrid, each baseline with a grid chosen on validation; the hybrid is the real
`Recommender`, ranked through its own `recommend`, re-rank and all (`ServedHybrid`), so
`moviebot evaluate` and the figures `/retrain` records measure what the bot serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recommender.als import ALS
from recommender.baselines import GenrePopularity, GenreProfile, Random
from recommender.component import Estimator, Scorer, Unfitted, unfitted
from recommender.config import HybridConfig
from recommender.content import Content
from recommender.data import Catalog, Ratings
from recommender.ease import (
    EASE,
    MEMORY_LIMIT_BYTES,
    CatalogTooLargeError,
    EASEConfig,
    check_memory,
)
from recommender.hybrid import Recommender
from recommender.knn import ItemKNN, KNNConfig, UserKNN
from recommender.popularity import Popularity
from recommender.predict import PredictorConfig
from recommender.report import ModelSkipped, ModelSpec
from recommender.splits import EvaluationError
from recommender.svd import BiasedSVD
from recommender.tuned import hybrid_config

# λ well into the thousands (on MovieLens 100K the optimum is about 3000 on binary input and
# higher on stars), and the stars as input as well as 1 per rated movie.
EASE_GRID = {
    "lambda": (300.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 50_000.0),
    "values": (False, True),
}
ITEM_KNN_GRID = {
    "neighbours": (20, 50, 100, 200),
    "similarity": ("cosine", "bm25"),
    "binary": (True, False),
}
USER_KNN_GRID = {"neighbours": (20, 50, 100, 200), "binary": (True, False)}
SVD_GRID = {"factors": (16, 32, 64), "regularization": (0.05, 0.15, 0.4)}


class ServedHybrid:
    """The `Recommender` the bot serves, as a scorer/ranker/predictor for the harness.

    `moviebot evaluate`, `moviebot tune` and the figures `/retrain` records all rank through
    it, so they measure the served lists, re-rank included.
    """

    name: ClassVar[str] = "hybrid"
    uses_time: ClassVar[bool] = True  # the era scores each user at their moment

    def __init__(self, model: Recommender, diversity: float | None = None) -> None:
        self.model = model
        self.diversity = diversity  # None: the configured re-rank strength

    @classmethod
    def fit(
        cls, ratings: Ratings, catalog: Catalog, config: HybridConfig | None = None
    ) -> ServedHybrid:
        """Train the served model on `ratings`, as `moviebot train` does."""
        return cls(Recommender.train(ratings, catalog, config))

    @classmethod
    def unfitted(cls, config: HybridConfig | None = None) -> Unfitted[ServedHybrid]:
        """The served model with these settings, for the harness to fit."""
        return Unfitted(cls.name, lambda ratings, catalog: cls.fit(ratings, catalog, config))

    @property
    def params(self) -> dict[str, Any]:
        return self.model.config.to_dict()

    @property
    def catalog(self) -> Catalog:
        return self.model.catalog

    def with_diversity(self, strength: float) -> ServedHybrid:
        """The same fitted model, ranking with another re-rank strength (for tuning it)."""
        return ServedHybrid(self.model, diversity=strength)

    def _histories(self, rows: sp.csr_matrix) -> list[dict[int, float]]:
        ids = self.catalog.items.ids
        rows = sp.csr_matrix(rows)
        return [
            dict(zip(ids[rows.indices[a:b]].tolist(), rows.data[a:b].tolist(), strict=True))
            for a, b in zip(rows.indptr[:-1], rows.indptr[1:], strict=True)
        ]

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """The blended relevance (before re-rank and exclusion), one row per user."""
        moments = _moments(when, rows.shape[0])
        return np.vstack(
            [
                self.model.relevance(h, m)
                for h, m in zip(self._histories(rows), moments, strict=True)
            ]
        )

    def rank(self, rows: sp.csr_matrix, k: int, when: np.ndarray | None = None) -> np.ndarray:
        """What the bot would show each user: `recommend(history, n=k)`'s order (`ranking`), as
        catalogue indices."""
        out = np.full((rows.shape[0], k), -1, dtype=np.int64)
        moments = _moments(when, rows.shape[0])
        for u, history in enumerate(self._histories(rows)):
            picks = self.model.ranking(history, n=k, diversity=self.diversity, when=moments[u])
            idx = self.catalog.items.index_of(picks)
            out[u, : len(idx)] = idx
        return out

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        """Predicted stars for every catalogue movie, one row per user (as the bot shows them)."""
        return self.model.predict_rows(rows)


def _moments(when: np.ndarray | None, n: int) -> list[float | None]:
    """Per-user moments for `Recommender` calls: None where unknown (NaN or no `when`)."""
    if when is None:
        return [None] * n
    return [float(m) if np.isfinite(m) else None for m in np.asarray(when, dtype=np.float64)]


def standard_specs(
    tuned: Mapping[str, Any] | None = None,
    n_items: int = 0,
    ease_memory_limit: int = MEMORY_LIMIT_BYTES,
    models: Sequence[str] | None = None,
    protocol: str = "holdout",
) -> list[ModelSpec]:
    """popularity, content, als, ease, item_knn, user_knn, svd and hybrid.

    ALS and the hybrid use the tuned values when given (else the committed defaults), as
    `train` would configure them; EASE chooses λ and its input on validation from `EASE_GRID`
    (skipped when `n_items` is too many), the kNNs their neighbours and weighting, the SVD its
    factors and regularization by validation RMSE. Random and the plain genre profile are the
    floors. Under "new-movies" (movies nobody rated in train) the collaborative baselines
    have nothing to say: the models are random, genre popularity, popularity, content, the
    genre profile and the hybrid.
    """
    config = hybrid_config(tuned)

    def ease(params: Mapping[str, Any]) -> Estimator[Scorer]:
        try:
            check_memory(n_items, ease_memory_limit)
        except CatalogTooLargeError as exc:
            raise ModelSkipped(str(exc)) from exc
        cfg = EASEConfig(params["lambda"], memory_limit=ease_memory_limit, values=params["values"])
        return unfitted(EASE, cfg)

    floors = [
        ModelSpec("random", lambda p: Random.unfitted()),
        ModelSpec("genre_profile", lambda p: GenreProfile.unfitted()),
    ]
    if protocol == "new-movies":
        floors.insert(1, ModelSpec("genre_popularity", lambda p: GenrePopularity.unfitted()))
        floors += [
            ModelSpec("popularity", lambda p: unfitted(Popularity, config.popularity)),
            ModelSpec("content", lambda p: unfitted(Content, config.content)),
            ModelSpec("hybrid", lambda p: ServedHybrid.unfitted(config)),
        ]
        return _chosen(floors, models)
    specs = [
        *floors,
        ModelSpec("popularity", lambda p: unfitted(Popularity, config.popularity)),
        ModelSpec("content", lambda p: unfitted(Content, config.content)),
        ModelSpec("als", lambda p: unfitted(ALS, config.als)),
        ModelSpec("ease", ease, grid=EASE_GRID),
        ModelSpec("item_knn", lambda p: ItemKNN.unfitted(KNNConfig(**p)), grid=ITEM_KNN_GRID),
        ModelSpec("user_knn", lambda p: UserKNN.unfitted(KNNConfig(**p)), grid=USER_KNN_GRID),
        ModelSpec(
            "svd",
            lambda p: BiasedSVD.unfitted(PredictorConfig(**p)),
            grid=SVD_GRID,
            rating=True,
            metric="rmse",
        ),
        ModelSpec("hybrid", lambda p: ServedHybrid.unfitted(config), rating=True),
    ]
    return _chosen(specs, models)


def _chosen(specs: list[ModelSpec], models: Sequence[str] | None) -> list[ModelSpec]:
    """The specs named in `models` (all when None); unknown names are an error."""
    if models is None:
        return specs
    unknown = set(models) - {s.name for s in specs}
    if unknown:
        raise EvaluationError(
            f"unknown model(s) {', '.join(sorted(unknown))}: choose from "
            + ", ".join(s.name for s in specs)
        )
    return [s for s in specs if s.name in models]
