"""The Spark side of `moviebot train --engine spark`: ALS on an exported folder, factors out.

    spark-submit --master yarn spark_job.py EXPORT [FACTORS]

EXPORT is what `moviebot train --export-only EXPORT` wrote (`job.json` and Parquet ratings
under `ratings/`); FACTORS (default `EXPORT/factors`) receives each ALS part's item factors as
Parquet under `items/<part>/` and a `manifest/` (the job, Spark's version and the timings) that
`moviebot train --import-factors` checks. Paths are anything this Spark reads and writes
(hdfs://, s3a://, a folder every executor sees). `moviebot train --engine spark` runs this same
`run` in-process on its own session.

This module imports nothing but the standard library and PySpark, so a cluster needs neither
moviebot nor its dependencies: ship this one file.

Each part's ratings column already holds Spark's implicit "rating" r, from which Spark's ALS
takes preference r > 0 and confidence 1 + alpha·|r|: exactly the confidence our local trainer
gives implicit (`recommender.als.confidence`), so nothing about the weighting is decided here.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

JOB_FILE = "job.json"
EXPORT_FORMAT = 1
MANIFEST = "manifest"
ITEMS = "items"
CHECKPOINTS = "checkpoints"
CHECKPOINT_EVERY = 5  # iterations
OWN_CHECKPOINTS = "moviebot.checkpointDir"  # session setting: the checkpoint folder we set


def read_text(spark: Any, path: str) -> str:
    """A small text file anywhere this Spark reads (the driver reads it whole)."""
    rows = spark.read.text(path, wholetext=True).collect()
    if not rows:
        raise FileNotFoundError(path)
    return str(rows[0][0])


def run(spark: Any, export: str, out: str | None = None, say: Any = None) -> dict[str, Any]:
    """Train every ALS part `EXPORT/job.json` names; write factors and manifest under `out`.

    Returns the manifest: the job, Spark's version and per-part seconds and counts.
    """
    from pyspark.ml.recommendation import ALS

    tell = say or (lambda message: print(f"spark_job: {message}", file=sys.stderr, flush=True))
    out = out or f"{export.rstrip('/')}/factors"
    job = json.loads(read_text(spark, f"{export.rstrip('/')}/{JOB_FILE}"))
    if job.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{export}: export format {job.get('format')!r}, this job reads 1")
    ratings = spark.read.parquet(f"{export.rstrip('/')}/ratings")
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    # Blocks of users and of movies: one per core Spark has (its default, 10, only adds tasks
    # on a small master); job.json can fix them.
    blocks = int(job.get("blocks") or max(1, spark.sparkContext.defaultParallelism))
    # ALS's lineage grows with every iteration; past a few dozen stages deserialising a task
    # overflows the JVM's stack (StackOverflowError). Checkpoints cut it, and need a folder.
    # A folder the session's owner chose stays; ours (none yet, or a former run's) is made
    # under `out` and removed at the end.
    context = spark.sparkContext
    current = context.getCheckpointDir()
    own_checkpoints = current is None or current == spark.conf.get(OWN_CHECKPOINTS, None)
    if own_checkpoints:
        context.setCheckpointDir(f"{out.rstrip('/')}/{CHECKPOINTS}")
        spark.conf.set(OWN_CHECKPOINTS, context.getCheckpointDir())
    for name, part in job["parts"].items():
        started = time.perf_counter()
        column = part["column"]
        rows = ratings.where(ratings[column] != 0).select("user", "item", column)
        als = ALS(
            rank=int(part["rank"]),
            maxIter=int(part["maxIter"]),
            regParam=float(part["regParam"]),
            alpha=float(part["alpha"]),
            seed=int(part["seed"]),
            implicitPrefs=True,
            nonnegative=False,
            userCol="user",
            itemCol="item",
            ratingCol=column,
            numUserBlocks=blocks,
            numItemBlocks=blocks,
            checkpointInterval=CHECKPOINT_EVERY,
        )
        tell(
            f"ALS {name!r}: rank {part['rank']}, regParam {part['regParam']:.4g}, "
            f"alpha {part['alpha']:g}, {part['maxIter']} iterations, {blocks} blocks"
        )
        model = als.fit(rows)
        items = model.itemFactors
        items.write.mode("overwrite").parquet(f"{out.rstrip('/')}/{ITEMS}/{name}")
        counts[name] = int(items.count())
        timings[name] = round(time.perf_counter() - started, 3)
        tell(f"ALS {name!r}: {counts[name]:,} movies' factors in {timings[name]:.1f} s")
    if own_checkpoints:
        _delete(spark, f"{out.rstrip('/')}/{CHECKPOINTS}")
    manifest = {**job, "spark_version": spark.version, "blocks": blocks, "timings": timings}
    manifest["factors"] = counts
    text = spark.createDataFrame([(json.dumps(manifest),)], "value string")
    text.coalesce(1).write.mode("overwrite").text(f"{out.rstrip('/')}/{MANIFEST}")
    return manifest


def _delete(spark: Any, path: str) -> None:
    """Remove a folder through Spark's own file system layer (any scheme it reads)."""
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(target, True)


def main(argv: list[str] | None = None) -> int:
    """`spark-submit spark_job.py EXPORT [FACTORS]`."""
    from pyspark.sql import SparkSession

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    spark = SparkSession.builder.appName("moviebot ALS").getOrCreate()
    try:
        run(spark, args[0], args[1] if len(args) == 2 else None)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
