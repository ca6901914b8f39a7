"""A person's own data: their taste profile, an export of everything, forgetting them, and
the settings other features keep for them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.profile import TasteProfile, taste_chart
from bot.services import people
from bot.services.people import Person
from storage import movies, ratings
from storage.db import Database


@dataclass(frozen=True)
class Profile:
    taste: TasteProfile
    chart: bytes | None  # a PNG, when there is anything to draw


class Account:
    def __init__(self, db: Database) -> None:
        self._db = db

    def profile(self, person: Person) -> Profile:
        """Counts, favourite genres and decades, and a chart (slow: call it off the event loop)."""
        user = people.find(self._db, person)
        rated = [] if user is None else ratings.ratings_of(self._db, user)
        taste = TasteProfile.of(rated, movies.get_many(self._db, [r.movie_id for r in rated]))
        return Profile(taste, taste_chart(taste) if rated else None)

    def export(self, person: Person) -> bytes:
        """Ratings, watchlist and "not interested" as CSV (UTF-8), with titles."""
        return ratings.export_csv(self._db, people.find(self._db, person)).encode()

    def forget(self, person: Person) -> bool:
        """Delete the person and everything of theirs; False if we had nothing."""
        user = people.find(self._db, person)
        if user is not None:
            ratings.forget(self._db, user)
        return user is not None
