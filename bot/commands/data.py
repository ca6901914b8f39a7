"""`moviebot data fetch | import | info | enrich | import-metadata`: get a MovieLens data set
into the database, and movie metadata from TMDb (online) or The Movies Dataset (offline)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from bot.settings import TMDB_KEYS_PAGE, Settings
from storage import metadata, movies, ratings, users
from storage.db import Database
from storage.importers.fetch import DEFAULT_DATASET, GROUPLENS_DATASETS, GROUPLENS_URL, fetch
from storage.importers.movielens import ImportResult, feature_counts, import_dataset, summary
from storage.importers.movies_dataset import import_metadata

if TYPE_CHECKING:
    from bot.tmdb.enrich import Summary


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
        "name", nargs="?", default=None, choices=GROUPLENS_DATASETS, metavar="NAME",
        help=f"one of {', '.join(GROUPLENS_DATASETS)} (default: the database's own data set, "
             f"or {DEFAULT_DATASET} for a new database)",
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

    enrich_parser = actions.add_parser(
        "enrich", parents=[parent], help="posters, overviews, people and keywords from TMDb",
        description=(
            "Find every catalogue movie on TMDb (by links.csv's TMDb id, else its IMDb id, else "
            "a confident title + year search) and store its overview, poster, directors, cast, "
            "writers and keywords. Needs TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN (free at "
            f"{TMDB_KEYS_PAGE}). An interrupted run resumes where it stopped."
        ),
    )  # fmt: skip
    enrich_parser.add_argument(
        "--refresh", action="store_true", help="fetch every movie again, not only the new ones"
    )
    enrich_parser.add_argument(
        "--limit", type=int, metavar="N", help="at most N movies this run (the rest next time)"
    )
    enrich_parser.add_argument(
        "--concurrency", type=int, default=8, metavar="N",
        help="requests in flight at once (default 8; TMDb allows about 40 a second)",
    )  # fmt: skip
    enrich_parser.set_defaults(func=run_enrich)

    metadata_parser = actions.add_parser(
        "import-metadata", parents=[parent], help="import The Movies Dataset files (offline)",
        description=(
            "Import TMDb metadata from The Movies Dataset: a folder or .zip with "
            "movies_metadata.csv, credits.csv, keywords.csv and links.csv. No API key needed."
        ),
    )  # fmt: skip
    metadata_parser.add_argument("path", metavar="PATH", help="folder or .zip of the files")
    metadata_parser.add_argument(
        "--skip-bad-rows", action="store_true",
        help="leave out rows that cannot be read (listed) instead of importing nothing",
    )  # fmt: skip
    metadata_parser.set_defaults(func=run_import_metadata)

    info_parser = actions.add_parser(
        "info", parents=[parent], help="what the database holds: data set, counts, rating scale"
    )
    info_parser.set_defaults(func=run_info)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


@contextlib.contextmanager
def _removed_if_failed(db_path: str | Path) -> Iterator[None]:
    """A command that creates the database: if it fails (raises), what it created goes again:
    the file, its -wal and -shm companions and the folders made for it, so a retry does not
    meet an empty database. Nothing that existed before the command is ever deleted."""
    path = Path(db_path)
    if str(db_path) == ":memory:" or path.exists():
        yield
        return
    companions = [Path(f"{path}{end}") for end in ("", "-wal", "-shm", "-journal")]
    new_files = [p for p in companions if not p.exists()]
    new_dirs = [p for p in path.absolute().parents if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        for file in new_files:
            file.unlink(missing_ok=True)
        for folder in new_dirs:
            try:
                folder.rmdir()
            except OSError:  # something else was put there meanwhile: leave it
                break
        raise


def run_fetch(args: argparse.Namespace, settings: Settings) -> int:
    with _removed_if_failed(settings.db_path), Database(settings.db_path) as db:
        held = db.get_meta("dataset")
        if args.name is None and held and not args.force:
            # `make run` fetches with no name: a database already set up keeps its data set.
            print(f"{settings.db_path} already holds {held}: nothing to fetch.")
            print(_catalogue_note(db))
            return 0
        result = fetch(
            db, settings.data_dir, args.name or held or DEFAULT_DATASET, base_url=args.base_url,
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
        print(_catalogue_note(db))
    return 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    with _removed_if_failed(settings.db_path), Database(settings.db_path) as db:
        result = import_dataset(db, args.path, progress=sys.stderr.isatty())
        print(_imported(result, settings))
        print(_catalogue_note(db))
    return 0


def run_info(args: argparse.Namespace, settings: Settings) -> int:
    with Database(settings.db_path) as db:
        held = summary(db)
        kinds = feature_counts(db)
        telegram_users = users.count(db, "telegram")
        telegram_ratings = ratings.count(db, "telegram")
        catalogue = movies.catalogue(db)
        described = metadata.counts(db)
    rows = [
        ("database", str(settings.db_path)),
        (
            "data set",
            _dataset(catalogue) if held.dataset else "none yet (run `moviebot data fetch`)",
        ),
        ("movies", _movies(catalogue)),
        ("users", f"{held.users:,} from the data set, {telegram_users:,} on Telegram"),
        ("ratings", f"{held.ratings:,} from the data set, {telegram_ratings:,} on Telegram"),
        ("features", _features(held.features, kinds)),
        ("rating scale", _scale(held) if held.dataset else "-"),
        ("metadata", _metadata(described, catalogue.movies)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    if held.dataset and catalogue.dated(time.gmtime().tm_year):
        print(CURRENT_DATA.format(last=catalogue.last_year))
    return 0


def run_enrich(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import CLIError
    from bot.tmdb.client import TmdbClient, TmdbError
    from bot.tmdb.enrich import enrich

    settings.require_tmdb()
    if args.concurrency < 1 or (args.limit is not None and args.limit < 1):
        raise CLIError("--concurrency and --limit must be at least 1")

    async def run(db: Database) -> Summary:
        client = TmdbClient(
            settings.tmdb_api_base_url, api_key=settings.tmdb_api_key,
            read_access_token=settings.tmdb_read_access_token, concurrency=args.concurrency,
        )  # fmt: skip
        async with client:
            todo = movies.count(db) if args.refresh else movies.count(db) - len(metadata.tried(db))
            with tqdm(total=min(todo, args.limit or todo), unit="movie", disable=None) as bar:
                return await enrich(
                    db, client, refresh=args.refresh, limit=args.limit,
                    workers=args.concurrency, progress=bar.update,
                )  # fmt: skip

    with _removed_if_failed(settings.db_path), Database(settings.db_path) as db:
        if not movies.count(db):
            raise CLIError(f"{settings.db_path} has no movies yet: run `moviebot data fetch`")
        try:
            summary = asyncio.run(run(db))
        except TmdbError as exc:
            raise CLIError(f"{exc}. What was fetched is stored; run again to resume.") from None
        print(_enriched(summary, metadata.counts(db)))
    return 0


def _enriched(summary: Summary, stored: dict[str, int]) -> str:
    """ "Enriched 1,682 movies in 95.0 s: 1,500 by TMDb id, …; 12 unmatched (…)."""
    ways = [("tmdb_id", "by TMDb id"), ("imdb_id", "by IMDb id"), ("search", "by search")]
    done = ", ".join(f"{summary.methods[k]:,} {label}" for k, label in ways)
    lines = [
        f"Enriched {summary.done:,} movies in {summary.seconds:.1f} s: {done}, "
        f"{summary.methods['unmatched']:,} unmatched; {summary.skipped:,} done before."
    ]
    for movie, why in summary.unmatched[:10]:
        lines.append(f"  unmatched: {movie.label} (id {movie.id}): {why}")
    if len(summary.unmatched) > 10:
        lines.append(f"  … and {len(summary.unmatched) - 10:,} more (logged at INFO)")
    held = sum(v for k, v in stored.items() if k != "unmatched")
    lines.append(f"The catalogue has metadata for {held:,} of {summary.total:,} movies.")
    lines.append(TMDB_CREDIT)
    return "\n".join(lines)


TMDB_CREDIT = "This product uses the TMDB API but is not endorsed or certified by TMDB."


def run_import_metadata(args: argparse.Namespace, settings: Settings) -> int:
    with _removed_if_failed(settings.db_path), Database(settings.db_path) as db:
        if not movies.count(db):
            from bot.cli import CLIError

            raise CLIError(f"{settings.db_path} has no movies yet: run `moviebot data fetch`")
        result = import_metadata(db, args.path, skip_bad_rows=args.skip_bad_rows)
    how = ", ".join(f"{n:,} by {way}" for way, n in result.matched.items()) or "none matched"
    print(
        f"Imported metadata for {result.stored:,} of {result.catalogue:,} catalogue movies "
        f"from {result.rows:,} rows in {result.seconds:.1f} s ({how})."
    )
    for bad in result.bad_rows[:10]:
        print(f"  skipped {bad}")
    if len(result.bad_rows) > 10:
        print(f"  … and {len(result.bad_rows) - 10:,} more bad rows skipped")
    return 0


def _catalogue_note(db: Database) -> str:
    """What the bot's catalogue is, and how to get a current one when it is old."""
    catalogue = movies.catalogue(db)
    years = (
        f" from {catalogue.first_year} to {catalogue.last_year}"
        if catalogue.first_year is not None
        else ""
    )
    note = f"Catalogue: {_dataset(catalogue)}, {catalogue.movies:,} movies{years}."
    if catalogue.dated(time.gmtime().tm_year):
        note += CURRENT_DATA.format(last=catalogue.last_year)
    return note


CURRENT_DATA = (
    "\nThis catalogue ends in {last}. For a current one, fetch another data set into a "
    "database of its own\n(one database holds one data set), then point MOVIEBOT_DB at it:\n"
    "  moviebot data fetch ml-latest-small --db data/ml-latest-small.sqlite   # or ml-32m\n"
    "  moviebot data import ml-32m.zip --db data/ml-32m.sqlite               # a zip you downloaded"
)


def _dataset(catalogue: movies.Catalogue) -> str:
    """ "ml-100k (MovieLens 100K)"."""
    if catalogue.name == catalogue.dataset:
        return catalogue.dataset
    return f"{catalogue.dataset} ({catalogue.name})"


def _movies(catalogue: movies.Catalogue) -> str:
    """ "1,682, from 1922 to 1998"."""
    if catalogue.first_year is None or catalogue.last_year is None:
        return f"{catalogue.movies:,}"
    return f"{catalogue.movies:,}, from {catalogue.first_year} to {catalogue.last_year}"


def _metadata(stored: dict[str, int], total: int) -> str:
    """ "1,600 of 1,682 movies (1,500 by TMDb id, …), 82 unmatched" or how to get some."""
    held = sum(n for k, n in stored.items() if k != "unmatched")
    if not stored:
        return "none (moviebot data enrich, or data import-metadata PATH)"
    ways = ", ".join(f"{n:,} {k}" for k, n in sorted(stored.items()) if k != "unmatched")
    return f"{held:,} of {total:,} movies ({ways}), {stored.get('unmatched', 0):,} unmatched"


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
