"""The update inbox: stored once, done with its effect, replayed a bounded number of times."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from storage import inbox, movies, ratings, users
from storage.db import SCHEMA_VERSION, Database
from storage.inbox import MAX_ATTEMPTS, Inbox
from storage.movies import Movie


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "inbox.sqlite") as database:
        movies.upsert_many(database, [Movie(1, "Heat", 1995, ("Action",))])
        yield database


def test_a_batch_is_stored_once_and_a_redelivered_update_is_not_new(db):
    box = Inbox(db)
    assert box.add([(10, '{"update_id": 10}'), (11, '{"update_id": 11}')]) == [10, 11]
    # Telegram sends 11 again (its confirmation was lost) together with 12.
    assert box.add([(11, '{"update_id": 11}'), (12, '{"update_id": 12}')]) == [12]
    assert box.counts() == {"new": 3}
    assert db.schema_version() == SCHEMA_VERSION


def test_done_keeps_the_id_but_not_the_payload(db):
    box = Inbox(db)
    box.add([(10, '{"update_id": 10, "message": {"text": "my secret taste"}}')])
    box.done(10)
    row = db.conn.execute("SELECT state, payload, done_at FROM inbox").fetchone()
    assert row[0] == "done" and row[1] == "" and row[2] is not None
    assert box.add([(10, "{}")]) == []  # a re-delivery after a crash is recognised
    box.done(10)  # done twice (a replay raced a late mark): still one done row
    assert box.counts() == {"done": 1}
    assert box.replay() == []


def test_the_first_write_of_a_handling_marks_it_applied_in_the_same_transaction(db):
    box = Inbox(db)
    box.add([(10, '{"update_id": 10}'), (11, '{"update_id": 11}')])
    alice = users.ensure_telegram(db, 501, "Alice")
    with inbox.handling(10) as claim:
        ratings.upsert(db, alice, 1, 4.0)
    assert claim.applied
    assert box.states([10, 11]) == {10: "applied", 11: "new"}
    # A write that fails takes the mark with it.
    with inbox.handling(11) as claim, pytest.raises(sqlite3.IntegrityError):
        ratings.upsert(db, alice, 999, 4.0)  # no such movie
    assert not claim.applied
    assert box.states([11]) == {11: "new"}
    assert ratings.history(db, alice).ratings == {1: 4.0}
    # Killed here: both are replayed, 10 known to have its effect stored.
    assert [(p.update_id, p.state) for p in box.replay()] == [(10, "applied"), (11, "new")]
    box.done(10)
    assert box.states([10]) == {10: "done"}


def test_replay_is_oldest_first_and_gives_up_after_max_attempts(db):
    box = Inbox(db)
    box.add([(12, '{"update_id": 12}'), (10, '{"update_id": 10}')])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pending = box.replay()
        assert [p.update_id for p in pending] == [10, 12]
        assert {p.attempts for p in pending} == {attempt}
    # Every start died on them: they are set aside, payload gone, and the bot can start.
    assert box.replay() == []
    assert box.counts() == {"failed": 2}
    assert db.conn.execute("SELECT count(*) FROM inbox WHERE payload != ''").fetchone()[0] == 0


def test_prune_deletes_only_finished_rows_older_than_the_limit(db):
    box = Inbox(db)
    box.add([(1, "{}"), (2, "{}"), (3, "{}")])
    box.done(1)
    box.done(2)
    db.conn.execute("UPDATE inbox SET done_at = ? WHERE update_id = 1", (time.time() - 90_000,))
    db.conn.commit()
    assert box.prune() == 1
    assert box.states([1, 2, 3]) == {2: "done", 3: "new"}


def test_a_write_waits_out_a_lock_held_longer_than_the_busy_timeout(tmp_path, monkeypatch):
    """Another process holds the write lock past one busy timeout: the write tries again."""
    monkeypatch.setattr("storage.db.BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "locked.sqlite"
    db = Database(path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    db.set_meta("k", "v")  # each try waits 0.1 s; the lock goes after 0.6 s
    assert time.monotonic() - started >= 0.5
    assert db.get_meta("k") == "v"
    release.join()
    holder.close()
    db.close()


def test_a_write_gives_up_with_the_lock_error_after_its_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr("storage.db.BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr("storage.db.WRITE_DEADLINE_S", 0.4)
    path = tmp_path / "locked.sqlite"
    db = Database(path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.set_meta("k", "v")
        assert 0.4 <= time.monotonic() - started < 5
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert db.get_meta("k") is None
    db.close()
