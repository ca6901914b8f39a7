"""`moviebot train | recommend | similar`: train the recommender and ask it from the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.cli import CLIError
from bot.settings import Settings
from storage import movies, users
from storage import ratings as rating_store
from storage.db import Database
from storage.search import TitleIndex

if TYPE_CHECKING:  # the models pull in scikit-learn: import them only when a command runs
    from recommender.explain import Reason
    from recommender.filters import Filters
    from recommender.hybrid import Pick, Recommender


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    train_parser = subparsers.add_parser(
        "train", parents=[parent], help="train the recommender on every rating in the database",
        description=(
            "Train every model component on all ratings (data-set and Telegram users), measure "
            "it on a holdout split, save the artifact into the database's own folder of "
            "MOVIEBOT_MODEL_DIR and register it."
        ),
    )  # fmt: skip
    train_parser.add_argument(
        "--if-needed", action="store_true",
        help="only train when the periodic retrain would: no usable model, the data set "
        "imported again, or MOVIEBOT_RETRAIN_MIN_NEW_RATINGS new ratings since the last model",
    )  # fmt: skip
    train_parser.add_argument("--factors", type=int, help="ALS factors (default: tuned value)")
    train_parser.add_argument("--iterations", type=int, help="ALS iterations")
    train_parser.add_argument(
        "--no-validate", action="store_true", help="skip the holdout measurement (faster)"
    )
    _spark_options(train_parser)
    train_parser.set_defaults(func=run_train)

    rec = subparsers.add_parser(
        "recommend", parents=[parent], help="print recommendations for a user",
        description="Recommend movies for a data-set user (ml:196) or a Telegram user id.",
    )  # fmt: skip
    rec.add_argument("--user", required=True, metavar="REF", help="ml:<id> or a Telegram id")
    rec.add_argument("--n", type=int, default=10, help="how many picks (default 10)")
    rec.add_argument("--genre", action="append", default=[], help="only this genre (repeatable)")
    rec.add_argument("--decade", type=int, help="only movies of this decade, e.g. 1990")
    rec.add_argument("--min-ratings", type=int, default=0, help="only movies rated this often")
    rec.add_argument("--diversity", type=float, help="re-rank strength 0–1 (default: tuned)")
    rec.add_argument(
        "--include-watchlist", action="store_true", help="also pick movies on the watchlist"
    )
    rec.add_argument("--json", action="store_true", help="print JSON instead of a list")
    rec.set_defaults(func=run_recommend)

    sim = subparsers.add_parser(
        "similar", parents=[parent], help="print movies similar to a title",
        description="Movies most like TITLE (collaborative and content similarity).",
    )  # fmt: skip
    sim.add_argument("title", metavar="TITLE", help='a title, e.g. "Heat" or "heat 1995"')
    sim.add_argument("--n", type=int, default=10, help="how many movies (default 10)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a list")
    sim.set_defaults(func=run_similar)


def _spark_options(parser: argparse.ArgumentParser) -> None:
    spark = parser.add_argument_group(
        "Apache Spark", "train the ALS parts on Spark (pip install 'moviebot[spark]', Java 17+); "
        "everything else is trained here and the model is the same artifact (docs/scaling.md)",
    )  # fmt: skip
    spark.add_argument(
        "--engine", choices=("local", "spark"), default="local",
        help="where the ALS parts are trained (default: local, with implicit)",
    )  # fmt: skip
    spark.add_argument(
        "--master", metavar="URL",
        help="Spark master: local[2], spark://host:7077, yarn, … (default local[*])",
    )  # fmt: skip
    spark.add_argument(
        "--spark-conf", action="append", default=[], metavar="KEY=VALUE",
        help="a Spark setting, e.g. spark.driver.memory=8g (repeatable)",
    )  # fmt: skip
    spark.add_argument(
        "--spark-dir", metavar="PATH",
        help="where the ratings are exported for Spark and its factors land (default: a "
        "temporary folder; on a cluster, a path every executor reads, e.g. s3://…)",
    )  # fmt: skip
    spark.add_argument(
        "--export-only", metavar="PATH",
        help="only export the ratings (Parquet) and the ALS job to PATH, for a cluster that "
        "cannot read the database; run bot/engines/spark_job.py there, then --import-factors",
    )  # fmt: skip
    spark.add_argument(
        "--import-factors", metavar="PATH",
        help="train with the ALS factors a Spark job wrote to PATH (no Spark needed here)",
    )  # fmt: skip


def _engine(args: argparse.Namespace) -> Any:
    """The engine the options ask for (None: local), or a CLIError for options that clash."""
    from bot.engines.spark import DEFAULT_MASTER, ImportedFactors, SparkEngine, parse_conf
    from bot.training import TrainingError

    cluster = args.master or args.spark_conf or args.spark_dir
    if args.import_factors:
        if cluster or args.engine == "spark":
            raise CLIError("--import-factors takes no --engine, --master, --spark-* options")
        return ImportedFactors(args.import_factors)
    if args.engine == "local":
        if cluster:
            raise CLIError("--master, --spark-conf and --spark-dir need --engine spark")
        return None
    try:
        conf = parse_conf(args.spark_conf)
    except TrainingError as exc:
        raise CLIError(str(exc)) from None
    master = args.master or DEFAULT_MASTER
    return SparkEngine(master, conf, args.spark_dir, say=_progress)


def run_export(args: argparse.Namespace, settings: Settings, overrides: dict) -> int:
    """`train --export-only PATH`: the ratings and the ALS job for a Spark cluster."""
    from bot.engines import spark_job
    from bot.engines.spark import export_database
    from bot.training import TrainingError

    if args.import_factors or args.if_needed or args.engine == "spark" or args.master:
        raise CLIError("--export-only takes none of --import-factors, --if-needed, --engine")
    if args.spark_conf or args.spark_dir:
        raise CLIError("--export-only takes no --spark-conf or --spark-dir (PATH is the place)")
    with Database(settings.db_path) as db:
        try:
            job = export_database(db, settings, args.export_only, _progress, overrides)
        except TrainingError as exc:
            raise CLIError(str(exc)) from None
    print(
        f"exported {job['ratings']:,} ratings of {job['users']:,} users ({job['files']} "
        f"Parquet files) and the ALS job to {args.export_only}\n"
        "run it where Spark runs (only PySpark needed there):\n"
        f"  spark-submit --master yarn {spark_job.__file__} {args.export_only}\n"
        f"then here: moviebot train --import-factors {args.export_only}"
    )
    return 0


def _progress(message: str) -> None:
    print(f"train: {message}", file=sys.stderr, flush=True)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.training import TrainingError, needs_training, train

    overrides = {
        key: value
        for key, value in (("factors", args.factors), ("iterations", args.iterations))
        if value is not None
    }
    if any(v <= 0 for v in overrides.values()):
        raise CLIError("--factors and --iterations must be positive")
    if args.export_only:
        return run_export(args, settings, overrides)
    engine = _engine(args)
    with Database(settings.db_path) as db:
        if args.if_needed:
            reason = needs_training(db, settings)
            if reason is None:
                print("model is up to date; nothing to do", file=sys.stderr)
                return 0
            _progress(reason)
        try:
            result = train(
                db, settings, _progress, overrides=overrides,
                with_validation=not args.no_validate, engine=engine,
            )  # fmt: skip
        except TrainingError as exc:
            raise CLIError(str(exc)) from None
    record = result.record
    print(f"model v{record.version}: {record.path}")
    print(
        f"trained on {record.ratings_seen:,} ratings, {record.counts['users']:,} users, "
        f"{record.counts['items']:,} movies in {result.seconds:.1f} s"
    )
    if record.engine.get("name") != "local":
        print(f"ALS parts trained by {engine_line(record.engine, record.timings)}")
    if record.metrics:
        print("holdout: " + ", ".join(f"{k} {v:g}" for k, v in record.metrics.items()))
    return 0


def engine_line(engine: dict[str, Any], timings: dict[str, Any]) -> str:
    """ "Spark 4.0.1 on local[2] (als 12.1 s, watched 9.8 s)" and the like."""
    where = engine.get("master") or f"a job whose factors came from {engine.get('imported_from')}"
    version = f"Spark {engine['spark_version']}" if engine.get("spark_version") else "Spark"
    seconds = [f"{p} {timings[p]:.1f} s" for p in ("als", "watched") if p in timings]
    return f"{version} on {where}" + (f" ({', '.join(seconds)})" if seconds else "")


def _model(db: Database, settings: Settings) -> Recommender:
    from bot.training import load_current

    model = load_current(db, settings)
    if model is None:
        raise CLIError("no trained model: run `moviebot train` first")
    return model


def _filters(args: argparse.Namespace) -> Filters:
    if args.decade is not None and args.decade % 10:
        raise CLIError(f"--decade takes a decade like 1990, got {args.decade}")
    if args.n <= 0:
        raise CLIError("--n must be positive")
    from recommender.filters import Filters

    return Filters(
        genres=frozenset(args.genre),
        year_min=args.decade,
        year_max=None if args.decade is None else args.decade + 9,
        min_ratings=args.min_ratings,
    )


def run_recommend(args: argparse.Namespace, settings: Settings) -> int:
    filters = _filters(args)
    with Database(settings.db_path) as db:
        user = users.resolve(db, args.user)
        history = rating_store.history(db, user)
        model = _model(db, settings)
        exclude = set(history.dismissed)
        if not args.include_watchlist:
            exclude |= history.watchlist
        picks = model.recommend(
            history.ratings, n=args.n, exclude=exclude, filters=filters,
            diversity=args.diversity,
        )  # fmt: skip
        _print_picks(db, picks, args.json)
    return 0


def run_similar(args: argparse.Namespace, settings: Settings) -> int:
    if args.n <= 0:
        raise CLIError("--n must be positive")
    with Database(settings.db_path) as db:
        index = TitleIndex.from_db(db)
        found = index.search(args.title, limit=1)
        if not found:
            hints = [m.label for m in index.suggest(args.title)]
            tip = f"; did you mean {' or '.join(hints)}?" if hints else ""
            raise CLIError(f"no movie matches {args.title!r}{tip}")
        seed = found[0]
        picks = _model(db, settings).similar(seed.movie_id, n=args.n)
        if not args.json:
            print(f"Movies like {seed.label}:")
        _print_picks(db, picks, args.json)
    return 0


def reason_text(reason: Reason, labels: dict[int, str]) -> str:
    """One short phrase saying why a movie was picked."""
    if reason.kind == "liked" and reason.movie_id in labels:
        return f"because you liked {labels[reason.movie_id]}"
    if reason.kind == "similar" and reason.movie_id in labels:
        return f"similar to {labels[reason.movie_id]}"
    if reason.kind == "taste":
        return "liked by people with taste like yours"
    if reason.kind == "genre" and reason.genre:
        return f"popular with people who like {reason.genre}"
    return "popular now"


def _print_picks(db: Database, picks: Sequence[Pick], as_json: bool) -> None:
    ids = [p.movie_id for p in picks] + [p.reason.movie_id for p in picks if p.reason.movie_id]
    known = movies.get_many(db, ids)
    labels = {m: movie.label for m, movie in known.items()}
    if as_json:
        rows = [
            {
                "movie_id": p.movie_id,
                "title": labels.get(p.movie_id),
                "score": round(p.score, 4),
                "predicted": p.predicted,
                "reason": {"kind": p.reason.kind, "movie_id": p.reason.movie_id,
                           "genre": p.reason.genre, "text": reason_text(p.reason, labels)},
            }
            for p in picks
        ]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not picks:
        print("no movies match (try fewer filters)")
    for rank, pick in enumerate(picks, 1):
        stars = f"  predicted ★{pick.predicted:.1f}" if pick.predicted is not None else ""
        label = labels.get(pick.movie_id, f"movie {pick.movie_id}")
        print(f"{rank:2}. {label}{stars}  — {reason_text(pick.reason, labels)}")
