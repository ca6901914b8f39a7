"""Exactly-once intake, through the emulator: the bot is stopped between the fetch, inbox and
handle stages (what a kill at that instant leaves behind) and started again on the same
database; every update is handled once, none lost, no rating doubled. Also: one chat's order
is kept while another chat goes ahead, and the webhook answers 200 only once an update is
stored."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from types import SimpleNamespace

from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from bot import render
from bot.app import build_application, serve
from bot.intake import Intake
from bot.processor import ChatOrder
from bot.services import open_services
from bot.services.people import Person
from bot.services.picks import Picks
from bot.settings import Settings
from emulator.server import Emulator
from storage import inbox, ratings, users
from storage.db import Database, StorageUnavailable
from storage.inbox import Inbox
from tests.bot.test_private_chat import card_for
from tests.bot.test_storage_faults import turned_read_only


@asynccontextmanager
async def serving(emulator: Emulator, settings: Settings) -> AsyncIterator[Application]:
    """`moviebot run` in this process (bot.app.serve), stopped at the end of the block."""
    app = build_application(settings)
    await app.initialize()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, settings, stop))
    try:
        deadline = time.monotonic() + 10
        ready = (lambda: emulator.api.webhook_url) if settings.webhook_url else None
        while not (ready() if ready else emulator.api.polling.active):
            assert time.monotonic() < deadline and not task.done(), "the bot never started"
            await asyncio.sleep(0.01)
        yield app
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def bot_settings(emulator: Emulator, world: Settings, **changes: object) -> Settings:
    return emulator.settings(replace(world, rate_limit=False, retrain_interval=0, **changes))


async def heat_card(emulator: Emulator, settings: Settings):
    """Alice, and the card of Heat (1995) she found while the bot ran; then the bot stops."""
    alice = emulator.user("Alice")
    async with serving(emulator, settings):
        card = await card_for(alice, "Heat 1995")
        await emulator.wait_idle()
    return alice, card


def answers(emulator: Emulator) -> Counter[str]:
    """How many times each button press was answered."""
    return Counter(
        str(c.params["callback_query_id"])
        for c in emulator.calls
        if c.method == "answerCallbackQuery"
    )


def replies_to(emulator: Emulator, chat_id: int) -> int:
    return sum(
        1 for c in emulator.calls if c.method == "sendMessage" and c.params["chat_id"] == chat_id
    )


def stars_of(settings: Settings, telegram_id: int) -> dict[int, float]:
    with Database(settings.db_path) as db:
        return ratings.history_of(db, "telegram", telegram_id).ratings


def inbox_counts(settings: Settings) -> dict[str, int]:
    with Database(settings.db_path) as db:
        return Inbox(db).counts()


async def fetch(emulator: Emulator) -> list:
    """getUpdates once, as the bot does just before it is killed: nothing confirmed."""
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        return list(await bot.get_updates(timeout=0))


async def test_updates_fetched_but_not_stored_come_again_and_are_handled_once(emulator, world):
    settings = bot_settings(emulator, world)
    alice, card = await heat_card(emulator, settings)
    press = await alice.press(card, "★4")
    await alice.send("Matrix")
    fetched = await fetch(emulator)  # ... and the bot dies before the inbox write
    assert len(fetched) == 2
    assert stars_of(settings, alice.id) == {}
    sent_before = replies_to(emulator, alice.id)
    async with serving(emulator, settings):
        await emulator.wait_idle()
    assert answers(emulator)[press.id] == 1
    assert stars_of(settings, alice.id) == {1: 4.0}
    assert replies_to(emulator, alice.id) == sent_before + 1  # the search, answered once
    assert emulator.api.updates_not_taken() == 0
    assert inbox_counts(settings).get("new", 0) == 0


async def test_updates_stored_but_not_handled_are_replayed_once_at_start(emulator, world):
    settings = bot_settings(emulator, world)
    alice, card = await heat_card(emulator, settings)
    presses = [await alice.press(card, stars) for stars in ("★2", "★5")]
    await alice.send("Matrix")
    fetched = await fetch(emulator)
    with Database(settings.db_path) as db:  # stored, and the bot dies before handling them
        Inbox(db).add([(u.update_id, u.to_json()) for u in fetched])
    sent_before = replies_to(emulator, alice.id)
    # On start the three are replayed; Telegram hands them out again too (their offset was
    # never confirmed), and the inbox knows them.
    async with serving(emulator, settings):
        await emulator.wait_idle()
    assert [answers(emulator)[p.id] for p in presses] == [1, 1]
    assert stars_of(settings, alice.id) == {1: 5.0}  # in order: ★2, then ★5
    assert replies_to(emulator, alice.id) == sent_before + 1
    assert set(inbox_counts(settings)) == {"done"}


async def test_a_press_killed_after_its_rating_committed_is_answered_and_not_doubled(
    emulator, world
):
    settings = bot_settings(emulator, world)
    alice, card = await heat_card(emulator, settings)
    press = await alice.press(card, "★3")
    (fetched,) = await fetch(emulator)
    services = open_services(settings)
    try:  # stored, handled as far as the rating's commit, and the bot dies before answering
        Inbox(services.db).add([(fetched.update_id, fetched.to_json())])
        with inbox.handling(fetched.update_id):
            services.feedback.rate(Person(alice.id, "Alice"), 1, 6)
    finally:
        services.close()
    with Database(settings.db_path) as db:  # marked with the rating, in one transaction
        assert Inbox(db).states([fetched.update_id]) == {fetched.update_id: "applied"}
    # The replay runs the handler again: Alice gets the answer the kill cut off, and the
    # rating (an upsert) is stored once.
    async with serving(emulator, settings):
        await emulator.wait_idle()
    assert answers(emulator)[press.id] == 1
    assert stars_of(settings, alice.id) == {1: 3.0}
    with Database(settings.db_path) as db:
        assert Inbox(db).states([fetched.update_id]) == {fetched.update_id: "done"}
        user = users.find(db, "telegram", alice.id)
        assert user is not None and len(ratings.ratings_of(db, user)) == 1


async def test_updates_handled_but_sent_again_by_telegram_are_not_handled_twice(emulator, world):
    settings = bot_settings(emulator, world)
    alice, card = await heat_card(emulator, settings)
    press = await alice.press(card, "★4")
    await alice.send("Matrix")
    queued = list(emulator.world.updates)
    async with serving(emulator, settings):
        await emulator.wait_idle()
    sent = replies_to(emulator, alice.id)
    assert answers(emulator)[press.id] == 1
    # Killed after handling, before the next getUpdates confirmed the batch: Telegram sends
    # it again.
    emulator.world.updates[:0] = queued
    async with serving(emulator, settings):
        await emulator.wait_idle()
    assert answers(emulator)[press.id] == 1
    assert replies_to(emulator, alice.id) == sent
    assert emulator.api.updates_not_taken() == 0


async def test_a_slow_handler_delays_only_its_own_chat_which_keeps_its_order(
    emulator, world, monkeypatch
):
    """Alice's /recommend takes 3 s (a big catalogue, say); Bob's search is answered
    meanwhile; Alice's search, sent after her /recommend, is answered after it."""
    original = Picks.recommend

    def slow_recommend(self, person, *args, **kwargs):
        time.sleep(3.0)  # in a worker thread, as every service call is
        return original(self, person, *args, **kwargs)

    monkeypatch.setattr(Picks, "recommend", slow_recommend)
    settings = bot_settings(emulator, world)
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    async with serving(emulator, settings):
        await alice.send("/recommend")
        await alice.send("Matrix")
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await bob.send("Toy Story")
        found = await bob.next_message(timeout=5)
        bob_took = time.monotonic() - started
        assert not alice.messages()  # her /recommend is still computing
        picks = await alice.next_message(timeout=10)
        searched = await alice.next_message(timeout=10)
        await emulator.wait_idle()
    assert bob_took < 2.5  # well before Alice's 3 s (the machine may be busy)
    assert found.text.startswith("Toy Story (1995)")  # its card: the one movie of that title
    assert "picks" in picks.text and searched.text.startswith("The Matrix (1999)")


async def test_without_a_writable_inbox_updates_are_still_handled(emulator, world, caplog):
    """The database turns read-only: updates cannot be stored first, so they are handled
    without the inbox (reads answer, writes say they cannot save) rather than not at all."""
    settings = bot_settings(emulator, world)
    alice = emulator.user("Alice")
    async with serving(emulator, settings) as app:
        card = await card_for(alice, "Heat 1995")
        await emulator.wait_idle()
        db = app.bot_data["services"].db
        with turned_read_only(db, "query_only"):
            await alice.send("/recommend")
            assert "Your picks" in (await alice.next_message(timeout=10)).text
            await alice.press(card, "★4")
            assert (await alice.next_message(timeout=10)).text == render.CANNOT_SAVE
        await alice.press(card, "★4")  # writable again: stored first, then handled
        await emulator.wait_idle()
    assert stars_of(settings, alice.id) == {1: 4.0}
    warned = [r.getMessage() for r in caplog.records if r.name == "bot.intake"]
    assert len(warned) == 2 and "cannot store updates" in warned[0], warned
    assert "can be written again" in warned[1]
    assert set(inbox_counts(settings)) == {"done"}


def intake_over(db: Database) -> Intake:
    """The intake of an application that never runs: what marking updates done needs."""
    app = ApplicationBuilder().token("123:abc").concurrent_updates(ChatOrder()).build()
    return Intake(app, SimpleNamespace(db=db))  # type: ignore[arg-type]


async def test_updates_finishing_together_are_marked_done_by_one_commit(tmp_path):
    """Forty handlings ending at once: each is done when its wait returns, one commit for all
    (the inbox committed once per update before)."""
    db = Database(tmp_path / "bot.sqlite")
    intake = intake_over(db)
    intake.inbox.add([(update_id, "{}") for update_id in range(1, 41)])
    commits: list[str] = []
    db.trace(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    try:
        await asyncio.gather(*(intake._finish(update_id) for update_id in range(1, 41)))
        assert intake.inbox.counts() == {"done": 40}
        assert len(commits) == 1
        await intake._finish(41)  # not in the inbox: nothing to mark, nothing breaks
        await asyncio.gather(intake._finish(1), intake._finish(1))  # twice: still done
        assert intake.inbox.counts() == {"done": 40}
    finally:
        intake.close()
        db.close()


async def test_a_done_commit_that_fails_fails_every_update_in_it_and_the_next_one_works(tmp_path):
    """The database turns read-only between handling and done: each update's wait raises (the
    processor logs it), all stay unfinished for the next start, and later batches commit."""
    db = Database(tmp_path / "bot.sqlite")
    intake = intake_over(db)
    intake.inbox.add([(update_id, "{}") for update_id in (1, 2, 3, 4)])
    try:
        with turned_read_only(db, "query_only"):
            failed = await asyncio.gather(
                *(intake._finish(update_id) for update_id in (1, 2, 3)), return_exceptions=True
            )
        assert all(isinstance(outcome, StorageUnavailable) for outcome in failed), failed
        assert intake.inbox.counts() == {"new": 4}
        await asyncio.gather(intake._finish(1), intake._finish(4))
        assert intake.inbox.states([1, 2, 3, 4]) == {1: "done", 2: "new", 3: "new", 4: "done"}
    finally:
        intake.close()
        db.close()
