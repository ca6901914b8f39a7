"""The one protocol every blend component implements, and what they share.

A component is fitted by construction: `Kind.fit(ratings, catalog, config)` is the only way to
get one from data and `Kind.from_arrays(arrays, catalog, config)` the only way back from an
artifact, so no method ever meets a model that has not been fitted. Once made it is immutable
(serving shares it between threads); `reindexed` builds a copy over another catalogue.
The contract every component passes is `tests/recommender/test_components.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import numpy as np
import scipy.sparse as sp

from recommender.data import Catalog, Ratings

ConfigT = TypeVar("ConfigT")
FittedT_co = TypeVar("FittedT_co", covariant=True)
KindT = TypeVar("KindT", bound="Component[Any]")


class RecommenderError(ValueError):
    """A model cannot be built from these data (no ratings, shapes that do not match, …)."""


class Unavailable(Exception):
    """A component that cannot be fitted here at all (EASE on a catalogue too large for memory):
    the blend leaves it out and says why; the evaluation report skips it."""


class Scorer(Protocol):
    """A fitted model that scores every movie for each user row: what the harness ranks with."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    def score(self, rows: sp.csr_matrix) -> np.ndarray: ...


class Estimator(Protocol[FittedT_co]):
    """A model not fitted yet: `fit` returns the fitted model (which may be the same object)."""

    def fit(self, ratings: Ratings, catalog: Catalog) -> FittedT_co: ...


class Component(Protocol[ConfigT]):
    """A scorer of the blend: fit, score, to and from arrays, moved to another catalogue."""

    name: ClassVar[str]
    config: ConfigT

    @property
    def params(self) -> Mapping[str, Any]: ...

    @classmethod
    def fit(cls, ratings: Ratings, catalog: Catalog, config: ConfigT) -> Self:
        """Learn from `ratings` (users × catalogue movies); raises `RecommenderError` for
        ratings that cannot be learnt from (see `check_ratings`)."""
        ...

    def score(self, rows: sp.csr_matrix, when: np.ndarray | None = None) -> np.ndarray:
        """float32 scores, users × catalogue movies, for these rating rows; `when`: each
        user's moment (Unix seconds; None or NaN: the latest training rating), for the
        components whose scores depend on time."""
        ...

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything fitted, as plain arrays (no pickle)."""
        ...

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], catalog: Catalog, config: ConfigT
    ) -> Self:
        """The component `to_arrays` came from; raises `ValueError` if they do not fit
        `catalog`."""
        ...

    def reindexed(self, change: CatalogChange) -> Self:
        """This component over `change.catalog`: what it learnt about the movies it knew, and
        for movies added since training whatever it can say without ratings."""
        ...


@dataclass(frozen=True)
class CatalogChange:
    """A catalogue a fitted model moves to: `old[j]` is movie j's index in the training
    catalogue, -1 for a movie added since; `counts` (movie id → number of ratings) for movies
    added since, where the caller knows them."""

    catalog: Catalog
    old: np.ndarray
    counts: Mapping[int, int] = field(default_factory=dict)

    @property
    def added(self) -> np.ndarray:
        """Indices (in the new catalogue) of the movies added since training."""
        return np.flatnonzero(self.old < 0)

    def gather(self, array: np.ndarray) -> np.ndarray:
        """`array[old]` along axis 0, with zeros for the added movies."""
        out = np.zeros((len(self.old), *array.shape[1:]), dtype=array.dtype)
        known = self.old >= 0
        out[known] = array[self.old[known]]
        return out

    def added_counts(self) -> np.ndarray | None:
        """The added movies' numbers of ratings, or None when the caller gave none."""
        if not self.counts:
            return None
        ids = self.catalog.items.ids[self.added]
        return np.array([self.counts.get(int(m), 0) for m in ids])


def check_ratings(ratings: Ratings, catalog: Catalog, name: str) -> None:
    """Refuse, with a `RecommenderError` naming the component, ratings nothing can be learnt
    from: none at all, another item space than the catalogue's, or stars that are not numbers."""
    if ratings.matrix.shape[1] != len(catalog) or ratings.items != catalog.items:
        raise RecommenderError(
            f"{name}: ratings over {ratings.matrix.shape[1]} movies do not match the "
            f"catalogue of {len(catalog)} (they must share one item vocabulary)"
        )
    if ratings.nnz == 0:
        raise RecommenderError(f"{name}: no ratings to learn from")
    if not np.all(np.isfinite(ratings.matrix.data)):
        raise RecommenderError(f"{name}: some ratings are not finite numbers")


def check_rows(array: np.ndarray | sp.spmatrix, catalog: Catalog, name: str) -> None:
    """Refuse arrays of a component that are not one row per catalogue movie."""
    if array.shape[0] != len(catalog):
        raise ValueError(f"{name}: {array.shape[0]} movies, the catalogue has {len(catalog)}")


@dataclass(frozen=True)
class Unfitted(Generic[FittedT_co]):
    """A component kind with its settings, not fitted yet: what the evaluation harness fits
    (`Unfitted(ALS, config).fit(train, catalog)` is `ALS.fit(train, catalog, config)`)."""

    name: str
    make: Callable[[Ratings, Catalog], FittedT_co]

    def fit(self, ratings: Ratings, catalog: Catalog) -> FittedT_co:
        return self.make(ratings, catalog)


def unfitted(kind: type[KindT], config: Any) -> Unfitted[KindT]:
    """Component `kind` with `config` (its settings), for the evaluation harness to fit."""
    return Unfitted(kind.name, lambda ratings, catalog: kind.fit(ratings, catalog, config))
