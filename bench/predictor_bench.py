"""Fit time and held-out RMSE of the rating predictor (`BiasedMF`), against implicit's ALS fit.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/predictor_bench.py --db WORK/moviebot.sqlite

Reads a database's ratings once, then, back to back on the same machine state:
- `fit`: seconds of `BiasedMF.fit` on every rating, with the committed `PredictorConfig`
  (or the `--factors` / `--samples` / `--iterations` / `--max-ratings` given; `--samples 0`
  is the MAP fit by ALS, the classic biased SVD, the predictor before the Bayesian one);
- `floor`: seconds of implicit's ALS `fit` alone on the main ALS's confidence matrix of the
  same ratings, with the same settings as `bench/scale.py` (one BLAS thread), and fit ÷ floor;
- `rmse` / `mae`: of a predictor fitted on the train part of training's validation split
  (`bot.training.validation_split`), on its held-out ratings: the `rmse` in training's metrics.
`--no-floor` / `--no-rmse` skip those. Prints one line per figure and, with `--json`, writes them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scale import als_floor  # noqa: E402  (bench/ is the script's own folder)


def fit_seconds(ratings: Any, catalog: Any, cfg: Any) -> float:
    from threadpoolctl import threadpool_limits

    from recommender.predict import BiasedMF

    started = time.perf_counter()
    with threadpool_limits(1, "blas"):
        BiasedMF.fit(ratings, catalog, cfg)
    return time.perf_counter() - started


def held_out(ratings: Any, catalog: Any, cfg: Any) -> dict[str, float]:
    from bot.training import validation_split
    from recommender.evaluate import measure_rating
    from recommender.predict import BiasedMF

    train, test = validation_split(ratings)
    model = BiasedMF.fit(train, catalog, cfg)
    figures = measure_rating(model, train, test)
    return {k: round(float(figures[k]), 4) for k in ("rmse", "mae")} | {"tested": test.nnz}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a moviebot database")
    parser.add_argument("--factors", type=int, help="instead of PredictorConfig's")
    parser.add_argument("--samples", type=int, help="posterior draws kept (0: the MAP fit)")
    parser.add_argument("--iterations", type=int, help="instead of PredictorConfig's (MAP)")
    parser.add_argument("--max-ratings", type=int, help="instead of PredictorConfig's (0: all)")
    parser.add_argument("--repeat", type=int, default=1, help="fits timed (the best is kept)")
    parser.add_argument("--no-floor", action="store_true", help="skip implicit's fit")
    parser.add_argument("--no-rmse", action="store_true", help="skip the held-out RMSE")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from bot.training import catalog_from_db, ratings_from_db
    from recommender.config import HybridConfig
    from storage.db import Database

    started = time.perf_counter()
    with Database(args.db) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog)
    hybrid = HybridConfig()
    names = ("factors", "samples", "iterations", "max_ratings")
    changes = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    cfg = replace(hybrid.predictor, **changes)
    out: dict[str, Any] = {
        "ratings": ratings.nnz,
        "users": ratings.matrix.shape[0],
        "movies": ratings.matrix.shape[1],
        "read_seconds": round(time.perf_counter() - started, 1),
        "config": asdict(cfg),
    }
    print(f"{out['ratings']:,} ratings of {out['users']:,} users on {out['movies']:,} movies")
    print(f"config {out['config']}")
    fits = [fit_seconds(ratings, catalog, cfg) for _ in range(args.repeat)]
    out["fit_seconds"] = round(min(fits), 2)
    print(f"fit    {out['fit_seconds']:8.2f} s  (runs: {', '.join(f'{s:.2f}' for s in fits)})")
    if not args.no_floor:
        out["floor_seconds"] = round(als_floor(ratings, hybrid.als)[0], 2)
        out["ratio"] = round(out["fit_seconds"] / out["floor_seconds"], 3)
        print(f"floor  {out['floor_seconds']:8.2f} s  (implicit ALS fit)")
        print(f"ratio  {out['ratio']:8.3f} ×  (fit ÷ floor)")
    if not args.no_rmse:
        out |= held_out(ratings, catalog, cfg)
        print(f"rmse   {out['rmse']:8.4f}    mae {out['mae']:.4f}  ({out['tested']:,} held out)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
