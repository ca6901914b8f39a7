"""The terminal chat: numbered buttons, polls, files, switching users and groups, scripts.

`moviebot chat`, the command that runs it, is tested in tests/bot/test_chat_command.py.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from emulator.chat import ChatClient, Keypad
from emulator.runner import handling_updates
from tests.emulator import tinybot


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


async def test_a_photo_sent_by_url_shows_its_url_and_its_caption_edits(emulator, tiny, tmp_path):
    text = await transcript(emulator, tmp_path, "/poster", "2")
    assert text.splitlines() == [
        "Alice> /poster",
        f"bot: [photo: {tinybot.POSTER}]",
        "     Heat (1995)",
        "     [1] ★3  [2] ★4  [3] ★5",
        "Alice> 2",
        "(pressed ★4)",
        f"bot (edited): [photo: {tinybot.POSTER}]",
        "     Heat (1995)",
        "     You rated it ★4",
    ]
    assert list(tmp_path.iterdir()) == []  # a URL is shown, never downloaded


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
    assert "(can't: the bot has not sent a poll in your private chat)" in text


async def test_a_number_typed_in_a_group_never_presses_a_private_button(emulator, tiny, tmp_path):
    """Numbers belong to the chat they were shown in; in the group, the private card's [1]
    is not there to press (it used to save a private rating "from" the group)."""
    text = await transcript(emulator, tmp_path, "/start", "/group Pals", "1", "/private", "1")
    lines = text.splitlines()
    refused = lines[lines.index("Alice @ Pals> 1") + 1]
    assert refused.startswith("(can't: there is no button [1] in Pals"), text
    assert "/private" in refused, text
    assert "Alice> 1\n(pressed ★1)\n     ↳ popup: Saved ★1\nbot (edited): You rated" in text


async def test_each_chat_keeps_its_own_numbers(emulator, tiny, tmp_path):
    """A card in the group and one in the private chat both show [1]-[6]; pressing in one
    chat, or the bot editing a message there, leaves the other's numbers alone."""
    text = await transcript(
        emulator, tmp_path, "/start", "/group Pals", "/start", "3", "/private", "5"
    )
    assert text.count("     [1] ★1  [2] ★2  [3] ★3  [4] ★4  [5] ★5") == 2, text
    assert "Alice @ Pals> 3\n(pressed ★3)\n     ↳ popup: Saved ★3\nbot (edited): You rated" in text
    assert "Alice> 5\n(pressed ★5)\n     ↳ popup: Saved ★5\nbot (edited): You rated" in text
    alice = emulator.user("Alice")
    assert alice.messages()[0].text == "You rated Heat ★5"
    assert emulator.groups["Pals"].messages()[-1].text == "You rated Heat ★3"


async def test_a_number_typed_before_the_reply_arrives_waits_for_it(emulator, tiny, tmp_path):
    """Typed ahead in a terminal: "1" right after /slow presses [1] of /slow's reply once
    it is there, not [1] of the card on screen before it."""
    out = io.StringIO()
    client = ChatClient(
        emulator, out, tmp_path, script=False, bot_busy=lambda: handling_updates(tiny)
    )

    async def typed():
        yield "/start\n"
        await emulator.wait_idle(quiet=0.15)
        await asyncio.sleep(0.1)  # the card is on screen with [1] ★1
        yield "/slow\n"
        yield "1\n"
        yield "/slow\n"
        yield "3\n"  # a guess: the reply has [1] and [2] only

    await client.run(typed(), quiet=0.15, timeout=5)
    text = out.getvalue()
    assert "bot: Ready?\n     [1] Yes  [2] No\n(pressed Yes)\n" in text, text
    assert "↳ popup: You said yes" in text, text
    assert "Saved ★1" not in text, text
    assert text.count("bot: Ready?") == 2, text
    assert (
        "(can't: nothing pressed: the bot's reply came while you typed, with buttons [1]-[2]"
        in text
    )


async def test_a_deep_link_button_opens_the_private_chat_with_start(emulator, tiny, tmp_path):
    """A t.me/<bot>?start=PARAM button does what Telegram does: the private chat with the
    bot opens and /start PARAM is sent there. Other links cannot be followed offline."""
    text = await transcript(emulator, tmp_path, "/group Pals", "/night", "2", "1", "/who")
    assert "     [1] ⭐ Rate ↗\n     [2] Trailer ↗" in text
    assert "Alice @ Pals> 2\n(can't: Trailer opens https://example.com/trailer in a browser" in text
    assert "Alice @ Pals> 1\n(⭐ Rate opens your private chat with the bot)\n" in text
    assert "Alice> /start night_42\nbot: Started from a link: night_42" in text
    assert "(you are Alice" in text and "in a private chat with the bot" in text


async def test_vote_numbers_are_the_ones_shown(emulator, tiny, tmp_path):
    text = await transcript(
        emulator, tmp_path, "/poll", "/vote 3", "/vote 0", "/vote Heat", "/group Pals", "/vote 1"
    )
    assert "Alice> /vote 3\n(can't: there is no option 3: the options are 1-2)" in text
    assert "Alice> /vote 0\n(can't: there is no option 0: the options are 1-2)" in text
    assert "Alice> /vote Heat\n(can't: vote with option numbers, e.g. /vote 2" in text
    assert "Alice @ Pals> /vote 1\n(can't: the bot has not sent a poll in Pals)" in text
    assert not [m for m in emulator.world.polls.values() if m.votes]


async def test_a_file_from_an_earlier_run_is_not_shown_as_this_ones(emulator, tiny, tmp_path):
    """Message ids start again in every run, so a saved file's name can repeat: the file the
    chat points to must be this message's."""
    client = ChatClient(emulator, io.StringIO(), tmp_path, script=True)
    (tmp_path / f"{emulator.user('Alice').id}-2-ratings.json").write_bytes(b"from last run")
    await client.handle("/export")
    await emulator.wait_idle(quiet=0.15)
    client.show_events()
    (saved,) = tmp_path.iterdir()
    assert saved.read_bytes() == b'{"Heat": 4}'


def test_a_keypad_keeps_numbers_until_their_message_changes(emulator):
    """New buttons start at [1] and take those numbers from older messages, which keep the
    rest; an edit keeps a message's numbers where they still fit."""
    chat = emulator.user("Alice").chat

    def sent(*labels: str):
        rows = [[{"text": t, "callback_data": t} for t in labels]]
        return emulator.world.add_message(
            chat, emulator.bot, reply_markup={"inline_keyboard": rows}
        )

    keypad = Keypad()
    picks = sent(*(f"p{n}" for n in range(1, 7)))
    assert keypad.number(picks, new=True) == [1, 2, 3, 4, 5, 6]
    card = sent("★1", "★2")
    assert keypad.number(card, new=True) == [1, 2]
    assert [keypad.numbers[n].button.text for n in (1, 2, 3, 6)] == ["★1", "★2", "p3", "p6"]
    card.reply_markup = {"inline_keyboard": [[{"text": "Undo", "callback_data": "u"}]]}
    assert keypad.number(card, new=False) == [1]
    assert 2 in keypad.gone and 2 not in keypad.numbers
    picks.reply_markup = {"inline_keyboard": [[{"text": t, "callback_data": t} for t in "abcde"]]}
    assert keypad.number(picks, new=False) == [3, 4, 5, 6, 7]  # where it was, as far as it fits
    assert keypad.newest() is picks


async def test_a_transcript_starts_once_the_bot_is_done_with_its_own_start(
    emulator, tiny, tmp_path
):
    """A bot busy by itself at start (`moviebot chat`: a retrain when there is no model)
    finishes first: what it says then comes before the first line and its answer."""
    alice = emulator.user("Alice")
    assert alice.chat.type == "private"  # she wrote to the bot before: her chat exists
    starting = asyncio.Event()

    async def own_start() -> None:
        starting.set()
        await asyncio.sleep(0.6)  # longer than the transcript's quiet time
        await tiny.bot.send_message(alice.id, "Your model is ready")

    work = asyncio.create_task(own_start())
    await starting.wait()
    out = io.StringIO()
    client = ChatClient(
        emulator, out, tmp_path, name="Alice", script=True, bot_busy=lambda: not work.done()
    )
    await client.run(lines_of("/start"), quiet=0.15, timeout=5)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["bot: Your model is ready", "Alice> /start"], lines
