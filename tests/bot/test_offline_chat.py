"""`moviebot chat` with the real bot, run more than once on the same database."""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path

from bot.settings import Settings


def chat(world: Settings, monkeypatch, capsys, script: str, *options: str) -> list[str]:
    from bot.cli import main

    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(world.model_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    argv = ["--db", str(world.db_path), "--env-file", os.devnull, "chat", "--idle", "0.3"]
    code = main([*argv, *options])
    assert code == 0
    return capsys.readouterr().out.splitlines()


def exported(lines: list[str], prompt: str) -> set[tuple[str, str]]:
    """The (title, rating) rows of the CSV the bot sent in answer to `prompt` + /export."""
    start = lines.index(f"{prompt}> /export")
    for line in lines[start + 1 :]:
        if re.match(r"^\w+( @ .*)?> ", line):
            return set()  # the bot sent no file: nothing to export
        if found := re.search(r"\[document saved to (.+)\]", line):
            with Path(found[1]).open(newline="") as file:
                return {(row["title"], row["rating"]) for row in csv.DictReader(file)}
    return set()


def test_each_name_keeps_its_own_ratings_across_runs(world, tmp_path, monkeypatch, capsys):
    """Simulated users are the same people in every run, whatever order their names come in:
    ratings persist in the database, so a name must never inherit someone else's id."""
    monkeypatch.chdir(tmp_path)
    chat(world, monkeypatch, capsys, "/start\n5\n/as Bob\n/start\n1\n/as Carol\n/start\n3\n")
    alice, bob, carol = ({("Groundhog Day", f"{n}.0")} for n in (5, 1, 3))
    second = "/export\n/as Bob\n/export\n/as Carol\n/export\n/as Alice\n/export\n"
    lines = chat(world, monkeypatch, capsys, second, "--name", "Frank")
    assert exported(lines, "Frank") == set(), lines
    assert exported(lines, "Bob") == bob, lines
    assert exported(lines, "Carol") == carol, lines
    assert exported(lines, "Alice") == alice, lines
    # A newcomer who forgets everything forgets only themselves.
    third = "/forget\n1\n/as Alice\n/export\n/as Bob\n/export\n"
    lines = chat(world, monkeypatch, capsys, third, "--name", "Xavier")
    assert "(pressed Yes, delete everything)" in lines, lines
    assert exported(lines, "Alice") == alice, lines
    assert exported(lines, "Bob") == bob, lines


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


def replies(lines: list[str], prompt: str) -> list[str]:
    """What came after the first `prompt` line, up to the next prompt."""
    start = lines.index(prompt) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(r"^\w+( @ .*)?> ", lines[i])), len(lines)
    )
    return lines[start:end]


def test_the_user_you_start_as_is_an_admin_and_who_shows_every_id(
    world, tmp_path, monkeypatch, capsys
):
    """/retrain and /stats need an id in MOVIEBOT_ADMIN_IDS: in the offline chat the user
    you start as has one, and /who and /? say which ids there are and how to add one."""
    from bot.render import NOT_ADMIN

    monkeypatch.chdir(tmp_path)
    script = "/as Bob\n/as Alice\n/who\n/?\n/stats\n/as Bob\n/stats\n"
    lines = chat(world, monkeypatch, capsys, script)
    alice, bob = (emulator_id(lines, name) for name in ("Alice", "Bob"))
    assert replies(lines, "Alice> /who") == [
        "(you are Alice, in a private chat with the bot)",
        "simulated users (name: id):",
        f"     Alice: {alice} (you, a bot admin)",
        f"     Bob: {bob}",
    ]
    help_text = "\n".join(replies(lines, "Alice> /?"))
    assert "Alice, the user you started as, is an admin of the bot here" in help_text
    assert "MOVIEBOT_ADMIN_IDS" in help_text
    assert f"The bot's log goes to {Path('data') / 'chat.log'}" in help_text
    assert NOT_ADMIN not in "\n".join(replies(lines, "Alice> /stats"))
    assert NOT_ADMIN in "\n".join(replies(lines, "Bob> /stats"))


def emulator_id(lines: list[str], name: str) -> int:
    """The id /who listed for `name`."""
    for line in lines:
        if found := re.match(rf"^\s+{name}: (\d+)", line):
            return int(found[1])
    raise AssertionError(f"/who did not list {name}: {lines}")


def test_the_rate_a_few_movies_link_of_a_movie_night_opens_onboarding(
    world, tmp_path, monkeypatch, capsys
):
    """The movie night's "Rate a few movies" is a t.me/<bot>?start=movienight_<id> link:
    pressing it moves to the private chat and sends /start movienight_<id>, as Telegram does."""
    monkeypatch.chdir(tmp_path)
    night = chat(world, monkeypatch, capsys, "/group Pals\n/movienight\n")
    (number,) = [m[1] for line in night if (m := re.search(r"\[(\d+)\] [^[]*Rate[^[]*↗", line))]
    lines = chat(world, monkeypatch, capsys, f"/group Pals\n/movienight\n{number}\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Alice> /start movienight_"))
    assert lines[start - 1].endswith("opens your private chat with the bot)"), lines
    onboarding = "\n".join(replies(lines, lines[start]))
    assert onboarding.startswith("bot: ") and "[1] ★1" in onboarding, lines
