"""The catalogue as a person sees it: genres, the rating scale, title search, a movie's card."""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from bot.services import people
from bot.services.computing import computes
from bot.services.metadata import MetadataService, PersonMovies
from bot.services.people import Person
from recommender.hybrid import ModelHolder
from storage import movies
from storage.db import Database
from storage.metadata import Metadata
from storage.movies import Movie
from storage.search import TitleIndex, query_year

Scale = tuple[float, float, float]  # (lowest, highest, step) of the data set's ratings

MAX_INPUT = 300  # longer text is not a movie title
MAX_RESULTS = 5
SUGGESTIONS = 3


@dataclass(frozen=True)
class About:
    """What the catalogue is, for the welcome, /help and "not in the catalogue"."""

    name: str  # "MovieLens 100K"; "" when nothing was imported
    movies: int
    first_year: int | None
    last_year: int | None
    dated: bool  # its newest movie is years old: a current data set would have more


def valid_stars(value: int, scale: Scale) -> float | None:
    """Stars from a button value (stars × 2), or None if the data set's scale has no such value."""
    low, high, step = scale
    stars = value / 2
    if not low <= stars <= high or (stars * 2) % (step * 2):
        return None
    return stars


@dataclass(frozen=True)
class Found:
    """What a typed title matched: movies best first, or else the closest spellings."""

    query: str
    movies: tuple[Movie, ...]
    suggestions: tuple[Movie, ...] = ()
    too_long: bool = False  # the text was refused unread
    about: About | None = None  # the catalogue searched, when nothing matched
    year: int | None = None  # the release year the query asked for
    people: tuple[PersonMovies, ...] = ()  # directors, actors or writers of that name
    posters: Mapping[int, str] = field(default_factory=dict)  # movie id → poster URL (tiles)

    @property
    def named(self) -> Movie | None:
        """The movie the query names beyond doubt: the only match, no person of that name,
        and of the year typed if one was (else it is a guess to confirm, not a certainty)."""
        if len(self.movies) != 1 or self.people:
            return None
        movie = self.movies[0]
        return movie if self.year in (None, movie.year) else None


@dataclass(frozen=True)
class Card:
    """A movie with everything a person's card shows about it."""

    movie: Movie
    yours: float | None  # their rating
    predicted: float | None  # our guess, when they have not rated it
    on_watchlist: bool
    dismissed: bool
    scale: Scale
    about: Metadata | None = None  # TMDb's overview, runtime, people (None: not enriched)
    poster: str | None = None  # the poster's URL: the card is a photo with a caption


class Catalog:
    def __init__(
        self,
        db: Database,
        titles: TitleIndex,
        models: ModelHolder,
        metadata: MetadataService | None = None,
    ) -> None:
        self._db = db
        self._titles = titles
        self._models = models
        self._metadata = metadata
        # What the catalogue is, read once here: it changes only on import, and front ends
        # read these two straight from memory, with no trip to a worker thread.
        self._genres = tuple(movies.genres(db))
        held = movies.catalogue(db)
        dated = held.dated(time.gmtime().tm_year)
        self._about = About(held.name, held.movies, held.first_year, held.last_year, dated)

    def genres(self) -> tuple[str, ...]:
        """The catalogue's genres, sorted (in memory: no SQL; a tuple, which nobody can change
        under the others and a template can remember its options by)."""
        return self._genres

    def about(self) -> About:
        """Which data set the catalogue is, its size and years (in memory, like the genres)."""
        return self._about

    def scale(self) -> Scale:
        """The data set's rating scale; 1–5 whole stars by default."""
        meta = self._db.meta("rating_min", "rating_max", "rating_step")
        return (
            float(meta.get("rating_min") or 1),
            float(meta.get("rating_max") or 5),
            float(meta.get("rating_step") or 1),
        )

    def movie(self, movie_id: int) -> Movie | None:
        return movies.get(self._db, movie_id)

    def posters(self, movie_ids: Iterable[int]) -> dict[int, str]:
        """Poster URLs by movie id, of the movies that have one ({} without TMDb metadata)."""
        ids = list(movie_ids)
        if self._metadata is None or not ids:
            return {}
        return self._metadata.posters(ids)

    def most_rated(self, n: int, exclude: Collection[int] = ()) -> list[tuple[int, int]]:
        """The `n` most rated movies not in `exclude`, with their number of ratings (as the
        title index counted them when the bot started: no scan of the ratings per request)."""
        counts = self._titles.popularity
        order = np.argsort(-counts, kind="stable")
        ranked = ((int(self._titles.ids[i]), int(counts[i])) for i in order if counts[i] > 0)
        return list(itertools.islice(((m, c) for m, c in ranked if m not in exclude), n))

    @computes
    def search(self, query: str, limit: int = MAX_RESULTS) -> Found:
        """Up to `limit` movies matching a typed title, and the movies of a director, actor or
        writer of that name; nothing found → the closest spellings."""
        query = query.strip()
        if len(query) > MAX_INPUT:
            return Found(query, (), too_long=True)
        named = self._metadata.people(query) if self._metadata is not None else ()
        found = [m.movie_id for m in self._titles.search(query, limit=limit)]
        if found or named:
            known, posters = self._with_posters(found)
            shown = tuple(known[i] for i in found if i in known)
            return Found(query, shown, year=query_year(query), people=named, posters=posters)
        close = [m.movie_id for m in self._titles.suggest(query, SUGGESTIONS)]
        known, posters = self._with_posters(close)
        return Found(
            query,
            (),
            tuple(known[i] for i in close if i in known),
            about=self.about(),
            year=query_year(query),
            posters=posters,
        )

    def look_up(self, person: Person, query: str) -> tuple[Found, Card | None]:
        """`search`, and this person's card of the movie it names beyond doubt (`Found.named`;
        None if there is none): what typing a title in the chat shows, in one call."""
        found = self.search(query)
        named = found.named
        return found, self.card(person, named.id) if named is not None else None

    def _with_posters(self, ids: list[int]) -> tuple[dict[int, Movie], dict[int, str]]:
        """The movies by id and their poster URLs, read in one statement."""
        if self._metadata is None or not ids:
            return movies.get_many(self._db, ids), {}
        known, _, posters = self._metadata.movies(ids)
        return known, posters

    def card(self, person: Person, movie_id: int) -> Card | None:
        """The movie's card for this person, or None if it left the catalogue."""
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return None
        history = people.history(self._db, person)
        yours = history.ratings.get(movie_id)
        predicted = None
        model = self._models.current
        if yours is None and model is not None:
            predicted = model.predict(history.ratings, [movie_id]).get(movie_id)
        return self.described(
            Card(
                movie,
                yours,
                predicted,
                on_watchlist=movie_id in history.watchlist,
                dismissed=movie_id in history.dismissed,
                scale=self.scale(),
            )
        )

    def described(self, card: Card) -> Card:
        """The card with the movie's TMDb metadata and poster URL, when it has them."""
        if self._metadata is None:
            return card
        about = self._metadata.details(card.movie.id)
        if about is None:
            return card
        return replace(card, about=about, poster=self._metadata.image_url(about.poster_path))
