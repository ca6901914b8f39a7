"""What Telegram tells the bot when people act, and what it keeps from the bot.

A group message reaches a bot in privacy mode only if it is a command for that bot, a reply
to one of its messages or a service message (unless the bot is an administrator); a change
of membership becomes `my_chat_member` (the bot's own) or `chat_member` (anyone else's).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import aiohttp

from emulator.world import Account, Chat, Message, World


def deliver_message(world: World, chat: Chat, message: Message, *, privacy_mode: bool) -> bool:
    """Queue a `message` update, unless privacy mode hides it in a group; False if hidden."""
    if chat.type != "private" and not bot_sees(world, chat, message, privacy_mode=privacy_mode):
        return False
    world.push_update("message", message.to_dict())
    return True


def bot_sees(world: World, chat: Chat, message: Message, *, privacy_mode: bool) -> bool:
    """Whether Telegram shows this group message to the bot."""
    bot = world.bot
    bot_status = chat.members.get(bot.id, "left")
    if bot_status in ("left", "kicked"):
        return False
    if not privacy_mode or bot_status in ("administrator", "creator"):
        return True
    if message.service or (message.reply_to is not None and message.reply_to.from_bot):
        return True
    text = message.text or ""
    for entity in message.entities:
        if entity["type"] == "bot_command":
            command = text[entity["offset"] : entity["offset"] + entity["length"]]
            target = command.partition("@")[2]
            if not target or target.lower() == (bot.username or "").lower():
                return True
    return False


def member_update(
    world: World, chat: Chat, account: Account, by: Account, old: str, new: str
) -> None:
    """`my_chat_member` (the bot) or `chat_member` (anyone else) for a status change."""
    payload = {
        "chat": chat.to_dict(),
        "from": by.to_dict(),
        "date": world.now(),
        "old_chat_member": world.member_dict(chat, account, old),
        "new_chat_member": world.member_dict(chat, account, new),
    }
    kind = "my_chat_member" if account.id == world.bot.id else "chat_member"
    world.push_update(kind, payload)


class Registered(Protocol):
    """What setWebhook stored (the Bot API's state)."""

    webhook_url: str
    webhook_secret: str | None


class WebhookDelivery:
    """Telegram's side of a webhook: POST each queued update, in order, to the bot's URL with
    the secret header, until the bot answers 200. Anything else (another status, a refused or
    dropped connection, no answer within `timeout`) is retried after a pause that doubles from
    `first_pause` up to 2 s; after `attempts` tries the update is dropped, as Telegram gives up
    too. An update leaves the queue only on its 200 (`WebhookDelivery.log` has every try).

    `target` replaces the registered URL (a public https address the emulator cannot reach):
    the reverse proxy in front of the bot, so to speak.
    """

    def __init__(
        self,
        world: World,
        registered: Registered,
        *,
        attempts: int = 20,
        first_pause: float = 0.05,
        timeout: float = 10.0,
    ) -> None:
        self.world = world
        self.registered = registered
        self.attempts = attempts
        self.first_pause = first_pause
        self.timeout = timeout
        self.target: str | None = None
        self.log: list[tuple[int, int | str]] = []  # (update_id, HTTP status or error name)
        self.dropped: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def url(self) -> str:
        return self.registered.webhook_url

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="emulator-webhook")

    async def stop(self) -> None:
        # A flag as well as the cancel: wait_for (Python 3.11) can swallow a cancellation.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self._closing:
                update = self._next()
                if update is None:
                    await self.world.update_added.wait(1.0)
                    continue
                delivered = await self._deliver(http, update)
                if update in self.world.updates:
                    self.world.updates.remove(update)
                if not delivered:
                    self.dropped.append(update["update_id"])

    def _next(self) -> dict[str, Any] | None:
        destination = self.target or self.url
        if not self.url or not destination.startswith(("http://127.0.0.1", "http://localhost")):
            return None
        return next((u for u in self.world.updates if self.world.allows(_kind(u))), None)

    async def _deliver(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> bool:
        secret = self.registered.webhook_secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        pause = self.first_pause
        for _ in range(self.attempts):
            if not self.url:  # deleteWebhook meanwhile: getUpdates hands it out instead
                return True
            status: int | str
            try:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with http.post(
                    self.target or self.url, json=update, headers=headers, timeout=timeout
                ) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            self.log.append((update["update_id"], status))
            if status == 200:
                return True
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
        return False


def _kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
