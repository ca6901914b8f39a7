"""The emulator's state: users, chats, messages, polls, files and the update queue.

Everything here is plain data plus the JSON shapes the Bot API returns for it. Nothing in
this module speaks HTTP; `api` implements the methods over it and `server` serves them.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.markup import to_html

# Telegram's default when a bot never passed allowed_updates: everything but these three.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
ADMIN_RIGHTS = (
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


class Clock:
    """Wall-clock time that tests can move forward (message dates, callback expiry, limits)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Pretend `seconds` have passed: older queries expire, dates move on."""
        self.offset += seconds


@dataclass(eq=False)
class Account:
    """A Telegram account: a simulated person, or the bot itself."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(eq=False)
class Chat:
    """A private chat (id = the user's id) or a group (negative id) with its members."""

    id: int
    type: str
    title: str | None = None
    user: Account | None = None  # the other side of a private chat
    members: dict[int, str] = field(default_factory=dict)  # account id → status
    next_message_id: int = 1
    messages: list[Message] = field(default_factory=list)
    read_cursor: int = 0  # index in `bot_messages()` of the next one a reader has not seen
    blocked: bool = False  # a private chat whose user blocked the bot

    def to_dict(self) -> dict[str, Any]:
        if self.type == "private" and self.user:
            data = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            for key in ("last_name", "username"):
                if getattr(self.user, key):
                    data[key] = getattr(self.user, key)
            return data
        return {"id": self.id, "type": self.type, "title": self.title}

    def full_info(self) -> dict[str, Any]:
        """The ChatFullInfo object getChat returns."""
        return {
            **self.to_dict(),
            "accent_color_id": self.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def bot_messages(self) -> list[Message]:
        return [m for m in self.messages if m.sender.is_bot]

    def find(self, message_id: int) -> Message | None:
        for message in reversed(self.messages):
            if message.id == message_id and not message.deleted:
                return message
        return None


@dataclass(eq=False)
class StoredFile:
    """An uploaded file; `data` is None when the bot sent a URL we do not fetch."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    file_name: str | None = None
    mime_type: str | None = None
    url: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data or b"")

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": self.size,
            }
        ]

    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data


@dataclass(eq=False)
class Poll:
    """A poll the bot sent, with every vote."""

    id: str
    question: str
    options: list[str]
    is_anonymous: bool = True
    type: str = "regular"
    allows_multiple_answers: bool = False
    correct_option_id: int | None = None
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)  # user id → option indexes

    def counts(self) -> list[int]:
        counts = [0] * len(self.options)
        for chosen in self.votes.values():
            for index in chosen:
                counts[index] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"text": text, "voter_count": count, "persistent_id": f"{self.id}-{i}"}
                for i, (text, count) in enumerate(zip(self.options, self.counts(), strict=True))
            ],
            "total_voter_count": sum(1 for chosen in self.votes.values() if chosen),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": True,
            "members_only": False,
        }
        if self.correct_option_id is not None:
            data["correct_option_id"] = self.correct_option_id
        return data


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the bot sent it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(eq=False)
class Message:
    """A message in a chat. Bot messages change in place when the bot edits them."""

    id: int
    chat: Chat
    sender: Account
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    poll: Poll | None = None
    edit_date: int | None = None
    deleted: bool = False
    reply_to: Message | None = None
    service: dict[str, Any] = field(default_factory=dict)  # new_chat_members and the like
    extra: dict[str, Any] = field(default_factory=dict)  # other content (a user's sticker)
    raw: str | None = None  # text or caption exactly as the bot sent it (before parsing)
    parse_mode: str | None = None

    # -- what a test reads -------------------------------------------------------------
    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def visible_text(self) -> str:
        """The text a person sees: the message text, or the caption of a photo/document."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def html(self) -> str:
        """The text with its formatting as Telegram HTML (entities resolved back to tags)."""
        if self.text is not None:
            return to_html(self.text, self.entities)
        return to_html(self.caption or "", self.caption_entities)

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard, row by row ([] when there is none)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row]
            for row in rows
        ]

    @property
    def button_list(self) -> list[Button]:
        return [button for row in self.buttons for button in row]

    @property
    def button_labels(self) -> list[str]:
        return [button.text for button in self.button_list]

    def __str__(self) -> str:
        return self.visible_text

    # -- what the API returns ----------------------------------------------------------
    def to_dict(self, depth: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.id,
            "from": self.sender.to_dict(),
            "chat": self.chat.to_dict(),
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.photo is not None:
            data["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            data["document"] = self.document.document()
        if self.poll is not None:
            data["poll"] = self.poll.to_dict()
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.reply_to is not None and depth == 0:
            data["reply_to_message"] = self.reply_to.to_dict(depth + 1)
        data.update(self.extra)
        data.update(self.service)
        return data


@dataclass(eq=False)
class CallbackQuery:
    """A button press; `answer` resolves when the bot calls answerCallbackQuery."""

    id: str
    user: Account
    message: Message
    data: str
    created: float
    answer: asyncio.Future[dict[str, Any]] = field(repr=False)

    async def answered(self, timeout: float = 5.0) -> dict[str, Any]:
        """The bot's answer (text, show_alert, url); TimeoutError if it never answers."""
        return await asyncio.wait_for(asyncio.shield(self.answer), timeout)


@dataclass(frozen=True)
class Event:
    """Something the bot did that a reader (test, chat client) may want to show."""

    kind: str  # message | edit | delete | callback_answer | chat_action
    chat: Chat
    message: Message | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Notifier:
    """Wake everyone waiting for 'something changed' (new update, new bot message)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True if notified within `timeout` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class World:
    """All state of one emulated Telegram as seen by one bot."""

    def __init__(
        self, bot: Account, clock: Clock | None = None, first_group_number: int = 1
    ) -> None:
        self.bot = bot
        self.clock = clock or Clock()
        self.accounts: dict[int, Account] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.polls: dict[str, Poll] = {}
        self.poll_messages: dict[str, Message] = {}
        self.queries: dict[str, CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.allowed_updates: frozenset[str] | None = None
        self.events: list[Event] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.update_ids = itertools.count(10_000)
        self.group_ids = itertools.count(first_group_number)
        self.update_added = Notifier()
        self.bot_acted = Notifier()
        self.listeners: list[Callable[[Event], None]] = []

    def now(self) -> int:
        return int(self.clock.now())

    def new_id(self, prefix: str = "") -> str:
        return prefix + secrets.token_urlsafe(12)

    # -- updates -----------------------------------------------------------------------
    def allows(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in NOT_DELIVERED_BY_DEFAULT
        return kind in self.allowed_updates

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update for getUpdates unless the bot's allowed_updates exclude it."""
        if not self.allows(kind):
            return None
        update = {"update_id": next(self.update_ids), kind: payload}
        self.updates.append(update)
        self.update_added.notify()
        return update

    # -- chats and messages ------------------------------------------------------------
    def add_message(self, chat: Chat, sender: Account, **fields: Any) -> Message:
        date = fields.pop("date", None)
        message = Message(
            id=chat.next_message_id,
            chat=chat,
            sender=sender,
            date=self.now() if date is None else int(date),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        return message

    def record(self, event: Event) -> None:
        """Note something the bot did and wake readers."""
        self.events.append(event)
        for listener in list(self.listeners):
            listener(event)
        self.bot_acted.notify()

    def member_status(self, chat: Chat, account: Account) -> str:
        if chat.type == "private":
            return "member" if account.id in (chat.id, self.bot.id) else "left"
        return chat.members.get(account.id, "left")

    def member_dict(
        self, chat: Chat, account: Account, status: str | None = None
    ) -> dict[str, Any]:
        """A ChatMember object for `account` in `chat`."""
        status = status or self.member_status(chat, account)
        data: dict[str, Any] = {"status": status, "user": account.to_dict()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update({right: True for right in ADMIN_RIGHTS})
            data["can_be_edited"] = False
            data["is_anonymous"] = False
        elif status == "kicked":
            data["until_date"] = 0
        return data
