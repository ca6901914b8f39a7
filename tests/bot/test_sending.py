"""Every Telegram fault has a policy (bot.sending): flood waits, server errors, closed
connections, slow answers, "message is not modified", "query is too old", 400 and 403.

Most tests run the real bot against the emulator; the ones about timing run the send policy
under a bare ExtBot, two chats at once, which is where "one chat's flood wait delays only that
chat" must hold whatever the update processor does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest
from telegram.error import Forbidden, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot.sending import Limits, SendPolicy, Window
from bot.transport import AiohttpRequest
from emulator.api import RateLimits
from emulator.server import Emulator
from storage import ratings, users
from storage.db import Database

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
Policy = Callable[..., SendPolicy]


def sends(emulator: Emulator, chat_id: int | None = None) -> int:
    """How many sendMessage calls reached the emulator (for one chat, if given)."""
    return sum(
        1
        for c in emulator.calls
        if c.method.lower() == "sendmessage"
        and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
    )


async def person(emulator: Emulator, name: str):
    """Someone who wrote /start, so their private chat exists (the update is consumed)."""
    user = emulator.user(name)
    await user.send("/start")
    emulator.api.acknowledge(emulator.world.updates[-1]["update_id"] + 1)
    return user


def help_replies(user) -> list[str]:
    return [m.text for m in user.messages() if m.from_bot and "What I can do" in (m.text or "")]


@pytest.fixture
async def bare_bot(emulator: Emulator) -> AsyncIterator[Callable[..., ExtBot]]:
    """`bot = await bare_bot(policy)`: an ExtBot whose calls pass `policy`, closed afterwards."""
    bots: list[ExtBot] = []

    async def make(policy: SendPolicy, read_timeout: float = 5.0) -> ExtBot:
        request = AiohttpRequest(connection_pool_size=16, read_timeout=read_timeout)
        bot = ExtBot(
            emulator.token, base_url=emulator.base_url, rate_limiter=policy, request=request
        )
        await bot.initialize()
        bots.append(bot)
        return bot

    yield make  # type: ignore[misc]
    for bot in bots:
        await bot.shutdown()


# -- 429: wait retry_after, as often as it takes, within the deadline ----------------------------


async def test_five_flood_waits_in_a_row_and_the_reply_still_arrives(emulator, run_bot):
    await run_bot()
    emulator.faults.flood("sendMessage", retry_after=1, n=5)
    alice = emulator.user("Alice")
    await alice.send("/help")
    assert "What I can do" in (await alice.next_message(timeout=15)).text
    assert sends(emulator) == 6 and emulator.faults.rules == []


async def test_a_flood_wait_longer_than_the_deadline_gives_up_at_once(emulator, bare_bot):
    bot = await bare_bot(SendPolicy(deadline=2.0))
    alice = await person(emulator, "Alice")
    emulator.faults.flood("sendMessage", retry_after=30, n=1)
    started = time.monotonic()
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "not worth waiting 30 s for")
    assert time.monotonic() - started < 1.0
    assert sends(emulator) == 1


async def test_one_chats_flood_wait_delays_only_that_chat(emulator, bare_bot):
    """Holds at the send layer; the bot keeps it for its users once updates of different chats
    are handled concurrently (test_a_flooded_chat_does_not_hold_up_another_chats_reply)."""
    bot = await bare_bot(SendPolicy(limits=Limits()))
    alice, bob = await person(emulator, "Alice"), await person(emulator, "Bob")
    emulator.faults.flood("sendMessage", retry_after=2, n=1, chat_id=alice.id)
    started = time.monotonic()

    async def to(chat_id: int, n: int) -> list[float]:
        done = []
        for i in range(n):
            await bot.send_message(chat_id, f"message {i}")
            done.append(time.monotonic() - started)
        return done

    alice_done, bob_done = await asyncio.gather(to(alice.id, 2), to(bob.id, 3))
    assert alice_done[0] >= 2.0  # waited out retry_after, then sent in order
    assert max(bob_done) < 1.0  # Bob's three replies never waited for Alice's chat
    assert [m.text for m in alice.messages()] == ["message 0", "message 1"]
    assert [m.text for m in bob.messages()] == ["message 0", "message 1", "message 2"]


async def test_a_flooded_chat_does_not_hold_up_another_chats_reply(emulator, run_bot):
    """Needs concurrent handling of different chats' updates (issue 15, the intake part): with
    updates handled one at a time, Bob's /help waits behind Alice's flood wait."""
    await run_bot()
    app = run_bot.apps[-1]
    if app.update_processor.max_concurrent_updates <= 1:
        pytest.skip("updates are handled one at a time: needs concurrent handling")
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    emulator.faults.flood("sendMessage", retry_after=3, n=1, chat_id=alice.id)
    await alice.send("/help")
    await asyncio.sleep(0.3)  # Alice's reply is in its flood wait now
    started = time.monotonic()
    await bob.send("/help")
    assert "What I can do" in (await bob.next_message(timeout=5)).text
    assert time.monotonic() - started < 1.0
    assert "What I can do" in (await alice.next_message(timeout=10)).text


async def test_messages_are_paced_to_telegrams_limits_without_a_single_429(emulator, bare_bot):
    emulator.config.rate_limits = RateLimits()  # the emulator refuses what Telegram would
    bot = await bare_bot(SendPolicy(limits=Limits()))
    alice = await person(emulator, "Alice")
    started = time.monotonic()
    for i in range(5):
        await bot.send_message(alice.id, f"#{i}")
    elapsed = time.monotonic() - started
    assert [m.text for m in alice.messages()] == [f"#{i}" for i in range(5)]
    assert sends(emulator) == 5  # no refused call: the policy waited, not Telegram
    assert elapsed >= 3.0  # three at once, then the window of 3 s


def test_a_window_lets_a_burst_through_then_spaces_the_rest():
    window = Window(3, 3.0)
    starts = [window.book(0.0) for _ in range(5)]
    assert starts[:3] == [0.0, 0.0, 0.0]
    assert starts[3] == pytest.approx(3.0 + Window.MARGIN)
    assert starts[4] == pytest.approx(3.0 + Window.MARGIN)
    assert window.book(100.0) == 100.0


# -- 5xx, closed connections, timeouts: back-off and try again -----------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        lambda f: f.fail_next(1, "sendMessage", status=500),
        lambda f: f.fail_next(1, "sendMessage", status=502),
        lambda f: f.drop_next(1, "sendMessage"),
        lambda f: f.fail_next(3, "sendMessage", status=503),  # a burst
    ],
    ids=["500", "502", "closed connection", "burst of 503"],
)
async def test_a_server_error_or_a_closed_connection_on_a_reply_and_it_arrives_once(
    emulator, run_bot, fault
):
    await run_bot()
    fault(emulator.faults)
    alice = emulator.user("Alice")
    await alice.send("/help")
    await alice.next_message(timeout=15)
    await emulator.wait_idle()
    assert len(help_replies(alice)) == 1
    assert emulator.faults.rules == []


async def test_server_errors_past_the_deadline_give_up_with_the_error(emulator, bare_bot):
    bot = await bare_bot(SendPolicy(deadline=1.5))
    alice = await person(emulator, "Alice")
    emulator.faults.fail_next(None, "sendMessage", status=500)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(alice.id, "never")
    assert time.monotonic() - started < 1.5
    assert sends(emulator) >= 3  # 0.25-0.5 s, then 0.5-1 s apart


async def test_a_slow_answer_that_times_out_is_sent_again(emulator, bare_bot):
    """Telegram may have delivered a timed-out send: it is tried again (a reply may then show
    twice, which beats losing it; see docs/reliability.md)."""
    bot = await bare_bot(SendPolicy(), read_timeout=0.5)
    alice = await person(emulator, "Alice")
    emulator.faults.delay(1.0, "sendMessage", n=1)
    sent = await bot.send_message(alice.id, "slow")
    assert sent.text == "slow"
    assert sends(emulator) == 2


# -- answers that are not messages are never queued behind messages ------------------------------


async def test_a_button_answer_or_an_edit_does_not_wait_behind_a_chats_messages(emulator, bare_bot):
    bot = await bare_bot(SendPolicy(limits=Limits(private_messages=1, private_window=2.0)))
    alice = await person(emulator, "Alice")
    first = await bot.send_message(alice.id, "first")
    second = asyncio.create_task(bot.send_message(alice.id, "second"))  # waits its window
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await bot.edit_message_text("first, edited", alice.id, first.message_id)
    await bot.send_chat_action(alice.id, "typing")
    assert time.monotonic() - started < 0.5
    assert not second.done()
    await second
    assert time.monotonic() - started >= 1.5


# -- "message is not modified", "query is too old" -----------------------------------------------


async def test_the_same_star_twice_edits_nothing_and_says_nothing_went_wrong(
    emulator, run_bot, caplog
):
    caplog.set_level(logging.INFO)
    await run_bot()
    alice = emulator.user("Alice")
    card = await _open_card(emulator, alice)
    for _ in range(2):  # the second edit is "message is not modified"
        await alice.press(card, "★4")
        await emulator.wait_idle()
    assert [c.method for c in emulator.calls].count("editMessageText") == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [m for m in alice.messages() if m.from_bot and "Sorry" in (m.text or "")]


async def test_a_star_pressed_too_long_ago_is_stored_and_answered_by_a_message(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    card = await _open_card(emulator, alice)
    emulator.faults.query_too_old()
    await alice.press(card, "★4")
    note = await alice.next_message(timeout=5)
    assert "Saved" in note.text
    user = users.find(services.db, "telegram", alice.id)
    assert ratings.history(services.db, user).ratings == {1: 4.0}
    await emulator.wait_idle()
    assert card.edited  # the card shows the rating, as always


async def test_a_card_opened_too_long_ago_still_shows_the_card(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("heat")  # two movies: a button opens the card
    results = await alice.next_message(timeout=10)
    emulator.faults.query_too_old()
    await alice.press(results, "Heat (1995)")
    card = await alice.next_message(timeout=5)
    assert "Heat" in card.text and "★4" in card.button_labels
    assert emulator.faults.rules == []  # the answer was tried, and refused


async def _open_card(emulator: Emulator, alice):
    await alice.send("heat 1995")
    return await alice.next_message(timeout=10)


# -- 400: logged with the method and Telegram's words, never the text ----------------------------


async def test_a_bad_request_is_logged_with_method_and_description_but_no_text(
    emulator, run_bot, caplog
):
    caplog.set_level(logging.DEBUG)
    await run_bot()
    alice = emulator.user("Alice")
    description = 'Bad Request: can\'t parse entities: Unsupported start tag "gollum" at byte 3'
    emulator.faults.fail_next(1, "sendMessage", status=400, description=description)
    await alice.send("my precious gollum")
    apology = await alice.next_message(timeout=10)
    assert "Sorry" in apology.text
    assert sends(emulator) == 2  # the refused reply (not retried) and the apology
    refused = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(refused) == 1
    assert "sendMessage" in refused[0] and "parse entities" in refused[0]
    everything = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "gollum" not in everything and "precious" not in everything
    assert "network error" not in everything


# -- 403: the chat is inactive, nothing more is sent to it, until it speaks again -----------------


async def test_a_403_marks_the_chat_inactive_and_later_sends_skip_it_until_it_speaks(
    emulator, run_bot
):
    services = await run_bot()
    bot = run_bot.apps[-1].bot
    alice = emulator.user("Alice")
    emulator.faults.blocked(alice.id)
    await alice.send("/help")
    await emulator.wait_idle()
    assert not services.audience.is_active(alice.id)
    with Database(services.settings.db_path) as fresh:  # stored, for the next start too
        assert alice.id in users.inactive_chats(fresh)
    calls = len(emulator.calls)
    with pytest.raises(Forbidden):  # what a job or an announcement would send
        await bot.send_message(alice.id, "news nobody asked for")
    assert len(emulator.calls) == calls  # refused without a call

    emulator.faults.clear()  # Alice unblocked the bot and writes again
    await alice.send("/help")
    assert "What I can do" in (await alice.next_message(timeout=10)).text
    assert services.audience.is_active(alice.id)
    assert alice.id not in users.inactive_chats(services.db)


async def test_blocking_the_bot_or_removing_it_from_a_group_stops_sends_there(emulator, run_bot):
    services = await run_bot()
    bot = run_bot.apps[-1].bot
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Film club", [alice, bob])
    await emulator.wait_idle()
    await alice.block()
    await group.remove_bot(bob)
    await emulator.wait_idle()
    assert services.audience.inactive() == {alice.id, group.id}
    for chat_id in (alice.id, group.id):
        with pytest.raises(Forbidden):
            await bot.send_message(chat_id, "movie night result")
    assert not [c for c in emulator.calls if c.params.get("text") == "movie night result"]
    await alice.unblock()
    await emulator.wait_idle()
    assert services.audience.inactive() == {group.id}
