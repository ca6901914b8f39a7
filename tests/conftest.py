"""Shared fixtures: a fresh database, a tiny catalogue with users and ratings."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Iterator

import pytest

from storage import movies, ratings, users
from storage.db import Database
from storage.movies import Movie

pytest_plugins = ["emulator.pytest_plugin"]  # emulator, emulator_builder, start_bot

TINY_MOVIES = [
    Movie(1, "Toy Story", 1995, ("Animation", "Children's", "Comedy")),
    Movie(2, "Heat", 1995, ("Action", "Crime", "Thriller")),
    Movie(3, "Matrix, The", 1999, ("Action", "Sci-Fi", "Thriller")),
    Movie(4, "Godfather, The", 1972, ("Crime", "Drama")),
    Movie(5, "Alien", 1979, ("Horror", "Sci-Fi")),
    Movie(6, "Amélie", 2001, ("Comedy", "Romance")),
    Movie(7, "Tom & Jerry: <The Movie>", 1992, ("Animation", "Children's")),
]


@pytest.fixture
def fresh_db() -> Iterator[Database]:
    """An empty, fully migrated in-memory database."""
    db = Database(":memory:")
    yield db
    db.close()


@pytest.fixture
def tiny_catalog(fresh_db: Database) -> Database:
    """Seven movies, two data-set users with a few ratings each."""
    movies.upsert_many(fresh_db, TINY_MOVIES)
    with fresh_db.write() as conn:
        conn.executemany(
            "INSERT INTO users (kind, external_id, created_at) VALUES ('dataset', ?, 0)",
            [(1,), (2,)],
        )
    ml1 = users.resolve(fresh_db, "ml:1")
    ml2 = users.resolve(fresh_db, "ml:2")
    for movie_id, stars in [(1, 5), (2, 3), (3, 4)]:
        ratings.upsert(fresh_db, ml1, movie_id, stars, ts=1000 + movie_id)
    for movie_id, stars in [(2, 5), (4, 4)]:
        ratings.upsert(fresh_db, ml2, movie_id, stars, ts=2000 + movie_id)
    return fresh_db
