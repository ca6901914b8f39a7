"""What a person tells us about a movie: a rating, "not interested". Each is one write
transaction, which also creates the person's user row the first time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.services import people
from bot.services.catalog import Card, Catalog, valid_stars
from bot.services.people import Person
from storage import movies, ratings
from storage.db import Database
from storage.movies import Movie


class Refusal(Enum):
    """Why a button's request was not carried out."""

    GONE = "gone"  # the movie is no longer in the catalogue
    EXPIRED = "expired"  # the button asks for what cannot be (a star value the scale lacks)


@dataclass(frozen=True)
class Rated:
    stars: float
    card: Card  # the movie's card as it is now


class Feedback:
    def __init__(self, db: Database, catalog: Catalog) -> None:
        self._db = db
        self._catalog = catalog

    def rate(self, person: Person, movie_id: int, half_stars: int) -> Rated | Refusal:
        """Store a rating (committed when this returns); the updated card, or why not.

        A rated movie leaves the watchlist and the "not interested" list.
        """
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return Refusal.GONE
        scale = self._catalog.scale()
        stars = valid_stars(half_stars, scale)
        if stars is None:
            return Refusal.EXPIRED
        with self._db.write():
            ratings.upsert(self._db, people.ensure(self._db, person), movie_id, stars)
        card = Card(movie, stars, None, on_watchlist=False, dismissed=False, scale=scale)
        return Rated(stars, self._catalog.described(card))

    def dismiss(self, person: Person, movie_id: int) -> Movie | Refusal:
        """ "Not interested": never suggested again (and off the watchlist)."""
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return Refusal.GONE
        with self._db.write():
            ratings.dismiss(self._db, people.ensure(self._db, person), movie_id)
        return movie
