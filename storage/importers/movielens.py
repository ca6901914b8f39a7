"""Import a MovieLens data set, in any format GroupLens or RecBole ships it, into the database.

Formats, told apart by the files present (a folder or a .zip, see `sources.Source`):

- RecBole atomic files (`ml-100k.inter/.item/.user/.kg/.link`): TSV with typed headers; the
  knowledge graph gives people, genres, countries… as content features.
- ml-100k (`u.data`, `u.item`, `u.user`): tab / pipe separated, Latin-1, 19 genre flags.
- ml-1m, ml-10m (`ratings.dat`, `movies.dat`, `users.dat`, `tags.dat`): `::` separated.
- ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m (`ratings.csv`, `movies.csv`,
  `tags.csv`, `links.csv`): CSV with quoted titles and half-star ratings.

The import is one transaction: a bad line anywhere leaves the database as it was. Ratings
stream in blocks (see `tables`), so ML-32M fits in a few hundred MB.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from storage import movies
from storage.db import Database, StorageError
from storage.importers.sources import DataFormatError, Source
from storage.importers.tables import Chunk, TableSpec, read_chunks
from storage.movies import Movie

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = [
    "DataFormatError",
    "DatasetMismatchError",
    "ImportResult",
    "check_same_dataset",
    "detect",
    "import_dataset",
    "split_title",
]

# ml-100k's u.item genre flags, in file order (u.genre).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
# Genre labels that mean "none".
NO_GENRES = frozenset({"(no genres listed)", "unknown", ""})

# ml-1m users.dat codes an occupation as a number (its README).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

# Knowledge-graph relations (head = a film) → feature kind. Others keep their last name part.
KG_KINDS = {
    "film.film.actor": "actor",
    "film.film.directed_by": "director",
    "film.film.written_by": "writer",
    "film.film.produced_by": "producer",
    "film.film.genre": "genre",
    "film.film.language": "language",
    "film.film.country": "country",
    "film.film.subjects": "subject",
    "film.film.production_companies": "company",
    "film.film.cinematography": "cinematographer",
    "film.film.award_nomination": "award_nomination",
    "film.film.award_won": "award",
    "film.film.rating": "content_rating",
    "film.film.sequel": "sequel",
    "film.film.prequel": "prequel",
}

# Folder names of the same data set that differ from GroupLens' zip names.
ALIASES = {"ml-10m100k": "ml-10m"}

_YEAR = re.compile(r"^(?P<title>.*?)\s*\(\s*(?P<year>\d{4})\s*(?:[-–]\s*(?:\d{4})?\s*)?\)$")
_YEAR_THEN_TAG = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*(?P<tag>\((?:V|TV)\))$")


class DatasetMismatchError(StorageError):
    """The database already holds another data set: one database, one catalogue."""


@dataclass(frozen=True)
class Layout:
    """Which format a data set is in and which of its files to read."""

    format: str  # "recbole", "ml-100k", "dat", "csv"
    dataset: str  # e.g. "ml-100k", "ml-latest-small"
    ratings: TableSpec
    required: tuple[str, ...]
    stem: str = ""  # RecBole files' common name, e.g. "ml-100k"


@dataclass(frozen=True)
class ImportResult:
    """What the database holds for the data set after an import."""

    dataset: str
    movies: int
    users: int
    ratings: int
    features: int
    rating_min: float
    rating_max: float
    rating_step: float
    seconds: float


@dataclass
class _Scale:
    """Running min / max of ratings and whether any is fractional."""

    low: float = float("inf")
    high: float = float("-inf")
    fractional: bool = False

    def add(self, values: np.ndarray) -> None:
        if values.size:
            self.low = min(self.low, float(values.min()))
            self.high = max(self.high, float(values.max()))
            self.fractional = self.fractional or bool(np.any(values != np.floor(values)))


def split_title(raw: str) -> tuple[str, int | None]:
    """'Matrix, The (1999)' → ('Matrix, The', 1999); a title without a year keeps it all."""
    text = raw.strip()
    match = _YEAR.match(text)
    if match and match["title"]:
        return match["title"], int(match["year"])
    match = _YEAR_THEN_TAG.match(text)
    if match and match["title"]:
        return f"{match['title']} {match['tag']}", int(match["year"])
    return text, None


def _genres(labels: Iterable[str]) -> tuple[str, ...]:
    return tuple(g.strip() for g in labels if g.strip() not in NO_GENRES)


def _dataset_name(source: Source, fallback: str) -> str:
    """The data set's name from its folder or zip, e.g. 'ml-latest-small'."""
    name = source.root_name.strip().lower()
    name = ALIASES.get(name, name)
    return name if name.startswith("ml-") else fallback


def detect(source: Source) -> Layout:
    """Tell the format from the files present; a missing companion file is named."""
    inter = source.find_suffix(".inter")
    if inter:
        stem = inter[: -len(".inter")]
        spec = TableSpec(
            inter, "\t", {"user": ("user_id",), "movie": ("item_id",), "rating": ("rating",),
                          "ts": ("timestamp",)}, header=True,
        )  # fmt: skip
        layout = _layout(source, "recbole", stem.lower(), spec, (f"{stem}.item",))
        return Layout(layout.format, layout.dataset, spec, layout.required, stem)
    if source.has("u.data"):
        spec = TableSpec("u.data", "\t", {"user": 0, "movie": 1, "rating": 2, "ts": 3})
        return _layout(source, "ml-100k", "ml-100k", spec, ("u.item",))
    if source.has("ratings.dat"):
        spec = TableSpec(
            "ratings.dat", "\t", {"user": 0, "movie": 1, "rating": 2, "ts": 3},
            replace_sep=b"::",
        )  # fmt: skip
        fallback = "ml-1m" if source.has("users.dat") else "ml-10m"
        return _layout(source, "dat", _dataset_name(source, fallback), spec, ("movies.dat",))
    if source.has("ratings.csv"):
        spec = TableSpec(
            "ratings.csv", ",", {"user": ("userId",), "movie": ("movieId",),
                                 "rating": ("rating",), "ts": ("timestamp",)}, header=True,
        )  # fmt: skip
        name = _dataset_name(source, source.root_name.strip().lower() or "ml-latest")
        return _layout(source, "csv", name, spec, ("movies.csv",))
    raise DataFormatError(
        f"{source.path}: no MovieLens data set found (looked for ratings.csv, ratings.dat, "
        "u.data or a RecBole .inter file)"
    )


def _layout(source: Source, fmt: str, name: str, spec: TableSpec, needs: tuple[str, ...]) -> Layout:
    for required in needs:
        if not source.has(required):
            raise DataFormatError(
                f"{source.path}: {required} is missing (a {fmt} data set needs it next to "
                f"{spec.name})"
            )
    return Layout(fmt, name, spec, needs)


# ---------------------------------------------------------------- movies, users, features


def _field_error(name: str, line: int, message: str) -> DataFormatError:
    return DataFormatError(f"{name} line {line}: {message}")


def _int(text: str, name: str, line: int, what: str) -> int:
    value = text.strip()
    if not value.lstrip("-").isdigit():
        raise _field_error(name, line, f"{what} {value!r} is not a whole number")
    return int(value)


def _optional_int(text: str) -> int | None:
    value = text.strip()
    return int(value) if value.isdigit() else None


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _header_index(name: str, header: str, sep: str, wanted: dict[str, str]) -> dict[str, int]:
    """Positions of the wanted columns in a header line (`item_id:token` counts as `item_id`)."""
    names = [h.split(":", 1)[0].strip() for h in header.split(sep)]
    missing = [col for col in wanted.values() if col not in names]
    if missing:
        raise _field_error(name, 1, f"no {missing[0]!r} column")
    return {key: names.index(col) for key, col in wanted.items()}


def _recbole_movies(source: Source, name: str) -> list[Movie]:
    text = source.read_text(name)
    rows = _lines(text)
    _, header = next(rows, (1, ""))
    cols = _header_index(
        name, header, "\t",
        {"id": "item_id", "title": "movie_title", "year": "release_year", "genres": "class"},
    )  # fmt: skip
    out = []
    for line, row in rows:
        fields = row.split("\t")
        if len(fields) <= max(cols.values()):
            raise _field_error(name, line, f"expected {len(cols)} fields, found {len(fields)}")
        title, title_year = split_title(fields[cols["title"]])
        year = _optional_int(fields[cols["year"]]) or title_year
        genres = _genres(fields[cols["genres"]].split(" "))
        out.append(Movie(_int(fields[cols["id"]], name, line, "item id"), title, year, genres))
    return out


def _ml100k_movies(source: Source) -> list[Movie]:
    out = []
    for line, row in _lines(source.read_text("u.item")):
        fields = row.split("|")
        if len(fields) < 5 + len(ML100K_GENRES):
            raise _field_error(
                "u.item", line, f"expected {5 + len(ML100K_GENRES)} fields, found {len(fields)}"
            )
        title, year = split_title(fields[1])
        if year is None and fields[2].strip()[-4:].isdigit():
            year = int(fields[2].strip()[-4:])  # release date, e.g. 01-Jan-1995
        flags = fields[5 : 5 + len(ML100K_GENRES)]
        genres = _genres(g for g, flag in zip(ML100K_GENRES, flags, strict=True) if flag == "1")
        out.append(Movie(_int(fields[0], "u.item", line, "movie id"), title, year, genres))
    return out


def _dat_movies(source: Source) -> list[Movie]:
    out = []
    for line, row in _lines(source.read_text("movies.dat")):
        movie_id, sep, rest = row.partition("::")
        raw_title, sep2, genres = rest.rpartition("::")
        if not sep or not sep2:
            raise _field_error("movies.dat", line, "expected MovieID::Title::Genres")
        title, year = split_title(raw_title)
        out.append(
            Movie(_int(movie_id, "movies.dat", line, "movie id"), title, year,
                  _genres(genres.split("|")))
        )  # fmt: skip
    return out


def _csv_rows(source: Source, name: str, wanted: dict[str, str]) -> Iterator[tuple[int, dict]]:
    """Rows of a CSV file with a header, as {key: text}, with their line numbers."""
    with source.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text)
        header = next(reader, [])
        missing = [col for col in wanted.values() if col not in header]
        if missing:
            raise _field_error(name, 1, f"no {missing[0]!r} column")
        cols = {key: header.index(col) for key, col in wanted.items()}
        width = max(cols.values()) + 1
        for fields in reader:
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(fields) < width:
                raise _field_error(
                    name, reader.line_num, f"expected {len(header)} fields, found {len(fields)}"
                )
            yield reader.line_num, {key: fields[i] for key, i in cols.items()}


def _csv_movies(source: Source) -> list[Movie]:
    out = []
    for line, row in _csv_rows(source, "movies.csv", {"id": "movieId", "title": "title",
                                                      "genres": "genres"}):  # fmt: skip
        title, year = split_title(row["title"])
        genres = _genres(row["genres"].split("|"))
        out.append(Movie(_int(row["id"], "movies.csv", line, "movieId"), title, year, genres))
    return out


def _csv_links(source: Source) -> dict[int, tuple[str | None, int | None]]:
    """links.csv: movie id → (IMDb id as 'tt0114709', TMDB id)."""
    links: dict[int, tuple[str | None, int | None]] = {}
    if not source.has("links.csv"):
        return links
    wanted = {"id": "movieId", "imdb": "imdbId", "tmdb": "tmdbId"}
    for line, row in _csv_rows(source, "links.csv", wanted):
        imdb = row["imdb"].strip()
        if imdb and not imdb.isdigit():
            raise _field_error("links.csv", line, f"imdbId {imdb!r} is not a number")
        tmdb = row["tmdb"].strip()
        if tmdb and not tmdb.isdigit():
            raise _field_error("links.csv", line, f"tmdbId {tmdb!r} is not a whole number")
        links[_int(row["id"], "links.csv", line, "movieId")] = (
            f"tt{imdb}" if imdb else None,
            int(tmdb) if tmdb else None,
        )
    return links


def read_movies(source: Source, layout: Layout) -> list[Movie]:
    """Every movie of the data set, with IMDb / TMDB ids where the data set has them."""
    if layout.format == "recbole":
        return _recbole_movies(source, layout.required[0])
    if layout.format == "ml-100k":
        return _ml100k_movies(source)
    if layout.format == "dat":
        return _dat_movies(source)
    links = _csv_links(source)
    return [
        Movie(m.id, m.title, m.year, m.genres, *links.get(m.id, (None, None)))
        for m in _csv_movies(source)
    ]


# (external id, age, gender, occupation)
UserRow = tuple[int, int | None, str | None, str | None]


def read_users(source: Source, layout: Layout) -> list[UserRow]:
    """Demographics of the data set's users, where it has them (ml-100k, ml-1m)."""
    if layout.format == "recbole":
        name = f"{layout.stem}.user"
        if not source.has(name):
            return []
        rows = _lines(source.read_text(name))
        _, header = next(rows, (1, ""))
        cols = _header_index(
            name, header, "\t",
            {"id": "user_id", "age": "age", "gender": "gender", "occupation": "occupation"},
        )  # fmt: skip
        return [_user(name, line, row.split("\t"), cols) for line, row in rows]
    if layout.format == "ml-100k" and source.has("u.user"):
        cols = {"id": 0, "age": 1, "gender": 2, "occupation": 3}
        return [
            _user("u.user", line, row.split("|"), cols)
            for line, row in _lines(source.read_text("u.user"))
        ]
    if layout.format == "dat" and source.has("users.dat"):
        cols = {"id": 0, "gender": 1, "age": 2, "occupation": 3}
        users = []
        for line, row in _lines(source.read_text("users.dat")):
            external, age, gender, code = _user("users.dat", line, row.split("::"), cols)
            occupation = code
            if code is not None and code.isdigit() and int(code) < len(ML1M_OCCUPATIONS):
                occupation = ML1M_OCCUPATIONS[int(code)]
            users.append((external, age, gender, occupation))
        return users
    return []


def _user(name: str, line: int, fields: list[str], cols: dict[str, int]) -> UserRow:
    if len(fields) <= max(cols.values()):
        raise _field_error(name, line, f"expected {max(cols.values()) + 1} fields, "
                                       f"found {len(fields)}")  # fmt: skip
    external = _int(fields[cols["id"]], name, line, "user id")
    age = _optional_int(fields[cols["age"]])
    gender = fields[cols["gender"]].strip() or None
    occupation = fields[cols["occupation"]].strip() or None
    return external, age, gender, occupation


Feature = tuple[int, str, str, float]


def read_features(source: Source, layout: Layout) -> list[Feature]:
    """Content features: knowledge-graph entities (RecBole) or user tags (tags.csv / tags.dat)."""
    if layout.format == "recbole":
        return _kg_features(source, layout.stem)
    if layout.format == "csv" and source.has("tags.csv"):
        rows = (
            (row["movie"], row["tag"], line)
            for line, row in _csv_rows(source, "tags.csv", {"movie": "movieId", "tag": "tag"})
        )
        return _tag_features("tags.csv", rows)
    if layout.format == "dat" and source.has("tags.dat"):
        return _tag_features("tags.dat", _dat_tags(source))
    return []


def _dat_tags(source: Source) -> Iterator[tuple[str, str, int]]:
    for line, row in _lines(source.read_text("tags.dat")):
        fields = row.split("::", 2)
        if len(fields) < 3:
            raise _field_error("tags.dat", line, "expected UserID::MovieID::Tag::Timestamp")
        tag = fields[2].rpartition("::")[0] if "::" in fields[2] else fields[2]
        yield fields[1], tag, line


def _tag_features(name: str, rows: Iterable[tuple[str, str, int]]) -> list[Feature]:
    """kind 'tag', the lower-cased tag, weight = how many times it was applied to the movie."""
    counts: Counter[tuple[int, str]] = Counter()
    for movie, tag, line in rows:
        text = " ".join(tag.lower().split())
        if text:
            counts[(_int(movie, name, line, "movieId"), text)] += 1
    return [(movie, "tag", text, float(n)) for (movie, text), n in counts.items()]


def _kg_features(source: Source, stem: str) -> list[Feature]:
    """Film → entity relations of the knowledge graph, joined to movies through the .link file."""
    link_name, kg_name = f"{stem}.link", f"{stem}.kg"
    if not (source.has(link_name) and source.has(kg_name)):
        return []
    rows = _lines(source.read_text(link_name))
    _, header = next(rows, (1, ""))
    cols = _header_index(link_name, header, "\t", {"item": "item_id", "entity": "entity_id"})
    movies_of: dict[str, list[int]] = {}
    for line, row in rows:
        fields = row.split("\t")
        item = _int(fields[cols["item"]], link_name, line, "item id")
        movies_of.setdefault(fields[cols["entity"]].strip(), []).append(item)
    rows = _lines(source.read_text(kg_name))
    _, header = next(rows, (1, ""))
    cols = _header_index(kg_name, header, "\t", {"head": "head_id", "rel": "relation_id",
                                                 "tail": "tail_id"})  # fmt: skip
    out: list[Feature] = []
    for line, row in rows:
        fields = row.split("\t")
        if len(fields) < 3:
            raise _field_error(kg_name, line, f"expected 3 fields, found {len(fields)}")
        relation = fields[cols["rel"]].strip()
        if not relation.startswith("film.film."):
            continue  # the head is a person, genre… not a film
        kind = KG_KINDS.get(relation, relation.rsplit(".", 1)[-1])
        tail = fields[cols["tail"]].strip()
        for movie in movies_of.get(fields[cols["head"]].strip(), ()):
            out.append((movie, kind, tail, 1.0))
    return out


# ---------------------------------------------------------------- writing


def check_same_dataset(db: Database, dataset: str) -> None:
    """Refuse a second, different data set: one database holds one catalogue."""
    current = db.get_meta("dataset")
    if current is not None and current != dataset:
        raise DatasetMismatchError(
            f"this database already holds {current}; importing {dataset} would mix two "
            f"catalogues. Use another database file for it: add `--db {dataset}.sqlite`"
        )


def _upsert_users(db: Database, rows: list[UserRow], now: int) -> None:
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO users (kind, external_id, created_at, age, gender, occupation) "
            "VALUES ('dataset', ?, ?, ?, ?, ?) ON CONFLICT (kind, external_id) DO UPDATE SET "
            "age = excluded.age, gender = excluded.gender, occupation = excluded.occupation",
            [(ext, now, age, gender, occupation) for ext, age, gender, occupation in rows],
        )


class _UserIds:
    """Data-set user id → internal users.id, creating users the first time they appear."""

    def __init__(self, db: Database, now: int) -> None:
        self.db = db
        self.now = now
        self.known: dict[int, int] = dict(
            db.conn.execute("SELECT external_id, id FROM users WHERE kind = 'dataset'")
        )

    def map(self, external: np.ndarray) -> np.ndarray:
        ids, where = np.unique(external, return_inverse=True)
        new = [u for u in ids.tolist() if u not in self.known]
        if new:
            with self.db.write() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO users (kind, external_id, created_at) "
                    "VALUES ('dataset', ?, ?)",
                    [(u, self.now) for u in new],
                )
                for start in range(0, len(new), 500):
                    part = new[start : start + 500]
                    marks = ",".join("?" * len(part))
                    self.known.update(
                        conn.execute(
                            "SELECT external_id, id FROM users WHERE kind = 'dataset' "
                            f"AND external_id IN ({marks})",
                            part,
                        )
                    )
        # this chunk's users only (a few hundred): not an index of every user known so far
        internal = np.fromiter((self.known[u] for u in ids.tolist()), np.int64, count=len(ids))
        return internal[where.ravel()]


# Above this size a ratings file is imported with the ratings table's secondary indexes
# dropped and rebuilt at the end (one sort instead of millions of random B-tree inserts:
# measured 2.4x less CPU on 2M ratings), and with a bigger page cache.
BULK_BYTES = 32 << 20
BULK_CACHE_KIB = 262_144


@contextlib.contextmanager
def _bulk_load(db: Database, size: int, meanwhile: Callable[[], T]) -> Iterator[list[T]]:
    """Inside the import's transaction: for a big file, or into an empty ratings table (a
    first import: nothing to re-index), build the indexes once at the end. `meanwhile` runs
    on a thread of its own as they are built (SQLite sorts without the interpreter lock),
    else after the load; its result is put in the list yielded."""
    done: list[T] = []
    conn = db.conn
    empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM ratings)").fetchone()[0]
    if size < BULK_BYTES and not empty:
        yield done
        done.append(meanwhile())
        return
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings' "
        "AND sql IS NOT NULL"
    ).fetchall()
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        yield done
        with ThreadPoolExecutor(1, thread_name_prefix="import") as pool:
            running = pool.submit(meanwhile)
            for name, sql in indexes:
                log.info("rebuilding index %s", name)
                conn.execute(sql)
            done.append(running.result())
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache)}")


def _import_ratings(
    db: Database,
    source: Source,
    layout: Layout,
    now: int,
    progress: bool,
    meanwhile: Callable[[], T],
) -> tuple[_Scale, T]:
    """Stream the ratings file into the ratings table; returns the rating scale seen, and what
    `meanwhile` gave (see `_bulk_load`)."""
    spec = layout.ratings
    movie_ids = np.array(
        [r[0] for r in db.conn.execute("SELECT id FROM movies ORDER BY id")], dtype=np.int64
    )
    user_ids = _UserIds(db, now)
    scale = _Scale()
    size = source.size(spec.name)
    with (
        _bulk_load(db, size, meanwhile) as done,
        source.open(spec.name) as fh,
        tqdm(total=size, desc=spec.name, unit="B", unit_scale=True, file=sys.stderr,
             disable=not progress, leave=False) as bar,
    ):  # fmt: skip

        def advance(read: int) -> None:
            bar.update(read)

        for chunk in read_chunks(fh, spec, on_bytes=advance):
            users = chunk.integers("user", "user id")
            items = chunk.integers("movie", "movie id")
            stars = chunk.floats("rating", "rating")
            stamps = chunk.integers("ts", "timestamp")
            _check_ratings(chunk, items, stars, movie_ids)
            scale.add(stars)
            internal = user_ids.map(users)
            with db.write() as conn:
                conn.executemany(
                    "INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, "
                    "ts = excluded.ts",
                    zip(internal.tolist(), items.tolist(), stars.tolist(), stamps.tolist(),
                        strict=True),
                )  # fmt: skip
    return scale, done[0]


def _check_ratings(
    chunk: Chunk, items: np.ndarray, stars: np.ndarray, movie_ids: np.ndarray
) -> None:
    """Ratings must be on a half-star scale up to 10 and name a movie of the catalogue."""
    off_scale = np.flatnonzero((stars <= 0) | (stars > 10) | (stars * 2 != np.floor(stars * 2)))
    if off_scale.size:
        row = int(off_scale[0])
        raise chunk.error(row, f"rating {stars[row]:g} is not a star rating (0.5 to 10, in "
                               "steps of 0.5)")  # fmt: skip
    unknown = np.flatnonzero(~np.isin(items, movie_ids))
    if unknown.size:
        row = int(unknown[0])
        raise chunk.error(row, f"movie {items[row]} is not in the data set's movie list")


def import_dataset(
    db: Database,
    path: str | Path,
    *,
    checksum: str | None = None,
    progress: bool = False,
    expect: str | None = None,
) -> ImportResult:
    """Import the data set at `path` (folder or zip) in one transaction.

    Re-importing the same data set updates in place (counts unchanged); a different one is
    refused. `checksum` identifies the downloaded archive, so `fetch` can tell "already
    imported". `expect`, if given, is the data set name the caller downloaded.
    """
    started = time.perf_counter()
    with Source(path) as source:
        layout = detect(source)
        dataset = expect or layout.dataset
        check_same_dataset(db, dataset)
        log.info("importing %s (%s format) from %s", dataset, layout.format, path)
        catalogue = read_movies(source, layout)
        demographics = read_users(source, layout)
        now = int(time.time())
        with db.write():
            movies.upsert_many(db, catalogue)
            _upsert_users(db, demographics, now)
            # the content features are parsed while the ratings' indexes are built
            scale, features = _import_ratings(
                db, source, layout, now, progress, lambda: read_features(source, layout)
            )
            if scale.low == float("inf"):
                raise DataFormatError(f"{layout.ratings.name} has no ratings")
            movies.add_features(db, features)
            step = 0.5 if scale.fractional else 1.0
            for key, value in (
                ("dataset", dataset),
                ("rating_min", f"{scale.low:g}"),
                ("rating_max", f"{scale.high:g}"),
                ("rating_step", f"{step:g}"),
                ("dataset_checksum", checksum or ""),
                ("dataset_imported_at", str(now)),
            ):
                db.set_meta(key, value)
    return summary(db, seconds=time.perf_counter() - started)


def summary(db: Database, seconds: float = 0.0) -> ImportResult:
    """What the database holds now (data-set users and ratings only)."""
    conn = db.conn

    def one(sql: str) -> int:
        return conn.execute(sql).fetchone()[0]

    def meta_float(key: str) -> float:
        value = db.get_meta(key)
        return float(value) if value else 0.0

    return ImportResult(
        dataset=db.get_meta("dataset") or "",
        movies=one("SELECT count(*) FROM movies"),
        users=one("SELECT count(*) FROM users WHERE kind = 'dataset'"),
        ratings=one(
            "SELECT count(*) FROM ratings JOIN users ON users.id = ratings.user_id "
            "WHERE users.kind = 'dataset'"
        ),
        features=one("SELECT count(*) FROM movie_features"),
        rating_min=meta_float("rating_min"),
        rating_max=meta_float("rating_max"),
        rating_step=meta_float("rating_step"),
        seconds=seconds,
    )


def feature_counts(db: Database) -> dict[str, int]:
    """How many content features of each kind the catalogue has, most common first."""
    return dict(
        db.conn.execute(
            "SELECT kind, count(*) FROM movie_features GROUP BY kind ORDER BY count(*) DESC, kind"
        ).fetchall()
    )
