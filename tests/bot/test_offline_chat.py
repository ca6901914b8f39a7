"""`moviebot chat` with the real bot, run twice on the same database."""

from __future__ import annotations

import io
import os
import sys

from bot.settings import Settings


def chat(world: Settings, monkeypatch, capsys, script: str) -> list[str]:
    from bot.cli import main

    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(world.model_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    code = main(["--db", str(world.db_path), "--env-file", os.devnull, "chat", "--idle", "0.3"])
    assert code == 0
    return capsys.readouterr().out.splitlines()


def test_a_vote_left_open_in_an_earlier_run_does_not_hold_the_group(
    world, tmp_path, monkeypatch, capsys
):
    """The emulator forgets its polls when `moviebot chat` ends: the next run's group is new,
    so /movienight starts afresh instead of pointing at a poll that is not there."""
    monkeypatch.chdir(tmp_path)
    first = chat(world, monkeypatch, capsys, "/start\n5\n5\n5\n/group Friends\n/movienight\n1\n4\n")
    assert any(line.startswith("bot: poll: ") for line in first), first
    again = chat(world, monkeypatch, capsys, "/group Friends\n/movienight\n")
    assert not any("already a vote" in line for line in again), again
    assert any("Who's in?" in line for line in again), again
