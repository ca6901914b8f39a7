"""Movie metadata in storage: people as entities, credits in order, keywords, what was tried."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from storage import metadata, movies
from storage.db import SCHEMA_VERSION, Database
from storage.metadata import Credited, Metadata, unmatched
from storage.movies import Movie

MANN = Credited(638, "Michael Mann")
PACINO = Credited(1158, "Al Pacino")
DE_NIRO = Credited(380, "Robert De Niro")


def heat(**changes) -> Metadata:
    found = Metadata(
        movie_id=2, match="tmdb_id", fetched_at=100, tmdb_id=949, imdb_id="tt0113277",
        overview="Cops and robbers.", runtime=170, poster_path="/heat.jpg",
        directors=(MANN,), cast=(PACINO, DE_NIRO), writers=(MANN,),
        keywords=("heist", "los angeles"), keyword_ids=(10, 11),
    )  # fmt: skip
    return replace(found, **changes)


def test_the_schema_has_the_metadata_tables(fresh_db: Database):
    assert fresh_db.schema_version() == SCHEMA_VERSION
    tables = {r[0] for r in fresh_db.conn.execute("SELECT name FROM sqlite_master")}
    assert {"movie_metadata", "people", "credits", "keywords", "movie_keywords"} <= tables


def test_saved_metadata_reads_back_with_people_in_billing_order(tiny_catalog: Database):
    assert metadata.save(tiny_catalog, [heat()]) == 1
    got = metadata.get(tiny_catalog, 2)
    assert got == heat()
    assert got.matched and metadata.counts(tiny_catalog) == {"tmdb_id": 1}


def test_a_matched_movie_fills_the_catalogues_empty_ids_only(tiny_catalog: Database):
    movies.upsert_many(tiny_catalog, [Movie(3, "Matrix, The", 1999, (), "tt0133093", None)])
    metadata.save(tiny_catalog, [heat(), heat(movie_id=3, tmdb_id=603, imdb_id="tt9999999")])
    assert (movies.get(tiny_catalog, 2).tmdb_id, movies.get(tiny_catalog, 2).imdb_id) == (
        949,
        "tt0113277",
    )
    assert movies.get(tiny_catalog, 3).imdb_id == "tt0133093"  # kept: the data set's own


def test_one_person_is_one_entity_and_their_movies_are_one_query(tiny_catalog: Database):
    collateral = heat(movie_id=4, tmdb_id=1538, cast=(Credited(500, "Tom Cruise"),), writers=())
    metadata.save(tiny_catalog, [heat(), collateral])
    assert (
        tiny_catalog.conn.execute("SELECT count(*) FROM people WHERE id = 638").fetchone()[0] == 1
    )
    assert metadata.people_named(tiny_catalog, "MICHAEL mann") == [MANN]
    statements: list[str] = []
    tiny_catalog.trace(statements.append)
    found = metadata.movies_with(tiny_catalog, MANN.id)
    tiny_catalog.trace(None)
    assert len(statements) == 1
    # Heat (1995) before The Godfather (1972): newest first; director wins over writer
    assert found == [(2, "director"), (4, "director")]
    assert metadata.movies_with(tiny_catalog, PACINO.id) == [(2, "cast")]


def test_saving_again_replaces_credits_and_keywords(tiny_catalog: Database):
    metadata.save(tiny_catalog, [heat()])
    metadata.save(tiny_catalog, [heat(cast=(DE_NIRO,), keywords=("heist",), keyword_ids=(10,))])
    got = metadata.get(tiny_catalog, 2)
    assert got.cast == (DE_NIRO,) and got.keywords == ("heist",)


def test_unmatched_movies_are_tried_but_have_no_metadata(tiny_catalog: Database):
    metadata.save(tiny_catalog, [metadata.unmatched(5, 100), heat()])
    assert metadata.tried(tiny_catalog) == {2, 5}
    assert metadata.get(tiny_catalog, 5) is None
    assert set(metadata.get_many(tiny_catalog, [2, 5, 6])) == {2}


def test_movies_outside_the_catalogue_are_skipped(tiny_catalog: Database):
    assert metadata.save(tiny_catalog, [heat(movie_id=999)]) == 0
    assert metadata.tried(tiny_catalog) == set()


def test_movies_come_with_their_directors_in_billing_order_in_one_statement(tiny_catalog):
    coppola = Credited(1776, "Francis Ford Coppola")
    metadata.save(
        tiny_catalog, [heat(directors=(MANN, coppola)), heat(movie_id=4, directors=(coppola,))]
    )
    statements: list[str] = []
    tiny_catalog.trace(statements.append)
    found = metadata.movies_and_directors(tiny_catalog, [4, 2, 1, 999])
    tiny_catalog.trace(None)
    assert len(statements) == 1
    assert {i: d for i, (_, d, _) in found.items()} == {
        2: ("Michael Mann", "Francis Ford Coppola"),
        4: ("Francis Ford Coppola",),
        1: (),
    }
    assert found[2].movie == movies.get(tiny_catalog, 2)
    assert found[2].poster_path == "/heat.jpg" and found[1].poster_path is None


def test_poster_paths_are_those_of_matched_movies_that_have_one(tiny_catalog):
    metadata.save(tiny_catalog, [heat(), heat(movie_id=4, poster_path=None), unmatched(1, 0)])
    assert metadata.poster_paths(tiny_catalog, [1, 2, 4, 999]) == {2: "/heat.jpg"}


def test_content_features_name_people_and_keywords_by_id_and_carry_the_overview(tiny_catalog):
    metadata.save(tiny_catalog, [heat()])
    got = metadata.features(tiny_catalog)[2]
    assert ("tmdb_director", "638", 1.0) in got and ("tmdb_cast", "380", 1.0) in got
    assert ("tmdb_writer", "638", 1.0) in got and ("tmdb_keyword", "10", 1.0) in got
    assert ("overview", "Cops and robbers.", 1.0) in got


def test_forgetting_a_movie_removes_its_metadata(tiny_catalog: Database):
    metadata.save(tiny_catalog, [heat()])
    with tiny_catalog.write() as conn:
        conn.execute("DELETE FROM movies WHERE id = 2")
    assert metadata.tried(tiny_catalog) == set()
    assert tiny_catalog.conn.execute("SELECT count(*) FROM credits").fetchone()[0] == 0


@pytest.mark.parametrize("bad", ["", "matched"])
def test_the_match_column_takes_only_known_methods(tiny_catalog: Database, bad: str):
    with pytest.raises(sqlite3.IntegrityError):
        metadata.save(tiny_catalog, [heat(match=bad)])
    assert metadata.tried(tiny_catalog) == set()
