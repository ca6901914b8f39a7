"""The emulator's Bot API: shapes, Telegram's errors, long polling, flood limits, faults.

The real python-telegram-bot `Bot` is the client where that is natural (it is what the
bot uses); raw HTTP checks the exact JSON where the shape itself is the point.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time

import aiohttp
import pytest
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter

from emulator import DriverError, Emulator, RateLimits

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@pytest.fixture
async def bot(emulator):
    """The python-telegram-bot client pointed at the emulator."""
    async with Bot(
        emulator.token, base_url=emulator.base_url, base_file_url=emulator.base_file_url
    ) as client:
        yield client


async def call(emulator, method, token=None, **params):
    """Raw Bot API call with a JSON body: (HTTP status, decoded reply)."""
    url = f"http://127.0.0.1:{emulator.port}/bot{token or emulator.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=params) as response:
        return response.status, await response.json()


async def started(user, emulator):
    """The user writes /start so the private chat exists; the update is consumed."""
    await user.send("/start")
    emulator.api.acknowledge(emulator.world.updates[-1]["update_id"] + 1)
    return user.chat


def png(width=4, height=3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(buffer, "PNG")
    return buffer.getvalue()


# -- shapes and authentication ----------------------------------------------------------
async def test_get_me_has_telegrams_shape(emulator):
    status, reply = await call(emulator, "getMe")
    assert status == 200 and reply["ok"] is True
    me = reply["result"]
    assert me["is_bot"] is True and me["username"] == "moviebot_sandbox_bot"
    assert me["id"] == int(emulator.token.split(":")[0])


@pytest.mark.parametrize("token", ["123456:wrong-secret", "7000000001:nearly-right"])
async def test_a_wrong_token_is_unauthorized(emulator, token):
    status, reply = await call(emulator, "getMe", token=token)
    assert (status, reply) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


async def test_unknown_method_is_not_found(emulator):
    status, reply = await call(emulator, "sendTelepathy", chat_id=1)
    assert (status, reply["description"]) == (404, "Not Found")


async def test_method_names_are_case_insensitive_like_telegram(emulator):
    status, reply = await call(emulator, "GETME")
    assert status == 200 and reply["result"]["is_bot"]


async def test_sent_message_is_a_full_message_object(emulator):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    status, reply = await call(
        emulator,
        "sendMessage",
        chat_id=chat.id,
        text="<b>Heat</b>",
        parse_mode="HTML",
        reply_markup={"inline_keyboard": [[{"text": "★4", "callback_data": "r:4"}]]},
    )
    message = reply["result"]
    assert status == 200
    assert message["message_id"] == 2  # ids count per chat: /start was 1
    assert message["from"]["is_bot"] is True
    assert message["chat"] == {
        "id": alice.id,
        "type": "private",
        "first_name": "Alice",
        "username": "alice",
    }
    assert message["text"] == "Heat"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "r:4"
    assert abs(message["date"] - time.time()) < 5


async def test_form_encoded_parameters_work_as_ptb_sends_them(emulator):
    """PTB posts forms, with nested values JSON-encoded inside the fields."""
    chat = await started(emulator.user("Alice"), emulator)
    url = f"http://127.0.0.1:{emulator.port}/bot{emulator.token}/sendMessage"
    form = {
        "chat_id": str(chat.id),
        "text": "123",
        "reply_markup": '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}',
    }
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as response:
        reply = await response.json()
    assert reply["result"]["text"] == "123"  # a numeric-looking text stays a string
    assert emulator.world.chats[chat.id].messages[-1].button_labels == ["Go"]


# -- sending errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        ({"text": "   "}, "Bad Request: message text is empty"),
        (
            {"text": "<b>Tom & Jerry: <The Movie></b>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "the" at byte offset 16',
        ),
        (
            {"text": "<b>unclosed", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            {
                "text": "x",
                "reply_markup": {
                    "inline_keyboard": [[{"text": "long", "callback_data": "d" * 65}]]
                },
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "é", "callback_data": "é" * 33}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "plain"}]]}},
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
            "inline keyboard",
        ),
    ],
)
async def test_sending_what_telegram_refuses_is_a_bad_request(emulator, params, description):
    chat = await started(emulator.user("Alice"), emulator)
    status, reply = await call(emulator, "sendMessage", chat_id=chat.id, **params)
    assert (status, reply) == (400, {"ok": False, "error_code": 400, "description": description})
    assert chat.bot_messages() == []


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [("x" * 4096, None), ("<b>" + "x" * 4096 + "</b>", "HTML"), ("&amp;" * 4096, "HTML")],
)
async def test_the_length_limit_counts_visible_text(emulator, bot, text, parse_mode):
    chat = await started(emulator.user("Alice"), emulator)
    message = await bot.send_message(chat.id, text, parse_mode=parse_mode)
    assert len(message.text) == 4096


async def test_an_unknown_chat_is_not_found(bot):
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello")


async def test_a_user_who_never_wrote_cannot_be_messaged(emulator, bot):
    alice = emulator.user("Alice")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(alice.id, "hello")


async def test_a_user_who_blocked_the_bot_is_forbidden(emulator, bot):
    alice = emulator.user("Alice")
    await started(alice, emulator)
    await alice.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "hello")
    assert emulator.world.updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"


# -- editing and deleting ---------------------------------------------------------------
async def test_editing_to_the_same_content_is_not_modified(emulator):
    chat = await started(emulator.user("Alice"), emulator)
    markup = {"inline_keyboard": [[{"text": "★1", "callback_data": "1"}]]}
    _, sent = await call(
        emulator,
        "sendMessage",
        chat_id=chat.id,
        text="<b>Heat</b>",
        parse_mode="HTML",
        reply_markup=markup,
    )
    message_id = sent["result"]["message_id"]
    same = {"chat_id": chat.id, "message_id": message_id, "reply_markup": markup}
    status, reply = await call(
        emulator, "editMessageText", text="<b>Heat</b>", parse_mode="HTML", **same
    )
    assert (status, reply["description"]) == (400, NOT_MODIFIED)
    status, reply = await call(emulator, "editMessageReplyMarkup", **same)
    assert (status, reply["description"]) == (400, NOT_MODIFIED)
    # Same text without the keyboard is a change: Telegram removes the keyboard.
    status, reply = await call(
        emulator,
        "editMessageText",
        chat_id=chat.id,
        message_id=message_id,
        text="<b>Heat</b>",
        parse_mode="HTML",
    )
    assert status == 200 and "reply_markup" not in reply["result"]
    assert reply["result"]["edit_date"] >= reply["result"]["date"]


async def test_edits_change_the_message_users_see(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    sent = await bot.send_message(
        chat.id,
        "Rate Heat",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("★5", callback_data="5")]]),
    )
    seen = await alice.next_message()
    await bot.edit_message_text("Rated ★5", chat.id, sent.message_id)
    assert (seen.text, seen.buttons, seen.edited) == ("Rated ★5", [], True)
    await bot.edit_message_reply_markup(
        chat.id,
        sent.message_id,
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Undo", callback_data="undo")]]),
    )
    assert seen.button_labels == ["Undo"]


@pytest.mark.parametrize(
    ("method", "description"),
    [
        ("editMessageText", "Bad Request: message to edit not found"),
        ("editMessageReplyMarkup", "Bad Request: message to edit not found"),
        ("deleteMessage", "Bad Request: message to delete not found"),
    ],
)
async def test_a_missing_message_cannot_be_changed(emulator, method, description):
    chat = await started(emulator.user("Alice"), emulator)
    status, reply = await call(emulator, method, chat_id=chat.id, message_id=99, text="x")
    assert (status, reply["description"]) == (400, description)


async def test_a_users_message_cannot_be_edited_by_the_bot(emulator, bot):
    chat = await started(emulator.user("Alice"), emulator)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("hijacked", chat.id, 1)


async def test_deleted_messages_are_gone(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    sent = await bot.send_message(chat.id, "soon gone")
    assert await bot.delete_message(chat.id, sent.message_id) is True
    assert alice.messages() == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(chat.id, sent.message_id)


# -- callback queries -------------------------------------------------------------------
async def test_a_button_press_arrives_as_a_callback_query(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    await bot.send_message(
        chat.id,
        "Rate",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("★4", callback_data="rate:4")]]),
    )
    press = await alice.press(await alice.next_message(), "★4")
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert (query.data, query.from_user.id, query.message.chat.id) == ("rate:4", alice.id, chat.id)
    assert query.chat_instance and query.id == press.id
    await query.answer("Saved", show_alert=True)
    assert await press.answered() == {"text": "Saved", "show_alert": True, "url": None}


@pytest.mark.parametrize("seconds_late", [15.5, 60])
async def test_answering_a_query_too_late_fails(emulator, bot, seconds_late):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    await bot.send_message(
        chat.id,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="go")]]),
    )
    press = await alice.press(await alice.next_message(), "go")
    emulator.clock.advance(seconds_late)
    with pytest.raises(BadRequest, match=r"(?i)query is too old and response timeout expired"):
        await bot.answer_callback_query(press.id)


async def test_a_query_can_be_answered_once(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    await bot.send_message(
        chat.id,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="go")]]),
    )
    press = await alice.press(await alice.next_message(), 0)
    await bot.answer_callback_query(press.id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(press.id)


async def test_pressing_a_button_that_is_not_there_is_refused(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    await bot.send_message(
        chat.id,
        "x",
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("docs", url="https://example.org")]]
        ),
    )
    message = await alice.next_message()
    with pytest.raises(DriverError, match="no button '★9'"):
        await alice.press(message, "★9")
    with pytest.raises(DriverError, match=r"opens https://example\.org"):
        await alice.press(message, "docs")


# -- getUpdates -------------------------------------------------------------------------
async def test_long_polling_returns_as_soon_as_an_update_arrives(emulator, bot):
    alice = emulator.user("Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.2)
    started_at = time.monotonic()
    await alice.send("hello")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started_at < 1.0
    assert [u.message.text for u in updates] == ["hello"]


async def test_long_polling_waits_for_its_timeout_when_nothing_happens(bot):
    started_at = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started_at < 3


async def test_offsets_acknowledge_updates(emulator, bot):
    alice = emulator.user("Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["one", "two"]
    again = await bot.get_updates()  # not acknowledged yet: delivered again
    assert [u.message.text for u in again] == ["one", "two", "three"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["three"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == ()
    assert emulator.world.updates == []


async def test_a_negative_offset_keeps_only_the_latest_updates(emulator, bot):
    alice = emulator.user("Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["three"]


async def test_a_second_poller_terminates_the_first_with_409(emulator, bot):
    """Two bot instances polling one token: the newer request wins, the older gets 409."""
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    async with Bot(emulator.token, base_url=emulator.base_url) as other_instance:
        started_at = time.monotonic()
        second = asyncio.create_task(other_instance.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 5)
        assert time.monotonic() - started_at < 1.0
        assert await second == ()


async def test_allowed_updates_filter_chat_member_by_default_like_telegram(emulator, bot):
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Movie night", [alice])
    await group.add(bob, by=alice)
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert "chat_member" not in kinds and "my_chat_member" in kinds
    carol = emulator.user("Carol")
    await bot.get_updates(allowed_updates=["message", "chat_member"])
    await group.add(carol, by=alice)
    updates = await bot.get_updates(allowed_updates=["message", "chat_member"])
    joined = [u.chat_member.new_chat_member.user.first_name for u in updates if u.chat_member]
    assert joined == ["Carol"]


async def test_a_webhook_blocks_get_updates(emulator, bot):
    await bot.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


# -- flood limits -----------------------------------------------------------------------
async def test_writing_too_fast_to_one_chat_gets_429_with_retry_after():
    async with Emulator(rate_limits=RateLimits(private_messages=3, private_window=3.0)) as emu:
        alice = emu.user("Alice")
        chat = await started(alice, emu)
        for n in range(3):
            status, _ = await call(emu, "sendMessage", chat_id=chat.id, text=f"#{n}")
            assert status == 200
        status, reply = await call(emu, "sendMessage", chat_id=chat.id, text="one too many")
        assert status == 429
        assert (
            reply["description"]
            == f"Too Many Requests: retry after {reply['parameters']['retry_after']}"
        )
        assert 1 <= reply["parameters"]["retry_after"] <= 3
        other = await started(emu.user("Bob"), emu)
        assert (await call(emu, "sendMessage", chat_id=other.id, text="hi"))[0] == 200
        emu.clock.advance(3.1)
        assert (await call(emu, "sendMessage", chat_id=chat.id, text="later"))[0] == 200


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after
async def test_groups_allow_twenty_messages_a_minute():
    async with Emulator(rate_limits=RateLimits()) as emu:
        group = emu.group("Night", [emu.user("Alice")])
        async with Bot(emu.token, base_url=emu.base_url) as client:
            for n in range(20):
                await client.send_message(group.id, f"#{n}")
            with pytest.raises(RetryAfter):
                await client.send_message(group.id, "#21")


async def test_thirty_messages_a_second_overall():
    limits = RateLimits(private_messages=100, total_messages=30, total_window=60.0)
    async with Emulator(rate_limits=limits) as emu:
        chats = [await started(emu.user(f"User {n}"), emu) for n in range(31)]
        statuses = [
            (await call(emu, "sendMessage", chat_id=chat.id, text="news"))[0] for chat in chats
        ]
        assert statuses == [200] * 30 + [429]


# -- fault injection --------------------------------------------------------------------
async def test_failing_the_next_calls_of_one_method(emulator, bot):
    chat = await started(emulator.user("Alice"), emulator)
    emulator.faults.fail_next(2, method="sendMessage", status=502)
    await bot.get_me()  # other methods are untouched
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(chat.id, "x")
    assert (await bot.send_message(chat.id, "third time")).text == "third time"


async def test_a_dropped_connection_is_a_network_error(emulator, bot):
    emulator.faults.drop_next(1)
    with pytest.raises(NetworkError):
        await bot.get_me()
    assert (await bot.get_me()).is_bot


async def test_delayed_responses(emulator, bot):
    emulator.faults.delay(0.4, method="getMe", n=1)
    started_at = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started_at >= 0.4
    started_at = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started_at < 0.4


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after
async def test_a_method_can_be_flooded(emulator, bot):
    emulator.faults.flood(method="getMe", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.get_me()
    assert caught.value.retry_after in (7, dt.timedelta(seconds=7))
    assert (await bot.get_me()).is_bot


# -- files ------------------------------------------------------------------------------
async def test_photos_are_uploaded_and_downloadable(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    data = png(40, 30)
    sent = await bot.send_photo(chat.id, data, caption="<i>chart</i>", parse_mode="HTML")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (40, 30)
    seen = await alice.next_message()
    assert seen.photo.data == data and seen.caption == "chart" and seen.html == "<i>chart</i>"
    downloaded = await (await bot.get_file(sent.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == data
    again = await bot.send_photo(chat.id, sent.photo[-1].file_id)  # re-send by file_id
    assert again.photo[-1].file_id == sent.photo[-1].file_id


async def test_bytes_that_are_not_an_image_are_refused(emulator, bot):
    chat = await started(emulator.user("Alice"), emulator)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(chat.id, b"not a picture")


async def test_documents_keep_their_name_and_bytes(emulator, bot):
    alice = emulator.user("Alice")
    chat = await started(alice, emulator)
    sent = await bot.send_document(chat.id, b"a,b\n1,2\n", filename="ratings.csv")
    assert (sent.document.file_name, sent.document.file_size) == ("ratings.csv", 8)
    seen = await alice.next_message()
    assert (seen.document.file_name, seen.document.data) == ("ratings.csv", b"a,b\n1,2\n")


async def test_users_can_send_files_photos_and_stickers(emulator, bot):
    alice = emulator.user("Alice")
    await alice.send_document(b"userId,movieId\n", "ratings.csv", caption="my ratings")
    await alice.send_photo(png(8, 6))
    await alice.send_sticker("🎬")
    document, photo, sticker = [u.message for u in await bot.get_updates()]
    assert (document.document.file_name, document.caption) == ("ratings.csv", "my ratings")
    data = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"userId,movieId\n"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (8, 6)
    assert (sticker.sticker.emoji, sticker.text) == ("🎬", None)
    with pytest.raises(DriverError, match="not an image"):
        await alice.send_photo(b"not a picture")


# -- polls ------------------------------------------------------------------------------
async def test_votes_arrive_as_poll_answers_and_poll_counts(emulator, bot):
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Night", [alice, bob])
    await bot.get_updates(offset=-1)
    await bot.get_updates(offset=emulator.world.updates[-1]["update_id"] + 1)
    sent = await bot.send_poll(
        group.id,
        "Tonight?",
        ["Heat", "Alien", "Amélie"],
        is_anonymous=False,
        allows_multiple_answers=True,
    )
    message = await group.next_message()
    await alice.vote(message, 0, 2)
    await bob.vote(message, "Alien")
    updates = await bot.get_updates()
    answers = [
        (u.poll_answer.user.first_name, list(u.poll_answer.option_ids))
        for u in updates
        if u.poll_answer
    ]
    assert answers == [("Alice", [0, 2]), ("Bob", [1])]
    last_poll = [u.poll for u in updates if u.poll][-1]
    assert [o.voter_count for o in last_poll.options] == [1, 1, 1]
    assert last_poll.total_voter_count == 2
    stopped = await bot.stop_poll(group.id, sent.message_id)
    assert stopped.is_closed
    with pytest.raises(BadRequest, match="Poll has already been closed"):
        await bot.stop_poll(group.id, sent.message_id)
    with pytest.raises(DriverError, match="closed"):
        await alice.vote(message, 1)


async def test_a_poll_needs_two_options(emulator, bot):
    chat = await started(emulator.user("Alice"), emulator)
    with pytest.raises(BadRequest, match="Poll must have at least 2 option"):
        await bot.send_poll(chat.id, "Only one?", ["Heat"])


# -- chats, members, commands, actions ---------------------------------------------------
async def test_get_chat_member_reports_roles(emulator, bot):
    alice, bob, carol = emulator.user("Alice"), emulator.user("Bob"), emulator.user("Carol")
    group = emulator.group("Night", [alice, bob])
    group.promote(bob)
    statuses = [(await bot.get_chat_member(group.id, u.id)).status for u in (alice, bob, carol)]
    assert statuses == ["creator", "administrator", "left"]
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.first_name for a in admins} == {"Alice", "Bob"}
    chat = await bot.get_chat(group.id)
    assert (chat.title, chat.type) == ("Night", "group")


async def test_commands_are_stored_per_scope(emulator, bot):
    from telegram import BotCommand, BotCommandScopeAllGroupChats

    await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("rate", "Rate movies")])
    await bot.set_my_commands(
        [BotCommand("movienight", "Pick a movie")], scope=BotCommandScopeAllGroupChats()
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "rate"]
    groups = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    assert [c.command for c in groups] == ["movienight"]
    assert [c["command"] for c in emulator.my_commands()] == ["start", "rate"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_chat_actions_are_recorded(emulator, bot):
    chat = await started(emulator.user("Alice"), emulator)
    assert await bot.send_chat_action(chat.id, "typing") is True
    assert emulator.world.chat_actions == [(chat.id, "typing")]
    status, reply = await call(emulator, "sendChatAction", chat_id=chat.id, action="dancing")
    assert (status, reply["description"]) == (400, "Bad Request: wrong parameter action in request")


async def test_privacy_mode_hides_plain_group_messages(emulator, bot):
    alice = emulator.user("Alice")
    group = emulator.group("Night", [alice])
    await bot.get_updates(offset=-1)
    await bot.get_updates(offset=emulator.world.updates[-1]["update_id"] + 1)
    await alice.send("just chatting", group)
    await alice.send("/recommend", group)
    await alice.send("/other@someone_elses_bot", group, mention=False)
    texts = [u.message.text for u in await bot.get_updates()]
    assert texts == ["/recommend@moviebot_sandbox_bot"]


async def test_a_kicked_bot_cannot_write_to_the_group(emulator, bot):
    alice = emulator.user("Alice")
    group = emulator.group("Night", [alice])
    await group.remove_bot(by=alice)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(group.id, "still here?")


async def test_messages_can_be_backdated(emulator, bot):
    alice = emulator.user("Alice")
    await alice.send("/start", date=time.time() - 3600)
    (update,) = await bot.get_updates()
    assert time.time() - update.message.date.timestamp() > 3500


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after
async def test_a_flood_for_one_chat_leaves_the_others_alone(emulator, bot):
    alice = await started(emulator.user("Alice"), emulator)
    bob = await started(emulator.user("Bob"), emulator)
    emulator.faults.flood("sendMessage", retry_after=30, n=None, chat_id=alice.id)
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await bot.send_message(alice.id, "x")
    assert (await bot.send_message(bob.id, "fine")).text == "fine"
    emulator.faults.clear()
    assert (await bot.send_message(alice.id, "now")).text == "now"


async def test_a_blocked_chat_and_a_button_answered_too_late(emulator, bot):
    alice = await started(emulator.user("Alice"), emulator)
    emulator.faults.blocked(alice.id, n=1)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "x")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    sent = await bot.send_message(alice.id, "?", reply_markup=keyboard)
    emulator.faults.query_too_old()
    query = await emulator.user("Alice").press(alice.find(sent.message_id), "ok")
    with pytest.raises(BadRequest, match=r"[Qq]uery is too old"):
        await bot.answer_callback_query(query.id)
