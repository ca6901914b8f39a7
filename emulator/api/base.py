"""What every Bot API method shares: its parameters, its errors and Telegram's checks.

`ApiBase` holds the state (the World, the behaviour switches, long polling, recent sends) and
the checks several methods make: which chat or message a call names, text and captions after
entity parsing, inline keyboards, flood limits. The methods themselves live next to this
module, one subject each, and `emulator.api.BotApi` combines them.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from emulator.markup import EntityParseError, parse_html, strip_text
from emulator.world import Account, Chat, Event, Message, World

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64


class ApiError(Exception):
    """A Bot API error reply: HTTP status = error_code, Telegram's description."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass(frozen=True)
class Upload:
    """A file that arrived in a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class RateLimits:
    """Telegram's flood limits: messages per window, per private chat, per group, overall."""

    private_messages: int = 3
    private_window: float = 3.0  # about one message a second, short bursts allowed
    group_messages: int = 20
    group_window: float = 60.0
    total_messages: int = 30  # about 30 messages a second across all chats
    total_window: float = 1.0


@dataclass
class ApiConfig:
    """Behaviour switches of the emulated server."""

    callback_timeout: float = 15.0
    rate_limits: RateLimits | None = None
    privacy_mode: bool = True


@dataclass
class PollingState:
    """Who is long polling, so a second poller terminates the first (409)."""

    generation: int = 0
    active: int = 0
    delivered_upto: int = 0
    closing: bool = False
    handed_out: set[int] = field(default_factory=set)  # every update id getUpdates returned


class Params:
    """Decoded request parameters with Telegram-style complaints about bad ones."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


class ApiBase:
    """The state every method group works on, and the checks they share."""

    def __init__(self, world: World, config: ApiConfig) -> None:
        self.world = world
        self.config = config
        self.polling = PollingState()
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.sent_times: dict[int | None, deque[float]] = {}  # chat id (None: all) → times

    # -- lookups -----------------------------------------------------------------------
    def chat(self, params: Params, *, sending: bool = True) -> Chat:
        """The chat named by chat_id, refusing chats the bot cannot write to."""
        raw = params.require("chat_id")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            chat_id = None
        chat = self.world.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat.type == "private" and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if sending and chat.type != "private":
            status = chat.members.get(self.world.bot.id, "left")
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def message(self, chat: Chat, params: Params, missing: str) -> Message:
        if params.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")
        message = chat.find(params.integer("message_id") or 0)
        if message is None:
            raise bad_request(missing)
        return message

    def account(self, user_id: int | None) -> Account:
        account = self.world.accounts.get(user_id or 0)
        if account is None:
            raise bad_request("user not found")
        return account

    # -- shared checks -----------------------------------------------------------------
    def formatted(
        self, params: Params, key: str, limit: int, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """Text (or caption) after entity parsing, checked against Telegram's limits."""
        raw = params.get(key)
        if raw is None:
            if required:
                raise bad_request("message text is empty")
            return None, []
        raw = str(raw)
        mode = str(params.get("parse_mode") or "")
        entities_key = "entities" if key == "text" else "caption_entities"
        if mode.lower() == "html":
            try:
                text, entities = parse_html(raw)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode:
            raise bad_request("unsupported parse_mode")
        else:
            text, entities = raw, list(params.json(entities_key) or [])
        text, entities = strip_text(text, entities)
        if not text and required:
            raise bad_request("message text is empty")
        if len(text) > limit:
            raise bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text, entities

    def markup(self, params: Params) -> dict[str, Any] | None:
        """reply_markup, with inline buttons validated as Telegram does."""
        markup = params.json("reply_markup")
        if not markup:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise bad_request("BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
                kinds = set(button) - {"text"}
                if not kinds:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
        return markup

    def check_rate(self, chat: Chat) -> None:
        """429 when the bot writes to one chat, or to all, faster than Telegram allows."""
        limits = self.config.rate_limits
        if limits is None:
            return
        if chat.type == "private":
            count, window = limits.private_messages, limits.private_window
        else:
            count, window = limits.group_messages, limits.group_window
        now = self.world.clock.now()
        in_chat = self._window(chat.id, window, now)
        overall = self._window(None, limits.total_window, now)
        for sent, limit, span in (
            (in_chat, count, window),
            (overall, limits.total_messages, limits.total_window),
        ):
            if len(sent) >= limit:
                retry = max(1, math.ceil(sent[0] + span - now))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        in_chat.append(now)
        overall.append(now)

    def _window(self, key: int | None, window: float, now: float) -> deque[float]:
        """Send times still inside `window` seconds, for one chat (or all: key None)."""
        sent = self.sent_times.setdefault(key, deque())
        while sent and sent[0] <= now - window:
            sent.popleft()
        return sent

    def reply_to(self, chat: Chat, params: Params) -> Message | None:
        reply = params.json("reply_parameters") or {}
        message_id = reply.get("message_id") or params.integer("reply_to_message_id")
        if not message_id:
            return None
        target = chat.find(int(message_id))
        if target is None and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target

    def bot_sends(self, chat: Chat, params: Params, **fields: Any) -> dict[str, Any]:
        """Store a new bot message, tell readers, return its JSON."""
        reply_to = self.reply_to(chat, params)
        self.check_rate(chat)
        message = self.world.add_message(
            chat, self.world.bot, reply_to=reply_to, **fields, **self.as_sent(params)
        )
        self.world.record(Event("message", chat, message))
        return message.to_dict()

    def as_sent(self, params: Params) -> dict[str, Any]:
        """The text/caption and parse mode as the bot passed them, for tests that check markup."""
        raw = params.get("text", params.get("caption"))
        return {"raw": None if raw is None else str(raw), "parse_mode": params.get("parse_mode")}
