"""Retraining while the bot serves, and the model swap.

A retrain runs as `moviebot train` in a process of its own, one at a time, and only a
successful one replaces the served model (one reference swap: readers never see half of two
models); a failed one leaves the old model in service and says why. The periodic job retrains
by the rule `moviebot train --if-needed` follows (`bot.training.needs_training`): enough new
ratings since the last model, the data set imported again, or at once when there is no usable
model. Results come back as small frozen dataclasses, so a front end words them and nothing
here knows about Telegram.

Faults: a bot that starts with no usable model (none registered, or the newest file damaged or
missing) retrains at once in the background (`why_retrain_at_start`), popularity or the previous
model answering meanwhile. The messages that say a retrain is running are recorded in the meta
table while it runs, so a bot killed midway finds them on its next start (`take_interrupted`)
and can say the retrain was interrupted instead of leaving "Retraining…" forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.services import heap
from bot.services.metrics import ModelSummary
from bot.settings import Settings
from bot.training import TrainingError, TrainResult, load_record, needs_training, train
from recommender.artifacts import ArtifactError
from recommender.hybrid import ModelHolder, Recommender
from storage import models as registry
from storage.db import Database, StorageUnavailable

log = logging.getLogger(__name__)

STALE_AFTER = 120  # seconds: a /retrain older than this was queued while the bot was down
PROGRESS_EVERY = 3.0  # seconds between progress reports
STATUS_KEY = "retrain_status"  # meta: the "Retraining…" messages of the retrain running now


@dataclass(frozen=True)
class StatusMessage:
    """Where a message saying "Retraining…" is (a chat and a message in it)."""

    chat_id: int
    message_id: int


class Watcher(Protocol):
    """Who follows a retrain: told when it starts (with the model serving meanwhile; returns
    the messages that now say so), and of its latest step now and then."""

    async def started(self, old: ModelSummary | None) -> Sequence[StatusMessage]: ...

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
        self.process: asyncio.subprocess.Process | None = None  # the training process, if any

    def is_admin(self, telegram_id: int) -> bool:
        """May this person retrain and see the stats (settings.admin_ids)?"""
        return telegram_id in self.settings.admin_ids

    def is_stale(self, sent_at: float) -> bool:
        """Was a /retrain sent at this Unix time queued while the bot was down?"""
        return self.clock() - sent_at > STALE_AFTER

    def serving(self) -> ModelSummary | None:
        """The model in service now (None: popularity answers)."""
        return summary(self.models.current)

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
                self._record(await watcher.started(old))
            # Cancelled (the bot stopping) or killed: the record stays, for the next start.
            try:
                result = await self._train(watcher)
            except (TrainingError, StorageUnavailable) as exc:
                log.warning("retrain failed, keeping the current model: %s", exc)
                self._record(())
                return RetrainFailed(str(exc), old)
            self.models.swap(result.recommender)
            heap.resettle()  # the old model freed, the new one settled (where the heap is)
            self._record(())
        new = summary(result.recommender)
        assert new is not None
        return Retrained(old, new, result.seconds)

    async def _train(self, watcher: Watcher | None) -> TrainResult:
        """`moviebot train` in a process of its own, passing its latest step on now and then,
        then the model it registered, loaded. The bot's process never trains: its event loop
        and worker threads keep the CPU time the GIL would otherwise share with training
        (minutes at ml-32m's scale), and its memory stays the serving model's. An in-memory
        database (tests) cannot be opened by another process: it trains in a worker thread."""
        if self.db.path == ":memory:":
            return await self._train_here(watcher)
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._child_environment(),
        )
        self.process = child
        try:
            assert child.stdout is not None and child.stderr is not None
            said, steps = await asyncio.gather(
                child.stdout.read(), self._follow(child.stderr, watcher)
            )
            code = await child.wait()
        except BaseException:  # cancelled (the bot stopping): the training stops too
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        finally:
            self.process = None
        found = re.search(r"^model v(\d+):", said.decode(errors="replace"), re.MULTILINE)
        if code != 0 or found is None:
            why = steps[-1] if steps else f"the training process ended with code {code}"
            raise TrainingError(why.removeprefix("moviebot: "))
        record = registry.get(self.db, int(found.group(1)))
        if record is None:
            raise TrainingError(f"model v{found.group(1)} is not in the registry")
        try:
            model = load_record(record)
        except ArtifactError as exc:
            raise TrainingError(str(exc)) from exc
        return TrainResult(record, model, time.perf_counter() - started)

    def command(self) -> list[str]:
        """The training process: this Python running `moviebot train` on the database this
        service reads and swaps models for (`self.db`, whatever the settings name)."""
        return [sys.executable, "-m", "bot.cli", "train", "--db", self.db.path]

    def _child_environment(self) -> dict[str, str]:
        """The bot's environment, with its model folder, minus the bot token and secrets
        (training needs none of them)."""
        secret = ("TOKEN", "SECRET", "KEY")
        env = {k: v for k, v in os.environ.items() if not any(w in k for w in secret)}
        env["MOVIEBOT_MODEL_DIR"] = str(self.settings.model_dir)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        return env

    async def _follow(self, stream: asyncio.StreamReader, watcher: Watcher | None) -> list[str]:
        """The training process's progress lines ("train: <step>"), passed on at most every
        `PROGRESS_EVERY` seconds; every line, returned (the last one says why it failed)."""
        lines: list[str] = []
        shown = time.monotonic() - PROGRESS_EVERY
        async for raw in stream:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            lines.append(line)
            step = line.removeprefix("train: ")
            if watcher is not None and step != line and time.monotonic() - shown >= PROGRESS_EVERY:
                shown = time.monotonic()
                await watcher.step(step)
        return lines

    async def _train_here(self, watcher: Watcher | None) -> TrainResult:
        """`bot.training.train` in a worker thread, passing its latest step on now and then."""
        steps: list[str] = []
        task = asyncio.create_task(asyncio.to_thread(train, self.db, self.settings, steps.append))
        shown = 0
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_EVERY)
            if watcher is not None and len(steps) > shown and not task.done():
                shown = len(steps)
                await watcher.step(steps[-1])
        return task.result()

    def _record(self, messages: Sequence[StatusMessage]) -> None:
        """Remember (or, with none, forget) the messages saying a retrain runs. Best effort: a
        database that cannot be written now must not stop the retrain."""
        value = json.dumps([[m.chat_id, m.message_id] for m in messages])
        if not messages and self.db.get_meta(STATUS_KEY) in (None, "[]"):
            return
        try:
            self.db.set_meta(STATUS_KEY, value)
        except StorageUnavailable as exc:
            log.warning("cannot record the retrain's status messages: %s", exc)

    def take_interrupted(self) -> list[StatusMessage]:
        """The "Retraining…" messages of a retrain this bot did not live to finish (it was
        killed or stopped midway), forgotten as they are handed over; none while one runs."""
        if self.running:
            return []
        try:
            found = [StatusMessage(int(c), int(m)) for c, m in json.loads(self._status())]
        except (TypeError, ValueError) as exc:
            log.warning("ignored an unreadable %s record: %s", STATUS_KEY, exc)
            found = []
        self._record(())
        return found

    def _status(self) -> str:
        return self.db.get_meta(STATUS_KEY) or "[]"

    def why_retrain_at_start(self) -> str | None:
        """Why the bot should retrain at once as it starts, or None: it serves no model, or
        not the newest one (that one's file is damaged or missing), and there are ratings to
        train on. Anything else waits for the periodic job or an admin."""
        newest, current = registry.latest(self.db), self.models.current
        served = None if current is None else current.info.get("version")
        if newest is not None and served == newest.version:
            return None
        if registry.snapshot(self.db).ratings == 0:
            return None
        return self.why_retrain() or "no model in service"

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
