"""Small pieces every handler module shares: reading a pressed button, replying safely."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot import render
from bot.context import BotContext
from bot.keyboards import Callback, ExpiredButtonError
from storage import movies
from storage.movies import Movie
from storage.users import User

log = logging.getLogger(__name__)

MAX_INPUT = 300  # longer text is not a movie title


def button_scope(update: Update) -> int:
    """Private buttons belong to the user who got them; group buttons to the group."""
    chat = update.effective_chat
    if chat is not None and chat.type != "private":
        return chat.id
    return update.effective_user.id


async def read_button(update: Update, context: BotContext) -> Callback | None:
    """The pressed button's action, or None after telling the user it has expired.

    Answers the callback query either way (Telegram shows a spinner until we do).
    """
    query = update.callback_query
    try:
        callback = context.codec.decode(query.data, button_scope(update))
    except ExpiredButtonError as exc:
        log.info("rejected button from user %s: %s", update.effective_user.id, exc)
        await query.answer(render.EXPIRED, show_alert=True)
        return None
    return callback


def caller(update: Update, context: BotContext) -> User:
    """The Telegram user behind this update, created on first contact."""
    tg = update.effective_user
    return context.services.user(tg.id, tg.first_name)


async def movie_or_expired(update: Update, context: BotContext, movie_id: int) -> Movie | None:
    """The movie a button names, or None after telling the user it is gone."""
    movie = movies.get(context.services.db, movie_id)
    if movie is None:
        await update.callback_query.answer(render.NOT_FOUND, show_alert=True)
    return movie


async def pressed_movie(update: Update, context: BotContext) -> tuple[Callback, Movie] | None:
    """The pressed button and the movie it names (its first argument), or None once the user
    has been told the button expired or the movie is gone."""
    callback = await read_button(update, context)
    if callback is None:
        return None
    movie = await movie_or_expired(update, context, callback["movie"])
    return None if movie is None else (callback, movie)


async def reply(update: Update, text: str, **kwargs: object) -> None:
    """Reply in HTML to the message (or button) that triggered this update."""
    await update.effective_chat.send_message(render.clip(text), parse_mode="HTML", **kwargs)


async def edit(update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Replace the text of the message whose button was pressed.

    A double tap asks for the same edit twice; Telegram answers "message is not modified",
    which is not an error for us.
    """
    try:
        await update.callback_query.edit_message_text(
            render.clip(text), parse_mode="HTML", reply_markup=keyboard
        )
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def stray_button(update: Update, context: BotContext) -> None:
    """A button no handler knows (an old version's, or forged)."""
    await update.callback_query.answer(render.EXPIRED, show_alert=True)
