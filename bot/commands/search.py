"""`moviebot search "QUERY"`: find movies by title, forgiving typos, articles and accents."""

from __future__ import annotations

import argparse
import json

from bot.cli import CLIError
from bot.settings import Settings
from storage import movies
from storage.db import Database
from storage.search import MAX_QUERY_CHARS, Match, TitleIndex

MAX_LIMIT = 100


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    search = subparsers.add_parser(
        "search", parents=[parent], help="find movies by title (fuzzy)",
        description=(
            "Print the movies whose titles best match QUERY, best first: typos, missing or "
            "moved articles, accents, alternative titles and a trailing year are all fine "
            '("toy stroy", "the matrix", "amelie", "la haine", "heat 1995"). Exits with 1 '
            "when nothing matches."
        ),
    )  # fmt: skip
    search.add_argument("query", metavar="QUERY", help='a title, e.g. "godfater" or "heat 1995"')
    search.add_argument(
        "--limit", type=int, default=5, metavar="N", help="how many matches (default 5)"
    )
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.set_defaults(func=run_search)


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search the catalogue of the configured database and print the matches."""
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CLIError(f"--limit must be between 1 and {MAX_LIMIT}")
    if not args.query.strip():
        raise CLIError('the query is empty: give a title, e.g. moviebot search "heat"')
    with Database(settings.db_path) as db:
        index = TitleIndex.from_db(db)
        held = movies.catalogue(db)
    if not len(index):
        raise CLIError(f"{settings.db_path} has no movies yet: run `moviebot data fetch` first")
    found = index.search(args.query, limit=args.limit)
    if not found:
        raise CLIError(_no_match(args.query, index.suggest(args.query), held))
    print(json.dumps([_as_dict(m) for m in found], ensure_ascii=False, indent=2)
          if args.json else format_matches(found))  # fmt: skip
    return 0


def _no_match(query: str, suggestions: list[Match], held: movies.Catalogue) -> str:
    """'no movie matches …', with the closest spellings when there are any, else what the
    catalogue searched is."""
    shown = query if len(query) <= 60 else f"{query[:57]}..."
    if len(query) > MAX_QUERY_CHARS:
        shown += f" (only the first {MAX_QUERY_CHARS} characters were used)"
    message = f"no movie matches {shown!r}"
    if suggestions:
        return message + "; did you mean " + " or ".join(m.label for m in suggestions) + "?"
    years = f" from {held.first_year} to {held.last_year}" if held.last_year else ""
    return f"{message} in {held.name or 'the catalogue'} ({held.movies:,} movies{years})"


def format_matches(matches: list[Match]) -> str:
    """A table: title, id, score, number of ratings."""
    width = max(len("title"), *(len(m.label) for m in matches))
    lines = [f"{'title':<{width}}  {'id':>7}  {'score':>5}  {'ratings':>7}"]
    lines += [
        f"{m.label:<{width}}  {m.movie_id:>7}  {m.score:>5.0f}  {m.popularity:>7,}" for m in matches
    ]
    return "\n".join(lines)


def _as_dict(match: Match) -> dict[str, object]:
    return {
        "movie_id": match.movie_id,
        "title": match.label,
        "matched": match.alias,
        "score": round(match.score),
        "ratings": match.popularity,
    }
