"""Training the ALS parts on Apache Spark: `moviebot train --engine spark`, `--export-only`,
`--import-factors`.

Only the ALS parts (the `PARTS` of kind `ALS`: the main "als" and the "watched" one) move to
Spark; content, popularity, the rating predictor and the blend are fitted by `bot.training` as
always, and the artifact is the very one the bot loads (no Spark needed to serve).

The three steps, each usable alone:

1. `export`: the ratings in matrix index space as Parquet files under `ratings/` (user, item,
   stars and one column per ALS part: Spark's implicit "rating" r, preference r > 0 and
   confidence 1 + alpha·|r|, computed with `recommender.als.confidence`, so the weighting is the
   local trainer's to the bit) and `job.json` (each part's Spark parameters).
2. `bot.engines.spark_job.run`: Spark's ALS on that folder, item factors out as Parquet.
3. `read_factors`: those factors, back in our vocabulary order, as fitted `ALS` parts.

Regularization: implicit adds a fixed λ·I to every user's and every movie's normal equations;
Spark's ALS (ALS-WR, Zhou et al. 2008) adds regParam·n·I, n being the number of positive
ratings of that user or movie. `spark_reg_param` maps λ to regParam = λ / (mean positives per
user), so a user with the typical number of ratings gets the same λ (docs/scaling.md has the
measurement behind that choice); users are folded in at serving time with implicit's λ, as for
a locally trained model.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bot.engines import spark_job
from bot.training import Fitted, Progress, TrainingError
from recommender.als import ALS, ALSConfig, confidence
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings
from recommender.scoring import PARTS

log = logging.getLogger(__name__)

JAVA_MIN = 17  # PySpark 4 runs on Java 17 or 21 (its classes are Java 17 bytecode)
ROWS_PER_FILE = 2_000_000  # ratings per Parquet file: Spark reads the files in parallel
REG_MAPPINGS = ("user", "item", "both", "none")
DEFAULT_MASTER = "local[*]"
DEFAULT_CONF = {"spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "16"}
INSTALL_HINT = "pip install 'moviebot[spark]'"


class SparkUnavailable(TrainingError):
    """PySpark or a suitable Java is missing; the message says what to install."""


# -- what Spark needs --------------------------------------------------------------------------


def java_command() -> str | None:
    """The java Spark will start: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


def java_version(java: str) -> int | None:
    """The major version `java -version` reports (8 for "1.8.0_392", 17 for "17.0.15")."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        return None
    major = int(found[1])
    return int(found[2] or 0) if major == 1 else major


def check_spark(java: bool = True) -> None:
    """Raise `SparkUnavailable` unless PySpark (and, with `java`, Java 17+) is installed."""
    try:
        import pyarrow  # noqa: F401  (the spark extra brings it; Parquet is written with it)
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            f"Spark training needs PySpark and pyarrow: {INSTALL_HINT} (and Java {JAVA_MIN} "
            "or newer)"
        ) from None
    if not java:
        return
    command = java_command()
    if command is None:
        raise SparkUnavailable(
            f"Spark needs Java {JAVA_MIN} or newer and none was found (no java on PATH, "
            "JAVA_HOME unset): install one, e.g. `apt-get install openjdk-17-jre-headless`"
        )
    version = java_version(command)
    if version is None or version < JAVA_MIN:
        seen = "an unknown version" if version is None else f"Java {version}"
        raise SparkUnavailable(
            f"Spark needs Java {JAVA_MIN} or newer; {command} is {seen}: install a newer one "
            "or point JAVA_HOME at it"
        )


def parse_conf(items: Sequence[str]) -> dict[str, str]:
    """`--spark-conf key=value` options → a dict; `TrainingError` for one without "="."""
    conf: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrainingError(f"--spark-conf takes key=value, got {item!r}")
        conf[key.strip()] = value.strip()
    return conf


@contextmanager
def session(master: str, conf: Mapping[str, str], say: Progress) -> Iterator[Any]:
    """A SparkSession on `master`; one already running in this process is reused (and left
    running), one started here is stopped on the way out."""
    check_spark()
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    say(f"starting Spark ({master})")
    builder = SparkSession.builder.master(master).appName("moviebot train")
    for key, value in {**DEFAULT_CONF, **conf}.items():
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():  # we hand Spark no pandas: its version does not matter
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            spark = builder.getOrCreate()
    except Exception as exc:  # py4j and the JVM raise many kinds; none is ours to handle
        raise SparkUnavailable(f"Spark did not start on {master}: {_first_line(exc)}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- 1. export ---------------------------------------------------------------------------------


def als_parts(config: HybridConfig, only: Sequence[str] | None = None) -> dict[str, ALSConfig]:
    """Each ALS part of the served blend (or those named in `only`) and its settings."""
    parts = {p.name: p.settings(config) for p in PARTS if p.kind is ALS}
    if only is not None and set(only) - set(parts):
        raise ValueError(f"no ALS part {', '.join(sorted(set(only) - set(parts)))}")
    return {name: cfg for name, cfg in parts.items() if only is None or name in only}


def spark_ratings(stars: np.ndarray, cfg: ALSConfig) -> np.ndarray:
    """Spark's implicit "rating" for each of these stars (0: not an interaction): Spark takes
    confidence 1 + alpha·|r|, preference r > 0, so r = (c − 1)/alpha with c the confidence
    `recommender.als.confidence` gives implicit (sign kept: a dislike has r < 0)."""
    row = sp.csr_matrix(
        (stars, (np.zeros(len(stars), dtype=np.int32), np.arange(len(stars), dtype=np.int32))),
        shape=(1, len(stars)),
    )
    conf = confidence(row, cfg)
    c = conf.data.astype(np.float64)
    r = np.sign(c) * (np.abs(c) - 1.0) / cfg.alpha if cfg.alpha > 0 else np.sign(c)
    out = np.zeros(len(stars), dtype=np.float32)
    out[conf.indices] = r
    return out


def spark_reg_param(
    regularization: float, users: np.ndarray, items: np.ndarray, mapping: str = "user"
) -> float:
    """implicit's λ as Spark's regParam: λ / the mean number of positive ratings per user
    ("user", the default), per movie ("item"), their geometric mean ("both"), or λ as it is
    ("none"). `users`, `items`: positive ratings per user and per movie."""
    if mapping == "none":
        return float(regularization)
    mean_user = float(users[users > 0].mean()) if (users > 0).any() else 1.0
    mean_item = float(items[items > 0].mean()) if (items > 0).any() else 1.0
    per = {"user": mean_user, "item": mean_item, "both": float(np.sqrt(mean_user * mean_item))}
    if mapping not in per:
        raise ValueError(f"unknown regularization mapping {mapping!r}: {', '.join(REG_MAPPINGS)}")
    return float(regularization) / per[mapping]


def _filesystem(path: str) -> tuple[Any, str]:
    """pyarrow's file system for a local folder or a URI (s3://, gs://, hdfs://, file://)."""
    from pyarrow import fs

    if "://" in path:
        return fs.FileSystem.from_uri(path)
    return fs.LocalFileSystem(), str(Path(path).resolve())


def export(
    ratings: Ratings,
    catalog: Catalog,
    config: HybridConfig,
    path: str,
    *,
    mapping: str = "user",
    extra: Mapping[str, Any] | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write the ratings as Parquet and the job for `bot.engines.spark_job`; returns the job."""
    check_spark(java=False)
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow.fs import FileType

    matrix = ratings.matrix.tocsr()
    users = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))
    items = matrix.indices.astype(np.int32)
    stars = matrix.data.astype(np.float32)
    columns: dict[str, np.ndarray] = {"user": users, "item": items, "stars": stars}
    parts = {}
    for name, cfg in als_parts(config, only).items():
        r = columns[name] = spark_ratings(stars, cfg)
        positive = r > 0
        per_user = np.bincount(users[positive], minlength=matrix.shape[0])
        per_item = np.bincount(items[positive], minlength=matrix.shape[1])
        parts[name] = {
            "column": name,
            "rank": cfg.factors,
            "maxIter": cfg.iterations,
            "regParam": spark_reg_param(cfg.regularization, per_user, per_item, mapping),
            "alpha": cfg.alpha,
            "seed": cfg.seed,
            "interactions": int((r != 0).sum()),
            "config": asdict(cfg),
        }
    fs, root = _filesystem(path)
    for stale in ("ratings", "factors"):  # a former export's files would be read with ours
        if fs.get_file_info(f"{root}/{stale}").type != FileType.NotFound:
            fs.delete_dir(f"{root}/{stale}")
    fs.create_dir(f"{root}/ratings", recursive=True)
    table = pa.table(columns)
    files = max(1, -(-len(stars) // rows_per_file))
    for i in range(files):
        chunk = table.slice(i * rows_per_file, rows_per_file)
        pq.write_table(chunk, f"{root}/ratings/part-{i:05d}.parquet", filesystem=fs)
    job = {
        "format": spark_job.EXPORT_FORMAT,
        "created_at": int(time.time()),
        "fingerprint": catalog.items.fingerprint(),
        "items": len(catalog),
        "users": int(matrix.shape[0]),
        "ratings": len(stars),
        "files": files,
        "regularization_mapping": mapping,
        "parts": parts,
        **(extra or {}),
    }
    with fs.open_output_stream(f"{root}/{spark_job.JOB_FILE}") as out:
        out.write(json.dumps(job, indent=2).encode())
    return job


def export_database(
    db: Any, settings: Any, path: str, say: Progress, overrides: dict | None = None
) -> dict[str, Any]:
    """`moviebot train --export-only PATH`: every rating in storage, with this database's ALS
    settings (tuned values included), as `export` writes them."""
    from bot.training import catalog_from_db, config_for, ratings_from_db

    check_spark(java=False)
    say("reading the catalogue and ratings")
    catalog = catalog_from_db(db)
    ratings = ratings_from_db(db, catalog)
    if ratings.nnz == 0:
        raise TrainingError("no ratings: run `moviebot data fetch` first")
    say(f"exporting {ratings.nnz:,} ratings to {path} (Parquet)")
    try:
        return export(ratings, catalog, config_for(db, settings, overrides), path)
    except OSError as exc:
        raise TrainingError(f"cannot write the export to {path}: {exc}") from None


# -- 3. factors back ---------------------------------------------------------------------------


def factors_folder(path: str) -> str:
    """The job's output folder: `path` itself, or `path/factors` when `path` is an export."""
    fs, root = _filesystem(path)
    from pyarrow.fs import FileType

    if fs.get_file_info(f"{root}/{spark_job.MANIFEST}").type == FileType.Directory:
        return path
    inner = f"{path.rstrip('/')}/factors"
    fs, root = _filesystem(inner)
    if fs.get_file_info(f"{root}/{spark_job.MANIFEST}").type == FileType.Directory:
        return inner
    raise TrainingError(
        f"no Spark factors at {path}: expected the folder `spark_job.py` wrote (with "
        f"{spark_job.MANIFEST}/ and {spark_job.ITEMS}/), or an export folder holding factors/"
    )


def read_manifest(path: str) -> dict[str, Any]:
    """The manifest `bot.engines.spark_job.run` wrote into its output folder."""
    from pyarrow.fs import FileSelector

    fs, root = _filesystem(path)
    found = [
        f.path
        for f in fs.get_file_info(FileSelector(f"{root}/{spark_job.MANIFEST}"))
        if Path(f.path).name.startswith("part-")
    ]
    if not found:
        raise TrainingError(f"{path}: its {spark_job.MANIFEST}/ holds no manifest")
    with fs.open_input_stream(sorted(found)[0]) as src:
        text = src.read().decode()
    try:
        return dict(json.loads(text.strip().splitlines()[0]))
    except (ValueError, IndexError) as exc:
        raise TrainingError(f"{path}: unreadable manifest ({exc})") from None


def read_factors(
    path: str, catalog: Catalog, config: HybridConfig, only: Sequence[str] | None = None
) -> Fitted:
    """The ALS parts a Spark job trained, in this catalogue's order; `TrainingError` when they
    were trained over another catalogue or with other settings than `config`'s."""
    check_spark(java=False)
    import pyarrow.parquet as pq

    folder = factors_folder(path)
    manifest = read_manifest(folder)
    if manifest.get("fingerprint") != catalog.items.fingerprint():
        raise TrainingError(
            f"the factors at {path} were trained over another catalogue (movies were added or "
            "removed since the export): export again and rerun the Spark job"
        )
    fs, root = _filesystem(folder)
    parts: dict[str, ALS] = {}
    for name, cfg in als_parts(config, only).items():
        job = manifest.get("parts", {}).get(name)
        if job is None or job.get("config") != asdict(cfg):
            raise TrainingError(
                f"the factors at {path} were trained with other {name!r} settings than this "
                "database's (tuned since the export?): export again and rerun the Spark job"
            )
        table = pq.read_table(f"{root}/{spark_job.ITEMS}/{name}", filesystem=fs)
        parts[name] = ALS.from_arrays(
            {"item_factors": _item_factors(table, len(catalog), cfg.factors)}, catalog, cfg
        )
    timings = {k: float(v) for k, v in manifest.get("timings", {}).items()}
    info: dict[str, Any] = {
        k: manifest[k] for k in ("spark_version", "regularization_mapping") if k in manifest
    }
    for name, job in manifest["parts"].items():
        info[f"{name}_regParam"] = job["regParam"]
    return Fitted(parts, timings, info)


def _item_factors(table: Any, n_items: int, rank: int) -> np.ndarray:
    """Spark's (id, features) rows → an n_items × rank array; movies Spark never saw (no
    interaction in this part) keep zeros, as implicit leaves them."""
    import pyarrow.compute as pc

    ids = table.column("id").to_numpy()
    flat = pc.list_flatten(table.column("features")).to_numpy(zero_copy_only=False)
    vectors = np.asarray(flat, dtype=np.float32).reshape(len(ids), rank)
    if len(ids) and (ids.min() < 0 or ids.max() >= n_items):
        raise TrainingError("Spark returned factors for movies outside the exported catalogue")
    out = np.zeros((n_items, rank), dtype=np.float32)
    out[ids] = vectors
    if not np.all(np.isfinite(out)):
        raise TrainingError("Spark's ALS produced non-finite factors")
    return out


# -- the engines bot.training.train takes --------------------------------------------------------


class SparkEngine:
    """ALS on Spark, in this process: export to `work_dir` (default: a temporary folder, fine
    for local masters; a cluster needs a path every executor reads), run
    `bot.engines.spark_job`, read the factors back. Use it as a context manager: one
    SparkSession for every fit."""

    validates = True

    def __init__(
        self,
        master: str = DEFAULT_MASTER,
        conf: Mapping[str, str] | None = None,
        work_dir: str | None = None,
        mapping: str = "user",
        say: Progress | None = None,
    ) -> None:
        self.master, self.conf, self.work_dir = master, dict(conf or {}), work_dir
        self.mapping = mapping
        self.say: Progress = say or (lambda message: None)
        self._spark: Any = None
        self._stack: ExitStack | None = None
        self._fits = 0
        self._started_in = 0.0

    def __enter__(self) -> SparkEngine:
        self._stack = ExitStack()
        start = time.perf_counter()
        self._spark = self._stack.enter_context(session(self.master, self.conf, self.say))
        self._started_in = time.perf_counter() - start
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
        self._spark, self._stack = None, None

    def describe(self) -> dict[str, Any]:
        """What the registry records: engine, master, Spark version, conf keys (values may be
        secrets, e.g. object-store keys, so they are left out)."""
        return {
            "name": "spark",
            "master": self.master,
            "spark_version": getattr(self._spark, "version", None),
            "conf_keys": sorted(self.conf),
            "regularization_mapping": self.mapping,
        }

    def fit(
        self,
        ratings: Ratings,
        catalog: Catalog,
        config: HybridConfig,
        only: Sequence[str] | None = None,
    ) -> Fitted:
        """Every ALS part of `config` (or those named in `only`), trained by Spark."""
        if self._spark is None:
            raise RuntimeError("SparkEngine.fit outside `with engine:`")
        self._fits += 1
        with _work_folder(self.work_dir, f"fit-{self._fits}") as folder:
            started = time.perf_counter()
            self.say(f"exporting {ratings.nnz:,} ratings to {folder} (Parquet)")
            export(ratings, catalog, config, folder, mapping=self.mapping, only=only)
            exported = time.perf_counter() - started
            spark_job.run(self._spark, folder, say=lambda m: self.say(f"spark: {m}"))
            fitted = read_factors(folder, catalog, config, only)
        timings = {**fitted.timings, "spark_export": round(exported, 3)}
        if self._fits == 1:
            timings["spark_start"] = round(self._started_in, 3)
        return Fitted(fitted.parts, timings, fitted.info)


@contextmanager
def _work_folder(work_dir: str | None, name: str) -> Iterator[str]:
    """`work_dir/name` (kept), or a temporary folder removed afterwards."""
    if work_dir is not None:
        yield f"{work_dir.rstrip('/')}/{name}"
        return
    folder = tempfile.mkdtemp(prefix="moviebot-spark-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class ImportedFactors:
    """ALS factors a Spark job trained elsewhere (`--import-factors PATH`)."""

    path: str
    validates = False  # factors of the whole data set: no holdout part to fit them on

    def __enter__(self) -> ImportedFactors:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": "spark", "imported_from": self.path}

    def fit(self, ratings: Ratings, catalog: Catalog, config: HybridConfig) -> Fitted:
        return read_factors(self.path, catalog, config)


def spark_als_spec(engine: SparkEngine, config: HybridConfig) -> Any:
    """The main ALS part trained by Spark, as a model of `recommender.report.compare`: the row
    "als-spark" `moviebot evaluate --spark MASTER` prints next to the local "als"."""
    from recommender.component import Unfitted
    from recommender.report import ModelSpec

    def fit(ratings: Ratings, catalog: Catalog) -> ALS:
        return engine.fit(ratings, catalog, config, only=("als",)).parts["als"]

    return ModelSpec("als-spark", lambda params: Unfitted("als-spark", fit))
