"""`moviebot chat`: the command that runs a bot, the emulator and the terminal chat together.

The chat client itself is tested in tests/emulator/test_chat.py, with the same tiny bot.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import EMULATOR_TOKEN

ROOT = Path(__file__).resolve().parents[2]


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
