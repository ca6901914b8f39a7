"""Fault injection: make the bot's next API calls fail, hang, drop or hit a flood limit.

    emulator.faults.fail_next(2, method="sendMessage")  # two 500 Internal Server Error
    emulator.faults.flood(retry_after=3)                # one 429 with retry_after
    emulator.faults.conflict(2)                         # two 409s: another instance polls
    emulator.faults.fail_next(1, "getMe", status=401)   # the token is refused
    emulator.faults.delay(1.5)                          # every call a second and a half late
    emulator.faults.clear()

The server asks `Faults.take(method)` before running each call and `respond` says what a
fault does to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from emulator.api import ApiError

FaultKind = Literal["fail", "drop", "delay", "flood"]
STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Fault:
    kind: FaultKind
    method: str | None
    remaining: int | None  # None: until cleared
    status: int = 500
    seconds: float = 0.0

    def matches(self, method: str) -> bool:
        return self.method is None or self.method.lower() == method.lower()


@dataclass
class Faults:
    """The faults waiting for the bot's next calls."""

    rules: list[Fault] = field(default_factory=list)

    def fail_next(self, n: int = 1, method: str | None = None, status: int = 500) -> None:
        """The next `n` calls (of `method`, or any) get an HTTP `status` error."""
        self.rules.append(Fault("fail", method, n, status=status))

    def conflict(self, n: int = 1, method: str | None = "getUpdates") -> None:
        """The next `n` calls get 409 Conflict, as when another instance polls with the token."""
        self.fail_next(n, method, status=409)

    def drop_next(self, n: int = 1, method: str | None = None) -> None:
        """The next `n` calls have their connection closed without a response."""
        self.rules.append(Fault("drop", method, n))

    def delay(self, seconds: float, method: str | None = None, n: int | None = None) -> None:
        """Answer calls `seconds` late (the next `n`, or all until `clear()`)."""
        self.rules.append(Fault("delay", method, n, seconds=seconds))

    def flood(self, method: str | None = None, retry_after: int = 1, n: int | None = 1) -> None:
        """Answer 429 Too Many Requests with `retry_after` (`n` times, None = until clear)."""
        self.rules.append(Fault("flood", method, n, seconds=retry_after))

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str) -> list[Fault]:
        """The faults that apply to this call: any delays, then at most one failure."""
        hits: list[Fault] = []
        for rule in list(self.rules):
            if not rule.matches(method) or (rule.kind != "delay" and _has_failure(hits)):
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
        error = ApiError(fault.status, STATUS_TEXT.get(fault.status, "Internal Server Error"))
    return web.json_response(error.payload(), status=error.code)
