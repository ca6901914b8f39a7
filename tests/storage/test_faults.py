"""A database that cannot be written (read-only, full disk): one named error, nothing half-written,
reads keep working. Real mechanisms: `PRAGMA query_only`, `PRAGMA max_page_count` (a real
SQLITE_FULL), and a read-only file or folder (`tests.storage.readonly`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import ratings, users
from storage.db import SCHEMA_VERSION, Database, StorageUnavailable, unavailable
from tests.storage.readonly import read_only


def rating_count(db: Database) -> int:
    return db.conn.execute("SELECT count(*) FROM ratings").fetchone()[0]


def rate_all(db: Database, user_id: int, movie_ids: list[int]) -> None:
    """One transaction: every rating or none."""
    with db.write():
        for movie_id in movie_ids:
            ratings.upsert(db, user_id, movie_id, 4.0, ts=1)


def fill_up(db: Database) -> None:
    """Let the file grow no more, then fill what room is left: the disk is full."""
    conn = db.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageUnavailable, match="full"):
        for n in range(100_000):
            with db.write() as c:
                c.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"pad{n}", "x" * 200))


def test_a_database_turned_read_only_refuses_writes_and_keeps_reading(tiny_catalog):
    before = rating_count(tiny_catalog)
    tiny_catalog.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageUnavailable, match="readonly"):
        rate_all(tiny_catalog, users.resolve(tiny_catalog, "ml:1"), [4, 5])
    assert rating_count(tiny_catalog) == before
    assert not tiny_catalog.conn.in_transaction
    tiny_catalog.conn.execute("PRAGMA query_only = OFF")  # writable again: the same write works
    rate_all(tiny_catalog, users.resolve(tiny_catalog, "ml:1"), [4, 5])
    assert rating_count(tiny_catalog) == before + 2


def test_a_full_disk_rolls_the_whole_transaction_back(tmp_path):
    db = Database(tmp_path / "full.sqlite")
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO movies (id, title) VALUES (?, ?)", [(i, f"m{i}") for i in range(500)]
        )
        conn.execute("INSERT INTO users (kind, external_id, created_at) VALUES ('dataset', 1, 0)")
    user = users.resolve(db, "ml:1")
    fill_up(db)
    with pytest.raises(StorageUnavailable, match="full") as caught:
        rate_all(db, user, list(range(500)))  # needs new pages: SQLITE_FULL partway
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert rating_count(db) == 0 and not db.conn.in_transaction
    assert db.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


@pytest.mark.parametrize(
    "error, expected",
    [
        (sqlite3.OperationalError("attempt to write a readonly database"), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError("disk I/O error"), True),
        (sqlite3.OperationalError("database is locked"), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed: meta.key"), False),
        (ValueError("attempt to write a readonly database"), False),
    ],
)
def test_which_errors_mean_cannot_write_now(error, expected):
    assert unavailable(error) is expected


def test_a_read_only_file_is_refused_at_the_start_check_only(tmp_path):
    path = tmp_path / "ro.sqlite"
    Database(path).close()
    with read_only(path):
        db = Database(path)  # opens and reads: nothing to migrate
        assert db.schema_version() == SCHEMA_VERSION
        with pytest.raises(StorageUnavailable, match="read-only"):
            db.check_writable()
        db.close()


def test_a_read_only_folder_is_one_clear_error_when_opening(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder), pytest.raises(StorageUnavailable, match="cannot open") as caught:
        Database(folder / "new.sqlite")
    assert str(folder / "new.sqlite") in str(caught.value)
    assert not Path(folder / "new.sqlite").exists()


def test_a_connection_opened_while_read_only_writes_once_the_file_is_writable(tmp_path):
    """SQLite opens a file it cannot write read-only, for the connection's life: a worker
    thread that first touched the database during the fault must still save afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    db = Database(tmp_path / "m.sqlite")
    db.set_meta("before", "1")  # the WAL exists
    with ThreadPoolExecutor(max_workers=1) as worker:  # one thread, its connection kept
        with read_only(tmp_path / "m.sqlite"), read_only(tmp_path / "m.sqlite-wal"):
            assert worker.submit(db.get_meta, "before").result() == "1"  # reads work
            with pytest.raises(StorageUnavailable):
                worker.submit(db.set_meta, "during", "x").result()
        worker.submit(db.set_meta, "after", "2").result()  # the first save afterwards works
    assert db.get_meta("after") == "2" and db.get_meta("during") is None
    db.close()
