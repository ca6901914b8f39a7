"""Scoring: every component of the blend scores every movie for a user; the blend adds them up.

`PARTS` is the one list of components: adding or removing one is a line here, its two weights in
`BlendConfig` and its settings in `HybridConfig` (and, as the artifact's arrays change, a new
`artifacts.FORMAT_VERSION`). Each component is self-contained in its module and implements
`recommender.component.Component`. A part with `blended=False` has no weights: it is fitted and
saved for serving alone.

Scores are standardised per user (z-scores over the movies someone had rated at training time,
`blend.standardise`), except the era's and the genre lift's log-lifts, whose spread says how
much they know. Serving also reads ALS's item factors (the taste space of `similar`, the
re-rank and onboarding), content's vectors (`similar`, reasons; content is not blended but
stands in for the collaborative models on movies added since training) and popularity's counts
(filters, onboarding), so those three stay whatever their weight in the blend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp

from recommender.als import ALS
from recommender.blend import add_up, contributions, standardise
from recommender.component import (
    CatalogChange,
    Component,
    RecommenderError,
    Unavailable,
    check_ratings,
)
from recommender.config import HybridConfig
from recommender.content import Content
from recommender.data import Catalog, Ratings
from recommender.ease import EASE
from recommender.era import Era
from recommender.genre_lift import GenreLift
from recommender.popularity import Popularity
from recommender.quality import Quality

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """One component of the blend and how the blend treats it."""

    name: str  # its key in the blend weights, the artifact and the scores
    kind: type[Component[Any]]
    settings: Callable[[HybridConfig], Any]  # its config
    # It has `{name}_cold` and `{name}_warm` weights in `BlendConfig`; False: fitted and saved
    # for serving only (item-item likeness, a stand-in), never weighed into the scores.
    blended: bool = True
    # It finds movies like the user's own: its picks are explained by a liked movie, it is
    # silent for a user with no ratings, and tuning may delay it for new users.
    personal: bool = False
    standardised: bool = True  # z-scored before blending (else a log-lift, as it is)
    shared: bool = False  # the same scores for every user: computed once per request
    # For movies nobody had rated at training time, the scores of this component stand in for
    # its own; for a shared part, that component's shared row (content's draw), and only for
    # movies added to the catalogue since training: one that was there and nobody rated has
    # told us something (the temporal protocol's late, rarely rated movies lost 5% to it).
    stand_in: str | None = None
    # It may be unavailable on some data (EASE on a catalogue too large for memory): the
    # model is then trained and saved without it, and the blend weighs the others.
    optional: bool = False
    # Fitted starting from this (earlier) part: the two ALS share most of their work.
    warm_from: str | None = None


# In the order the blend adds them up (the served scores depend on it to the last bit).
PARTS: tuple[Part, ...] = (
    Part("als", ALS, lambda c: c.als, personal=True, stand_in="content"),
    Part("watched", ALS, lambda c: c.watched, personal=True, stand_in="content", warm_from="als"),
    Part("ease", EASE, lambda c: c.ease, personal=True, stand_in="content", optional=True),
    Part("ease_new", EASE, lambda c: c.ease_new, personal=True, stand_in="content", optional=True),
    Part("content", Content, lambda c: c.content, blended=False),
    # A movie added since training: what movies like it draw stands in for its popularity,
    # else its zero count would bury it under every known movie until the next retrain.
    Part("popularity", Popularity, lambda c: c.popularity, shared=True, stand_in="content"),
    Part("quality", Quality, lambda c: c.quality, shared=True),
    Part("era", Era, lambda c: c.era, standardised=False),
    Part("genres", GenreLift, lambda c: c.genres, standardised=False),
)
COMPONENTS = tuple(part.name for part in PARTS if part.blended)  # the blend's, with weights
PERSONAL = tuple(part.name for part in PARTS if part.blended and part.personal)
STAND_INS = frozenset(part.stand_in for part in PARTS if part.stand_in is not None)


class Hybrid:
    """The fitted components and their blend. As a scorer it is evaluated like any model."""

    name: ClassVar[str] = "hybrid"

    def __init__(
        self,
        config: HybridConfig,
        parts: Mapping[str, Component[Any]],
        unknown: np.ndarray,
        timings: Mapping[str, float] | None = None,
        added: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.parts = {p.name: parts[p.name] for p in PARTS if p.name in parts}
        # movies nobody had rated at training time (new ones join through `reindexed`)
        self.unknown = np.asarray(unknown, dtype=bool)
        self.unknown.setflags(write=False)
        # movies added to the catalogue since training (a subset of `unknown`; not saved: a
        # loaded model is put over the current catalogue again)
        self.added = np.zeros_like(self.unknown) if added is None else np.asarray(added, bool)
        self.added.setflags(write=False)
        self.timings = dict(timings or {})
        # A factor model's scores u·v over the known movies have mean u·m and second moment
        # uᵀGu (m, G: those movies' mean factor vector and second-moment matrix), so its
        # z-scores need no pass over the catalogue: one for the scores themselves.
        self._moments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        known = ~self.unknown
        for part in PARTS:
            model = self.parts.get(part.name)
            if part.standardised and isinstance(model, ALS) and known.any():
                factors = model.item_factors[known].astype(np.float64)
                moments = (factors.mean(axis=0), factors.T @ factors / len(factors))
                self._moments[part.name] = moments
        # The same for every user: scored once, not on every request.
        self._shared: dict[str, np.ndarray] = {}
        for part in PARTS:
            if part.shared and part.name in self.parts:
                row = self.parts[part.name].score(sp.csr_matrix((1, len(self.unknown))))
                if part.standardised:
                    row = standardise(row, over=~self.unknown)
                self._shared[part.name] = _read_only(row[0])

    @property
    def params(self) -> dict[str, Any]:
        return self.config.to_dict()

    @classmethod
    def fit(
        cls,
        ratings: Ratings,
        catalog: Catalog,
        config: HybridConfig | None = None,
        fitted: Mapping[str, Component[Any]] | None = None,
    ) -> Hybrid:
        """Fit every component of `PARTS` on `ratings` (in `catalog.items` index space), except
        those in `fitted`, already fitted elsewhere (the ALS parts Spark trained): they are
        taken as they are, and must be of their part's kind and over this catalogue."""
        config = config or HybridConfig()
        check_ratings(ratings, catalog, cls.name)
        parts: dict[str, Component[Any]] = {}
        timings: dict[str, float] = {}
        for part in PARTS:
            started = time.perf_counter()
            settings = part.settings(config)
            given = (fitted or {}).get(part.name)
            if given is None:
                start = parts.get(part.warm_from) if part.warm_from else None
                try:
                    if isinstance(start, ALS) and start.config.factors == settings.factors:
                        given = ALS.fit(ratings, catalog, settings, start=start)
                    else:
                        given = part.kind.fit(ratings, catalog, settings)
                except Unavailable as exc:
                    if not part.optional:
                        raise
                    log.info("%s left out of the blend: %s", part.name, exc)
                    continue
            elif not isinstance(given, part.kind) or given.config != settings:
                raise RecommenderError(
                    f"the given {part.name} is not a {part.kind.__name__} with this "
                    "configuration's settings"
                )
            parts[part.name] = given
            timings[part.name] = time.perf_counter() - started
        unknown = np.bincount(ratings.matrix.indices, minlength=len(catalog)) == 0
        return cls(config, parts, unknown, timings)

    def components(
        self,
        rows: sp.csr_matrix,
        when: np.ndarray | None = None,
        names: Collection[str] = COMPONENTS,
    ) -> dict[str, np.ndarray]:
        """Each blended component's scores for these users (n × n_items; a shared component's
        one row, n_items), standardised where the component is; `when`: each user's moment for
        the components that depend on time (Unix seconds; None or NaN: the latest training
        rating); `names`: only these of the blended components."""
        rows = sp.csr_matrix(rows, dtype=np.float32)
        unknown = self.unknown
        # A part that is not blended is scored only to stand in for movies nobody had rated.
        wanted = set(names) | (STAND_INS if unknown.any() else frozenset())
        out: dict[str, np.ndarray] = {}
        for part in PARTS:
            model = self.parts.get(part.name)
            if model is None or part.name not in wanted:
                continue
            if part.shared:
                out[part.name] = self._shared[part.name]
                continue
            if part.name in self._moments and isinstance(model, ALS):
                out[part.name] = self._factor_z_scores(part.name, model, rows)
                continue
            scores = model.score(rows, when)
            if part.standardised:
                scores = standardise(scores, over=~unknown)
            out[part.name] = scores
        if unknown.any():
            # Nobody had rated these movies at training time: a component that knows nothing
            # about them lets another speak for them (content for the collaborative models).
            for part in PARTS:
                if part.stand_in is None or part.name not in out:
                    continue
                if part.shared:
                    row = out[part.name].copy()
                    added = self.added
                    row[added] = self.part(part.stand_in, Content).draw[added]
                    out[part.name] = row
                else:
                    out[part.name][:, unknown] = np.atleast_2d(out[part.stand_in])[:, unknown]
        return {name: scores for name, scores in out.items() if name in names}

    def _factor_z_scores(self, name: str, model: ALS, rows: sp.csr_matrix) -> np.ndarray:
        """`standardise(model.score(rows), over=known movies)`, from the moments: the same
        z-scores (to float32 rounding), one pass over the catalogue instead of five."""
        users = model.user_factors(rows)
        mean_factor, second = self._moments[name]
        u = users.astype(np.float64)
        mean = u @ mean_factor
        std = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", u, second, u) - mean**2, 0.0))
        scale = np.where(std > 1e-12, 1.0 / np.maximum(std, 1e-12), 0.0)
        scores = users @ model.item_factors.T
        scores -= mean.astype(np.float32)[:, None]
        scores *= scale.astype(np.float32)[:, None]
        return scores

    def blend(
        self, rows: sp.csr_matrix, when: np.ndarray | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Blended scores and each component's weighted contribution (for reasons); a
        component weighed 0 for every one of these users (the new users' EASE for established
        ones) adds nothing and is not scored."""
        rows = sp.csr_matrix(rows, dtype=np.float32)
        weights = self.config.blend.weights(np.diff(rows.indptr), COMPONENTS)
        speaking = [name for name in COMPONENTS if weights[name].any()]
        parts = self.components(rows, when, speaking)
        weighted = dict(contributions(parts, weights))
        return add_up(weighted.values(), rows.shape), weighted

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        return self.blend(rows, when)[0]

    # -- the components serving reads beyond the blend ----------------------------------------

    def part(self, name: str, kind: type[T]) -> T:
        """The fitted component `name`, which must be a `kind`."""
        model = self.parts.get(name)
        if not isinstance(model, kind):
            raise TypeError(f"the model has no {kind.__name__} component {name!r}")
        return model

    @property
    def taste(self) -> ALS:
        """ALS on liked movies: its item factors are the taste space."""
        return self.part("als", ALS)

    @property
    def content(self) -> Content:
        return self.part("content", Content)

    @property
    def popularity(self) -> Popularity:
        return self.part("popularity", Popularity)

    # -- arrays ---------------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every component's arrays, keyed "<component>/<name>", and the unknown movies."""
        arrays = {
            f"{name}/{key}": value
            for name, model in self.parts.items()
            for key, value in model.to_arrays().items()
        }
        arrays["hybrid/unknown"] = self.unknown
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: HybridConfig
    ) -> Hybrid:
        """The model `to_arrays` came from; `KeyError` or `ValueError` if they are not one."""
        parts: dict[str, Component[Any]] = {}
        for part in PARTS:
            prefix = part.name + "/"
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            if part.optional and not own:
                continue
            parts[part.name] = part.kind.from_arrays(own, catalog, part.settings(config))
        unknown = arrays["hybrid/unknown"]
        if len(unknown) != len(catalog):
            raise ValueError(f"{len(unknown)} movies marked known or not, {len(catalog)} in all")
        return cls(config, parts, unknown)

    def reindexed(self, change: CatalogChange) -> Hybrid:
        """This model over `change.catalog`: movies added since training are unknown."""
        unknown, added = change.gather(self.unknown), change.gather(self.added)
        unknown[change.added] = added[change.added] = True
        parts = {name: model.reindexed(change) for name, model in self.parts.items()}
        return Hybrid(self.config, parts, unknown, self.timings, added)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
