"""Which TMDb movie is a catalogue movie: by the TMDb id from links.csv, else by its IMDb id
(`/find`), else by a title + year search taken only when one result is clearly the movie.

A search result's confidence is the title similarity (0–100, the best of the movie's names
against the result's title and original title, after the same normalisation on both sides)
less `YEAR_PENALTY` per year of difference. The best result is taken at `THRESHOLD` or more
when no other result comes within `MARGIN` of it; otherwise the movie is left unmatched (and
logged), because a wrong poster and cast is worse than none.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from bot.tmdb.client import TmdbClient
from storage.movies import AKA, Movie, article_in_front, title_parts

log = logging.getLogger(__name__)

THRESHOLD = 90.0
MARGIN = 5.0
YEAR_PENALTY = 6.0  # a result one year off still passes with a perfect title; two years off not


@dataclass(frozen=True)
class Match:
    """The TMDb details of a catalogue movie and how it was found ('tmdb_id', 'imdb_id',
    'search'); `details` is None when the movie was not found (`why` says why)."""

    movie_id: int
    method: str
    details: dict[str, Any] | None
    why: str = ""


def normalise(text: str) -> str:
    """Lower case, no accents, '&' as 'and', punctuation as spaces: "Amélie" → "amelie"."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("&", " and ")
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def names(movie: Movie) -> list[str]:
    """The movie's names as TMDb writes titles: "City of Lost Children, The (Cité des enfants
    perdus, La)" → ["The City of Lost Children", "La Cité des enfants perdus"]."""
    main, inner = title_parts(movie.title)
    found = [article_in_front(main)[0]] if main else [movie.title]
    for part in inner:
        part = AKA.sub("", part)
        found.append(article_in_front(part)[0])
    return [n for n in dict.fromkeys(found) if normalise(n)]


def confidence(movie: Movie, result: dict[str, Any]) -> float:
    """How sure we are that a search result is this movie (see the module docstring)."""
    theirs = [normalise(str(result.get(k) or "")) for k in ("title", "original_title")]
    ours = [normalise(n) for n in names(movie)]
    similarity = max((fuzz.ratio(a, b) for a in ours for b in theirs if a and b), default=0.0)
    year = str(result.get("release_date") or "")[:4]
    if movie.year and year.isdigit():
        similarity -= YEAR_PENALTY * abs(int(year) - movie.year)
    elif movie.year:
        similarity -= YEAR_PENALTY  # TMDb has no date: a little less sure
    return float(similarity)


def best_result(movie: Movie, results: list[dict[str, Any]]) -> tuple[int | None, str]:
    """The TMDb id of the one result that is clearly this movie, or None and why not."""
    scored = sorted(((confidence(movie, r), int(r["id"])) for r in results), reverse=True)
    if not scored:
        return None, "no search results"
    (best, tmdb_id), rest = scored[0], scored[1:]
    if best < THRESHOLD:
        return None, f"best search result {tmdb_id} only {best:.0f}% sure"
    if rest and rest[0][0] >= best - MARGIN:
        return None, f"ambiguous: results {tmdb_id} and {rest[0][1]} are both {best:.0f}% sure"
    return tmdb_id, ""


def imdb_tag(imdb_id: str | None) -> str | None:
    """ "0113277" or "113277" or "tt0113277" → "tt0113277"."""
    if not imdb_id:
        return None
    digits = imdb_id.removeprefix("tt")
    return f"tt{int(digits):07d}" if digits.isdigit() else None


async def match(client: TmdbClient, movie: Movie) -> Match:
    """Find `movie` on TMDb: by its TMDb id, its IMDb id, or a confident title search."""
    if movie.tmdb_id:
        details = await client.details(movie.tmdb_id)
        if details is not None:
            return Match(movie.id, "tmdb_id", details)
    tag = imdb_tag(movie.imdb_id)
    if tag is not None:
        for found in await client.find_imdb(tag):
            details = await client.details(int(found["id"]))
            if details is not None:
                return Match(movie.id, "imdb_id", details)
    tmdb_id, why = await _search(client, movie)
    if tmdb_id is None:
        log.info("TMDb: movie %s (%s) unmatched: %s", movie.id, movie.label, why)
        return Match(movie.id, "unmatched", None, why)
    details = await client.details(tmdb_id)
    if details is None:
        return Match(movie.id, "unmatched", None, f"search result {tmdb_id} has no details")
    return Match(movie.id, "search", details)


async def _search(client: TmdbClient, movie: Movie) -> tuple[int | None, str]:
    """Search each of the movie's names with its year, then without (TMDb's date may be a year
    off, as festival and release years differ); the first confident answer wins."""
    why = "no name to search for"
    for year in dict.fromkeys([movie.year, None]):
        results: dict[int, dict[str, Any]] = {}
        for name in names(movie):
            for result in await client.search_movie(name, year):
                results.setdefault(int(result["id"]), result)
        tmdb_id, why = best_result(movie, list(results.values()))
        if tmdb_id is not None or why.startswith("ambiguous"):
            return tmdb_id, why
    return None, why
