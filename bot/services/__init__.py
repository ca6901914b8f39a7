"""What front ends call: one object holding the database, the current model and the title index,
and the services built on them, one module per concern:

- `catalog`    genres, the rating scale, title search, a movie's card for a person
- `picks`      a person's next picks and the movies like one, with their movies
- `onboarding` the next question for a newcomer, and their answers
- `feedback`   ratings and "not interested" (writes)
- `watchlist`  a person's watchlist, a page at a time
- `account`    profile, export, forget, per-person settings
- `metrics`    latencies and /stats figures

Services take and return plain values (`Person`, ids, names, frozen dataclasses), never Telegram
objects, so a second front end needs no SQL and no recommender imports. A read never writes: a
person's user row is created by the first write that needs it.

Services are opened once when the bot starts (`Application.post_init`) and closed when it stops;
handlers reach them through `context.services`, never through module globals.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from bot.services import metrics, people
from bot.services.account import Account
from bot.services.catalog import Catalog, Scale
from bot.services.feedback import Feedback
from bot.services.metrics import Latencies, Stats
from bot.services.onboarding import Onboarding
from bot.services.people import Person
from bot.services.picks import Picks
from bot.services.watchlist import Watchlist
from bot.settings import Settings
from recommender.group import GroupPick, Member, recommend_group
from recommender.hybrid import Filters, ModelHolder, Recommender
from storage.db import Database
from storage.search import TitleIndex
from storage.users import User


@dataclass
class Services:
    settings: Settings
    db: Database
    models: ModelHolder
    titles: TitleIndex
    retrain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    timings: Latencies = field(default_factory=Latencies)
    catalog: Catalog = field(init=False)
    picks: Picks = field(init=False)
    onboarding: Onboarding = field(init=False)
    feedback: Feedback = field(init=False)
    watchlist: Watchlist = field(init=False)
    account: Account = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.db, self.titles, self.models)
        self.picks = Picks(self.db, self.models, self.catalog, self.timings)
        self.onboarding = Onboarding(self.db, self.models, self.catalog)
        self.feedback = Feedback(self.db, self.catalog)
        self.watchlist = Watchlist(self.db)
        self.account = Account(self.db)

    @property
    def model(self) -> Recommender | None:
        return self.models.current

    def is_admin(self, person: Person) -> bool:
        return person.telegram_id in self.settings.admin_ids

    def stats(self) -> Stats:
        """Users, ratings, the served model and recent latencies, for /stats."""
        model = self.model
        return metrics.stats(self.db, None if model is None else model.info, self.timings)

    # -- kept for the movie-night and admin handlers until they have services of their own ---

    @property
    def latencies(self) -> deque[float]:
        """/recommend's recent latencies in seconds (see `timings` for every operation)."""
        return self.timings.samples("recommend")

    def user(self, telegram_id: int, name: str | None = None) -> User:
        """The Telegram user with this id, created if new (a write)."""
        return people.ensure(self.db, Person(telegram_id, name))

    def genres(self) -> list[str]:
        return self.catalog.genres()

    def rating_scale(self) -> Scale:
        return self.catalog.scale()

    def rated_count(self, telegram_id: int) -> int:
        """How many movies this Telegram user has rated (0 if we never met them)."""
        return self.onboarding.rated(Person(telegram_id))

    def pending_movienight(self, telegram_id: int) -> int | None:
        return self.account.pending_movienight(telegram_id)

    def forget_movienight(self, telegram_id: int) -> None:
        self.account.forget_movienight(telegram_id)

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
        members, exclude = [], set[int]()
        for telegram_id in telegram_ids:
            history = people.history(self.db, Person(telegram_id))
            members.append(Member(telegram_id, history.ratings))
            exclude |= history.dismissed
        return recommend_group(
            model, members, n, self.settings.group_strategy, exclude=exclude, filters=filters
        )

    def close(self) -> None:
        self.db.close()


def open_services(settings: Settings, model: Recommender | None = None) -> Services:
    """Open the database, load the current model (if any) and index the titles."""
    from bot.training import load_current  # the training glue imports heavy modules

    db = Database(settings.db_path)
    if model is None:
        model = load_current(db, settings)
    return Services(settings, db, ModelHolder(model), TitleIndex.from_db(db))
