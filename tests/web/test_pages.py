"""The pages, through HTTP: what a signed-in person sees and what their clicks store."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.services.picks import Request
from tests.web.conftest import ALICE

GODFATHER, HEAT, TOY_STORY = 8, 1, 16
PICKED = re.compile(r'<li class="pick" data-movie="(\d+)"')


async def picks_of(browser, query: str = "") -> list[int]:
    response = await browser.get(f"/picks{query}")
    assert response.status == 200
    return [int(m) for m in PICKED.findall(await response.text())]


async def test_a_newcomer_starts_with_onboarding_then_gets_picks(alice, services):
    first = await alice.get("/", allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == "/start"
    card = await (await alice.get("/start")).text()
    movie = int(re.search(r'action="/start/(\d+)/rate"', card)[1])
    assert "Rated 0 of 5." in card and 'aria-label="Rate ★5"' in card
    assert (await alice.post(f"/start/{movie}/rate", half_stars="10")).status == 303
    assert services.onboarding.rated(ALICE) == 1
    after = await (await alice.get("/start")).text()
    assert "Rated 1 of 5." in after and f'action="/start/{movie}/rate"' not in after
    home = await alice.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/picks"


async def test_skip_and_havent_seen_on_an_onboarding_card(alice, services):
    card = await (await alice.get("/start")).text()
    movie = int(re.search(r'action="/start/(\d+)/skip"', card)[1])
    await alice.post(f"/start/{movie}/skip")
    assert movie in [m.id for m in services.watchlist.not_interested(ALICE)]
    card = await (await alice.get("/start")).text()
    unseen = int(re.search(r'action="/start/(\d+)/unseen"', card)[1])
    assert unseen != movie
    await alice.post(f"/start/{unseen}/unseen")
    assert f"/start/{unseen}/" not in await (await alice.get("/start")).text()
    assert services.onboarding.rated(ALICE) == 0  # neither is a rating


async def test_search_finds_a_misspelt_title(alice):
    page = await (await alice.get("/search", params={"q": "godfater"})).text()
    assert f'href="/movie/{GODFATHER}">The Godfather (1972)' in page
    found = await (await alice.get("/api/search", params={"q": "the godfather"})).json()
    assert found["movies"][0] == {
        "id": GODFATHER,
        "label": "The Godfather (1972)",
        "url": f"/movie/{GODFATHER}",
    }
    nothing = await (await alice.get("/api/search", params={"q": "zzzzqqqq"})).json()
    assert nothing["movies"] == [] and nothing["suggestions"] == []


async def test_the_movie_page_shows_the_card_and_rating_replaces_the_guess(alice, services):
    page = await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert "The Godfather" in page and "Crime · Drama" in page
    assert 'id="predicted"' in page and 'class="poster"' not in page  # no poster: none shown
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="8")
    page = await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert "You rated it ★4" in page and 'id="predicted"' not in page
    assert 'aria-pressed="true"' in page.split('aria-label="Rate ★4"')[1].split(">")[0]
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="4")  # re-rating replaces it
    assert "You rated it ★2" in await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert services.onboarding.rated(ALICE) == 1


async def test_a_rating_changes_the_next_picks_at_once(alice):
    before = await picks_of(alice)
    assert before
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="10")
    await alice.post(f"/movie/{HEAT}/rate", half_stars="10")
    after = await picks_of(alice)
    assert after != before and GODFATHER not in after and HEAT not in after


async def test_half_stars_when_the_data_set_has_them(alice, services):
    whole = await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert "½" not in whole
    refused = await alice.post(f"/movie/{GODFATHER}/rate", half_stars="7")
    assert refused.status == 400 and services.onboarding.rated(ALICE) == 0
    services.db.set_meta("rating_step", "0.5")
    services.db.set_meta("rating_min", "0.5")
    halves = await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert 'aria-label="Rate ★3.5"' in halves and 'aria-label="Rate ★0.5"' in halves
    assert (await alice.post(f"/movie/{GODFATHER}/rate", half_stars="7")).status == 303
    assert "You rated it ★3.5" in await (await alice.get(f"/movie/{GODFATHER}")).text()


async def test_watchlist_add_and_remove(alice):
    await alice.post(f"/movie/{GODFATHER}/watchlist")
    page = await (await alice.get("/watchlist")).text()
    assert f'href="/movie/{GODFATHER}">The Godfather (1972)' in page
    assert GODFATHER not in await picks_of(alice)
    assert "On your watchlist" in await (await alice.get(f"/movie/{GODFATHER}")).text()
    await alice.client.post(
        f"/movie/{GODFATHER}/unwatch?next=/watchlist", data={"csrf": alice.csrf}
    )
    assert "Nothing saved yet" in await (await alice.get("/watchlist")).text()


async def test_not_interested_leaves_the_picks_and_shows_on_its_list(alice):
    first = (await picks_of(alice))[0]
    await alice.post(f"/movie/{first}/dismiss")
    assert first not in await picks_of(alice)
    assert f'href="/movie/{first}"' in await (await alice.get("/dismissed")).text()


async def test_more_like_this(alice):
    page = await (await alice.get(f"/movie/{HEAT}/similar")).text()
    assert "More like" in page and len(PICKED.findall(page)) >= 3
    assert (await alice.get("/movie/999999/similar")).status == 404


async def test_genre_and_decade_filters_and_paging(alice, services):
    comedy = await picks_of(alice, "?genre=Comedy")
    assert comedy and all("Comedy" in services.catalog.movie(m).genres for m in comedy), comedy
    nineties = await picks_of(alice, "?decade=1990")
    assert nineties and all(1990 <= services.catalog.movie(m).year <= 1999 for m in nineties)
    first, second = await picks_of(alice), await picks_of(alice, "?page=1")
    assert first and second and not set(first) & set(second)
    page = await (await alice.get("/picks")).text()
    assert 'href="/picks?page=1&amp;genre=&amp;decade="' in page
    assert " selected>" not in page  # "Any genre", "Any decade"


async def test_the_filter_form_shows_what_was_chosen(alice):
    # The options are made once and remembered: each page must still mark its own choice.
    both = await (await alice.get("/picks?genre=Comedy&decade=1990")).text()
    assert '<option value="Comedy" selected>Comedy</option>' in both
    assert '<option value="1990" selected>1990s</option>' in both
    drama = await (await alice.get("/picks?genre=Drama")).text()
    assert '<option value="Drama" selected>Drama</option>' in drama
    assert '<option value="Comedy">Comedy</option>' in drama and " selected>1990s" not in drama


async def test_the_picks_show_their_reasons(alice, services):
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="10")
    page = await (await alice.get("/picks")).text()
    shown = services.picks.recommend(ALICE, Request(n=10))
    reasons = re.findall(r'<p class="reason">(.*?)</p>', page)
    assert len(reasons) == len(shown.suggestions) and all(reasons)


async def test_the_profile_draws_the_rating_histogram(alice):
    empty = await (await alice.get("/profile")).text()
    assert "haven't rated anything" in empty and "<svg" not in empty
    for movie, half in [(GODFATHER, "10"), (HEAT, "10"), (TOY_STORY, "4")]:
        await alice.post(f"/movie/{movie}/rate", half_stars=half)
    page = await (await alice.get("/profile")).text()
    assert '<dd id="count">3</dd>' in page
    assert "★1: 0, ★2: 1, ★3: 0, ★4: 0, ★5: 2" in page  # the chart's description
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', page)]
    assert len(heights) == 5 and heights[4] == max(heights) == 2 * heights[1] > 0


async def test_export_is_a_csv_download_of_their_data(alice):
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="10")
    await alice.post(f"/movie/{HEAT}/watchlist")
    response = await alice.get("/export.csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert {(r["list"], r["title"]) for r in rows} == {
        ("rating", "The Godfather"),
        ("watchlist", "Heat"),
    }


async def test_forget_needs_confirmation_then_deletes_everything(alice, services):
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="10")
    assert 'name="confirm"' in await (await alice.get("/forget")).text()
    unconfirmed = await alice.post("/forget")
    assert unconfirmed.status == 400 and services.onboarding.rated(ALICE) == 1
    done = await alice.post("/forget", confirm="yes")
    assert done.status == 200 and "deleted" in await done.text()
    assert services.onboarding.rated(ALICE) == 0
    assert (await alice.get("/profile")).status == 401
    left = services.db.conn.execute(
        "SELECT count(*) FROM web_tokens WHERE telegram_id = ?", (ALICE.telegram_id,)
    ).fetchone()[0]
    assert left == 0


async def test_a_retrain_swap_is_seen_by_the_web_app_at_once(alice, services):
    assert await picks_of(alice)
    old = services.models.current
    services.models.current = None  # what a swap to "no model" would look like
    fallback = await (await alice.get("/picks")).text()
    assert "no trained model yet: these are the movies most people rated" in fallback
    assert await picks_of(alice)  # the most rated movies meanwhile
    services.models.swap(old)
    assert await picks_of(alice)


@pytest.mark.parametrize("width", ["/static/app.css", "/static/app.js"])
async def test_static_files_are_served(make_client, width):
    response = await (await make_client()).get(width)
    assert response.status == 200 and len(await response.read()) > 500


async def test_a_poster_and_overview_show_when_the_card_has_them(alice, services, monkeypatch):
    """The card the catalogue service returns may carry TMDb's poster and overview (the
    metadata work adds `poster` and `about`); the page shows them, escaped, and credits TMDb."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Described:
        movie: object
        yours: None = None
        predicted: float = 4.2
        on_watchlist: bool = False
        dismissed: bool = False
        scale: tuple = (1.0, 5.0, 1.0)
        poster: str = "https://image.tmdb.org/t/p/w342/godfather.jpg"
        about: object = None

    @dataclass(frozen=True)
    class About:
        overview: str = "Spanning the years 1945 to 1955 <b>a chronicle</b>"

    movie = services.catalog.movie(GODFATHER)
    monkeypatch.setattr(services.catalog, "card", lambda who, m: Described(movie, about=About()))
    page = await (await alice.get(f"/movie/{GODFATHER}")).text()
    assert 'src="https://image.tmdb.org/t/p/w342/godfather.jpg"' in page
    assert "&lt;b&gt;a chronicle&lt;/b&gt;" in page and "TMDb" in page
