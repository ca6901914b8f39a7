"""Every figure of issue 16's table at one scale of ML-25M, each as a ratio to its floor.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/scale.py --scale 0.01   # make bench SCALE=0.01

Generates the data set (bench/generate_movielens.py) unless it is there, then measures, each
step in a fresh process (so its peak resident memory is its own), each figure back to back
with its floor on the same data:
- import: `import_dataset` ratings/s ÷ a bare `executemany` of the same rows into the same
  (fresh) ratings table, in one transaction;
- train: `bot.training.train` as the bot runs it (validation included) and without validation
  ÷ implicit's `fit` alone on the same confidence matrix, with the same settings;
- recommend: p99 of `Recommender.recommend` (a 20-rating user, n = 10) ÷ p99 of one matvec
  over all item factors + argpartition;
- serving: peak RSS of `open_services` (model, catalogue, title index) serving recommends and
  searches, against the model's arrays + the catalogue;
- bot: updates/s of the real bot through the emulator as `moviebot run` runs it (the update
  inbox, chats handled at once), `/recommend` and a title search, ÷ a minimal echo bot on the
  same Application machinery and emulator (plus, not a floor, that echo handler with chats
  handled at once: what concurrency itself costs);
- search: p99 of `TitleIndex.search` ÷ p99 of a rapidfuzz `WRatio` scan (`default_process`)
  of every title; the intended title first for ≥ 1,000 generated queries (typos, missing
  articles, years, partial titles, non-ASCII) and "not found" for titles not in the catalogue.
Writes docs/benchmarks/scale-<scale>.json and regenerates docs/benchmarks.md from every JSON
there (`--markdown-only` just regenerates it).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import bisect
import functools
import json
import math
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

STEPS = ("import", "train", "recommend", "serving", "bot", "search")
OUT = ROOT / "docs" / "benchmarks"
MESSAGES = 300  # updates sent to each bot, in each of ROUNDS rounds
ROUNDS = 3
SEARCH_QUERIES = 1_200
SEARCH_REPEAT = 3  # timed calls of each query (search and floor alike); the least counts


def rss_mb() -> float:
    """Peak resident memory of this process so far (MB): VmHWM, which starts afresh at exec
    (getrusage's ru_maxrss would carry the driver's peak into every step)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds of `repeat` calls of fn (after one warm-up call)."""
    fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


# -- the steps, each run in its own process --------------------------------------------------


def step_import(work: Path, data: Path) -> dict[str, Any]:
    from storage.db import Database
    from storage.importers.movielens import import_dataset

    path = work / "moviebot.sqlite"
    for leftover in work.glob("moviebot.sqlite*"):
        leftover.unlink()
    with Database(path) as db:
        result = import_dataset(db, data)
    return {"ratings": result.ratings, "seconds": result.seconds,
            "rate": result.ratings / result.seconds, "rss_mb": rss_mb()}  # fmt: skip


def step_import_floor(work: Path, data: Path) -> dict[str, Any]:
    """The same rows into the same fresh table with one executemany, one transaction."""
    import pandas as pd

    from storage.db import Database

    path = work / "floor.sqlite"
    for leftover in work.glob("floor.sqlite*"):
        leftover.unlink()
    ratings = pd.read_csv(data / "ratings.csv")
    movie_ids = pd.read_csv(data / "movies.csv", usecols=["movieId"])["movieId"].tolist()
    users = sorted(set(ratings["userId"].tolist()))
    with Database(path) as db:
        # The bare table: its primary key, no secondary index (the importer builds that once).
        db.conn.execute("DROP INDEX ratings_movie")
        with db.write() as conn:
            conn.executemany("INSERT INTO movies (id, title) VALUES (?, ?)",
                             [(m, f"m{m}") for m in movie_ids])  # fmt: skip
            conn.executemany(
                "INSERT INTO users (id, kind, external_id, created_at) VALUES (?, 'dataset', ?, 0)",
                [(u, u) for u in users],
            )
        columns = [ratings[c].tolist() for c in ("userId", "movieId", "rating", "timestamp")]
        started = time.perf_counter()
        with db.write() as conn:
            conn.executemany(
                "INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (?, ?, ?, ?)",
                zip(*columns, strict=True),
            )
        seconds = time.perf_counter() - started
    path.unlink()
    return {"ratings": len(ratings), "seconds": seconds, "rate": len(ratings) / seconds}


def _settings(work: Path) -> Any:
    from bot.settings import Settings

    return Settings(db_path=work / "moviebot.sqlite", model_dir=work / "models",
                    rate_limit=False, retrain_interval=0)  # fmt: skip


def step_train(work: Path, validate: bool) -> dict[str, Any]:
    from bot.training import train
    from storage.db import Database

    with Database(work / "moviebot.sqlite") as db:
        started = time.perf_counter()
        result = train(db, _settings(work), with_validation=validate)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "timings": result.recommender.info["timings"],
            "metrics": result.record.metrics, "rss_mb": rss_mb()}  # fmt: skip


def als_floor(ratings: Any, cfg: Any) -> tuple[float, int]:
    """implicit's ALS fit alone on this ALS configuration's confidence matrix, same settings
    and thread setting: its seconds, and the matrix's non-zeros."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from recommender.als import confidence

    matrix = confidence(ratings.matrix, cfg)
    model = AlternatingLeastSquares(
        factors=cfg.factors,
        regularization=cfg.regularization,
        alpha=1.0,
        iterations=cfg.iterations,
        calculate_training_loss=False,
        random_state=cfg.seed,
    )
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):
        model.fit(matrix, show_progress=False)
    return time.perf_counter() - started, int(matrix.nnz)


def step_train_floor(work: Path) -> dict[str, Any]:
    """`als_floor` on the main ALS of the database's configuration."""
    from bot.training import (
        RATINGS_CACHE,
        catalog_from_db,
        config_for,
        model_folder,
        ratings_from_db,
    )
    from storage.db import Database

    with Database(work / "moviebot.sqlite") as db:
        catalog = catalog_from_db(db)
        # through the ratings cache, as `train` reads: the first read after an import fills it
        # (~45 s at 100%, once per import; docs/benchmarks.md), so the trains below time a
        # retrain as the bot runs it, every 6 hours
        cache = model_folder(db, _settings(work)) / RATINGS_CACHE
        ratings = ratings_from_db(db, catalog, cache=cache)
        cfg = config_for(db, _settings(work)).als
    seconds, nnz = als_floor(ratings, cfg)
    return {"seconds": seconds, "nnz": nnz}


def _histories(work: Path, count: int, seed: int = 0) -> list[dict[int, float]]:
    """`count` 20-rating histories taken from data-set users with at least 20 ratings."""
    from storage import ratings as rating_store
    from storage.db import Database

    with Database(work / "moviebot.sqlite") as db:
        frame = rating_store.frame(db, ("dataset",))
    rng = np.random.default_rng(seed)
    users = frame["user"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    rich = np.flatnonzero(ends - starts >= 20)
    out = []
    for u in rng.choice(rich, size=min(count, len(rich)), replace=False):
        rows = rng.choice(np.arange(starts[u], ends[u]), 20, replace=False)
        out.append(dict(zip(frame["movie"].to_numpy()[rows].tolist(),
                            frame["rating"].to_numpy()[rows].tolist(), strict=True)))  # fmt: skip
    return out


def step_recommend(work: Path) -> dict[str, Any]:
    from bot.training import load_current
    from storage.db import Database

    histories = _histories(work, 300)
    with Database(work / "moviebot.sqlite") as db:
        model = load_current(db, _settings(work))
    assert model is not None
    calls = iter(histories * 2)
    times = timed(lambda: model.recommend(next(calls), n=10), len(histories))
    factors = np.asarray(model._hybrid.taste.item_factors, dtype=np.float32)
    rng = np.random.default_rng(0)
    users = iter(rng.normal(size=(len(histories) + 1, factors.shape[1])).astype(np.float32))

    def floor() -> np.ndarray:
        scores = factors @ next(users)
        return np.argpartition(-scores, 10)[:10]

    floor_times = timed(floor, len(histories))
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
            "floor_p50_ms": percentile(floor_times, 50),
            "floor_p99_ms": percentile(floor_times, 99), "calls": len(times)}  # fmt: skip


def _arrays_and_catalogue_mb(model_path: Path, titles: list[str], genres: list[str]) -> float:
    arrays = np.load(model_path, allow_pickle=False)
    total = sum(arrays[name].nbytes for name in arrays.files)
    total += sum(len(t.encode()) for t in titles) + sum(len(g.encode()) for g in genres)
    return total / 1e6


def step_serving(work: Path) -> dict[str, Any]:
    """The bot's services as `moviebot run` opens them, serving recommends and searches."""
    from bot.services import open_services
    from storage import models
    from storage import ratings as rating_store

    before = rss_mb()
    services = open_services(_settings(work))
    model = services.models.current
    assert model is not None
    for user in range(1, 101):  # data-set users (each has at least 20 ratings)
        history = rating_store.history_of(services.db, "dataset", user).ratings
        model.recommend(dict(list(history.items())[:20]), n=10)
    titles = list(model.catalog.titles)
    for title in titles[:: max(1, len(titles) // 200)]:
        services.titles.search(title)
    record = models.latest(services.db)
    assert record is not None
    floor = _arrays_and_catalogue_mb(
        Path(record.path), titles, ["|".join(g) for g in model.catalog.genres]
    )
    services.close()
    return {"rss_mb": rss_mb(), "rss_before_open_mb": before, "arrays_catalogue_mb": floor}


async def _throughput(settings: Any, texts: list[tuple[str, str]], build: Callable) -> float:
    """Updates/s: send every (person, text), time until the bot has answered them all.

    `settings` None: the echo bot, polling with python-telegram-bot's Updater. Otherwise the
    real bot as `moviebot run` runs it (bot.app.serve: the update inbox, then the handlers).
    Both run on the same emulator code and PTB Application, in this process and event loop."""
    from bot.app import serve
    from emulator.runner import start_application, stop_application
    from emulator.server import Emulator

    async with Emulator() as emulator:
        app = build(emulator, emulator.settings(settings) if settings else None)
        people = {name: emulator.user(name) for name, _ in texts}
        if settings is None:
            await start_application(app, poll_timeout=10.0)
            stop, serving = None, None
        else:
            await _prepare(settings, people)
            await app.initialize()
            stop = asyncio.Event()
            serving = asyncio.create_task(serve(app, emulator.settings(settings), stop))
        await emulator.wait_polling(timeout=10.0)
        # Done when every message has its answer (idle time alone would end early if the
        # machine stalls the bot for a moment), counted as the bot sends them: polling the
        # chats would cost the event loop more the slower the bot is. Bounded.
        answered, done = [0], asyncio.Event()

        def count(event: Any) -> None:
            if event.kind == "message":
                answered[0] += 1
                if answered[0] >= len(texts):
                    done.set()

        emulator.world.listeners.append(count)
        started = time.perf_counter()
        for name, text in texts:
            await people[name].send(text)
        try:
            await asyncio.wait_for(done.wait(), 300.0)
        except TimeoutError:
            raise RuntimeError("the bot had not answered everything after 300 s") from None
        seconds = time.perf_counter() - started
        await emulator.wait_idle(quiet=0.05, timeout=30.0)
        if stop is None:
            await stop_application(app)
        else:
            stop.set()
            await asyncio.wait_for(serving, 30.0)
    return len(texts) / seconds


async def _prepare(settings: Any, people: dict[str, Any]) -> None:
    """Give each simulated person 20 ratings (they are past onboarding), and empty the update
    inbox: every emulator numbers its updates from the same id, and the inbox skips an update
    it has seen (a redelivery)."""
    from storage import ratings as rating_store
    from storage import users
    from storage.db import Database

    path = getattr(settings, "db_path", None)
    if path is None:
        return
    with Database(path) as db:
        with db.write() as conn:
            conn.execute("DELETE FROM inbox")
        for number, person in enumerate(people.values(), start=1):
            # 20 ratings of data-set user `number` (each has at least 20).
            taken = rating_store.history_of(db, "dataset", number).ratings
            user = users.ensure_telegram(db, person.id, person.name)
            for movie, stars in list(taken.items())[:20]:
                rating_store.upsert(db, user, movie, stars, ts=1_600_000_000)


def step_bot(work: Path) -> dict[str, Any]:
    from telegram import Update
    from telegram.ext import MessageHandler, filters

    from bot import transport
    from bot.app import build_application
    from bot.processor import ChatOrder
    from bot.services import open_services
    from emulator.runner import application_builder

    settings = _settings(work)
    names = [f"User{i}" for i in range(20)]
    with_titles = _titles(work)
    rng = random.Random(0)
    recommend = [(names[i % len(names)], "/recommend") for i in range(MESSAGES)]
    search = [(names[i % len(names)], rng.choice(with_titles)) for i in range(MESSAGES)]

    opened: list[Any] = []

    def moviebot(emulator: Any, connected: Any) -> Any:
        services = open_services(connected)
        opened.append(services)
        return build_application(connected, services)

    async def echo(update: Update, context: Any) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    def echobot(emulator: Any, connected: Any, at_once: bool = False, ours: bool = False) -> Any:
        builder = application_builder(emulator)
        if at_once:  # chats at once, each in order, as the real bot handles them
            builder = builder.concurrent_updates(ChatOrder())
        if ours:  # the Bot API over the bot's own HTTP client (bot.transport), not httpx
            builder = transport.install(builder)
        app = builder.build()
        app.add_handler(MessageHandler(filters.TEXT, echo))
        return app

    out: dict[str, Any] = {}
    # Alternating, best of ROUNDS each: a burst of other work on the machine hits one round.
    for label, texts in (("recommend", recommend), ("search", search)):
        for _ in range(ROUNDS):
            rate = asyncio.run(_throughput(settings, texts, moviebot))
            out[label] = max(out.get(label, 0.0), rate)
            echoed = asyncio.run(_throughput(None, texts, echobot))
            out[f"echo_{label}"] = max(out.get(f"echo_{label}", 0.0), echoed)
        # Not the floor (that is the plain echo bot above): what handling 20 chats at once
        # costs the same echo handler, python-telegram-bot's HTTP pool included.
        at_once = asyncio.run(_throughput(None, texts, functools.partial(echobot, at_once=True)))
        out[f"echo_at_once_{label}"] = at_once
        # Not the floor either: that echo handler, chats at once, over the bot's own HTTP client.
        ours = functools.partial(echobot, at_once=True, ours=True)
        out[f"echo_aiohttp_{label}"] = asyncio.run(_throughput(None, texts, ours))
    for services in opened:
        services.close()
    return out


def _titles(work: Path) -> list[str]:
    from storage.db import Database
    from storage.movies import all_movies

    with Database(work / "moviebot.sqlite") as db:
        return [m.title for m in all_movies(db)]


# -- search -----------------------------------------------------------------------------------

ARTICLE_SUFFIXES = (", The", ", A", ", An", ", La", ", Le", ", Les", ", Il", ", Das", ", Der",
                    ", Die", ", El", ", Los")  # fmt: skip
LEADING_ARTICLES = frozenset(s[2:] for s in ARTICLE_SUFFIXES)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _typo(text: str, rng: random.Random) -> str:
    from search_bench import misspell

    return misspell(text, rng) if len(text) > 4 else text


ROMAN = {"ii": "2", "iii": "3", "iv": "4"}
ARTICLES = frozenset({"the", "a", "an", "la", "le", "les", "il", "das", "der", "die", "el", "los"})


def _plain(text: str) -> str:
    """Lower case, no accents or punctuation (rapidfuzz's `default_process`): how the bench
    compares names, independently of the search's own normalisation."""
    from rapidfuzz.utils import default_process

    return default_process(_strip_accents(text))


def same_name(a: str, b: str) -> bool:
    """Two names nobody could tell apart: the same letters once accents, case, punctuation,
    articles (the generated catalogue puts foreign ones on English words: "Das Family" beside
    "Family") and roman sequel numbers are set aside."""

    def key(name: str) -> str:
        return " ".join(ROMAN.get(w, w) for w in _plain(name).split() if w not in ARTICLES)

    return key(a) == key(b)


def main_name(title: str) -> str:
    """The name people read and type: without the alternative title in parentheses, with the
    article MovieLens moved to the end back in front ("Matrix, The" → "The Matrix")."""
    name = title.split(" (")[0]
    for suffix in ARTICLE_SUFFIXES:
        if name.endswith(suffix):
            return f"{suffix[2:]} {name[: -len(suffix)]}"
    return name


def found_as_meant(got: Any, want: Any, query: str) -> bool:
    """Whether the top hit `got` answers a query typed for `want`: it is that movie, or one no
    query could tell from it. That is another movie with a name (main or alternative) that is
    the name the query was made from, and, if the query names the year, from that year too
    ("Heat 1995" must find the 1995 Heat, but two "Future (1994)" are one answer)."""
    if got.id == want.id:
        return True
    from storage.search import title_names

    wanted = main_name(want.title)
    if not any(same_name(name, wanted) for name in title_names(got.title)):
        return False
    return str(want.year) not in query or got.year == want.year


KINDS = ("typo", "no article", "year", "partial", "accents", "title")


def _name_starts(movies: list[Any]) -> tuple[dict[str, int], set[str]]:
    """How many names in the catalogue begin with each run of first words, and every whole
    name, compared as `_plain` text."""
    from storage.search import title_names

    starts: dict[str, int] = {}
    whole: set[str] = set()
    for m in movies:
        for name in {_plain(n) for n in title_names(m.title)}:
            words = name.split()
            whole.add(name)
            for k in range(1, len(words)):
                prefix = " ".join(words[:k])
                starts[prefix] = starts.get(prefix, 0) + 1
    return starts, whole


def search_queries(movies: list[Any], n: int, seed: int = 0) -> list[tuple[str, int, str]]:
    """(query, intended movie id, kind): what people type for a title of the catalogue. A
    partial title is only asked where its first words begin no other name and are not a whole
    name themselves (else they name another movie, or none)."""
    rng = random.Random(seed)
    starts, whole = _name_starts(movies)
    out: list[tuple[str, int, str]] = []
    while len(out) < n:
        movie = rng.choice(movies)
        title = main_name(movie.title)
        kind = rng.randrange(6)
        if kind == 0:
            query = _typo(title.lower(), rng)
        elif kind == 1:  # missing article
            words = title.split()
            query = " ".join(words[1:]) if len(words) > 2 and words[0] in LEADING_ARTICLES \
                else title.lower()  # fmt: skip
        elif kind == 2 and movie.year:
            query = f"{title.lower()} {movie.year}"
        elif kind == 3:  # partial: the first words of a longer name, its last one left out
            words = title.split()
            cut = " ".join(words[:-1])
            unique = starts.get(_plain(cut)) == 1 and _plain(cut) not in whole
            query = cut if len(words) > 3 and unique else title
        elif kind == 4:  # non-ASCII: accents dropped, or typed where there were none
            query = _strip_accents(title) if _strip_accents(title) != title else title.replace(
                "e", "é", 1)  # fmt: skip
        else:
            query = title
        # What the query is: the title as it is when the kind did not apply to this one.
        out.append((query, movie.id, "title" if query.lower() == title.lower() else KINDS[kind]))
    return out


def not_in_catalogue(titles: list[str], n: int, seed: int = 1) -> list[str]:
    """Made-up titles the answer must be "not found" for, none of whose words a person could
    have typed for a word of the catalogue: each is more typing slips (optimal string
    alignment distance) from every catalogue word than a typo has, one slip, or two in ten
    letters or more ("terminaterr" is Terminator), and is not how a catalogue word begins
    (a title typed before its end). The typo queries misspell titles within those bounds."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA
    from search_bench import SYLLABLES

    rng = random.Random(seed)
    words = sorted({w for t in titles for w in _plain(t).split()})

    def typed_for_one(word: str) -> bool:
        slips = 1 if len(word) < 10 else 2
        if process.extractOne(word, words, scorer=OSA.distance, score_cutoff=slips) is not None:
            return True
        at = bisect.bisect_left(words, word)
        return len(word) >= 5 and at < len(words) and words[at].startswith(word)

    out: list[str] = []
    while len(out) < n:
        parts = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))
                 for _ in range(rng.randint(1, 3))]  # fmt: skip
        if not any(typed_for_one(p) for p in parts):
            out.append(" ".join(parts))
    return out


def search_quality(index: Any, movies: list[Any]) -> dict[str, Any]:
    """How `index` answers the generated queries: the share whose top hit is the movie meant
    (`found_as_meant`), overall and by kind, and what the made-up titles got: a match (the
    bot lists it as if found), only "did you mean" suggestions, or nothing."""
    by_id = {m.id: m for m in movies}
    queries = search_queries(movies, SEARCH_QUERIES)
    asked: dict[str, int] = {}
    hits: dict[str, int] = {}
    misses: list[list[str]] = []
    for query, wanted, kind in queries:
        found = index.search(query, limit=1)
        ok = bool(found) and found_as_meant(by_id[found[0].movie_id], by_id[wanted], query)
        asked[kind] = asked.get(kind, 0) + 1
        hits[kind] = hits.get(kind, 0) + ok
        if not ok:
            got = by_id[found[0].movie_id].label if found else "-"
            misses.append([kind, query, by_id[wanted].label, got])
    absent = not_in_catalogue([m.title for m in movies], 200)
    matched = [q for q in absent if index.search(q)]
    suggested = [q for q in absent if q not in matched and index.suggest(q)]
    return {"queries": len(queries), "top1": sum(hits.values()) / len(queries),
            "top1_by_kind": {k: round(hits[k] / asked[k], 4) for k in sorted(asked)},
            "asked_by_kind": dict(sorted(asked.items())), "misses": misses[:40],
            "absent": len(absent), "not_found": 1 - len(matched) / len(absent),
            "absent_suggested": len(suggested) / len(absent),
            "absent_matched": matched[:20]}  # fmt: skip


def step_search(work: Path) -> dict[str, Any]:
    from rapidfuzz import fuzz, process
    from rapidfuzz.utils import default_process

    from storage.db import Database
    from storage.movies import all_movies
    from storage.search import TitleIndex

    with Database(work / "moviebot.sqlite") as db:
        movies = all_movies(db)
        index = TitleIndex.from_db(db)
    quality = search_quality(index, movies)
    labels = [m.label for m in movies]

    def scan(query: str) -> Any:
        return process.extractOne(query, labels, scorer=fuzz.WRatio, processor=default_process)

    # The same 200 queries for both, each query timed by both in turn (after one warm-up
    # call each), its time the least of SEARCH_REPEAT calls: what the query costs, not what
    # a burst of other work on the machine (these have ~6 busy processes on 2 cores) adds.
    sample = [q for q, _, _ in search_queries(movies, 200)]
    index.search(sample[0])
    scan(sample[0])
    times: list[float] = []
    floor: list[float] = []
    for query in sample:
        for fn, out in ((index.search, times), (scan, floor)):
            least = math.inf
            for _ in range(SEARCH_REPEAT):
                started = time.perf_counter()
                fn(query)
                least = min(least, time.perf_counter() - started)
            out.append(least * 1000)
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
            "floor_p50_ms": percentile(floor, 50), "floor_p99_ms": percentile(floor, 99),
            "titles": len(movies), **quality}  # fmt: skip


# -- the driver --------------------------------------------------------------------------------


def run_step(name: str, work: Path, data: Path, *extra: str) -> dict[str, Any]:
    """Run one step in a fresh interpreter; its JSON result (with its own peak RSS)."""
    command = [sys.executable, __file__, "--step", name, "--work", str(work), "--data", str(data),
               *extra]  # fmt: skip
    print(f"  {name} …", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"step {name} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    import numpy

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "load_average": round(os.getloadavg()[0], 2)}  # fmt: skip


def measure(scale: float, data: Path, work: Path, steps: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {"scale": scale, "machine": machine(), "started": time.time()}
    if "import" in steps or not (work / "moviebot.sqlite").exists():
        result["import"] = run_step("import", work, data)
        result["import_floor"] = run_step("import_floor", work, data)
    if "train" in steps or not (work / "models").exists():
        result["train_floor"] = run_step("train_floor", work, data)
        result["train_no_validate"] = run_step("train", work, data, "--no-validate")
        result["train"] = run_step("train", work, data)
    for name in ("recommend", "serving", "bot", "search"):
        if name in steps:
            result[name] = run_step(name, work, data)
    result["machine"]["load_average_end"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.time() - result["started"], 1)
    return result


def ratios(r: dict[str, Any]) -> dict[str, float]:
    """Each figure as the ratio to its floor (the issue's table)."""
    out: dict[str, float] = {}
    if "import" in r:
        out["import"] = r["import"]["rate"] / r["import_floor"]["rate"]
    if "train" in r:
        out["train"] = r["train"]["seconds"] / r["train_floor"]["seconds"]
        out["train_no_validate"] = r["train_no_validate"]["seconds"] / r["train_floor"]["seconds"]
    if "recommend" in r:
        out["recommend_p99"] = r["recommend"]["p99_ms"] / r["recommend"]["floor_p99_ms"]
    if "bot" in r:
        out["bot_recommend"] = r["bot"]["recommend"] / r["bot"]["echo_recommend"]
        out["bot_search"] = r["bot"]["search"] / r["bot"]["echo_search"]
    if "search" in r:
        out["search_p99"] = r["search"]["p99_ms"] / r["search"]["floor_p99_ms"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="the generated data set (made if missing)")
    parser.add_argument("--work", type=Path, help="scratch folder (database, models)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"some of {','.join(STEPS)}")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--no-validate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.gettempdir()) / "moviebot-bench"
    data = args.data or scratch / f"ml-25m-x{args.scale:g}"
    work = args.work or scratch / f"work-x{args.scale:g}"
    if args.step:
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "import": lambda: step_import(work, data),
            "import_floor": lambda: step_import_floor(work, data),
            "train": lambda: step_train(work, validate=not args.no_validate),
            "train_floor": lambda: step_train_floor(work),
            "recommend": lambda: step_recommend(work),
            "serving": lambda: step_serving(work),
            "bot": lambda: step_bot(work),
            "search": lambda: step_search(work),
        }
        print(json.dumps(steps[args.step]()))
        return 0
    if not args.markdown_only:
        from generate_movielens import generate

        if not (data / "ratings.csv").exists():
            generate(args.scale, data, args.seed, say=lambda m: print(m, file=sys.stderr))
        work.mkdir(parents=True, exist_ok=True)
        if "import" in args.steps.split(","):
            shutil.rmtree(work / "models", ignore_errors=True)
        result = measure(args.scale, data, work, tuple(args.steps.split(",")))
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"scale-{args.scale:g}.json"
        if path.is_file() and set(args.steps.split(",")) != set(STEPS):  # some steps again
            result = {**json.loads(path.read_text()), **result}
        result["ratios"] = ratios(result)
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result["ratios"], indent=1))
        print(f"wrote {path}")
    from benchmarks_md import write_markdown

    write_markdown(args.out, args.out.parent / "benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
