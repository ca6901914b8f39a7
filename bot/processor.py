"""How updates are processed: different chats at the same time, one chat's updates in order.

python-telegram-bot hands every update to `BaseUpdateProcessor.process_update` in a task of its
own (when the processor allows more than one at once). `ChatOrder` then

- keeps the updates of one chat (or, for updates without a chat such as poll answers, of one
  user) in the order they arrived: each waits for the one before it in that chat;
- lets at most `limit` updates run at once, counting only those whose turn has come, so a chat
  with a long backlog (a flood, a slow handler) holds one slot, not all of them;
- marks an update taken from the inbox as done once its handling finishes (storage.inbox; its
  first write marked it applied in the same transaction, if it wrote anything).

PTB's own bound (`max_concurrent_updates`) is set to `backlog`: it only caps how many updates
may wait in memory; the real bound is `limit`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from storage import inbox

log = logging.getLogger(__name__)

LIMIT = 64  # updates handled at once
BACKLOG = 100_000  # updates waiting for their turn, in memory

# What the intake gives the processor: called with the update id once handling has finished.
Finish = Callable[[int], Awaitable[None]]


def order_key(update: object) -> Hashable | None:
    """Which updates must keep their order: those of one chat; without a chat, one user's."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class ChatOrder(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat; see the module docstring."""

    def __init__(self, limit: int = LIMIT, backlog: int = BACKLOG) -> None:
        super().__init__(max(backlog, limit))
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[Hashable, asyncio.Future[None]] = {}
        self.finish: Finish | None = None  # set by the intake (bot.intake) when it runs
        self.inbox_ids: set[int] = set()  # updates that came through the inbox, not done yet

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = order_key(update)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        previous = self._tails.get(key) if key is not None else None
        if key is not None:
            self._tails[key] = turn
        started = False
        try:
            if previous is not None:
                await previous
            async with self._slots:
                started = True
                await self._handle(update, coroutine)
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting (shutdown): never ran
            turn.set_result(None)
            if key is not None and self._tails.get(key) is turn:
                del self._tails[key]

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers; an update from the inbox is done afterwards, whatever happened
        (an error was answered by the error handler; a crash never gets here: it is replayed)."""
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is None or update_id not in self.inbox_ids:
            await coroutine
            return
        with inbox.handling(update_id):
            try:
                await coroutine
            finally:
                self.inbox_ids.discard(update_id)
        if self.finish is not None:
            try:
                await self.finish(update_id)
            except Exception:  # the update is replayed on the next start
                log.exception("could not mark update %s done in the inbox", update_id)

    @property
    def waiting_chats(self) -> int:
        """Chats (or users) with an update running or waiting."""
        return len(self._tails)

    async def initialize(self) -> None:
        """Nothing to set up: the slots and queues live as long as the object."""

    async def shutdown(self) -> None:
        """Nothing to release: Application.stop already waited for the running updates."""
