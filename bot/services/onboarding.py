"""The first minutes: which movie to ask a person about next, and what their answers store.

A card has three answers besides the stars, and they differ in what happens later:
- "Haven't seen": remembered in the user's settings so it is not asked again, and still a
  candidate for their picks: a movie they have not seen may well come back as one to watch.
- "Skip": not asked again and not suggested either (seen it and would rather not rate it,
  or not their thing): it goes on their "not interested" list, as 🚫 does; rating it or ➕
  later takes it off.
- "Done": no more questions for now.
The movie night whose deep link brought someone here is remembered in their settings too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.services import people
from bot.services.catalog import About, Catalog, Scale
from bot.services.feedback import Feedback, Refusal
from bot.services.people import Person
from recommender.hybrid import ModelHolder
from storage import movies, ratings, users
from storage.db import Database
from storage.movies import Movie

POOL = 40  # informative movies the model proposes; the first not yet asked is the question
POPULAR = 500  # without a model: the most rated movies
REMEMBERED = 500  # skipped questions kept
DEEP_LINK = "movienight_"
_NIGHT_ID = re.compile(r"[0-9]{1,18}")
PENDING_NIGHT = "movienight"  # the user setting naming the night a deep link came from


@dataclass(frozen=True)
class Question:
    """An onboarding card: the movie, our guess, how many the person has rated so far."""

    movie: Movie
    predicted: float | None
    rated: int
    scale: Scale
    poster: str | None = None  # the poster's URL, from TMDb metadata


@dataclass(frozen=True)
class Started:
    """The answer to /start: what the catalogue is, and the first question."""

    about: About
    question: Question | None


@dataclass(frozen=True)
class Answered:
    """A rating stored during onboarding, and the next question (None: nothing left to ask)."""

    stars: float
    next: Question | None


class Onboarding:
    def __init__(
        self, db: Database, models: ModelHolder, catalog: Catalog, feedback: Feedback
    ) -> None:
        self._db = db
        self._models = models
        self._catalog = catalog
        self._feedback = feedback

    def start(self, person: Person, argument: str | None = None) -> Started:
        """/start [argument]: remember a movie night's deep link; the catalogue and the first
        question."""
        night = (argument or "").removeprefix(DEEP_LINK)
        # At most 18 ASCII digits (an SQLite integer): "²" and "١" are digits to str.isdigit(),
        # and a typed /start may carry anything (a deep link only A-Z a-z 0-9 _ -).
        if argument and argument != night and _NIGHT_ID.fullmatch(night):
            with self._db.write():
                user = people.ensure(self._db, person)
                users.update_settings(self._db, user, **{PENDING_NIGHT: int(night)})
        return Started(self._catalog.about(), self.question(person))

    def question(self, person: Person) -> Question | None:
        """The next movie to ask about: informative, not rated, dismissed or asked before."""
        user = people.find(self._db, person)
        history = ratings.history(self._db, user)
        asked = users.settings(self._db, user).get("asked", []) if user else []
        skip = history.seen | history.dismissed | set(asked)
        model = self._models.current
        if model is not None:
            candidates = model.onboarding(POOL, exclude=skip)
        else:
            counts = movies.rating_counts(self._db)
            popular = sorted(counts, key=counts.__getitem__, reverse=True)[:POPULAR]
            candidates = [m for m in popular if m not in skip]
        known = movies.get_many(self._db, candidates)
        movie = next((known[m] for m in candidates if m in known), None)
        if movie is None:
            return None
        rated = len(history.ratings)
        predicted = None
        if rated and model is not None:
            predicted = model.predict(history.ratings, [movie.id]).get(movie.id)
        poster = self._catalog.posters([movie.id]).get(movie.id)
        return Question(movie, predicted, rated, self._catalog.scale(), poster)

    def rate(self, person: Person, movie_id: int, half_stars: int) -> Answered | Refusal:
        """A star on an onboarding card: store it (as any rating), then the next question. A
        card whose movie has gone is an expired button here, not a card to explain."""
        rated = self._feedback.rate(person, movie_id, half_stars)
        if isinstance(rated, Refusal):
            return Refusal.EXPIRED
        return Answered(rated.stars, self.question(person))

    def unseen(self, person: Person, movie_id: int) -> Question | None:
        """ "Haven't seen": not asked again, but it may be suggested; the next question."""
        with self._db.write():
            user = people.ensure(self._db, person)
            asked = users.settings(self._db, user).get("asked", [])
            if movie_id not in asked:
                users.update_settings(self._db, user, asked=[*asked, movie_id][-REMEMBERED:])
        return self.question(person)

    def skip(self, person: Person, movie_id: int) -> Question | None:
        """ "Skip": neither asked again nor suggested ("not interested"); the next question."""
        self._feedback.dismiss(person, movie_id)  # a movie that has gone needs no dismissing
        return self.question(person)

    def rated(self, person: Person) -> int:
        """How many movies the person has rated."""
        return len(people.history(self._db, person).ratings)
