"""Web sign-in: one-time links and browser sessions, kept as SHA-256 hashes of their tokens.

A link is redeemed at most once (an UPDATE that sets `used_at` only where it is still unset, so
two tabs racing for one link get one session between them); a session lives until it expires
or its owner signs out. Expired rows are purged whenever a new one is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from storage.db import Database

Kind = Literal["link", "session"]


@dataclass(frozen=True)
class WebToken:
    telegram_id: int
    name: str | None
    csrf: str  # sessions only: the token every state-changing request must carry
    expires_at: int


def digest(token: str) -> str:
    """What is stored instead of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def add(
    db: Database,
    kind: Kind,
    token: str,
    telegram_id: int,
    name: str | None,
    *,
    now: int,
    expires_at: int,
    csrf: str = "",
) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM web_tokens WHERE expires_at <= ?", (now,))
        conn.execute(
            "INSERT INTO web_tokens (token_hash, kind, telegram_id, name, csrf, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest(token), kind, telegram_id, name, csrf, now, expires_at),
        )


def redeem_link(db: Database, token: str, *, now: int) -> WebToken | None:
    """The link's owner, marking it used; None if it is unknown, used or expired."""
    with db.write() as conn:
        row = conn.execute(
            "UPDATE web_tokens SET used_at = ? WHERE token_hash = ? AND kind = 'link' "
            "AND used_at IS NULL AND expires_at > ? "
            "RETURNING telegram_id, name, csrf, expires_at",
            (now, digest(token), now),
        ).fetchone()
    return None if row is None else WebToken(*row)


def session(db: Database, token: str, *, now: int) -> WebToken | None:
    """The session this cookie names, while it lasts."""
    row = db.conn.execute(
        "SELECT telegram_id, name, csrf, expires_at FROM web_tokens "
        "WHERE token_hash = ? AND kind = 'session' AND expires_at > ?",
        (digest(token), now),
    ).fetchone()
    return None if row is None else WebToken(*row)


def remove(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM web_tokens WHERE token_hash = ?", (digest(token),))


def forget(db: Database, telegram_id: int) -> None:
    """Every link and session of this person (on /forget)."""
    with db.write() as conn:
        conn.execute("DELETE FROM web_tokens WHERE telegram_id = ?", (telegram_id,))
