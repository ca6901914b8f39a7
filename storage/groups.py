"""Groups and their movie nights: who joined, the picks, the poll and the votes.

A night moves `open` → `voting` → `closed`. Every transition is one conditional UPDATE
(`... WHERE status = 'open'`), so two people pressing "Pick movies" at the same moment, or a
timeout racing a "Close vote", change the state once and the loser learns it lost. Joins and
votes are upserts on their primary keys, so concurrent ones never lose each other. A partial
unique index allows one night that is not closed per group.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from storage.db import Database, StorageError

Status = Literal["open", "voting", "closed"]


class NightError(StorageError):
    """A movie-night operation that the night's state does not allow."""


class NightAlreadyOpenError(NightError):
    """The group already has a movie night that is not closed."""


class NightStateError(NightError):
    """The night is not in the state this step needs (e.g. picking twice, voting when closed)."""


@dataclass(frozen=True)
class Night:
    id: int
    chat_id: int
    # Telegram id of who started it; None once they asked to be forgotten (then the steps
    # only its starter or an admin may take are an admin's alone).
    starter_id: int | None
    status: Status
    filters: dict[str, Any]
    message_id: int | None  # the "Who's in?" message
    poll_id: str | None
    poll_message_id: int | None
    winner_movie_id: int | None
    created_at: int
    closed_at: int | None
    vote_deadline: int | None


@dataclass(frozen=True)
class NightMember:
    telegram_id: int
    name: str
    joined_at: int


@dataclass(frozen=True)
class NightPick:
    position: int  # 0-based: the poll option index
    movie_id: int
    score: float  # the group score (breaks vote ties)
    reason: str


_NIGHT = (
    "id, chat_id, starter_id, status, filters, message_id, poll_id, poll_message_id, "
    "winner_movie_id, created_at, closed_at, vote_deadline"
)


def _night(row: tuple) -> Night:
    values = list(row)
    values[4] = json.loads(values[4] or "{}")
    return Night(*values)


def _maybe_night(row: tuple | None) -> Night | None:
    return None if row is None else _night(row)


def _now() -> int:
    return int(time.time())


def ensure_group(db: Database, chat_id: int, title: str | None = None) -> None:
    """Remember a group chat (its title kept fresh)."""
    with db.write() as conn:
        conn.execute(
            "INSERT INTO groups (chat_id, title, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET title = coalesce(excluded.title, title)",
            (chat_id, title, _now()),
        )


def title(db: Database, chat_id: int) -> str | None:
    """The group's title as last seen (None for a group we never met)."""
    row = db.conn.execute("SELECT title FROM groups WHERE chat_id = ?", (chat_id,)).fetchone()
    return None if row is None else row[0]


def open_night(
    db: Database,
    chat_id: int,
    starter_id: int,
    starter_name: str,
    filters: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Night:
    """Start a movie night with its starter as the first member.

    Raises NightAlreadyOpenError if the group has one that is not closed.
    """
    now = _now()
    try:
        with db.write() as conn:
            conn.execute(
                "INSERT INTO groups (chat_id, title, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET title = coalesce(excluded.title, title)",
                (chat_id, title, now),
            )
            cur = conn.execute(
                "INSERT INTO movie_nights (chat_id, starter_id, status, filters, created_at) "
                "VALUES (?, ?, 'open', ?, ?)",
                (chat_id, starter_id, json.dumps(dict(filters or {}), sort_keys=True), now),
            )
            night_id = cur.lastrowid
            assert night_id is not None  # set by every INSERT
            conn.execute(
                "INSERT INTO movie_night_members (night_id, telegram_id, name, joined_at) "
                "VALUES (?, ?, ?, ?)",
                (night_id, starter_id, starter_name, now),
            )
    except sqlite3.IntegrityError:
        raise NightAlreadyOpenError(f"group {chat_id} already has a movie night") from None
    night = get(db, night_id)
    assert night is not None
    return night


def get(db: Database, night_id: int) -> Night | None:
    return _maybe_night(
        db.conn.execute(f"SELECT {_NIGHT} FROM movie_nights WHERE id = ?", (night_id,)).fetchone()
    )


def current(db: Database, chat_id: int) -> Night | None:
    """The group's night that is not closed, if any."""
    return _maybe_night(
        db.conn.execute(
            f"SELECT {_NIGHT} FROM movie_nights WHERE chat_id = ? AND status != 'closed'",
            (chat_id,),
        ).fetchone()
    )


def by_poll(db: Database, poll_id: str) -> Night | None:
    return _maybe_night(
        db.conn.execute(
            f"SELECT {_NIGHT} FROM movie_nights WHERE poll_id = ?", (poll_id,)
        ).fetchone()
    )


def voting(db: Database) -> list[Night]:
    """Every night whose vote is running (to re-schedule their timeouts after a restart)."""
    return [
        _night(r)
        for r in db.conn.execute(
            f"SELECT {_NIGHT} FROM movie_nights WHERE status = 'voting' ORDER BY id"
        )
    ]


def set_message(db: Database, night_id: int, message_id: int) -> None:
    """The group message that shows who is in (edited in place as people join)."""
    with db.write() as conn:
        conn.execute("UPDATE movie_nights SET message_id = ? WHERE id = ?", (message_id, night_id))


def join(db: Database, night_id: int, telegram_id: int, name: str) -> bool:
    """Add a member to an open night; True if they were not in it yet.

    Raises NightStateError when the night is no longer open.
    """
    with db.write() as conn:
        _require(conn, night_id, "open")
        cur = conn.execute(
            "INSERT OR IGNORE INTO movie_night_members (night_id, telegram_id, name, joined_at) "
            "VALUES (?, ?, ?, ?)",
            (night_id, telegram_id, name, _now()),
        )
    return cur.rowcount > 0


def leave(db: Database, night_id: int, telegram_id: int) -> bool:
    """Remove a member from an open night; True if they were in it."""
    with db.write() as conn:
        _require(conn, night_id, "open")
        cur = conn.execute(
            "DELETE FROM movie_night_members WHERE night_id = ? AND telegram_id = ?",
            (night_id, telegram_id),
        )
    return cur.rowcount > 0


def is_member(db: Database, night_id: int, telegram_id: int) -> bool:
    return (
        db.conn.execute(
            "SELECT 1 FROM movie_night_members WHERE night_id = ? AND telegram_id = ?",
            (night_id, telegram_id),
        ).fetchone()
        is not None
    )


def nights_of(db: Database, telegram_id: int) -> list[Night]:
    """The nights this person is in that are not over, newest first."""
    rows = db.conn.execute(
        f"SELECT {_NIGHT} FROM movie_nights WHERE status != 'closed' AND id IN "
        "(SELECT night_id FROM movie_night_members WHERE telegram_id = ?) ORDER BY id DESC",
        (telegram_id,),
    )
    return [_night(r) for r in rows]


def members(db: Database, night_id: int) -> list[NightMember]:
    """Who is in, in the order they joined."""
    return [
        NightMember(*r)
        for r in db.conn.execute(
            "SELECT telegram_id, name, joined_at FROM movie_night_members WHERE night_id = ? "
            "ORDER BY joined_at, telegram_id",
            (night_id,),
        )
    ]


def start_picking(db: Database, night_id: int) -> Night:
    """Claim the night for picking (open → voting); only the first caller wins.

    Raises NightStateError if it is not open (picked already, or closed).
    """
    with db.write() as conn:
        cur = conn.execute(
            "UPDATE movie_nights SET status = 'voting' WHERE id = ? AND status = 'open'",
            (night_id,),
        )
        if cur.rowcount == 0:
            raise NightStateError(f"movie night {night_id} is not open")
    night = get(db, night_id)
    assert night is not None
    return night


def reopen(db: Database, night_id: int) -> None:
    """Undo `start_picking` when the poll could not be posted (picks and poll are dropped)."""
    with db.write() as conn:
        conn.execute("DELETE FROM movie_night_picks WHERE night_id = ?", (night_id,))
        conn.execute(
            "UPDATE movie_nights SET status = 'open', poll_id = NULL, poll_message_id = NULL, "
            "vote_deadline = NULL WHERE id = ? AND status = 'voting'",
            (night_id,),
        )


def save_poll(
    db: Database,
    night_id: int,
    picks: Sequence[NightPick],
    poll_id: str,
    poll_message_id: int,
    deadline: int,
) -> None:
    """Store the picks (poll options in order) and the poll that offers them."""
    with db.write() as conn:
        _require(conn, night_id, "voting")
        conn.execute("DELETE FROM movie_night_picks WHERE night_id = ?", (night_id,))
        conn.executemany(
            "INSERT INTO movie_night_picks (night_id, position, movie_id, score, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            [(night_id, p.position, p.movie_id, p.score, p.reason) for p in picks],
        )
        conn.execute(
            "UPDATE movie_nights SET poll_id = ?, poll_message_id = ?, vote_deadline = ? "
            "WHERE id = ?",
            (poll_id, poll_message_id, deadline, night_id),
        )


def picks(db: Database, night_id: int) -> list[NightPick]:
    return [
        NightPick(*r)
        for r in db.conn.execute(
            "SELECT position, movie_id, score, reason FROM movie_night_picks WHERE night_id = ? "
            "ORDER BY position",
            (night_id,),
        )
    ]


def vote(db: Database, night_id: int, telegram_id: int, options: Sequence[int]) -> None:
    """Record someone's poll answer (a new answer replaces the old; none retracts it).

    Raises NightStateError if the vote is not running.
    """
    with db.write() as conn:
        _require(conn, night_id, "voting")
        if not options:
            conn.execute(
                "DELETE FROM movie_night_votes WHERE night_id = ? AND telegram_id = ?",
                (night_id, telegram_id),
            )
            return
        conn.execute(
            "INSERT INTO movie_night_votes (night_id, telegram_id, options, ts) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (night_id, telegram_id) DO UPDATE SET "
            "options = excluded.options, ts = excluded.ts",
            (night_id, telegram_id, json.dumps(sorted(set(options))), _now()),
        )


def votes(db: Database, night_id: int) -> dict[int, list[int]]:
    """Telegram id → the options they chose."""
    return {
        telegram_id: json.loads(options)
        for telegram_id, options in db.conn.execute(
            "SELECT telegram_id, options FROM movie_night_votes WHERE night_id = ?", (night_id,)
        )
    }


def tally(db: Database, night_id: int) -> list[int]:
    """Votes per poll option, in option order."""
    counts = [0] * len(picks(db, night_id))
    for options in votes(db, night_id).values():
        for option in options:
            if 0 <= option < len(counts):
                counts[option] += 1
    return counts


def close(db: Database, night_id: int, winner_movie_id: int | None) -> bool:
    """End the vote with this winner; False if it had already ended (nothing changes)."""
    with db.write() as conn:
        cur = conn.execute(
            "UPDATE movie_nights SET status = 'closed', winner_movie_id = ?, closed_at = ? "
            "WHERE id = ? AND status = 'voting'",
            (winner_movie_id, _now(), night_id),
        )
    return cur.rowcount > 0


def cancel(db: Database, night_id: int) -> bool:
    """Close an open night without a vote (e.g. the bot was removed from the group)."""
    with db.write() as conn:
        cur = conn.execute(
            "UPDATE movie_nights SET status = 'closed', closed_at = ? "
            "WHERE id = ? AND status != 'closed'",
            (_now(), night_id),
        )
    return cur.rowcount > 0


def forget_person(conn: sqlite3.Connection, telegram_id: int, names: Sequence[str] = ()) -> None:
    """Remove a Telegram person from every movie night, inside the caller's transaction
    (/forget): their memberships and votes go, nights they started keep going without a
    starter (NULL: only an admin may then pick or close), and the stored picks' reasons lose
    every mention of them (see `_scrub_reason`). `names`: what they were called, to find an
    older moviebot's worded reasons."""
    names = [n for n in {*names, *_member_names(conn, telegram_id)} if n]
    needles = [str(telegram_id), *names]
    found = " OR ".join("instr(reason, ?) > 0" for _ in needles)
    rows = conn.execute(
        f"SELECT night_id, position, reason FROM movie_night_picks WHERE {found}", needles
    ).fetchall()
    for night_id, position, reason in rows:
        scrubbed = _scrub_reason(reason, telegram_id, names)
        if scrubbed != reason:
            conn.execute(
                "UPDATE movie_night_picks SET reason = ? WHERE night_id = ? AND position = ?",
                (scrubbed, night_id, position),
            )
    conn.execute("DELETE FROM movie_night_members WHERE telegram_id = ?", (telegram_id,))
    conn.execute("DELETE FROM movie_night_votes WHERE telegram_id = ?", (telegram_id,))
    conn.execute("UPDATE movie_nights SET starter_id = NULL WHERE starter_id = ?", (telegram_id,))


def _member_names(conn: sqlite3.Connection, telegram_id: int) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "SELECT DISTINCT name FROM movie_night_members WHERE telegram_id = ?", (telegram_id,)
        )
    ]


def _scrub_reason(reason: str, telegram_id: int, names: Sequence[str]) -> str:
    """A stored reason without this person. The bot stores a reason as JSON whose lists hold
    member ids, alone or first in a pair (`[id, stars]`, `[id, movie id]`); those entries go.
    A reason that still names them anyhow (an older moviebot's words, a format this does not
    know) is dropped whole: "" is a reason the bot shows as unknown."""
    try:
        data = json.loads(reason)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""

    def theirs(entry: object) -> bool:
        first = entry[0] if isinstance(entry, list) and entry else entry
        return not isinstance(first, bool) and first in (telegram_id, str(telegram_id))

    kept = {
        key: [e for e in value if not theirs(e)] if isinstance(value, list) else value
        for key, value in data.items()
    }
    return "" if _mentions(kept, telegram_id, names) else json.dumps(kept)


def _mentions(value: object, telegram_id: int, names: Sequence[str]) -> bool:
    """Whether the person's id (as a number or text) or one of their names is anywhere in it."""
    if isinstance(value, dict):
        return any(_mentions(v, telegram_id, names) for v in [*value, *value.values()])
    if isinstance(value, list):
        return any(_mentions(v, telegram_id, names) for v in value)
    if isinstance(value, str):
        return value == str(telegram_id) or any(name in value for name in names)
    return not isinstance(value, bool) and value == telegram_id


def _require(conn: sqlite3.Connection, night_id: int, status: Status) -> None:
    row = conn.execute("SELECT status FROM movie_nights WHERE id = ?", (night_id,)).fetchone()
    if row is None:
        raise NightStateError(f"no movie night {night_id}")
    if row[0] != status:
        raise NightStateError(f"movie night {night_id} is {row[0]}, not {status}")
