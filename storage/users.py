"""Users: Telegram people and imported data-set users, kept apart by kind."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from storage.db import Database, StorageError

Kind = Literal["telegram", "dataset"]


class UserNotFoundError(StorageError):
    """No such user in this database."""


class BadUserRefError(StorageError, ValueError):
    """A user reference that is neither `ml:<id>` nor a numeric Telegram id."""


@dataclass(frozen=True)
class User:
    id: int  # internal key, used by ratings
    kind: Kind
    external_id: int  # Telegram user id, or the data set's user id
    name: str | None
    created_at: int

    @property
    def ref(self) -> str:
        """How the CLI names this user: `ml:196` or the Telegram id."""
        return f"ml:{self.external_id}" if self.kind == "dataset" else str(self.external_id)


def parse_ref(ref: str) -> tuple[Kind, int]:
    """`ml:196` → data-set user 196; `12345` → Telegram user 12345."""
    text = ref.strip()
    kind: Kind = "telegram"
    if text.lower().startswith("ml:"):
        kind, text = "dataset", text[3:]
    # ASCII digits ("²" is a digit to isdigit(), not to int()), few enough for an SQLite integer
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadUserRefError(
            f"{ref!r} is not a user: use ml:<id> for a data-set user or a numeric Telegram id"
        )
    return kind, int(text)


_COLUMNS = "id, kind, external_id, name, created_at"


def find(db: Database, kind: Kind, external_id: int) -> User | None:
    row = db.conn.execute(
        f"SELECT {_COLUMNS} FROM users WHERE kind = ? AND external_id = ?", (kind, external_id)
    ).fetchone()
    return None if row is None else User(*row)


def resolve(db: Database, ref: str) -> User:
    """The user a CLI reference names; raises UserNotFoundError if there is none."""
    kind, external_id = parse_ref(ref)
    user = find(db, kind, external_id)
    if user is None:
        raise UserNotFoundError(f"no user {ref} in this database")
    return user


def ensure_telegram(db: Database, telegram_id: int, name: str | None = None) -> User:
    """The Telegram user with this id, created if new (a write: call it when something is about
    to be stored for them, not on every read); the name is kept fresh."""
    with db.write() as conn:
        row = conn.execute(
            "INSERT INTO users (kind, external_id, name, created_at) VALUES ('telegram', ?, ?, ?) "
            "ON CONFLICT (kind, external_id) DO UPDATE SET name = coalesce(excluded.name, name) "
            f"RETURNING {_COLUMNS}",
            (telegram_id, name, int(time.time())),
        ).fetchone()
    return User(*row)


def settings(db: Database, user: User) -> dict[str, Any]:
    row = db.conn.execute("SELECT settings FROM users WHERE id = ?", (user.id,)).fetchone()
    return {} if row is None else json.loads(row[0])


def update_settings(db: Database, user: User, **changes: Any) -> dict[str, Any]:
    """Merge `changes` into the user's settings and return the result."""
    with db.write() as conn:
        current = settings(db, user)
        current.update(changes)
        conn.execute("UPDATE users SET settings = ? WHERE id = ?", (json.dumps(current), user.id))
    return current


def count(db: Database, kind: Kind | None = None) -> int:
    if kind is None:
        return db.conn.execute("SELECT count(*) FROM users").fetchone()[0]
    return db.conn.execute("SELECT count(*) FROM users WHERE kind = ?", (kind,)).fetchone()[0]


# -- chats the bot can no longer write to (blocked, or removed from the group) ---------------


def inactive_chats(db: Database) -> frozenset[int]:
    """Telegram chat ids the bot must not send to until that chat is heard from again."""
    return frozenset(row[0] for row in db.conn.execute("SELECT chat_id FROM inactive_chats"))


def mark_inactive(db: Database, chat_id: int, reason: str) -> None:
    """Telegram refused to deliver to this chat (403) or said the bot was blocked/removed."""
    with db.write() as conn:
        conn.execute(
            "INSERT INTO inactive_chats (chat_id, since, reason) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET reason = excluded.reason",
            (chat_id, int(time.time()), reason),
        )


def mark_active(db: Database, chat_id: int) -> bool:
    """The chat spoke to the bot again; True if it had been inactive."""
    with db.write() as conn:
        gone = conn.execute("DELETE FROM inactive_chats WHERE chat_id = ?", (chat_id,))
    return gone.rowcount > 0
