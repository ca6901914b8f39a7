"""A terminal chat with a bot running against the emulator: type as a user, read the replies.

Inline buttons are numbered (`[1] ★1  [2] ★2`) and typing the number presses one; polls list
their options and `/vote N` votes; photos and documents are saved to a folder. `/as NAME`
becomes another simulated user, `/group NAME` moves into a group with every simulated user,
`/private` goes back, `/quit` ends. With `script=True` it reads lines from a pipe and, after
each, waits until the bot is idle before printing what it did, so a run is a transcript.

Numbers belong to the chat they were shown in (`Keypad`): a number typed in a group presses
a button of that group, never one of a private chat, and a message keeps its numbers until
the bot changes it. A number typed while the bot is still answering waits for the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from emulator.people import DriverError, SimGroup, SimUser, start_parameter
from emulator.server import Emulator
from emulator.world import Button, Chat, Event, Message, Poll, StoredFile

HELP = """\
You are chatting with the bot through a local Telegram emulator (no Internet, no token).
  text or /command   send it as the current user
  N                  press button [N] of this chat (each chat numbers its own buttons)
  /vote N [M ...]    vote in this chat's last poll (/vote alone takes the vote back)
  /file PATH         send a file (a .png/.jpg as a photo)
  /as NAME           become another simulated user (joins the current group)
  /group NAME        go to a group with every simulated user and the bot
  /private           back to your private chat with the bot
  /who               who you are, where, and every simulated user's id
  /?                 this help
  /quit              leave
Each name is one Telegram account with a fixed id, the same in every run."""
INDENT = "     "


@dataclass(frozen=True)
class Numbered:
    """What a number on screen presses: button `index` of `message`, shown as `button`."""

    message: Message
    index: int
    button: Button


class Keypad:
    """The button numbers of one chat: what the number typed there presses.

    A new message's buttons are numbered from [1], as the newest thing on screen; older
    messages give up the numbers it takes and keep the others. A message the bot edits keeps
    its numbers when its buttons still fit there, else takes the lowest free ones. So a number
    always presses the button last shown with it in this chat, and nothing else moves it.
    """

    def __init__(self) -> None:
        self.numbers: dict[int, Numbered] = {}
        self.held: dict[Message, list[int]] = {}  # oldest first
        self.gone: set[int] = set()  # freed because the bot changed their message

    def number(self, message: Message, *, new: bool) -> list[int]:
        """Numbers for the message's buttons as it is now, in button order."""
        previous = self.release(message)
        buttons = message.button_list
        if not buttons:
            return []
        if new:
            start = 1
            for older, held in list(self.held.items()):
                for number in [n for n in held if n <= len(buttons)]:
                    held.remove(number)
                    del self.numbers[number]
                if not held:
                    del self.held[older]
        else:
            start = previous[0] if previous and self._free(previous[0], len(buttons)) else 1
            while not self._free(start, len(buttons)):
                start += 1
        numbers = list(range(start, start + len(buttons)))
        for number, (index, button) in zip(numbers, enumerate(buttons), strict=True):
            self.numbers[number] = Numbered(message, index, button)
            self.gone.discard(number)
        self.held[message] = numbers
        return numbers

    def release(self, message: Message) -> list[int]:
        """Free the numbers of a message the bot changed (or deleted); the ones it had."""
        numbers = self.held.pop(message, [])
        for number in numbers:
            del self.numbers[number]
        self.gone.update(numbers)
        return numbers

    def newest(self) -> Message | None:
        return next(reversed(self.held), None)

    def _free(self, start: int, count: int) -> bool:
        return all(n not in self.numbers for n in range(start, start + count))


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
        reply_wait: float = 10.0,
        admins: Collection[int] = (),
        notes: str = "",
    ) -> None:
        """`bot_busy` tells when the bot is computing without calling the API (see
        runner.handling_updates); `reply_wait` bounds how long a typed number waits for a
        reply that is still due; `admins` are the ids the bot treats as its admins, and
        `notes` what the help adds about this bot (how to become one, where its log is)."""
        self.emulator = emulator
        self.out = out
        self.files_dir = files_dir
        self.script = script
        self.bot_busy = bot_busy
        self.reply_wait = reply_wait
        self.admins = frozenset(admins)
        self.help = f"{HELP}\n{notes.rstrip()}" if notes.strip() else HELP
        self.user: SimUser = emulator.user(known_name(emulator, name))
        self.place: SimGroup | None = None
        self.keypads: dict[int, Keypad] = {}  # chat id → what typing a number presses there
        self.polls: list[tuple[Message, Poll]] = []  # the bot's polls, newest last
        self.shown = 0  # events already printed
        self._at_prompt = False  # a prompt is waiting on the terminal's last line
        self._handling = False  # a typed line is being acted on: no prompt until it is done

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
                self.say(self.who())
            elif command == "/?":
                self.say(self.help)
            else:
                await self.user.send(line, self.place)
        except DriverError as exc:
            self.say(f"(can't: {exc})")
        return True

    @property
    def chat(self) -> Chat:
        """The chat the client is in: the current group, or the user's private chat."""
        return self.place.chat if self.place is not None else self.user.chat

    @property
    def here(self) -> str:
        return self.place.title if self.place is not None else "your private chat"

    async def press(self, number: int) -> None:
        """Press button [number] of this chat, once the bot has answered what came before."""
        if not self.script and self.reply_due():
            await self._wait_for_reply(number)
        keypad = self.keypads.get(self.chat.id) or Keypad()
        pressed = keypad.numbers.get(number)
        if pressed is None:
            raise DriverError(self._not_here(number, keypad))
        message, index, shown = pressed.message, pressed.index, pressed.button
        current = message.button_list
        if message.deleted or index >= len(current) or current[index] != shown:
            raise DriverError(f"button [{number}] is gone: the bot changed that message")
        if shown.url is not None:
            await self.follow(shown)
            return
        on = "" if keypad.newest() is message else f" on “{_short(message.visible_text)}”"
        self.say(f"(pressed {shown.text}{on})")
        await self.user.press(message, index)

    async def _wait_for_reply(self, number: int) -> None:
        """Typed ahead: show the reply first. If it brought buttons in this chat and [number]
        is not one of them, the number was a guess at them, so nothing is pressed."""
        before = dict(self.keypads[self.chat.id].numbers) if self.chat.id in self.keypads else {}
        await self.emulator.wait_idle(quiet=0.1, timeout=self.reply_wait, busy=self.bot_busy)
        self.show_events()  # the reply, and the numbers it brought
        if self.reply_due():
            raise DriverError(
                f"nothing pressed: the bot is still answering after {self.reply_wait:g}s; "
                f"type {number} again when its reply is here"
            )
        now = self.keypads[self.chat.id].numbers if self.chat.id in self.keypads else {}
        new = sorted(n for n, pressed in now.items() if before.get(n) != pressed)
        if new and number not in new:
            raise DriverError(
                f"nothing pressed: the bot's reply came while you typed, with buttons "
                f"[{new[0]}]-[{new[-1]}]; type the number again"
            )

    def reply_due(self) -> bool:
        """Has the bot something still to answer: an update it has not taken in yet, a
        request being served, or (when the client can tell) a handler running?"""
        busy = self.bot_busy is not None and self.bot_busy()
        return self.emulator.api.updates_not_taken() > 0 or self.emulator.in_flight > 0 or busy

    def _not_here(self, number: int, keypad: Keypad) -> str:
        if number in keypad.gone:
            return f"button [{number}] is gone: the bot changed that message"
        for chat_id, other in reversed(self.keypads.items()):
            if chat_id != self.chat.id and number in other.numbers:
                there = other.numbers[number].message.chat
                if there.type == "private":
                    name = self._name_of(there.id)
                    if there.id == self.user.id:
                        how = "/private"
                    else:
                        how = f"/as {name}" + (", then /private" if self.place else "")
                    where = f"{name}'s private chat"
                else:
                    where, how = there.title or "a group", f"/group {there.title}"
                return (
                    f"there is no button [{number}] in {self.here}; "
                    f"[{number}] is in {where}: {how} first"
                )
        return f"there is no button [{number}] on screen"

    async def follow(self, button: Button) -> None:
        """A URL button: a link to the bot opens the private chat and sends /start there."""
        url = button.url or ""
        if start_parameter(url, self.emulator.world.bot.username or "") is None:
            raise DriverError(f"{button.text} opens {url} in a browser; the offline chat cannot")
        self.place = None
        self.say(f"({button.text} opens your private chat with the bot)")
        message = await self.user.open_link(url)
        self.say(f"{self.prompt}{message.text}")  # what Telegram's START button sends

    async def vote(self, rest: str) -> None:
        """/vote 2 (or 1 3 for several answers) in this chat's newest poll; /vote alone retracts."""
        here = [(m, p) for m, p in self.polls if m.chat is self.chat]
        if not here:
            raise DriverError(f"the bot has not sent a poll in {self.here}")
        message, poll = here[-1]
        words = [w for w in re.split(r"[\s,]+", rest) if w]
        if not all(w.isdigit() for w in words):
            raise DriverError("vote with option numbers, e.g. /vote 2 (/vote alone takes it back)")
        numbers = [int(w) for w in words]
        for number in numbers:
            if not 1 <= number <= len(poll.options):
                raise DriverError(
                    f"there is no option {number}: the options are 1-{len(poll.options)}"
                )
        await self.user.vote(message, *(n - 1 for n in numbers))
        chosen = ", ".join(poll.options[n - 1] for n in numbers)
        self.say(
            f"({self.user.name} voted for {chosen})"
            if chosen
            else f"({self.user.name} took the vote back)"
        )

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
        self.user = self.emulator.user(known_name(self.emulator, name))
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

    def who(self) -> str:
        """Who you are and where, and the id of every simulated user, this run's first."""
        where = self.place.title if self.place else "a private chat with the bot"
        ids = {name: user.id for name, user in self.emulator.users.items()}
        earlier = {n: uid for n, uid in self.emulator.people.id_book.ids.items() if n not in ids}
        lines = [f"(you are {self.user.name}, in {where})", "simulated users (name: id):"]
        for name, uid in {**ids, **earlier}.items():
            notes = ["you"] if uid == self.user.id else []
            if uid in self.admins:
                notes.append("a bot admin")
            if name in earlier:
                notes.append("from an earlier run")
            lines.append(f"{INDENT}{name}: {uid}" + (f" ({', '.join(notes)})" if notes else ""))
        return "\n".join(lines)

    def _name_of(self, user_id: int) -> str:
        return next((n for n, u in self.emulator.users.items() if u.id == user_id), str(user_id))

    # -- output ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def notice(self, text: str) -> None:
        """Print a line from outside the conversation (say, the bot's log) without breaking
        into the prompt: above it in a terminal, in order in a transcript."""
        self._clear_prompt()
        self.say(text)
        self._prompt()

    def show_events(self) -> None:
        """Print everything the bot did since the last call."""
        events = self.emulator.world.events
        while self.shown < len(events):
            event = events[self.shown]
            self.shown += 1
            text = self.render(event)
            if text:
                self.say(text)

    def render(self, event: Event) -> str | None:
        who = self._speaker(event)
        if event.kind == "message" and event.message is not None:
            return f"{who}: {self.render_message(event.message)}"
        if event.kind == "edit" and event.message is not None:
            return f"{who} (edited): {self.render_message(event.message, new=False)}"
        if event.kind == "delete" and event.message is not None:
            self.keypad(event.chat).release(event.message)
            return f"({who} deleted: {_short(event.message.visible_text)})"
        if event.kind == "callback_answer" and event.detail.get("text"):
            kind = "alert" if event.detail.get("show_alert") else "popup"
            return f"{INDENT}↳ {kind}: {event.detail['text']}"
        return None

    def keypad(self, chat: Chat) -> Keypad:
        """The button numbers of `chat` (most recently used last)."""
        keypad = self.keypads.pop(chat.id, None) or Keypad()
        self.keypads[chat.id] = keypad
        return keypad

    def _speaker(self, event: Event) -> str:
        chat = event.chat
        if chat.type != "private":
            here = self.place is not None and self.place.chat is chat
            return "bot" if here else f"bot in {chat.title}"
        if chat.id == self.user.id and self.place is None:
            return "bot"
        return f"bot to {chat.to_dict()['first_name']}"

    def render_message(self, message: Message, *, new: bool = True) -> str:
        """The message as text, its buttons numbered in its own chat's keypad."""
        lines: list[str] = []
        if message.photo is not None and message.photo.data is None:
            lines.append(f"[photo: {message.photo.url}]")  # sent by URL: shown, not fetched
        elif message.photo is not None:
            lines.append(f"[photo saved to {self.save(message, message.photo)}]")
        if message.document is not None:
            lines.append(f"[document saved to {self.save(message, message.document)}]")
        if message.poll is not None:
            lines.extend(self.render_poll(message, message.poll))
        if message.visible_text:
            lines.extend(message.visible_text.splitlines() or [""])
        numbers = iter(self.keypad(message.chat).number(message, new=new))
        for row in message.buttons:
            cells = [f"[{next(numbers)}] {b.text}" + (" ↗" if b.url else "") for b in row]
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
        # Message ids start again in every run: a file of the same name may be an old one.
        if not path.exists() or path.read_bytes() != stored.data:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(stored.data)
        return str(path)

    # -- loops -------------------------------------------------------------------------
    async def run(
        self, lines: AsyncIterator[str], *, quiet: float = 0.3, timeout: float = 30.0
    ) -> None:
        """Read lines until /quit or end of input, showing the bot's actions."""
        if not self.script:
            self.say(self.help)
        printer = None if self.script else asyncio.create_task(self._print_live())
        try:
            if self.script:  # what the bot does by itself at start (a retrain) comes first
                await self._settle(quiet, timeout)
            self._prompt()
            async for line in lines:
                self._at_prompt = False  # the user pressed Enter: the cursor is on a new line
                self._handling = True
                try:
                    if not await self.handle(line):
                        break
                finally:
                    self._handling = False
                if self.script:
                    await self._settle(quiet, timeout)
                else:
                    await asyncio.sleep(0)
                    self._prompt()
            if not self.script:  # end of input: show the answer to the last line first
                self._clear_prompt()
                await self.emulator.wait_idle(quiet=quiet, timeout=timeout, busy=self.bot_busy)
            self.show_events()
        finally:
            if printer is not None:
                printer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await printer

    async def _settle(self, quiet: float, timeout: float) -> None:
        """A transcript's step: wait until the bot is done, then show what it did."""
        if not await self.emulator.wait_idle(quiet=quiet, timeout=timeout, busy=self.bot_busy):
            self.say(f"(the bot was still busy after {timeout:g}s)")
        self.show_events()

    def _prompt(self) -> None:
        """In a terminal, wait for the next line behind a prompt (a transcript echoes lines)."""
        if not self.script and not self._at_prompt and not self._handling:
            self.out.write(self.prompt)
            self.out.flush()
            self._at_prompt = True

    def _clear_prompt(self) -> None:
        """Take the waiting prompt off the last line, so other lines can be printed there."""
        if self._at_prompt:
            self.out.write("\r\x1b[K" if self.out.isatty() else "\n")
            self._at_prompt = False

    async def _print_live(self) -> None:
        """In a terminal, show the bot's actions as they happen."""
        while True:
            await self.emulator.world.bot_acted.wait(3600)
            await asyncio.sleep(0.05)  # let a burst of messages arrive together
            if self.shown < len(self.emulator.world.events):
                # Replace the waiting prompt with the bot's lines, then prompt again.
                self._clear_prompt()
                self.show_events()
                self._prompt()


def known_name(emulator: Emulator, name: str) -> str:
    """`/as bob` is Bob, if there is a Bob (in this run or an earlier one)."""
    known = {n.casefold(): n for n in [*emulator.people.id_book.ids, *emulator.users]}
    return known.get(" ".join(name.split()).casefold(), name)


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
