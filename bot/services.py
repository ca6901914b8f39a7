"""What the handlers call: the database, the current model and the title index, in one object.

Services are opened once when the bot starts (`Application.post_init`) and closed when it stops;
handlers reach them through `context.services`, never through module globals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from bot.settings import Settings
from recommender.filters import Filters
from recommender.group import GroupPick, Member, recommend_group
from recommender.hybrid import ModelHolder, Pick, Recommender
from storage import movies, ratings, users
from storage.db import Database
from storage.movies import Movie
from storage.search import TitleIndex
from storage.users import User

log = logging.getLogger(__name__)

ONBOARDING_POOL = 40


@dataclass
class Services:
    settings: Settings
    db: Database
    models: ModelHolder
    titles: TitleIndex
    retrain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    _genres: list[str] | None = None

    @property
    def model(self) -> Recommender | None:
        return self.models.current

    def user(self, telegram_id: int, name: str | None = None) -> User:
        return users.ensure_telegram(self.db, telegram_id, name)

    def genres(self) -> list[str]:
        """The catalogue's genres (read once: the catalogue changes only on import)."""
        if self._genres is None:
            self._genres = movies.genres(self.db)
        return self._genres

    def rating_scale(self) -> tuple[float, float, float]:
        """(lowest, highest, step) of the data set's ratings; 1–5 whole stars by default."""
        get = self.db.get_meta
        return (
            float(get("rating_min") or 1),
            float(get("rating_max") or 5),
            float(get("rating_step") or 1),
        )

    def recommend(
        self, user: User, n: int, filters: Filters | None = None, offset: int = 0
    ) -> list[Pick]:
        """The user's next picks, skipping the first `offset` (for "More")."""
        model = self.model
        if model is None:
            return []
        history = ratings.history(self.db, user)
        started = time.perf_counter()
        picks = model.recommend(
            history.ratings,
            n=n + offset,
            exclude=history.dismissed | history.watchlist,
            filters=filters,
        )
        self.latencies.append(time.perf_counter() - started)
        return picks[offset:]

    def predicted(self, user: User, movie_ids: list[int]) -> dict[int, float]:
        model = self.model
        if model is None or not movie_ids:
            return {}
        return model.predict(ratings.history(self.db, user).ratings, movie_ids)

    def onboarding_movie(self, user: User) -> Movie | None:
        """The next movie to ask this user about: informative, and not asked before."""
        history = ratings.history(self.db, user)
        asked = set(users.settings(self.db, user).get("asked", []))
        skip = history.seen | history.dismissed | asked
        model = self.model
        if model is not None:
            candidates = model.onboarding(ONBOARDING_POOL, exclude=skip)
        else:
            counts = movies.rating_counts(self.db)
            popular = sorted(counts, key=counts.__getitem__, reverse=True)[:500]
            candidates = [m for m in popular if m not in skip]
        for movie_id in candidates:
            movie = movies.get(self.db, movie_id)
            if movie is not None:
                return movie
        return None

    def movie_exists(self, movie_id: int) -> bool:
        return movies.get(self.db, movie_id) is not None

    def remember_movienight(self, user: User, night: str) -> None:
        """A deep link from a group's movie night: onboarding will point the user back there."""
        if night.isdigit():
            users.update_settings(self.db, user, movienight=int(night))

    def pending_movienight(self, telegram_id: int) -> int | None:
        """The movie night whose deep link brought this user here, if onboarding isn't done."""
        user = users.find(self.db, "telegram", telegram_id)
        night = users.settings(self.db, user).get("movienight") if user else None
        return night if isinstance(night, int) else None

    def forget_movienight(self, telegram_id: int) -> None:
        user = users.find(self.db, "telegram", telegram_id)
        if user is not None:
            users.update_settings(self.db, user, movienight=None)

    def rated_count(self, telegram_id: int) -> int:
        """How many movies this Telegram user has rated (0 if we never met them)."""
        user = users.find(self.db, "telegram", telegram_id)
        return len(ratings.history(self.db, user).ratings)

    def group_picks(
        self, telegram_ids: list[int], n: int, filters: Filters | None = None
    ) -> list[GroupPick]:
        """Picks for a movie night's members (settings.group_strategy); [] without a model.

        Nothing any member rated or dismissed is picked; members we know too little about
        have neutral preferences (see recommender.group).
        """
        model = self.model
        if model is None:
            return []
        members, exclude = [], set()
        for telegram_id in telegram_ids:
            history = ratings.history(self.db, users.find(self.db, "telegram", telegram_id))
            members.append(Member(telegram_id, history.ratings))
            exclude |= history.dismissed
        return recommend_group(
            model, members, n, self.settings.group_strategy, exclude=exclude, filters=filters
        )

    def mark_asked(self, user: User, movie_id: int) -> None:
        """Remember an onboarding question the user skipped, so it is not asked again."""
        asked = users.settings(self.db, user).get("asked", [])
        if movie_id not in asked:
            users.update_settings(self.db, user, asked=[*asked, movie_id][-500:])

    def close(self) -> None:
        self.db.close()


def open_services(settings: Settings, model: Recommender | None = None) -> Services:
    """Open the database, load the current model (if any) and index the titles."""
    from bot.training import load_current  # the training glue imports heavy modules

    db = Database(settings.db_path)
    if model is None:
        model = load_current(db, settings)
    return Services(settings, db, ModelHolder(model), TitleIndex.from_db(db))
