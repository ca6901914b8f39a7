"""Crash under load: simulated people use the real bot while it is SIGKILLed and restarted.

    .venv/bin/python bench/crash_load.py [--users 1000] [--groups 50] [--kills 3] [--seed 1]
                                         [--rate-limit] [--json FILE] [--keep DIR]
    make bench-crash                      # the same with the defaults

The bot runs as a real subprocess (`python -m bot run`, i.e. `moviebot run`) against the Bot API
emulator in this process, on a small trained world (tests/bot/world.py) in a temporary folder.
Each simulated person, in their private chat: types a title, opens the first match's card,
rates it with a star, asks for /recommend; and in one of `--groups` groups taps "I'm in" on the
movie night its first member started. Meanwhile the bot is SIGKILLed `--kills` times at random
moments (spread over the load, never while it is still starting) and started again at once on
the same database. At the end every group's starter taps "Pick movies" (the nights go on).

Then it checks, from outside:
- lost: an update the emulator delivered that the inbox never finished, or a star press whose
  rating is not stored, or a join not in the night;
- doubled: a rating stored twice or with the wrong value, a join twice (the database's keys
  make both impossible; checked anyway through the final values);
- answered twice / replied twice: an update whose answer went out just before a kill, before
  it was marked done, so the replay answered again (harmless: its effect is not repeated);
- unanswered: a press that never got its popup answer, e.g. "query is too old" when the
  replay came more than 15 s after the press (the `sending` part turns those into a message);
- PRAGMA integrity_check, errors in the bot's log, "Sorry" replies;
and prints updates/s and p50/p95/p99 reply latency (from a person's action to the bot's
reply), writing all figures to --json. Not part of the test suite.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.keyboards import CallbackCodec
from emulator.api import RateLimits
from emulator.people import SimGroup, SimUser
from emulator.server import Emulator
from emulator.world import Message
from tests.bot.world import ALL, build

SORRY = "Sorry, something went wrong"
WAIT = 30.0  # seconds a person waits for an answer (a restart takes a few)
TITLES = [m.title.removesuffix(", The") for m in ALL]
# What counts against Telegram's ~30 messages a second (answering a button does not).
MESSAGES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPoll", "stopPoll"}


@dataclass
class Figures:
    """What the people saw."""

    latencies: list[float] = field(default_factory=list)
    timeouts: Counter[str] = field(default_factory=Counter)
    presses: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # id → user, movie
    joins: list[tuple[int, int]] = field(default_factory=list)  # (group chat id, user id)
    queries: list[Any] = field(default_factory=list)  # every button press (emulator objects)
    actions: int = 0


class Bot:
    """`python -m bot run` in a subprocess, killed and restarted on demand."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, emulator: Emulator) -> float:
        """Start and wait until it long-polls; how long the start took."""
        began = time.monotonic()
        self.starts += 1
        log = (self.folder / f"bot-{self.starts}.log").open("wb")
        before = emulator.api.polling.generation
        profile = ["-m", "cProfile", "-o", str(self.folder / f"bot-{self.starts}.prof")]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *(profile if self.env.get("CRASH_LOAD_PROFILE") else []),
            "-m",
            "bot",
            "run",
            env=self.env,
            stdout=log,
            stderr=log,
        )
        while emulator.api.polling.generation == before or not emulator.api.polling.active:
            if self.process.returncode is not None:
                raise SystemExit(f"the bot exited with {self.process.returncode}; see {log.name}")
            await asyncio.sleep(0.02)
        return time.monotonic() - began

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    def ensure_dead(self) -> None:
        """Never leave the bot running behind us (an error in this script, Ctrl-C)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    def log_text(self) -> str:
        return "".join(
            (self.folder / f"bot-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
        )


async def timed(figures: Figures, what: str, waiting: Any) -> Any:
    """Await the bot's answer to one action, recording its latency (None if it never came)."""
    began = time.monotonic()
    figures.actions += 1
    try:
        result = await waiting
    except (TimeoutError, Exception) as exc:  # NoReply, TimeoutError
        figures.timeouts[f"{what}: {type(exc).__name__}"] += 1
        return None
    figures.latencies.append(time.monotonic() - began)
    return result


async def new_group_message(group: SimGroup, seen: int, label: str) -> Message:
    """The first bot message in the group after the first `seen` that has a `label` button."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for message in group.chat.bot_messages()[seen:]:
            if any(label in b for b in message.button_labels):
                return message
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no {label!r} message")


async def person(
    user: SimUser,
    rng: random.Random,
    figures: Figures,
    night: asyncio.Future[Message | None],
    gid: int,
    codec: CallbackCodec,
    ramp: float,
) -> None:
    """One person's visit: search → card → ★ → /recommend, and "I'm in" in their group."""
    await asyncio.sleep(rng.uniform(0, ramp))  # people arrive over `ramp` seconds
    await user.send(rng.choice(TITLES))
    found = await timed(figures, "search", user.next_message(timeout=WAIT))
    if found is not None and found.button_list:
        await user.press(found, 0)
        card = await timed(figures, "card", user.next_message(timeout=WAIT))
        if card is not None and "★1" in "".join(card.button_labels):
            stars = rng.randint(1, 5)
            query = await user.press(card, f"★{stars}")
            movie = codec.decode(card.button_list[0].callback_data, user.id).values["movie"]
            figures.presses[query.id] = (user.id, movie, float(stars))
            figures.queries.append(query)
            await timed(figures, "star", query.answered(timeout=WAIT))
    await user.send("/recommend")
    await timed(figures, "recommend", user.next_message(timeout=WAIT))
    message = await asyncio.wait_for(asyncio.shield(night), WAIT)
    if message is None:  # counted as the night's missing answer
        return
    query = await user.press(message, "I'm in 🙋")
    figures.joins.append((gid, user.id))
    figures.queries.append(query)
    await timed(figures, "join", query.answered(timeout=WAIT))


async def start_night(group: SimGroup, starter: SimUser, figures: Figures) -> Message | None:
    """The first member's /movienight; the "Who's in?" message (None if it never came)."""
    seen = len(group.chat.bot_messages())
    await starter.send("/movienight", to=group)
    return await timed(figures, "movienight", new_group_message(group, seen, "I'm in"))


async def pick(group: SimGroup, starter: SimUser, night_message: Message | None) -> bool:
    """The starter taps "Pick movies": did the bot post something (the poll) afterwards?"""
    if night_message is None:
        return False
    seen = len(group.chat.bot_messages())
    await starter.press(night_message, "🎲 Pick movies")
    deadline = time.monotonic() + WAIT
    while len(group.chat.bot_messages()) == seen and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return len(group.chat.bot_messages()) > seen


async def killer(bot: Bot, emulator: Emulator, figures: Figures, plan: list[float], total: int):
    """SIGKILL when the people's progress passes each planned fraction (plus a random instant
    within the next half second), then start again at once."""
    restarts: list[float] = []
    rng = random.Random(len(plan))
    for fraction in plan:
        while figures.actions < fraction * total:
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0, 0.5))
        await bot.kill()
        restarts.append(await bot.start(emulator))
    return restarts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def check_database(path: Path, figures: Figures, delivered: set[int]) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        states = dict(conn.execute("SELECT update_id, state FROM inbox"))
        stars = {
            (external, movie): rating
            for external, movie, rating in conn.execute(
                "SELECT u.external_id, r.movie_id, r.rating FROM ratings r "
                "JOIN users u ON u.id = r.user_id WHERE u.kind = 'telegram'"
            )
        }
        members = set(
            conn.execute(
                "SELECT n.chat_id, m.telegram_id FROM movie_night_members m "
                "JOIN movie_nights n ON n.id = m.night_id"
            )
        )
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        # Two nights open in one group, or a person twice in one night's members.
        doubled = conn.execute(
            "SELECT (SELECT count(*) FROM (SELECT chat_id FROM movie_nights "
            "WHERE status != 'closed' GROUP BY chat_id HAVING count(*) > 1)) + "
            "(SELECT count(*) FROM (SELECT night_id, telegram_id FROM movie_night_members "
            "GROUP BY night_id, telegram_id HAVING count(*) > 1))"
        ).fetchone()[0]
    finally:
        conn.close()
    unfinished = sorted(u for u in delivered if states.get(u) != "done")
    lost_ratings = [
        p
        for p, (user, movie, stars_) in figures.presses.items()
        if stars.get((user, movie)) != stars_
    ]
    lost_joins = [j for j in figures.joins if j not in members]
    return {
        "integrity_check": integrity,
        "inbox_states": dict(Counter(states.values())),
        "delivered_not_done": len(unfinished),
        "ratings_missing_or_wrong": len(lost_ratings),
        "joins_missing": len(lost_joins),
        "doubled_effects": doubled,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.keep or tempfile.mkdtemp(prefix="crash-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    world = build(folder / "bot.sqlite", folder / "models")
    rng = random.Random(args.seed)
    limits = RateLimits() if args.rate_limit else None
    async with Emulator(rate_limits=limits, callback_timeout=15.0) as emulator:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MOVIEBOT_"))}
        env.update(
            OPENBLAS_NUM_THREADS="1",
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_BASE_URL=emulator.base_url,
            MOVIEBOT_DB=str(world.db_path),
            MOVIEBOT_MODEL_DIR=str(world.model_dir),
            MOVIEBOT_RETRAIN_INTERVAL="0",
            MOVIEBOT_RATE_LIMIT="1" if args.rate_limit else "0",
            MOVIEBOT_LOG_LEVEL="INFO",
            MOVIEBOT_WEB="0",  # the web app is not under test (and its port may be taken)
        )
        bot = Bot(folder, env)
        try:
            first_start = await bot.start(emulator)
            figures = Figures()
            users = [emulator.user(f"Person{i:05d}") for i in range(args.users)]
            groups = [
                emulator.group(f"Night {g}", users[g :: args.groups]) for g in range(args.groups)
            ]
            began_at = emulator.clock.now()
            nights = [
                asyncio.ensure_future(start_night(group, users[g], figures))
                for g, group in enumerate(groups)
            ]
            # Every person does 5 actions (search, card, star, recommend, join); 50 nights start.
            total = 5 * args.users + args.groups
            plan = sorted(rng.uniform(0.1, 0.85) for _ in range(args.kills))
            kills = asyncio.ensure_future(killer(bot, emulator, figures, plan, total))
            await asyncio.gather(
                *(
                    person(
                        u,
                        random.Random(rng.random()),
                        figures,
                        nights[i % args.groups],
                        groups[i % args.groups].id,
                        CallbackCodec(emulator.token),
                        args.ramp,
                    )
                    for i, u in enumerate(users)
                )
            )
            restarts = await kills
            # Busy time: until the bot's last call of the load (not people's last wait).
            last_call = max(c.at for c in emulator.calls)
            load_seconds = max(last_call - began_at, 0.001)
            messages = sum(1 for c in emulator.calls if c.method in MESSAGES and c.at >= began_at)
            # The nights go on: each starter taps "Pick movies" (all groups at once).
            picked = sum(
                await asyncio.gather(
                    *(pick(group, users[g], nights[g].result()) for g, group in enumerate(groups))
                )
            )
            await emulator.wait_idle(quiet=1.0, timeout=60)
            delivered = set(emulator.api.polling.handed_out)
            code = await bot.stop()
            answered = Counter(
                str(c.params.get("callback_query_id"))
                for c in emulator.calls
                if c.method == "answerCallbackQuery"
            )
        finally:
            bot.ensure_dead()
    log = bot.log_text()
    checked = check_database(world.db_path, figures, delivered)
    doubled_answers = sum(1 for q in figures.presses if answered[q] > 1)
    unanswered = sum(1 for q in figures.queries if not q.answer.done())
    # search, card and /recommend: three messages in each private chat (as the chat shows them:
    # a send refused with 429 and sent again later is one message).
    doubled_replies = sum(max(0, len(u.chat.bot_messages()) - 3) for u in users)
    sorry = sum(
        1
        for chat in [*(u.chat for u in users), *(g.chat for g in groups)]
        for m in chat.bot_messages()
        if SORRY in (m.text or "")
    )
    result = {
        "users": args.users,
        "groups": args.groups,
        "kills": len(restarts),
        "rate_limit": args.rate_limit,
        "ramp_s": args.ramp,
        "seed": args.seed,
        "updates_delivered": len(delivered),
        "load_seconds": round(load_seconds, 2),
        "updates_per_second": round(len(delivered) / load_seconds, 1),
        "latency_s": {
            "p50": round(percentile(figures.latencies, 0.50), 3),
            "p95": round(percentile(figures.latencies, 0.95), 3),
            "p99": round(percentile(figures.latencies, 0.99), 3),
            "max": round(max(figures.latencies, default=float("nan")), 3),
        },
        "answers_seen": len(figures.latencies),
        "messages_sent": messages,
        # All those messages at Telegram's 30/s: the last one goes out this late at the earliest.
        "telegram_floor_s": round(messages / 30, 2),
        "p99_over_floor": round(percentile(figures.latencies, 0.99) / (messages / 30), 2),
        "no_answer_within_wait": dict(figures.timeouts),
        "first_start_s": round(first_start, 2),
        "restart_s": [round(r, 2) for r in restarts],
        "lost_updates": checked["delivered_not_done"],
        "lost_ratings": checked["ratings_missing_or_wrong"],
        "lost_joins": checked["joins_missing"],
        "doubled_effects": checked["doubled_effects"],
        "doubled_answers": doubled_answers,
        "doubled_private_replies": doubled_replies,
        "presses": len(figures.queries),
        "unanswered_presses": unanswered,
        "inbox_states": checked["inbox_states"],
        "integrity_check": checked["integrity_check"],
        "nights_picked_after_kills": f"{picked}/{args.groups}",
        "sorry_replies": sorry,
        "log_errors": sum(1 for line in log.splitlines() if " ERROR " in line),
        "log_tracebacks": log.count("Traceback"),
        "log_warnings": sum(1 for line in log.splitlines() if " WARNING " in line),
        "stale_button_answers": log.count("query is too old"),
        "final_exit_code": code,
        "folder": str(folder),
    }
    return result


def report(result: dict[str, Any]) -> None:
    lat = result["latency_s"]
    print(
        f"{result['users']} users, {result['groups']} groups, {result['kills']} SIGKILLs "
        f"(restarts {', '.join(f'{r:.1f}' for r in result['restart_s'])} s), "
        f"arriving over {result['ramp_s']:g} s, "
        f"rate limit {'on' if result['rate_limit'] else 'off'}"
    )
    print(
        f"updates delivered {result['updates_delivered']} in {result['load_seconds']} s: "
        f"{result['updates_per_second']} updates/s"
    )
    print(
        f"reply latency p50 {lat['p50']:.3f} s  p95 {lat['p95']:.3f} s  p99 {lat['p99']:.3f} s  "
        f"max {lat['max']:.3f} s  ({result['answers_seen']} answers; no answer: "
        f"{result['no_answer_within_wait'] or 0})"
    )
    print(
        f"{result['messages_sent']} messages: at Telegram's 30/s they need "
        f"{result['telegram_floor_s']} s; p99 / that = {result['p99_over_floor']}"
    )
    print(
        f"lost: updates {result['lost_updates']}, ratings {result['lost_ratings']}, joins "
        f"{result['lost_joins']}   doubled effects: {result['doubled_effects']}   replayed "
        f"after the answer went out: answered twice {result['doubled_answers']}, replied twice "
        f"{result['doubled_private_replies']}   presses never answered "
        f"{result['unanswered_presses']}/{result['presses']}"
    )
    print(
        f"inbox {result['inbox_states']}  integrity_check {result['integrity_check']}  nights "
        f"picked after the kills {result['nights_picked_after_kills']}"
    )
    print(
        f"errors: 'Sorry' replies {result['sorry_replies']}, log ERROR lines "
        f"{result['log_errors']}, tracebacks {result['log_tracebacks']}, warnings "
        f"{result['log_warnings']} (of which 'query is too old' {result['stale_button_answers']});"
        f" final exit code {result['final_exit_code']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ramp", type=float, help="people arrive over this many seconds (default: users / 8)"
    )
    parser.add_argument("--rate-limit", action="store_true", help="Telegram's flood limits on")
    parser.add_argument("--json", type=Path, default=Path("crash_load.json"))
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of /tmp")
    arguments = parser.parse_args()
    if arguments.kills < 0 or arguments.users < arguments.groups:
        parser.error("--kills must be 0 or more (0: a baseline) and --users at least --groups")
    if arguments.ramp is None:
        arguments.ramp = arguments.users / 8
    outcome = asyncio.run(main(arguments))
    report(outcome)
    arguments.json.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"wrote {arguments.json}")
