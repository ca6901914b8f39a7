"""Inline keyboards, the table of button actions, and the callback-data codec.

Every kind of button is declared once here as an `Action`: the letters that name it on the wire
and the names of its integer fields. `render` builds buttons from these declarations, `app`
registers one handler per action from them, and handlers read a pressed button's fields by name
(`callback["movie"]`).

Callback data is client input: anyone can send any bytes. So every button carries a compact,
signed payload `code.value.value.sig`: integer values only, and a signature (truncated HMAC)
over the payload and its *scope* — the id of the user it belongs to in a private chat, or the
group chat's id for a group button. A forged, malformed, or someone else's button (or one with
the wrong number of fields) fails to decode and the handler answers "this button has expired".
The key is derived from the bot token, so buttons survive a restart and stay valid until the
token changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

MAX_CALLBACK_BYTES = 64  # Telegram's limit
SIG_BYTES = 6  # 48 bits: 8 base64 characters; guessing one is 1 in 2.8e14
_INT = re.compile(r"^-?\d{1,18}$")


class ExpiredButtonError(ValueError):
    """The callback data is malformed, forged, or belongs to another user or chat."""


@dataclass(frozen=True)
class Action:
    """One kind of button: `code` on the wire (letters only), then one integer per field."""

    code: str
    fields: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        """The regex python-telegram-bot routes this action's presses by."""
        return rf"^{self.code}\."


_ACTIONS: dict[str, Action] = {}


def action(code: str, *fields: str) -> Action:
    """Declare an action; each code once."""
    if not code.isalpha():
        raise ValueError(f"action code must be letters only, got {code!r}")
    if code in _ACTIONS:
        raise ValueError(f"action code {code!r} declared twice")
    _ACTIONS[code] = declared = Action(code, fields)
    return declared


# -- the table: every button the bot sends ----------------------------------------------------
# half_stars: the rating × 2 (★3.5 → 7), so half stars stay integers.
ONBOARDING_RATE = action("or", "movie", "half_stars")
ONBOARDING_UNSEEN = action("ou", "movie")  # "Haven't seen": not asked again, may be a pick
ONBOARDING_SKIP = action("ok", "movie")  # "Skip": not asked again, not suggested
ONBOARDING_DONE = action("od")
OPEN_CARD = action("m", "movie")
RATE = action("r", "movie", "half_stars")
# genres: a bit per genre index (0 = any); since, until: years (0 = open)
MORE_PICKS = action("n", "offset", "count", "genres", "since", "until")
ADD_TO_WATCHLIST = action("w", "movie")
NOT_INTERESTED = action("x", "movie")
MORE_LIKE_THIS = action("s", "movie")
WATCHLIST_PAGE = action("wp", "page")
WATCHLIST_REMOVE = action("wx", "movie", "page")
WATCHLIST_WATCHED = action("wv", "movie")
FORGET_YES = action("fy")
FORGET_NO = action("fn")
NIGHT_JOIN = action("gi", "night")
NIGHT_LEAVE = action("go", "night")
NIGHT_PICK = action("gp", "night")
NIGHT_CLOSE = action("gc", "night")
NIGHT_WATCHLIST = action("gw", "night")


@dataclass(frozen=True)
class Callback:
    """A pressed button, decoded and verified: its action and its fields by name."""

    action: Action
    values: Mapping[str, int]

    def __getitem__(self, name: str) -> int:
        return self.values[name]


class CallbackCodec:
    """Encodes and verifies button payloads; one instance per bot (per token)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"moviebot-callback:" + secret.encode()).digest()

    def _sign(self, payload: str, scope: int) -> str:
        signed = f"{scope}:{payload}".encode(errors="replace")  # a lone surrogate: no error
        mac = hmac.new(self._key, signed, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:SIG_BYTES]).decode()

    def encode(self, action: Action, *, scope: int, **values: int) -> str:
        if sorted(values) != sorted(action.fields):
            raise ValueError(f"{action.code}: fields {action.fields}, got {sorted(values)}")
        payload = ".".join([action.code, *(str(int(values[f])) for f in action.fields)])
        data = f"{payload}.{self._sign(payload, scope)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data {data!r} is over {MAX_CALLBACK_BYTES} bytes")
        return data

    def decode(self, data: str | None, scope: int) -> Callback:
        """The action and fields of a button pressed in `scope`, or ExpiredButtonError."""
        if not data or len(data.encode(errors="replace")) > MAX_CALLBACK_BYTES:
            raise ExpiredButtonError("empty or oversized callback data")
        payload, _, sig = data.rpartition(".")
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (TypeError).
        expected = self._sign(payload, scope).encode()
        if not payload or not hmac.compare_digest(sig.encode(errors="replace"), expected):
            raise ExpiredButtonError("bad signature")
        code, *raw = payload.split(".")
        action = _ACTIONS.get(code)
        if action is None:
            raise ExpiredButtonError(f"unknown action {code!r}")
        if len(raw) != len(action.fields) or not all(_INT.match(r) for r in raw):
            raise ExpiredButtonError(f"{code}: malformed fields")
        return Callback(action, dict(zip(action.fields, map(int, raw), strict=True)))

    def button(
        self, text: str, action: Action, *, scope: int, **values: int
    ) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=self.encode(action, scope=scope, **values))


def markup(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    """An inline keyboard without empty rows."""
    return InlineKeyboardMarkup([list(r) for r in rows if r])


def wire(keyboard: InlineKeyboardMarkup) -> dict[str, Any]:
    """The keyboard as the Bot API takes it (`InlineKeyboardMarkup.to_dict`'s JSON), read from
    the three kinds of button the bot makes (callback data, a link, the web app): the generic
    `to_dict` walks every one of a button's attributes, 7 µs a button, 21 on a page of picks.
    A button of any other kind is left to it."""
    rows = []
    for row in keyboard.inline_keyboard:
        out: list[dict[str, Any]] = []
        for b in row:
            if isinstance(b.callback_data, str):
                out.append({"text": b.text, "callback_data": b.callback_data})
            elif b.url is not None and b.web_app is None and b.login_url is None:
                out.append({"text": b.text, "url": b.url})
            elif b.web_app is not None and b.url is None:
                out.append({"text": b.text, "web_app": {"url": b.web_app.url}})
            else:
                out.append(b.to_dict())
        rows.append(out)
    return {"inline_keyboard": rows}


def open_app(text: str, url: str) -> InlineKeyboardButton:
    """A button that opens the web app inside Telegram, as a Mini App (private chats only)."""
    return InlineKeyboardButton(text, web_app=WebAppInfo(url))
