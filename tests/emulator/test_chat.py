"""The terminal chat: numbered buttons, polls, files, switching users and groups, scripts.

`moviebot chat`, the command that runs it, is tested in tests/bot/test_chat_command.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from emulator.chat import ChatClient
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
