"""/retrain and /stats: admins by numeric id, one retrain at a time, failures keep the model."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.services import metrics, open_services, people
from bot.services.metrics import LatencySummary
from bot.services.people import Person
from bot.services.training import STALE_AFTER, RetrainBusy, Retrained, RetrainFailed, summary
from bot.training import model_folder
from recommender.tuned import write_tuned
from storage import models, ratings
from storage.db import Database
from tests.bot.test_private_chat import card_for
from tests.bot.world import build, small_model


def tuned_dir(world) -> Path:
    """Where this test's copy of the world database keeps its tuned.json."""
    with Database(world.db_path) as db:
        return model_folder(db, world)


async def test_non_admins_are_refused_politely(emulator, run_bot):
    services = await run_bot(admins=(1,))
    bob = emulator.user("Bob")
    for command in ("/retrain", "/stats"):
        await bob.send(command)
        assert "only the bot's admins" in (await bob.next_message()).text
    assert services.model.info["version"] == 1


async def test_admin_retrain_reports_and_swaps_the_model(emulator, run_bot):
    ada = emulator.user("Ada")
    services = await run_bot(admins=(ada.id,))
    old = services.model
    await ada.send("/retrain")
    started = await ada.next_message()
    assert "Retraining" in started.text and "model v1" in started.text
    done = await ada.next_message(timeout=60)
    assert "Now serving model v2 (was model v1)" in done.text
    assert "Validation NDCG@10" in done.text
    assert services.model is not old and services.model.info["version"] == 2
    assert models.latest(services.db).version == 2
    alice = emulator.user("Alice")
    await alice.send("/recommend")
    await alice.next_message()
    await ada.send("/stats")
    stats = await ada.next_message()  # reading does not make Alice a user
    assert "model v2" in stats.text and "Telegram users: 0 · their ratings: 0" in stats.text
    await alice.press(await card_for(alice, "heat 1995"), "★4")
    await emulator.wait_idle()
    await ada.send("/stats")
    stats = await ada.next_message()
    assert "Telegram users: 1 · their ratings: 1" in stats.text
    assert "/recommend latency: p50" in stats.text


async def test_a_failed_retrain_keeps_serving_the_old_model(emulator, run_bot, world):
    write_tuned(small_model(factors=64), tuned_dir(world))  # more factors than this data allows
    ada = emulator.user("Ada")
    services = await run_bot(admins=(ada.id,))
    old = services.model
    await ada.send("/retrain")
    await ada.next_message()
    failed = await ada.next_message(timeout=60)
    assert "Training failed" in failed.text and "Still serving model v1" in failed.text
    assert services.model is old


async def test_a_second_retrain_while_one_runs_is_refused(emulator, run_bot):
    ada = emulator.user("Ada")
    services = await run_bot(admins=(ada.id,))
    await ada.send("/retrain")
    await ada.send("/retrain")
    texts = [(await ada.next_message(timeout=60)).text for _ in range(3)]
    assert sum("already running" in t for t in texts) == 1
    assert sum("Now serving model v2" in t for t in texts) == 1
    assert models.latest(services.db).version == 2


async def test_a_stale_retrain_from_before_a_restart_is_ignored(emulator, run_bot):
    ada = emulator.user("Ada")
    services = await run_bot(admins=(ada.id,))
    await ada.send("/retrain", date=time.time() - 3600)
    assert "while I was offline" in (await ada.next_message()).text
    assert models.latest(services.db).version == 1


async def wait_for_version(services, version: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if services.model is not None and services.model.info["version"] == version:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_periodic_retrain_runs_only_after_enough_new_ratings(emulator, run_bot):
    services = await run_bot(retrain_interval=1, retrain_min_new_ratings=2)
    assert not await wait_for_version(services, 2, seconds=2.5)  # nothing new: no retrain
    alice = emulator.user("Alice")
    for title in ("die hard", "alien"):
        await alice.press(await card_for(alice, title), "★5")
    await emulator.wait_idle()
    assert await wait_for_version(services, 2, seconds=30)
    assert models.latest(services.db).version == 2


async def test_a_bot_whose_model_cannot_be_loaded_retrains_on_the_next_tick(
    emulator, run_bot, tmp_path
):
    """E.g. the model was written by an older moviebot: no need to wait for new ratings."""
    own = build(tmp_path / "own.sqlite", tmp_path / "own-models")  # not the shared model file
    with Database(own.db_path) as db:
        Path(models.latest(db).path).write_bytes(b"not a model")
    services = await run_bot(
        db_path=own.db_path,
        model_dir=own.model_dir,
        retrain_interval=1,
        retrain_min_new_ratings=50,
    )
    assert services.model is None
    assert await wait_for_version(services, 2, seconds=30)
    alice = emulator.user("Alice")
    await alice.send("/recommend")
    assert "Your picks" in (await alice.next_message()).text


# -- the training service on its own --------------------------------------------------------


@pytest.fixture
def served(world):
    services = open_services(world)
    yield services
    services.close()


def test_stats_say_how_old_the_model_is_and_how_fast_it_answers(served):
    trained_at = served.model.info["trained_at"]
    served.timings.samples("recommend").extend([0.02, 0.01, 0.03])
    stats = metrics.stats(served.db, served.model.info, served.timings, now=trained_at + 5400)
    assert stats.model is not None and stats.model.version == 1
    assert stats.model.age_hours == pytest.approx(1.5)
    assert stats.latency == {"recommend": LatencySummary(20, 30, 3)}
    assert stats.telegram_users == 0 and stats.all_ratings == ratings.count(served.db)


def test_a_retrain_sent_before_a_restart_is_stale(served):
    training = served.training
    training.clock = lambda: 10_000.0
    assert not training.is_stale(10_000.0 - STALE_AFTER)
    assert training.is_stale(10_000.0 - STALE_AFTER - 1)


def test_the_periodic_retrain_waits_for_enough_new_ratings(served):
    training = served.training
    assert training.why_retrain() is None  # a fresh model, nothing new
    user = people.ensure(served.db, Person(4242, "Ann"))
    ratings.upsert(served.db, user, 1, 5.0)
    assert training.why_retrain() is None  # one new rating of the 50 it waits for
    model, served.models.current = served.models.current, None  # no model: do not wait
    assert training.why_retrain() == "no model in service"
    served.models.current = model
    served.db.set_meta("dataset_imported_at", str(int(time.time())))  # `data import` again
    assert training.why_retrain() == "the data set was imported again since model v1"


async def test_two_retrains_at_once_train_once_and_swap_the_model(served):
    old = served.model
    first, second = await asyncio.gather(served.training.retrain(), served.training.retrain())
    assert isinstance(first, Retrained) and isinstance(second, RetrainBusy)
    assert (
        first.old is not None
        and first.old.version == summary(old).version
        and first.new.version == 2
        and first.seconds > 0
    )
    assert served.model is not old and served.model.info["version"] == 2


async def test_a_failed_retrain_says_why_and_keeps_the_model(served, world):
    write_tuned(small_model(factors=64), tuned_dir(world))  # more factors than this data allows
    old = served.model
    outcome = await served.training.retrain()
    assert (
        isinstance(outcome, RetrainFailed)
        and outcome.old is not None
        and outcome.old.version == summary(old).version
    )
    assert "needs more than 64 movies" in outcome.error
    assert served.model is old
