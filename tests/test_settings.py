"""Settings: read once from the environment over `.env`, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import TELEGRAM_API, Settings, SettingsError


def test_defaults_without_any_configuration(tmp_path):
    settings = Settings.from_env({}, env_file=tmp_path / "missing.env")
    assert settings.token is None
    assert settings.api_base_url == TELEGRAM_API
    assert settings.db_path == Path("data/moviebot.sqlite")
    assert settings.admin_ids == frozenset()


def test_environment_wins_over_the_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("TELEGRAM_BOT_TOKEN=from-file\nMOVIEBOT_DATA_DIR=/srv/movies\n")
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": "from-env"}, env_file=env)
    assert settings.token == "from-env"
    assert settings.db_path == Path("/srv/movies/moviebot.sqlite")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MOVIEBOT_ADMIN_IDS": "12, @bob"}, "numeric Telegram user ids"),
        ({"MOVIEBOT_RETRAIN_INTERVAL": "soon"}, "MOVIEBOT_RETRAIN_INTERVAL must be a whole"),
        ({"MOVIEBOT_GROUP_STRATEGY": "loudest"}, "MOVIEBOT_GROUP_STRATEGY must be one of"),
        ({"MOVIEBOT_WEBHOOK_URL": "https://bot.example.org/hook"}, "needs MOVIEBOT_WEBHOOK_SECRET"),
        (
            {"MOVIEBOT_WEBHOOK_URL": "https://x.org/h", "MOVIEBOT_WEBHOOK_SECRET": "a b"},
            "needs MOVIEBOT_WEBHOOK_SECRET",
        ),
    ],
)
def test_unusable_values_are_refused_naming_the_variable(environ, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ, env_file=tmp_path / "none.env")


def test_admin_ids_are_numbers(tmp_path):
    settings = Settings.from_env({"MOVIEBOT_ADMIN_IDS": " 12, 345 ,"}, env_file=None)
    assert settings.admin_ids == {12, 345}


def test_running_without_a_token_explains_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    code = main(["--env-file", str(tmp_path / "none.env"), "run"])
    err = capsys.readouterr().err
    assert code == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in err and "moviebot chat" in err
    assert "Traceback" not in err
