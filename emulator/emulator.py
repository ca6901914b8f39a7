"""A local Telegram Bot API over real HTTP on 127.0.0.1, and the driver that plays the users.

The bot talks to it exactly as to api.telegram.org (python-telegram-bot's `base_url`);
tests and the terminal chat play the people on the other side:

    async with Emulator() as emulator:
        alice = emulator.user("Alice")
        await alice.send("/start")
        reply = await alice.next_message()
        await alice.press(reply, "★4")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from emulator.api import ApiConfig, ApiError, BotApi, Params, RateLimits, Upload
from emulator.markup import command_entities
from emulator.world import Account, CallbackQuery, Chat, Clock, Message, World

log = logging.getLogger(__name__)

# Looks like a real token (id:secret) so code that splits it works; Telegram would refuse it.
SANDBOX_TOKEN = "7000000001:SANDBOX-offline-token-not-valid-on-Telegram"
# Parameters whose value is a plain string even when it looks like JSON ("123", "true").
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "question",
        "explanation",
        "explanation_parse_mode",
        "question_parse_mode",
        "callback_query_id",
        "url",
        "title",
        "description",
        "short_description",
        "language_code",
        "action",
        "inline_message_id",
        "photo",
        "document",
        "file_id",
        "secret_token",
        "name",
        "business_connection_id",
        "message_effect_id",
    }
)


class DriverError(Exception):
    """A test or the chat client asked for something a person could not do."""


class NoReply(AssertionError):
    """The bot did not send the awaited message in time."""


@dataclass
class Fault:
    kind: str  # fail | drop | delay | flood
    method: str | None
    remaining: int | None  # None: until cleared
    status: int = 500
    seconds: float = 0.0

    def matches(self, method: str) -> bool:
        return self.method is None or self.method.lower() == method.lower()


@dataclass
class Faults:
    """Fault injection: make the next calls fail, hang, drop or hit a flood limit."""

    rules: list[Fault] = field(default_factory=list)

    def fail_next(self, n: int = 1, method: str | None = None, status: int = 500) -> None:
        """The next `n` calls (of `method`, or any) get an HTTP `status` error."""
        self.rules.append(Fault("fail", method, n, status=status))

    def drop_next(self, n: int = 1, method: str | None = None) -> None:
        """The next `n` calls have their connection closed without a response."""
        self.rules.append(Fault("drop", method, n))

    def delay(self, seconds: float, method: str | None = None, n: int | None = None) -> None:
        """Answer calls `seconds` late (the next `n`, or all until `clear()`)."""
        self.rules.append(Fault("delay", method, n, seconds=seconds))

    def flood(self, method: str | None = None, retry_after: int = 1, n: int | None = 1) -> None:
        """Answer 429 Too Many Requests with `retry_after` (`n` times, None = until clear)."""
        self.rules.append(Fault("flood", method, n, seconds=retry_after))

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str) -> list[Fault]:
        """The faults that apply to this call: any delays, then at most one failure."""
        hits: list[Fault] = []
        for rule in list(self.rules):
            if not rule.matches(method) or (rule.kind != "delay" and _has_failure(hits)):
                continue
            hits.append(rule)
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
        return hits


def _has_failure(faults: list[Fault]) -> bool:
    return any(f.kind != "delay" for f in faults)


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made (files replaced by their size)."""

    method: str
    params: dict[str, Any]
    at: float


class Emulator:
    """The emulated Bot API server plus the simulated people and groups.

    Group chat ids are numbered from `first_group_number` (default 1, so tests see the same
    ids every run); people's ids always start at 1001.
    """

    def __init__(
        self,
        *,
        token: str = SANDBOX_TOKEN,
        bot_name: str = "MovieBot",
        bot_username: str = "moviebot_sandbox_bot",
        callback_timeout: float = 15.0,
        rate_limits: RateLimits | None = None,
        privacy_mode: bool = True,
        clock: Clock | None = None,
        first_group_number: int = 1,
    ) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        bot = Account(bot_id, bot_name, username=bot_username, is_bot=True, language_code=None)
        self.world = World(bot, clock, first_group_number)
        self.api = BotApi(self.world, ApiConfig(callback_timeout, rate_limits, privacy_mode))
        self.faults = Faults()
        self.calls: list[ApiCall] = []
        self.in_flight = 0
        self.last_activity = 0.0
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self.users: dict[str, SimUser] = {}
        self.groups: dict[str, SimGroup] = {}

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def bot(self) -> Account:
        return self.world.bot

    @property
    def clock(self) -> Clock:
        return self.world.clock

    @property
    def config(self) -> ApiConfig:
        return self.api.config

    @property
    def base_url(self) -> str:
        """What to give python-telegram-bot as `base_url` (the token is appended to it)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Listen on `host:port` (0 = a free port)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/files/{file_id}", self._download)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.host, self.port = sock.getsockname()[:2]
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.last_activity = time.monotonic()
        return self

    async def stop(self) -> None:
        """Release long polls and close the server."""
        self.api.polling.closing = True
        self.world.update_added.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def settings(self, base: Any = None) -> Any:
        """Project Settings pointing at this emulator (token and TELEGRAM_API_BASE_URL)."""
        from bot.settings import Settings

        return replace(base or Settings(), token=self.token, api_base_url=self.base_url)

    # -- HTTP --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _reply(ApiError(401, "Unauthorized").payload(), 401)
        polling = method.lower() == "getupdates"
        if not polling:
            self.in_flight += 1
        self.last_activity = time.monotonic()
        try:
            try:
                params = await _decode(request)
            except (ValueError, UnicodeDecodeError):
                error = ApiError(400, "Bad Request: can't parse request parameters")
                return _reply(error.payload(), 400)
            self.calls.append(ApiCall(method, _loggable(params), self.clock.now()))
            for fault in self.faults.take(method):
                response = await self._apply(fault, request)
                if response is not None:
                    return response
            handler = getattr(self.api, f"api_{method.lower()}", None)
            if handler is None:
                return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
            try:
                result = await handler(Params(params))
            except ApiError as exc:
                return _reply(exc.payload(), exc.code)
            return _reply({"ok": True, "result": result}, 200)
        finally:
            if not polling:
                self.in_flight -= 1
            self.last_activity = time.monotonic()

    async def _apply(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.kind == "flood":
            retry = int(fault.seconds)
            error = ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
            return _reply(error.payload(), 429)
        description = {502: "Bad Gateway", 503: "Service Unavailable"}.get(
            fault.status, "Internal Server Error"
        )
        return _reply(ApiError(fault.status, description).payload(), fault.status)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        stored = self.world.files.get(request.match_info["file_id"])
        if stored is None or stored.data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "image/jpeg")

    # -- the people --------------------------------------------------------------------
    def user(
        self, name: str, *, username: str | None = None, language_code: str | None = "en"
    ) -> SimUser:
        """A simulated person (the same object again for the same name)."""
        if name in self.users:
            return self.users[name]
        first, _, last = name.partition(" ")
        account = Account(
            next(self.world.user_ids),
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

    def chat_of(self, target: SimUser | SimGroup | Chat) -> Chat:
        if isinstance(target, Chat):
            return target
        return target.chat

    # -- reading what the bot did ------------------------------------------------------
    async def next_message(
        self, target: SimUser | SimGroup | Chat, timeout: float = 5.0
    ) -> Message:
        """The next bot message in the chat that this reader has not yet taken."""
        chat = self.chat_of(target)
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

    async def wait_polling(self, timeout: float = 5.0) -> bool:
        """Wait until a bot is long polling (so its allowed_updates are in force)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.api.polling.active == 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def is_idle(self) -> bool:
        return self.api.pending_updates() == 0 and self.in_flight == 0

    async def wait_idle(
        self,
        quiet: float = 0.3,
        timeout: float = 10.0,
        busy: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until every update was fetched and no request has run for `quiet` seconds.

        `busy`, when given, is asked too: the bot process knows when a handler is still
        computing without calling the API (a chart, a retrain), which quiet time cannot see.
        Returns False if the bot was still busy after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if busy is not None and busy():
                self.last_activity = time.monotonic()
            elif self.is_idle() and time.monotonic() - self.last_activity >= quiet:
                return True
            await asyncio.sleep(min(0.02, quiet / 4 or 0.01))
        return False

    def my_commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """The commands the bot registered with setMyCommands for `scope`."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self.world.commands.get(key, [])

    # -- sending updates on behalf of people -------------------------------------------
    def deliver_message(self, chat: Chat, message: Message) -> None:
        """Queue a `message` update, unless the bot's privacy mode hides it in a group."""
        if chat.type != "private" and not self._bot_sees(chat, message):
            return
        self.world.push_update("message", message.to_dict())
        self.last_activity = time.monotonic()

    def _bot_sees(self, chat: Chat, message: Message) -> bool:
        bot_status = chat.members.get(self.bot.id, "left")
        if bot_status in ("left", "kicked"):
            return False
        if not self.config.privacy_mode or bot_status in ("administrator", "creator"):
            return True
        if message.service or (message.reply_to is not None and message.reply_to.from_bot):
            return True
        text = message.text or ""
        for entity in message.entities:
            if entity["type"] == "bot_command":
                command = text[entity["offset"] : entity["offset"] + entity["length"]]
                target = command.partition("@")[2]
                if not target or target.lower() == (self.bot.username or "").lower():
                    return True
        return False

    def member_update(self, chat: Chat, account: Account, by: Account, old: str, new: str) -> None:
        """`my_chat_member` (the bot) or `chat_member` (anyone else) for a status change."""
        payload = {
            "chat": chat.to_dict(),
            "from": by.to_dict(),
            "date": self.world.now(),
            "old_chat_member": self.world.member_dict(chat, account, old),
            "new_chat_member": self.world.member_dict(chat, account, new),
        }
        kind = "my_chat_member" if account.id == self.bot.id else "chat_member"
        self.world.push_update(kind, payload)


class SimUser:
    """A simulated Telegram user who talks to the bot."""

    def __init__(self, emulator: Emulator, account: Account) -> None:
        self.emulator = emulator
        self.account = account

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def name(self) -> str:
        return self.account.first_name

    @property
    def chat(self) -> Chat:
        """The private chat with the bot (it exists once the user has written to it)."""
        world = self.emulator.world
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
            text = _address_command(text, self.emulator.bot.username or "")
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
        world = self.emulator.world
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
        message = self.emulator.world.add_message(chat, self.account, **fields)
        if not (chat.type == "private" and chat.blocked):
            self.emulator.deliver_message(chat, message)
        return message

    async def press(self, message: Message, button: str | int) -> CallbackQuery:
        """Tap an inline button by label (or 0-based position): the bot gets a callback_query."""
        if message.deleted:
            raise DriverError("that message was deleted")
        choice = _find_button(message, button)
        if choice.callback_data is None:
            raise DriverError(f"button {choice.text!r} opens {choice.url}, it sends nothing")
        world = self.emulator.world
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
        world = self.emulator.world
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
        return await self.emulator.next_message(where if where is not None else self, timeout)

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
        self.emulator.member_update(chat, self.emulator.bot, self.account, old, new)


class SimGroup:
    """A simulated group chat."""

    def __init__(self, emulator: Emulator, chat: Chat) -> None:
        self.emulator = emulator
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
        world = self.emulator.world
        return [
            world.accounts[uid]
            for uid, status in self.chat.members.items()
            if status in ("creator", "administrator", "member")
        ]

    def add_bot_now(self, by: SimUser) -> None:
        """Add the bot (my_chat_member + a new_chat_members service message)."""
        self._join(self.emulator.bot, by.account)

    async def add_bot(self, by: SimUser) -> None:
        self.add_bot_now(by)

    async def remove_bot(self, by: SimUser) -> None:
        """Kick the bot: my_chat_member 'kicked'; the bot then gets 403 writing here."""
        self._leave(self.emulator.bot, by.account, "kicked")

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
        self.chat.members[self.emulator.bot.id] = "administrator"

    def _require_member(self, account: Account) -> None:
        if self.chat.members.get(account.id) in (None, "left", "kicked"):
            raise DriverError(f"{account.first_name} is not in {self.title}")

    def _join(self, account: Account, by: Account) -> None:
        old = self.chat.members.get(account.id, "left")
        if old in ("member", "administrator", "creator"):
            return
        self.chat.members[account.id] = "member"
        self.emulator.member_update(self.chat, account, by, old, "member")
        message = self.emulator.world.add_message(
            self.chat, by, service={"new_chat_members": [account.to_dict()]}
        )
        self.emulator.deliver_message(self.chat, message)

    def _leave(self, account: Account, by: Account, status: str) -> None:
        old = self.chat.members.get(account.id, "left")
        if old in ("left", "kicked"):
            return
        message = self.emulator.world.add_message(
            self.chat, by, service={"left_chat_member": account.to_dict()}
        )
        self.emulator.deliver_message(self.chat, message)
        self.chat.members[account.id] = status
        self.emulator.member_update(self.chat, account, by, old, status)

    async def next_message(self, timeout: float = 5.0) -> Message:
        return await self.emulator.next_message(self, timeout)

    def messages(self) -> list[Message]:
        return [m for m in self.chat.bot_messages() if not m.deleted]


def _address_command(text: str, username: str) -> str:
    """'/start x' → '/start@bot x' in groups (what Telegram clients send from the menu)."""
    if not text.startswith("/") or not username:
        return text
    command, space, rest = text.partition(" ")
    if "@" in command:
        return text
    return f"{command}@{username}{space}{rest}"


def _find_button(message: Message, button: str | int):
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
            raise DriverError(f"no option #{option}; the poll has {len(options)}")
        return option
    if option not in options:
        raise DriverError(f"no option {option!r}; the options are {options}")
    return options.index(option)


async def _decode(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string, a form, a multipart body or a JSON body."""
    values: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                values.update(body)
            return values
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                values[key] = Upload(value.file.read(), value.filename, value.content_type)
            else:
                values[key] = value
    return {key: _value(key, value) for key, value in values.items()}


def _value(key: str, value: Any) -> Any:
    """Form fields hold JSON for everything but strings (python-telegram-bot's encoding)."""
    if not isinstance(value, str) or key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"<{len(v.data)} bytes>" if isinstance(v, Upload) else v) for k, v in params.items()
    }


def _reply(payload: dict[str, Any], status: int) -> web.Response:
    return web.json_response(payload, status=status)
