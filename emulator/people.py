"""The simulated people on the other side of the bot: the users and groups a test drives.

    alice = emulator.user("Alice")
    await alice.send("/start")
    reply = await alice.next_message()
    await alice.press(reply, "★4")

What they do reaches the bot as Telegram would deliver it: a command carries its bot_command
entity, a group message passes the bot's privacy mode first, joining and leaving a group send
chat_member updates (delivery.py). `People` keeps everyone by name; `SimUser` and `SimGroup`
act.

A name is one account, in every run: a bot's database outlives the emulator, so ids handed
out in order of appearance would give Frank, in a later run, the id (and the ratings) Bob had
in an earlier one. `IdBook` derives each name's id from the name itself and, given a file,
remembers it there, so the rare two names whose ids collide are told apart for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from emulator.api import ApiError
from emulator.delivery import deliver_message, member_update
from emulator.markup import command_entities
from emulator.world import Account, Button, CallbackQuery, Chat, Message, World

if TYPE_CHECKING:
    from emulator.server import Emulator

ACTIVE = ("creator", "administrator", "member")  # member statuses of someone in the chat
# Simulated people's ids: within the 52 bits the Bot API promises for a user id, and far
# above any id Telegram has handed out (about 8·10⁹ so far), so a simulated user can never
# be mistaken for a real one sharing the bot's database (or its MOVIEBOT_ADMIN_IDS).
SIM_ID_FIRST = 4_000_000_000_000_000
SIM_ID_SPAN = 500_000_000_000_000  # up to 4.5·10¹⁵ < 2⁵²
ID_BOOK_FORMAT = 1


class DriverError(Exception):
    """A test or the chat client asked for something a person could not do."""


class NoReply(AssertionError):
    """The bot did not send the awaited message in time."""


def derived_id(name: str) -> int:
    """The id a name gets unless another name took it first: the same in every run."""
    digest = hashlib.sha256(name.encode()).digest()
    return SIM_ID_FIRST + int.from_bytes(digest[:8], "big") % SIM_ID_SPAN


class IdBook:
    """Which user id each simulated name has, kept in a JSON file when `path` is given.

    Without a file (tests) ids are still derived from names, so they do not depend on the
    order names appear in; the file adds only what the name cannot: which of two colliding
    names came first.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.ids: dict[str, int] = self._load() if path is not None else {}

    def id_for(self, name: str) -> int:
        if name in self.ids:
            return self.ids[name]
        taken = set(self.ids.values())
        candidate = derived_id(name)
        while candidate in taken:  # another name has it: the next free one, for good
            candidate = SIM_ID_FIRST + (candidate - SIM_ID_FIRST + 1) % SIM_ID_SPAN
        self.ids[name] = candidate
        self._save()
        return candidate

    def _load(self) -> dict[str, int]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise DriverError(f"cannot read {self.path}: {exc}") from None
        if not isinstance(data, dict):
            data = {}
        users = data.get("users")
        if data.get("format") != ID_BOOK_FORMAT or not isinstance(users, dict):
            raise DriverError(f"{self.path} is not a list of simulated users (format 1)")
        if not all(isinstance(uid, int) for uid in users.values()):
            raise DriverError(f"{self.path}: every simulated user's id must be a number")
        return dict(users)

    def _save(self) -> None:
        """Write the whole book to a temporary file, then move it into place."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        text = json.dumps({"format": ID_BOOK_FORMAT, "users": self.ids}, indent=1)
        try:
            temporary.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


class People:
    """Everyone the emulator simulates, by name, and what Telegram tells the bot they did."""

    def __init__(self, emulator: Emulator, id_book: IdBook | None = None) -> None:
        self.emulator = emulator
        self.id_book = id_book or IdBook()
        self.users: dict[str, SimUser] = {}
        self.groups: dict[str, SimGroup] = {}

    @property
    def world(self) -> World:
        return self.emulator.world

    def user(
        self, name: str, *, username: str | None = None, language_code: str | None = "en"
    ) -> SimUser:
        """A simulated person: the same object again for the same name, and the same id for
        it in every run (see IdBook)."""
        name = " ".join(name.split())
        if not name:
            raise DriverError("a simulated user needs a name")
        if name in self.users:
            return self.users[name]
        first, _, last = name.partition(" ")
        account = Account(
            self.id_book.id_for(name),
            first,
            username=username or first.lower().replace(" ", "_"),
            last_name=last or None,
            language_code=language_code,
        )
        self.world.accounts[account.id] = account
        self.users[name] = SimUser(self, account)
        return self.users[name]

    def group(
        self,
        title: str,
        members: Iterable[SimUser] = (),
        *,
        add_bot: bool = True,
        supergroup: bool = False,
    ) -> SimGroup:
        """A group created by the first member, with the others in it and the bot added."""
        if title in self.groups:
            return self.groups[title]
        members = list(members)
        if not members:
            raise DriverError("a group needs at least one member (its creator)")
        number = next(self.world.group_ids)
        chat_id = -(1_000_000_000_000 + number) if supergroup else -(4_000_000 + number)
        chat = Chat(chat_id, "supergroup" if supergroup else "group", title=title)
        self.world.chats[chat.id] = chat
        chat.members[members[0].id] = "creator"
        for user in members[1:]:
            chat.members[user.id] = "member"
        group = SimGroup(self, chat)
        self.groups[title] = group
        if add_bot:
            group.add_bot_now(by=members[0])
        return group

    # -- reading what the bot did ------------------------------------------------------
    async def next_message(
        self, target: SimUser | SimGroup | Chat, timeout: float = 5.0
    ) -> Message:
        """The next bot message in the chat that this reader has not yet taken."""
        chat = target if isinstance(target, Chat) else target.chat
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            sent = chat.bot_messages()
            if chat.read_cursor < len(sent):
                chat.read_cursor += 1
                return sent[chat.read_cursor - 1]
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise NoReply(
                    f"the bot sent nothing new to {chat.title or chat.to_dict().get('first_name')}"
                    f" within {timeout:g}s (it has sent {len(sent)} message(s) there)"
                )
            await self.world.bot_acted.wait(remaining)

    def deliver_message(self, chat: Chat, message: Message) -> None:
        """Hand the bot a person's message as Telegram would (see delivery.py)."""
        privacy_mode = self.emulator.config.privacy_mode
        if deliver_message(self.world, chat, message, privacy_mode=privacy_mode):
            self.emulator.last_activity = time.monotonic()


class SimUser:
    """A simulated Telegram user who talks to the bot."""

    def __init__(self, people: People, account: Account) -> None:
        self.people = people
        self.account = account

    @property
    def emulator(self) -> Emulator:
        return self.people.emulator

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def name(self) -> str:
        return self.account.first_name

    @property
    def chat(self) -> Chat:
        """The private chat with the bot (it exists once the user has written to it)."""
        world = self.people.world
        if self.id not in world.chats:
            world.chats[self.id] = Chat(self.id, "private", user=self.account)
        return world.chats[self.id]

    def __repr__(self) -> str:
        return f"<SimUser {self.name} id={self.id}>"

    async def send(
        self,
        text: str,
        to: SimGroup | None = None,
        *,
        date: float | None = None,
        reply_to: Message | None = None,
        mention: bool | None = None,
    ) -> Message:
        """Write `text` in the private chat (or in group `to`), as Telegram delivers it.

        A leading `/command` gets its bot_command entity; in a group it is addressed as
        `/command@botname` (what tapping a command in the menu sends) unless mention=False.
        `date` backdates the message (a Unix time) for stale-message tests.
        """
        chat = self._where(to)
        if chat.type != "private" and (mention if mention is not None else True):
            text = _address_command(text, self.people.world.bot.username or "")
        return self._post(
            chat, text=text, entities=command_entities(text), date=date, reply_to=reply_to
        )

    async def send_document(
        self,
        data: bytes,
        filename: str,
        to: SimGroup | None = None,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
    ) -> Message:
        """Send a file; the bot can getFile and download it."""
        stored = self.emulator.api.new_file(data, filename, mime_type, photo=False)
        return self._post(self._where(to), document=stored, caption=caption)

    async def send_photo(
        self, data: bytes, to: SimGroup | None = None, *, caption: str | None = None
    ) -> Message:
        """Send a picture (it must be a real image, as Telegram checks)."""
        try:
            stored = self.emulator.api.new_file(data, None, None, photo=True)
        except ApiError as exc:
            raise DriverError(f"not an image Telegram would accept: {exc.description}") from None
        return self._post(self._where(to), photo=stored, caption=caption)

    async def send_sticker(self, emoji: str = "👍", to: SimGroup | None = None) -> Message:
        """Send a sticker (no text): what a bot that only reads text must cope with."""
        world = self.people.world
        sticker = {
            "file_id": world.new_id("CAAC"),
            "file_unique_id": world.new_id(),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._post(self._where(to), extra={"sticker": sticker})

    def _where(self, to: SimGroup | None) -> Chat:
        chat = to.chat if to is not None else self.chat
        if chat.type != "private" and chat.members.get(self.id) in (None, "left", "kicked"):
            raise DriverError(f"{self.name} is not a member of {chat.title}")
        return chat

    def _post(self, chat: Chat, **fields: Any) -> Message:
        """Store the user's message and deliver it (unless the bot is blocked or not told)."""
        message = self.people.world.add_message(chat, self.account, **fields)
        if not (chat.type == "private" and chat.blocked):
            self.people.deliver_message(chat, message)
        return message

    async def press(self, message: Message, button: str | int) -> CallbackQuery:
        """Tap an inline button by label (or 0-based position): the bot gets a callback_query."""
        if message.deleted:
            raise DriverError("that message was deleted")
        choice = _find_button(message, button)
        if choice.callback_data is None:
            raise DriverError(f"button {choice.text!r} opens {choice.url}, it sends nothing")
        world = self.people.world
        query = CallbackQuery(
            id=str(int.from_bytes(hashlib.sha1(world.new_id().encode()).digest()[:7], "big")),
            user=self.account,
            message=message,
            data=choice.callback_data,
            created=world.clock.now(),
            answer=asyncio.get_running_loop().create_future(),
        )
        world.queries[query.id] = query
        instance = hashlib.sha1(f"{message.chat.id}:{world.bot.id}".encode()).hexdigest()[:16]
        world.push_update(
            "callback_query",
            {
                "id": query.id,
                "from": self.account.to_dict(),
                "message": message.to_dict(),
                "chat_instance": str(int(instance, 16)),
                "data": query.data,
            },
        )
        return query

    async def open_link(self, url: str) -> Message:
        """Follow a link to the bot, as a Telegram app does: `https://t.me/<bot>?start=PARAM`
        (or `tg://resolve?domain=<bot>&start=PARAM`) opens the private chat with the bot and
        sends `/start PARAM` there. Any other link would leave Telegram: DriverError."""
        param = start_parameter(url, self.people.world.bot.username or "")
        if param is None:
            raise DriverError(f"{url} opens in a browser, not in a chat with the bot")
        return await self.send(f"/start {param}".strip())

    async def vote(self, message: Message, *options: int | str) -> None:
        """Vote in the bot's poll (0-based option indexes or option texts; none = retract)."""
        poll = message.poll
        if poll is None:
            raise DriverError("that message has no poll")
        if poll.is_closed:
            raise DriverError("the poll is closed")
        chosen = sorted({_option_index(poll.options, o) for o in options})
        if len(chosen) > 1 and not poll.allows_multiple_answers:
            raise DriverError("this poll allows only one answer")
        poll.votes[self.id] = chosen
        world = self.people.world
        if not poll.is_anonymous:
            world.push_update(
                "poll_answer",
                {
                    "poll_id": poll.id,
                    "user": self.account.to_dict(),
                    "option_ids": chosen,
                    "option_persistent_ids": [f"{poll.id}-{i}" for i in chosen],
                },
            )
        world.push_update("poll", poll.to_dict())

    async def next_message(self, where: SimGroup | None = None, timeout: float = 5.0) -> Message:
        """The bot's next message in the private chat (or in group `where`)."""
        return await self.people.next_message(where if where is not None else self, timeout)

    def messages(self) -> list[Message]:
        """Everything the bot has sent in the private chat (edits applied)."""
        return [m for m in self.chat.bot_messages() if not m.deleted]

    async def block(self) -> None:
        """Block the bot: it gets my_chat_member 'kicked' and 403 when writing."""
        await self._set_blocked(True)

    async def unblock(self) -> None:
        await self._set_blocked(False)

    async def _set_blocked(self, blocked: bool) -> None:
        chat = self.chat
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        member_update(self.people.world, chat, self.people.world.bot, self.account, old, new)


class SimGroup:
    """A simulated group chat."""

    def __init__(self, people: People, chat: Chat) -> None:
        self.people = people
        self.chat = chat

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def title(self) -> str:
        return self.chat.title or ""

    def __repr__(self) -> str:
        return f"<SimGroup {self.title!r} id={self.id}>"

    def members(self) -> list[Account]:
        world = self.people.world
        return [
            world.accounts[uid] for uid, status in self.chat.members.items() if status in ACTIVE
        ]

    def add_bot_now(self, by: SimUser) -> None:
        """Add the bot (my_chat_member + a new_chat_members service message)."""
        self._join(self.people.world.bot, by.account)

    async def add_bot(self, by: SimUser) -> None:
        self.add_bot_now(by)

    async def remove_bot(self, by: SimUser) -> None:
        """Kick the bot: my_chat_member 'kicked'; the bot then gets 403 writing here."""
        self._leave(self.people.world.bot, by.account, "kicked")

    async def add(self, user: SimUser, by: SimUser | None = None) -> None:
        """Add a member (chat_member update and a new_chat_members service message)."""
        self._join(user.account, (by or user).account)

    async def remove(self, user: SimUser, by: SimUser | None = None) -> None:
        """A member leaves (or is removed by `by`)."""
        self._leave(user.account, (by or user).account, "left")

    def promote(self, user: SimUser) -> None:
        """Make `user` a group administrator (as getChatMember will report)."""
        self._require_member(user.account)
        if self.chat.members[user.id] != "creator":
            self.chat.members[user.id] = "administrator"

    def promote_bot(self) -> None:
        """Make the bot an administrator (it then sees every message despite privacy mode)."""
        self.chat.members[self.people.world.bot.id] = "administrator"

    def _require_member(self, account: Account) -> None:
        if self.chat.members.get(account.id) in (None, "left", "kicked"):
            raise DriverError(f"{account.first_name} is not in {self.title}")

    def _join(self, account: Account, by: Account) -> None:
        old = self.chat.members.get(account.id, "left")
        if old in ACTIVE:
            return
        self.chat.members[account.id] = "member"
        member_update(self.people.world, self.chat, account, by, old, "member")
        message = self.people.world.add_message(
            self.chat, by, service={"new_chat_members": [account.to_dict()]}
        )
        self.people.deliver_message(self.chat, message)

    def _leave(self, account: Account, by: Account, status: str) -> None:
        old = self.chat.members.get(account.id, "left")
        if old in ("left", "kicked"):
            return
        message = self.people.world.add_message(
            self.chat, by, service={"left_chat_member": account.to_dict()}
        )
        self.people.deliver_message(self.chat, message)
        self.chat.members[account.id] = status
        member_update(self.people.world, self.chat, account, by, old, status)

    async def next_message(self, timeout: float = 5.0) -> Message:
        return await self.people.next_message(self, timeout)

    def messages(self) -> list[Message]:
        return [m for m in self.chat.bot_messages() if not m.deleted]


def start_parameter(url: str, bot_username: str) -> str | None:
    """The start parameter of a link that opens the bot's private chat ('' for a plain link
    to the bot), or None for a link elsewhere (a web page, another bot, ?startgroup=)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme in ("http", "https") and parts.netloc.lower() in ("t.me", "telegram.me"):
        username = parts.path.strip("/")
    elif parts.scheme == "tg" and parts.netloc == "resolve":
        username = (query.get("domain") or [""])[0]
    else:
        return None
    if not bot_username or username.lower() != bot_username.lower():
        return None
    if set(query) - {"start", "domain"}:
        return None  # ?startgroup=, ?startapp=, …: not a message in the private chat
    return (query.get("start") or [""])[0]


def _address_command(text: str, username: str) -> str:
    """'/start x' → '/start@bot x' in groups (what Telegram clients send from the menu)."""
    if not text.startswith("/") or not username:
        return text
    command, space, rest = text.partition(" ")
    if "@" in command:
        return text
    return f"{command}@{username}{space}{rest}"


def _find_button(message: Message, button: str | int) -> Button:
    buttons = message.button_list
    if not buttons:
        raise DriverError("that message has no inline buttons")
    if isinstance(button, int):
        if not 0 <= button < len(buttons):
            raise DriverError(f"no button #{button}; the message has {len(buttons)}")
        return buttons[button]
    for candidate in buttons:
        if candidate.text == button:
            return candidate
    raise DriverError(f"no button {button!r}; the buttons are {message.button_labels}")


def _option_index(options: list[str], option: int | str) -> int:
    if isinstance(option, int):
        if not 0 <= option < len(options):
            raise DriverError(
                f"no option index {option}: the poll has {len(options)} options, "
                f"indexes 0-{len(options) - 1}"
            )
        return option
    if option not in options:
        raise DriverError(f"no option {option!r}; the options are {options}")
    return options.index(option)
