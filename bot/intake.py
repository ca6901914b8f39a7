"""Updates from Telegram into the inbox, and from the inbox into the Application.

python-telegram-bot's Updater confirms a batch to Telegram (the next getUpdates offset) before
the batch is handled, so a crash loses whatever was in flight. The intake instead:

1. on start, replays what the inbox holds unfinished (storage.inbox), before anything new;
2. long-polls `getUpdates` with the offset after the last update it *stored*: a fetched batch
   goes into the inbox in one transaction first, and only the next getUpdates confirms it;
3. or, with a webhook, answers Telegram's POST with 200 only once the update is stored
   (`webhook_app`); Telegram retries anything that did not get its 200;
4. hands each newly stored update to the Application, whose `ChatOrder` processor marks it
   done when handled (bot.processor); its first write marks it applied in the same transaction.
   Updates that finish while a done commit runs are marked done together by the next one.

An update Telegram sends twice (its confirmation was lost in a crash) is in the inbox already
and is not handled again.

If the inbox cannot be written (the database turned read-only, the disk is full), updates are
handled without it rather than not at all: reads keep working and writes say "I can't save
right now" (storage.db.StorageUnavailable), at the price of the crash guarantee until the
inbox can be written again (one warning when that starts, one line when it ends).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.processor import ChatOrder
from bot.services import Services
from storage.db import StorageUnavailable
from storage.inbox import Inbox

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for news
POLL_READ_SLACK = 5.0  # and how much longer its answer may take (python-telegram-bot's default)
PRUNE_EVERY_S = 600.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class _DoneBatch:
    """Updates handled since the last done commit began, and that commit's outcome."""

    ids: list[int]
    committed: asyncio.Future[None]


class Intake:
    """The one way updates reach the Application when the bot runs: see the module docstring."""

    def __init__(self, app: Application, services: Services) -> None:
        if not isinstance(app.update_processor, ChatOrder):
            raise TypeError("the Application must be built with bot.processor.ChatOrder")
        self.app = app
        self.inbox = Inbox(services.db)
        self.processor: ChatOrder = app.update_processor
        self.processor.finish = self._finish
        self._pruned = 0.0
        self._degraded = False  # the inbox cannot be written: updates go straight to handling
        # Inbox writes get a thread of their own: a handled update is marked done at once, not
        # after the service calls queued in the pool (a kill in between means a second answer).
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="inbox")
        self._next_done: _DoneBatch | None = None  # finished updates the next commit marks
        self._done_lock = asyncio.Lock()  # one done commit at a time, batches in order
        self._committing: set[asyncio.Task[None]] = set()

    async def _inbox(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        job = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    async def _finish(self, update_id: int) -> None:
        """Mark a handled update done; returns once that is committed. Updates that finish
        while a commit is under way are marked together by the next one (group commit): under
        load the inbox commits once per batch instead of once per update, and no update waits
        longer than for the commit before its own (one at a time, as on one thread before)."""
        batch = self._next_done
        if batch is None:
            batch = self._next_done = _DoneBatch([], asyncio.get_running_loop().create_future())
            task = asyncio.create_task(self._commit_done(batch))
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)
        batch.ids.append(update_id)
        await asyncio.shield(batch.committed)  # a cancelled waiter leaves the others theirs

    async def _commit_done(self, batch: _DoneBatch) -> None:
        async with self._done_lock:
            if self._next_done is batch:  # from now on, finishing updates start the next batch
                self._next_done = None
            try:
                await self._inbox(self.inbox.done, *batch.ids)
            except Exception as exc:  # every waiter logs its update (bot.processor)
                batch.committed.set_exception(exc)
                batch.committed.exception()  # retrieved: waiters that left must not warn
            else:
                batch.committed.set_result(None)

    def close(self) -> None:
        self.processor.finish = None
        self._pool.shutdown(wait=True)

    async def replay(self) -> int:
        """Queue what a previous run stored but did not finish, oldest first; how many."""
        pending = await self._inbox(self.inbox.replay)
        for row in pending:
            update = Update.de_json(json.loads(row.payload), self.app.bot)
            await self._queue(update)
        if pending:
            applied = sum(1 for row in pending if row.state == "applied")
            log.info(
                "replaying %d updates left unfinished by the last run (%d with their effect "
                "stored already: handled again for the answer, the effect is not repeated)",
                len(pending),
                applied,
            )
        return len(pending)

    async def accept(self, updates: Sequence[Update], payloads: Sequence[str] = ()) -> int:
        """Store a batch in the inbox (one transaction), then queue those not seen before;
        how many were new. Raises if the inbox cannot be written: nothing is confirmed then.
        `payloads`: each update's JSON as Telegram sent it, stored as it is (else written
        again from the objects: python-telegram-bot's `to_json` walks every attribute)."""
        texts = payloads or [u.to_json() for u in updates]
        rows = [(u.update_id, text) for u, text in zip(updates, texts, strict=True)]
        try:
            fresh = set(await self._inbox(self.inbox.add, rows))
        except StorageUnavailable as exc:
            self._without_inbox(exc)
            for update in updates:
                await self._queue(update, stored=False)
            return len(updates)
        if self._degraded:
            self._degraded = False
            log.warning("the inbox can be written again: updates are stored before handling")
        for update in updates:
            if update.update_id in fresh:
                await self._queue(update)
        await self._prune()
        return len(fresh)

    def _without_inbox(self, exc: StorageUnavailable) -> None:
        if not self._degraded:
            self._degraded = True
            log.warning(
                "cannot store updates in the inbox (%s): handling them without it, so a crash "
                "now loses those in flight",
                exc,
            )

    async def _queue(self, update: Update, stored: bool = True) -> None:
        if stored:
            self.processor.inbox_ids.add(update.update_id)
        await self.app.update_queue.put(update)

    async def _prune(self) -> None:
        if time.monotonic() - self._pruned >= PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            await self._inbox(self.inbox.prune)

    async def poll(self, timeout: int = POLL_TIMEOUT, allowed: Sequence[str] | None = None) -> None:
        """Long polling until cancelled. A failed getUpdates (409, network) goes to the
        error handler (one log line) and is retried with back-off, 1 s doubling to 30 s; so is
        a batch the inbox could not store (it is fetched again: its offset was not confirmed)."""
        offset: int | None = None
        delay = 1.0
        allowed = Update.ALL_TYPES if allowed is None else allowed
        while True:
            try:
                raw = await self._get_updates(offset, timeout, allowed)
                if raw:
                    updates = [Update.de_json(u, self.app.bot) for u in raw]
                    await self.accept(updates, [json.dumps(u) for u in raw])
                    offset = updates[-1].update_id + 1
                delay = 1.0
            except TelegramError as exc:
                await self.app.process_error(update=None, error=exc)
            except Exception as exc:  # the database: locked past the deadline, full, read-only
                log.error(
                    "could not store fetched updates (%s: %s); fetching them again in %.0f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
            else:
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _get_updates(
        self, offset: int | None, timeout: int, allowed: Sequence[str]
    ) -> list[dict[str, Any]]:
        """`getUpdates` as `Bot.get_updates` sends it (the long poll's wait added to the read
        timeout), the updates as Telegram sent them: stored as they came, parsed once.
        `Bot._post` is the call `Bot.get_updates` and `Bot.do_api_request` make."""
        params = {"offset": offset, "timeout": timeout, "allowed_updates": list(allowed)}
        bot = self.app.bot
        raw = await bot._post("getUpdates", params, read_timeout=POLL_READ_SLACK + timeout)
        return list(raw)

    def webhook_app(self, path: str, secret: str | None) -> web.Application:
        """The aiohttp app Telegram POSTs updates to: 403 without the secret header, 400 for
        a body that is not an update, 200 once the update is in the inbox, 500 if it cannot
        be stored (Telegram sends it again later)."""
        app = web.Application()
        app.router.add_post("/" + path.lstrip("/"), self._webhook(secret))
        return app

    def _webhook(self, secret: str | None) -> Any:
        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if secret is not None and not hmac.compare_digest(given, secret):
                return web.Response(status=403)
            try:
                body = await request.text()
                update = Update.de_json(json.loads(body), self.app.bot)
            except (ValueError, TypeError, KeyError):
                return web.Response(status=400)
            log.debug("webhook received update %s", update.update_id)
            try:
                await self.accept([update], [body])
            except Exception as exc:  # Telegram sends it again later
                log.error(
                    "could not store update %s from the webhook (%s: %s); answered 500",
                    update.update_id,
                    type(exc).__name__,
                    exc,
                )
                return web.Response(status=500)
            return web.Response(status=200)

        return receive
