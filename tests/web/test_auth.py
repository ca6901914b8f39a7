"""Who gets in: Mini App initData checked as Telegram documents it, one-time sign-in links,
sessions, CSRF and sign-out."""

from __future__ import annotations

import json
import time

import pytest

from bot.services import web as web_access
from bot.services.web import LINK_SECONDS, REMEMBER_SECONDS
from storage import web_tokens
from tests.web.conftest import ALICE, TOKEN, sign_in
from web import auth


def init_data(token: str = TOKEN, age: float = 0, user_id: int = ALICE.telegram_id, **extra):
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Alice"}, separators=(",", ":")),
        "auth_date": str(int(time.time() - age)),
        **extra,
    }
    return auth.sign(fields, token)


def test_the_check_string_is_sorted_fields_without_the_hash():
    """Telegram's example shape: key=value lines in key order, `hash` left out."""
    fields = {"user": "{}", "auth_date": "1", "hash": "x", "query_id": "q"}
    assert auth.check_string(fields) == "auth_date=1\nquery_id=q\nuser={}"


def test_valid_init_data_names_the_user():
    user = auth.validate(init_data(), TOKEN, now=time.time(), max_age=3600)
    assert (user.telegram_id, user.first_name) == (ALICE.telegram_id, "Alice")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (init_data(token="999:another-bot"), "bad hash"),  # signed for another bot
        (init_data().replace("Alice", "Mallory"), "bad hash"),  # tampered
        (init_data(age=7200), "expired"),
        (init_data(age=-3600), "expired"),  # from the future
        (init_data() + "&hash=0", "a field appears twice"),
        ("", "missing or oversized initData"),
        ("x" * 5000, "missing or oversized initData"),
        ("no-equals-sign", "malformed initData"),
        (auth.sign({"auth_date": str(int(time.time()))}, TOKEN), "no auth_date or user"),
    ],
)
def test_anything_else_is_refused(data, why):
    with pytest.raises(auth.InitDataError, match=why):
        auth.validate(data, TOKEN, now=time.time(), max_age=3600)


async def test_a_mini_app_signs_in_with_init_data(make_client):
    client = await make_client()
    response = await client.post("/auth/telegram", data={"init_data": init_data()})
    assert response.status == 200 and (await response.json())["ok"]
    assert (await client.get("/profile")).status == 200


@pytest.mark.parametrize(
    "data",
    [init_data(token="999:another-bot"), init_data(age=25 * 3600), init_data().replace("A", "B")],
    ids=["foreign-bot", "expired", "tampered"],
)
async def test_a_refused_init_data_is_401_and_opens_no_session(make_client, data):
    client = await make_client()
    response = await client.post("/auth/telegram", data={"init_data": data})
    assert response.status == 401 and "error" in await response.json()
    assert "moviebot_session" not in response.cookies
    assert (await client.get("/profile")).status == 401


async def test_the_init_data_age_limit_is_a_setting(make_client, settings, services):
    """MOVIEBOT_WEB_AUTH_MAX_AGE: a day by default; one hour old is refused under a 30 min limit."""
    from dataclasses import replace

    from aiohttp.test_utils import TestClient, TestServer

    from web.app import build_app

    strict = replace(settings, web_auth_max_age=1800)
    async with TestClient(TestServer(build_app(strict, lambda: services))) as client:
        response = await client.post("/auth/telegram", data={"init_data": init_data(age=3600)})
        assert response.status == 401
    response = await (await make_client()).post(
        "/auth/telegram", data={"init_data": init_data(age=3600)}
    )
    assert response.status == 200


async def test_a_sign_in_link_works_once(make_client, services):
    token = services.web.link_token(ALICE)
    first, second = await make_client(), await make_client()
    page = await first.get("/signin", params={"t": token})
    assert page.status == 200 and 'action="/signin"' in await page.text()  # GET uses nothing
    done = await first.post("/signin", data={"t": token}, allow_redirects=False)
    assert done.status == 303
    cookie = done.cookies["moviebot_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    again = await second.post("/signin", data={"t": token}, allow_redirects=False)
    assert again.status == 401 and "used already or has expired" in await again.text()
    assert (await second.get("/profile")).status == 401


async def test_an_expired_link_is_refused(make_client, services, monkeypatch):
    token = services.web.link_token(ALICE)
    later = time.time() + LINK_SECONDS + 1
    monkeypatch.setattr(services.web, "_clock", lambda: later)
    response = await (await make_client()).post("/signin", data={"t": token})
    assert response.status == 401


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "1002" + t[t.index(".") :],  # another person's id on Alice's link
        lambda t: "x" * 300,
        lambda t: "",
    ],
    ids=["bad-signature", "other-user", "oversized", "empty"],
)
async def test_a_forged_link_is_refused(make_client, services, forge):
    token = services.web.link_token(ALICE)
    response = await (await make_client()).post("/signin", data={"t": forge(token)})
    assert response.status == 401
    genuine = await (await make_client()).post("/signin", data={"t": token}, allow_redirects=False)
    assert genuine.status == 303  # the forgery did not use the link up


async def test_only_a_hash_of_a_token_is_stored(services):
    token = services.web.link_token(ALICE)
    rows = services.db.conn.execute("SELECT token_hash FROM web_tokens").fetchall()
    assert rows and all(token not in r[0] and len(r[0]) == 64 for r in rows)


async def test_pages_need_a_session(make_client):
    client = await make_client()
    for path in ("/", "/picks", "/movie/8", "/profile", "/export.csv", "/nights/1"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 401, path
        assert "send /web to the bot" in await response.text()
    api = await client.get("/api/search", params={"q": "heat"})
    assert api.status == 401 and "error" in await api.json()
    assert (await client.get("/hello")).status == 200


async def test_a_made_up_session_cookie_is_no_session(make_client):
    client = await make_client()
    client.session.cookie_jar.update_cookies({"moviebot_session": "made-up"})
    assert (await client.get("/profile")).status == 401


async def test_state_changes_need_the_csrf_token(alice, services):
    for fields in ({}, {"csrf": "wrong"}):
        response = await alice.client.post(
            "/movie/8/rate", data={"half_stars": "10", **fields}, allow_redirects=False
        )
        assert response.status == 403 and "expired" in await response.text()
    assert services.onboarding.rated(ALICE) == 0
    by_header = await alice.client.post(
        "/movie/8/watchlist", headers={"X-CSRF-Token": alice.csrf}, allow_redirects=False
    )
    assert by_header.status == 303
    assert (await alice.post("/movie/8/rate", half_stars="10")).status == 303
    assert services.onboarding.rated(ALICE) == 1


async def test_sign_in_from_another_site_is_refused(make_client, services):
    token = services.web.link_token(ALICE)
    response = await (await make_client()).post(
        "/signin", data={"t": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403


async def test_sign_out_ends_the_session(alice, make_client, services):
    token = session_token(alice)
    assert (await alice.post("/signout")).status == 200
    assert (await alice.get("/profile")).status == 401
    replay = await make_client()
    replay.session.cookie_jar.update_cookies({"moviebot_session": token})
    assert (await replay.get("/profile")).status == 401  # gone on the server, not just here


def session_token(browser) -> str:
    jar = browser.client.session.cookie_jar
    return jar.filter_cookies(browser.client.make_url("/"))["moviebot_session"].value


async def test_forget_in_the_chat_signs_a_browser_out_at_once(alice, bob, services):
    assert (await alice.get("/profile")).status == 200  # its session read, and remembered
    assert services.account.forget(ALICE) is False  # nothing rated, but the sessions go
    assert (await alice.get("/profile")).status == 401
    assert (await bob.get("/profile")).status == 200  # someone else's stays


async def test_a_session_removed_by_another_process_ends_within_a_minute(
    alice, services, monkeypatch
):
    assert (await alice.get("/profile")).status == 200
    web_tokens.remove(services.db, session_token(alice))  # as another process would
    later = time.time() + REMEMBER_SECONDS + 1
    monkeypatch.setattr(services.web, "_clock", lambda: later)
    assert (await alice.get("/profile")).status == 401


async def test_a_remembered_session_still_expires(services, monkeypatch):
    session = services.web.open_session(ALICE)
    assert services.web.session(session.token) == services.web.remembered(session.token)
    monkeypatch.setattr(services.web, "_clock", lambda: session.expires_at)
    assert services.web.remembered(session.token) is None
    assert services.web.session(session.token) is None


def test_only_so_many_sessions_are_remembered_and_the_others_still_work(services, monkeypatch):
    monkeypatch.setattr(web_access, "REMEMBERED", 2)
    tokens = [services.web.open_session(ALICE).token for _ in range(3)]
    for token in tokens:
        services.web.session(token)
    assert [services.web.remembered(t) is not None for t in tokens] == [False, True, True]
    assert services.web.session(tokens[0]) is not None  # read from the database again


async def test_every_sign_in_gets_its_own_session(make_client, services):
    one = await sign_in(await make_client(), services, ALICE)
    two = await sign_in(await make_client(), services, ALICE)
    assert one.csrf != two.csrf
    await one.post("/signout")
    assert (await two.get("/profile")).status == 200


async def test_cookies_are_secure_behind_a_public_https_address(settings, services):
    """With MOVIEBOT_WEB_URL (https) a link's cookie is Secure and Lax; a Mini App's is Secure
    and SameSite=None, as Telegram's web clients frame the app."""
    from dataclasses import replace

    from aiohttp.test_utils import TestClient, TestServer

    from web.app import build_app

    public = replace(settings, web_url="https://movies.example.org")
    async with TestClient(TestServer(build_app(public, lambda: services))) as client:
        token = services.web.link_token(ALICE)
        link = await client.post("/signin", data={"t": token}, allow_redirects=False)
        cookie = link.cookies["moviebot_session"]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
        mini = await client.post("/auth/telegram", data={"init_data": init_data()})
        cookie = mini.cookies["moviebot_session"]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "None"
