"""Movie metadata from TMDb: overviews, posters, people (as entities) and their credits, keywords.

Filled by `moviebot data enrich` (the TMDb API) or `moviebot data import-metadata` (The Movies
Dataset files). One `movie_metadata` row per movie tried: `match` says how it was found
('tmdb_id', 'imdb_id', 'search', 'import') or that it was not ('unmatched'), so a resumed run
knows what is done. People are rows of their own, so "movies with this actor" is one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from storage.db import Database
from storage.movies import Movie

ROLES = ("director", "cast", "writer")
MATCHES = ("tmdb_id", "imdb_id", "search", "import", "unmatched")


@dataclass(frozen=True)
class Credited:
    """A person on TMDb: their TMDb person id and name."""

    id: int
    name: str


@dataclass(frozen=True)
class Metadata:
    """What TMDb says about one catalogue movie (people in billing order)."""

    movie_id: int
    match: str  # one of MATCHES
    fetched_at: int
    tmdb_id: int | None = None
    imdb_id: str | None = None
    overview: str = ""
    tagline: str = ""
    runtime: int | None = None
    original_language: str | None = None
    poster_path: str | None = None
    backdrop_path: str | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    directors: tuple[Credited, ...] = ()
    cast: tuple[Credited, ...] = ()
    writers: tuple[Credited, ...] = ()
    keywords: tuple[str, ...] = ()
    keyword_ids: tuple[int, ...] = ()

    @property
    def matched(self) -> bool:
        return self.match != "unmatched"


def unmatched(movie_id: int, now: int) -> Metadata:
    """The record of a movie that was looked for and not found (or found ambiguously)."""
    return Metadata(movie_id, "unmatched", now)


_COLUMNS = (
    "movie_id, match, fetched_at, tmdb_id, imdb_id, overview, tagline, runtime, "
    "original_language, poster_path, backdrop_path, vote_average, vote_count"
)


def save(db: Database, items: Iterable[Metadata]) -> int:
    """Store these movies' metadata in one transaction, replacing what they had; a matched
    movie's TMDb and IMDb ids also fill the catalogue's empty id columns. Movies no longer in
    the catalogue are skipped. Returns how many were written."""
    written = 0
    with db.write() as conn:
        for m in items:
            if conn.execute("SELECT 1 FROM movies WHERE id = ?", (m.movie_id,)).fetchone() is None:
                continue
            conn.execute("DELETE FROM credits WHERE movie_id = ?", (m.movie_id,))
            conn.execute("DELETE FROM movie_keywords WHERE movie_id = ?", (m.movie_id,))
            conn.execute(
                f"INSERT OR REPLACE INTO movie_metadata ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.movie_id, m.match, m.fetched_at, m.tmdb_id, m.imdb_id, m.overview,
                    m.tagline, m.runtime, m.original_language, m.poster_path, m.backdrop_path,
                    m.vote_average, m.vote_count,
                ),
            )  # fmt: skip
            people = [*m.directors, *m.cast, *m.writers]
            conn.executemany(
                "INSERT INTO people (id, name) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                [(p.id, p.name) for p in people],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO credits (movie_id, person_id, role, position) "
                "VALUES (?, ?, ?, ?)",
                [
                    (m.movie_id, p.id, role, position)
                    for role, group in zip(ROLES, (m.directors, m.cast, m.writers), strict=True)
                    for position, p in enumerate(group)
                ],
            )
            pairs = list(zip(m.keyword_ids, m.keywords, strict=True))
            conn.executemany(
                "INSERT INTO keywords (id, name) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                pairs,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO movie_keywords (movie_id, keyword_id) VALUES (?, ?)",
                [(m.movie_id, k) for k, _ in pairs],
            )
            if m.matched:
                conn.execute(
                    "UPDATE movies SET tmdb_id = coalesce(tmdb_id, ?), "
                    "imdb_id = coalesce(imdb_id, ?) WHERE id = ?",
                    (m.tmdb_id, m.imdb_id, m.movie_id),
                )
            written += 1
    return written


def tried(db: Database) -> set[int]:
    """Movies that already have a record (matched or not): what a resumed run skips."""
    return {row[0] for row in db.conn.execute("SELECT movie_id FROM movie_metadata")}


def counts(db: Database) -> dict[str, int]:
    """How many movies were matched each way ('tmdb_id', …, 'unmatched')."""
    return dict(db.conn.execute("SELECT match, count(*) FROM movie_metadata GROUP BY match"))


def get(db: Database, movie_id: int) -> Metadata | None:
    """A matched movie's metadata with its people and keywords; None when it has none."""
    return get_many(db, [movie_id]).get(movie_id)


def get_many(db: Database, ids: Iterable[int]) -> dict[int, Metadata]:
    """Matched movies' metadata by movie id; movies without any are left out."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    found: dict[int, Metadata] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.conn.execute(
            f"SELECT {_COLUMNS} FROM movie_metadata "
            f"WHERE movie_id IN ({marks}) AND match != 'unmatched'",
            chunk,
        ).fetchall()
        if not rows:
            continue
        people = _credits(db, [r[0] for r in rows])
        words = _keywords(db, [r[0] for r in rows])
        for row in rows:
            by_role = people.get(row[0], {})
            found[row[0]] = replace(
                Metadata(*row),
                directors=tuple(by_role.get("director", ())),
                cast=tuple(by_role.get("cast", ())),
                writers=tuple(by_role.get("writer", ())),
                keywords=tuple(name for _, name in words.get(row[0], ())),
                keyword_ids=tuple(k for k, _ in words.get(row[0], ())),
            )
    return found


def _credits(db: Database, ids: list[int]) -> dict[int, dict[str, list[Credited]]]:
    marks = ",".join("?" * len(ids))
    out: dict[int, dict[str, list[Credited]]] = defaultdict(lambda: defaultdict(list))
    for movie_id, role, person_id, name in db.conn.execute(
        "SELECT c.movie_id, c.role, p.id, p.name "
        "FROM credits c JOIN people p ON p.id = c.person_id "
        f"WHERE c.movie_id IN ({marks}) ORDER BY c.movie_id, c.role, c.position",
        ids,
    ):
        out[movie_id][role].append(Credited(person_id, name))
    return out


def _keywords(db: Database, ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    marks = ",".join("?" * len(ids))
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for movie_id, keyword_id, name in db.conn.execute(
        "SELECT mk.movie_id, k.id, k.name FROM movie_keywords mk JOIN keywords k "
        f"ON k.id = mk.keyword_id WHERE mk.movie_id IN ({marks}) ORDER BY mk.movie_id, k.name",
        ids,
    ):
        out[movie_id].append((keyword_id, name))
    return out


class Listed(NamedTuple):
    """A catalogue movie as a list shows it: its directors' names and its poster's path."""

    movie: Movie
    directors: tuple[str, ...]
    poster_path: str | None


def movies_and_directors(db: Database, ids: Iterable[int]) -> dict[int, Listed]:
    """Movies by id with their directors' names and poster paths, in one statement (a page of
    picks reads its movies once); ids not in the catalogue are left out."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    found: dict[int, Listed] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for *row, joined, poster in db.conn.execute(
            "SELECT id, title, year, genres, imdb_id, tmdb_id, "
            "(SELECT group_concat(c.position || ':' || p.name, char(31)) FROM credits c "
            "JOIN people p ON p.id = c.person_id "
            "WHERE c.movie_id = movies.id AND c.role = 'director'), "
            "(SELECT mm.poster_path FROM movie_metadata mm "
            "WHERE mm.movie_id = movies.id AND mm.match != 'unmatched') "
            f"FROM movies WHERE id IN ({marks})",
            chunk,
        ):
            movie = Movie(
                row[0], row[1], row[2], tuple(g for g in row[3].split("|") if g), row[4], row[5]
            )
            # group_concat has no order of its own: each name carries its position
            ranked = sorted(
                (int(n.split(":", 1)[0]), n.split(":", 1)[1])
                for n in (joined or "").split("\x1f")
                if n
            )
            found[movie.id] = Listed(movie, tuple(name for _, name in ranked), poster or None)
    return found


def poster_paths(db: Database, ids: Iterable[int]) -> dict[int, str]:
    """The poster paths of these movies, those that have one (one statement per 500 ids)."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            db.conn.execute(
                "SELECT movie_id, poster_path FROM movie_metadata "
                f"WHERE movie_id IN ({marks}) AND match != 'unmatched' "
                "AND coalesce(poster_path, '') != ''",
                chunk,
            ).fetchall()
        )
    return found


def people_named(db: Database, name: str, limit: int = 3) -> list[Credited]:
    """People whose name is `name` (any case), those with the most credits first."""
    rows = db.conn.execute(
        "SELECT p.id, p.name FROM people p JOIN credits c ON c.person_id = p.id "
        "WHERE p.name = ? COLLATE NOCASE GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT ?",
        (name.strip(), limit),
    ).fetchall()
    return [Credited(i, n) for i, n in rows]


def movies_with(db: Database, person_id: int, limit: int = 10) -> list[tuple[int, str]]:
    """(movie id, role) of this person's movies, newest first, as director before cast before
    writer when they had several roles in one movie: one query."""
    return db.conn.execute(
        "SELECT c.movie_id, min(c.role) FROM credits c JOIN movies m ON m.id = c.movie_id "
        "WHERE c.person_id = ? GROUP BY c.movie_id "
        "ORDER BY coalesce(m.year, 0) DESC, m.id LIMIT ?",
        (person_id, limit),
    ).fetchall()


def features(db: Database) -> dict[int, list[tuple[str, str, float]]]:
    """Content features from the metadata, movie id → [(kind, value, weight), …]: the people by
    TMDb id ('tmdb_director', 'tmdb_cast', 'tmdb_writer'), keywords ('tmdb_keyword') and the
    overview's text as one 'overview' feature (the recommender splits it into words)."""
    out: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
    for movie_id, role, person_id in db.conn.execute(
        "SELECT movie_id, role, person_id FROM credits ORDER BY movie_id, role, position"
    ):
        out[movie_id].append((f"tmdb_{role}", str(person_id), 1.0))
    for movie_id, keyword_id in db.conn.execute(
        "SELECT movie_id, keyword_id FROM movie_keywords ORDER BY movie_id, keyword_id"
    ):
        out[movie_id].append(("tmdb_keyword", str(keyword_id), 1.0))
    for movie_id, overview in db.conn.execute(
        "SELECT movie_id, overview FROM movie_metadata WHERE overview != '' ORDER BY movie_id"
    ):
        out[movie_id].append(("overview", overview, 1.0))
    return dict(out)
