"""A validation grid over the hybrid's blend weights (default: the cold ALS and watched ones).

With `--grid` it searches other blend weights: the era's and genre lift's were chosen with it.

    python bench/cold_blend_grid.py --db data/moviebot.sqlite            # seeds 0-7
    python bench/cold_blend_grid.py --db data/moviebot.sqlite --seeds 0,1
    python bench/cold_blend_grid.py --db data/moviebot.sqlite \
        --reference als_cold=0                       # another reference point
    python bench/cold_blend_grid.py --db data/moviebot.sqlite \
        --grid era_cold=1/1.5/2,genres_cold=1/2/3    # another grid

For each seed, the holdout split of the data-set ratings is made as `moviebot evaluate` makes
it, and only its train part is used: three validation carves are cut from it (holdout,
given-5 and given-3, in which every user with at least 2N train ratings keeps N), the
hybrid's components are fitted once per carve, and every grid point is only a re-weighting of
their scores (`recommender.tuning.BlendTable`, as `moviebot tune` does). Prints the
committed defaults' row, the reference row, each component alone and the best grid points by
mean given-5 validation NDCG@10, with the given-3 and holdout means beside them: a point
qualifies when neither is more than 0.5% below the reference's (by default the committed
defaults). Test ratings are never looked at.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import itertools
import time
from dataclasses import replace

import numpy as np

from recommender.config import HybridConfig
from recommender.scoring import COMPONENTS
from recommender.splits import holdout_split
from recommender.tuning import BlendTable

GRID = {
    "als_cold": (-1.0, -0.5, -0.3, -0.15, 0.0),
    "watched_cold": (0.0, 0.125, 0.25, 0.5),
}
PROTOCOLS = ("given-5", "given-3", "holdout")
TOLERANCE = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite database with MovieLens ratings")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7", help="comma-separated seeds")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--top", type=int, default=8, help="grid points to print")
    parser.add_argument(
        "--reference",
        default="",
        metavar="NAME=V,...",
        help="blend weights the guard compares against (default: the committed defaults)",
    )
    parser.add_argument(
        "--grid",
        default="",
        metavar="NAME=V/V/...,...",
        help="blend weights to grid instead of the default ALS and watched cold weights",
    )
    args = parser.parse_args()
    try:
        reference = {
            name: float(value)
            for name, value in (item.split("=") for item in args.reference.split(",") if item)
        }
        reference_blend = replace(HybridConfig().blend, **reference)
        grid = {
            name: tuple(float(v) for v in values.split("/"))
            for name, values in (item.split("=") for item in args.grid.split(",") if item)
        } or GRID
        # an unknown weight name fails here, before minutes of fitting
        replace(HybridConfig().blend, **{name: values[0] for name, values in grid.items()})
    except (ValueError, TypeError) as exc:
        parser.error(f"--reference and --grid take blend weight names and numbers: {exc}")

    from bot.training import catalog_from_db, ratings_from_db
    from storage.db import Database

    with Database(args.db) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog, kinds=("dataset",))
    config = HybridConfig()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    tables = {p: [] for p in PROTOCOLS}
    for seed in seeds:
        train, _ = holdout_split(ratings, seed=seed)
        for protocol in PROTOCOLS:
            tables[protocol].append(BlendTable.build(config, train, catalog, protocol, seed))
        print(f"seed {seed}: carves ready ({time.perf_counter() - started:.0f} s)", flush=True)

    def mean(protocol: str, blend) -> float:
        return float(np.mean([t.ndcg(blend, catalog, args.k) for t in tables[protocol]]))

    def row(label: str, blend) -> tuple[float, str, bool]:
        figures = {p: mean(p, blend) for p in PROTOCOLS}
        ok = all(figures[p] >= base[p] * (1 - TOLERANCE) for p in PROTOCOLS[1:])
        values = " | ".join(f"{figures[p]:.4f}" for p in PROTOCOLS)
        return figures["given-5"], f"| {label} | {values} | {'yes' if ok else 'no'} |", ok

    defaults = config.blend
    base = {p: mean(p, reference_blend) for p in PROTOCOLS}
    names = list(grid)
    rows = []
    for values in itertools.product(*grid.values()):
        blend = replace(defaults, **dict(zip(names, values, strict=True)))
        rows.append(row(", ".join(f"{n} {v:g}" for n, v in zip(names, values, strict=True)), blend))
    rows.sort(key=lambda r: r[0], reverse=True)
    k = args.k
    print(
        f"\nMean validation NDCG@{k} over seeds {args.seeds} "
        f"({time.perf_counter() - started:.0f} s)\n"
    )
    print(f"| weights | given-5 | given-3 | holdout | within {TOLERANCE:.1%} |")
    print("|---|---|---|---|---|")
    for label, blend in (("committed defaults", defaults), ("reference", reference_blend)):
        values = ", ".join(f"{n} {getattr(blend, n):g}" for n in names)
        print(row(f"{label}: {values}", blend)[1])
    for component in COMPONENTS:
        alone = {
            f"{c}_{end}": float(c == component) for c in COMPONENTS for end in ("cold", "warm")
        }
        print(row(f"{component} alone", replace(defaults, **alone))[1])
    for _, line, _ in rows[: args.top]:
        print(line)


if __name__ == "__main__":
    main()
