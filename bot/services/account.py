"""A person's own data: their taste profile, an export of everything, forgetting them, and
the settings other features keep for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.profile import TasteProfile, taste_chart
from bot.services import people
from bot.services.people import Person
from bot.services.web import WebAccess
from storage import movies, ratings, web_tokens
from storage.db import Database

Scale = tuple[float, float, float]


@dataclass(frozen=True)
class Profile:
    taste: TasteProfile
    chart: bytes | None  # a PNG, when there is anything to draw


@dataclass(frozen=True)
class Summary:
    """The profile without a picture: what a front end that draws its own chart needs."""

    taste: TasteProfile
    histogram: tuple[tuple[float, int], ...]  # (stars, how many ratings) for every scale step


def histogram(values: list[float], scale: Scale) -> tuple[tuple[float, int], ...]:
    """How many ratings fall on each step of the scale, lowest first (off-scale ones on the
    nearest step)."""
    low, high, step = scale
    steps = [low + i * step for i in range(round((high - low) / step) + 1)]
    counts = dict.fromkeys(steps, 0)
    for value in values:
        counts[min(steps, key=lambda s: abs(s - value))] += 1
    return tuple(counts.items())


class Account:
    def __init__(self, db: Database, scale: Callable[[], Scale], web: WebAccess) -> None:
        self._db = db
        self._scale = scale
        self._web = web

    def profile(self, person: Person) -> Profile:
        """Counts, favourite genres and decades, and a chart (slow: call it off the event loop)."""
        user = people.find(self._db, person)
        rated = [] if user is None else ratings.ratings_of(self._db, user)
        taste = TasteProfile.of(rated, movies.get_many(self._db, [r.movie_id for r in rated]))
        return Profile(taste, taste_chart(taste) if rated else None)

    def summary(self, person: Person) -> Summary:
        """Counts, favourite genres and decades, and the ratings per star (no chart: fast)."""
        user = people.find(self._db, person)
        rated = [] if user is None else ratings.ratings_of(self._db, user)
        taste = TasteProfile.of(rated, movies.get_many(self._db, [r.movie_id for r in rated]))
        return Summary(taste, histogram([r.rating for r in rated], self._scale()))

    def export(self, person: Person) -> bytes:
        """Ratings, watchlist and "not interested" as CSV (UTF-8), with titles."""
        return ratings.export_csv(self._db, people.find(self._db, person)).encode()

    def forget(self, person: Person) -> bool:
        """Delete the person and everything of theirs (web sign-ins too: every browser is
        signed out); False if we had nothing."""
        user = people.find(self._db, person)
        with self._db.write():
            if user is not None:
                ratings.forget(self._db, user)
            web_tokens.forget(self._db, person.telegram_id)
        self._web.forgotten(person)  # after the deletion is written, not before
        return user is not None
