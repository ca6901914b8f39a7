"""The database: migrations, ratings semantics, forget and export."""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
import threading
import time

import pytest

from storage import groups, models, movies, ratings, users
from storage.db import SCHEMA_VERSION, Database, SchemaTooNewError


def test_fresh_file_is_migrated_to_the_current_version(tmp_path):
    db = Database(tmp_path / "m.sqlite")
    assert db.schema_version() == SCHEMA_VERSION
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


def test_previous_version_migrates_forward_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    old = Database(path, target_version=SCHEMA_VERSION - 1)
    assert old.schema_version() == SCHEMA_VERSION - 1
    movies.upsert_many(old, [movies.Movie(10, "Heat", 1995, ("Action",))])
    old.close()

    db = Database(path)
    assert db.schema_version() == SCHEMA_VERSION
    assert movies.get(db, 10).title == "Heat"
    db.close()


def test_v4_rebuilds_movie_nights_keeping_every_night_and_what_hangs_off_it(tmp_path):
    """Version 4 lets a night's starter be NULL (/forget): the table is rebuilt, and dropping
    the old one must not cascade to its members, picks and votes."""
    path = tmp_path / "v3.sqlite"
    old = Database(path, target_version=3)
    with old.write() as conn:
        conn.execute("INSERT INTO groups VALUES (-1, 'Friends', 1)")
        conn.execute(
            "INSERT INTO movie_nights (id, chat_id, starter_id, status, poll_id, created_at, "
            "vote_deadline) VALUES (7, -1, 1001, 'voting', 'poll-7', 1, 99)"
        )
        conn.execute("INSERT INTO movie_night_members VALUES (7, 1001, 'Alice', 1)")
        conn.execute("INSERT INTO movie_night_picks VALUES (7, 0, 10, 0.5, '{}')")
        conn.execute("INSERT INTO movie_night_votes VALUES (7, 1001, '[0]', 1)")
    old.close()

    db = Database(path)
    assert db.schema_version() == SCHEMA_VERSION >= 4
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    night = groups.get(db, 7)
    assert night is not None and night.starter_id == 1001 and night.poll_id == "poll-7"
    assert night.vote_deadline == 99 and night.status == "voting"
    assert [m.name for m in groups.members(db, 7)] == ["Alice"]
    assert len(groups.picks(db, 7)) == 1 and groups.votes(db, 7) == {1001: [0]}
    with db.write() as conn:
        conn.execute("UPDATE movie_nights SET starter_id = NULL WHERE id = 7")
    with pytest.raises(groups.NightAlreadyOpenError):  # still one night not closed per group
        groups.open_night(db, -1, 1002, "Bob")
    with db.write() as conn:  # and deleting a night still takes what hangs off it
        conn.execute("DELETE FROM movie_nights WHERE id = 7")
    assert groups.members(db, 7) == [] and groups.picks(db, 7) == []
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_opening_a_file_from_a_newer_moviebot_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="Upgrade moviebot"):
        Database(path)


def test_rerating_replaces_the_rating(tiny_catalog):
    alice = users.ensure_telegram(tiny_catalog, 555, "Alice")
    assert ratings.upsert(tiny_catalog, alice, 1, 4) is True
    assert ratings.upsert(tiny_catalog, alice, 1, 2) is False
    assert ratings.history(tiny_catalog, alice).ratings == {1: 2.0}
    assert ratings.count(tiny_catalog, "telegram") == 1


def test_telegram_and_dataset_users_with_the_same_number_are_different(tiny_catalog):
    tg = users.ensure_telegram(tiny_catalog, 1)
    assert tg.id != users.resolve(tiny_catalog, "ml:1").id
    assert users.resolve(tiny_catalog, "1") == tg
    assert ratings.history(tiny_catalog, tg).ratings == {}


@pytest.mark.parametrize("ref", ["ml:", "bob", "ml:x", "-5", ""])
def test_bad_user_refs_are_refused_with_a_hint(ref):
    with pytest.raises(users.BadUserRefError, match="ml:<id>"):
        users.parse_ref(ref)


def test_dismiss_and_watchlist_exclude_each_other_and_rating_clears_dismissal(tiny_catalog):
    bob = users.ensure_telegram(tiny_catalog, 777)
    ratings.add_to_watchlist(tiny_catalog, bob, 5)
    ratings.dismiss(tiny_catalog, bob, 5)
    h = ratings.history(tiny_catalog, bob)
    assert h.dismissed == {5} and h.watchlist == frozenset()
    ratings.upsert(tiny_catalog, bob, 5, 3)
    assert ratings.history(tiny_catalog, bob).dismissed == frozenset()


def test_unknown_user_has_an_empty_history(fresh_db):
    h = ratings.history(fresh_db, None)
    assert (h.ratings, h.dismissed, h.watchlist) == ({}, frozenset(), frozenset())


def test_history_is_one_statement_and_the_same_by_user_or_by_external_id(tiny_catalog):
    ml1 = users.resolve(tiny_catalog, "ml:1")
    ratings.dismiss(tiny_catalog, ml1, 5)
    ratings.add_to_watchlist(tiny_catalog, ml1, 6)
    statements: list[str] = []
    tiny_catalog.conn.set_trace_callback(statements.append)
    by_user = ratings.history(tiny_catalog, ml1)
    by_ref = ratings.history_of(tiny_catalog, "dataset", 1)
    tiny_catalog.conn.set_trace_callback(None)
    assert len(statements) == 2
    assert by_user == by_ref
    assert by_user.ratings == {1: 5.0, 2: 3.0, 3: 4.0}
    assert (by_user.dismissed, by_user.watchlist) == ({5}, {6})
    assert ratings.history_of(tiny_catalog, "telegram", 1) == ratings.history(tiny_catalog, None)


def test_a_telegram_user_is_created_once_and_keeps_a_fresh_name(fresh_db):
    first = users.ensure_telegram(fresh_db, 42, "Al")
    again = users.ensure_telegram(fresh_db, 42, None)
    renamed = users.ensure_telegram(fresh_db, 42, "Alice")
    assert first.id == again.id == renamed.id and first.kind == "telegram"
    assert (again.name, renamed.name) == ("Al", "Alice")
    assert users.count(fresh_db, "telegram") == 1


@pytest.mark.parametrize(
    ("title", "year", "label"),
    [
        ("Matrix, The", 1999, "The Matrix (1999)"),
        ("American President, The", 1995, "The American President (1995)"),
        ("Année dernière à Marienbad, L'", 1961, "L'Année dernière à Marienbad (1961)"),
        ("Hate (Haine, La)", 1995, "Hate (La Haine) (1995)"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            1995,
            "The City of Lost Children (La Cité des enfants perdus) (1995)",
        ),
        (
            "Star Maker, The (Uomo delle stelle, L')",
            1995,
            "The Star Maker (L'Uomo delle stelle) (1995)",
        ),
        ("Twelve Monkeys (a.k.a. 12 Monkeys)", 1995, "Twelve Monkeys (a.k.a. 12 Monkeys) (1995)"),
        (
            "Bicycle Thief, The (a.k.a. Thief, The)",
            1948,
            "The Bicycle Thief (a.k.a. The Thief) (1948)",
        ),
        ("Frontière(s)", 2007, "Frontière(s) (2007)"),
        ("Me, Myself and Irene", 2000, "Me, Myself and Irene (2000)"),
        ("Heat", None, "Heat"),
    ],
)
def test_a_movies_label_puts_the_article_in_front(title, year, label):
    assert movies.Movie(1, title, year, ()).label == label


def test_meta_reads_several_keys_at_once(fresh_db):
    fresh_db.set_meta("rating_min", "0.5")
    fresh_db.set_meta("rating_step", "0.5")
    assert fresh_db.meta("rating_min", "rating_max", "rating_step") == {
        "rating_min": "0.5",
        "rating_step": "0.5",
    }


def test_forget_deletes_everything_of_that_user_only(tiny_catalog):
    alice = users.ensure_telegram(tiny_catalog, 555, "Alice")
    ratings.upsert(tiny_catalog, alice, 1, 5)
    ratings.add_to_watchlist(tiny_catalog, alice, 2)
    ratings.dismiss(tiny_catalog, alice, 3)
    before = ratings.count(tiny_catalog, "dataset")

    ratings.forget(tiny_catalog, alice)

    assert users.find(tiny_catalog, "telegram", 555) is None
    for table in ("ratings", "watchlist", "dismissed"):
        left = tiny_catalog.conn.execute(
            f"SELECT count(*) FROM {table} WHERE user_id = ?", (alice.id,)
        ).fetchone()[0]
        assert left == 0
    assert ratings.count(tiny_catalog, "dataset") == before


def test_export_lists_ratings_watchlist_and_dismissals_with_titles(tiny_catalog):
    alice = users.ensure_telegram(tiny_catalog, 555)
    ratings.upsert(tiny_catalog, alice, 7, 4.5, ts=10)
    ratings.add_to_watchlist(tiny_catalog, alice, 6)
    ratings.dismiss(tiny_catalog, alice, 5)
    ratings.upsert(tiny_catalog, alice, 3, 5, ts=1_700_000_000)
    movies.upsert_many(tiny_catalog, [movies.Movie(3, "Matrix, The", 1999, (), "tt0133093", 603)])
    rows = list(csv.DictReader(io.StringIO(ratings.export_csv(tiny_catalog, alice))))
    assert [(r["list"], r["title"], r["rating"]) for r in rows] == [
        ("rating", "Tom & Jerry: <The Movie>", "4.5"),
        ("rating", "The Matrix", "5.0"),
        ("watchlist", "Amélie", ""),
        ("not_interested", "Alien", ""),
    ]
    assert rows[0]["date"] == "1970-01-01T00:00:10Z"
    assert (rows[1]["date"], rows[1]["imdb_id"], rows[1]["tmdb_id"]) == (
        "2023-11-14T22:13:20Z",
        "tt0133093",
        "603",
    )
    assert rows[0]["imdb_id"] == rows[0]["tmdb_id"] == ""


def test_export_of_a_user_we_never_met_is_just_the_header(fresh_db):
    rows = list(csv.reader(io.StringIO(ratings.export_csv(fresh_db, None))))
    assert rows == [["list", "movie_id", "title", "year", "rating", "date", "imdb_id", "tmdb_id"]]


def test_a_failed_write_leaves_nothing_behind(tiny_catalog):
    with pytest.raises(sqlite3.IntegrityError), tiny_catalog.write() as conn:
        conn.execute("INSERT INTO movies (id, title) VALUES (100, 'x')")
        conn.execute("INSERT INTO movies (id, title) VALUES (100, 'again')")
    assert movies.get(tiny_catalog, 100) is None


def test_training_frame_reads_only_the_asked_kinds(tiny_catalog):
    alice = users.ensure_telegram(tiny_catalog, 555)
    ratings.upsert(tiny_catalog, alice, 6, 5)
    assert len(ratings.frame(tiny_catalog, ("dataset",))) == 5
    frame = ratings.frame(tiny_catalog)
    assert len(frame) == 6
    assert list(frame.columns) == ["user", "movie", "rating", "ts"]


def _rows(frame):
    return sorted(frame.itertuples(index=False, name=None))


def test_the_ratings_cache_gives_what_the_database_holds_and_follows_a_new_import(
    tiny_catalog, tmp_path
):
    """Retrains read the data set's ratings from a file; what they train on never differs
    from the database: Telegram ratings are read live, a re-import replaces the file."""
    cache = tmp_path / "models" / "ratings-cache.npy"
    first = ratings.frame(tiny_catalog, cache=cache)
    assert cache.is_file() and _rows(first) == _rows(ratings.frame(tiny_catalog))
    alice = users.ensure_telegram(tiny_catalog, 555)
    ratings.upsert(tiny_catalog, alice, 6, 5, ts=3000)
    with_alice = ratings.frame(tiny_catalog, cache=cache)
    assert (alice.id, 6, 5.0, 3000) in _rows(with_alice) and len(with_alice) == 6
    # the data set imported again, with one more rating: the cache no longer matches
    ratings.upsert(tiny_catalog, users.resolve(tiny_catalog, "ml:2"), 5, 2, ts=2005)
    tiny_catalog.set_meta("dataset_imported_at", "99")
    again = ratings.frame(tiny_catalog, ("dataset",), cache=cache)
    assert len(again) == 6 and _rows(again) == _rows(ratings.frame(tiny_catalog, ("dataset",)))


def test_a_damaged_or_unwritable_ratings_cache_only_costs_a_database_read(tiny_catalog, tmp_path):
    cache = tmp_path / "ratings-cache.npy"
    cache.write_bytes(b"not an array file")
    assert _rows(ratings.frame(tiny_catalog, cache=cache)) == _rows(ratings.frame(tiny_catalog))
    assert len(ratings.frame(tiny_catalog, cache=cache)) == 5  # rewritten, and read back
    whole = cache.read_bytes()
    cache.write_bytes(whole[:-3])  # cut short (a full disk, a crash while copying)
    assert _rows(ratings.frame(tiny_catalog, cache=cache)) == _rows(ratings.frame(tiny_catalog))
    assert cache.read_bytes() == whole
    blocked = tmp_path / "a file" / "ratings-cache.npy"
    blocked.parent.write_text("a file where the folder should be")
    assert len(ratings.frame(tiny_catalog, cache=blocked)) == 5


def test_other_threads_see_committed_writes(tmp_path):
    db = Database(tmp_path / "t.sqlite")
    movies.upsert_many(db, [movies.Movie(1, "Heat", 1995, ())])
    seen = []
    thread = threading.Thread(target=lambda: seen.append(movies.count(db)))
    thread.start()
    thread.join()
    assert seen == [1]
    db.close()


def test_a_database_names_its_model_folder_once_and_a_copy_gets_its_own(tmp_path):
    with Database(tmp_path / "Full Set.sqlite") as db:
        first = models.folder(db)
        assert first.new and first.copied_from is None
        assert re.fullmatch(r"Full_Set-[0-9a-f]{8}", first.name)
        assert models.folder(db) == models.Folder(first.name)  # made once
    shutil.copy(tmp_path / "Full Set.sqlite", tmp_path / "copy.sqlite")
    with Database(tmp_path / "copy.sqlite") as db:
        copied = models.folder(db)
        assert copied.new and copied.copied_from == first.name
        assert copied.name.startswith("copy-") and copied.name != first.name
    (tmp_path / "copy.sqlite").rename(tmp_path / "moved.sqlite")
    with Database(tmp_path / "moved.sqlite") as db:
        assert models.folder(db) == models.Folder(copied.name)  # moved, not copied
    with Database(":memory:") as db:
        assert models.folder(db).new and not models.folder(db).new


def test_new_ratings_since_a_snapshot_leave_out_those_it_already_held(tiny_catalog):
    db = tiny_catalog
    user = users.resolve(db, "ml:1")
    now = int(time.time())
    ratings.upsert(db, user, 5, 4.0, ts=now + 5)  # held by the snapshot below
    snap = models.snapshot(db)
    record = models.register(
        db, 1, "m.npz", params={}, metrics={}, counts={"snapshot": snap.as_dict()},
        timings={}, ratings_seen=snap.ratings,
    )  # fmt: skip
    assert models.new_ratings(db, record) == 0
    ratings.upsert(db, user, 6, 4.0, ts=now + 5)
    ratings.upsert(db, user, 1, 2.0)  # an edit counts as new too
    assert models.new_ratings(db, record) == 2


def test_a_rating_deleted_while_training_reads_does_not_break_the_read(tmp_path, monkeypatch):
    """A /forget between the count of the ratings and reading them: the read still gets the
    rows it counted (one read transaction), and the next read no longer has them."""
    with Database(tmp_path / "bot.sqlite") as db:
        movies.upsert_many(db, [movies.Movie(i, f"Movie {i}", 2000, ("Drama",)) for i in (1, 2)])
        alice, bob = users.ensure_telegram(db, 1, "Alice"), users.ensure_telegram(db, 2, "Bob")
        for person in (alice, bob):
            ratings.upsert(db, person, 1, 4, ts=10)
            ratings.upsert(db, person, 2, 5, ts=11)
        counted, forgetting = (
            ratings._count,
            threading.Thread(target=ratings.forget, args=(db, bob)),
        )

        def count_then_forget(db_: Database, kinds: tuple) -> int:
            total = counted(db_, kinds)
            forgetting.start()  # committed from another thread's connection, while we read
            forgetting.join(timeout=10)
            return total

        monkeypatch.setattr(ratings, "_count", count_then_forget)
        read = ratings.columns(db, ("telegram",))
        assert len(read["user"]) == 4 and set(read["user"]) == {alice.id, bob.id}
        monkeypatch.setattr(ratings, "_count", counted)
        assert set(ratings.columns(db, ("telegram",))["user"]) == {alice.id}
