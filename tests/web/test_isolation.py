"""Nobody reads or changes another person's data or a group night they are not in, and bad
input is a clear 4xx that stores nothing."""

from __future__ import annotations

import pytest

from tests.web.conftest import ALICE, BOB

GODFATHER, HEAT = 8, 1
GROUP = -100123


def counts(services) -> tuple:
    conn = services.db.conn
    return tuple(
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("ratings", "dismissed", "watchlist", "users")
    )


async def test_one_persons_data_is_not_anothers(alice, bob, services):
    await alice.post(f"/movie/{GODFATHER}/rate", half_stars="10")
    await alice.post(f"/movie/{HEAT}/watchlist")
    page = await (await bob.get(f"/movie/{GODFATHER}")).text()
    assert "You rated it" not in page
    assert "The Godfather" not in await (await bob.get("/export.csv")).text()
    assert "haven't rated anything" in await (await bob.get("/profile")).text()
    assert "Nothing saved yet" in await (await bob.get("/watchlist")).text()
    # Bob "removing" Alice's watchlist movie removes it from his own (empty) list only.
    await bob.post(f"/movie/{HEAT}/unwatch")
    assert services.watchlist.page(ALICE).total == 1
    assert services.onboarding.rated(BOB) == 0


async def test_a_person_cannot_be_chosen_by_the_request(alice, services):
    """Who is asking comes from the session only: ids in a form or header are ignored."""
    await alice.client.post(
        f"/movie/{GODFATHER}/rate",
        data={"csrf": alice.csrf, "half_stars": "10", "telegram_id": str(BOB.telegram_id)},
        headers={"X-Telegram-Id": str(BOB.telegram_id)},
    )
    assert services.onboarding.rated(BOB) == 0 and services.onboarding.rated(ALICE) == 1


async def test_a_night_is_for_its_members_only(alice, bob, services):
    night = services.nights.open(GROUP, "Film club", ALICE.telegram_id, "Alice")
    mine = await alice.get(f"/nights/{night.id}")
    assert mine.status == 200 and "Film club" in await mine.text()
    assert f'href="/nights/{night.id}"' in await (await alice.get("/nights")).text()
    before = counts(services)
    for path in (f"/nights/{night.id}", f"/api/nights/{night.id}"):
        response = await bob.get(path)
        assert response.status == 404, path
        assert "Film club" not in await response.text()
    assert f"/nights/{night.id}" not in await (await bob.get("/nights")).text()
    assert (await alice.get("/nights/99999")).status == 404
    services.nights.join(night.id, GROUP, BOB.telegram_id, "Bob", in_group=True)
    live = await (await bob.get(f"/api/nights/{night.id}")).json()
    assert live["status"] == "open" and sorted(live["members"]) == ["Alice", "Bob"]
    assert counts(services) == before


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        (f"/movie/{GODFATHER}/rate", {"half_stars": "12"}, 400),  # ★6 on a 1–5 scale
        (f"/movie/{GODFATHER}/rate", {"half_stars": "0"}, 400),
        (f"/movie/{GODFATHER}/rate", {"half_stars": "-2"}, 400),
        (f"/movie/{GODFATHER}/rate", {"half_stars": "ten"}, 400),
        (f"/movie/{GODFATHER}/rate", {"half_stars": "9" * 40}, 400),
        (f"/movie/{GODFATHER}/rate", {}, 400),
        ("/movie/999999/rate", {"half_stars": "10"}, 404),  # no such movie
        ("/movie/abc/rate", {"half_stars": "10"}, 404),
        ("/movie/999999/watchlist", {}, 404),
        ("/movie/999999/dismiss", {}, 404),
        ("/start/999999/rate", {"half_stars": "10"}, 400),
        ("/start/8/fly", {}, 404),
        ("/forget", {"confirm": "maybe"}, 400),
    ],
)
async def test_bad_forms_are_refused_and_change_nothing(alice, services, path, fields, status):
    before = counts(services)
    response = await alice.post(path, **fields)
    assert response.status == status
    assert "<h1>" in await response.text()  # a page that says what went wrong
    assert counts(services) == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/search?q=" + "a" * 301, 400),
        ("/api/search?q=" + "a" * 301, 400),
        ("/movie/999999", 404),
        ("/movie/" + "9" * 30, 404),
        ("/movie/-1", 404),
        ("/picks?genre=Westerns", 400),
        ("/picks?decade=1995", 400),
        ("/picks?decade=abc", 400),
        ("/picks?decade=3000", 400),
        ("/picks?page=-1", 400),
        ("/picks?page=999", 400),
        ("/watchlist?page=x", 400),
        ("/nights/abc", 404),
        ("/no/such/page", 404),
    ],
)
async def test_bad_queries_are_clear_4xx_answers(alice, path, status):
    response = await alice.get(path)
    assert response.status == status
    body = await response.text()
    assert ("error" in body) if "/api/" in path else ("<h1>" in body)


async def test_a_json_body_is_not_a_form(alice, services):
    response = await alice.client.post(
        f"/movie/{GODFATHER}/rate",
        json={"half_stars": 10},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert response.status == 400 and services.onboarding.rated(ALICE) == 0


async def test_a_huge_body_is_refused(alice, services):
    response = await alice.client.post(
        f"/movie/{GODFATHER}/rate",
        data={"csrf": alice.csrf, "half_stars": "10", "pad": "x" * 100_000},
    )
    assert response.status == 413 and services.onboarding.rated(ALICE) == 0


async def test_redirects_stay_on_this_site(alice):
    response = await alice.client.post(
        f"/movie/{GODFATHER}/watchlist?next=//evil.example/",
        data={"csrf": alice.csrf},
        allow_redirects=False,
    )
    assert response.headers["Location"] == f"/movie/{GODFATHER}"


async def test_a_bug_is_a_500_page_logged_without_the_query(alice, services, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(services.catalog, "search", broken)
    response = await alice.get("/search", params={"q": "secret words"})
    assert response.status == 500 and "went wrong on our side" in await response.text()
    assert "secret words" not in caplog.text and "GET /search failed" in caplog.text
