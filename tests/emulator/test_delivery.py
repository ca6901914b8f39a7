"""Telegram's delivery rules in the emulator: getUpdates hands out every update until a later
offset confirms it (a restarted bot gets the unconfirmed ones again); a webhook gets each update
POSTed until it answers 200, a bounded number of times."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from telegram import Bot

from emulator.server import Emulator


async def test_unconfirmed_updates_are_handed_out_again_to_the_next_poller(emulator):
    alice = emulator.user("Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["one", "two", "three"]
    # The bot died before its next getUpdates: a new process asks without an offset.
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [u.update_id for u in first]
        # Confirming the first two (offset = the third's id) leaves only the third.
        rest = await bot.get_updates(offset=first[2].update_id, timeout=0)
        assert [u.message.text for u in rest] == ["three"]
        assert await bot.get_updates(offset=first[2].update_id + 1, timeout=0) == ()
    assert emulator.api.updates_not_taken() == 0


async def receiver(statuses: list[int]) -> tuple[web.AppRunner, str, list[dict]]:
    """A webhook that answers the given statuses in turn (then 200), recording each POST."""
    seen: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append({"body": await request.json(), "secret": request.headers.get(SECRET)})
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook", seen


SECRET = "X-Telegram-Bot-Api-Secret-Token"


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_a_webhook_gets_each_update_in_order_until_it_answers_200(emulator):
    runner, url, seen = await receiver([500, 502])
    try:
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            await bot.set_webhook(url, secret_token="hook-secret")
        alice = emulator.user("Alice")
        await alice.send("first")
        await alice.send("second")
        # The receiver sees the 4th request before the emulator has read (and logged) its answer.
        await until(lambda: len(seen) == 4 and len(emulator.webhook.log) == 4)
        texts = [s["body"]["message"]["text"] for s in seen]
        assert texts == ["first", "first", "first", "second"]  # 500, 502, then 200
        assert {s["secret"] for s in seen} == {"hook-secret"}
        assert [status for _, status in emulator.webhook.log] == [500, 502, 200, 200]
        assert emulator.world.updates == [] and emulator.webhook.dropped == []
    finally:
        await runner.cleanup()


async def test_a_webhook_that_never_answers_200_gets_a_bounded_number_of_tries():
    async with Emulator() as emulator:
        emulator.webhook.attempts, emulator.webhook.first_pause = 3, 0.01
        runner, url, seen = await receiver([500, 500, 500])
        try:
            emulator.api.webhook_url = url
            alice = emulator.user("Alice")
            await alice.send("lost")
            await alice.send("kept")
            await until(lambda: len(seen) == 4)
            assert [s["body"]["message"]["text"] for s in seen] == ["lost"] * 3 + ["kept"]
            await until(lambda: not emulator.world.updates)
            assert len(emulator.webhook.dropped) == 1  # "lost"; "kept" got its 200
        finally:
            await runner.cleanup()


async def test_a_closed_port_is_retried_like_an_error_status(emulator):
    emulator.webhook.attempts, emulator.webhook.first_pause = 2, 0.01
    emulator.api.webhook_url = "http://127.0.0.1:9/hook"  # nothing listens on the discard port
    await emulator.user("Alice").send("hello")
    await until(lambda: len(emulator.webhook.dropped) == 1)
    assert [status for _, status in emulator.webhook.log] == ["ClientConnectorError"] * 2
