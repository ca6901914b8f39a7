"""Single-user latency of `Recommender.recommend` (and `similar`), printed as p50/p95.

    python bench/recommend_bench.py --db data/moviebot.sqlite     # the catalogue you serve
    python bench/recommend_bench.py --synthetic 60000             # a 60k-movie catalogue

With `--db`, trains on the database's ratings (or loads the current model with `--current`);
with `--synthetic N`, builds N movies with genres and features and random ratings with a
taste structure, and trains a quick model on them (fewer iterations: quality is not the point,
the per-call work is the same). Each timed call is one user's whole request: fold-in, every
component's scores, blend, filters, re-rank, reasons and predicted stars.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

from recommender.als import ALSConfig
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings
from recommender.filters import Filters
from recommender.hybrid import Recommender
from recommender.predict import PredictorConfig

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Animation")


def synthetic(n_items: int, n_users: int, per_user: int, seed: int = 0) -> tuple[Catalog, Ratings]:
    """Movies in 50 taste clusters (genres, people follow the cluster); users like 1–2 clusters."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 50, n_items)
    ids = np.arange(1, n_items + 1)
    genres = [(GENRES[c % 8], GENRES[(c * 3 + 1) % 8]) for c in cluster]
    features = {
        int(i): [("actor", f"a{c}_{rng.integers(0, 30)}", 1.0), ("director", f"d{c}", 1.0)]
        for i, c in zip(ids, cluster, strict=True)
    }
    catalog = Catalog.build(
        ids, [f"Movie {i}" for i in ids], (1950 + cluster % 70).tolist(), genres, features
    )
    popularity = rng.zipf(1.3, n_items).astype(np.float64)
    by_cluster = [np.flatnonzero(cluster == c) for c in range(50)]
    users, movies, stars = [], [], []
    for user in range(n_users):
        liked = rng.choice(50, 2, replace=False)
        pool = np.concatenate([by_cluster[c] for c in liked])
        p = popularity[pool] / popularity[pool].sum()
        picked = rng.choice(pool, min(per_user, len(pool)), replace=False, p=p)
        users.append(np.full(len(picked), user))
        movies.append(ids[picked])
        stars.append(rng.choice([3.0, 4.0, 5.0], len(picked), p=[0.2, 0.4, 0.4]))
    ratings = Ratings.from_arrays(
        np.concatenate(users), np.concatenate(movies), np.concatenate(stars),
        items=catalog.items,
    )  # fmt: skip
    return catalog, ratings


def from_db(path: str, current: bool) -> tuple[Recommender, Ratings]:
    from bot.settings import Settings
    from bot.training import catalog_from_db, config_for, load_current, ratings_from_db
    from storage.db import Database

    settings = Settings.from_env().with_db(path)
    with Database(path) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog)
        model = load_current(db, settings) if current else None
        if model is None:
            model = Recommender.train(ratings, catalog, config_for(db, settings))
    return model, ratings


def histories(ratings: Ratings, sizes: tuple[int, ...], count: int, seed: int = 0):
    """Real users' histories truncated to each size (0 = a brand-new user)."""
    rng = np.random.default_rng(seed)
    matrix = ratings.matrix.tocsr()
    ids = ratings.items.ids
    lengths = np.diff(matrix.indptr)
    out = {}
    for size in sizes:
        eligible = np.flatnonzero(lengths >= size)
        if len(eligible) == 0:
            continue  # nobody has that many ratings in these data
        chosen = rng.choice(eligible, count, replace=len(eligible) < count)
        out[size] = [
            dict(
                zip(
                    ids[matrix.indices[matrix.indptr[u] : matrix.indptr[u] + size]].tolist(),
                    matrix.data[matrix.indptr[u] : matrix.indptr[u] + size].tolist(),
                    strict=True,
                )
            )
            for u in chosen
        ]
    return out


def timed(call, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        call(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{label:<44} p50 {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ms)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", help="SQLite database with ratings (e.g. after data fetch)")
    source.add_argument("--synthetic", type=int, metavar="N_MOVIES", help="synthetic catalogue")
    parser.add_argument("--current", action="store_true", help="--db: use the trained model")
    parser.add_argument("--users", type=int, default=20_000, help="synthetic users")
    parser.add_argument("--per-user", type=int, default=60, help="synthetic ratings per user")
    parser.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per case")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.db:
        model, ratings = from_db(args.db, args.current)
        label = args.db
    else:
        catalog, ratings = synthetic(args.synthetic, args.users, args.per_user, args.seed)
        quick = replace(
            HybridConfig(),
            als=replace(ALSConfig(), iterations=5),
            predictor=replace(PredictorConfig(), iterations=3),
        )
        model = Recommender.train(ratings, catalog, quick)
        label = f"synthetic {args.synthetic:,} movies"
    print(
        f"{label}: {len(model.catalog):,} movies, {ratings.nnz:,} ratings, "
        f"components {', '.join(model.info['components'])}; ready in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    cases = histories(ratings, (0, 5, 50, 200), args.calls)
    for history in cases[5][:5]:
        model.recommend(history, n=10)  # warm-up (lazy caches, BLAS)
    for size, batch in cases.items():
        report(f"recommend n=10, {size} ratings", timed(lambda h: model.recommend(h, n=10), batch))
    comedy = Filters(genres=frozenset({"Comedy"}), year_min=1990, year_max=1999)
    report(
        "recommend n=10, 50 ratings, genre+decade filter",
        timed(lambda h: model.recommend(h, n=10, filters=comedy), cases[50]),
    )
    seeds = np.random.default_rng(1).choice(model.catalog.items.ids, args.calls)
    report("similar n=10", timed(lambda m: model.similar(int(m), n=10), seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
