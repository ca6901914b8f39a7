"""Import TMDb metadata offline from "The Movies Dataset" (Kaggle, Rounak Banik) files.

A folder or .zip with `movies_metadata.csv` (TMDb details, one movie a row), `credits.csv`
(`cast`, `crew`, `id`: the lists as Python literals), `keywords.csv` (`id`, `keywords`) and,
optionally, `links.csv` (`movieId`, `imdbId`, `tmdbId`: MovieLens ids to TMDb's). A catalogue
movie is joined by its MovieLens id through links.csv (never for MovieLens 100K, whose ids are
its own), else by its own TMDb or IMDb id, else by a title and year that exactly one row has.

The lists are parsed with `ast.literal_eval`, which evaluates literals only (never code). A bad
row stops the import with its file and line and nothing is stored (one transaction), unless
`skip_bad_rows` is set: then bad rows are left out and reported.
"""

from __future__ import annotations

import ast
import csv
import io
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage import metadata
from storage import movies as movie_store
from storage.db import Database
from storage.importers.sources import DataFormatError, Source
from storage.metadata import Credited, Metadata
from storage.movies import AKA, Movie, article_in_front, title_parts

REQUIRED = ("movies_metadata.csv", "credits.csv", "keywords.csv")
OWN_IDS = frozenset({"ml-100k"})  # data sets whose movie ids are not MovieLens' shared ones
TOP_CAST = 8
csv.field_size_limit(10_000_000)  # credits.csv holds whole cast lists in one field


@dataclass
class MetadataImport:
    """What an import did."""

    rows: int = 0  # movies in movies_metadata.csv
    matched: dict[str, int] = field(default_factory=dict)  # by links / ids / title
    stored: int = 0
    catalogue: int = 0
    bad_rows: list[str] = field(default_factory=list)  # "file line N: why", when skipped
    seconds: float = 0.0


class BadRow(DataFormatError):
    """A row that cannot be read; the message names the file and the line."""


def _rows(source: Source, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header; the line is where the row starts."""
    with source.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.DictReader(text)
        start = 2
        for row in reader:
            yield start, row
            start = reader.line_num + 1


def _id(value: str | None) -> int:
    if value is None or not value.strip().isdigit():
        raise ValueError(f"id {value!r} is not a number")
    return int(value)


def _number(value: str | None, kind: type[int] | type[float]) -> Any:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return kind(float(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


def _literal_list(value: str | None, column: str) -> list[dict[str, Any]]:
    """A column holding a Python literal list of dicts, read without evaluating any code."""
    try:
        parsed = ast.literal_eval(value or "[]")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{column} is not a list literal") from None
    if not isinstance(parsed, list) or not all(isinstance(x, dict) for x in parsed):
        raise ValueError(f"{column} is not a list of records")
    return parsed


def _people(found: list[dict[str, Any]], limit: int | None = None) -> tuple[Credited, ...]:
    seen: dict[int, Credited] = {}
    for person in found:
        if isinstance(person.get("id"), int) and person.get("name"):
            seen.setdefault(person["id"], Credited(person["id"], str(person["name"])))
    return tuple(seen.values())[:limit]


class _Reader:
    """Reads the files row by row, keeping or collecting the bad ones."""

    def __init__(self, source: Source, skip_bad_rows: bool) -> None:
        self.source = source
        self.skip = skip_bad_rows
        self.bad: list[str] = []

    def each(self, name: str) -> Iterator[tuple[int, dict[str, str]]]:
        if not self.source.has(name):
            raise DataFormatError(f"{name} is missing from {self.source.path}")
        yield from _rows(self.source, name)

    def refuse(self, name: str, line: int, why: str) -> None:
        where = f"{name} line {line}: {why}"
        if not self.skip:
            raise BadRow(f"{self.source.path}: {where} (nothing was imported)")
        self.bad.append(where)


def _details(reader: _Reader) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for line, row in reader.each("movies_metadata.csv"):
        try:
            tmdb_id = _id(row.get("id"))
            found[tmdb_id] = {
                "imdb_id": (row.get("imdb_id") or "").strip() or None,
                "title": row.get("title") or "",
                "original_title": row.get("original_title") or "",
                "year": (row.get("release_date") or "")[:4],
                "overview": (row.get("overview") or "").strip(),
                "tagline": (row.get("tagline") or "").strip(),
                "runtime": _number(row.get("runtime"), int) or None,
                "original_language": (row.get("original_language") or "").strip() or None,
                "poster_path": (row.get("poster_path") or "").strip() or None,
                "backdrop_path": (row.get("backdrop_path") or "").strip() or None,
                "vote_average": _number(row.get("vote_average"), float),
                "vote_count": _number(row.get("vote_count"), int),
            }
        except ValueError as exc:
            reader.refuse("movies_metadata.csv", line, str(exc))
    return found


Credits = tuple[tuple[Credited, ...], tuple[Credited, ...], tuple[Credited, ...]]


def _credits(reader: _Reader) -> dict[int, Credits]:
    """TMDb id → (directors, top cast, writers)."""
    found: dict[int, Credits] = {}
    for line, row in reader.each("credits.csv"):
        try:
            cast = sorted(_literal_list(row.get("cast"), "cast"), key=lambda p: p.get("order", 0))
            crew = _literal_list(row.get("crew"), "crew")
            found[_id(row.get("id"))] = (
                _people([p for p in crew if p.get("job") == "Director"]),
                _people(cast, TOP_CAST),
                _people([p for p in crew if p.get("department") == "Writing"]),
            )
        except (ValueError, TypeError) as exc:
            reader.refuse("credits.csv", line, str(exc))
    return found


def _keywords(reader: _Reader) -> dict[int, list[tuple[int, str]]]:
    found: dict[int, list[tuple[int, str]]] = {}
    for line, row in reader.each("keywords.csv"):
        try:
            words = _literal_list(row.get("keywords"), "keywords")
            found[_id(row.get("id"))] = [
                (w["id"], str(w["name"])) for w in words if isinstance(w.get("id"), int)
            ]
        except (ValueError, KeyError) as exc:
            reader.refuse("keywords.csv", line, str(exc))
    return found


def _links(reader: _Reader) -> dict[int, int]:
    """MovieLens movie id → TMDb id, from links.csv when there is one."""
    if not reader.source.has("links.csv"):
        return {}
    found = {}
    for line, row in reader.each("links.csv"):
        if not (row.get("tmdbId") or "").strip():
            continue  # MovieLens knows no TMDb id for it
        try:
            found[_id(row.get("movieId"))] = _id((row.get("tmdbId") or "").split(".")[0])
        except ValueError as exc:
            reader.refuse("links.csv", line, str(exc))
    return found


def title_key(title: str, year: int | str | None) -> str:
    """A title and year as an exact-match key: case, accents and punctuation ignored."""
    plain = unicodedata.normalize("NFKD", title.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("&", " and ")
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split()) + f"|{year}"


def _names(title: str) -> list[str]:
    main, inner = title_parts(title)
    return [article_in_front(AKA.sub("", n))[0] for n in [main, *inner] if n]


class _Join:
    """Which row of movies_metadata.csv a catalogue movie is, and by what."""

    def __init__(self, details: dict[int, dict[str, Any]], links: dict[int, int]) -> None:
        self.details, self.links = details, links
        self.by_imdb = {d["imdb_id"]: t for t, d in details.items() if d["imdb_id"]}
        self.by_title: dict[str, set[int]] = defaultdict(set)
        for tmdb_id, d in details.items():
            for name in {d["title"], d["original_title"]} - {""}:
                self.by_title[title_key(name, d["year"])].add(tmdb_id)

    def find(self, movie: Movie) -> tuple[int | None, str]:
        """(TMDb id, how it was joined), or (None, "") when no single row is the movie."""
        linked = self.links.get(movie.id)
        if linked is not None and linked in self.details:
            return linked, "links.csv"
        if movie.tmdb_id is not None and movie.tmdb_id in self.details:
            return movie.tmdb_id, "TMDb id"
        if movie.imdb_id and movie.imdb_id in self.by_imdb:
            return self.by_imdb[movie.imdb_id], "IMDb id"
        keys = [title_key(n, movie.year) for n in _names(movie.title)]
        hits = set().union(*(self.by_title.get(k, set()) for k in keys))
        return (hits.pop(), "title and year") if len(hits) == 1 else (None, "")


def import_metadata(
    db: Database, path: str | Path, *, skip_bad_rows: bool = False
) -> MetadataImport:
    """Read the files, join them to the catalogue and store every match in one transaction."""
    started = time.monotonic()
    with Source(path) as source:
        for name in REQUIRED:
            if not source.has(name):
                raise DataFormatError(
                    f"{source.path}: {name} is missing (The Movies Dataset has "
                    f"{', '.join(REQUIRED)} and links.csv)"
                )
        reader = _Reader(source, skip_bad_rows)
        details, people, words = _details(reader), _credits(reader), _keywords(reader)
        links = {} if db.get_meta("dataset") in OWN_IDS else _links(reader)
    join = _Join(details, links)
    result = MetadataImport(rows=len(details), bad_rows=reader.bad)
    counted: dict[str, int] = defaultdict(int)
    now, found = int(time.time()), []
    catalogue = movie_store.all_movies(db)
    for movie in catalogue:
        tmdb_id, how = join.find(movie)
        if tmdb_id is None:
            continue
        counted[how] += 1
        d = details[tmdb_id]
        directors, cast, writers = people.get(tmdb_id, ((), (), ()))
        pairs = words.get(tmdb_id, [])
        found.append(
            Metadata(
                movie.id, "import", now, tmdb_id, d["imdb_id"], d["overview"], d["tagline"],
                d["runtime"], d["original_language"], d["poster_path"], d["backdrop_path"],
                d["vote_average"], d["vote_count"], directors, cast, writers,
                tuple(n for _, n in pairs), tuple(k for k, _ in pairs),
            )
        )  # fmt: skip
    result.stored = metadata.save(db, found)
    result.matched, result.catalogue = dict(counted), len(catalogue)
    result.seconds = time.monotonic() - started
    return result
