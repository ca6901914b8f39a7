"""Glue between storage and the recommender: read ratings, train, save, register, load.

`recommender` never sees SQL; this module reads the database into `Catalog`/`Ratings`, trains a
`Recommender`, writes its artifact into `settings.model_dir`, and records it in the `models`
table. A failed training raises `TrainingError` and leaves the registered model untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

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
from recommender.splits import EvaluationError, holdout_split
from recommender.suite import ServedHybrid
from storage import models
from storage import movies as movie_store
from storage import ratings as rating_store
from storage.db import Database
from storage.users import Kind

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEFAULT_SCALE = (1.0, 5.0)
VALIDATION_SEED = 0
KEEP_ARTIFACTS = 3  # newest model files kept on disk (older ones are only in the registry)


class TrainingError(Exception):
    """Training could not produce a model; the current one stays in service."""


@dataclass(frozen=True)
class TrainResult:
    record: models.ModelRecord
    recommender: Recommender
    seconds: float


def catalog_from_db(db: Database) -> Catalog:
    """Every movie in storage with its genres, year and content features."""
    all_movies = movie_store.all_movies(db)
    features = movie_store.features(db)
    return Catalog.build(
        [m.id for m in all_movies],
        [m.title for m in all_movies],
        [m.year for m in all_movies],
        [m.genres for m in all_movies],
        features,
    )


def ratings_from_db(
    db: Database, catalog: Catalog, kinds: tuple[Kind, ...] = ("dataset", "telegram")
) -> Ratings:
    """All ratings of these kinds of users, in the catalogue's item index space."""
    frame = rating_store.frame(db, kinds)
    stars = frame["rating"].to_numpy(np.float32)
    if len(stars) and not np.all(np.isfinite(stars)):
        raise TrainingError("some stored ratings are not numbers: fix the data and retrain")
    low = min(DEFAULT_SCALE[0], float(stars.min())) if len(stars) else DEFAULT_SCALE[0]
    high = max(DEFAULT_SCALE[1], float(stars.max())) if len(stars) else DEFAULT_SCALE[1]
    return Ratings.from_arrays(
        frame["user"].to_numpy(),
        frame["movie"].to_numpy(),
        stars,
        frame["ts"].to_numpy(),
        items=catalog.items,
        scale=(low, high),
    )


def config_for(settings: Settings, overrides: dict | None = None) -> HybridConfig:
    """The committed defaults, overlaid with `<model_dir>/tuned.json` and CLI overrides."""
    from recommender.tuned import hybrid_config, read_tuned

    try:
        config = hybrid_config(read_tuned(settings.model_dir))
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    if overrides:
        config = replace(config, als=replace(config.als, **overrides))
    return config


def needs_training(db: Database, settings: Settings) -> str | None:
    """Why a (re)train is needed, or None if the current model is up to date and loadable."""
    record = models.latest(db)
    if record is None:
        return "no model yet"
    if record.counts.get("snapshot") != models.snapshot(db).as_dict():
        return "ratings or movies changed since the last model"
    try:
        Recommender.load(record.path)
    except ArtifactError as exc:
        return f"model v{record.version} is unusable ({exc})"
    return None


def validate(
    ratings: Ratings, catalog: Catalog, config: HybridConfig, progress: Progress
) -> dict[str, float]:
    """Holdout figures of this configuration (fit on 80%, scored on the rest), for the record:
    the served lists, re-rank included, through the same adapter as `moviebot evaluate`."""
    try:
        train_part, test_part = holdout_split(ratings, seed=VALIDATION_SEED)
        if test_part.nnz == 0:
            return {}
        progress("validating on a holdout split")
        served = ServedHybrid.fit(train_part, catalog, config)
        ranking = measure_ranking(served, train_part, test_part, catalog)
        rating = measure_rating(served, train_part, test_part)
    except (EvaluationError, RecommenderError, ALSError, PredictorError) as exc:
        log.info("validation skipped: %s", exc)
        return {}
    keep = ("ndcg@10", "precision@10", "recall@10", "coverage@10", "users")
    out = {k: round(float(v), 4) for k, v in ranking.items() if k in keep}
    out.update({k: round(float(rating[k]), 4) for k in ("rmse", "mae")})
    return out


def train(
    db: Database,
    settings: Settings,
    progress: Progress | None = None,
    *,
    overrides: dict | None = None,
    with_validation: bool = True,
) -> TrainResult:
    """Train on everything in storage, save the artifact, register it; return the result."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    snap = models.snapshot(db)
    say("reading the catalogue and ratings")
    catalog = catalog_from_db(db)
    ratings = ratings_from_db(db, catalog)
    if ratings.nnz == 0:
        raise TrainingError("no ratings: run `moviebot data fetch` first")
    config = config_for(settings, overrides)
    try:
        metrics = validate(ratings, catalog, config, say) if with_validation else {}
        say(f"training on {ratings.nnz:,} ratings of {len(catalog):,} movies")
        model = Recommender.train(ratings, catalog, config)
    except (ALSError, RecommenderError, PredictorError, np.linalg.LinAlgError) as exc:
        raise TrainingError(f"training failed: {exc}") from exc
    version = models.next_version(db)
    path = Path(settings.model_dir) / f"model-v{version:04d}.npz"
    counts = {**model.info["counts"], "snapshot": snap.as_dict()}
    model = model.with_info(version=version, metrics=metrics, counts=counts)
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
    )
    prune_artifacts(db, settings)
    return TrainResult(record, model, time.perf_counter() - started)


def prune_artifacts(db: Database, settings: Settings, keep: int = KEEP_ARTIFACTS) -> list[Path]:
    """Delete the artifact files of all but the newest `keep` models; returns what went.

    Only files inside the model directory that training wrote (model-v*.npz and their .json)
    are touched; the registry rows stay, as history of what was trained when.
    """
    model_dir = Path(settings.model_dir).resolve()
    removed = []
    for record in models.all_models(db)[keep:]:
        path = Path(record.path).resolve()
        if path.parent != model_dir or not path.name.startswith("model-v"):
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
            model = Recommender.load(record.path)
        except ArtifactError as exc:
            log.warning("model v%d unusable: %s", record.version, exc)
            continue
        catalog = catalog_from_db(db)
        if len(catalog) == 0:
            return model
        return model.with_catalog(catalog, movie_store.rating_counts(db))
    return None
