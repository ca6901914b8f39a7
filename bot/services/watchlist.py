"""A person's watchlist: movies saved for later, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.services import people
from bot.services.catalog import Catalog
from bot.services.feedback import Refusal
from bot.services.people import Person
from storage import movies, ratings
from storage.db import Database
from storage.movies import Movie

PAGE_SIZE = 5


@dataclass(frozen=True)
class WatchlistPage:
    movies: tuple[Movie, ...]  # this page's, newest first
    page: int  # 0-based, within 0 … pages - 1
    pages: int  # 0 for an empty watchlist
    total: int
    posters: Mapping[int, str] = field(default_factory=dict)  # movie id → poster URL (tiles)


@dataclass(frozen=True)
class Added:
    movie: Movie
    added: bool  # False: it was on the watchlist already


class Watchlist:
    def __init__(self, db: Database, catalog: Catalog | None = None) -> None:
        self._db = db
        self._catalog = catalog

    def page(self, person: Person, page: int = 0) -> WatchlistPage:
        """One page (out-of-range pages give the nearest one)."""
        user = people.find(self._db, person)
        ids = [] if user is None else ratings.watchlist(self._db, user)
        pages = (len(ids) + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(max(page, 0), max(pages - 1, 0))
        shown = ids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        known = movies.get_many(self._db, shown)
        posters = self._catalog.posters(known) if self._catalog is not None else {}
        listed = tuple(known[i] for i in shown if i in known)
        return WatchlistPage(listed, page, pages, len(ids), posters)

    def not_interested(self, person: Person) -> tuple[Movie, ...]:
        """The movies the person asked never to be suggested, by title."""
        dismissed = people.history(self._db, person).dismissed
        known = movies.get_many(self._db, list(dismissed))
        return tuple(sorted(known.values(), key=lambda m: (m.title, m.year or 0, m.id)))

    def add(self, person: Person, movie_id: int) -> Added | Refusal:
        """Save a movie for later (it leaves the "not interested" list)."""
        movie = movies.get(self._db, movie_id)
        if movie is None:
            return Refusal.GONE
        with self._db.write():
            added = ratings.add_to_watchlist(self._db, people.ensure(self._db, person), movie_id)
        return Added(movie, added)

    def remove(self, person: Person, movie_id: int, page: int = 0) -> WatchlistPage:
        """Take a movie off the watchlist; the page it was on, as it is now."""
        user = people.find(self._db, person)
        if user is not None:
            ratings.remove_from_watchlist(self._db, user, movie_id)
        return self.page(person, page)
