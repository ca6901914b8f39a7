"""A terminal chat with a bot running against the emulator: type as a user, read the replies.

Inline buttons are numbered (`[1] ★1  [2] ★2`) and typing the number presses one; polls list
their options and `/vote N` votes; photos and documents are saved to a folder. `/as NAME`
becomes another simulated user, `/group NAME` moves into a group with every simulated user,
`/private` goes back, `/quit` ends. With `script=True` it reads lines from a pipe and, after
each, waits until the bot is idle before printing what it did, so a run is a transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TextIO

from emulator.people import DriverError, SimGroup, SimUser
from emulator.server import Emulator
from emulator.world import Event, Message, Poll, StoredFile

HELP = """\
You are chatting with the bot through a local Telegram emulator (no Internet, no token).
  text or /command   send it as the current user
  N                  press button [N] of the bot's last messages
  /vote N [M ...]    vote in the last poll (option numbers as shown)
  /file PATH         send a file (a .png/.jpg as a photo)
  /as NAME           become another simulated user (joins the current group)
  /group NAME        go to a group with every simulated user and the bot
  /private           back to your private chat with the bot
  /who               who you are and where
  /?                 this help
  /quit              leave"""
INDENT = "     "


class ChatClient:
    """Turns typed lines into user actions and the bot's actions into printed lines."""

    def __init__(
        self,
        emulator: Emulator,
        out: TextIO,
        files_dir: Path,
        *,
        name: str = "Alice",
        script: bool = False,
        bot_busy: Callable[[], bool] | None = None,
    ) -> None:
        self.emulator = emulator
        self.out = out
        self.files_dir = files_dir
        self.script = script
        self.bot_busy = bot_busy
        self.user: SimUser = emulator.user(name)
        self.place: SimGroup | None = None
        self.buttons: dict[int, tuple[Message, int]] = {}  # what typing a number presses
        self._numbering: dict[int, tuple[Message, int]] = {}  # buttons of the batch on screen
        self.polls: list[tuple[Message, Poll]] = []  # the bot's polls, newest last
        self.shown = 0  # events already printed

    # -- input -------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        where = f" @ {self.place.title}" if self.place else ""
        return f"{self.user.name}{where}> "

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if self.script:
            self.say(f"{self.prompt}{line}")
        command, _, rest = line.partition(" ")
        try:
            if command in ("/quit", "/exit"):
                return False
            if line.isdigit():
                await self.press(int(line))
            elif command == "/vote":
                await self.vote(rest)
            elif command == "/file" and rest.strip():
                await self.send_file(Path(rest.strip()).expanduser())
            elif command == "/as" and rest.strip():
                await self.become(rest.strip())
            elif command == "/group" and rest.strip():
                await self.enter_group(rest.strip())
            elif command == "/private":
                self.place = None
                self.say("(back in your private chat with the bot)")
            elif command == "/who":
                where = self.place.title if self.place else "a private chat with the bot"
                self.say(f"(you are {self.user.name}, in {where})")
            elif command == "/?":
                self.say(HELP)
            else:
                await self.user.send(line, self.place)
        except DriverError as exc:
            self.say(f"(can't: {exc})")
        return True

    async def press(self, number: int) -> None:
        if number not in self.buttons:
            raise DriverError(f"there is no button [{number}] on screen")
        message, index = self.buttons[number]
        current = message.button_list
        if message.deleted or index >= len(current):
            raise DriverError(f"button [{number}] is gone: the bot changed that message")
        label = current[index].text
        self.say(f"(pressed {label})")
        await self._as_owner(message).press(message, index)

    async def vote(self, rest: str) -> None:
        if not self.polls:
            raise DriverError("the bot has not sent a poll")
        numbers = [int(n) - 1 for n in re.findall(r"\d+", rest)]
        message, poll = self.polls[-1]
        await self.user.vote(message, *numbers)
        chosen = ", ".join(poll.options[n] for n in numbers) or "nothing"
        self.say(f"({self.user.name} voted for {chosen})")

    async def send_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DriverError(f"cannot read {path}: {exc.strerror}") from None
        if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            await self.user.send_photo(data, self.place)
        else:
            await self.user.send_document(data, path.name, self.place)
        self.say(f"(sent {path.name}, {len(data):,} bytes)")

    async def become(self, name: str) -> None:
        self.user = self.emulator.user(name)
        if self.place is not None:
            await self.place.add(self.user)
        self.say(f"(you are now {self.user.name})")

    async def enter_group(self, title: str) -> None:
        everyone = [self.user, *(u for u in self.emulator.users.values() if u is not self.user)]
        group = self.emulator.group(title, everyone)
        for user in everyone:
            await group.add(user, by=self.user)
        self.place = group
        names = ", ".join(a.first_name for a in group.members())
        self.say(f"(in group {title}: {names})")

    def _as_owner(self, message: Message) -> SimUser:
        """Presses in someone else's private chat are made by that chat's user."""
        chat = message.chat
        if chat.type == "private" and chat.id != self.user.id:
            return next(u for u in self.emulator.users.values() if u.id == chat.id)
        return self.user

    # -- output ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show_events(self) -> None:
        """Print everything the bot did since the last call."""
        events = self.emulator.world.events
        self._numbering = {}
        while self.shown < len(events):
            event = events[self.shown]
            self.shown += 1
            text = self.render(event)
            if text:
                self.say(text)
        if self._numbering:  # a batch without buttons leaves the previous ones pressable
            self.buttons = self._numbering

    def render(self, event: Event) -> str | None:
        who = self._speaker(event)
        if event.kind == "message" and event.message is not None:
            return f"{who}: {self.render_message(event.message)}"
        if event.kind == "edit" and event.message is not None:
            return f"{who} (edited): {self.render_message(event.message)}"
        if event.kind == "delete" and event.message is not None:
            return f"({who} deleted: {_short(event.message.visible_text)})"
        if event.kind == "callback_answer" and event.detail.get("text"):
            kind = "alert" if event.detail.get("show_alert") else "popup"
            return f"{INDENT}↳ {kind}: {event.detail['text']}"
        return None

    def _speaker(self, event: Event) -> str:
        chat = event.chat
        if chat.type != "private":
            here = self.place is not None and self.place.chat is chat
            return "bot" if here else f"bot in {chat.title}"
        if chat.id == self.user.id and self.place is None:
            return "bot"
        return f"bot to {chat.to_dict()['first_name']}"

    def render_message(self, message: Message) -> str:
        lines: list[str] = []
        if message.photo is not None:
            lines.append(f"[photo saved to {self.save(message, message.photo)}]")
        if message.document is not None:
            lines.append(f"[document saved to {self.save(message, message.document)}]")
        if message.poll is not None:
            lines.extend(self.render_poll(message, message.poll))
        if message.visible_text:
            lines.extend(message.visible_text.splitlines() or [""])
        for row in message.buttons:
            cells = []
            for button in row:
                number = len(self._numbering) + 1
                self._numbering[number] = (message, message.button_list.index(button))
                cells.append(f"[{number}] {button.text}" + (" ↗" if button.url else ""))
            lines.append("  ".join(cells))
        return f"\n{INDENT}".join(lines or ["(empty message)"])

    def render_poll(self, message: Message, poll: Poll) -> list[str]:
        if (message, poll) not in self.polls:
            self.polls.append((message, poll))
        state = "closed" if poll.is_closed else "vote with /vote N"
        counts = poll.counts()
        options = "  ".join(
            f"({i}) {text} — {count}"
            for i, (text, count) in enumerate(zip(poll.options, counts, strict=True), 1)
        )
        return [f"poll: {poll.question} ({state})", options]

    def save(self, message: Message, stored: StoredFile) -> str:
        """Write a photo/document the bot sent to the files folder; its path for display."""
        if stored.data is None:
            return f"(a link, not downloaded: {stored.url})"
        name = stored.file_name or f"photo{_image_suffix(stored.data)}"
        safe = re.sub(r"[^\w.-]+", "_", name)
        path = self.files_dir / f"{message.chat.id}-{message.id}-{safe}"
        if not path.exists():
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(stored.data)
        return str(path)

    # -- loops -------------------------------------------------------------------------
    async def run(
        self, lines: AsyncIterator[str], *, quiet: float = 0.3, timeout: float = 30.0
    ) -> None:
        """Read lines until /quit or end of input, showing the bot's actions."""
        if not self.script:
            self.say(HELP)
        printer = None if self.script else asyncio.create_task(self._print_live())
        try:
            if not self.script:
                self.out.write(self.prompt)
                self.out.flush()
            async for line in lines:
                if not await self.handle(line):
                    break
                if self.script:
                    idle = await self.emulator.wait_idle(
                        quiet=quiet, timeout=timeout, busy=self.bot_busy
                    )
                    if not idle:
                        self.say(f"(the bot was still busy after {timeout:g}s)")
                    self.show_events()
                else:
                    await asyncio.sleep(0)
                    self.out.write(self.prompt)
                    self.out.flush()
            if not self.script:  # end of input: show the answer to the last line first
                self.say("")
                await self.emulator.wait_idle(quiet=quiet, timeout=timeout, busy=self.bot_busy)
            self.show_events()
        finally:
            if printer is not None:
                printer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await printer

    async def _print_live(self) -> None:
        """In a terminal, show the bot's actions as they happen."""
        while True:
            await self.emulator.world.bot_acted.wait(3600)
            await asyncio.sleep(0.05)  # let a burst of messages arrive together
            if self.shown < len(self.emulator.world.events):
                # Replace the waiting prompt with the bot's lines, then prompt again.
                self.out.write("\r\x1b[K" if self.out.isatty() else "\n")
                self.show_events()
                self.out.write(self.prompt)
                self.out.flush()


async def read_lines(stream: TextIO) -> AsyncIterator[str]:
    """Lines from a file, pipe or terminal without blocking the event loop.

    A daemon thread does the blocking reads, so Ctrl-C never waits for one to finish.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="chat-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _image_suffix(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"GIF8"):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".jpg"
