"""A local Telegram Bot API over real HTTP on 127.0.0.1: the `Emulator` a bot connects to.

The bot talks to it exactly as to api.telegram.org (python-telegram-bot's `base_url`); tests
and the terminal chat play the people on the other side (`people.py`) and can make the bot's
calls fail (`faults.py`):

    async with Emulator() as emulator:
        alice = emulator.user("Alice")
        await alice.send("/start")
        reply = await alice.next_message()
        await alice.press(reply, "★4")

This module is the server: it checks the token, decodes parameters the way
python-telegram-bot encodes them, applies faults, logs every call and hands it to `BotApi`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aiohttp import web

from emulator.api import ApiConfig, ApiError, BotApi, Params, RateLimits, Upload
from emulator.delivery import WebhookDelivery
from emulator.faults import Faults, respond
from emulator.people import IdBook, People, SimGroup, SimUser
from emulator.world import Account, Chat, Clock, Message, World

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    SettingsT = TypeVar("SettingsT", bound=DataclassInstance)

# Looks like a real token (id:secret) so code that splits it works; Telegram would refuse it.
EMULATOR_TOKEN = "7000000001:EMULATOR-offline-token-not-valid-on-Telegram"
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


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made (files replaced by their size)."""

    method: str
    params: dict[str, Any]
    at: float


@dataclass(frozen=True)
class Connection:
    """What a bot needs to reach the emulator, named as in a typical settings object."""

    token: str
    api_base_url: str


class Emulator:
    """The emulated Bot API server plus the simulated people and groups.

    Group chat ids are numbered from `first_group_number` (default 1, so tests see the same
    ids every run). A person's id is derived from their name (people.IdBook); `people_file`
    keeps the names and ids between runs, for a bot whose database outlives the emulator.
    """

    def __init__(
        self,
        *,
        token: str = EMULATOR_TOKEN,
        bot_name: str = "MovieBot",
        bot_username: str = "moviebot_sandbox_bot",
        callback_timeout: float = 15.0,
        rate_limits: RateLimits | None = None,
        privacy_mode: bool = True,
        clock: Clock | None = None,
        first_group_number: int = 1,
        people_file: Path | None = None,
    ) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        bot = Account(bot_id, bot_name, username=bot_username, is_bot=True, language_code=None)
        self.world = World(bot, clock, first_group_number)
        self.api = BotApi(self.world, ApiConfig(callback_timeout, rate_limits, privacy_mode))
        self.faults = Faults()
        self.webhook = WebhookDelivery(self.world, self.api)  # POSTs updates once one is set
        self.people = People(self, IdBook(people_file))
        self.calls: list[ApiCall] = []
        self.in_flight = 0
        self.last_activity = 0.0
        # Asked by `wait_idle` too: a bot's handlers may be working without calling the API
        # (a write in a worker thread between answering a button and editing the message).
        self.busy_checks: list[Callable[[], bool]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"

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
        self.webhook.start()
        self.last_activity = time.monotonic()
        return self

    async def stop(self) -> None:
        """Release long polls and close the server."""
        self.api.polling.closing = True
        self.world.update_added.notify()
        await self.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @overload
    def settings(self) -> Connection: ...
    @overload
    def settings(self, base: SettingsT) -> SettingsT: ...
    def settings(self, base: DataclassInstance | None = None) -> Any:
        """Settings that point a bot at this emulator.

        `base` is any dataclass with `token` and `api_base_url` fields (a bot's own settings
        object): a copy of it with those two replaced comes back. Without it, a Connection.
        """
        if base is None:
            return Connection(self.token, self.base_url)
        return replace(base, token=self.token, api_base_url=self.base_url)

    # -- HTTP --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _reply(ApiError(401, "Unauthorized").payload(), 401)
        # A long poll that ends with nothing is the bot waiting, not doing: it does not count
        # as activity (else `wait_idle` could never see a quiet longer than the poll timeout).
        polling = method.lower() == "getupdates"
        fetched = False
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
            for fault in self.faults.take(method, params):
                response = await respond(fault, request)
                if response is not None:
                    return response
            handler = getattr(self.api, f"api_{method.lower()}", None)
            if handler is None:
                return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
            try:
                result = await handler(Params(params))
            except ApiError as exc:
                return _reply(exc.payload(), exc.code)
            fetched = polling and bool(result)
            return _reply({"ok": True, "result": result}, 200)
        finally:
            if not polling:
                self.in_flight -= 1
            if fetched or not polling:
                self.last_activity = time.monotonic()

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        stored = self.world.files.get(request.match_info["file_id"])
        if stored is None or stored.data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "image/jpeg")

    # -- the people (see people.py) ----------------------------------------------------
    @property
    def users(self) -> dict[str, SimUser]:
        return self.people.users

    @property
    def groups(self) -> dict[str, SimGroup]:
        return self.people.groups

    def user(
        self, name: str, *, username: str | None = None, language_code: str | None = "en"
    ) -> SimUser:
        """A simulated person (the same object again for the same name)."""
        return self.people.user(name, username=username, language_code=language_code)

    def group(
        self,
        title: str,
        members: Iterable[SimUser] = (),
        *,
        add_bot: bool = True,
        supergroup: bool = False,
    ) -> SimGroup:
        """A group created by the first member, with the others in it and the bot added."""
        return self.people.group(title, members, add_bot=add_bot, supergroup=supergroup)

    async def next_message(
        self, target: SimUser | SimGroup | Chat, timeout: float = 5.0
    ) -> Message:
        """The next bot message in the chat that this reader has not yet taken."""
        return await self.people.next_message(target, timeout)

    # -- waiting for the bot -----------------------------------------------------------
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
            if (busy is not None and busy()) or any(check() for check in self.busy_checks):
                self.last_activity = time.monotonic()
            elif self.is_idle() and time.monotonic() - self.last_activity >= quiet:
                return True
            await asyncio.sleep(min(0.02, quiet / 4 or 0.01))
        return False

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands the bot registered with setMyCommands for `scope`."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self.world.commands.get(key, [])


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
