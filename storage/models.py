"""The model registry: every trained model, its artifact path and what it was trained on.

It also names the database's own folder for model files (`folder`): several databases can
share one model directory without ever writing, or pruning, each other's files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storage.db import Database


@dataclass(frozen=True)
class ModelRecord:
    version: int
    path: str
    created_at: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    counts: dict[str, Any]
    timings: dict[str, Any]
    ratings_seen: int
    # Which engine trained it ({"name": "local"} or {"name": "spark", "master": …}); kept in
    # the params JSON under ENGINE_KEY, so no column was needed.
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})


ENGINE_KEY = "engine"


@dataclass(frozen=True)
class Snapshot:
    """What the ratings looked like when a model was trained on them."""

    ratings: int
    movies: int
    last_ts: int
    stars_total: float
    taken_at: int = 0  # Unix time (seconds) it was taken
    at_taken: int = 0  # ratings already stamped `taken_at` then: not new to the model

    def as_dict(self) -> dict[str, Any]:
        return {
            "ratings": self.ratings,
            "movies": self.movies,
            "last_ts": self.last_ts,
            "stars_total": self.stars_total,
            "taken_at": self.taken_at,
            "at_taken": self.at_taken,
        }


_COLUMNS = "version, path, created_at, params, metrics, counts, timings, ratings_seen"


def _record(row: tuple) -> ModelRecord:
    version, path, created, params, metrics, counts, timings, seen = row
    settings = json.loads(params)
    engine = settings.pop(ENGINE_KEY, None) or {"name": "local"}  # older rows: trained here
    return ModelRecord(
        version,
        path,
        created,
        settings,
        json.loads(metrics),
        json.loads(counts),
        json.loads(timings),
        seen,
        engine,
    )


def snapshot(db: Database) -> Snapshot:
    """Counts and a checksum of all ratings, and when: cheap to compute."""
    now = int(time.time())
    ratings, last_ts, total, at_now = db.conn.execute(
        "SELECT count(*), coalesce(max(ts), 0), coalesce(sum(rating), 0), "
        "coalesce(sum(ts >= ?), 0) FROM ratings",
        (now,),
    ).fetchone()
    movies = db.conn.execute("SELECT count(*) FROM movies").fetchone()[0]
    return Snapshot(
        int(ratings), int(movies), int(last_ts), round(float(total), 3), now, int(at_now)
    )


def snapshot_of(movies: int, stars: np.ndarray, times: np.ndarray, taken_at: int) -> Snapshot:
    """`snapshot`'s figures for the ratings a training read (`stars` and `times`, one entry per
    rating) from `taken_at` on: no second scan of the table (2 s at 25M ratings), and exactly
    what the model saw, so a rating saved while it read counts as new."""
    last = int(times.max()) if len(times) else 0
    total = float(np.sum(stars, dtype=np.float64))
    at_taken = int(np.count_nonzero(times >= taken_at))
    return Snapshot(len(stars), movies, last, round(total, 3), taken_at, at_taken)


def new_ratings(db: Database, record: ModelRecord) -> int:
    """How many ratings were made or changed since `record`'s model read them.

    Ratings carry whole seconds, so those of the snapshot's own second that it already held
    are not counted. A model from before snapshots had a time counts from its registration.
    """
    snap = record.counts.get("snapshot", {})
    if not snap.get("taken_at"):
        since, seen = record.created_at, 0
    else:
        since, seen = int(snap["taken_at"]), int(snap.get("at_taken", 0))
    row = db.conn.execute("SELECT count(*) FROM ratings WHERE ts >= ?", (since,)).fetchone()
    return max(0, int(row[0]) - seen)


def dataset_stamp(db: Database) -> dict[str, str]:
    """Which data set import the database holds (name, archive checksum, import time): it
    changes when the data set is imported again."""
    return db.meta("dataset", "dataset_checksum", "dataset_imported_at")


def next_version(db: Database) -> int:
    row = db.conn.execute("SELECT coalesce(max(version), 0) FROM models").fetchone()
    return int(row[0]) + 1


def register(
    db: Database,
    version: int,
    path: str,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    counts: Mapping[str, Any],
    timings: Mapping[str, Any],
    ratings_seen: int,
    engine: Mapping[str, Any] | None = None,
) -> ModelRecord:
    """Record a trained model whose artifact is already at `path`; `engine`: which trained it
    (default: this process, {"name": "local"})."""
    created = int(time.time())
    trained_by = dict(engine or {"name": "local"})
    with db.write() as conn:
        conn.execute(
            f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version,
                str(path),
                created,
                json.dumps({**params, ENGINE_KEY: trained_by}),
                json.dumps(dict(metrics)),
                json.dumps(dict(counts)),
                json.dumps(dict(timings)),
                int(ratings_seen),
            ),
        )
    return ModelRecord(
        version,
        str(path),
        created,
        dict(params),
        dict(metrics),
        dict(counts),
        dict(timings),
        int(ratings_seen),
        trained_by,
    )


def get(db: Database, version: int) -> ModelRecord | None:
    row = db.conn.execute(f"SELECT {_COLUMNS} FROM models WHERE version = ?", (version,)).fetchone()
    return None if row is None else _record(row)


def latest(db: Database) -> ModelRecord | None:
    row = db.conn.execute(f"SELECT {_COLUMNS} FROM models ORDER BY version DESC LIMIT 1").fetchone()
    return None if row is None else _record(row)


def all_models(db: Database) -> list[ModelRecord]:
    """Every registered model, newest first."""
    return [
        _record(r) for r in db.conn.execute(f"SELECT {_COLUMNS} FROM models ORDER BY version DESC")
    ]


# -- the database's own folder for model files -----------------------------------------------

FOLDER_KEY = "model_folder"  # meta: this database's folder name in the model directory
FOLDER_OF_KEY = "model_folder_of"  # meta: the database file that folder was named for


@dataclass(frozen=True)
class Folder:
    """This database's folder for model files, a name inside the model directory."""

    name: str
    new: bool = False  # named just now: the database had no folder, or is a copy
    copied_from: str | None = None  # a copy: the folder of the database it was copied from


def folder(db: Database) -> Folder:
    """This database's folder name, `<file stem>-<8 random hex digits>`, made once and kept in
    the meta table.

    The name stays with the file when it is moved or renamed. A copy (the file it was copied
    from is still where the name was made) gets a name of its own, so two copies never write
    the same model file.
    """
    here = _file_of(db)
    known = db.meta(FOLDER_KEY, FOLDER_OF_KEY)
    if FOLDER_KEY in known and (here is None or known.get(FOLDER_OF_KEY) == here):
        return Folder(known[FOLDER_KEY])
    with db.write():  # decide again under the write lock: two processes agree on one name
        known = db.meta(FOLDER_KEY, FOLDER_OF_KEY)
        name, made_for = known.get(FOLDER_KEY), known.get(FOLDER_OF_KEY)
        if name is not None and (here is None or made_for == here):
            return Folder(name)
        if name is not None and here is not None and not _another_file(made_for, here):
            db.set_meta(FOLDER_OF_KEY, here)  # moved or renamed: the same database
            return Folder(name)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(here).stem if here else "memory")[:40]
        new = f"{stem or 'db'}-{secrets.token_hex(4)}"
        db.set_meta(FOLDER_KEY, new)
        if here is not None:
            db.set_meta(FOLDER_OF_KEY, here)
    return Folder(new, new=True, copied_from=name)


def _file_of(db: Database) -> str | None:
    """The database file's absolute path; None for an in-memory database."""
    return None if db.path == ":memory:" else str(Path(db.path).resolve())


def _another_file(path: str | None, here: str) -> bool:
    """Is there a file at `path` other than the database at `here` (that is, were we copied)?"""
    if path is None:
        return False
    try:
        return Path(path).is_file() and not os.path.samefile(path, here)
    except OSError:
        return True  # cannot tell: a name of its own is always safe
