"""Fault injection: make the bot's next API calls fail, hang, drop or hit a flood limit.

    emulator.faults.fail_next(2, method="sendMessage")  # two 500 Internal Server Error
    emulator.faults.fail_next(3, status=502)            # a burst of 502s on any method
    emulator.faults.flood(retry_after=3)                # one 429 with retry_after
    emulator.faults.flood("sendMessage", 30, n=None, chat_id=alice.id)  # one chat flooded
    emulator.faults.conflict(2)                         # two 409s: another instance polls
    emulator.faults.fail_next(1, "getMe", status=401)   # the token is refused
    emulator.faults.drop_next(1, "sendMessage")         # the connection closes, no answer
    emulator.faults.delay(1.5)                          # every call a second and a half late
    emulator.faults.query_too_old()                     # the next button answer is too late
    emulator.faults.blocked(alice.id)                   # 403: Alice blocked the bot
    emulator.faults.clear()

Every switch takes `method` (None: any) and `chat_id` (None: any chat), so a fault can hit one
method in one chat. The server asks `Faults.take(method, params)` before running each call and
`respond` says what a fault does to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from emulator.api import ApiError
from emulator.api.messages import QUERY_TOO_OLD

FaultKind = Literal["fail", "drop", "delay", "flood"]
STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
BLOCKED = "Forbidden: bot was blocked by the user"


@dataclass
class Fault:
    kind: FaultKind
    method: str | None
    remaining: int | None  # None: until cleared
    status: int = 500
    seconds: float = 0.0
    chat_id: int | str | None = None  # only calls naming this chat
    description: str | None = None  # instead of the status's usual text

    def matches(self, method: str, params: dict[str, Any] | None = None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        if self.chat_id is None:
            return True
        return params is not None and str(params.get("chat_id")) == str(self.chat_id)


@dataclass
class Faults:
    """The faults waiting for the bot's next calls."""

    rules: list[Fault] = field(default_factory=list)

    def fail_next(
        self,
        n: int | None = 1,
        method: str | None = None,
        status: int = 500,
        *,
        chat_id: int | str | None = None,
        description: str | None = None,
    ) -> None:
        """The next `n` calls (of `method`, or any; None = until clear) get an HTTP `status`
        error, with Telegram's usual text for it unless `description` is given."""
        fault = Fault("fail", method, n, status, chat_id=chat_id, description=description)
        self.rules.append(fault)

    def conflict(self, n: int = 1, method: str | None = "getUpdates") -> None:
        """The next `n` calls get 409 Conflict, as when another instance polls with the token."""
        self.fail_next(n, method, status=409)

    def drop_next(
        self, n: int = 1, method: str | None = None, *, chat_id: int | str | None = None
    ) -> None:
        """The next `n` calls have their connection closed without a response."""
        self.rules.append(Fault("drop", method, n, chat_id=chat_id))

    def delay(
        self,
        seconds: float,
        method: str | None = None,
        n: int | None = None,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer calls `seconds` late (the next `n`, or all until `clear()`): a slow server.
        The call still happens after the delay, even if the bot stopped waiting for it."""
        self.rules.append(Fault("delay", method, n, seconds=seconds, chat_id=chat_id))

    def flood(
        self,
        method: str | None = None,
        retry_after: int = 1,
        n: int | None = 1,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer 429 Too Many Requests with `retry_after` (`n` times, None = until clear), for
        calls naming `chat_id` only if given (a flood wait for one chat)."""
        self.rules.append(Fault("flood", method, n, seconds=retry_after, chat_id=chat_id))

    def query_too_old(self, n: int = 1) -> None:
        """The next `n` button answers come too late: 400 "query is too old"."""
        self.fail_next(n, "answerCallbackQuery", status=400, description=QUERY_TOO_OLD)

    def blocked(
        self, chat_id: int | str | None = None, method: str | None = None, n: int | None = None
    ) -> None:
        """403 "bot was blocked by the user" for calls naming `chat_id` (until clear, or `n`)."""
        self.fail_next(n, method, status=403, chat_id=chat_id, description=BLOCKED)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, params: dict[str, Any] | None = None) -> list[Fault]:
        """The faults that apply to this call: any delays, then at most one failure."""
        hits: list[Fault] = []
        for rule in list(self.rules):
            if not rule.matches(method, params):
                continue
            if rule.kind != "delay" and _has_failure(hits):
                continue
            hits.append(rule)
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
        return hits


def _has_failure(faults: list[Fault]) -> bool:
    return any(f.kind != "delay" for f in faults)


async def respond(fault: Fault, request: web.Request) -> web.StreamResponse | None:
    """Apply one fault to a call: None after a delay (the call goes on), else its answer.

    A dropped call aborts the connection and cancels the request handler, as a network
    failure would, so the bot sees no response at all.
    """
    if fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "drop":
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    if fault.kind == "flood":
        retry = int(fault.seconds)
        error = ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
    else:
        text = fault.description or STATUS_TEXT.get(fault.status, "Internal Server Error")
        error = ApiError(fault.status, text)
    return web.json_response(error.payload(), status=error.code)
