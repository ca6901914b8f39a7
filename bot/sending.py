"""The send policy: what the bot does when Telegram is busy, slow, down or says no.

python-telegram-bot passes every Bot API call but getUpdates through the Application's rate
limiter (`BaseRateLimiter.process_request`); `SendPolicy` is ours. By kind of call:

- **Messages** (`MESSAGES`: sendMessage, sendPoll, sendPhoto … anything that posts a new message
  in a chat, which is what Telegram's flood limits count) go through one lane per chat, in
  order: at most 3 in 3 s in a private chat (about one a second, short bursts allowed), 20 a
  minute in a group, and 30 a second over all chats (`Limits`, the figures of Telegram's bot
  FAQ; off with MOVIEBOT_RATE_LIMIT=0, which keeps everything below).
- **Other writes** (edits, answerCallbackQuery, sendChatAction, deletes, stopPoll,
  setMyCommands …) are never queued behind messages: a button's answer goes out at once.
- **Reads** (getMe, getChat, getChatMember, getFile …) and the webhook set-up pass straight
  through: their callers have a policy of their own (`bot.app.connect` retries getMe at start,
  python-telegram-bot retries polling and its webhook bootstrap).

Faults of a write, within a deadline per call (Settings.send_deadline, 5 minutes; a button's
answer at most `CALLBACK_WINDOW`, after which Telegram refuses it anyway):

- 429 Too Many Requests: wait `retry_after` and try again, as often as it takes. The wait holds
  only the lane of the chat it was for: other chats' replies keep flowing.
- 5xx, timeouts, closed connections (python-telegram-bot's NetworkError, TimedOut): try again
  after an exponential back-off with jitter (0.25-0.5 s, 0.5-1 s, 1-2 s … 15-30 s). A send that
  timed out or lost its connection may have reached Telegram all the same; trying again can then
  show a reply twice. We prefer a rare duplicate to a lost reply.
- "message is not modified": the edit is already there, so it succeeded (True).
- 400 Bad Request: never retried; raised as `Refused`, which names the method, for the error
  handler's log (Telegram's description with quoted parts cut, never the message text).
- 403 Forbidden for a chat: the person blocked the bot or the bot left the group; the chat is
  marked inactive (`Recipients.went_away`) and later writes to it are refused here without a
  call, until an update from that chat makes it active again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Methods that post a new message in a chat: the ones Telegram's flood limits count.
MESSAGES = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendPoll",
        "sendMediaGroup",
        "sendAnimation",
        "sendAudio",
        "sendVideo",
        "sendVideoNote",
        "sendVoice",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendDice",
        "sendInvoice",
        "sendGame",
        "sendPaidMedia",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)
# Not retried here: python-telegram-bot's start-up and shutdown retry (or report) these itself.
PASS_THROUGH = frozenset({"setWebhook", "deleteWebhook", "logOut", "close"})
CALLBACK_WINDOW = 10.0  # seconds a button's answer is worth retrying (Telegram allows ~15 s)
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

Result = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, Result]]


class Recipients(Protocol):
    """Who the bot may still write to (bot.services.audience.Audience)."""

    def is_active(self, chat_id: int) -> bool: ...

    def went_away(self, chat_id: int, reason: str) -> bool: ...


class Refused(BadRequest):
    """Telegram refused a call as malformed (400 Bad Request): a bug of ours, not retried."""

    def __init__(self, method: str, description: str) -> None:
        super().__init__(description)
        self.method = method


def without_quotes(description: str) -> str:
    """Telegram's error text with anything it quotes cut (it may quote what we sent)."""
    return re.sub(r'"[^"]*"', '"…"', description)[:300]


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits as the bot keeps them: at most so many messages in a window."""

    private_messages: int = 3  # about one a second in a private chat, short bursts allowed
    private_window: float = 3.0
    group_messages: int = 20  # 20 a minute in a group
    group_window: float = 60.0
    total_messages: int = 30  # about 30 a second over all chats
    total_window: float = 1.0


class Window:
    """At most `count` calls in any `seconds` (plus a little margin for the network's jitter):
    `book(at)` says when the next call may start, no earlier than `at` nor the last one booked,
    and books that moment. Callers book in the order they go, so the starts stay sorted."""

    MARGIN = 0.1

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds + self.MARGIN
        self.starts: deque[float] = deque()

    def book(self, at: float) -> float:
        starts = self.starts
        while starts and starts[0] <= at - self.seconds:
            starts.popleft()
        start = max(at, starts[-1]) if starts else at
        if len(starts) >= self.count:
            start = max(start, starts[-self.count] + self.seconds)
        starts.append(start)
        return start

    def idle(self, now: float) -> bool:
        return not self.starts or self.starts[-1] <= now - self.seconds


@dataclass
class Lane:
    """One chat's messages, in order: its window and any flood wait Telegram asked for."""

    window: Window | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = 0.0


@dataclass(frozen=True)
class Call:
    """One Bot API call on its way: what, where, and until when it may be tried."""

    method: str
    chat_id: int | str | None
    deadline: float

    def __str__(self) -> str:
        return self.method if self.chat_id is None else f"{self.method} to chat {self.chat_id}"


class SendPolicy(BaseRateLimiter[float]):
    """See the module docstring. `rate_limit_args`, when a caller passes it, is that call's
    deadline in seconds."""

    MAX_LANES = 10_000  # idle lanes are forgotten beyond this many chats

    def __init__(
        self,
        deadline: float = 300.0,
        limits: Limits | None = None,
        recipients: Recipients | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.deadline = deadline
        self.limits = limits
        self.recipients = recipients
        self._random = rng or random.Random()
        self._lanes: dict[int | str, Lane] = {}
        self._total = Window(limits.total_messages, limits.total_window) if limits else None

    async def initialize(self) -> None:
        """Nothing to set up: lanes are made as chats come."""

    async def shutdown(self) -> None:
        self._lanes.clear()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: float | None,
    ) -> Result:
        if endpoint.startswith("get") or endpoint in PASS_THROUGH:
            return await callback(*args, **kwargs)
        chat_id = _chat_id(data)
        if isinstance(chat_id, int) and not self._active(chat_id):
            raise Forbidden(f"chat {chat_id} blocked or removed the bot; {endpoint} not sent")
        budget = rate_limit_args or self.deadline
        if endpoint == "answerCallbackQuery":
            budget = min(budget, CALLBACK_WINDOW)
        call = Call(endpoint, chat_id, asyncio.get_running_loop().time() + budget)
        if endpoint in MESSAGES and chat_id is not None:
            lane = self._lane(chat_id)
            async with lane.lock:  # one chat's messages go out in the order they were sent
                return await self._attempts(call, lane, True, callback, args, kwargs)
        lane_or_none = self._lanes.get(chat_id) if chat_id is not None else None
        return await self._attempts(call, lane_or_none, False, callback, args, kwargs)

    async def _attempts(
        self,
        call: Call,
        lane: Lane | None,
        paced: bool,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
    ) -> Result:
        """Try the call until it works, fails for good, or its deadline would pass."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            attempt += 1
            await self._wait_turn(call, lane, paced)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                error: NetworkError | RetryAfter = exc
                wait = _seconds(exc)
                if lane is not None:
                    lane.paused_until = max(lane.paused_until, loop.time() + wait)
            except BadRequest as exc:  # before NetworkError, which BadRequest is a kind of
                if "message is not modified" in exc.message.lower() and call.method.startswith(
                    "edit"
                ):
                    return True
                raise Refused(call.method, without_quotes(exc.message)) from None
            except Forbidden as exc:
                self._went_away(call, exc)
                raise
            except NetworkError as exc:  # 5xx, timeouts, closed connections (TimedOut is one)
                error, wait = exc, self.backoff(attempt)
            if loop.time() + wait > call.deadline:
                log.warning("gave up on %s after %d attempts: %s", call, attempt, error)
                raise error
            log.info("%s failed (attempt %d: %s); again in %.1f s", call, attempt, error, wait)
            await asyncio.sleep(wait)

    async def _wait_turn(self, call: Call, lane: Lane | None, paced: bool) -> None:
        """Wait out the chat's flood pause and, for a message, its turn in the chat's window
        and then in the window over all chats."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = now if lane is None else max(now, lane.paused_until)
        if paced and lane is not None and lane.window is not None:
            at = lane.window.book(at)
        if at > call.deadline:
            log.warning("gave up on %s: its chat may not be sent to for %.0f s", call, at - now)
            raise RetryAfter(dt.timedelta(seconds=max(1, round(at - now))))
        if at > now:
            await asyncio.sleep(at - now)
        if paced and self._total is not None:  # booked now, so bookings come in time order
            now = loop.time()
            if (start := self._total.book(now)) > now:
                await asyncio.sleep(start - now)

    def backoff(self, attempt: int) -> float:
        """Seconds before try `attempt + 1`: doubling from FIRST_BACKOFF up to MAX_BACKOFF, the
        upper half of it random (so a burst of failures does not retry in lockstep)."""
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _active(self, chat_id: int) -> bool:
        return self.recipients is None or self.recipients.is_active(chat_id)

    def _went_away(self, call: Call, error: Forbidden) -> None:
        """403 for a chat: the person blocked the bot, or the bot is no longer in the group."""
        if not isinstance(call.chat_id, int) or self.recipients is None:
            return
        try:
            if self.recipients.went_away(call.chat_id, without_quotes(error.message)):
                log.info("chat %s is inactive now (%s): %s", call.chat_id, call, error.message)
        except Exception:  # storage trouble must not hide Telegram's answer
            log.exception("could not mark chat %s inactive", call.chat_id)

    def _lane(self, chat_id: int | str) -> Lane:
        lane = self._lanes.get(chat_id)
        if lane is None:
            if len(self._lanes) >= self.MAX_LANES:
                self._forget_idle_lanes()
            lane = self._lanes[chat_id] = Lane(self._window_for(chat_id))
        return lane

    def _window_for(self, chat_id: int | str) -> Window | None:
        limits = self.limits
        if limits is None:
            return None
        if isinstance(chat_id, int) and chat_id > 0:  # a private chat: the person's id
            return Window(limits.private_messages, limits.private_window)
        return Window(limits.group_messages, limits.group_window)

    def _forget_idle_lanes(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, lane in list(self._lanes.items()):
            busy = lane.lock.locked() or lane.paused_until > now
            if not busy and (lane.window is None or lane.window.idle(now)):
                del self._lanes[key]


def _chat_id(data: dict[str, Any]) -> int | str | None:
    """The chat a call is for: an int, a "@channel" name, or None (not about one chat)."""
    raw = data.get("chat_id")
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return str(raw)


def _seconds(error: RetryAfter) -> float:
    # The timedelta behind `retry_after` (which warns while python-telegram-bot moves it from int
    # to timedelta); its own AIORateLimiter reads it the same way.
    return error._retry_after.total_seconds()
