"""The served recommender: the pipeline of named parts the bot, the CLI and the evaluation call.

    history → scoring (`recommender.scoring`: every component, standardised)
            → blend (`recommender.blend`: weights by the user's number of ratings)
            → filters (`recommender.filters`) and exclusion of what the user has seen
            → re-rank (`recommender.rerank`: maximal marginal relevance)
            → explain (`recommender.explain`: the reason next to each pick)

with the rating predictor (`recommender.predict`) for the stars shown next to a pick, and
`recommender.model_io` for the arrays a model is saved as. `Recommender` is immutable: a
retrain builds a new one and `ModelHolder` swaps one reference.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender import model_io
from recommender.artifacts import ArtifactError
from recommender.component import CatalogChange, Component, RecommenderError
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings, genre_matrix, history_row
from recommender.explain import Explainer, Reason
from recommender.filters import Filters, allowed
from recommender.predict import BiasedMF
from recommender.rerank import pool_size, rerank, top
from recommender.scoring import Hybrid

# Onboarding questions: well-known movies spread by MMR at this strength over the best
# max(ONBOARDING_POOL_FACTOR × n, ONBOARDING_MIN_POOL) by popularity.
ONBOARDING_DIVERSITY = 0.5
ONBOARDING_POOL_FACTOR, ONBOARDING_MIN_POOL = 4, 40


@dataclass(frozen=True)
class Pick:
    movie_id: int
    score: float
    predicted: float | None
    reason: Reason
    # Predicted under the middle of the rating scale: the best there is (say, for a filter),
    # though the user may not like it, which the bot says rather than a silent low ★.
    doubtful: bool = False


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


class Recommender:
    """A trained model, ready to serve. Immutable: share it between threads freely."""

    def __init__(
        self, catalog: Catalog, hybrid: Hybrid, predictor: BiasedMF, info: Mapping[str, Any]
    ) -> None:
        if hybrid.taste.item_factors.shape[0] != len(catalog):
            raise RecommenderError("model and catalogue have different numbers of movies")
        self.catalog = catalog
        self.info = dict(info)
        self._hybrid = hybrid
        self._predictor = predictor
        self._genre_names, self._genre_matrix = genre_matrix(catalog)
        genres = self._genre_matrix.toarray()
        norms = np.linalg.norm(genres, axis=1, keepdims=True)
        self._genre_unit = _read_only(genres / np.where(norms > 0, norms, 1.0))
        self._item_vectors = _read_only(
            normalize(hybrid.taste.item_factors.astype(np.float32), norm="l2")
        )
        self._counts = _read_only(hybrid.popularity.counts.copy())
        self._explain = Explainer(
            catalog,
            hybrid.config.blend,
            self._genre_names,
            self._genre_matrix,
            self._genre_unit,
            self._item_vectors,
            hybrid.content.vectors,
            liked_from=predictor.dislike_below,
        )

    # -- building -------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        ratings: Ratings,
        catalog: Catalog,
        config: HybridConfig | None = None,
        fitted: Mapping[str, Component[Any]] | None = None,
    ) -> Recommender:
        """Fit every component on `ratings` (in `catalog.items` index space); `fitted`:
        components trained elsewhere (`Hybrid.fit`)."""
        config = config or HybridConfig()
        started = time.perf_counter()
        hybrid = Hybrid.fit(ratings, catalog, config, fitted)
        t0 = time.perf_counter()
        predictor = BiasedMF.fit(ratings, catalog, config.predictor)
        timings = dict(hybrid.timings, predictor=time.perf_counter() - t0)
        timings["total"] = time.perf_counter() - started
        info = {
            "trained_at": int(time.time()),
            "params": config.to_dict(),
            "components": sorted([*hybrid.parts, "predictor"]),
            "counts": {
                "users": int((np.diff(ratings.matrix.indptr) > 0).sum()),
                "items": len(catalog),
                "ratings": ratings.nnz,
            },
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }
        return cls(catalog, hybrid, predictor, info)

    def with_info(self, **extra: object) -> Recommender:
        """A copy whose `info` has these keys added (e.g. version, metrics); everything else
        is shared (it is read-only), not built again."""
        twin = copy.copy(self)
        twin.info = {**self.info, **extra}
        return twin

    @property
    def config(self) -> HybridConfig:
        return self._hybrid.config

    # -- serving --------------------------------------------------------------------------

    def _row(self, ratings: Mapping[int, float]) -> sp.csr_matrix:
        return history_row(ratings, self.catalog.items)

    def relevance(self, ratings: Mapping[int, float], when: float | None = None) -> np.ndarray:
        """The blended score of every catalogue movie for this history (before exclusion);
        `when`: the moment of the history (Unix seconds), by default the latest rating the
        model was trained on, which for someone rating in the bot is about now."""
        return self._hybrid.score(self._row(ratings), _moment(when))[0]

    def recommend(
        self,
        ratings: Mapping[int, float],
        n: int = 10,
        exclude: Collection[int] = (),
        filters: Filters | None = None,
        diversity: float | None = None,
        when: float | None = None,
    ) -> list[Pick]:
        """The best `n` movies for someone with these ratings (movie id → stars), rated at
        `when` (see `relevance`).

        Never raises for unknown movies or an empty history: no ratings gives a diverse list
        of popular movies. Rated and `exclude`d movies are never picked.
        """
        if n <= 0:
            return []
        row = self._row(ratings)
        chosen, scores, contributions = self._choose(row, n, exclude, filters, diversity, when)
        if len(chosen) == 0:
            return []
        predicted = self._predictor.predict(row, chosen)[0]
        parts = {k: v[0] for k, v in contributions.items()}
        reasons = self._explain.reasons(row, chosen, parts)
        ids = self.catalog.items.ids
        low = self._predictor.dislike_below
        return [
            Pick(int(ids[i]), float(scores[i]), round(float(p), 2), reason, bool(p < low))
            for i, p, reason in zip(chosen, predicted, reasons, strict=True)
        ]

    def ranking(
        self,
        ratings: Mapping[int, float],
        n: int = 10,
        exclude: Collection[int] = (),
        filters: Filters | None = None,
        diversity: float | None = None,
        when: float | None = None,
    ) -> list[int]:
        """The movie ids `recommend` would pick, in its order, without their stars and reasons
        (what an evaluation scores)."""
        if n <= 0:
            return []
        chosen, _, _ = self._choose(self._row(ratings), n, exclude, filters, diversity, when)
        return self.catalog.items.ids[chosen].tolist()

    def _choose(
        self,
        row: sp.csr_matrix,
        n: int,
        exclude: Collection[int],
        filters: Filters | None,
        diversity: float | None,
        when: float | None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The re-ranked top `n` catalogue indices, the scores they were chosen by, and each
        component's contribution (for the reasons)."""
        blended, contributions = self._hybrid.blend(row, _moment(when))
        scores = blended[0].astype(np.float64)
        mask = self.allowed(filters)
        mask[row.indices] = False
        mask[self._indices(exclude)] = False
        scores[~mask] = -np.inf
        strength = self.config.blend.diversity if diversity is None else float(diversity)
        return self._rerank(scores, n, strength), scores, contributions

    def similar(self, movie_id: int, n: int = 10, exclude: Collection[int] = ()) -> list[Pick]:
        """Movies most like this one (`Explainer.likeness`: taste weighed by shared genres)."""
        index = self.catalog.items.index(int(movie_id))
        if index < 0 or n <= 0:
            return []
        sims = self._explain.likeness(np.array([index]))[0].astype(np.float64)
        sims[index] = -np.inf
        sims[self._indices(exclude)] = -np.inf
        chosen = top(sims, n)
        ids = self.catalog.items.ids
        reason = Reason("similar", movie_id=int(movie_id))
        return [Pick(int(ids[i]), float(sims[i]), None, reason) for i in chosen]

    def predict(self, ratings: Mapping[int, float], movie_ids: Sequence[int]) -> dict[int, float]:
        """Predicted stars for these movies (unknown movies are left out)."""
        cols = self.catalog.items.index_of(list(movie_ids))
        known = cols >= 0
        if not known.any():
            return {}
        stars = self._predictor.predict(self._row(ratings), cols[known])[0]
        wanted = np.asarray(list(movie_ids), dtype=np.int64)[known]
        return {int(m): round(float(s), 2) for m, s in zip(wanted, stars, strict=True)}

    def predict_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        """`predict` for many users at once: the stars of every catalogue movie, one row per
        user (`rows`: their ratings in catalogue index space), rounded as `predict` rounds."""
        return np.round(self._predictor.predict(sp.csr_matrix(rows, dtype=np.float64)), 2)

    def onboarding(self, n: int, exclude: Collection[int] = ()) -> list[int]:
        """Well-known movies that are far apart in taste space: good first questions."""
        if n <= 0:
            return []
        popularity = np.log1p(self._counts.astype(np.float64))
        popularity[self._indices(exclude)] = -np.inf
        popularity[self._counts == 0] = -np.inf
        available = int(np.isfinite(popularity).sum())
        size = pool_size(
            n, ONBOARDING_DIVERSITY, available, ONBOARDING_POOL_FACTOR, ONBOARDING_MIN_POOL
        )
        pool = top(popularity, size)
        vectors = self._item_vectors[pool]
        chosen = rerank(popularity[pool], n, ONBOARDING_DIVERSITY, lambda: vectors @ vectors.T)
        return [int(self.catalog.items.ids[pool[i]]) for i in chosen]

    def allowed(self, filters: Filters | None) -> np.ndarray:
        """Boolean mask of the catalogue movies that pass the filters (a fresh array)."""
        years = self.catalog.years
        return allowed(filters, years, self._counts, self._genre_names, self._genre_matrix)

    # -- helpers --------------------------------------------------------------------------

    def _indices(self, movie_ids: Collection[int]) -> np.ndarray:
        if not movie_ids:
            return np.empty(0, dtype=np.int64)
        cols = self.catalog.items.index_of(list(movie_ids))
        return cols[cols >= 0]

    def _rerank(self, scores: np.ndarray, n: int, strength: float) -> np.ndarray:
        """Top `n` by score, traded against similarity to picks already made (MMR)."""
        pool = top(scores, pool_size(n, strength, int(np.isfinite(scores).sum())))
        return pool[rerank(scores[pool], n, strength, lambda: self._pool_similarity(pool))]

    def _pool_similarity(self, pool: np.ndarray) -> np.ndarray:
        """Pairwise similarity used by the re-rank: half genres, half taste (ALS factors).

        Genres make a list visibly varied; ALS factors keep it from repeating one niche
        (five sequels of one franchise share a taste even across genres).
        """
        genres = self._genre_unit[pool].astype(np.float64)
        by_genre = genres @ genres.T
        vectors = self._item_vectors[pool].astype(np.float64)
        by_taste = np.clip(vectors @ vectors.T, 0.0, 1.0)
        return np.asarray(0.5 * by_genre + 0.5 * by_taste)

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write one artifact (npz + embedded JSON), atomically."""
        model_io.save(path, self.catalog, self._hybrid, self._predictor, self.info)

    @classmethod
    def load(cls, path: str | Path, expect_fingerprint: str | None = None) -> Recommender:
        """Load an artifact; raises `artifacts.ArtifactError` if it is unusable."""
        catalog, hybrid, predictor, info = model_io.load(path, expect_fingerprint)
        try:
            return cls(catalog, hybrid, predictor, info)
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"{path}: inconsistent model artifact ({exc})") from exc

    def with_catalog(
        self, catalog: Catalog, counts: Mapping[int, int] | None = None
    ) -> Recommender:
        """This model over another catalogue (typically: movies were added since training).

        Movies the model knows keep everything learnt about them; new movies get content
        vectors from their genres, year and features, popularity from `counts` (movie id →
        number of ratings), and nothing collaborative until the next retrain.
        """
        if catalog.items == self.catalog.items:
            return self
        old = self.catalog.items.index_of(catalog.items.ids)
        change = CatalogChange(catalog, old, counts or {})
        return Recommender(
            catalog,
            self._hybrid.reindexed(change),
            self._predictor.reindexed(change),
            {**self.info, "added_movies": len(change.added)},
        )


def _moment(when: float | None) -> np.ndarray | None:
    return None if when is None else np.array([when], dtype=np.float64)


class ModelHolder:
    """The model currently served; a retrain replaces it with one reference assignment.

    Readers take `holder.current` once per request and use that object throughout, so a swap
    in the middle of a request never mixes two models.
    """

    def __init__(self, current: Recommender | None = None) -> None:
        self.current = current

    def swap(self, new: Recommender) -> Recommender | None:
        """Serve `new` from now on; returns the model it replaced."""
        old, self.current = self.current, new
        return old
