"""The Bot API methods the emulator implements, with Telegram's shapes and error wording.

Each `api_<lowercased method>` takes the decoded parameters and returns the `result` value,
or raises `ApiError`, which the server turns into `{"ok": false, "error_code", "description"}`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from emulator.markup import EntityParseError, parse_html, strip_text
from emulator.world import Account, Chat, Event, Message, Poll, StoredFile, World

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
KNOWN_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


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
    sent_times: dict[int | None, deque[float]] = field(default_factory=dict)


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


class BotApi:
    """The methods, over one World."""

    def __init__(self, world: World, config: ApiConfig) -> None:
        self.world = world
        self.config = config
        self.polling = PollingState()
        self.webhook_url = ""

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
        sent = self.polling.sent_times.setdefault(key, deque())
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

    # -- identity, setup ---------------------------------------------------------------
    async def api_getme(self, params: Params) -> dict[str, Any]:
        return {
            **self.world.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.config.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_deletewebhook(self, params: Params) -> bool:
        self.webhook_url = ""
        if params.flag("drop_pending_updates"):
            self.world.updates.clear()
        return True

    async def api_setwebhook(self, params: Params) -> bool:
        self.webhook_url = str(params.require("url"))
        return True

    async def api_getwebhookinfo(self, params: Params) -> dict[str, Any]:
        pending = len(self.world.updates)
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }

    async def api_close(self, params: Params) -> bool:
        return True

    api_logout = api_close

    def _scope_key(self, params: Params) -> tuple[str, str]:
        scope = params.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def api_setmycommands(self, params: Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            name = str(command.get("command", ""))
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.world.commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def api_getmycommands(self, params: Params) -> list[dict[str, Any]]:
        return self.world.commands.get(self._scope_key(params), [])

    async def api_deletemycommands(self, params: Params) -> bool:
        self.world.commands.pop(self._scope_key(params), None)
        return True

    async def api_setmydescription(self, params: Params) -> bool:
        return True

    api_setmyshortdescription = api_setchatmenubutton = api_setmyname = api_setmydescription

    # -- updates -----------------------------------------------------------------------
    async def api_getupdates(self, params: Params) -> list[dict[str, Any]]:
        """Long polling: return at once when updates are queued, else wait up to `timeout`."""
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        polling = self.polling
        polling.generation += 1
        mine = polling.generation
        self.world.update_added.notify()  # an older poller wakes up and sees it lost
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self.world.allowed_updates = (
                frozenset(a for a in allowed if a in KNOWN_UPDATE_TYPES) if allowed else None
            )
        self.acknowledge(params.integer("offset"))
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        polling.active += 1
        try:
            while True:
                if polling.generation != mine:
                    raise ApiError(409, POLL_CONFLICT)
                batch = [u for u in self.world.updates if self.world.allows(_kind(u))][:limit]
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or polling.closing:
                    break
                await self.world.update_added.wait(remaining)
        finally:
            polling.active -= 1
        if batch:
            polling.delivered_upto = max(polling.delivered_upto, batch[-1]["update_id"])
        return batch

    def acknowledge(self, offset: int | None) -> None:
        """Forget updates before `offset`; a negative offset keeps only the last -offset."""
        updates = self.world.updates
        if offset is None:
            return
        if offset < 0:
            del updates[: max(len(updates) + offset, 0)]
        else:
            updates[:] = [u for u in updates if u["update_id"] >= offset]

    def pending_updates(self) -> int:
        """Updates queued that no getUpdates call has handed out yet."""
        return sum(
            1
            for u in self.world.updates
            if u["update_id"] > self.polling.delivered_upto and self.world.allows(_kind(u))
        )

    # -- messages ----------------------------------------------------------------------
    async def api_sendmessage(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        text, entities = self.formatted(params, "text", TEXT_LIMIT, required=True)
        markup = self.markup(params)
        return self.bot_sends(chat, params, text=text, entities=entities, reply_markup=markup)

    async def api_editmessagetext(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self.formatted(params, "text", TEXT_LIMIT, required=True)
        markup = self.markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        return self.edited(message, params)

    async def api_editmessagecaption(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self.formatted(params, "caption", CAPTION_LIMIT, required=False)
        markup = self.markup(params)
        old = (message.caption, message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == old:
            raise ApiError(400, NOT_MODIFIED)
        message.caption, message.caption_entities, message.reply_markup = caption, entities, markup
        return self.edited(message, params)

    async def api_editmessagereplymarkup(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        markup = self.markup(params)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        return self.edited(message)

    def as_sent(self, params: Params) -> dict[str, Any]:
        """The text/caption and parse mode as the bot passed them, for tests that check markup."""
        raw = params.get("text", params.get("caption"))
        return {"raw": None if raw is None else str(raw), "parse_mode": params.get("parse_mode")}

    def edited(self, message: Message, params: Params | None = None) -> dict[str, Any]:
        if params is not None:
            message.raw, message.parse_mode = self.as_sent(params).values()
        message.edit_date = self.world.now()
        self.world.record(Event("edit", message.chat, message))
        return message.to_dict()

    async def api_deletemessage(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message to delete not found")
        bot_is_admin = chat.members.get(self.world.bot.id) in ("administrator", "creator")
        if not (message.from_bot or chat.type == "private" or bot_is_admin):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.world.record(Event("delete", chat, message))
        return True

    async def api_deletemessages(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        for message_id in params.json("message_ids") or []:
            message = chat.find(int(message_id))
            if message is not None and (message.from_bot or chat.type == "private"):
                message.deleted = True
                self.world.record(Event("delete", chat, message))
        return True

    async def api_answercallbackquery(self, params: Params) -> bool:
        query = self.world.queries.get(str(params.require("callback_query_id")))
        too_late = query is not None and (
            self.world.clock.now() - query.created > self.config.callback_timeout
        )
        if query is None or query.answer.done() or too_late:
            raise bad_request(QUERY_TOO_OLD)
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = {"text": text, "show_alert": params.flag("show_alert"), "url": params.get("url")}
        query.answer.set_result(answer)
        self.world.record(Event("callback_answer", query.message.chat, query.message, answer))
        return True

    async def api_sendchataction(self, params: Params) -> bool:
        chat = self.chat(params)
        action = str(params.require("action"))
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_actions.append((chat.id, action))
        self.world.record(Event("chat_action", chat, None, {"action": action}))
        return True

    # -- files -------------------------------------------------------------------------
    def stored_file(self, value: Any, *, photo: bool) -> StoredFile:
        """A file from an upload, an earlier file_id, or a URL (kept, not fetched)."""
        if isinstance(value, Upload):
            return self.new_file(value.data, value.filename, value.content_type, photo=photo)
        if isinstance(value, str) and value in self.world.files:
            return self.world.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            stored = StoredFile(self.world.new_id("URL"), self.world.new_id(), None, url=value)
            self.world.files[stored.file_id] = stored
            return stored
        raise bad_request("wrong file identifier/HTTP URL specified")

    def new_file(
        self, data: bytes, name: str | None, mime: str | None, *, photo: bool
    ) -> StoredFile:
        if not data:
            raise bad_request("file must be non-empty")
        width = height = 0
        if photo:
            width, height = image_size(data)
        stored = StoredFile(
            file_id=self.world.new_id("AgAD" if photo else "BQAD"),
            file_unique_id=self.world.new_id(),
            data=data,
            file_name=None if photo else name,
            mime_type=None if photo else (mime or "application/octet-stream"),
            width=width,
            height=height,
        )
        self.world.files[stored.file_id] = stored
        return stored

    async def api_sendphoto(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        stored = self.stored_file(params.require("photo"), photo=True)
        caption, entities = self.formatted(params, "caption", CAPTION_LIMIT, required=False)
        return self.bot_sends(
            chat,
            params,
            photo=stored,
            caption=caption,
            caption_entities=entities,
            reply_markup=self.markup(params),
        )

    async def api_senddocument(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        stored = self.stored_file(params.require("document"), photo=False)
        caption, entities = self.formatted(params, "caption", CAPTION_LIMIT, required=False)
        return self.bot_sends(
            chat,
            params,
            document=stored,
            caption=caption,
            caption_entities=entities,
            reply_markup=self.markup(params),
        )

    async def api_getfile(self, params: Params) -> dict[str, Any]:
        stored = self.world.files.get(str(params.require("file_id")))
        if stored is None or stored.data is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": f"files/{stored.file_id}",
        }

    # -- polls -------------------------------------------------------------------------
    async def api_sendpoll(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params)
        question = str(params.require("question")).strip()
        if not 1 <= len(question) <= 300:
            raise bad_request("POLL_QUESTION_INVALID")
        raw_options = params.json("options") or []
        options = [str(o.get("text", "") if isinstance(o, dict) else o) for o in raw_options]
        if len(options) < 2:
            raise bad_request("poll must have at least 2 option")
        if len(options) > 12:
            raise bad_request("poll can't have more than 12 options")
        if any(not 1 <= len(o) <= 100 for o in options):
            raise bad_request("POLL_OPTION_INVALID")
        kind = str(params.get("type") or "regular")
        correct = params.integer("correct_option_id")
        if kind == "quiz" and (correct is None or not 0 <= correct < len(options)):
            raise bad_request("wrong correct option ID specified")
        poll = Poll(
            id=self.world.new_id("P"),
            question=question,
            options=options,
            is_anonymous=params.flag("is_anonymous", True),
            type=kind,
            allows_multiple_answers=params.flag("allows_multiple_answers"),
            correct_option_id=correct if kind == "quiz" else None,
            is_closed=params.flag("is_closed"),
        )
        self.world.polls[poll.id] = poll
        result = self.bot_sends(chat, params, poll=poll, reply_markup=self.markup(params))
        self.world.poll_messages[poll.id] = chat.messages[-1]
        return result

    async def api_stoppoll(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        message = self.message(chat, params, "message with poll to stop not found")
        if message.poll is None:
            raise bad_request("message with poll to stop not found")
        if message.poll.is_closed:
            raise bad_request("poll has already been closed")
        message.poll.is_closed = True
        markup = self.markup(params)
        if markup is not None:
            message.reply_markup = markup
        self.world.push_update("poll", message.poll.to_dict())
        self.world.record(Event("edit", chat, message))
        return message.poll.to_dict()

    # -- chats and members -------------------------------------------------------------
    async def api_getchat(self, params: Params) -> dict[str, Any]:
        return self.chat(params, sending=False).full_info()

    async def api_getchatmember(self, params: Params) -> dict[str, Any]:
        chat = self.chat(params, sending=False)
        account = self.account(params.integer("user_id"))
        return self.world.member_dict(chat, account)

    async def api_getchatadministrators(self, params: Params) -> list[dict[str, Any]]:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            self.world.member_dict(chat, self.world.accounts[uid], status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def api_getchatmembercount(self, params: Params) -> int:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            return 2
        return sum(1 for s in chat.members.values() if s in ("creator", "administrator", "member"))

    async def api_leavechat(self, params: Params) -> bool:
        chat = self.chat(params, sending=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.members[self.world.bot.id] = "left"
        return True


def _kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image, refusing bytes that are not one (like Telegram)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # Pillow comes with matplotlib; without it we cannot check
        return 0, 0
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
