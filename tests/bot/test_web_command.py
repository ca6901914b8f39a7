"""The bot's side of the web app: /web's one-time link, and "Open app" when there is a public
web address (a Mini App)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from bot.handlers.web import WEB_BASE_URL
from bot.services.people import Person

APP_URL = "https://movies.example.org/app"


async def test_web_replies_with_a_one_time_link_for_the_sender(emulator, run_bot):
    services = await run_bot()
    run_bot.apps[-1].bot_data[WEB_BASE_URL] = "http://127.0.0.1:8080"
    alice = emulator.user("Alice")
    await alice.send("/web")
    reply = await alice.next_message()
    link = re.search(r"http://127\.0\.0\.1:8080/signin\?t=(\S+)", reply.text)
    assert link and "works once, for 10 minutes" in reply.text
    session = services.web.redeem(unquote(link[1]))
    assert session is not None and session.person == Person(alice.id, "Alice")
    assert services.web.redeem(unquote(link[1])) is None  # once


async def test_web_says_so_when_the_web_app_is_off(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/web")
    assert "not running" in (await alice.next_message()).text


async def test_open_app_on_start_and_recommend_with_a_public_address(emulator, run_bot):
    await run_bot(web_url=APP_URL)
    alice = emulator.user("Alice")
    await alice.send("/start")
    welcome = await alice.next_message()
    await alice.next_message()  # the first card
    assert welcome.button_labels == ["🌐 Open app"]
    assert welcome.reply_markup["inline_keyboard"][0][0]["web_app"] == {"url": APP_URL}
    await alice.send("/recommend")
    picks = await alice.next_message()
    assert picks.button_labels[-1] == "🌐 Open app"


async def test_no_open_app_without_a_public_address(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/start")
    assert (await alice.next_message()).button_labels == []
