"""Spark's ALS against the local one: quality on one holdout split, and training time.

    python bench/spark_vs_local.py SOURCE [--master local[2]] [--quality] [--timing]

SOURCE is a ratings source: a moviebot database (.sqlite) or a MovieLens folder or zip (an
ML-25M-shaped one from bench/generate_movielens.py too), imported into a scratch database.

--quality: `recommender.report.compare` (what `moviebot evaluate` runs) on the holdout split,
seed 0: the local ALS, Spark's ALS with each mapping of implicit's regularization λ to Spark's
regParam (`bot.engines.spark.spark_reg_param`), and the served hybrid with its ALS parts
trained locally and on Spark.

--timing: what `moviebot train --no-validate` spends, locally and with `--engine spark`
(Spark's start, the export, both ALS parts, the rest), from one run, back to back.

Prints the figures and writes them as JSON with --json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bot.engines.spark import REG_MAPPINGS, SparkEngine, spark_als_spec
from bot.training import catalog_from_db, ratings_from_db
from recommender.als import ALS
from recommender.component import Unfitted, unfitted
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings
from recommender.hybrid import Recommender
from recommender.report import ModelSpec, compare
from recommender.suite import ServedHybrid
from storage.db import Database
from storage.importers.movielens import import_dataset


def load(source: str) -> tuple[Catalog, Ratings]:
    """The catalogue and every rating of a database, or of a data set imported into a scratch
    database."""
    if source.endswith((".sqlite", ".db")):
        with Database(source) as db:
            catalog = catalog_from_db(db)
            return catalog, ratings_from_db(db, catalog)
    with tempfile.TemporaryDirectory() as scratch, Database(Path(scratch) / "m.sqlite") as db:
        started = time.perf_counter()
        import_dataset(db, source)
        print(f"imported {source} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        catalog = catalog_from_db(db)
        return catalog, ratings_from_db(db, catalog)


def quality(
    catalog: Catalog, ratings: Ratings, config: HybridConfig, master: str, conf: dict
) -> dict:
    """The report of the local and the Spark-trained models on one holdout split."""
    with ExitStack() as stack:  # the first engine starts the session, the others reuse it
        engines = {
            m: stack.enter_context(SparkEngine(master, conf, mapping=m, say=say))
            for m in REG_MAPPINGS
        }

        def served(ratings: Ratings, catalog: Catalog) -> ServedHybrid:
            fitted = engines["user"].fit(ratings, catalog, config).parts
            return ServedHybrid(Recommender.train(ratings, catalog, config, fitted))

        specs = [ModelSpec("als", lambda p: unfitted(ALS, config.als))]
        for mapping, engine in engines.items():
            specs.append(ModelSpec(f"als-spark-{mapping}", spark_als_spec(engine, config).make))
        specs += [
            ModelSpec("hybrid", lambda p: ServedHybrid.unfitted(config)),
            ModelSpec("hybrid-spark", lambda p: Unfitted("hybrid-spark", served)),
        ]
        return compare(ratings, catalog, specs, protocol="holdout", k=10, seed=0)


def timing(
    catalog: Catalog, ratings: Ratings, config: HybridConfig, master: str, conf: dict
) -> dict[str, Any]:
    """Seconds of `train --no-validate`'s model building, local and Spark, back to back."""
    started = time.perf_counter()
    local = Recommender.train(ratings, catalog, config)
    local_total = time.perf_counter() - started
    started = time.perf_counter()
    with SparkEngine(master, conf, say=say) as engine:
        fitted = engine.fit(ratings, catalog, config)
        spark_model = Recommender.train(ratings, catalog, config, fitted.parts)
    spark_total = time.perf_counter() - started
    out = {
        "local": {"total": round(local_total, 1), **_als(local.info["timings"])},
        "spark": {
            "total": round(spark_total, 1),
            **_als(fitted.timings),
            "start": fitted.timings.get("spark_start"),
            "export": fitted.timings.get("spark_export"),
            "rest": round(spark_model.info["timings"]["total"], 1),
        },
    }
    out["ratio_total"] = round(spark_total / local_total, 2)
    als_local = sum(out["local"][p] for p in ("als", "watched"))
    als_spark = sum(out["spark"][p] for p in ("als", "watched"))
    out["ratio_als"] = round(als_spark / als_local, 2)
    return out


def _als(timings: dict) -> dict[str, float]:
    return {p: round(float(timings[p]), 1) for p in ("als", "watched")}


def say(message: str) -> None:
    print(f"spark: {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a moviebot database or a MovieLens folder/zip")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    conf = dict(item.split("=", 1) for item in args.spark_conf)
    catalog, ratings = load(args.source)
    config = HybridConfig()
    result: dict[str, Any] = {
        "source": args.source,
        "master": args.master,
        "ratings": ratings.nnz,
        "users": len(ratings.users),
        "movies": len(catalog),
        "cpus": os.cpu_count(),
    }
    print(f"{ratings.nnz:,} ratings, {len(ratings.users):,} users, {len(catalog):,} movies")
    if args.timing:
        result["timing"] = timing(catalog, ratings, config, args.master, conf)
        print("timing (s):", json.dumps(result["timing"]))
    if args.quality:
        report = quality(catalog, ratings, config, args.master, conf)
        result["quality"] = {
            name: {
                k: v for k, v in entry.items() if k in ("ndcg@10", "precision@10", "fit_seconds")
            }
            for name, entry in report["models"].items()
        }
        for name, entry in result["quality"].items():
            print(f"{name:22} " + "  ".join(f"{k} {v:.4f}" for k, v in entry.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
