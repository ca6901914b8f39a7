"""`moviebot data fetch | import | info`: get a MovieLens data set into the database."""

from __future__ import annotations

import argparse
import sys

from bot.settings import Settings
from storage import ratings, users
from storage.db import Database
from storage.importers.fetch import DEFAULT_DATASET, GROUPLENS_DATASETS, GROUPLENS_URL, fetch
from storage.importers.movielens import ImportResult, feature_counts, import_dataset, summary


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    data = subparsers.add_parser(
        "data", parents=[parent], help="fetch, import and inspect MovieLens data",
        description="Get a MovieLens data set into the database (one data set per database).",
    )  # fmt: skip
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args, settings: _usage(data))

    fetch_parser = actions.add_parser(
        "fetch", parents=[parent], help="download a data set (default MovieLens 100K), import it",
        description=(
            "Download, verify, cache and import a MovieLens data set. The default, ml-100k, "
            "comes from the Python package index (inside the recbole 1.2.1 wheel); the others "
            "are GroupLens zips checked against their published MD5."
        ),
    )  # fmt: skip
    fetch_parser.add_argument(
        "name", nargs="?", default=DEFAULT_DATASET, choices=GROUPLENS_DATASETS, metavar="NAME",
        help=f"one of {', '.join(GROUPLENS_DATASETS)} (default: {DEFAULT_DATASET})",
    )  # fmt: skip
    fetch_parser.add_argument(
        "--from", dest="base_url", metavar="URL_BASE",
        help=f"where NAME.zip and NAME.zip.md5 are (default: {GROUPLENS_URL}); "
             "for ml-100k, fetch the GroupLens zip instead of the wheel",
    )  # fmt: skip
    fetch_parser.add_argument(
        "--index-url", metavar="URL",
        help="ml-100k only: take the recbole wheel from this package index only "
             "(default: pip's own configuration)",
    )  # fmt: skip
    fetch_parser.add_argument(
        "--force", action="store_true", help="download and import again even if already done"
    )
    fetch_parser.set_defaults(func=run_fetch)

    import_parser = actions.add_parser(
        "import", parents=[parent], help="import a MovieLens folder or .zip you downloaded",
        description=(
            "Import ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest(-small) or RecBole "
            "atomic files from a folder or a .zip. The format is told from the files present."
        ),
    )  # fmt: skip
    import_parser.add_argument("path", metavar="PATH", help="folder or .zip of a data set")
    import_parser.set_defaults(func=run_import)

    info_parser = actions.add_parser(
        "info", parents=[parent], help="what the database holds: data set, counts, rating scale"
    )
    info_parser.set_defaults(func=run_info)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_fetch(args: argparse.Namespace, settings: Settings) -> int:
    with Database(settings.db_path) as db:
        result = fetch(
            db, settings.data_dir, args.name, base_url=args.base_url,
            index_url=args.index_url, force=args.force, progress=sys.stderr.isatty(),
        )  # fmt: skip
    if result.imported:
        print(_imported(result.summary, settings))
    else:
        print(
            f"{result.dataset} is already fetched ({result.archive}) and imported into "
            f"{settings.db_path}: {_counts(result.summary)}. Nothing to do "
            "(--force fetches and imports it again)."
        )
    return 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    with Database(settings.db_path) as db:
        result = import_dataset(db, args.path, progress=sys.stderr.isatty())
    print(_imported(result, settings))
    return 0


def run_info(args: argparse.Namespace, settings: Settings) -> int:
    with Database(settings.db_path) as db:
        held = summary(db)
        kinds = feature_counts(db)
        telegram_users = users.count(db, "telegram")
        telegram_ratings = ratings.count(db, "telegram")
    rows = [
        ("database", str(settings.db_path)),
        ("data set", held.dataset or "none yet (run `moviebot data fetch`)"),
        ("movies", f"{held.movies:,}"),
        ("users", f"{held.users:,} from the data set, {telegram_users:,} on Telegram"),
        ("ratings", f"{held.ratings:,} from the data set, {telegram_ratings:,} on Telegram"),
        ("features", _features(held.features, kinds)),
        ("rating scale", _scale(held) if held.dataset else "-"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


def _counts(result: ImportResult) -> str:
    return (
        f"{result.movies:,} movies, {result.users:,} users, {result.ratings:,} ratings, "
        f"{result.features:,} features"
    )


def _scale(result: ImportResult) -> str:
    return f"{result.rating_min:g} to {result.rating_max:g} in steps of {result.rating_step:g}"


def _features(total: int, kinds: dict[str, int]) -> str:
    if not kinds:
        return "0"
    shown = ", ".join(f"{kind} {n:,}" for kind, n in list(kinds.items())[:6])
    more = ", …" if len(kinds) > 6 else ""
    return f"{total:,} ({shown}{more})"


def _imported(result: ImportResult, settings: Settings) -> str:
    return (
        f"Imported {result.dataset} into {settings.db_path} in {result.seconds:.1f} s: "
        f"{_counts(result)}; ratings {_scale(result)}."
    )
