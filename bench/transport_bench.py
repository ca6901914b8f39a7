"""CPU the bot's process spends on one Bot API call: a movie card's sendMessage (its text and
13 buttons, ★0.5 … ★5 and three actions) through `bot.transport.AiohttpRequest`, sent as the
bot sends it (one JSON body) and, for comparison, as python-telegram-bot's HTTPXRequest encodes
it (an urlencoded form of JSON-encoded values) over the same aiohttp session.

    python bench/transport_bench.py [--calls 2000] [--batches 5]

A stand-in Bot API answers on 127.0.0.1 in a child process, so the CPU time measured here
(time.process_time) is the client's alone. Each encoding runs `--batches` batches of
`--calls` calls, alternating; the median batch is printed in µs a call. Not part of the test
suite.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from telegram import Bot
from telegram.request import RequestData
from web_bench import free_port

from bot import render
from bot.keyboards import CallbackCodec, wire
from bot.services.catalog import Card
from bot.transport import AiohttpRequest
from storage.movies import Movie

ME = {"id": 1, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
SENT = {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}}


def stand_in(port: int) -> None:
    """The child: every method answers at once (getMe with a bot, anything else a message)."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        result = ME if request.path.endswith("/getMe") else SENT
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


class FormRequest(AiohttpRequest):
    """The same session, the body as HTTPXRequest sends it: a form of JSON-encoded values."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: object, **kwargs: object) -> tuple[int, bytes]:  # fmt: skip
        assert self._session is not None and request_data is not None
        async with self._session.request(method, url, data=request_data.json_parameters) as res:
            return res.status, await res.read()


def card() -> dict[str, object]:
    """A movie card's sendMessage parameters, as the bot's handlers send them."""
    movie = Movie(858, "Godfather, The", 1972, ("Crime", "Drama"))
    shown = Card(movie, None, 4.5, False, False, (0.5, 5.0, 0.5))
    text, keyboard = render.movie_card(shown, CallbackCodec("1:bench"), 42)
    return {"chat_id": 42, "text": text, "parse_mode": "HTML", "reply_markup": wire(keyboard)}


async def cpu_per_call(bots: dict[str, Bot], calls: int, batches: int) -> dict[str, list[float]]:
    params = card()
    for bot in bots.values():
        await bot.initialize()
        for _ in range(100):  # warm up: connections, caches
            await bot._post("sendMessage", dict(params))
    took: dict[str, list[float]] = {name: [] for name in bots}
    for _ in range(batches):
        for name, bot in bots.items():
            start = time.process_time()
            for _ in range(calls):
                await bot._post("sendMessage", dict(params))
            took[name].append((time.process_time() - start) / calls)
    for bot in bots.values():
        await bot.shutdown()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        stand_in(args.serve)
        return 0
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(300):  # bounded: 30 s for the child to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/bot"
        bots = {
            "JSON body (the bot)": Bot("1:bench", base_url=base, request=AiohttpRequest()),
            "urlencoded form": Bot("1:bench", base_url=base, request=FormRequest()),
        }
        took = asyncio.run(cpu_per_call(bots, args.calls, args.batches))
    finally:
        child.terminate()
        child.wait(10)
    print(f"client CPU per sendMessage of a movie card (median of {args.batches} × {args.calls}):")
    for name, each in took.items():
        print(f"  {name:<22}{statistics.median(each) * 1e6:>6.0f} µs"
              f"  [{min(each) * 1e6:.0f}, {max(each) * 1e6:.0f}]")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
