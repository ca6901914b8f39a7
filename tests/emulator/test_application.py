"""End-to-end: a real python-telegram-bot Application polling the emulator, driven by users.

These use the same fixtures the bot's own end-to-end tests use (`emulator`, `start_bot`),
with the tiny bot in tinybot.py standing in for moviebot.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Update
from telegram.ext import AIORateLimiter, ChatMemberHandler

from emulator import Emulator, NoReply
from emulator.runner import application_builder, start_application, stop_application
from tests.emulator import tinybot


@pytest.fixture
async def tiny(start_bot):
    """The tiny bot, built from settings (the emulator's Connection) as moviebot is from its own."""
    return await start_bot(tinybot.build)


async def test_a_conversation_with_buttons(emulator, tiny):
    alice = emulator.user("Alice")
    await alice.send("/start")
    question = await alice.next_message()
    assert "rate" in question.text and question.html.startswith("Welcome! Please rate <b>Heat</b>")
    assert question.button_labels == ["★1", "★2", "★3", "★4", "★5", "Skip"]
    assert (question.raw, question.parse_mode) == (
        "Welcome! Please rate <b>Heat</b> (1995):",
        "HTML",
    )
    press = await alice.press(question, "★4")
    assert (await press.answered())["text"] == "Saved ★4"
    await emulator.wait_idle(quiet=0.2)
    assert question.text == "You rated Heat ★4" and question.buttons == []


async def test_free_text_and_silence(emulator, tiny):
    alice = emulator.user("Alice")
    await alice.send("hello there")
    assert (await alice.next_message()).text == "You said: hello there"
    await alice.send("/nosuchcommand")
    with pytest.raises(NoReply, match=r"sent nothing new to Alice within 0\.3s"):
        await alice.next_message(timeout=0.3)


async def test_users_have_separate_chats(emulator, tiny):
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    await alice.send("I am Alice")
    await bob.send("I am Bob")
    assert (await bob.next_message()).text == "You said: I am Bob"
    assert (await alice.next_message()).text == "You said: I am Alice"


async def test_a_group_movie_night(emulator, tiny):
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Movie night", [alice, bob])
    assert (await group.next_message()).text == "Hi Movie night!"
    await bob.send("/admin", group)  # arrives as /admin@moviebot_sandbox_bot
    assert (await group.next_message()).text == "status: member"
    group.promote(bob)
    await bob.send("/admin", group)
    assert (await group.next_message()).text == "status: administrator"
    await alice.send("/poll", group)
    poll = await group.next_message()
    await alice.vote(poll, "Alien")
    await bob.vote(poll, 0)
    assert (await group.next_message()).text == "Alice voted [1]"
    assert (await group.next_message()).text == "Bob voted [0]"
    assert poll.poll.counts() == [1, 1]


async def test_photos_and_documents_reach_the_user(emulator, tiny):
    alice = emulator.user("Alice")
    await alice.send("/chart")
    photo = await alice.next_message()
    assert photo.photo.data == tinybot.png_bytes() and photo.html == "Your <i>taste</i>"
    await alice.send("/export")
    document = await alice.next_message()
    assert document.document.file_name == "ratings.json"
    assert document.document.data == b'{"Heat": 4}'


async def test_wait_idle_returns_once_the_bot_has_answered(emulator, tiny):
    alice = emulator.user("Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    assert await emulator.wait_idle(quiet=0.2, timeout=5)
    assert [m.text for m in alice.messages()] == [f"You said: {t}" for t in ("one", "two", "three")]


async def test_wait_idle_sees_a_quiet_longer_than_the_bots_long_poll(emulator, start_bot):
    """`moviebot chat --idle 40`: empty long polls ending and starting again are not work."""
    await start_bot(tinybot.build, poll_timeout=1)
    alice = emulator.user("Alice")
    await alice.send("hello")
    assert await emulator.wait_idle(quiet=2.5, timeout=6)  # two empty polls at least
    assert [m.text for m in alice.messages()] == ["You said: hello"]


async def test_stale_commands_carry_their_old_date(emulator, tiny):
    alice = emulator.user("Alice")
    sent = await alice.send("/start", date=time.time() - 7200)
    assert time.time() - sent.date > 7000
    assert (await alice.next_message()).button_labels[0] == "★1"


async def test_the_bot_recovers_from_a_failing_get_updates(emulator, tiny):
    alice = emulator.user("Alice")
    emulator.faults.fail_next(1, method="getUpdates", status=502)
    await alice.send("first")  # the pending long poll delivers it; the next poll fails
    assert (await alice.next_message()).text == "You said: first"
    await alice.send("still there?")
    assert (await alice.next_message(timeout=5)).text == "You said: still there?"
    assert emulator.faults.rules == []  # the failure did happen


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_rate_limited_bot_retries_after_429(emulator, start_bot):
    """PTB's AIORateLimiter waits `retry_after` and sends again: the user gets the reply."""
    builder = application_builder(emulator).rate_limiter(AIORateLimiter(max_retries=2))
    app = builder.build()
    for handler in tinybot.build(emulator.settings()).handlers[0]:
        app.add_handler(handler)
    await start_bot(app)
    emulator.faults.flood(method="sendMessage", retry_after=1)
    alice = emulator.user("Alice")
    await alice.send("hi")
    assert (await alice.next_message(timeout=5)).text == "You said: hi"
    assert [c.method for c in emulator.calls].count("sendMessage") == 2


@pytest.mark.parametrize(("allowed", "joined"), [(Update.ALL_TYPES, ["Bob"]), (None, [])])
async def test_chat_member_updates_need_allowed_updates(emulator, start_bot, allowed, joined):
    """Like Telegram, chat_member updates come only to bots that ask for them."""
    seen: list[str] = []

    async def on_member(update, context):
        seen.append(update.chat_member.new_chat_member.user.first_name)

    app = application_builder(emulator).build()
    app.add_handler(ChatMemberHandler(on_member, ChatMemberHandler.CHAT_MEMBER))
    await start_bot(app, allowed_updates=allowed)
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Night", [alice])
    await group.add(bob, by=alice)
    assert await emulator.wait_idle(quiet=0.2)
    assert seen == joined


async def test_emulator_and_bot_start_and_stop_fast_and_leave_nothing_running():
    before = asyncio.all_tasks()
    started_at = time.monotonic()
    async with Emulator() as emulator:
        app = application_builder(emulator).build()
        await start_application(app)
        assert await emulator.wait_polling(timeout=1)
        await stop_application(app)
    assert time.monotonic() - started_at < 1.0
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()
