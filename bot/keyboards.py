"""Inline keyboards and the callback-data codec.

Callback data is client input: anyone can send any bytes. So every button carries a compact,
signed payload `action.arg.arg.sig`: integer arguments only, and a signature (truncated HMAC)
over the payload and its *scope* — the id of the user it belongs to in a private chat, or the
group chat's id for a group button. A forged, malformed, or someone else's button fails to
decode and the handler answers "this button has expired". The key is derived from the bot token,
so buttons survive a restart and stay valid until the token changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_CALLBACK_BYTES = 64  # Telegram's limit
SIG_BYTES = 6  # 48 bits: 8 base64 characters; guessing one is 1 in 2.8e14


class ExpiredButtonError(ValueError):
    """The callback data is malformed, forged, or belongs to another user or chat."""


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[int, ...]

    def arg(self, i: int, default: int | None = None) -> int:
        if i < len(self.args):
            return self.args[i]
        if default is None:
            raise ExpiredButtonError(f"{self.action}: missing argument {i}")
        return default


class CallbackCodec:
    """Encodes and verifies button payloads; one instance per bot (per token)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"moviebot-callback:" + secret.encode()).digest()

    def _sign(self, payload: str, scope: int) -> str:
        mac = hmac.new(self._key, f"{scope}:{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:SIG_BYTES]).decode()

    def encode(self, action: str, *args: int, scope: int) -> str:
        if not action.isalpha():
            raise ValueError(f"action must be letters only, got {action!r}")
        payload = ".".join([action, *(str(int(a)) for a in args)])
        data = f"{payload}.{self._sign(payload, scope)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data {data!r} is over {MAX_CALLBACK_BYTES} bytes")
        return data

    def decode(self, data: str | None, scope: int) -> Callback:
        """The action and arguments of a button pressed in `scope`, or ExpiredButtonError."""
        if not data or len(data) > MAX_CALLBACK_BYTES:
            raise ExpiredButtonError("empty or oversized callback data")
        payload, _, sig = data.rpartition(".")
        if not payload or not hmac.compare_digest(sig, self._sign(payload, scope)):
            raise ExpiredButtonError("bad signature")
        action, *raw = payload.split(".")
        try:
            args = tuple(int(a) for a in raw)
        except ValueError:
            raise ExpiredButtonError("non-numeric argument") from None
        return Callback(action, args)

    def button(self, text: str, action: str, *args: int, scope: int) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=self.encode(action, *args, scope=scope))


def markup(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    """An inline keyboard without empty rows."""
    return InlineKeyboardMarkup([list(r) for r in rows if r])
