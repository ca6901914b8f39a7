"""The update inbox: every update Telegram handed the bot, kept until it has been handled.

The intake writes a fetched batch here (one transaction) *before* it confirms the batch's offset
to Telegram, so a crash at any instant leaves each update either still at Telegram (it comes
again) or here (it is replayed on start). A row goes

    new ──(the handling's first write commits: same transaction)──► applied ──► done
      └──────────────(a handling that writes nothing finishes)──────────────────┘

'applied' is recorded together with the effect (`handling` + `Database.write`), so the inbox
always knows whether an update's effect is in the database. 'done' follows once the handling
has finished, replies included. On start, 'new' and 'applied' rows are replayed: the handler
runs again, so a person whose answer a crash cut off still gets it, and since every write a
handler makes is idempotent (ratings, dismissals and votes are upserts, joins and watchlist
adds are set inserts, a night opens once; docs/reliability.md lists them) the effect is not
doubled. A done row keeps its update_id (a re-delivered update is recognised) but no payload:
nothing a user wrote or who they are stays behind, and done rows are pruned after a day.

A row that was replayed `MAX_ATTEMPTS` times without finishing (the bot died handling it each
time) is set aside as 'failed', so one poisonous update cannot keep the bot from starting.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database

MAX_ATTEMPTS = 3
KEEP_DONE_S = 24 * 3600.0


@dataclass
class Claim:
    """The update whose handling runs in this context (asyncio task, or a worker thread the
    task handed a call to); `applied` once a transaction marked it so with its effect."""

    update_id: int
    applied: bool = False


_handling: ContextVar[Claim | None] = ContextVar("moviebot_inbox_handling", default=None)


@dataclass(frozen=True)
class Pending:
    """An update in the inbox that has not been handled yet."""

    update_id: int
    payload: str  # the update's JSON, as Telegram sent it
    received_at: float
    attempts: int  # how many times a start has replayed it
    state: str  # 'new', or 'applied' (its effect is stored; the handler runs again regardless)


@contextlib.contextmanager
def handling(update_id: int) -> Iterator[Claim]:
    """Within the block, the first committed write also marks `update_id` applied."""
    claim = Claim(update_id)
    token = _handling.set(claim)
    try:
        yield claim
    finally:
        _handling.reset(token)


def mark_applied(conn: sqlite3.Connection) -> None:
    """Called by `Database.write` inside every transaction before it commits: mark the update
    being handled (if any) applied, together with its effect."""
    claim = _handling.get()
    if claim is not None and not claim.applied:
        conn.execute(
            "UPDATE inbox SET state = 'applied' WHERE update_id = ? AND state = 'new'",
            (claim.update_id,),
        )
        claim.applied = True


class Inbox:
    """The inbox table of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, updates: Iterable[tuple[int, str]]) -> list[int]:
        """Store a fetched batch of (update_id, JSON) in one transaction; the ids that were not
        in the inbox yet (an update Telegram sends again after a crash is there already)."""
        now = time.time()
        fresh = []
        with self.db.write() as conn:
            for update_id, payload in updates:
                cursor = conn.execute(
                    "INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (update_id) DO NOTHING",
                    (update_id, payload, now),
                )
                if cursor.rowcount:
                    fresh.append(update_id)
        return fresh

    def done(self, *update_ids: int) -> None:
        """Mark these updates handled, in one transaction: their payloads go."""
        now = time.time()
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE inbox SET state = 'done', payload = '', done_at = ? "
                "WHERE update_id = ? AND state IN ('new', 'applied')",
                [(now, update_id) for update_id in update_ids],
            )

    def replay(self) -> list[Pending]:
        """At start: the unfinished updates ('new' or 'applied'), oldest first, each counted as
        one more attempt; those that already had MAX_ATTEMPTS are set aside as 'failed'."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE inbox SET state = 'failed', payload = '', done_at = ? "
                "WHERE state IN ('new', 'applied') AND attempts >= ?",
                (time.time(), MAX_ATTEMPTS),
            )
            conn.execute(
                "UPDATE inbox SET attempts = attempts + 1 WHERE state IN ('new', 'applied')"
            )
            rows = conn.execute(
                "SELECT update_id, payload, received_at, attempts, state FROM inbox "
                "WHERE state IN ('new', 'applied') ORDER BY update_id"
            ).fetchall()
        return [Pending(*row) for row in rows]

    def prune(self, keep_s: float = KEEP_DONE_S) -> int:
        """Delete rows finished more than `keep_s` seconds ago; how many went."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM inbox WHERE state IN ('done', 'failed') AND done_at < ?",
                (time.time() - keep_s,),
            )
        return cursor.rowcount

    def counts(self) -> dict[str, int]:
        """Rows per state ('new', 'applied', 'done', 'failed'), for tests and the crash bench."""
        rows = self.db.conn.execute("SELECT state, count(*) FROM inbox GROUP BY state")
        return {state: n for state, n in rows}

    def states(self, update_ids: Iterable[int]) -> dict[int, str]:
        """The state of each of these updates that the inbox holds."""
        ids = list(update_ids)
        found: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.conn.execute(
                f"SELECT update_id, state FROM inbox WHERE update_id IN ({marks})", chunk
            )
            found.update(dict(rows))
        return found
