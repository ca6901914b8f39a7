"""The bot with a database it cannot write: at start one clear line and exit 1; while running
"I can't save right now", reads still answered, nothing half-written, one log line with ids
only."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot import render
from bot.cli import main
from bot.services import open_services
from bot.services.training import RetrainFailed
from bot.settings import Settings
from bot.training import train
from storage.db import Database, StorageUnavailable
from tests.bot.test_private_chat import card_for
from tests.storage.readonly import read_only


def telegram_ratings(db: Database) -> int:
    return db.conn.execute(
        "SELECT count(*) FROM ratings JOIN users ON users.id = ratings.user_id "
        "WHERE users.kind = 'telegram'"
    ).fetchone()[0]


def on_every_connection(db: Database, sql: str) -> None:
    """A per-connection pragma, on every connection the bot's database has opened so far."""
    for conn in list(db._all):
        conn.execute(sql)


@pytest.fixture
def cli_env(world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The world database moved into a folder of its own, which a test may make read-only."""
    folder = tmp_path / "db"
    folder.mkdir()
    shutil.move(world.db_path, folder / "bot.sqlite")
    for name in list(os.environ):
        if name.startswith(("MOVIEBOT_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(world.model_dir))
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:never-used-because-the-start-check-fails")
    return replace(world, db_path=folder / "bot.sqlite")


@pytest.mark.parametrize("command", [["train"], ["run"], ["chat", "--script"]])
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_at_start_is_one_line_and_exit_1(cli_env, capsys, command, what):
    target = cli_env.db_path if what == "file" else cli_env.db_path.parent
    argv = ["--env-file", "/nonexistent/.env", "--db", str(cli_env.db_path), *command]
    with read_only(target):
        code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("moviebot: cannot ") and str(cli_env.db_path) in lines[0]
    assert "read-only" in lines[0]


@contextlib.contextmanager
def turned_read_only(db: Database, how: str) -> Iterator[None]:
    """The bot's database cannot be written inside the block: every connection it has opened
    or opens meanwhile set `query_only`, or the file and its WAL made immutable (as root;
    writes through the open files fail too, and a new connection can only open it read-only)."""
    if how == "query_only":
        on_every_connection(db, "PRAGMA query_only = ON")
        connect = db._connect

        def connect_read_only() -> sqlite3.Connection:  # another thread's, opened meanwhile
            conn = connect()
            conn.execute("PRAGMA query_only = ON")
            return conn

        db._connect = connect_read_only  # type: ignore[method-assign]
        try:
            yield
        finally:
            db._connect = connect  # type: ignore[method-assign]
            on_every_connection(db, "PRAGMA query_only = OFF")
        return
    with read_only(Path(db.path)), read_only(Path(f"{db.path}-wal")):
        yield


@pytest.mark.parametrize("how", ["query_only", "immutable"])
async def test_a_database_turned_read_only_while_running_cannot_save_but_still_answers(
    emulator, run_bot, caplog, how
):
    services = await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat 1995")
    caplog.set_level(logging.DEBUG)
    with turned_read_only(services.db, how):
        await alice.press(card, "★4")
        assert (await alice.next_message()).text == render.CANNOT_SAVE
        assert telegram_ratings(services.db) == 0
        assert "You rated it" not in card.text
        await alice.send("/recommend")  # reads keep working
        assert "Your picks" in (await alice.next_message()).text
    said = [r.getMessage() for r in caplog.records if "cannot save" in r.getMessage()]
    assert len(said) == 1 and f"user {alice.id}" in said[0] and "button" in said[0], said
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "heat" in r.getMessage().lower()]
    await alice.press(card, "★4")  # writable again: the same tap saves
    await emulator.wait_idle()
    assert "You rated it ★4" in card.text and telegram_ratings(services.db) == 1


@contextlib.contextmanager
def no_file_may_grow(beyond: int) -> Iterator[None]:
    """The OS refuses to write past `beyond` bytes of any file of this process (RLIMIT_FSIZE;
    Python ignores SIGXFSZ, so the write fails with EFBIG): a full disk, as SQLite sees it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (beyond, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


async def test_a_full_disk_cannot_save_and_leaves_nothing_half_written(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.press(await card_for(alice, "heat 1995"), "★4")  # saved: the WAL has frames
    await emulator.wait_idle()
    card = await card_for(alice, "die hard")
    wal = Path(f"{services.db.path}-wal")
    counts = "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM users)"
    before = services.db.conn.execute(counts).fetchone()
    with no_file_may_grow(beyond=wal.stat().st_size):
        await alice.press(card, "★5")
        said = await alice.next_message()
    assert said.text == render.CANNOT_SAVE
    assert services.db.conn.execute(counts).fetchone() == before
    assert telegram_ratings(services.db) == 1
    assert services.db.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    await alice.send("/similar alien")  # reads keep working
    assert "Like" in (await alice.next_message()).text
    await alice.press(card, "★5")  # room again: the same tap saves
    await emulator.wait_idle()
    assert telegram_ratings(services.db) == 2


def test_training_a_read_only_database_stops_before_training(world):
    with Database(world.db_path) as db:
        db.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageUnavailable, match="read-only"):
            train(db, world, progress=lambda step: pytest.fail(f"trained anyway: {step}"))


async def test_a_retrain_on_a_read_only_database_fails_and_keeps_the_model(world):
    services = open_services(world)
    old = services.model
    try:
        with read_only(world.db_path):  # the training thread's connection opens it read-only
            outcome = await services.training.retrain()
    finally:
        services.close()
    assert isinstance(outcome, RetrainFailed) and "read-only" in outcome.error
    assert services.model is old
