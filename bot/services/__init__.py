"""What front ends call: one object holding the database, the current model and the title index,
and the services built on them, one module per concern:

- `catalog`    genres, the rating scale, title and person search, a movie's card for a person
- `metadata`   TMDb metadata: a movie with its poster URL (`movie`), directors, people
- `picks`      a person's next picks and the movies like one, with their movies
- `onboarding` the next question for a newcomer, and their answers
- `feedback`   ratings and "not interested" (writes)
- `watchlist`  a person's watchlist, a page at a time
- `account`    profile, export, forget, per-person settings
- `metrics`    latencies and /stats figures
- `audience`   which chats the bot may still write to (not blocked, not removed)
- `web`        web app sign-in links and sessions

Services take and return plain values (`Person`, ids, names, frozen dataclasses), never Telegram
objects, so a second front end needs no SQL and no recommender imports. A read never writes: a
person's user row is created by the first write that needs it.

A write that cannot be saved now (a read-only database, a full disk) raises
`StorageUnavailable`; front ends say "try again later" (reads keep working).

Services are opened once when the bot starts (`Application.post_init`) and closed when it stops;
handlers reach them through `context.services`, never through module globals.

Services are synchronous (SQLite, numpy). A front end on an event loop never calls them
directly: `await services.call(services.catalog.search, query)` runs the call on the services'
own thread pool (each worker thread has its own SQLite connection), so a slow query, a write
waiting for the lock or a big recommendation never stalls other chats. The call sees the
caller's context variables (the update being handled, see storage.inbox). Rankings and title
searches run on a lane of their own (`computing`). The catalogue's genres and what it is
(`catalog.genres()`, `catalog.about()`) are read when the services open and held in memory:
those two a front end reads directly.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from bot.services import metrics
from bot.services.account import Account
from bot.services.audience import Audience
from bot.services.catalog import About, Catalog
from bot.services.computing import LANE, is_computing
from bot.services.feedback import Feedback
from bot.services.metadata import MetadataService
from bot.services.metrics import Latencies, Stats
from bot.services.movienight import NightService
from bot.services.onboarding import Onboarding
from bot.services.people import Person
from bot.services.picks import Picks
from bot.services.training import TrainingService
from bot.services.watchlist import Watchlist
from bot.services.web import WebAccess
from bot.settings import Settings
from recommender.hybrid import ModelHolder, Recommender
from storage.db import Database, StorageUnavailable
from storage.search import TitleIndex

P = ParamSpec("P")
T = TypeVar("T")
# Worker threads for service calls: enough that writers waiting for a lock held elsewhere
# leave room for readers (WAL lets them read meanwhile).
WORKERS = 32


@dataclass(frozen=True)
class Help:
    """What /help shows a person: the admin commands too?, and what the catalogue is."""

    admin: bool
    about: About


@dataclass
class Services:
    settings: Settings
    db: Database
    models: ModelHolder
    titles: TitleIndex
    timings: Latencies = field(default_factory=Latencies)
    metadata: MetadataService = field(init=False)  # TMDb metadata and poster URLs
    catalog: Catalog = field(init=False)
    picks: Picks = field(init=False)
    onboarding: Onboarding = field(init=False)
    feedback: Feedback = field(init=False)
    watchlist: Watchlist = field(init=False)
    account: Account = field(init=False)
    nights: NightService = field(init=False)  # movie nights in groups
    training: TrainingService = field(init=False)  # retrain, model swap, /stats
    audience: Audience = field(init=False)  # chats that blocked or removed the bot
    web: WebAccess = field(init=False)  # web app sign-in links and sessions
    pool: ThreadPoolExecutor = field(init=False, repr=False)
    lane: ThreadPoolExecutor = field(init=False, repr=False)  # rankings and searches

    def __post_init__(self) -> None:
        self.metadata = MetadataService(self.db, self.settings.tmdb_image_base_url)
        self.catalog = Catalog(self.db, self.titles, self.models, self.metadata)
        self.picks = Picks(self.db, self.models, self.catalog, self.timings, self.metadata)
        self.feedback = Feedback(self.db, self.catalog)
        self.onboarding = Onboarding(self.db, self.models, self.catalog, self.feedback)
        self.watchlist = Watchlist(self.db, self.catalog)
        self.nights = NightService(self.settings, self.db, self.models, self.genres)
        self.training = TrainingService(self.settings, self.db, self.models)
        self.audience = Audience(self.db)
        self.web = WebAccess(self.db, self.settings.token)
        self.account = Account(self.db, self.catalog.scale, self.web)
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="services")
        self.lane = ThreadPoolExecutor(LANE, thread_name_prefix="services-computing")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on a worker thread, awaited: the event loop keeps serving
        other chats meanwhile. Context variables go along (asyncio.to_thread does the same).
        Rankings and searches (`computing.computes`) have a few threads of their own."""
        context = contextvars.copy_context()
        job = functools.partial(context.run, fn, *args, **kwargs)
        pool = self.lane if is_computing(fn) else self.pool
        return await asyncio.get_running_loop().run_in_executor(pool, job)

    @property
    def model(self) -> Recommender | None:
        return self.models.current

    def is_admin(self, person: Person) -> bool:
        return person.telegram_id in self.settings.admin_ids

    def help(self, person: Person) -> Help:
        return Help(self.is_admin(person), self.catalog.about())

    def stats(self) -> Stats:
        """Users, ratings, the served model and recent latencies, for /stats."""
        model = self.model
        return metrics.stats(self.db, None if model is None else model.info, self.timings)

    def genres(self) -> tuple[str, ...]:
        return self.catalog.genres()

    def close(self) -> None:
        for pool in (self.lane, self.pool):
            pool.shutdown(wait=True, cancel_futures=True)
        self.db.close()


def check_storage(settings: Settings) -> None:
    """`StorageUnavailable` unless the bot's database can be opened and written (a read-only
    file or folder): what `moviebot run` and `chat` check first, for one clear line at start."""
    with Database(settings.db_path) as db:
        db.check_writable()


def open_services(settings: Settings, model: Recommender | None = None) -> Services:
    """Open the database, load the current model (if any) and index the titles.
    `StorageUnavailable` at once if the database cannot be written (a read-only file or folder):
    a bot that cannot save a rating should not start as if it could."""
    from bot.training import load_current  # the training glue imports heavy modules

    db = Database(settings.db_path)
    try:
        db.check_writable()
    except StorageUnavailable:
        db.close()
        raise
    if model is None:
        model = load_current(db, settings)
    return Services(settings, db, ModelHolder(model), TitleIndex.from_db(db))
