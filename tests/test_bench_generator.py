"""bench/generate_movielens.py writes what the importer reads, the same every time by seed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from storage.db import Database
from storage.importers.movielens import import_dataset

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _generator():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(
        "generate_movielens", BENCH / "generate_movielens.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_generated_data_set_imports_with_the_promised_shape(tmp_path):
    gen = _generator()
    folder = tmp_path / "ml-25m"
    counts = gen.generate(0.0003, folder, seed=3, say=lambda message: None)
    users, movies, ratings, _ = gen.sizes(0.0003)
    assert counts["ratings"] == ratings and counts["users"] == users
    with Database(tmp_path / "bench.sqlite") as db:
        result = import_dataset(db, folder)
        per_user = db.conn.execute(
            "SELECT min(n) FROM (SELECT count(*) n FROM ratings GROUP BY user_id)"
        )
        fewest = per_user.fetchone()[0]
    assert (result.movies, result.users, result.ratings) == (movies, users, ratings)
    assert result.rating_step == 0.5 and result.rating_min >= 0.5 and result.rating_max == 5.0
    assert fewest >= gen.MIN_PER_USER
    assert result.features > 0  # tags.csv became content features


def test_the_same_seed_writes_the_same_files_and_another_seed_does_not(tmp_path):
    gen = _generator()
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        gen.generate(0.0003, tmp_path / name, seed=seed, say=lambda message: None)
    for file in ("movies.csv", "ratings.csv", "tags.csv", "links.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "ratings.csv").read_bytes() != (
        tmp_path / "c" / "ratings.csv"
    ).read_bytes()
