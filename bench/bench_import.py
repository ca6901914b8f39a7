"""Time and memory of importing a large MovieLens-shaped data set (synthetic, ML-25M sized).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_import.py --ratings 25000000

Writes ratings.csv / movies.csv / tags.csv / links.csv in the ml-25m layout into a scratch
folder, imports them into a fresh SQLite file and prints the wall time, the rate, the peak
resident memory of the process and the database size. No network.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from storage.db import Database
from storage.importers.movielens import import_dataset


def write_dataset(folder: Path, n_ratings: int, n_users: int, n_movies: int, seed: int) -> None:
    """A MovieLens-shaped data set: half-star ratings, popular movies rated more often."""
    rng = np.random.default_rng(seed)
    with (folder / "movies.csv").open("w") as out:
        out.write("movieId,title,genres\n")
        for m in range(1, n_movies + 1):
            out.write(f'{m},"Movie {m}, The ({1900 + m % 120})",Drama|Comedy\n')
    with (folder / "links.csv").open("w") as out:
        out.write("movieId,imdbId,tmdbId\n")
        out.writelines(f"{m},{m:07d},{m}\n" for m in range(1, n_movies + 1))
    with (folder / "tags.csv").open("w") as out:
        out.write("userId,movieId,tag,timestamp\n")
        out.writelines(
            f"{u},{m},tag {m % 97},1500000000\n"
            for u, m in zip(
                rng.integers(1, n_users, 100_000), rng.integers(1, n_movies, 100_000), strict=True
            )
        )
    # Popularity falls off with rank like MovieLens' (a few blockbusters, a long tail).
    weights = 1.0 / np.arange(1, n_movies + 1) ** 0.8
    weights /= weights.sum()
    block = 1_000_000
    with (folder / "ratings.csv").open("w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for start in range(0, n_ratings, block):
            n = min(block, n_ratings - start)
            # Sorted by user like the real files, each (user, movie) pair once per block.
            first_user = 1 + start * n_users // n_ratings
            last_user = max(first_user, (start + n) * n_users // n_ratings)
            user = rng.integers(first_user, last_user + 1, n)
            movie = rng.choice(n_movies, size=n, p=weights) + 1
            pairs = np.unique(user.astype(np.int64) * (n_movies + 1) + movie)
            user, movie = pairs // (n_movies + 1), pairs % (n_movies + 1)
            stars = rng.integers(1, 11, len(pairs)) / 2
            ts = rng.integers(789_652_009, 1_574_327_703, len(pairs))
            out.writelines(
                f"{u},{m},{s:.1f},{t}\n"
                for u, m, s, t in zip(
                    user.tolist(), movie.tolist(), stars.tolist(), ts.tolist(), strict=True
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=162_541)
    parser.add_argument("--movies", type=int, default=62_423)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        folder = Path(scratch) / "ml-25m"
        folder.mkdir()
        started = time.perf_counter()
        write_dataset(folder, args.ratings, args.users, args.movies, seed=0)
        size = (folder / "ratings.csv").stat().st_size
        print(
            f"wrote about {args.ratings:,} ratings ({size / 1e6:,.0f} MB) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        db_path = Path(scratch) / "bench.sqlite"
        with Database(db_path) as db:
            result = import_dataset(db, folder, progress=sys.stderr.isatty())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"imported {result.ratings:,} ratings, {result.users:,} users, "
            f"{result.movies:,} movies, {result.features:,} features in {result.seconds:.0f} s "
            f"({result.ratings / result.seconds:,.0f} ratings/s)"
        )
        print(
            f"peak RSS {peak / 1024:,.0f} MB (before import {rss_before / 1024:,.0f} MB); "
            f"database {db_path.stat().st_size / 1e6:,.0f} MB"
        )


if __name__ == "__main__":
    main()
