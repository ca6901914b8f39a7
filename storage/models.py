"""The model registry: every trained model, its artifact path and what it was trained on."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Snapshot:
    """What the ratings looked like: if any of this changes, a retrain has something new."""

    ratings: int
    movies: int
    last_ts: int
    stars_total: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "ratings": self.ratings,
            "movies": self.movies,
            "last_ts": self.last_ts,
            "stars_total": self.stars_total,
        }


_COLUMNS = "version, path, created_at, params, metrics, counts, timings, ratings_seen"


def _record(row: tuple) -> ModelRecord:
    version, path, created, params, metrics, counts, timings, seen = row
    return ModelRecord(
        version,
        path,
        created,
        json.loads(params),
        json.loads(metrics),
        json.loads(counts),
        json.loads(timings),
        seen,
    )


def snapshot(db: Database) -> Snapshot:
    """Counts and a checksum of all ratings: cheap to compute, changes with any rating edit."""
    ratings, last_ts, total = db.conn.execute(
        "SELECT count(*), coalesce(max(ts), 0), coalesce(sum(rating), 0) FROM ratings"
    ).fetchone()
    movies = db.conn.execute("SELECT count(*) FROM movies").fetchone()[0]
    return Snapshot(int(ratings), int(movies), int(last_ts), round(float(total), 3))


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
) -> ModelRecord:
    """Record a trained model whose artifact is already at `path`."""
    created = int(time.time())
    with db.write() as conn:
        conn.execute(
            f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version,
                str(path),
                created,
                json.dumps(dict(params)),
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
