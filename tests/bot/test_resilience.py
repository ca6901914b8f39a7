"""Telegram misbehaving: flood limits, server errors, dropped connections. The bot survives,
retries what it should, and never writes its token to the log."""

from __future__ import annotations

import logging

from bot.logs import protect
from storage import ratings, users


async def test_a_flood_limit_on_reply_is_waited_out_and_the_reply_arrives(emulator, run_bot):
    await run_bot(rate_limit=True)
    emulator.faults.flood("sendMessage", retry_after=1, n=1)
    alice = emulator.user("Alice")
    await alice.send("/help")
    reply = await alice.next_message(timeout=10)
    assert "What I can do" in reply.text
    floods = [c for c in emulator.calls if c.method.lower() == "sendmessage"]
    assert len(floods) == 2  # the refused one and the retry


async def test_server_errors_are_logged_without_the_token_and_the_bot_carries_on(
    emulator, run_bot, caplog
):
    caplog.set_level(logging.DEBUG)
    services = await run_bot()
    alice = emulator.user("Alice")
    emulator.faults.fail_next(1, "sendMessage", status=502)
    await alice.send("/help")
    assert "What I can do" in (await alice.next_message(timeout=10)).text  # sent again
    emulator.faults.drop_next(1, "getUpdates")
    await alice.send("heat 1995")
    card = await alice.next_message(timeout=15)
    await alice.press(card, "★4")
    await emulator.wait_idle()
    user = users.find(services.db, "telegram", alice.id)
    assert ratings.history(services.db, user).ratings == {1: 4.0}
    secret = emulator.token.split(":", 1)[1]
    assert caplog.records, "expected the failure to be logged"
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert all(secret not in (record.exc_text or "") for record in caplog.records)


def test_log_records_never_carry_the_token(caplog):
    token = "123456:SECRET-for-this-test-only"
    protect(token)
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO, logger="some.library"):
        log.info("POST https://api.telegram.org/bot%s/sendMessage", token)
        try:
            raise ConnectionError(f"cannot reach /bot{token}/getUpdates")
        except ConnectionError:
            log.exception("network down")
    text = caplog.text
    assert "SECRET-for-this-test-only" not in text
    assert "/bot<bot-token>/sendMessage" in text and "network down" in text
