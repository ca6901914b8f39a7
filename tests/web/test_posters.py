"""Posters on the web app's tiles: every list of movies (picks, search, the watchlist, the
onboarding card, similar movies) shows TMDb's poster of each movie that has one, and no <img>
at all for a movie without one (a catalogue never enriched, or a movie TMDb had no poster for)."""

from __future__ import annotations

import re

import pytest

from bot.services import Services
from bot.services.movienight import NightView
from storage import metadata, movies
from storage.metadata import Metadata
from tests.web.conftest import ALICE

GODFATHER, HEAT = 8, 1
POSTER = re.compile(r'<img class="poster" src="([^"]+)" alt="Poster of ([^"]+)"')
TILE = re.compile(r'<li class="pick" data-movie="(\d+)">(.*?)</li>', re.S)


def poster_of(movie_id: int) -> str:
    return f"/poster-{movie_id}.jpg"


@pytest.fixture
def enriched(services: Services) -> Services:
    """Every movie matched on TMDb with a poster, except Heat: matched, but no poster."""
    every = movies.get_many(services.db, range(1, 10_000))
    metadata.save(
        services.db,
        [
            Metadata(i, "tmdb_id", 0, tmdb_id=i, poster_path=None if i == HEAT else poster_of(i))
            for i in every
        ],
    )
    return services


def url(services: Services, movie_id: int) -> str:
    return f"{services.settings.tmdb_image_base_url.rstrip('/')}/poster-{movie_id}.jpg"


async def text(browser, path: str, **params: str) -> str:
    response = await browser.get(path, params=params)
    assert response.status == 200
    return await response.text()


async def test_every_pick_shows_its_own_poster(alice, enriched):
    page = await text(alice, "/picks")
    tiles = TILE.findall(page)
    assert len(tiles) >= 5
    for movie_id, tile in tiles:
        shown = POSTER.findall(tile)
        if int(movie_id) == HEAT:
            assert shown == []
        else:
            assert [src for src, _ in shown] == [url(enriched, int(movie_id))]


async def test_search_results_show_posters(alice, enriched):
    found = await text(alice, "/search", q="godfather")
    assert (url(enriched, GODFATHER), "The Godfather") in POSTER.findall(found)
    heat = await text(alice, "/search", q="heat")
    assert f'href="/movie/{HEAT}"' in heat and poster_of(HEAT) not in heat
    misspelt = await text(alice, "/search", q="godfater")
    assert url(enriched, GODFATHER) in misspelt


async def test_the_watchlist_shows_posters(alice, enriched):
    await alice.post(f"/movie/{GODFATHER}/watchlist")
    await alice.post(f"/movie/{HEAT}/watchlist")
    page = await text(alice, "/watchlist")
    assert [src for src, _ in POSTER.findall(page)] == [url(enriched, GODFATHER)]
    assert f'href="/movie/{HEAT}"' in page


async def test_the_onboarding_card_shows_its_movies_poster(alice, enriched):
    page = await text(alice, "/start")
    movie = int(re.search(r'action="/start/(\d+)/rate"', page)[1])
    expected = [] if movie == HEAT else [url(enriched, movie)]
    assert [src for src, _ in POSTER.findall(page)] == expected
    await alice.post(f"/start/{movie}/skip")
    page = await text(alice, "/start")
    after = int(re.search(r'action="/start/(\d+)/rate"', page)[1])
    assert after != movie
    assert [src for src, _ in POSTER.findall(page)] == (
        [] if after == HEAT else [url(enriched, after)]
    )


async def test_similar_movies_show_posters(alice, enriched):
    page = await text(alice, f"/movie/{GODFATHER}/similar")
    tiles = TILE.findall(page)
    assert tiles
    for movie_id, tile in tiles:
        expected = [] if int(movie_id) == HEAT else [url(enriched, int(movie_id))]
        assert [src for src, _ in POSTER.findall(tile)] == expected


async def test_without_metadata_no_page_has_a_poster_img(alice, services):
    await alice.post(f"/movie/{GODFATHER}/watchlist")
    for path, params in [
        ("/picks", {}),
        ("/search", {"q": "godfather"}),
        ("/search", {"q": "godfater"}),
        ("/watchlist", {}),
        ("/start", {}),
        (f"/movie/{GODFATHER}/similar", {}),
    ]:
        page = await text(alice, path, **params)
        assert "<img" not in page, path
    assert services.onboarding.rated(ALICE) == 0


async def test_a_movie_nights_picks_show_posters(alice, enriched):
    group = -100123
    night = enriched.nights.open(group, "Film club", ALICE.telegram_id, "Alice")
    assert isinstance(night, NightView)
    assert isinstance(
        enriched.nights.start_picking(night.id, group, ALICE.telegram_id, False), NightView
    )
    picking = enriched.nights.choose(night.id)
    assert picking.enough
    enriched.nights.save_poll(night.id, picking, "poll-1", 77)
    page = await text(alice, f"/nights/{night.id}")
    shown = [src for src, _ in POSTER.findall(page)]
    expected = [url(enriched, c.movie.id) for c in picking.choices if c.movie.id != HEAT]
    assert shown == expected and len(shown) >= len(picking.choices) - 1
