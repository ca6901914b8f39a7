"""Finding catalogue movies on TMDb and storing their metadata, against the local stand-in
(`emulator.tmdb`) seeded with tests/data/tmdb_sample.json: never the real service."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.tmdb.client import TmdbAuthError, TmdbClient, TmdbUnavailableError
from bot.tmdb.enrich import enrich
from bot.tmdb.matching import THRESHOLD, confidence, match, names
from emulator.tmdb import TmdbStandIn
from storage import metadata, movies
from storage.db import Database
from storage.movies import Movie

SAMPLE = Path(__file__).parent.parent / "data" / "tmdb_sample.json"
KEY = "v3-test-key-0123456789"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.v4-test-token"


def sample() -> list[dict[str, Any]]:
    return json.loads(SAMPLE.read_text())["movies"]


def by_id(tmdb_id: int) -> dict[str, Any]:
    return next(m for m in sample() if m["id"] == tmdb_id)


@pytest.fixture
async def tmdb():
    async with TmdbStandIn(sample(), api_key=KEY, read_access_token=TOKEN) as server:
        yield server


class Waits:
    """A sleep that records what it was asked to wait, and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def client_for(server: TmdbStandIn, **options: Any) -> TmdbClient:
    options.setdefault("api_key", KEY)
    return TmdbClient(server.base_url, **options)


HEAT = Movie(1, "Heat", 1995, ("Action",), "tt0113277", 949)


def test_the_sample_is_a_few_hundred_tmdb_shaped_movies():
    movies_ = sample()
    assert 250 <= len(movies_) <= 400
    heat = by_id(949)
    assert heat["title"] == "Heat" and heat["imdb_id"] == "tt0113277"
    assert [p["name"] for p in heat["credits"]["crew"] if p["job"] == "Director"] == [
        "Michael Mann"
    ]
    assert {"cast", "crew"} <= set(heat["credits"]) and "keywords" in heat["keywords"]


async def test_matched_by_tmdb_id_with_details_credits_and_keywords_in_one_request(tmdb):
    async with client_for(tmdb) as client:
        found = await match(client, HEAT)
    assert found.method == "tmdb_id" and found.details is not None
    assert found.details["title"] == "Heat" and found.details["credits"]["cast"]
    assert tmdb.requests == [("/3/movie/949", {"append_to_response": "credits,keywords"})]


async def test_matched_by_imdb_id_when_the_tmdb_id_is_unknown(tmdb):
    stale = Movie(1, "Heat", 1995, (), "tt0113277", 99_999_999)  # links.csv's id is gone
    async with client_for(tmdb, api_key=None, read_access_token=TOKEN) as client:
        found = await match(client, stale)
    assert found.method == "imdb_id" and found.details is not None and found.details["id"] == 949
    assert [path for path, _ in tmdb.requests] == [
        "/3/movie/99999999",
        "/3/find/tt0113277",
        "/3/movie/949",
    ]


@pytest.mark.parametrize(
    ("title", "year", "tmdb_id"),
    [
        ("Matrix, The", 1999, 603),  # MovieLens moves the article to the end
        ("Seven (Se7en)", 1995, 807),  # an alternative title in parentheses
        ("Heat", 1996, 949),  # a year off: TMDb dates the release, MovieLens may not
        ("Raiders of the Lost Ark", 1981, 85),
    ],
)
async def test_matched_by_a_confident_title_and_year_search(tmdb, title, year, tmdb_id):
    async with client_for(tmdb) as client:
        found = await match(client, Movie(5, title, year, ()))
    assert found.method == "search" and found.details is not None
    assert found.details["id"] == tmdb_id


async def test_an_ambiguous_search_is_refused_and_logged(caplog):
    twins = [
        {**by_id(949), "id": 1, "imdb_id": "tt1", "popularity": 5.0},
        {**by_id(949), "id": 2, "imdb_id": "tt2", "popularity": 4.0},
    ]
    caplog.set_level(logging.INFO, "bot.tmdb")
    async with TmdbStandIn(twins, api_key=KEY) as server, client_for(server) as client:
        found = await match(client, Movie(7, "Heat", 1995, ()))
    assert found.method == "unmatched" and found.details is None
    assert found.why.startswith("ambiguous")
    assert "movie 7 (Heat (1995)) unmatched: ambiguous" in caplog.text


async def test_a_weak_search_result_is_not_taken(tmdb):
    async with client_for(tmdb) as client:
        found = await match(client, Movie(8, "Star", 1977, ()))  # finds Star Wars
    assert found.method == "unmatched" and "sure" in found.why


def test_confidence_is_title_similarity_less_a_penalty_per_year():
    heat = Movie(1, "Heat", 1995, ())
    assert confidence(heat, {"title": "Heat", "release_date": "1995-12-15"}) == 100
    assert THRESHOLD <= confidence(heat, {"title": "Heat", "release_date": "1996-01-01"}) < 100
    assert confidence(heat, {"title": "Heat", "release_date": "1986-03-01"}) < THRESHOLD
    assert names(
        Movie(2, "City of Lost Children, The (Cité des enfants perdus, La)", 1995, ())
    ) == [
        "The City of Lost Children",
        "La Cité des enfants perdus",
    ]


async def test_429_waits_what_retry_after_says_then_succeeds(tmdb):
    tmdb.fail(429, times=2, retry_after=3)
    waits = Waits()
    async with client_for(tmdb, sleep=waits) as client:
        details = await client.details(949)
    assert details is not None and details["id"] == 949
    assert waits.asked == [3.0, 3.0]
    assert len(tmdb.requests) == 3


async def test_5xx_is_retried_with_back_off_and_bounded(tmdb):
    tmdb.fail(503, times=2)
    waits = Waits()
    async with client_for(tmdb, sleep=waits, backoff=0.5) as client:
        assert (await client.details(949)) is not None
    assert waits.asked == [0.5, 1.0]
    tmdb.fail(500, times=100)
    async with client_for(tmdb, sleep=Waits(), retries=3) as client:
        with pytest.raises(TmdbUnavailableError, match="after 3 retries"):
            await client.details(949)
    assert len(tmdb.requests) == 3 + 4  # three before, then one try and three retries


async def test_a_refused_key_stops_at_once_and_never_shows_the_key(tmdb, caplog):
    caplog.set_level(logging.DEBUG)
    async with TmdbClient(tmdb.base_url, api_key="wrong-key-123456") as client:
        with pytest.raises(TmdbAuthError, match="401") as raised:
            await client.details(949)
    assert "wrong-key-123456" not in str(raised.value)
    assert len(tmdb.requests) == 1


async def test_concurrency_is_bounded(tmdb):
    tmdb.delay = 0.02
    db = Database(":memory:")
    movies.upsert_many(
        db, [Movie(i, f"M{i}", 1995, (), None, m["id"]) for i, m in enumerate(sample()[:30], 1)]
    )
    async with client_for(tmdb, concurrency=3) as client:
        summary = await enrich(db, client, workers=8)
    assert summary.methods["tmdb_id"] == 30
    assert tmdb.max_in_flight == 3


def catalogue(db: Database) -> list[Movie]:
    """Ten sample movies known by TMDb id, one by IMDb id only, one by title, one unknown."""
    known = [m for m in sample() if m["id"] not in (949, 603, 807)][:10]
    rows = [
        Movie(i, m["title"], int(m["release_date"][:4]), (), None, m["id"])
        for i, m in enumerate(known, 1)
    ]
    rows += [
        Movie(11, "Heat", 1995, (), "tt0113277", None),
        Movie(12, "Matrix, The", 1999, (), None, None),
        Movie(13, "No Such Movie Anywhere", 1990, (), None, None),
    ]
    movies.upsert_many(db, rows)
    return rows


async def test_enrich_stores_metadata_and_summarises_how_each_was_found(tmdb):
    db = Database(":memory:")
    catalogue(db)
    async with client_for(tmdb) as client:
        summary = await enrich(db, client)
    assert dict(summary.methods) == {"tmdb_id": 10, "imdb_id": 1, "search": 1, "unmatched": 1}
    assert [m.id for m, _ in summary.unmatched] == [13]
    heat = metadata.get(db, 11)
    assert heat is not None and heat.match == "imdb_id" and heat.runtime
    assert [p.name for p in heat.directors] == ["Michael Mann"]
    assert [p.name for p in heat.cast][:2] == ["Al Pacino", "Robert De Niro"]
    assert heat.writers and heat.overview and heat.poster_path
    assert movies.get(db, 11).tmdb_id == 949  # the catalogue's empty id is filled
    assert movies.get(db, 12).imdb_id == "tt0133093"
    assert metadata.get(db, 13) is None and 13 in metadata.tried(db)


async def test_an_interrupted_run_keeps_what_it_fetched_and_the_next_resumes(tmdb):
    db = Database(":memory:")
    catalogue(db)
    async with client_for(tmdb, sleep=Waits(), retries=1) as client:
        first = await enrich(db, client, limit=4, workers=1)
        assert first.done == 4
        tmdb.fail(503, times=1000)  # TMDb goes down for good
        with pytest.raises(TmdbUnavailableError):
            await enrich(db, client, workers=1)
    assert len(metadata.tried(db)) == 4  # nothing fetched was lost, nothing half-stored
    tmdb.requests.clear()
    tmdb.recover()
    async with client_for(tmdb) as client:
        second = await enrich(db, client)
    assert second.skipped == 4 and second.done == 9
    assert not any(path == "/3/movie/" + str(sample()[0]["id"]) for path, _ in tmdb.requests)
    assert len(metadata.tried(db)) == 13
    async with client_for(tmdb) as client:
        again = await enrich(db, client)
        assert again.done == 0
        redone = await enrich(db, client, refresh=True)
    assert redone.done == 13


async def test_refresh_replaces_credits_instead_of_adding_to_them(tmdb):
    db = Database(":memory:")
    movies.upsert_many(db, [HEAT])
    async with client_for(tmdb) as client:
        await enrich(db, client)
        tmdb.by_id[949]["credits"]["cast"] = tmdb.by_id[949]["credits"]["cast"][:1]
        await enrich(db, client, refresh=True)
    assert [p.name for p in metadata.get(db, 1).cast] == ["Al Pacino"]


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def tmdb_in_a_thread():
    """The stand-in on its own event loop, for the synchronous command line."""
    loop = asyncio.new_event_loop()
    server = TmdbStandIn(sample(), api_key=KEY)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def command(tmp_path: Path, env: dict[str, str], *args: str) -> int:
    from bot.cli import main

    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return main(["--env-file", str(env_file), "--db", str(tmp_path / "m.sqlite"), *args])


def test_enrich_without_credentials_says_where_to_get_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TMDB_API_KEY", raising=False)
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN", raising=False)
    assert command(tmp_path, {}, "data", "enrich") == 1
    err = capsys.readouterr().err
    assert "https://www.themoviedb.org/settings/api" in err and "TMDB_API_KEY" in err


def test_enrich_command_summarises_and_never_logs_the_key(
    tmp_path, capfd, caplog, tmdb_in_a_thread
):
    with Database(tmp_path / "m.sqlite") as db:
        catalogue(db)
    env = {"TMDB_API_KEY": KEY, "TMDB_API_BASE_URL": tmdb_in_a_thread.base_url}
    tmdb_in_a_thread.fail(429, times=1, retry_after=0)
    assert command(tmp_path, env, "-v", "data", "enrich") == 0
    out, err = capfd.readouterr()
    assert "Enriched 13 movies" in out
    assert "10 by TMDb id, 1 by IMDb id, 1 by search, 1 unmatched; 0 done before." in out
    assert "unmatched: No Such Movie Anywhere (1990) (id 13): no search results" in out
    assert "not endorsed or certified by TMDB" in out
    assert "429 on movie/11; retry 1/5" in caplog.text  # the 429 was logged…
    assert KEY not in out + err + caplog.text  # …without the key
    assert command(tmp_path, env, "data", "enrich") == 0
    assert (
        "Enriched 0 movies" in capfd.readouterr().out and "13 done before" in out + "13 done before"
    )
    assert (
        command(
            tmp_path,
            {"TMDB_API_KEY": "bad-key-000000", "TMDB_API_BASE_URL": tmdb_in_a_thread.base_url},
            "data",
            "enrich",
            "--refresh",
        )
        == 1
    )
    err = capfd.readouterr().err
    assert "refused the credentials" in err and "run again to resume" in err
    assert command(tmp_path, env, "data", "info") == 0
    assert (
        "metadata      12 of 13 movies (1 imdb_id, 1 search, 10 tmdb_id), 1 unmatched"
        in capfd.readouterr().out
    )


def test_enrich_on_an_empty_database_says_so_and_leaves_no_file(tmp_path, capsys):
    assert command(tmp_path, {"TMDB_API_KEY": KEY}, "data", "enrich") == 1
    assert "has no movies yet: run `moviebot data fetch`" in capsys.readouterr().err
    assert not (tmp_path / "m.sqlite").exists()
