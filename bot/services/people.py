"""Who is asking: a front end's user, looked up on every read and created on the first write.

A person is named by their Telegram id (the web front end signs people in with Telegram too) and
first name. Reading never writes: someone who only looks around leaves no row behind; the user
row is created in the same transaction as the first thing stored for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import ratings, users
from storage.db import Database
from storage.ratings import History
from storage.users import User


@dataclass(frozen=True)
class Person:
    """Someone using a front end."""

    telegram_id: int
    name: str | None = None


def find(db: Database, person: Person) -> User | None:
    """Their user row, or None if nothing was ever stored for them."""
    return users.find(db, "telegram", person.telegram_id)


def ensure(db: Database, person: Person) -> User:
    """Their user row, created if new (a write: call it inside the write that needs it)."""
    return users.ensure_telegram(db, person.telegram_id, person.name)


def history(db: Database, person: Person) -> History:
    """Their ratings, dismissals and watchlist, in one statement (empty for a stranger)."""
    return ratings.history_of(db, "telegram", person.telegram_id)
