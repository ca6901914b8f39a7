"""`moviebot evaluate` and `moviebot tune`: offline quality, measured on the database ratings.

Thin wrappers: read ratings and the catalogue through `bot.training`, hand them to
`recommender.report` / `recommender.suite`, print Markdown on stdout and progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)

MODELS = (
    "random",
    "genre_profile",
    "popularity",
    "content",
    "als",
    "ease",
    "item_knn",
    "user_knn",
    "svd",
    "hybrid",
)


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        parents=[parent],
        help="measure recommendation quality: every model side by side",
        description="Split the ratings in the database (the protocol in docs/evaluation.md), fit "
        "popularity, content, ALS, EASE and the hybrid on train and score them on test. "
        "Prints a Markdown table; --json and --plot save the figures. Uses the database's "
        "tuned values (tuned.json in its folder of the model directory) when present, as "
        "`train` does.",
    )
    evaluate.add_argument(
        "--protocol",
        default="holdout",
        help="holdout (default), temporal (each user's latest 20%% are test), given-N, e.g. "
        "given-5 (20%% of the users keep N ratings), new-movies (10%% of the movies leave "
        "training; models rank only them; adds genre_popularity), or group (movie-night "
        "strategies)",
    )
    evaluate.add_argument(
        "--groups",
        type=int,
        default=500,
        metavar="N",
        help="with --protocol group: synthetic groups of each kind (default 500)",
    )
    evaluate.add_argument("--k", type=int, default=10, help="list length scored (default 10)")
    evaluate.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    evaluate.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    evaluate.add_argument("--plot", metavar="PATH", help="write a PNG bar chart")
    evaluate.add_argument(
        "--models", metavar="LIST", help=f"comma-separated subset of {','.join(MODELS)}"
    )
    evaluate.add_argument(
        "--peers",
        action="store_true",
        help="also Surprise (SVD, SVD++, KNNBaseline) and cornac (EASE, BPR) on the same split "
        "(needs pip install 'moviebot[peers]')",
    )
    evaluate.add_argument(
        "--tune",
        action="store_true",
        help="run `moviebot tune` first, on the train part of this very split, and use its values",
    )
    _tune_options(evaluate)
    _data_options(evaluate)
    evaluate.add_argument(
        "--cold-share",
        type=float,
        default=0.2,
        metavar="SHARE",
        help="given-N only: cut this share of the eligible users (default 0.2, as in "
        "docs/evaluation.md); the rest stay whole in train, like new users joining a community",
    )
    evaluate.add_argument(
        "--max-users",
        type=int,
        metavar="N",
        help="score a random sample of N test users (for very large data sets)",
    )
    evaluate.add_argument(
        "--spark",
        metavar="MASTER",
        help="also train ALS on Apache Spark at this master (local[2], spark://host:7077, "
        "yarn) and report it as als-spark next to the local als (pip install 'moviebot[spark]')",
    )
    evaluate.add_argument(
        "--ease-memory-gb",
        type=float,
        default=4.0,
        metavar="GB",
        help="skip EASE when its items × items matrices would need more (default 4)",
    )
    evaluate.set_defaults(func=run_evaluate)

    tune = subparsers.add_parser(
        "tune",
        parents=[parent],
        help="choose ALS, blend and re-rank settings on validation data",
        description="Tune ALS (factors, regularization, alpha), the blend weights "
        "(warm on holdout, cold on given-N validation) and the re-rank strength on validation "
        "splits carved from the train part of the holdout evaluation split with this seed "
        "(never its test part). "
        "Writes tuned.json into the database's folder of the model directory, which `train` "
        "and `evaluate` then use for this database.",
    )
    tune.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    tune.add_argument("--k", type=int, default=10, help="list length tuned for (default 10)")
    tune.add_argument(
        "--cold-n", type=int, default=5, help="ratings a cold user has when tuning (default 5)"
    )
    tune.add_argument(
        "--output", metavar="PATH", help="write here instead of the database's tuned.json"
    )
    _tune_options(tune)
    _data_options(tune)
    tune.set_defaults(func=run_tune)


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include-telegram",
        action="store_true",
        help="also use Telegram users' ratings (default: data-set users only)",
    )


def _tune_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--als",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="ALS values to try when tuning, e.g. --als factors=32,64 --als regularization=20 "
        "(default grid: factors 32,64,128 × regularization 5,20,50 × alpha 1,2,5, and past "
        "its edges while validation improves; values given here are tried as given)",
    )


def als_grid(items: list[str]) -> dict[str, list] | None:
    """`--als factors=32,64` options → {"factors": [32, 64]}, typed like ALSConfig's fields."""
    from dataclasses import fields

    from recommender.als import ALSConfig

    if not items:
        return None
    types = {f.name: type(getattr(ALSConfig(), f.name)) for f in fields(ALSConfig)}
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or name not in types or not values.strip():
            raise _cli_error(
                f"--als takes NAME=V1,V2 with NAME one of {', '.join(types)}; got {item!r}"
            )
        try:
            grid[name] = [types[name](v.strip()) for v in values.split(",") if v.strip()]
        except ValueError:
            raise _cli_error(f"--als {name}: {values!r} are not {types[name].__name__}s") from None
        if not grid[name]:
            raise _cli_error(f"--als {name}: give at least one value")
    return grid


def _cli_error(message: str) -> Exception:
    from bot.cli import CLIError  # imported late: bot.cli imports this package

    return CLIError(message)


def _load(settings: Settings, include_telegram: bool) -> tuple[Any, Any]:
    """The catalogue and the ratings to evaluate on; a clear error if there are none."""
    from bot.training import TrainingError, catalog_from_db, ratings_from_db
    from storage.db import Database
    from storage.users import Kind

    if not Path(settings.db_path).is_file():
        raise _cli_error(f"no database at {settings.db_path}: run `moviebot data fetch` first")
    kinds: tuple[Kind, ...] = ("dataset", "telegram") if include_telegram else ("dataset",)
    with Database(settings.db_path) as db:
        catalog = catalog_from_db(db)
        try:
            ratings = ratings_from_db(db, catalog, kinds=kinds)
        except TrainingError as exc:
            raise _cli_error(str(exc)) from None
    if ratings.nnz == 0:
        raise _cli_error(
            "no ratings to evaluate on: run `moviebot data fetch` first"
            + ("" if include_telegram else " (or pass --include-telegram)")
        )
    return catalog, ratings


def _progress() -> Callable[[str, int, int], None]:
    """Progress on stderr: a bar per step on a terminal, one line per step otherwise."""
    from tqdm import tqdm

    state: dict[str, Any] = {"label": None, "bar": None}
    interactive = sys.stderr.isatty()

    def report(label: str, done: int, total: int) -> None:
        if label != state["label"]:
            if state["bar"] is not None:
                state["bar"].close()
                state["bar"] = None
            state["label"] = label
            if total and interactive:
                state["bar"] = tqdm(total=total, desc=label, file=sys.stderr, leave=False)
            else:
                print(f"moviebot: {label}…", file=sys.stderr, flush=True)
        if state["bar"] is not None:
            state["bar"].n = done
            state["bar"].refresh()
            if done >= total:
                state["bar"].close()
                state["bar"] = None

    return report


def _tuned_dir(settings: Settings) -> Path:
    """The folder of this database's tuned.json (its folder of the model directory)."""
    from bot.training import model_folder
    from storage.db import Database

    with Database(settings.db_path) as db:
        return model_folder(db, settings)


def _tuned_path(args: argparse.Namespace, settings: Settings) -> Path:
    from recommender.tuned import TUNED_FILE

    output = getattr(args, "output", None)
    return Path(output) if output else _tuned_dir(settings) / TUNED_FILE


def _tune(args: argparse.Namespace, settings: Settings, catalog: Any, ratings: Any) -> dict:
    """Tune and write tuned.json; returns what was written."""
    from recommender.splits import EvaluationError
    from recommender.tuned import write_tuned
    from recommender.tuning import tune_hybrid

    cold_n = getattr(args, "cold_n", 5)
    if args.k < 1 or cold_n < 1:
        raise _cli_error("--k and --cold-n must be at least 1")
    grid = als_grid(args.als)
    try:
        tuned = tune_hybrid(
            ratings,
            catalog,
            seed=args.seed,
            k=args.k,
            cold_n=cold_n,
            progress=_progress(),
            als_grid=grid,
            protocol=getattr(args, "protocol", "holdout"),
            cold_share=getattr(args, "cold_share", 0.2),
        )
    except EvaluationError as exc:
        raise _cli_error(str(exc)) from None
    path = _tuned_path(args, settings)
    try:
        write_tuned(tuned, path.parent, path.name)
    except OSError as exc:
        raise _cli_error(f"cannot write {path}: {exc.strerror}") from None
    print(f"moviebot: tuned values written to {path}", file=sys.stderr)
    return tuned


def run_tune(args: argparse.Namespace, settings: Settings) -> int:
    """Tune on validation data and save the values `train` will use."""
    from recommender.tuned import summary

    catalog, ratings = _load(settings, args.include_telegram)
    tuned = _tune(args, settings, catalog, ratings)
    chosen = summary(tuned)
    print(
        f"# Tuned on validation ({tuned['protocol']} train part, seed {tuned['seed']}, "
        f"{tuned['metric']}, {tuned['seconds']:.0f} s)\n"
    )
    print(f"- ALS: `{json.dumps(chosen['als'], sort_keys=True)}`")
    print(f"- EASE (ease: established users, ease_new: new ones): `{json.dumps(chosen['ease'])}`")
    print(f"- blend and re-rank: `{json.dumps(chosen['blend'], sort_keys=True)}`")
    print()
    for line in validation_lines(tuned):
        print(f"- {line}")
    return 0


def validation_lines(tuned: dict) -> list[str]:
    """What each tuning stage achieved on validation, one line per stage."""
    from recommender.tuned import validation_summary

    return [
        f"{stage}: validation {metric} {before:.4f} (first tried) → {after:.4f} (chosen)"
        for stage, metric, before, after in validation_summary(tuned)
    ]


def run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Every model side by side on one split; Markdown on stdout, JSON and PNG on request."""
    from bot.engines.spark import spark_als_spec
    from bot.training import TrainingError
    from recommender.report import compare, markdown, plot, write_json
    from recommender.splits import EvaluationError, parse_protocol
    from recommender.suite import standard_specs
    from recommender.tuned import TunedFileError, hybrid_config, read_tuned

    if args.protocol == "group":
        return run_group(args, settings)
    try:
        parse_protocol(args.protocol)
    except EvaluationError as exc:
        raise _cli_error(str(exc)) from None
    if args.k < 1:
        raise _cli_error("--k must be at least 1")
    if not 0.0 < args.cold_share <= 1.0:
        raise _cli_error("--cold-share must be more than 0 and at most 1")
    if args.max_users is not None and args.max_users < 1:
        raise _cli_error("--max-users must be at least 1")
    for path in (args.json, args.plot):
        if path and not Path(path).resolve().parent.is_dir():
            raise _cli_error(f"cannot write {path}: its folder does not exist")
    models = None
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    catalog, ratings = _load(settings, args.include_telegram)
    tuned: dict[str, Any] | None
    if args.tune:
        tuned = _tune(args, settings, catalog, ratings)
    else:
        try:
            tuned = read_tuned(_tuned_dir(settings))
        except TunedFileError as exc:
            raise _cli_error(str(exc)) from None
    engine = _spark_engine(args.spark)
    try:
        with engine:
            specs = standard_specs(
                tuned,
                n_items=len(catalog),
                ease_memory_limit=int(args.ease_memory_gb * 1024**3),
                models=models,
                protocol=args.protocol,
            )
            if args.peers:
                from recommender.peers import peer_specs

                specs += peer_specs()
            if args.spark:
                specs.append(spark_als_spec(engine, hybrid_config(tuned)))
            report = compare(
                ratings,
                catalog,
                specs,
                protocol=args.protocol,
                k=args.k,
                seed=args.seed,
                progress=_progress(),
                max_users=args.max_users,
                cold_share=args.cold_share,
            )
    except (EvaluationError, TrainingError) as exc:
        raise _cli_error(str(exc)) from None
    if args.tune and tuned is not None:
        report["config"] = (
            f"values tuned by --tune on the train part of this split ({tuned['seconds']:.0f} s)"
        )
    elif tuned:
        report["config"] = f"tuned values from {_tuned_dir(settings)}/tuned.json"
    else:
        report["config"] = "the committed defaults (no tuned.json)"
    try:
        if args.json:
            write_json(report, args.json)
        if args.plot:
            plot(report, args.plot)
    except OSError as exc:
        raise _cli_error(f"cannot write {exc.filename}: {exc.strerror}") from None
    sys.stdout.write(markdown(report, command=_command(args)))
    return 0


def _spark_engine(master: str | None) -> Any:
    """A Spark session for `--spark MASTER` (entered around the run), else nothing."""
    from contextlib import nullcontext

    from bot.engines.spark import SparkEngine

    if not master:
        return nullcontext()
    return SparkEngine(master, say=lambda m: print(f"moviebot: {m}", file=sys.stderr, flush=True))


def run_group(args: argparse.Namespace, settings: Settings) -> int:
    """The group protocol (recommender.group_eval): every aggregation strategy and popularity
    on the same synthetic groups; the list length is the poll's 5."""
    from recommender.group_eval import GroupEvaluationError, evaluate_groups, markdown
    from recommender.hybrid import Recommender
    from recommender.report import write_json
    from recommender.splits import holdout_split
    from recommender.tuned import TunedFileError, hybrid_config, read_tuned

    if args.groups < 1:
        raise _cli_error("--groups must be at least 1")
    if args.plot:
        raise _cli_error("--plot is not available with --protocol group (use --json)")
    catalog, ratings = _load(settings, args.include_telegram)
    try:
        tuned = read_tuned(_tuned_dir(settings))
    except TunedFileError as exc:
        raise _cli_error(str(exc)) from None
    train, test = holdout_split(ratings, seed=args.seed)
    print("moviebot: training the hybrid on the holdout train part…", file=sys.stderr)
    model = Recommender.train(train, catalog, hybrid_config(tuned))
    try:
        report = evaluate_groups(
            model, train, test, n_groups=args.groups, seed=args.seed, progress=_progress()
        )
    except GroupEvaluationError as exc:
        raise _cli_error(str(exc)) from None
    report["config"] = "tuned.json" if tuned else "the committed defaults (no tuned.json)"
    if args.json:
        write_json(report, args.json)
    command = shlex.join(
        [
            "moviebot",
            "evaluate",
            "--protocol",
            "group",
            "--groups",
            str(args.groups),
            "--seed",
            str(args.seed),
        ]
        + (["--include-telegram"] if args.include_telegram else [])
    )
    sys.stdout.write(markdown(report, command=command))
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that regenerates this report (options that change figures only)."""
    parts = [
        "moviebot",
        "evaluate",
        "--protocol",
        args.protocol,
        "--k",
        str(args.k),
        "--seed",
        str(args.seed),
    ]
    if args.tune:
        parts.append("--tune")
    if args.peers:
        parts.append("--peers")
    if args.models:
        parts += ["--models", args.models]
    if args.include_telegram:
        parts.append("--include-telegram")
    if args.max_users:
        parts += ["--max-users", str(args.max_users)]
    if args.spark:
        parts += ["--spark", args.spark]
    if args.cold_share != 0.2:
        parts += ["--cold-share", str(args.cold_share)]
    return shlex.join(parts)
