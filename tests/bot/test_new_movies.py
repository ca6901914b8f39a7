"""A movie imported after the last training is recommended before any retrain, through the
services a front end calls."""

from __future__ import annotations

from bot.services import open_services
from bot.services.people import Person
from bot.services.picks import Request
from storage import movies
from storage.db import Database
from storage.movies import Movie
from tests.bot.world import ACTION, COMEDY

NEW = Movie(31, "Brand New Romantic Comedy", 1994, ("Comedy", "Romance"))


def test_a_movie_imported_after_training_is_picked_for_someone_who_likes_its_kind(world):
    with Database(world.db_path) as db:
        movies.upsert_many(db, [NEW])  # imported after the model was trained, never rated
    services = open_services(world)
    try:
        assert services.models.current is not None
        assert NEW.id in services.models.current.catalog.items
        fan = Person(4242, "Rom-com fan")
        for movie in COMEDY[:8]:
            services.feedback.rate(fan, movie.id, 10)
        for movie in ACTION[:3]:
            services.feedback.rate(fan, movie.id, 2)
        page = services.picks.recommend(fan, Request(n=10))
        picked = [s.movie for s in page.suggestions]
        assert NEW in picked  # the first two pages of five in the chat
        # Proven comedies may come first; nothing outside the fan's taste does.
        assert all("Comedy" in m.genres for m in picked[: picked.index(NEW)])
    finally:
        services.close()
