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


def run_cli(*args: str, stdin: str, data_dir: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "",
        "PYTHONPATH": str(ROOT),
        "MOVIEBOT_DATA_DIR": str(data_dir),
        **env_vars,
    }
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
        str(tmp_path / "files"),
        stdin="/start\n1\n/quit\nnot read\n",
        data_dir=tmp_path,
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
    log = (tmp_path / "chat.log").read_text()
    assert secret not in result.stdout + result.stderr + log


def test_the_log_goes_to_a_file_and_errors_are_one_line_in_the_chat(tmp_path):
    """Log lines would break into the prompt: they go to DATA_DIR/chat.log, and an error
    the bot logs is mentioned in the chat in one line, pointing there."""
    result = run_cli(
        "--app", "tests.emulator.tinybot:build", stdin="/boom\nhi\n", data_dir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    log = tmp_path / "chat.log"
    assert "RuntimeError: tinybot failed on purpose" in log.read_text()
    notice = "(the bot logged an error: No error handlers are registered, logging exception."
    assert f"{notice} — details in {log})" in result.stdout
    assert "Alice> hi\nbot: You said: hi" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == f"moviebot: the bot logged 1 error(s); see {log}\n"


def test_the_real_bot_logs_to_the_file_not_the_terminal(world, tmp_path):
    """`moviebot chat` with the real bot: its start-up line is in the log file only."""
    result = run_cli(
        "--db",
        str(world.db_path),
        stdin="/help\n",
        data_dir=tmp_path,
        MOVIEBOT_MODEL_DIR=str(world.model_dir),
    )
    assert result.returncode == 0, result.stderr
    assert "ready" in (tmp_path / "chat.log").read_text()
    assert " INFO " not in result.stdout + result.stderr
    assert result.stdout.startswith("Alice> /help\nbot: ")


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


def test_a_transcript_of_a_start_without_a_model_shows_the_retrained_model(
    world, monkeypatch, capsys
):
    """No model file at start: the bot retrains at once, and the transcript's first line
    sees the new model (not "No model loaded"): `moviebot chat` counts a retrain as the bot
    being busy (the client's waiting is tested in tests/emulator/test_chat.py)."""
    import shutil

    from bot.cli import main

    shutil.rmtree(world.model_dir)
    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(world.model_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO("/stats\n"))
    code = main(["--db", str(world.db_path), "--env-file", os.devnull, "chat", "--idle", "0.2"])
    out = capsys.readouterr().out
    assert code == 0
    stats = out[out.index("Alice> /stats") :]
    assert "No model loaded" not in stats and "trained 0.0 h ago" in stats
