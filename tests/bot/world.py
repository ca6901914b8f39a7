"""A small movie world for the bot's end-to-end tests: two taste blocks, a trained model."""

from __future__ import annotations

import random
from pathlib import Path

from bot.settings import Settings
from bot.training import model_folder, train
from recommender.tuned import TUNED_FORMAT, write_tuned
from storage import movies
from storage.db import Database
from storage.movies import Movie

ACTION = [
    Movie(1, "Heat", 1995, ("Action", "Crime", "Thriller")),
    Movie(2, "Heat", 1986, ("Action", "Drama")),
    Movie(3, "Matrix, The", 1999, ("Action", "Sci-Fi", "Thriller")),
    Movie(4, "Alien", 1979, ("Horror", "Sci-Fi")),
    Movie(5, "Aliens", 1986, ("Action", "Sci-Fi", "Thriller")),
    Movie(6, "Terminator, The", 1984, ("Action", "Sci-Fi", "Thriller")),
    Movie(7, "Die Hard", 1988, ("Action", "Thriller")),
    Movie(8, "Godfather, The", 1972, ("Crime", "Drama")),
    Movie(9, "Blade Runner", 1982, ("Film-Noir", "Sci-Fi")),
    Movie(10, "Speed", 1994, ("Action", "Romance", "Thriller")),
    Movie(11, "Fargo", 1996, ("Crime", "Drama", "Thriller")),
    Movie(12, "Seven (Se7en)", 1995, ("Crime", "Thriller")),
    Movie(13, "Usual Suspects, The", 1995, ("Crime", "Thriller")),
    Movie(14, "Star Wars", 1977, ("Action", "Adventure", "Sci-Fi")),
    Movie(15, "Pulp Fiction", 1994, ("Crime", "Drama")),
]
COMEDY = [
    Movie(16, "Toy Story", 1995, ("Animation", "Children's", "Comedy")),
    Movie(17, "Amélie", 2001, ("Comedy", "Romance")),
    Movie(18, "Tom & Jerry: <The Movie>", 1992, ("Animation", "Children's")),
    Movie(19, "Groundhog Day", 1993, ("Comedy", "Romance")),
    Movie(20, "Notting Hill", 1999, ("Comedy", "Romance")),
    Movie(21, "Clueless", 1995, ("Comedy", "Romance")),
    Movie(22, "Aladdin", 1992, ("Animation", "Children's", "Comedy", "Musical")),
    Movie(23, "Mrs. Doubtfire", 1993, ("Comedy",)),
    Movie(24, "Sleepless in Seattle", 1993, ("Comedy", "Romance")),
    Movie(25, "Big", 1988, ("Comedy", "Fantasy")),
    Movie(26, "Babe", 1995, ("Children's", "Comedy", "Drama")),
    Movie(27, "Princess Bride, The", 1987, ("Action", "Adventure", "Comedy", "Romance")),
    Movie(28, "Annie Hall", 1977, ("Comedy", "Romance")),
    Movie(29, "Home Alone", 1990, ("Children's", "Comedy")),
    Movie(30, "Shrek", 2001, ("Animation", "Comedy")),
]
ALL = ACTION + COMEDY


def small_model(factors: int = 8) -> dict:
    return {"format": TUNED_FORMAT, "config": {"als": {"factors": factors, "iterations": 5}}}


def build(path: Path, model_dir: Path) -> Settings:
    """Write the catalogue and 80 data-set users (half of each taste) to `path`; train a model."""
    db = Database(path)
    movies.upsert_many(db, ALL)
    rng = random.Random(7)
    rows = []
    for user in range(1, 81):
        liked, other = (ACTION, COMEDY) if user <= 40 else (COMEDY, ACTION)
        for movie in rng.sample(liked, 9):
            rows.append((user, movie.id, float(rng.choice([4, 5, 5])), 1_000_000 + user))
        for movie in rng.sample(other, 2):
            rows.append((user, movie.id, float(rng.choice([1, 2])), 1_000_000 + user))
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO users (kind, external_id, created_at) VALUES ('dataset', ?, 0)",
            [(u,) for u in range(1, 81)],
        )
        conn.executemany(
            "INSERT INTO ratings (user_id, movie_id, rating, ts) "
            "SELECT id, ?, ?, ? FROM users WHERE kind = 'dataset' AND external_id = ?",
            [(m, r, t, u) for u, m, r, t in rows],
        )
    db.set_meta("dataset", "test-world")
    settings = Settings(db_path=path, model_dir=model_dir, rate_limit=False, retrain_interval=0)
    # A catalogue this small takes few factors; /retrain in the tests reads the same file
    # (each test's copy of the database gets a copy of it in its own model folder).
    write_tuned(small_model(), model_folder(db, settings))
    train(db, settings)
    db.close()
    return settings
