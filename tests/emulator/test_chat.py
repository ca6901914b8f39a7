"""The terminal chat: numbered buttons, polls, files, switching users and groups, scripts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import EMULATOR_TOKEN
from emulator.chat import ChatClient
from tests.emulator import tinybot

ROOT = Path(__file__).resolve().parents[2]


async def lines_of(*lines: str):
    for line in lines:
        yield line + "\n"


async def transcript(emulator, files: Path, *lines: str) -> str:
    out = io.StringIO()
    client = ChatClient(emulator, out, files, name="Alice", script=True)
    await client.run(lines_of(*lines), quiet=0.15, timeout=5)
    return out.getvalue()


@pytest.fixture
async def tiny(start_bot):
    return await start_bot(tinybot.build)


async def test_buttons_are_numbered_and_pressed_by_number(emulator, tiny, tmp_path):
    text = await transcript(emulator, tmp_path, "/start", "4", "2")
    assert text.splitlines() == [
        "Alice> /start",
        "bot: Welcome! Please rate Heat (1995):",
        "     [1] ★1  [2] ★2  [3] ★3  [4] ★4  [5] ★5",
        "     [6] Skip",
        "Alice> 4",
        "(pressed ★4)",
        "     ↳ popup: Saved ★4",
        "bot (edited): You rated Heat ★4",
        "Alice> 2",
        "(can't: button [2] is gone: the bot changed that message)",
    ]


async def test_polls_can_be_voted_in(emulator, tiny, tmp_path):
    text = await transcript(emulator, tmp_path, "/poll", "/vote 2")
    assert "bot: poll: Tonight? (vote with /vote N)" in text
    assert "     (1) Heat — 0  (2) Alien — 0" in text
    assert "(Alice voted for Alien)\nbot: Alice voted [1]" in text


async def test_photos_and_documents_are_saved_to_the_folder(emulator, tiny, tmp_path):
    text = await transcript(emulator, tmp_path, "/chart", "/export")
    saved = sorted(tmp_path.iterdir())
    assert [p.name.split("-", 2)[2] for p in saved] == ["photo.png", "ratings.json"]
    assert saved[0].read_bytes() == tinybot.png_bytes()
    assert f"[photo saved to {saved[0]}]\n     Your taste" in text
    assert f"[document saved to {saved[1]}]" in text


async def test_movie_night_alone_with_simulated_users(emulator, tiny, tmp_path):
    text = await transcript(
        emulator,
        tmp_path,
        "/as Bob",
        "/group Movie night",
        "/admin",
        "/as Carol",
        "/admin",
        "/private",
        "hi",
    )
    assert "(in group Movie night: Bob, Alice, MovieBot)" in text
    assert "bot: Hi Movie night!" in text
    assert "Bob @ Movie night> /admin\nbot: status: creator" in text
    assert "Carol @ Movie night> /admin\nbot: status: member" in text
    assert "Carol> hi\nbot: You said: hi" in text


async def test_files_can_be_sent_to_the_bot(emulator, tiny, tmp_path):
    (tmp_path / "list.txt").write_text("Heat\n")
    text = await transcript(emulator, tmp_path, f"/file {tmp_path / 'list.txt'}", "/file nope.txt")
    assert "(sent list.txt, 5 bytes)" in text
    assert "(can't: cannot read nope.txt: No such file or directory)" in text
    (message,) = [m for m in emulator.world.chats[emulator.user("Alice").id].messages]
    assert (message.document.file_name, message.document.data) == ("list.txt", b"Heat\n")


async def test_unknown_button_numbers_are_explained(emulator, tiny, tmp_path):
    text = await transcript(emulator, tmp_path, "7", "/vote 1")
    assert "(can't: there is no button [7] on screen)" in text
    assert "(can't: the bot has not sent a poll)" in text


def run_cli(*args: str, stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", os.devnull, "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_moviebot_chat_script_prints_a_transcript(tmp_path):
    """`printf '/start\\n1\\n' | moviebot chat --script` from a shell pipe."""
    result = run_cli(
        "--script",
        "--idle",
        "0.2",
        "--app",
        "tests.emulator.tinybot:build",
        "--files",
        str(tmp_path),
        stdin="/start\n1\n/quit\nnot read\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Alice> /start",
        "bot: Welcome! Please rate Heat (1995):",
        "     [1] ★1  [2] ★2  [3] ★3  [4] ★4  [5] ★5",
        "     [6] Skip",
        "Alice> 1",
        "(pressed ★1)",
        "     ↳ popup: Saved ★1",
        "bot (edited): You rated Heat ★1",
        "Alice> /quit",
    ]
    secret = EMULATOR_TOKEN.split(":")[1]
    assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("no_colon", "--app takes MODULE:FUNCTION, got 'no_colon'"),
        ("tests.emulator.nosuchmodule:build", "--app: cannot import tests.emulator.nosuchmodule"),
        ("tests.emulator.tinybot:nosuchfunction", "--app: tests.emulator.tinybot has no function"),
    ],
)
def test_a_bad_app_is_one_clear_line(app, message, capsys):
    from bot.cli import main

    assert main(["--env-file", os.devnull, "chat", "--script", "--app", app]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"moviebot: {message}")
    assert len(err.strip().splitlines()) == 1


def test_moviebot_chat_runs_the_real_bot_by_default(tmp_path, monkeypatch, capsys):
    """Without --app, `moviebot chat` wires bot.app.build_application + open_services."""
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("/help\n"))
    db = tmp_path / "bot.sqlite"
    code = main(["--db", str(db), "--env-file", os.devnull, "chat", "--idle", "0.2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "Alice> /help"
    assert out[1].startswith("bot: ") and len(out) > 2
