"""Model faults at start: a corrupt or missing model is retrained at once in the background
(admins told, popularity answering meanwhile); a retrain killed midway is marked interrupted on
the next start."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from bot.services import open_services
from bot.services.people import Person
from bot.services.picks import Request
from bot.services.training import STATUS_KEY, StatusMessage
from bot.settings import Settings
from bot.training import model_folder
from recommender.tuned import write_tuned
from storage import models, movies
from storage.db import Database
from tests.bot.test_logs_and_secrets import LIMIT, Run, environment, until
from tests.bot.world import build, small_model


def own_world(folder: Path, damage: str, iterations: int = 5) -> Settings:
    """A world of its own (its model file is not shared), its newest model damaged or gone,
    training `iterations` ALS sweeps (more: a slower retrain)."""
    own = build(folder / "own.sqlite", folder / "own-models")
    with Database(own.db_path) as db:
        path = Path(models.latest(db).path)
        if damage == "corrupt":
            path.write_bytes(b"not a model")
        else:
            path.unlink()
        tuned = small_model()
        tuned["config"]["als"]["iterations"] = iterations
        write_tuned(tuned, model_folder(db, own))
    return own


def admin(emulator):
    """Ada, who has opened a private chat with the bot (so it may write to her first)."""
    ada = emulator.user("Ada")
    assert ada.chat.id == ada.id
    return ada


async def wait_until(condition, seconds: float = LIMIT) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
async def test_a_bad_model_at_start_is_retrained_at_once_while_popularity_answers(
    emulator, run_bot, tmp_path, damage
):
    own = own_world(tmp_path, damage, iterations=60)  # a retrain of a second or two
    ada, alice = admin(emulator), emulator.user("Alice")
    services = await run_bot(admins=(ada.id,), db_path=own.db_path, model_dir=own.model_dir)
    assert services.model is None
    started = await ada.next_message(timeout=10)
    assert "Retraining now" in started.text and "model v1 is unusable" in started.text
    assert "popular picks meanwhile" in started.text
    await alice.send("/recommend")
    picks = await alice.next_message(timeout=3)  # at once, not after the retrain
    assert "Your picks" in picks.text
    assert services.training.running, "the retrain should still be running"
    done = await ada.next_message(timeout=60)
    assert "Now serving model v2 (was no model)" in done.text
    assert services.model is not None and services.model.info["version"] == 2
    assert services.db.get_meta(STATUS_KEY) == "[]"


async def test_a_healthy_model_at_start_is_not_retrained(emulator, run_bot):
    ada = admin(emulator)
    services = await run_bot(admins=(ada.id,))
    await asyncio.sleep(1.0)  # the start check has run
    assert not services.training.running and services.model.info["version"] == 1
    assert ada.chat.bot_messages() == []  # nothing to announce
    assert models.latest(services.db).version == 1


async def test_a_retrain_killed_midway_is_marked_interrupted_after_a_restart(
    emulator, run_bot, tmp_path
):
    own = own_world(tmp_path, "missing", iterations=5000)  # far longer than the test waits
    ada = admin(emulator)
    env = environment(
        own,
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        MOVIEBOT_ADMIN_IDS=str(ada.id),
    )
    first = await Run(tmp_path, env).start()
    try:
        await until(lambda: ada.chat.bot_messages(), "announced the retrain", first)
        with Database(own.db_path) as db:
            await until(lambda: db.get_meta(STATUS_KEY) not in (None, "[]"), "recorded", first)
            recorded = json.loads(db.get_meta(STATUS_KEY) or "[]")
    finally:
        assert first.process is not None
        first.process.kill()  # SIGKILL, midway through the training
        await first.process.wait()
    hanging = await ada.next_message()
    assert "Retraining now" in hanging.text
    assert recorded == [[ada.id, hanging.id]]

    with Database(own.db_path) as db:  # the next run trains fast
        write_tuned(small_model(), model_folder(db, own))
    services = await run_bot(admins=(ada.id,), db_path=own.db_path, model_dir=own.model_dir)
    assert await wait_until(lambda: "interrupted" in hanging.text), hanging.text
    assert "A new retrain is starting" in hanging.text  # the model is still missing
    again = await ada.next_message(timeout=10)
    assert "Retraining now" in again.text
    done = await ada.next_message(timeout=60)
    assert "Now serving model v2" in done.text
    assert services.db.get_meta(STATUS_KEY) == "[]"
    assert "interrupted" not in again.text  # only the cut-off one was edited


@pytest.mark.parametrize("stored", ["not json", "5", "[1, 2]", '[["a", 1]]', '{"x": 1}'])
def test_an_unreadable_status_record_is_ignored_and_forgotten(world, stored):
    services = open_services(world)
    try:
        services.db.set_meta(STATUS_KEY, stored)
        assert services.training.take_interrupted() == []
        assert services.db.get_meta(STATUS_KEY) == "[]"
    finally:
        services.close()


def test_the_status_messages_are_handed_over_once(world):
    services = open_services(world)
    try:
        services.db.set_meta(STATUS_KEY, "[[5, 17], [6, 3]]")
        assert services.training.take_interrupted() == [StatusMessage(5, 17), StatusMessage(6, 3)]
        assert services.training.take_interrupted() == []
    finally:
        services.close()


def test_without_a_model_picks_are_the_most_rated_movies_not_yet_seen(world):
    services = open_services(world)
    try:
        services.models.current = None  # the model file was damaged: nothing else serves
        counts = movies.rating_counts(services.db)
        ranked = sorted(counts, key=lambda m: (-counts[m], m))
        ivy = Person(99, "Ivy")
        services.feedback.rate(ivy, ranked[0], 8)  # she has seen the most rated one
        page = services.picks.recommend(ivy, Request(n=3))
        assert [s.movie.id for s in page.suggestions] == ranked[1:4]
        assert all(s.reason.kind == "popular" for s in page.suggestions) and page.more
        assert services.picks.recommend(ivy, Request(n=3, genres=(0,))).suggestions == ()
    finally:
        services.close()


async def test_a_retrain_trains_in_its_own_process_and_a_stopping_bot_stops_it(tmp_path):
    """The bot's process never trains (its CPU stays with the chats), and a bot that stops
    midway leaves no training process behind, nor a new model."""
    own = own_world(tmp_path, "missing", iterations=5000)  # far longer than the test waits
    services = open_services(own)
    try:
        task = asyncio.create_task(services.training.retrain())
        assert await wait_until(lambda: services.training.process is not None)
        child = services.training.process
        assert child is not None and child.pid != os.getpid()
        assert await wait_until(lambda: Path(f"/proc/{child.pid}").exists())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert child.returncode is not None and not Path(f"/proc/{child.pid}").exists()
        assert services.training.process is None and not services.training.running
        assert models.latest(services.db).version == 1  # nothing registered meanwhile
    finally:
        services.close()
