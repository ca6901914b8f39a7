"""The movie catalogue: titles, years, genres and content features."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from storage.db import Database

# Articles that MovieLens moves to the end of a name: "Matrix, The", "Haine, La", "Boot, Das".
ARTICLES = frozenset(
    [
        "the",
        "a",
        "an",
        "le",
        "la",
        "les",
        "l'",
        "il",
        "lo",
        "gli",
        "i",
        "un",
        "une",
        "uno",
        "una",
        "el",
        "los",
        "las",
        "o",
        "os",
        "as",
        "um",
        "uma",
        "der",
        "die",
        "das",
        "ein",
        "eine",
        "de",
        "het",
        "een",
        "en",
        "ett",
        "den",
        "det",
    ]
)
_TRAILING_ARTICLE = re.compile(r"^(?P<name>.+),\s*(?P<article>[^\s,]+)$")
# A parenthesised part after a space: "Frontière(s)" is one word.
_TRAILING_PARENS = re.compile(r"^(?P<rest>.*\S)\s+\((?P<inner>[^()]*)\)\s*$")
AKA = re.compile(r"^\s*(?:a\.?k\.?a\.?|aka)\s+", re.IGNORECASE)


def article_in_front(name: str) -> tuple[str, bool]:
    """ "Matrix, The" → ("The Matrix", True); "Année dernière, L'" → ("L'Année dernière", True);
    a name without a moved article comes back as it is, with False."""
    m = _TRAILING_ARTICLE.match(name)
    if not m or m["article"].casefold() not in ARTICLES:
        return name, False
    article = m["article"]
    glue = "" if article.endswith(("'", "’")) else " "
    return f"{article}{glue}{m['name']}", True


def title_parts(title: str) -> tuple[str, list[str]]:
    """A MovieLens title's main name and its parenthesised parts, in order, as written:
    "Hate (Haine, La)" → ("Hate", ["Haine, La"])."""
    rest, inner = title.strip(), list[str]()
    while m := _TRAILING_PARENS.match(rest):
        inner.insert(0, m["inner"].strip())
        rest = m["rest"]
    return rest, inner


def display_title(title: str) -> str:
    """How a title reads everywhere (chat, command line, export): every name with its article
    back in front. 'Matrix, The' → 'The Matrix'; 'Hate (Haine, La)' → 'Hate (La Haine)';
    'City of Lost Children, The (Cité des enfants perdus, La)' → 'The City of Lost Children
    (La Cité des enfants perdus)'; "(a.k.a. …)" and other parentheses keep their place."""
    main, inner = title_parts(title)
    if not main:
        return title.strip()
    parts = [article_in_front(main)[0]]
    for part in inner:
        aka = AKA.match(part)
        prefix = aka[0] if aka else ""
        parts.append(f"({prefix}{article_in_front(part[len(prefix) :])[0]})")
    return " ".join(parts)


@dataclass(frozen=True)
class Movie:
    id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    imdb_id: str | None = None
    tmdb_id: int | None = None

    @property
    def label(self) -> str:
        """'The Matrix (1999)': how a movie is named in chat and on the command line."""
        name = display_title(self.title)
        return f"{name} ({self.year})" if self.year else name


def _movie(row: tuple) -> Movie:
    genres = tuple(g for g in row[3].split("|") if g)
    return Movie(row[0], row[1], row[2], genres, row[4], row[5])


_COLUMNS = "id, title, year, genres, imdb_id, tmdb_id"


def get(db: Database, movie_id: int) -> Movie | None:
    row = db.conn.execute(f"SELECT {_COLUMNS} FROM movies WHERE id = ?", (movie_id,)).fetchone()
    return None if row is None else _movie(row)


def get_many(db: Database, ids: Iterable[int]) -> dict[int, Movie]:
    """Movies by id; ids not in the catalogue are left out."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    found: dict[int, Movie] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.conn.execute(f"SELECT {_COLUMNS} FROM movies WHERE id IN ({marks})", chunk):
            found[row[0]] = _movie(row)
    return found


def all_movies(db: Database) -> list[Movie]:
    return [_movie(r) for r in db.conn.execute(f"SELECT {_COLUMNS} FROM movies ORDER BY id")]


def count(db: Database) -> int:
    return db.conn.execute("SELECT count(*) FROM movies").fetchone()[0]


def upsert_many(db: Database, movies: Iterable[Movie]) -> int:
    """Insert or update movies by id; returns how many were written."""
    rows = [(m.id, m.title, m.year, "|".join(m.genres), m.imdb_id, m.tmdb_id) for m in movies]
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO movies (id, title, year, genres, imdb_id, tmdb_id) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "title = excluded.title, year = excluded.year, genres = excluded.genres, "
            "imdb_id = coalesce(excluded.imdb_id, imdb_id), "
            "tmdb_id = coalesce(excluded.tmdb_id, tmdb_id)",
            rows,
        )
    return len(rows)


def add_features(db: Database, features: Iterable[tuple[int, str, str, float]]) -> int:
    """Add (movie_id, kind, value, weight) content features; a repeated one keeps the max weight.

    Features of movies that are not in the catalogue are skipped.
    """
    rows = list(features)
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO movie_features (movie_id, kind, value, weight) "
            "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM movies WHERE id = ?1) "
            "ON CONFLICT (movie_id, kind, value) DO UPDATE SET "
            "weight = max(weight, excluded.weight)",
            rows,
        )
    return len(rows)


def features(db: Database) -> dict[int, list[tuple[str, str, float]]]:
    """Every movie's content features: movie id → [(kind, value, weight), …]."""
    out: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
    for movie_id, kind, value, weight in db.conn.execute(
        "SELECT movie_id, kind, value, weight FROM movie_features ORDER BY movie_id"
    ):
        out[movie_id].append((kind, value, weight))
    return dict(out)


# What each data set is called, by the code it is imported as.
DATASET_NAMES = {
    "ml-100k": "MovieLens 100K",
    "ml-1m": "MovieLens 1M",
    "ml-10m": "MovieLens 10M",
    "ml-20m": "MovieLens 20M",
    "ml-25m": "MovieLens 25M",
    "ml-32m": "MovieLens 32M",
    "ml-latest-small": "MovieLens latest-small",
    "ml-latest": "MovieLens latest",
}


DATED_AFTER = 3  # years


@dataclass(frozen=True)
class Catalogue:
    """What the catalogue is: which data set, how many movies, from which years."""

    dataset: str  # the code it was imported as ("ml-100k"); "" before any import
    movies: int
    first_year: int | None
    last_year: int | None

    @property
    def name(self) -> str:
        """ "MovieLens 100K"; an unknown data set goes by its code."""
        return DATASET_NAMES.get(self.dataset, self.dataset)

    def dated(self, this_year: int) -> bool:
        """Whether its newest movie is years old (a current data set would have more)."""
        return self.last_year is not None and self.last_year < this_year - DATED_AFTER


def catalogue(db: Database) -> Catalogue:
    """The data set named in the database's meta, and the movies and years it holds."""
    count, first, last = db.conn.execute(
        "SELECT count(*), min(year), max(year) FROM movies"
    ).fetchone()
    return Catalogue(db.get_meta("dataset") or "", count, first, last)


def rating_counts(db: Database) -> dict[int, int]:
    """How many ratings each movie has (movies with none are absent)."""
    return dict(
        db.conn.execute("SELECT movie_id, count(*) FROM ratings GROUP BY movie_id").fetchall()
    )


def genres(db: Database) -> list[str]:
    """Every genre in the catalogue, sorted."""
    found: set[str] = set()
    for (joined,) in db.conn.execute("SELECT DISTINCT genres FROM movies"):
        found.update(g for g in joined.split("|") if g)
    return sorted(found - {"(no genres listed)", "unknown"})
