"""Recommendations: a person's next picks, and the movies most like one, with their movies.

One read of the person's history and one of the catalogue per request; nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.services import people
from bot.services.catalog import Catalog, Found
from bot.services.metrics import Latencies
from bot.services.people import Person
from recommender.filters import Filters
from recommender.hybrid import ModelHolder, Pick
from storage import movies
from storage.db import Database
from storage.movies import Movie

DEFAULT_N, MAX_N = 5, 10


@dataclass(frozen=True)
class Request:
    """Which picks: how many (a page), in which genre and decade."""

    n: int = DEFAULT_N
    genre: int = -1  # index into the catalogue's sorted genres, -1 = any
    decade: int = 0  # first year of the decade, 0 = any

    def filters(self, genres: Sequence[str]) -> Filters | None:
        if self.genre < 0 and not self.decade:
            return None
        return Filters(
            genres=frozenset(genres[self.genre : self.genre + 1] if self.genre >= 0 else []),
            year_min=self.decade or None,
            year_max=self.decade + 9 if self.decade else None,
        )


@dataclass(frozen=True)
class Because:
    """Why a movie was picked, with the movie the reason names (if any)."""

    kind: Literal["liked", "similar", "genre", "popular"]
    movie: Movie | None = None
    genre: str | None = None


@dataclass(frozen=True)
class Suggestion:
    movie: Movie
    predicted: float | None  # the person's predicted stars, when the model has them
    reason: Because


@dataclass(frozen=True)
class Page:
    """One page of a person's picks."""

    suggestions: tuple[Suggestion, ...]
    request: Request
    offset: int  # how many picks came before this page
    next_offset: int  # where "More" starts
    filtered: bool  # the request had a genre or a decade
    trained: bool  # there is a model at all


@dataclass(frozen=True)
class Similar:
    """The movies most like `seed` that the person has not rated or dismissed."""

    seed: Movie | None  # None: the movie left the catalogue
    suggestions: tuple[Suggestion, ...]
    trained: bool


def _suggestions(
    db: Database, picks: Sequence[Pick], extra: Sequence[int] = ()
) -> tuple[tuple[Suggestion, ...], dict[int, Movie]]:
    """The picks with their movies and their reasons' movies, and the movies by id (those and
    `extra`'s), read in one query. A pick whose movie left the catalogue is left out."""
    reasons = [p.reason.movie_id for p in picks if p.reason.movie_id is not None]
    known = movies.get_many(db, [*(p.movie_id for p in picks), *reasons, *extra])

    def because(pick: Pick) -> Because:
        named = None if pick.reason.movie_id is None else known.get(pick.reason.movie_id)
        return Because(pick.reason.kind, named, pick.reason.genre)

    shown = tuple(
        Suggestion(known[p.movie_id], p.predicted, because(p)) for p in picks if p.movie_id in known
    )
    return shown, known


class Picks:
    def __init__(
        self, db: Database, models: ModelHolder, catalog: Catalog, latencies: Latencies
    ) -> None:
        self._db = db
        self._models = models
        self._catalog = catalog
        self._latencies = latencies

    def recommend(self, person: Person, request: Request, offset: int = 0) -> Page:
        """The person's next `request.n` picks after the first `offset` (for "More")."""
        filters = request.filters(self._catalog.genres())
        model = self._models.current
        chosen: list[Pick] = []
        if model is not None:
            history = people.history(self._db, person)
            with self._latencies.timed("recommend"):
                chosen = model.recommend(
                    history.ratings,
                    n=request.n + offset,
                    exclude=history.dismissed | history.watchlist,
                    filters=filters,
                )[offset:]
        shown, _ = _suggestions(self._db, chosen)
        return Page(
            shown, request, offset, offset + len(chosen), filters is not None, model is not None
        )

    def similar(self, person: Person, movie_id: int, n: int = DEFAULT_N) -> Similar:
        """Movies like this one, leaving out what the person rated or dismissed."""
        model = self._models.current
        chosen: list[Pick] = []
        if model is not None:
            history = people.history(self._db, person)
            with self._latencies.timed("similar"):
                chosen = model.similar(movie_id, n=n, exclude=history.seen | history.dismissed)
        shown, known = _suggestions(self._db, chosen, extra=[movie_id])
        seed = known.get(movie_id)
        return Similar(seed, shown if seed else (), trained=model is not None)

    def similar_to(self, person: Person, query: str, n: int = DEFAULT_N) -> Similar | Found:
        """`similar` for the movie a typed title most likely means; what the search found
        instead (closest spellings, the catalogue) when no movie matches."""
        found = self._catalog.search(query, limit=1)
        if not found.movies:
            return found
        return self.similar(person, found.movies[0].id, n)
