"""The web settings, and the small services the web app added."""

from __future__ import annotations

import pytest

from bot.services.account import histogram
from bot.settings import Settings, SettingsError
from storage import web_tokens
from tests.web.conftest import ALICE, BOB


def test_the_web_app_is_on_by_default_on_127_0_0_1():
    settings = Settings.from_env({}, env_file=None)
    assert (settings.web, settings.web_listen, settings.web_port) == (True, "127.0.0.1", 8080)
    assert settings.web_url is None and settings.web_auth_max_age == 24 * 3600


def test_web_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "MOVIEBOT_WEB": "0",
            "MOVIEBOT_WEB_LISTEN": "0.0.0.0",
            "MOVIEBOT_WEB_PORT": "9000",
            "MOVIEBOT_WEB_URL": "https://movies.example.org/",
            "MOVIEBOT_WEB_AUTH_MAX_AGE": "600",
        },
        env_file=None,
    )
    assert not settings.web and settings.web_listen == "0.0.0.0" and settings.web_port == 9000
    assert settings.web_url == "https://movies.example.org" and settings.web_auth_max_age == 600


def test_the_public_address_must_be_https():
    with pytest.raises(SettingsError, match="MOVIEBOT_WEB_URL must be an https://"):
        Settings.from_env({"MOVIEBOT_WEB_URL": "http://movies.example.org"}, env_file=None)


@pytest.mark.parametrize(
    ("values", "scale", "expected"),
    [
        ([], (1, 5, 1), ((1, 0), (2, 0), (3, 0), (4, 0), (5, 0))),
        ([5, 5, 3.0], (1, 5, 1), ((1, 0), (2, 0), (3, 1), (4, 0), (5, 2))),
        ([0.5, 3.5, 3.5], (0.5, 2, 0.5), ((0.5, 1), (1.0, 0), (1.5, 0), (2.0, 2))),
    ],
)
def test_the_histogram_has_a_bar_for_every_step_of_the_scale(values, scale, expected):
    assert histogram(values, scale) == expected


def test_two_redeems_of_one_link_get_one_session(services):
    token = services.web.link_token(ALICE)
    assert services.web.redeem(token) is not None
    assert services.web.redeem(token) is None


def test_expired_rows_are_purged_when_new_ones_are_stored(services):
    web_tokens.add(services.db, "link", "old", 1, None, now=100, expires_at=200)
    services.web.link_token(BOB)
    assert web_tokens.redeem_link(services.db, "old", now=150) is None  # purged, not just late
    rows = services.db.conn.execute("SELECT count(*) FROM web_tokens").fetchone()[0]
    assert rows == 1


def test_forget_from_the_chat_signs_the_browser_out(services):
    session = services.web.open_session(ALICE)
    services.feedback.rate(ALICE, 8, 10)
    assert services.account.forget(ALICE)
    assert services.web.session(session.token) is None


def test_the_not_interested_list_is_the_persons_own(services):
    services.feedback.dismiss(ALICE, 8)
    assert [m.id for m in services.watchlist.not_interested(ALICE)] == [8]
    assert services.watchlist.not_interested(BOB) == ()


def test_a_night_is_read_by_its_members_only(services):
    night = services.nights.open(-5, "Club", ALICE.telegram_id, "Alice")
    assert services.nights.for_member(night.id, ALICE.telegram_id) is not None
    assert services.nights.for_member(night.id, BOB.telegram_id) is None
    assert [n.id for n in services.nights.nights_of(ALICE.telegram_id)] == [night.id]
    assert services.nights.nights_of(BOB.telegram_id) == []
