"""The one global error handler: log with ids (never the token, never what users wrote), tell
the user politely."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut

from bot import render
from bot.context import BotContext
from bot.sending import Refused, without_quotes
from bot.services import StorageUnavailable

log = logging.getLogger(__name__)


def describe(update: object) -> str:
    """Who, where and what kind, for the log: ids only, never text (it may be private, and a
    command's first word can be a user's whole message)."""
    if not isinstance(update, Update):
        return "no update"
    parts = [f"update {update.update_id}"]
    if update.effective_user:
        parts.append(f"user {update.effective_user.id}")
    if update.effective_chat:
        parts.append(f"chat {update.effective_chat.id}")
    if what := kind(update):
        parts.append(what)
    return ", ".join(parts)


def kind(update: Update) -> str | None:
    """What the update is, in a word or two (never its content)."""
    message = update.effective_message
    if update.callback_query:
        return "button"
    if message is not None and message.text:
        is_command = any(e.type == "bot_command" and e.offset == 0 for e in message.entities)
        return "command" if is_command else "text message"
    if update.poll_answer:
        return "poll answer"
    if update.my_chat_member:
        return "membership change"
    return "message" if message is not None else None


def logged_as_trouble(error: object, where: str) -> bool:
    """Telegram or the network, not a bug: one line, no traceback, no apology."""
    if isinstance(error, Conflict):
        # Polling keeps retrying with a growing pause (python-telegram-bot's loop): one line each.
        log.warning(
            "Telegram answered 409 Conflict: another instance is getting updates with this token "
            "(or a webhook is set); retrying with back-off. Stop the other instance. (%s)",
            error.message,
        )
    elif isinstance(error, RetryAfter):  # the send policy waited until its deadline
        log.warning("flood limit past the send deadline (%s): %s; dropped", where, error)
    elif isinstance(error, BadRequest):  # a NetworkError to python-telegram-bot: ask first
        return False
    elif isinstance(error, (TimedOut, NetworkError)):  # retried until the send deadline
        log.warning("network error (%s): %s", where, error)
    elif isinstance(error, Forbidden):  # the send policy marked the chat inactive
        log.info("user blocked the bot or left (%s): %s", where, error)
    else:
        return False
    return True


def headline(error: object) -> str:
    """What went wrong, in a few words: for a 400, the method and Telegram's description (the
    text we sent is not in it), else just "error" (the traceback says the rest)."""
    if isinstance(error, BadRequest):
        method = error.method if isinstance(error, Refused) else "a Bot API call"
        return f"Telegram refused {method} ({without_quotes(error.message)})"
    return "error"


async def on_error(update: object, context: BotContext) -> None:
    """Network trouble is logged and dropped (PTB retries polling itself); bugs are logged with
    a traceback and the user gets an apology instead of silence."""
    where = describe(update)
    if logged_as_trouble(context.error, where):
        return
    if isinstance(context.error, StorageUnavailable):
        # Read-only database or full disk: the write was rolled back; the person may retry.
        log.warning("cannot save (%s): %s", where, context.error)
        await tell(update, render.CANNOT_SAVE, where)
        return
    log.error("%s while handling %s", headline(context.error), where, exc_info=context.error)
    await tell(update, render.SORRY, where)


async def tell(update: object, text: str, where: str) -> None:
    """Say `text` in the update's chat, if it has one; a failure to say it is only logged."""
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(text)
        except Exception as exc:  # the apology itself failed: nothing more to do
            log.warning("could not send the apology (%s): %s", where, exc)
