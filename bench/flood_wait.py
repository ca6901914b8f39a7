"""Does one chat's flood wait hold up the others? Target: a 30 s flood wait (429 retry_after=30)
for one chat adds < 1 s to the other chats' p99 reply latency.

    .venv/bin/python bench/flood_wait.py [--through send|bot] [--chats 20] [--retry-after 30]

Runs against the emulator on 127.0.0.1 with Telegram's flood limits switched on (3 messages in
3 s per private chat, 30 a second overall), the send policy (bot.sending) pacing messages as in
production. Two rounds of the same load, one after the other in this run:

- baseline: `--chats` people each ask for a reply every `--interval` seconds for
  `retry-after + 3` seconds;
- flood: the same, while one more chat's reply meets a 429 with retry_after = `--retry-after`
  (the emulator's per-chat fault) just as the round starts.

`--through send` times the send layer alone (`bot.send_message` through the policy, each
chat's requests in its own task: what the policy promises whatever the update handling does).
`--through bot` runs the whole bot (`build_application` over an empty database) and times
"/help" from the person's message to the bot's reply: that includes how updates are handled,
so the flood round only matches the baseline when updates of different chats are handled
concurrently. Prints p50/p95/p99 per round and what the flood added to the p99.
Not part of the test suite.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update
from telegram.ext import ExtBot

from bot.app import build_application
from bot.sending import Limits, SendPolicy
from bot.services import open_services
from bot.settings import Settings
from emulator import Emulator, RateLimits
from emulator.people import SimUser
from emulator.runner import start_application, stop_application

Ask = Callable[[SimUser], Awaitable[None]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def load(people: list[SimUser], ask: Ask, seconds: float, interval: float) -> list[float]:
    """Every person asks every `interval` s (staggered) for `seconds`: the reply latencies."""
    latencies: list[float] = []

    async def one(n: int, person: SimUser) -> None:
        await asyncio.sleep(interval * n / len(people))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await ask(person)
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    await asyncio.gather(*(one(n, p) for n, p in enumerate(people)))
    return latencies


async def round_(
    emulator: Emulator, people: list[SimUser], flooded: SimUser | None, ask: Ask, args
) -> tuple[list[float], float | None]:
    """One round of the load; with `flooded`, that chat's next reply meets the flood wait."""
    seconds = args.retry_after + 3
    flooded_latency: float | None = None

    async def flood() -> None:
        nonlocal flooded_latency
        assert flooded is not None
        emulator.faults.flood("sendMessage", retry_after=args.retry_after, n=1, chat_id=flooded.id)
        started = time.monotonic()
        await ask(flooded)
        flooded_latency = time.monotonic() - started

    jobs: list[Awaitable[object]] = [load(people, ask, seconds, args.interval)]
    if flooded is not None:
        jobs.append(flood())
    latencies, *_ = await asyncio.gather(*jobs)
    emulator.faults.clear()
    return latencies, flooded_latency


async def through_send(emulator: Emulator, people: list[SimUser], flooded: SimUser, args):
    async def ask(person: SimUser) -> None:
        await bot.send_message(person.id, "a reply")

    bot = ExtBot(
        emulator.token, base_url=emulator.base_url, rate_limiter=SendPolicy(limits=Limits())
    )
    async with bot:
        base, _ = await round_(emulator, people, None, ask, args)
        flood, slow = await round_(emulator, people, flooded, ask, args)
    return base, flood, slow


async def through_bot(emulator: Emulator, people: list[SimUser], flooded: SimUser, args):
    async def ask(person: SimUser) -> None:
        await person.send("/help")
        await person.next_message(timeout=args.retry_after + 30)

    folder = Path(tempfile.mkdtemp(prefix="flood-wait-"))
    settings = emulator.settings(
        replace(
            Settings(),
            db_path=folder / "bench.sqlite",
            model_dir=folder / "models",
            retrain_interval=0,
            rate_limit=True,
        )
    )
    services = open_services(settings)
    app = build_application(settings, services)
    await start_application(app, poll_timeout=10, allowed_updates=Update.ALL_TYPES)
    try:
        base, _ = await round_(emulator, people, None, ask, args)
        flood, slow = await round_(emulator, people, flooded, ask, args)
    finally:
        await stop_application(app)
        services.close()
    return base, flood, slow


def report(name: str, latencies: list[float]) -> float:
    p99 = percentile(latencies, 99)
    print(
        f"{name:9} {len(latencies):5d} replies  p50 {statistics.median(latencies) * 1000:7.0f} ms"
        f"  p95 {percentile(latencies, 95) * 1000:7.0f} ms  p99 {p99 * 1000:7.0f} ms"
        f"  max {max(latencies) * 1000:7.0f} ms"
    )
    return p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--through", choices=("send", "bot"), default="send")
    parser.add_argument("--chats", type=int, default=20, help="other chats under load")
    parser.add_argument("--retry-after", type=int, default=30, help="the flood wait, seconds")
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between asks")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")  # python-telegram-bot's retry_after deprecation notice
    async with Emulator(rate_limits=RateLimits()) as emulator:
        people = [emulator.user(f"Person {n}") for n in range(args.chats)]
        flooded = emulator.user("Flooded")
        for person in [*people, flooded]:  # their private chats exist; the updates are consumed
            await person.send("/start")
        emulator.api.acknowledge(emulator.world.updates[-1]["update_id"] + 1)
        run = through_send if args.through == "send" else through_bot
        print(
            f"through {args.through}: {args.chats} chats asking every {args.interval} s; "
            f"the flood round holds one more chat for retry_after={args.retry_after} s"
        )
        base, flood, slow = await run(emulator, people, flooded, args)
        calls = sum(1 for c in emulator.calls if c.method == "sendMessage")
        extra = calls - len(base) - len(flood) - 1  # the flooded chat's reply is one
    base_p99 = report("baseline", base)
    flood_p99 = report("flood", flood)
    print(f"the flooded chat's reply took {slow:.1f} s (retry_after {args.retry_after} s)")
    print(f"sendMessage calls beyond one per reply (429s, retries): {extra}")
    added = flood_p99 - base_p99
    print(
        f"the flood added {added * 1000:+.0f} ms to the other chats' p99 "
        f"({flood_p99 / base_p99:.2f}x the baseline; target: under +1000 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
