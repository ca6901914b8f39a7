"""Checking Telegram's Mini App `initData`, exactly as Telegram documents it
("Validating data received via the Mini App"):

    data_check_string = every field but `hash`, as `key=value`, sorted by key, joined by "\\n"
    secret_key        = HMAC_SHA256(key="WebAppData", msg=bot_token)
    hash              = hex(HMAC_SHA256(key=secret_key, msg=data_check_string))

compared in constant time, and `auth_date` no older than the allowed age. Pure: no storage.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

MAX_INIT_DATA = 4096  # Telegram's is well under this; longer is not Telegram's
CLOCK_SKEW = 60  # seconds an auth_date may lie in the future (clocks differ a little)


class InitDataError(ValueError):
    """The initData is not Telegram's for this bot, or too old; the message says which."""


@dataclass(frozen=True)
class MiniAppUser:
    telegram_id: int
    first_name: str | None
    auth_date: int


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")


def validate(init_data: str, bot_token: str, *, now: float, max_age: int) -> MiniAppUser:
    """The user Telegram vouches for in `init_data`, or InitDataError."""
    if not init_data or len(init_data) > MAX_INIT_DATA:
        raise InitDataError("missing or oversized initData")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("malformed initData") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("a field appears twice")
    received = fields.get("hash", "")
    expected = hmac.new(_secret(bot_token), check_string(fields).encode(), hashlib.sha256)
    if not hmac.compare_digest(received, expected.hexdigest()):
        raise InitDataError("bad hash")
    try:
        auth_date = int(fields["auth_date"])
        user = json.loads(fields["user"])
        telegram_id = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise InitDataError("no auth_date or user") from None
    if not now - max_age <= auth_date <= now + CLOCK_SKEW:
        raise InitDataError("expired")
    name = user.get("first_name")
    return MiniAppUser(telegram_id, name if isinstance(name, str) else None, auth_date)


def sign(fields: dict[str, str], bot_token: str) -> str:
    """initData as Telegram would send it for `fields` (tests, screenshots and the bench)."""
    digest = hmac.new(_secret(bot_token), check_string(fields).encode(), hashlib.sha256)
    return urlencode({**fields, "hash": digest.hexdigest()})
