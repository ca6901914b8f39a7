"""Retraining while the bot serves, and the model swap.

A retrain runs in a worker thread, one at a time, and only a successful one replaces the served
model (one reference swap: readers never see half of two models); a failed one leaves the old
model in service and says why. The periodic job retrains by the rule `moviebot train
--if-needed` follows (`bot.training.needs_training`): enough new ratings since the last model,
the data set imported again, or at once when there is no usable model. Results come back as
small frozen dataclasses, so a front end words them and nothing here knows about Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.services.metrics import ModelSummary
from bot.settings import Settings
from bot.training import TrainingError, TrainResult, needs_training, train
from recommender.hybrid import ModelHolder, Recommender
from storage.db import Database

log = logging.getLogger(__name__)

STALE_AFTER = 120  # seconds: a /retrain older than this was queued while the bot was down
PROGRESS_EVERY = 3.0  # seconds between progress reports


class Watcher(Protocol):
    """Who follows a retrain: told when it starts (with the model serving meanwhile), and of
    its latest step now and then."""

    async def started(self, old: ModelSummary | None) -> None: ...

    async def step(self, step: str) -> None: ...


def summary(model: Recommender | None) -> ModelSummary | None:
    return None if model is None else ModelSummary.of(model.info)


@dataclass(frozen=True)
class Retrained:
    old: ModelSummary | None
    new: ModelSummary
    seconds: float


@dataclass(frozen=True)
class RetrainFailed:
    error: str
    old: ModelSummary | None  # still serving


@dataclass(frozen=True)
class RetrainBusy:
    """Another retrain is running; this one was not started."""


Outcome = Retrained | RetrainFailed | RetrainBusy


class TrainingService:
    """The served model's life: retrain, swap, decide when, report."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        models: ModelHolder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.db, self.models = settings, db, models
        self.clock = clock
        self._lock = asyncio.Lock()

    def is_admin(self, telegram_id: int) -> bool:
        """May this person retrain and see the stats (settings.admin_ids)?"""
        return telegram_id in self.settings.admin_ids

    def is_stale(self, sent_at: float) -> bool:
        """Was a /retrain sent at this Unix time queued while the bot was down?"""
        return self.clock() - sent_at > STALE_AFTER

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def retrain(self, watcher: Watcher | None = None) -> Outcome:
        """Train in a worker thread and serve the new model; one at a time. On failure the
        current model stays in service."""
        if self._lock.locked():  # checked and taken with no await between: no race
            return RetrainBusy()
        async with self._lock:
            old = summary(self.models.current)
            if watcher is not None:
                await watcher.started(old)
            try:
                result = await self._train(watcher)
            except TrainingError as exc:
                log.warning("retrain failed, keeping the current model: %s", exc)
                return RetrainFailed(str(exc), old)
            self.models.swap(result.recommender)
        new = summary(result.recommender)
        assert new is not None
        return Retrained(old, new, result.seconds)

    async def _train(self, watcher: Watcher | None) -> TrainResult:
        """`bot.training.train` off the event loop, passing its latest step on now and then."""
        steps: list[str] = []
        task = asyncio.create_task(asyncio.to_thread(train, self.db, self.settings, steps.append))
        shown = 0
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_EVERY)
            if watcher is not None and len(steps) > shown and not task.done():
                shown = len(steps)
                await watcher.step(steps[-1])
        return task.result()

    def why_retrain(self) -> str | None:
        """Why the periodic job should retrain now, or None: by `needs_training`'s rule (enough
        new ratings, a data set imported again, no usable model), and at once when the bot
        serves no model at all."""
        current = self.models.current
        if current is None:
            return needs_training(self.db, self.settings) or "no model in service"
        return needs_training(self.db, self.settings, serving=current.info.get("version"))

    async def periodic_retrain(self) -> Outcome | None:
        """The periodic job's tick: retrain if `why_retrain` says so (None if it did not)."""
        if self._lock.locked():
            return None
        why = self.why_retrain()
        if why is None:
            return None
        log.info("periodic retrain: %s", why)
        outcome = await self.retrain()
        if isinstance(outcome, Retrained):
            log.info("periodic retrain: now serving v%s", outcome.new.version)
        return outcome
