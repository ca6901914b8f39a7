"""EASE's fit in float32 (the code's) against the float64 fit it replaced: time, memory, weights.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/ease_bench.py --db mls.sqlite --lam 2000

Reads the database's data-set ratings and, in child processes one after another (so each peak
is its own), fits `recommender.ease.EASE` (float32) and the float64 fit the code had
before (`float64_weights` below, kept here as the reference), `--repeat` times each,
alternating; prints each fit's seconds and its peak RSS over the process before the fit (MB).
Then, in this process, the largest difference between the two fits' weights and the share of
users (up to 2,000) whose top 10 is the same set with either. One BLAS thread, as training runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(db_path: Path) -> tuple[Any, Any]:
    from bot.training import catalog_from_db, ratings_from_db
    from storage.db import Database

    with Database(db_path) as db:
        catalog = catalog_from_db(db)
        return ratings_from_db(db, catalog), catalog


def float64_weights(ratings: Any, lam: float, values: bool) -> np.ndarray:
    """The fit before this change: the Gram matrix and its inverse in float64."""
    import scipy.linalg

    from recommender.ease import _inputs

    x = _inputs(ratings.matrix, values).astype(np.float64)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices(gram.shape[0])] += lam
    inv = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    del gram
    weights = inv / (-np.diag(inv))
    weights[np.diag_indices(weights.shape[0])] = 0.0
    return weights.astype(np.float32)


def fit(kind: str, ratings: Any, catalog: Any, lam: float, values: bool) -> np.ndarray:
    from recommender.ease import EASE, EASEConfig

    if kind == "float64":
        return float64_weights(ratings, lam, values)
    limit = 1 << 40  # this bench measures; the memory limit is not what it is about
    return EASE.fit(ratings, catalog, EASEConfig(lam, limit, values)).weights


def child(args: argparse.Namespace) -> int:
    ratings, catalog = load(args.db)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    fit(args.child, ratings, catalog, args.lam, args.values)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"seconds": round(seconds, 2), "peak_mb": round(peak / 1024)}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a moviebot database")
    parser.add_argument("--lam", type=float, default=5000.0, help="λ (default 5000)")
    parser.add_argument("--binary", dest="values", action="store_false", help="1/0 input")
    parser.add_argument("--repeat", type=int, default=2, help="fits of each kind, alternating")
    parser.add_argument("--child", choices=("float32", "float64"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    figures: dict[str, list[dict]] = {"float32": [], "float64": []}
    for _ in range(args.repeat):
        for kind in figures:
            command = [sys.executable, __file__, "--db", str(args.db), "--lam", str(args.lam)]
            command += ["--child", kind] + ([] if args.values else ["--binary"])
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            figures[kind].append(json.loads(out))
            print(f"{kind}: {figures[kind][-1]}", flush=True)
    ratings, catalog = load(args.db)
    new = fit("float32", ratings, catalog, args.lam, args.values)
    old = fit("float64", ratings, catalog, args.lam, args.values)
    from recommender.ease import _inputs

    users = _inputs(ratings.matrix[: min(2000, ratings.matrix.shape[0])], args.values)
    same = 0
    for a, b in zip(users @ new, users @ old, strict=True):
        same += set(np.argpartition(-a, 10)[:10]) == set(np.argpartition(-b, 10)[:10])
    print(
        f"{new.shape[0]:,} movies, λ {args.lam:g}, {'stars' if args.values else '1/0'}: "
        f"largest weight difference {float(np.abs(new - old).max()):.2e} "
        f"(largest weight {float(np.abs(old).max()):.3f}); "
        f"the same top 10 for {same} of {users.shape[0]:,} users"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
