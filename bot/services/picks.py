"""Recommendations: a person's next picks, and the movies most like one, with their movies.

One read of the person's history and one of the catalogue per request; nothing is written.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.services import people
from bot.services.catalog import Catalog, Found
from bot.services.computing import computes
from bot.services.metadata import MetadataService
from bot.services.metrics import Latencies
from bot.services.people import Person
from recommender.explain import Reason
from recommender.filters import Filters
from recommender.hybrid import ModelHolder, Pick, Recommender
from recommender.predict import agreeing
from storage import movies
from storage.db import Database
from storage.movies import Movie
from storage.ratings import History

DEFAULT_N, MAX_N = 5, 10


MAX_GENRES = 60  # genre indices a "More" button can carry (a bit each in one integer)
RANKINGS_HELD = 200_000  # ratings, dismissals, listed movies and picks remembered (~20 MB)
PAGES_KEPT = 8  # rankings remembered per person: filters × pages, the latest


@dataclass
class _Remembered:
    history: History  # what the rankings were made for
    found: dict[tuple[Filters | None, int], tuple[Pick, ...]]

    @property
    def size(self) -> int:
        held = self.history
        picks = sum(len(f) for f in self.found.values())
        return len(held.ratings) + len(held.dismissed) + len(held.watchlist) + picks


class Rankings:
    """The model's latest rankings for each recent person, for the history they were made for:
    their ratings, dismissals and watchlist as read for this request. A hit needs an equal
    history, the same filters and length and the same model object, so a new rating, dismissal
    or watchlist change, or a model swap, is answered by the model at once, and a hit is exactly
    what the model would answer, without its CPU time (the web's picks page under many users,
    "More" and paging back in the chat). Bounded by what it holds (`held`), the least recently
    asked for person forgotten first."""

    def __init__(self, held: int = RANKINGS_HELD) -> None:
        self._budget = held
        self._lock = threading.Lock()  # service calls run on many threads
        self._model: weakref.ref[Recommender] | None = None  # weak: a swapped-out model goes
        self._people: OrderedDict[int, _Remembered] = OrderedDict()
        self._held = 0

    def get(
        self, model: Recommender, who: int, history: History, key: tuple[Filters | None, int]
    ) -> tuple[Pick, ...] | None:
        with self._lock:
            if self._model is None or self._model() is not model:
                self._model = weakref.ref(model)
                self._forget()
                return None
            entry = self._people.get(who)
            if entry is None or entry.history != history:
                return None
            self._people.move_to_end(who)
            return entry.found.get(key)

    def put(
        self,
        model: Recommender,
        who: int,
        history: History,
        key: tuple[Filters | None, int],
        found: tuple[Pick, ...],
    ) -> None:
        with self._lock:
            if self._model is None or self._model() is not model:
                return  # swapped meanwhile: the next `get` starts afresh
            entry = self._people.pop(who, None)
            if entry is not None:
                self._held -= entry.size
            if entry is None or entry.history != history:
                entry = _Remembered(history, {})
            entry.found.pop(key, None)
            entry.found[key] = found
            while len(entry.found) > PAGES_KEPT:
                del entry.found[next(iter(entry.found))]
            self._people[who] = entry
            self._held += entry.size
            while self._held > self._budget and self._people:
                _, oldest = self._people.popitem(last=False)
                self._held -= oldest.size

    def _forget(self) -> None:
        self._people.clear()
        self._held = 0

    def clear(self) -> None:
        with self._lock:
            self._forget()


@dataclass(frozen=True)
class Request:
    """Which picks: how many (a page), of which genres, from which years."""

    n: int = DEFAULT_N
    genres: tuple[int, ...] = ()  # indices into the catalogue's sorted genres: a pick has all
    since: int = 0  # first year, 0 = any
    until: int = 0  # last year, 0 = any

    @property
    def genre(self) -> int:
        """The first genre's index, −1 for none (what a movie night keeps)."""
        return self.genres[0] if self.genres else -1

    @property
    def decade(self) -> int:
        """The decade the years start in, 0 for none (what a movie night keeps)."""
        return self.since // 10 * 10 if self.since else 0

    @property
    def genre_mask(self) -> int:
        """The genres as one integer, a bit per genre index (for a button)."""
        return sum(1 << g for g in set(self.genres) if 0 <= g < MAX_GENRES)

    @staticmethod
    def genres_of(mask: int) -> tuple[int, ...]:
        """`genre_mask` back to genre indices."""
        return tuple(g for g in range(MAX_GENRES) if mask >> g & 1)

    @property
    def filtered(self) -> bool:
        return bool(self.genres or self.since or self.until)

    def genre_names(self, genres: Sequence[str]) -> tuple[str, ...]:
        return tuple(genres[g] for g in self.genres if 0 <= g < len(genres))

    def filters(self, genres: Sequence[str]) -> Filters | None:
        if not self.filtered:
            return None
        wanted = self.genre_names(genres)
        return Filters(
            genres=frozenset(wanted),
            every_genre=len(wanted) > 1,
            year_min=self.since or None,
            year_max=self.until or None,
        )


@dataclass(frozen=True)
class Because:
    """Why a movie was picked, with the movie the reason names (if any)."""

    kind: Literal["liked", "similar", "taste", "genre", "popular"]
    movie: Movie | None = None
    genre: str | None = None
    director: str | None = None  # the pick and `movie` have this director in common


@dataclass(frozen=True)
class Suggestion:
    movie: Movie
    predicted: float | None  # the person's predicted stars, when shown (`Picks.recommend`)
    reason: Because
    doubtful: bool = False  # predicted under the middle of the scale: "you may not love it"
    directors: tuple[str, ...] = ()  # from TMDb metadata, when the catalogue has it
    poster: str | None = None  # the poster's URL, from TMDb metadata: what a web tile shows


@dataclass(frozen=True)
class Page:
    """One page of a person's picks."""

    suggestions: tuple[Suggestion, ...]
    request: Request
    offset: int  # how many picks came before this page
    next_offset: int  # where "More" starts
    filtered: bool  # the request had genres or years
    trained: bool  # there is a model at all
    more: bool = False  # there are picks after this page
    genres: tuple[str, ...] = ()  # the names of the genres asked for


@dataclass(frozen=True)
class Similar:
    """The movies most like `seed` that the person has not rated or dismissed."""

    seed: Movie | None  # None: the movie left the catalogue
    suggestions: tuple[Suggestion, ...]
    trained: bool


def _suggestions(
    db: Database,
    picks: Sequence[Pick],
    extra: Sequence[int] = (),
    metadata: MetadataService | None = None,
) -> tuple[tuple[Suggestion, ...], dict[int, Movie]]:
    """The picks with their movies and their reasons' movies, and the movies by id (those and
    `extra`'s), with their directors and posters, read in one query. A pick whose movie left
    the catalogue is left out; its predicted ★ only where the order of `picks` does not
    contradict it (`agreeing`)."""
    reasons = [p.reason.movie_id for p in picks if p.reason.movie_id is not None]
    ids = [*(p.movie_id for p in picks), *reasons, *extra]
    if metadata is not None:
        known, directors, posters = metadata.movies(ids)
    else:
        known, directors, posters = movies.get_many(db, ids), {}, {}

    def because(pick: Pick) -> Because:
        named = None if pick.reason.movie_id is None else known.get(pick.reason.movie_id)
        theirs = directors.get(pick.reason.movie_id or -1, ())
        shared = [d for d in directors.get(pick.movie_id, ()) if d in theirs]
        return Because(pick.reason.kind, named, pick.reason.genre, shared[0] if shared else None)

    stars = agreeing([p.predicted for p in picks])
    shown = tuple(
        Suggestion(
            known[p.movie_id],
            p.predicted if ok else None,
            because(p),
            p.doubtful,
            directors.get(p.movie_id, ()),
            posters.get(p.movie_id),
        )
        for p, ok in zip(picks, stars, strict=True)
        if p.movie_id in known
    )
    return shown, known


class Picks:
    def __init__(
        self,
        db: Database,
        models: ModelHolder,
        catalog: Catalog,
        latencies: Latencies,
        metadata: MetadataService | None = None,
    ) -> None:
        self._db = db
        self._models = models
        self._catalog = catalog
        self._latencies = latencies
        self._metadata = metadata
        self.rankings = Rankings()

    @computes
    def recommend(self, person: Person, request: Request, offset: int = 0) -> Page:
        """The person's next `request.n` picks after the first `offset` (for "More"), and
        whether any come after them."""
        genres = self._catalog.genres()
        model = self._models.current
        history = people.history(self._db, person)
        n = request.n + offset + 1  # one more: is there a next page?
        if model is None:  # unfiltered only: genres and years need the model's catalogue
            with self._latencies.timed("recommend"):
                seen = history.seen | history.dismissed | history.watchlist
                found: Sequence[Pick] = [] if request.filtered else self._popular(seen, n)
        else:
            found = self._ranked(model, person, history, request.filters(genres), n)
        chosen = found[offset : offset + request.n]
        shown, _ = _suggestions(self._db, chosen, metadata=self._metadata)
        return Page(
            shown,
            request,
            offset,
            offset + len(chosen),
            request.filtered,
            model is not None,
            more=len(found) > offset + request.n,
            genres=request.genre_names(genres),
        )

    def _ranked(
        self,
        model: Recommender,
        person: Person,
        history: History,
        filters: Filters | None,
        n: int,
    ) -> tuple[Pick, ...]:
        """The model's first `n` picks for this history, remembered (see `Rankings`)."""
        who, key = person.telegram_id, (filters, n)
        found = self.rankings.get(model, who, history, key)
        if found is None:
            exclude = history.dismissed | history.watchlist
            with self._latencies.timed("recommend"):
                found = tuple(
                    model.recommend(history.ratings, n=n, exclude=exclude, filters=filters)
                )
            self.rankings.put(model, who, history, key, found)
        return found

    def _popular(self, exclude: frozenset[int], n: int) -> list[Pick]:
        """With no model in service (none trained yet, or its file damaged while a retrain
        runs): the most rated movies the person has not rated, dismissed or listed."""
        chosen = self._catalog.most_rated(n, exclude)
        return [Pick(movie_id, float(count), None, Reason("popular")) for movie_id, count in chosen]

    @computes
    def similar(self, person: Person, movie_id: int, n: int = DEFAULT_N) -> Similar:
        """Movies like this one, leaving out what the person rated or dismissed."""
        model = self._models.current
        chosen: list[Pick] = []
        if model is not None:
            history = people.history(self._db, person)
            with self._latencies.timed("similar"):
                chosen = model.similar(movie_id, n=n, exclude=history.seen | history.dismissed)
        shown, known = _suggestions(self._db, chosen, [movie_id], self._metadata)
        seed = known.get(movie_id)
        return Similar(seed, shown if seed else (), trained=model is not None)

    @computes
    def similar_to(self, person: Person, query: str, n: int = DEFAULT_N) -> Similar | Found:
        """`similar` for the movie a typed title most likely means; what the search found
        instead (closest spellings, the catalogue) when no movie matches."""
        found = self._catalog.search(query, limit=1)
        if not found.movies:
            return found
        return self.similar(person, found.movies[0].id, n)
