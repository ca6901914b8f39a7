"""Latency of the web app under 50 concurrent users: the picks page and the search endpoint
against a static "hello" route of the same server, in the same run.

    python bench/web_bench.py                                   # the tests' small world
    python bench/web_bench.py --db data/moviebot.sqlite         # a copy of your database
    python bench/web_bench.py --users 50 --requests 20
    python bench/web_bench.py --db data/moviebot.sqlite --rounds 5   # median of 5 rounds

The database is copied to a temporary folder (nothing of yours is written); without a model
that loads, one is trained there. Every simulated user gets a few ratings and a session, then
the server is started in a child process (so the load generator does not share its CPU time
with the server's event loop) on 127.0.0.1, and `--users` clients, each with its own cookie,
send `--requests` requests each to one route at a time, all at once.

The picks service remembers recent rankings (bot.services.picks.Rankings), so a person's
repeated page (back, reload, paging) skips the model: of each user's 20 /picks requests, 3
are distinct pages that the model ranks. "/picks first" is every user's first page only, all
at the same moment, each a ranking the model must make (n = --users).

The target: p99(route) ≤ 3 × p99(/hello) + p99(the route's own service call), i.e. the web
layer (session, parsing, template, HTTP) adds at most three static answers to what the
service itself takes. The service calls are timed under the same load as the pages: the same
people, all at once, each making the same sequence of calls (`picks.recommend` with the same
pages; `catalog.search` with the same queries) through `Services.call`, without HTTP, with
nothing remembered at the start. Under 50 concurrent users one process spends ~50 × a
ranking's CPU on a wave of first pages whatever its web layer, so a sequential service p99
says nothing about the layer; it is printed too (the picks service call one person after
another), with the ratio against it ("sequential"). The ratio is p99 ÷ target (≤ 1 meets it).
Last, the picks page's template alone: the event loop's share of a page that a faster
template can cut.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services import Services, heap, open_services  # noqa: E402
from bot.services.people import Person  # noqa: E402
from bot.services.picks import Request  # noqa: E402
from bot.settings import Settings  # noqa: E402

QUERIES = ("godfater", "the matrix", "star wars", "alien", "toy story", "heat 1995", "fargo")
FIRST_ID = 9_000_000  # simulated people's Telegram ids: far from anyone real


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def prepare(args: argparse.Namespace, folder: Path) -> tuple[Settings, list[str], list[Person]]:
    """A copy of the database with a model, and a session for each simulated person."""
    from bot.training import load_current, train
    from storage.db import Database

    if args.db:
        db_path = folder / "bench.sqlite"
        shutil.copy(args.db, db_path)
        settings = replace(
            Settings.from_env(env_file=None), db_path=db_path, model_dir=folder / "models"
        )
        if args.model_dir:
            shutil.copytree(args.model_dir, folder / "models")
    else:
        from tests.bot.world import build

        settings = build(folder / "world.sqlite", folder / "models")
    settings = replace(settings, token="1:bench", rate_limit=False)
    with Database(settings.db_path) as db:
        if load_current(db, settings) is None:
            print("no model loads from that database: training one…", file=sys.stderr)
            train(db, settings)
    services = open_services(settings)
    try:
        people, cookies = [], []
        rng = random.Random(0)
        # Popular movies a newcomer is offered: ratings everyone could have given.
        pool = services.picks.recommend(Person(0), Request(n=10)).suggestions
        movie_ids = [s.movie.id for s in pool]
        for i in range(args.users):
            person = Person(FIRST_ID + i, f"bench{i}")
            for movie in rng.sample(movie_ids, min(3, len(movie_ids))):
                services.feedback.rate(person, movie, rng.choice([6, 8, 10]))
            cookies.append(services.web.open_session(person).token)
            people.append(person)
    finally:
        services.close()
    return settings, cookies, people


def recommender_p99(services: Services, people: list[Person], rounds: int) -> list[float]:
    """The picks service call itself, one person after another (no HTTP, no concurrency)."""
    took = []
    for _ in range(rounds):
        for person in people:
            services.picks.rankings.clear()  # the model's own work, not a remembered ranking
            start = time.perf_counter()
            services.picks.recommend(person, Request(n=10))
            took.append(time.perf_counter() - start)
    return took


def template_cost(services: Services, person: Person, repeats: int = 500) -> list[float]:
    """The picks page's template alone (a page of 10 picks, rendered as the route renders it):
    seconds per page, the best of five batches of `repeats`, five times over."""
    from web import forms
    from web.app import templates

    template = templates().get_template("picks.html")
    context = {
        "session": services.web.session(services.web.open_session(person).token),
        "path": "/picks",
        "public_url": "",
        "picks": services.picks.recommend(person, Request(n=10)),
        "number": 0,
        "genres": services.catalog.genres(),
        "decades": forms.decades(services.catalog.about()),
        "genre": "",
        "decade": None,
    }
    best = []
    for _ in range(5):
        batches = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats):
                template.render(**context)
            batches.append((time.perf_counter() - start) / repeats)
        best.append(min(batches))
    return best


def page_of(n: int) -> int | None:
    """Which picks page a user's `n`-th request asks for: none named (the first) on even n."""
    return None if n % 2 == 0 else n % 3


def query_of(i: int, n: int) -> str:
    """What user `i` searches for in their `n`-th request."""
    return QUERIES[(i + n) % len(QUERIES)]


def picks_path(i: int, n: int) -> str:
    page = page_of(n)
    return "/picks" if page is None else f"/picks?page={page}"


def search_path(i: int, n: int) -> str:
    return f"/api/search?q={query_of(i, n)}"


def picks_call(services: Services, i: int, n: int, person: Person) -> tuple:
    """The picks service call `picks_path(i, n)` makes."""
    return services.picks.recommend, person, Request(n=10), (page_of(n) or 0) * 10


def search_call(services: Services, i: int, n: int, person: Person) -> tuple:
    """The search service call `search_path(i, n)` makes."""
    return services.catalog.search, query_of(i, n), 8


async def service_load(services: Services, people: list[Person], call_for, requests: int):
    """The routes' own service calls, without HTTP, under the same load: every person at once,
    each making `requests` calls one after another through the gateway's worker threads
    (`Services.call`), as the pages make them. Each person's times, in order."""

    async def person_load(i: int, person: Person) -> list[float]:
        took = []
        for n in range(requests):
            start = time.perf_counter()
            await services.call(*call_for(services, i, n, person))
            took.append(time.perf_counter() - start)
        return took

    return list(await asyncio.gather(*(person_load(i, p) for i, p in enumerate(people))))


async def load(base: str, cookies: list[str], path_for, requests: int) -> list[list[float]]:
    """Every user at once, each sending `requests` requests one after another: each user's
    times, in order."""
    import aiohttp

    async def user(i: int, cookie: str) -> list[float]:
        took = []
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({"moviebot_session": cookie})
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(base, cookie_jar=jar, timeout=timeout) as session:
            for n in range(requests):
                start = time.perf_counter()
                async with session.get(path_for(i, n)) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path_for(i, n)}: HTTP {response.status}")
                took.append(time.perf_counter() - start)
        return took

    return list(await asyncio.gather(*(user(i, c) for i, c in enumerate(cookies))))


def serve(args: argparse.Namespace) -> None:
    """The child: the web app alone, as `moviebot run` serves it (without the bot)."""
    from web.server import start

    settings = replace(
        Settings.from_env(env_file=None),
        db_path=Path(args.db),
        model_dir=Path(args.model_dir),
        token="1:bench",
        web_listen="127.0.0.1",
        web_port=args.port,
    )
    services = open_services(settings)
    heap.settle()  # as `moviebot run` does once its services are open

    async def main() -> None:
        await start(settings, lambda: services)
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_up(base: str) -> None:
    import aiohttp

    for _ in range(600):
        try:
            async with aiohttp.ClientSession() as session, session.get(base + "/hello") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the web server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a moviebot database to copy (default: the tests' world)")
    parser.add_argument("--model-dir", help="its model folder (default: train one)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per user and route")
    parser.add_argument("--rounds", type=int, default=1, help="repeat, each with a new server")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        settings, cookies, people = prepare(args, Path(tmp))
        rounds = [one_round(settings, cookies, people, args) for _ in range(args.rounds)]
        services = open_services(settings)
        try:
            rendering = template_cost(services, people[0])
        finally:
            services.close()
    ratios = [report(*measured, args) for measured in rounds]
    print(f"\nthe picks page's template alone: {statistics.median(rendering) * 1e6:.0f} µs a page "
          f"(median of {len(rendering)}, each the best of 5 × 500 renders)")  # fmt: skip
    if len(ratios) > 1:
        print(f"\np99/target over {len(ratios)} rounds (each with a fresh server), median [range]:")
        for name in ratios[0]:
            each = sorted(r[name] for r in ratios)
            print(f"{name:<14}{statistics.median(each):>6.2f}  [{each[0]:.2f}, {each[-1]:.2f}]")
    return 0


def one_round(settings: Settings, cookies: list[str], people: list[Person], args) -> tuple:
    """The service calls under load in this process, then the pages under the same load from a
    freshly started server (nothing remembered): the figures `report` prints."""
    services = open_services(settings)
    heap.settle()  # as the server's process is
    own = recommender_p99(services, people, rounds=max(1, args.requests // 5))
    under_load = {}
    for name, call_for in (("/picks", picks_call), ("/api/search", search_call)):
        services.picks.rankings.clear()  # as the server starts: nothing remembered
        under_load[name] = asyncio.run(service_load(services, people, call_for, args.requests))
    services.close()
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--db", str(settings.db_path),
         "--model-dir", str(settings.model_dir), "--port", str(port)],
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(wait_up(base))
        routes = {"/hello": lambda i, n: "/hello", "/picks": picks_path, "/api/search": search_path}
        asyncio.run(load(base, cookies, routes["/hello"], 3))  # warm up
        figures = {
            name: asyncio.run(load(base, cookies, path, args.requests))
            for name, path in routes.items()
        }
    finally:
        child.terminate()
        child.wait(10)
    return figures, own, under_load


def report(
    per_user: dict[str, list[list[float]]],
    own: list[float],
    under_load: dict[str, list[list[float]]],
    args: argparse.Namespace,
) -> dict[str, float]:
    """Print one round's table; its p99/target ratios."""
    ms = 1000
    figures = {name: [t for took in users for t in took] for name, users in per_user.items()}
    # Everyone's first picks page, all at once: no ranking of theirs is remembered yet.
    figures["/picks first"] = [took[0] for took in per_user["/picks"]]
    services = {name: [t for took in users for t in took] for name, users in under_load.items()}
    services["/picks first"] = [took[0] for took in under_load["/picks"]]
    static99 = percentile(figures["/hello"], 0.99)
    ratios = {}
    own99 = percentile(own, 0.99)
    print(f"{args.users} concurrent users × {args.requests} requests per route, 127.0.0.1, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"recommender (picks service call, sequential): p50 {percentile(own, 0.5) * ms:.1f} ms"
          f"  p99 {own99 * ms:.1f} ms  (n={len(own)})")  # fmt: skip
    print(f"{'route':<14}{'p50 ms':>9}{'p99 ms':>9}{'service p99':>13}{'target ms':>11}"
          f"{'p99/target':>12}{'sequential':>12}")  # fmt: skip
    for name, took in figures.items():
        p50, p99 = percentile(took, 0.5), percentile(took, 0.99)
        line = f"{name:<14}{p50 * ms:>9.1f}{p99 * ms:>9.1f}"
        if name in services:
            service99 = percentile(services[name], 0.99)
            target = 3 * static99 + service99
            old = 3 * static99 + own99
            ratios[name] = p99 / target
            line += f"{service99 * ms:>13.1f}{target * ms:>11.1f}{p99 / target:>12.2f}"
            line += f"{p99 / old:>12.2f}"
        print(line)
    print("target = 3 × p99(/hello) + p99(the route's own service call, under the same load:")
    print("the same people at once, through Services.call, no HTTP); p99/target ≤ 1 meets it.")
    print("sequential: p99 ÷ (3 × p99(/hello) + p99(recommender, one call at a time)).")
    return ratios


if __name__ == "__main__":
    sys.exit(main())
