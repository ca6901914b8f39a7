"""The one global error handler: log with context (never the token), tell the user politely."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot import render
from bot.context import BotContext

log = logging.getLogger(__name__)


def describe(update: object) -> str:
    """Who and where, for the log: ids only, no message text (it may be private)."""
    if not isinstance(update, Update):
        return "no update"
    parts = [f"update {update.update_id}"]
    if update.effective_user:
        parts.append(f"user {update.effective_user.id}")
    if update.effective_chat:
        parts.append(f"chat {update.effective_chat.id}")
    if update.callback_query:
        parts.append("button")
    elif update.effective_message and update.effective_message.text:
        parts.append(f"command {update.effective_message.text.split()[0][:40]!r}")
    return ", ".join(parts)


async def on_error(update: object, context: BotContext) -> None:
    """Network trouble is logged and dropped (PTB retries polling itself); bugs are logged with
    a traceback and the user gets an apology instead of silence."""
    error = context.error
    where = describe(update)
    if isinstance(error, RetryAfter):
        log.warning("flood limit hit (%s): retry after %s s; dropped", where, error.retry_after)
        return
    if isinstance(error, (TimedOut, NetworkError)):
        log.warning("network error (%s): %s", where, error)
        return
    if isinstance(error, Forbidden):
        log.info("user blocked the bot or left (%s): %s", where, error)
        return
    log.error("error while handling %s", where, exc_info=error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(render.SORRY)
        except Exception as exc:  # the apology itself failed: nothing more to do
            log.warning("could not send the apology (%s): %s", where, exc)
