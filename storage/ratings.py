"""Ratings, "not interested" and the watchlist: what a user told us about movies."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from storage import groups
from storage.db import Database
from storage.movies import display_title
from storage.users import Kind, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rating:
    movie_id: int
    rating: float
    ts: int


@dataclass(frozen=True)
class History:
    """Everything the recommender needs to know about one user."""

    ratings: dict[int, float]  # movie id → rating
    dismissed: frozenset[int]
    watchlist: frozenset[int]

    @property
    def seen(self) -> frozenset[int]:
        return frozenset(self.ratings)


def _now() -> int:
    return int(time.time())


def upsert(db: Database, user: User, movie_id: int, rating: float, ts: int | None = None) -> bool:
    """Store a rating (re-rating replaces it); committed when this returns.

    Returns True if this created a new rating, False if it changed (or repeated) one.
    A rated movie leaves the "not interested" list (the user clearly cares about it now) and
    the watchlist (it has been watched).
    """
    with db.write() as conn:
        existed = conn.execute(
            "SELECT 1 FROM ratings WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
        ).fetchone()
        conn.execute(
            "INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, "
            "ts = excluded.ts",
            (user.id, movie_id, float(rating), ts or _now()),
        )
        for table in ("dismissed", "watchlist"):
            conn.execute(
                f"DELETE FROM {table} WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
            )
    return existed is None


def remove(db: Database, user: User, movie_id: int) -> bool:
    with db.write() as conn:
        cur = conn.execute(
            "DELETE FROM ratings WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
        )
    return cur.rowcount > 0


def dismiss(db: Database, user: User, movie_id: int) -> None:
    """Mark a movie "not interested"; it also leaves the watchlist."""
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO dismissed (user_id, movie_id, ts) VALUES (?, ?, ?)",
            (user.id, movie_id, _now()),
        )
        conn.execute(
            "DELETE FROM watchlist WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
        )


def add_to_watchlist(db: Database, user: User, movie_id: int) -> bool:
    """Returns True if the movie was not on the watchlist before."""
    with db.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO watchlist (user_id, movie_id, ts) VALUES (?, ?, ?)",
            (user.id, movie_id, _now()),
        )
        conn.execute(
            "DELETE FROM dismissed WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
        )
    return cur.rowcount > 0


def remove_from_watchlist(db: Database, user: User, movie_id: int) -> bool:
    with db.write() as conn:
        cur = conn.execute(
            "DELETE FROM watchlist WHERE user_id = ? AND movie_id = ?", (user.id, movie_id)
        )
    return cur.rowcount > 0


def watchlist(db: Database, user: User) -> list[int]:
    """Movie ids on the user's watchlist, most recently added first."""
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT movie_id FROM watchlist WHERE user_id = ? ORDER BY ts DESC, movie_id",
            (user.id,),
        )
    ]


def ratings_of(db: Database, user: User) -> list[Rating]:
    """The user's ratings, newest first."""
    return [
        Rating(*r)
        for r in db.conn.execute(
            "SELECT movie_id, rating, ts FROM ratings WHERE user_id = ? ORDER BY ts DESC, movie_id",
            (user.id,),
        )
    ]


# One statement for all three lists: 0 = rating, 1 = "not interested", 2 = watchlist.
_HISTORY = """
    SELECT 0, movie_id, rating FROM ratings WHERE user_id = {user}
    UNION ALL SELECT 1, movie_id, NULL FROM dismissed WHERE user_id = {user}
    UNION ALL SELECT 2, movie_id, NULL FROM watchlist WHERE user_id = {user}
"""
_BY_ID = _HISTORY.format(user=":user")
_BY_EXTERNAL_ID = _HISTORY.format(
    user="(SELECT id FROM users WHERE kind = :kind AND external_id = :external_id)"
)


def _history(rows: Iterable[tuple[int, int, float | None]]) -> History:
    rated: dict[int, float] = {}
    lists: tuple[set[int], set[int]] = (set(), set())
    for which, movie_id, rating in rows:
        if which == 0 and rating is not None:
            rated[movie_id] = rating
        else:
            lists[which - 1].add(movie_id)
    return History(rated, frozenset(lists[0]), frozenset(lists[1]))


def history(db: Database, user: User | None) -> History:
    """A user's ratings, dismissals and watchlist; an unknown user has an empty history."""
    if user is None:
        return History({}, frozenset(), frozenset())
    return _history(db.conn.execute(_BY_ID, {"user": user.id}))


def history_of(db: Database, kind: Kind, external_id: int) -> History:
    """`history` of the user known by this external id, in one statement (empty if unknown)."""
    params = {"kind": kind, "external_id": external_id}
    return _history(db.conn.execute(_BY_EXTERNAL_ID, params))


def count(db: Database, kind: Kind | None = None) -> int:
    if kind is None:
        return db.conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
    return db.conn.execute(
        "SELECT count(*) FROM ratings JOIN users ON users.id = ratings.user_id "
        "WHERE users.kind = ?",
        (kind,),
    ).fetchone()[0]


def frame(
    db: Database, kinds: tuple[Kind, ...] = ("dataset", "telegram"), cache: Path | None = None
) -> pd.DataFrame:
    """All ratings of users of these kinds, for training and evaluation: `columns` as a frame."""
    return pd.DataFrame(columns(db, kinds, cache), copy=False)


def columns(
    db: Database, kinds: tuple[Kind, ...] = ("dataset", "telegram"), cache: Path | None = None
) -> dict[str, np.ndarray]:
    """All ratings of users of these kinds, as four arrays: user (internal id), movie, rating
    (float32), ts (int64). Read straight into numpy, so tens of millions of ratings fit in a
    few hundred MB.

    `cache`: a file that keeps the data-set users' ratings between calls. They change only
    when the data set is imported again, yet reading 25 million of them row by row costs ~45 s
    of every retrain; the file costs one read. It is used while it matches the database (the
    import's stamp and the data-set ratings' count), else rewritten; Telegram users' ratings
    are always read from the database.
    """
    if cache is None or "dataset" not in kinds:
        return _read(db, kinds)
    others = tuple(k for k in kinds if k != "dataset")
    rest = _read(db, others) if others else {n: np.empty(0, t) for n, t in _FRAME_FIELDS}
    return _cached_dataset(db, cache, rest)


def _read(db: Database, kinds: tuple[Kind, ...]) -> dict[str, np.ndarray]:
    marks = ",".join("?" * len(kinds))
    sql = (
        "SELECT r.user_id, r.movie_id, r.rating, r.ts FROM ratings r "
        f"JOIN users u ON u.id = r.user_id WHERE u.kind IN ({marks}) "
        "ORDER BY r.user_id, r.movie_id"
    )
    # np.fromiter fills one record array straight from the cursor's rows: no list of tuples,
    # no float64 matrix of four columns (1.5x faster on 250k ratings, see docs/benchmarks.md).
    with db.reading() as conn:  # the rows counted are the rows read, whatever a /forget does
        total = _count(db, kinds)
        rows = np.fromiter(conn.execute(sql, kinds), dtype=_FRAME_ROW, count=total)
    return {name: rows[name] for name in FRAME_COLUMNS}


def _count(db: Database, kinds: tuple[Kind, ...]) -> int:
    """How many ratings users of these kinds gave. The data set's are nearly all of them:
    counted as all ratings less the others' (an index walk over users: quick)."""
    if "dataset" not in kinds:
        return sum(count(db, kind) for kind in kinds)
    return count(db) - sum(count(db, kind) for kind in get_args(Kind) if kind not in kinds)


def _cached_dataset(
    db: Database, cache: Path, rest: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The data-set users' ratings followed by `rest`'s, column by column: the data set's from
    `cache` when it holds exactly these, else from the database (and `cache` is written for
    next time; a file that cannot be written is skipped)."""
    stamp = db.meta("dataset", "dataset_checksum", "dataset_imported_at")
    key = json.dumps({**stamp, "ratings": _count(db, ("dataset",))}, sort_keys=True)
    try:
        with open(cache, "rb") as stored:
            if str(np.load(stored, allow_pickle=False)) == key:
                return {name: _read_into(stored, rest[name]) for name in FRAME_COLUMNS}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, EOFError) as exc:
        log.warning("ratings cache %s unreadable (%s): reading the database", cache, exc)
    fresh = _read(db, ("dataset",))
    partial = cache.with_name(cache.name + ".partial")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            # .npy arrays one after the other: each is read straight into its place
            np.save(out, np.array(key))
            for name in FRAME_COLUMNS:
                np.save(out, fresh[name])
        os.replace(partial, cache)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        log.warning("ratings cache %s not written (%s)", cache, exc)
    return {name: np.concatenate([fresh[name], rest[name]]) for name in FRAME_COLUMNS}


def _read_into(stored: io.BufferedReader, tail: np.ndarray) -> np.ndarray:
    """The next .npy array of `stored` with `tail` after it, in one array read into place: a
    load and a concatenation would copy 25 million ratings twice more (~2 s)."""
    version = np.lib.format.read_magic(stored)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stored)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stored)
    else:
        raise ValueError(f".npy version {version} not written here")
    if len(shape) != 1 or fortran or dtype != tail.dtype:
        raise ValueError(f"a column of shape {shape} and type {dtype}")
    out = np.empty(shape[0] + len(tail), dtype)
    if stored.readinto(out[: shape[0]].data) != shape[0] * dtype.itemsize:
        raise EOFError("the file ends early")
    out[shape[0] :] = tail
    return out


FRAME_COLUMNS = ("user", "movie", "rating", "ts")
_FRAME_TYPES = (np.int64, np.int64, np.float32, np.int64)
_FRAME_FIELDS = tuple(zip(FRAME_COLUMNS, _FRAME_TYPES, strict=True))
_FRAME_ROW = np.dtype(list(_FRAME_FIELDS))


def forget(db: Database, user: User) -> None:
    """Delete the user and everything that identifies them, in one transaction."""
    with db.write() as conn:
        # Ratings, dismissals, the watchlist and settings go with the users row (ON DELETE
        # CASCADE, or its own column); movie nights know people by Telegram id, so their
        # memberships, votes, started nights and the picks' reasons are cleaned explicitly.
        if user.kind == "telegram":
            groups.forget_person(conn, user.external_id, [user.name] if user.name else [])
        conn.execute("DELETE FROM users WHERE id = ?", (user.id,))


EXPORT_COLUMNS = ("list", "movie_id", "title", "year", "rating", "date", "imdb_id", "tmdb_id")


def _iso(ts: int) -> str:
    """A Unix time as an ISO 8601 date and time in UTC: '2024-05-01T12:34:56Z'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(db: Database, user: User | None) -> str:
    """The user's ratings, watchlist and dismissals as one CSV text: titles as the chat shows
    them, when as ISO 8601 (UTC), IMDb and TMDb ids where the catalogue has them; only the
    header for a user we never met."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    if user is None:
        return out.getvalue()
    movie = "m.title, m.year, m.imdb_id, m.tmdb_id"
    queries = (
        ("rating", f"SELECT r.movie_id, {movie}, r.rating, r.ts FROM ratings r"),
        ("watchlist", f"SELECT r.movie_id, {movie}, NULL, r.ts FROM watchlist r"),
        ("not_interested", f"SELECT r.movie_id, {movie}, NULL, r.ts FROM dismissed r"),
    )
    for name, select in queries:
        rows = db.conn.execute(
            f"{select} JOIN movies m ON m.id = r.movie_id WHERE r.user_id = ? "
            "ORDER BY r.ts, r.movie_id",
            (user.id,),
        )
        for movie_id, title, year, imdb, tmdb, rating, ts in rows:
            shown = "" if rating is None else rating
            writer.writerow(
                [name, movie_id, display_title(title), year or "", shown, _iso(ts), imdb or "",
                 tmdb or ""]
            )  # fmt: skip
    return out.getvalue()
