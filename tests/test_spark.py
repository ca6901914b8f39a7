"""`moviebot train --engine spark`, `--export-only`, `--import-factors` and `evaluate --spark`.

The tests that run Spark share one local[2] SparkSession (the JVM takes seconds to start) and
MovieLens 100K, fetched once into pytest's cache the way `moviebot data fetch` does; they are
skipped, saying why, when PySpark, Java 17+ or the data set is not to be had. The others
(what a user sees without Spark or Java, the job file's imports, the confidence mapping) always
run.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bot.cli import main
from bot.engines import spark as spark_engine
from bot.engines import spark_job
from bot.engines.spark import SparkUnavailable, check_spark, spark_ratings, spark_reg_param
from recommender import artifacts
from recommender.als import ALSConfig, confidence
from recommender.config import HybridConfig
from recommender.hybrid import Recommender
from storage import models, movies
from storage.db import Database
from storage.movies import Movie
from tests.test_training import fill

SMALL = ["--factors", "16", "--iterations", "5"]


def cli(db: Path, *args: str) -> int:
    return main(["--env-file", "none.env", "--db", str(db), *args])


# -- without Spark -------------------------------------------------------------------------------


def fake_java(folder: Path, version_line: str) -> Path:
    """A `java` that only answers -version, as an old or odd JDK does."""
    folder.mkdir(parents=True, exist_ok=True)
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return folder


@pytest.fixture
def spark_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyspark and pyarrow import (stand-ins where they are not installed)."""
    for name in ("pyspark", "pyarrow"):
        try:
            __import__(name)
        except ImportError:
            monkeypatch.setitem(sys.modules, name, type(sys)(name))


@pytest.mark.parametrize(
    ("line", "seen"),
    [
        ('openjdk version "11.0.22" 2024-01-16', "is Java 11"),
        ('java version "1.8.0_392"', "is Java 8"),
        ("something else entirely", "is an unknown version"),
    ],
)
def test_an_old_java_is_named_with_the_version_spark_needs(
    tmp_path, monkeypatch, spark_importable, line, seen
):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(fake_java(tmp_path / "bin", line)))
    with pytest.raises(SparkUnavailable) as caught:
        check_spark()
    assert "Java 17 or newer" in str(caught.value) and seen in str(caught.value)


def test_java_home_is_the_java_spark_starts(tmp_path, monkeypatch, spark_importable):
    home = tmp_path / "jdk"
    fake_java(home / "bin", 'openjdk version "21.0.1" 2023-10-17')
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("PATH", str(fake_java(tmp_path / "old", 'java version "1.8.0_1"')))
    check_spark()  # JAVA_HOME's 21 is used, not PATH's 8


def test_train_with_spark_and_no_java_is_one_clean_line_and_no_model(
    tmp_path, monkeypatch, capsys, spark_importable
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    fill(tmp_path / "bot.sqlite")
    assert cli(tmp_path / "bot.sqlite", "train", "--engine", "spark", *SMALL) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Spark needs Java 17 or newer and none was found" in err[-1]
    assert "Traceback" not in "\n".join(err)
    with Database(tmp_path / "bot.sqlite") as db:
        assert models.latest(db) is None


def test_without_pyspark_the_message_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark → ImportError
    fill(tmp_path / "bot.sqlite")
    assert cli(tmp_path / "bot.sqlite", "train", "--export-only", str(tmp_path / "x")) == 1
    assert "pip install 'moviebot[spark]'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--master", "local[2]"], "need --engine spark"),
        (["--import-factors", "x", "--engine", "spark"], "--import-factors takes no"),
        (["--export-only", "x", "--engine", "spark"], "--export-only takes none"),
        (["--engine", "spark", "--spark-conf", "novalue"], "--spark-conf takes key=value"),
    ],
)
def test_clashing_spark_options_are_refused(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    fill(tmp_path / "bot.sqlite")
    assert cli(tmp_path / "bot.sqlite", "train", *args) == 1
    assert message in capsys.readouterr().err


def test_the_spark_job_imports_only_the_standard_library_and_pyspark():
    """A cluster runs bot/engines/spark_job.py alone: it needs neither moviebot nor its
    dependencies."""
    tree = ast.parse(Path(spark_job.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}  # fmt: skip
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module and not n.level}  # fmt: skip
    assert names - {"pyspark", "__future__"} <= set(sys.stdlib_module_names)
    # spark-submit puts the job's folder first on sys.path: no neighbour may shadow the
    # standard library (a bot/profile.py once broke PySpark's own `import cProfile`)
    neighbours = {p.stem for p in Path(spark_job.__file__).parent.glob("*.py")}
    assert neighbours & set(sys.stdlib_module_names) == set()


@pytest.mark.parametrize(
    "cfg",
    [
        ALSConfig(alpha=8.0),
        ALSConfig(alpha=2.0, slope=0.5, negative_weight=0.3),
        ALSConfig(alpha=1.0, positive_from=0.0, slope=0.25),
        ALSConfig(alpha=0.0),
    ],
)
def test_spark_sees_the_confidence_the_local_trainer_gives_implicit(cfg):
    """Spark's ALS weighs an interaction 1 + alpha·|r| and prefers it when r > 0."""
    stars = np.array([0.5, 1, 2, 3, 3.5, 4, 4.5, 5], dtype=np.float32)
    r = spark_ratings(stars, cfg).astype(np.float64)
    local = confidence(sp.csr_matrix(stars[None, :]), cfg).toarray()[0]
    seen = r != 0
    assert np.array_equal(seen, local != 0)
    assert np.allclose(1 + cfg.alpha * np.abs(r[seen]), np.abs(local[seen]), rtol=1e-6)
    assert np.array_equal(r[seen] > 0, local[seen] > 0)


def test_regparam_is_lambda_per_positive_rating_of_the_mean_user():
    users, items = np.array([10, 30, 0]), np.array([5, 5, 10, 0])
    assert spark_reg_param(40.0, users, items) == pytest.approx(2.0)  # 40 / mean(10, 30)
    assert spark_reg_param(40.0, users, items, "item") == pytest.approx(6.0)
    assert spark_reg_param(40.0, users, items, "none") == 40.0


def test_exporting_again_into_a_folder_leaves_none_of_the_former_export(tmp_path):
    """Spark reads every Parquet file of `ratings/`: a former, larger export's files must go,
    and factors trained on it too."""
    pq = pytest.importorskip("pyarrow.parquet")
    pytest.importorskip("pyspark", reason="export checks for the spark extra: pyspark too")
    from tests.recommender import synthetic

    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    spark_engine.export(data, cat, HybridConfig(), str(tmp_path), rows_per_file=100)
    assert len(list((tmp_path / "ratings").glob("*.parquet"))) == 10  # 960 ratings
    (tmp_path / "factors" / "manifest").mkdir(parents=True)
    fewer = synthetic.ratings(cat, n_users=20)
    job = spark_engine.export(fewer, cat, HybridConfig(), str(tmp_path), rows_per_file=100)
    files = sorted((tmp_path / "ratings").glob("*.parquet"))
    assert len(files) == job["files"] == 3 and not (tmp_path / "factors").exists()
    assert sum(pq.read_metadata(f).num_rows for f in files) == fewer.nnz
    assert json.loads((tmp_path / "job.json").read_text())["ratings"] == fewer.nnz


# -- with Spark ----------------------------------------------------------------------------------


def spark_or_skip() -> None:
    try:
        check_spark()
    except SparkUnavailable as exc:
        pytest.skip(f"Spark cannot run here: {exc}")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """One local[2] session for the module; the code under test finds and reuses it."""
    spark_or_skip()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("moviebot tests")
    for key, value in spark_engine.DEFAULT_CONF.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def ml100k(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MovieLens 100K in a database file (the recbole wheel cached across runs)."""
    from storage.importers.fetch import FetchError, fetch

    data = pytestconfig.cache.mkdir("moviebot-data")
    path = tmp_path_factory.mktemp("ml100k") / "ml100k.sqlite"
    try:
        with Database(path) as db:
            fetch(db, data)
    except FetchError as exc:
        pytest.skip(f"MovieLens 100K could not be fetched: {exc}")
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the model directory ("models") is looked up here
    monkeypatch.delenv("MOVIEBOT_MODEL_DIR", raising=False)
    return tmp_path


def submit(export: Path) -> None:
    """`spark-submit spark_job.py EXPORT`, with PySpark's own spark-submit."""
    command = Path(__import__("pyspark").__file__).parent / "bin" / "spark-submit"
    done = subprocess.run(
        [str(command), "--master", "local[1]", spark_job.__file__, str(export)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_evaluate_reports_spark_als_within_ten_percent_of_the_local_one(spark, ml100k, here):
    """The committed ALS settings, mapped to Spark's, on the holdout split of MovieLens 100K."""
    out = here / "report.json"
    assert (
        cli(ml100k, "evaluate", "--models", "als", "--spark", "local[2]", "--json", str(out)) == 0
    )
    report = json.loads(out.read_text())["models"]
    local, on_spark = report["als"]["ndcg@10"], report["als-spark"]["ndcg@10"]
    assert local > 0.3  # a real ALS on MovieLens 100K, not a degenerate one
    assert abs(on_spark - local) <= 0.1 * local, (local, on_spark)


def test_export_job_import_gives_the_model_spark_trains_in_process(spark, ml100k, here, capsys):
    """In-process `--engine spark`, and `--export-only` → the job → `--import-factors`:
    the same artifact (Spark's ALS factors to float noise, everything else to the bit)."""
    db = here / "ml100k.sqlite"
    db.write_bytes(ml100k.read_bytes())
    assert cli(db, "train", "--engine", "spark", "--master", "local[2]", *SMALL) == 0
    out = capsys.readouterr()
    assert "ALS parts trained by Spark" in out.out and "holdout: " in out.out
    assert out.err.count("spark: ALS 'als': rank 16") == 2  # validation's fit and the model's
    export = here / "export"
    assert cli(db, "train", "--export-only", str(export), *SMALL) == 0
    assert "spark-submit" in capsys.readouterr().out
    assert len(list((export / "ratings").glob("part-*.parquet"))) >= 1
    spark_job.run(spark, str(export))  # what spark-submit runs on a cluster
    assert not (export / "factors" / spark_job.CHECKPOINTS).exists()  # its checkpoints went
    assert cli(db, "train", "--import-factors", str(export), *SMALL) == 0
    with Database(db) as conn:
        imported, in_process = models.all_models(conn)[:2]
    assert in_process.engine["name"] == "spark" and in_process.engine["master"] == "local[2]"
    assert imported.engine["imported_from"] == str(export)
    assert imported.timings["als"] > 0 and imported.params == in_process.params
    (a, _), (b, _) = artifacts.load(imported.path), artifacts.load(in_process.path)
    assert a.keys() == b.keys()
    for key in a:  # the ALS parts from Spark, the rest fitted here: the same model
        if key.endswith("item_factors"):
            assert np.abs(a[key]).sum() > 0 and np.allclose(a[key], b[key], atol=1e-4), key
        else:
            assert np.array_equal(a[key], b[key]), key
    history = {50: 5.0, 181: 5.0, 1: 4.0, 127: 2.0}  # Star Wars, Return of the Jedi, …
    picks = [Recommender.load(r.path).ranking(history, n=10) for r in (imported, in_process)]
    assert picks[0] == picks[1]

    # A movie added since the export: its factors no longer fit, and nothing is registered.
    with Database(db) as conn:
        movies.upsert_many(conn, [Movie(99999, "Added Since", 2024, ("Drama",))])
    capsys.readouterr()
    assert cli(db, "train", "--import-factors", str(export), *SMALL) == 1
    assert "trained over another catalogue" in capsys.readouterr().err
    with Database(db) as conn:
        assert models.latest(conn).version == imported.version


def test_the_job_file_runs_alone_under_spark_submit(spark, here):
    """As on a cluster: a JVM of its own, bot/engines/spark_job.py alone (small data: the
    in-process test above already checks the factors)."""
    fill(here / "bot.sqlite")
    tiny = ["--factors", "4", "--iterations", "2"]
    assert cli(here / "bot.sqlite", "train", "--export-only", str(here / "e"), *tiny) == 0
    submit(here / "e")
    assert cli(here / "bot.sqlite", "train", "--import-factors", str(here / "e"), *tiny) == 0
    with Database(here / "bot.sqlite") as db:
        engine = models.latest(db).engine
    assert engine["imported_from"] == str(here / "e")
    assert engine["spark_version"] == __import__("pyspark").__version__  # the job's Spark
