"""Finding a movie by (fuzzy) title and rating it: /rate, plain text, movie cards, stars."""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import (
    answer,
    button_scope,
    caller,
    edit,
    read_button,
    refuse,
    reply,
    reply_card,
    text,
)
from bot.services.catalog import Card
from bot.services.feedback import Refusal


async def search_and_offer(update: Update, context: BotContext, query: str) -> None:
    """The movie's card when the text names one beyond doubt (`Found.named`); else up to five
    matches as buttons; nothing found → closest spellings or a hint."""
    services = context.services
    found, card = await services.call(services.catalog.look_up, caller(update), query)
    if card is not None:
        await send_card(update, context, card)
        return
    await reply(update, *render.found(found, context.codec, button_scope(update)))


async def rate_command(update: Update, context: BotContext) -> None:
    """/rate TITLE: find the movie to rate."""
    query = " ".join(context.args or []).strip()
    if not query:
        await reply(update, render.RATE_USAGE)
        return
    await search_and_offer(update, context, query)


async def text_message(update: Update, context: BotContext) -> None:
    """Plain text in a private chat is a title to look up."""
    await search_and_offer(update, context, text(update))


async def open_card(update: Update, context: BotContext, movie_id: int, note: str | None) -> None:
    """Answer the pressed button (with `note`) and send the movie's card, or say it is gone."""
    card = await context.services.call(context.services.catalog.card, caller(update), movie_id)
    if card is None:
        await refuse(update, Refusal.GONE)
        return
    await answer(update, note)
    await send_card(update, context, card)


async def send_card(update: Update, context: BotContext, card: Card) -> None:
    caption, keyboard = render.movie_card(card, context.codec, button_scope(update))
    await reply_card(update, caption, keyboard, card.poster)


async def card_button(update: Update, context: BotContext) -> None:
    """A search result or a pick's "Rate" button: show that movie's card."""
    if (callback := await read_button(update, context)) is None:
        return
    await open_card(update, context, callback["movie"], None)


async def star_button(update: Update, context: BotContext) -> None:
    """★ on a movie card: store the rating (committed before we answer) and update the card."""
    if (callback := await read_button(update, context)) is None:
        return
    person = caller(update)
    rated = await context.services.call(
        context.services.feedback.rate, person, callback["movie"], callback["half_stars"]
    )
    if isinstance(rated, Refusal):
        await refuse(update, rated)
        return
    await answer(update, render.saved(rated.stars))
    await edit(update, *render.movie_card(rated.card, context.codec, button_scope(update)))
