"""Glue between storage and the recommender: read ratings, train, save, register, load.

`recommender` never sees SQL; this module reads the database into `Catalog`/`Ratings`, trains a
`Recommender`, writes its artifact into the database's own folder of `settings.model_dir`, and
records it in the `models` table. A failed training raises `TrainingError` and leaves the
registered model untouched.

Model files belong to their database: `<model dir>/<db file stem>-<8 hex>/model-vNNNN.npz`
(with its `.json`) and that database's `tuned.json`, so databases sharing a model directory
never overwrite or prune each other's files. A database trained by an older moviebot, whose
registry points at `<model dir>/model-vNNNN.npz`, keeps loading those files (they are never
deleted) and gets a copy of the shared `<model dir>/tuned.json` in its folder.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.settings import Settings
from recommender.als import ALSError
from recommender.artifacts import ArtifactError
from recommender.component import RecommenderError
from recommender.config import HybridConfig
from recommender.data import Catalog, Ratings
from recommender.evaluate import measure_ranking, measure_rating
from recommender.hybrid import Recommender
from recommender.predict import PredictorError
from recommender.splits import EvaluationError, holdout_counts, split_by_rank
from recommender.suite import ServedHybrid
from recommender.tuned import TUNED_FILE
from storage import metadata as metadata_store
from storage import models
from storage import movies as movie_store
from storage import ratings as rating_store
from storage.db import Database
from storage.users import Kind

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEFAULT_SCALE = (1.0, 5.0)
VALIDATION_SEED = 0
# Validation holds out 20% of the ratings of a fixed, seeded sample of users and scores only
# them, so its cost stops growing with the number of users: at most VALIDATION_USERS, and no
# more than keeps the held-out ratings within SERVE_VALIDATED_SHARE of all (but never fewer
# than MIN_VALIDATION_USERS).
VALIDATION_USERS = 2_000
MIN_VALIDATION_USERS = 500
# When what was held out is at most this share of all ratings (a large data set), the model
# fitted for validation is the one served: a second fit on everything would double the
# training for under 1% of the ratings, which fold-in still reads for their own users.
SERVE_VALIDATED_SHARE = 0.01
KEEP_ARTIFACTS = 3  # newest model files kept on disk (older ones are only in the registry)
RATINGS_CACHE = "ratings-cache.npy"  # the data set's ratings, in the database's model folder
OLD_RATINGS_CACHE = "ratings-cache.npz"  # the same, as earlier versions kept it (a slower zip)


class TrainingError(Exception):
    """Training could not produce a model; the current one stays in service."""


@dataclass(frozen=True)
class TrainResult:
    record: models.ModelRecord
    recommender: Recommender
    seconds: float


@dataclass(frozen=True)
class Fitted:
    """Components an engine trained (the ALS parts Spark trained), their seconds and what the
    registry should know of how."""

    parts: Mapping[str, Any]
    timings: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """Where some components are trained (`bot.engines.spark`); the rest is fitted here.
    Entered once around a training (`with engine:`), so a session serves every fit."""

    validates: bool  # False: it cannot fit a holdout part (factors imported from a path)

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    def fit(self, ratings: Ratings, catalog: Catalog, config: HybridConfig) -> Fitted: ...


def catalog_from_db(db: Database) -> Catalog:
    """Every movie in storage with its genres, year and content features: the data set's
    (knowledge-graph entities, tags) and TMDb's (people, keywords, overview) where stored."""
    all_movies = movie_store.all_movies(db)
    features = movie_store.features(db)
    for movie_id, extra in metadata_store.features(db).items():
        features[movie_id] = [*features.get(movie_id, []), *extra]
    return Catalog.build(
        [m.id for m in all_movies],
        [m.title for m in all_movies],
        [m.year for m in all_movies],
        [m.genres for m in all_movies],
        features,
    )


def ratings_from_db(
    db: Database,
    catalog: Catalog,
    kinds: tuple[Kind, ...] = ("dataset", "telegram"),
    cache: Path | None = None,
) -> Ratings:
    """All ratings of these kinds of users, in the catalogue's item index space; `cache`: the
    file that keeps the data set's ratings between retrains (`storage.ratings.columns`)."""
    read = rating_store.columns(db, kinds, cache)
    stars = read["rating"].astype(np.float32, copy=False)
    if len(stars) and not np.all(np.isfinite(stars)):
        raise TrainingError("some stored ratings are not numbers: fix the data and retrain")
    low = min(DEFAULT_SCALE[0], float(stars.min())) if len(stars) else DEFAULT_SCALE[0]
    high = max(DEFAULT_SCALE[1], float(stars.max())) if len(stars) else DEFAULT_SCALE[1]
    return Ratings.from_arrays(
        read["user"],
        read["movie"],
        stars,
        read["ts"],
        items=catalog.items,
        scale=(low, high),
    )


def model_folder(db: Database, settings: Settings) -> Path:
    """This database's folder in the model directory: its model files and its tuned.json.

    The first time (a new database, one trained by an older moviebot, or a copy of another
    database) the tuned values it used so far come along: a copy's from the original's
    folder, an older moviebot's from the shared `<model dir>/tuned.json`.
    """
    folder = models.folder(db)
    path = Path(settings.model_dir) / folder.name
    if not folder.new:
        return path
    upgraded = folder.copied_from is None and _old_layout(db, settings)
    tuned = None
    if folder.copied_from is not None:
        tuned = Path(settings.model_dir) / folder.copied_from / TUNED_FILE
    elif upgraded:
        tuned = Path(settings.model_dir) / TUNED_FILE
    if tuned is not None and tuned.is_file() and not (path / TUNED_FILE).exists():
        try:
            path.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tuned, path / TUNED_FILE)
        except OSError as exc:
            log.warning("cannot copy %s into %s: %s", tuned, path, exc)
        else:
            log.info("tuned values are kept per database now: copied %s to %s", tuned, path)
    if upgraded:
        log.info(
            "model files of %s go to %s from now on; those an older moviebot wrote into %s "
            "itself stay there (they are never pruned)",
            db.path,
            path,
            settings.model_dir,
        )
    else:
        log.info("model files of %s go to %s", db.path, path)
    return path


def _old_layout(db: Database, settings: Settings) -> bool:
    """Was this database trained by a moviebot that kept every model file in the model
    directory itself?"""
    top = Path(settings.model_dir).resolve()
    return any(Path(r.path).resolve().parent == top for r in models.all_models(db))


def config_for(db: Database, settings: Settings, overrides: dict | None = None) -> HybridConfig:
    """The committed defaults, overlaid with this database's tuned.json and CLI overrides."""
    from recommender.tuned import hybrid_config, read_tuned

    folder = model_folder(db, settings)
    shared = Path(settings.model_dir) / TUNED_FILE
    if shared.is_file() and not (folder / TUNED_FILE).is_file():
        log.warning(
            "%s is not used: tuned values belong to each database now (this one's: %s); "
            "run `moviebot tune` for it, or move the file there if it was tuned on this data",
            shared,
            folder / TUNED_FILE,
        )
    try:
        config = hybrid_config(read_tuned(folder))
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    if overrides:
        config = replace(config, als=replace(config.als, **overrides))
    return config


def load_record(record: models.ModelRecord) -> Recommender:
    """The model a registry entry names; `ArtifactError` if its file is unusable or holds
    another model (an older moviebot let two databases write the same file name)."""
    model = Recommender.load(record.path)
    stamp = model.info.get("counts", {}).get("snapshot")
    if model.info.get("version") != record.version or stamp != record.counts.get("snapshot"):
        raise ArtifactError(
            f"{record.path} holds another model than v{record.version} (another database "
            "wrote the same file)"
        )
    return model


def needs_training(db: Database, settings: Settings, serving: int | None = None) -> str | None:
    """Why `train --if-needed` and the periodic retrain should train now, or None.

    They train when there is no usable model (none yet, a damaged or missing file, an older
    artifact format), when the data set was imported again, or once at least
    `settings.retrain_min_new_ratings` ratings were made since the last model: fewer new
    ratings already count through fold-in. `serving` is the version the bot serves (it loaded,
    so it is not loaded again).
    """
    record = models.latest(db)
    if record is None:
        return "no model yet"
    if record.version != serving:
        try:
            load_record(record)
        except ArtifactError as exc:
            return f"model v{record.version} is unusable ({exc})"
    if _imported_since(db, record):
        return f"the data set was imported again since model v{record.version}"
    new = models.new_ratings(db, record)
    if new and new >= settings.retrain_min_new_ratings:
        return (
            f"{new} new ratings since model v{record.version} "
            f"(MOVIEBOT_RETRAIN_MIN_NEW_RATINGS={settings.retrain_min_new_ratings})"
        )
    return None


def _imported_since(db: Database, record: models.ModelRecord) -> bool:
    stamp = models.dataset_stamp(db)
    if "dataset" in record.counts:
        return bool(record.counts["dataset"] != stamp)
    imported = stamp.get("dataset_imported_at")  # a model from before the stamp was recorded
    return bool(imported) and int(imported or 0) > record.created_at


def validation_split(ratings: Ratings, users: int | None = None) -> tuple[Ratings, Ratings]:
    """The holdout split with test ratings of a seeded sample of users (`users`, by default
    as many as the constants above allow); every other user's ratings all stay in train."""
    n_test = holdout_counts(ratings)
    tested = np.flatnonzero(n_test)
    if users is None:
        per_user = n_test.sum() / max(len(tested), 1)
        fits = int(0.9 * SERVE_VALIDATED_SHARE * ratings.nnz / max(per_user, 1.0))  # a margin
        users = max(MIN_VALIDATION_USERS, min(VALIDATION_USERS, fits))
    if len(tested) > users:
        chosen = np.zeros(len(n_test), dtype=bool)
        chosen[np.random.default_rng(VALIDATION_SEED).choice(tested, users, replace=False)] = True
        n_test = np.where(chosen, n_test, 0)
    return split_by_rank(ratings, n_test, VALIDATION_SEED)


def validate(
    ratings: Ratings,
    catalog: Catalog,
    config: HybridConfig,
    progress: Progress,
    engine: Engine | None = None,
) -> tuple[dict[str, float], Recommender | None]:
    """Holdout figures of this configuration (fit without 20% of the ratings of a sample of
    users, scored on those), for the record: the served lists, re-rank included, through the
    same adapter as `moviebot evaluate`; `engine` trains its components of that model too.
    Also the model fitted for it when it may be served (`SERVE_VALIDATED_SHARE`), else None."""
    try:
        train_part, test_part = validation_split(ratings)
        if test_part.nnz == 0:
            return {}, None
        progress("validating on a holdout split")
        fitted = engine.fit(train_part, catalog, config).parts if engine else None
        served = ServedHybrid(Recommender.train(train_part, catalog, config, fitted))
        ranking = measure_ranking(served, train_part, test_part, catalog)
        # the stars of every movie for 256 users at a time: ~100 MB at ml-32m's 87,000 movies
        rating = measure_rating(served, train_part, test_part, batch=256)
    except (EvaluationError, RecommenderError, ALSError, PredictorError) as exc:
        log.info("validation skipped: %s", exc)
        return {}, None
    keep = ("ndcg@10", "precision@10", "recall@10", "coverage@10", "users")
    out = {k: round(float(v), 4) for k, v in ranking.items() if k in keep}
    out.update({k: round(float(rating[k]), 4) for k in ("rmse", "mae")})
    share = test_part.nnz / max(ratings.nnz, 1)
    out["held_out_share"] = round(share, 5)
    return out, served.model if share <= SERVE_VALIDATED_SHARE else None


def train(
    db: Database,
    settings: Settings,
    progress: Progress | None = None,
    *,
    overrides: dict | None = None,
    with_validation: bool = True,
    engine: Engine | None = None,
) -> TrainResult:
    """Train on everything in storage, save the artifact, register it; return the result.
    `engine` trains the components it can (Spark: the ALS parts), this process the rest."""
    say = progress or (lambda message: None)
    db.check_writable()  # a read-only database: StorageUnavailable now, not after training
    started = time.perf_counter()
    taken_at, stamp = int(time.time()), models.dataset_stamp(db)
    say("reading the catalogue and ratings")
    catalog = catalog_from_db(db)
    folder = model_folder(db, settings)
    (folder / OLD_RATINGS_CACHE).unlink(missing_ok=True)
    ratings = ratings_from_db(db, catalog, cache=folder / RATINGS_CACHE)
    if ratings.nnz == 0:
        raise TrainingError("no ratings: run `moviebot data fetch` first")
    times = ratings.timestamps.data if ratings.timestamps is not None else np.zeros(0)
    snap = models.snapshot_of(len(catalog), ratings.matrix.data, times, taken_at)
    config = config_for(db, settings, overrides)
    if with_validation and engine is not None and not engine.validates:
        say("no holdout validation: the imported factors were trained on every rating")
        with_validation = False
    fitted = Fitted({})  # what the engine fitted for the served model (none: all here)
    try:
        with engine if engine is not None else nullcontext():
            metrics, model = (
                validate(ratings, catalog, config, say, engine) if with_validation else ({}, None)
            )
            if model is None:
                say(f"training on {ratings.nnz:,} ratings of {len(catalog):,} movies")
                fitted = engine.fit(ratings, catalog, config) if engine else fitted
                model = Recommender.train(ratings, catalog, config, fitted.parts)
            described = engine.describe() if engine else {"name": "local"}
    except (ALSError, RecommenderError, PredictorError, np.linalg.LinAlgError) as exc:
        raise TrainingError(f"training failed: {exc}") from exc
    version = models.next_version(db)
    path = folder / f"model-v{version:04d}.npz"
    counts = {**model.info["counts"], "snapshot": snap.as_dict(), "dataset": stamp}
    timings = {**model.info["timings"], **fitted.timings}
    described = {**described, **fitted.info}
    model = model.with_info(
        version=version, metrics=metrics, counts=counts, timings=timings, engine=described
    )
    say(f"saving {path}")
    try:
        model.save(path)
    except OSError as exc:
        raise TrainingError(f"cannot write the model to {path}: {exc}") from exc
    record = models.register(
        db,
        version,
        str(path),
        params=model.info["params"],
        metrics=metrics,
        counts=counts,
        timings=model.info["timings"],
        ratings_seen=ratings.nnz,
        engine=described,
    )
    prune_artifacts(db, settings)
    return TrainResult(record, model, time.perf_counter() - started)


def prune_artifacts(db: Database, settings: Settings, keep: int = KEEP_ARTIFACTS) -> list[Path]:
    """Delete the artifact files of all but the newest `keep` models; returns what went.

    Only this database's files are touched (model-v*.npz and their .json in its own folder):
    not another database's, nor those an older moviebot wrote into the model directory itself,
    which two databases may both name. The registry rows stay, as history of what was trained
    when.
    """
    folder = model_folder(db, settings).resolve()
    removed = []
    for record in models.all_models(db)[keep:]:
        path = Path(record.path).resolve()
        if path.parent != folder or not path.name.startswith("model-v"):
            continue
        for file in (path, path.with_name(path.name + ".json")):
            if file.is_file():
                file.unlink()
                removed.append(file)
    return removed


def load_current(db: Database, settings: Settings) -> Recommender | None:
    """The newest registered model that loads, over the current catalogue; None if none does.

    A damaged or missing artifact is logged and skipped for the previous version, so the bot
    keeps serving something; movies added since training join through content and popularity.
    """
    for record in models.all_models(db):
        try:
            model = load_record(record)
        except ArtifactError as exc:
            log.warning("model v%d unusable: %s", record.version, exc)
            continue
        catalog = catalog_from_db(db)
        if len(catalog) == 0:
            return model
        return model.with_catalog(catalog, movie_store.rating_counts(db))
    return None
