"""Movie metadata as front ends show it: a movie's TMDb details with its poster's URL, a list
of movies with their directors, and the movies of a person someone typed the name of.

`MetadataService.movie(movie_id)` is the one call a front end needs for a movie page or tile:
the catalogue movie, what TMDb says about it (None when it was never enriched) and the poster
and backdrop URLs (`TMDB_IMAGE_BASE_URL` + the path; Telegram and browsers fetch them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storage import metadata, movies
from storage.db import Database
from storage.metadata import Metadata
from storage.movies import Movie

PERSON_MOVIES = 8  # a person's movies offered for one typed name
MAX_NAME = 80  # longer text is not a person's name


@dataclass(frozen=True)
class MovieInfo:
    """A catalogue movie with its TMDb metadata and image URLs (None without them)."""

    movie: Movie
    details: Metadata | None
    poster_url: str | None
    backdrop_url: str | None


@dataclass(frozen=True)
class PersonMovies:
    """A person a typed name matched, with their movies in the catalogue, newest first."""

    name: str
    role: str  # 'director', 'cast' or 'writer': what they did in most of these movies
    movies: tuple[Movie, ...]


class MetadataService:
    def __init__(self, db: Database, image_base_url: str) -> None:
        self._db = db
        self._images = image_base_url.rstrip("/")

    def image_url(self, path: str | None) -> str | None:
        """TMDb's image path ("/abc.jpg") as a URL Telegram can fetch."""
        if not path:
            return None
        return f"{self._images}/{path.lstrip('/')}"

    def details(self, movie_id: int) -> Metadata | None:
        return metadata.get(self._db, movie_id)

    def movie(self, movie_id: int) -> MovieInfo | None:
        """Everything a movie page shows; None when the movie is not in the catalogue."""
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return None
        found = metadata.get(self._db, movie_id)
        if found is None:
            return MovieInfo(movie, None, None, None)
        return MovieInfo(
            movie, found, self.image_url(found.poster_path), self.image_url(found.backdrop_path)
        )

    def movies(
        self, movie_ids: Iterable[int]
    ) -> tuple[dict[int, Movie], dict[int, tuple[str, ...]], dict[int, str]]:
        """Catalogue movies by id, their directors and their poster URLs, read together in one
        query (the movies without directors or a poster are absent from those two)."""
        both = metadata.movies_and_directors(self._db, movie_ids)
        return (
            {i: m.movie for i, m in both.items()},
            {i: m.directors for i, m in both.items() if m.directors},
            {i: url for i, m in both.items() if (url := self.image_url(m.poster_path))},
        )

    def posters(self, movie_ids: Iterable[int]) -> dict[int, str]:
        """The poster URLs of these movies, of those that have one: what a tile shows."""
        paths = metadata.poster_paths(self._db, movie_ids)
        return {i: url for i, path in paths.items() if (url := self.image_url(path))}

    def people(self, name: str, limit: int = 2) -> tuple[PersonMovies, ...]:
        """The people called `name` (any case) with their catalogue movies; () for none."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            return ()
        found = []
        for person in metadata.people_named(self._db, name, limit):
            credits = metadata.movies_with(self._db, person.id, PERSON_MOVIES)
            known = movies.get_many(self._db, [m for m, _ in credits])
            roles = [role for _, role in credits]
            main = max(set(roles), key=roles.count) if roles else "cast"
            shown = tuple(known[m] for m, _ in credits if m in known)
            if shown:
                found.append(PersonMovies(person.name, main, shown))
        return tuple(found)
