"""The catalogue as a person sees it: genres, the rating scale, title search, a movie's card."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services import people
from bot.services.people import Person
from recommender.hybrid import ModelHolder
from storage import movies
from storage.db import Database
from storage.movies import Movie
from storage.search import TitleIndex

Scale = tuple[float, float, float]  # (lowest, highest, step) of the data set's ratings

MAX_INPUT = 300  # longer text is not a movie title
MAX_RESULTS = 5
SUGGESTIONS = 3


def valid_stars(value: int, scale: Scale) -> float | None:
    """Stars from a button value (stars × 2), or None if the data set's scale has no such value."""
    low, high, step = scale
    stars = value / 2
    if not low <= stars <= high or (stars * 2) % (step * 2):
        return None
    return stars


@dataclass(frozen=True)
class Found:
    """What a typed title matched: movies best first, or else the closest spellings."""

    query: str
    movies: tuple[Movie, ...]
    suggestions: tuple[Movie, ...] = ()
    too_long: bool = False  # the text was refused unread


@dataclass(frozen=True)
class Card:
    """A movie with everything a person's card shows about it."""

    movie: Movie
    yours: float | None  # their rating
    predicted: float | None  # our guess, when they have not rated it
    on_watchlist: bool
    dismissed: bool
    scale: Scale


class Catalog:
    def __init__(self, db: Database, titles: TitleIndex, models: ModelHolder) -> None:
        self._db = db
        self._titles = titles
        self._models = models
        self._genres: list[str] | None = None

    def genres(self) -> list[str]:
        """The catalogue's genres, sorted (read once: the catalogue changes only on import)."""
        if self._genres is None:
            self._genres = movies.genres(self._db)
        return self._genres

    def scale(self) -> Scale:
        """The data set's rating scale; 1–5 whole stars by default."""
        meta = self._db.meta("rating_min", "rating_max", "rating_step")
        return (
            float(meta.get("rating_min") or 1),
            float(meta.get("rating_max") or 5),
            float(meta.get("rating_step") or 1),
        )

    def movie(self, movie_id: int) -> Movie | None:
        return movies.get(self._db, movie_id)

    def search(self, query: str, limit: int = MAX_RESULTS) -> Found:
        """Up to `limit` movies matching a typed title; nothing found → the closest spellings."""
        query = query.strip()
        if len(query) > MAX_INPUT:
            return Found(query, (), too_long=True)
        found = [m.movie_id for m in self._titles.search(query, limit=limit)]
        close = [] if found else [m.movie_id for m in self._titles.suggest(query, SUGGESTIONS)]
        known = movies.get_many(self._db, found + close)
        return Found(
            query,
            tuple(known[i] for i in found if i in known),
            tuple(known[i] for i in close if i in known),
        )

    def best_match(self, query: str) -> int | None:
        """The movie a typed title most likely means, or None."""
        query = query.strip()
        if not query or len(query) > MAX_INPUT:
            return None
        found = self._titles.search(query, limit=1)
        return found[0].movie_id if found else None

    def card(self, person: Person, movie_id: int) -> Card | None:
        """The movie's card for this person, or None if it left the catalogue."""
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return None
        history = people.history(self._db, person)
        yours = history.ratings.get(movie_id)
        predicted = None
        model = self._models.current
        if yours is None and model is not None:
            predicted = model.predict(history.ratings, [movie_id]).get(movie_id)
        return Card(
            movie,
            yours,
            predicted,
            on_watchlist=movie_id in history.watchlist,
            dismissed=movie_id in history.dismissed,
            scale=self.scale(),
        )
