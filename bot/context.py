"""The typed callback context: handlers reach services as `context.services`."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.keyboards import CallbackCodec
from bot.services import Services


class BotContext(CallbackContext[ExtBot, dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with the bot's services and button codec attached."""

    def __init__(
        self, application: Application, chat_id: int | None = None, user_id: int | None = None
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def services(self) -> Services:
        return self.bot_data["services"]

    @property
    def codec(self) -> CallbackCodec:
        return self.bot_data["codec"]
