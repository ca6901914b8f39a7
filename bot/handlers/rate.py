"""Finding a movie by (fuzzy) title and rating it: /rate, plain text, movie cards, stars."""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import (
    MAX_INPUT,
    button_scope,
    caller,
    edit,
    movie_or_expired,
    pressed_movie,
    read_button,
    reply,
)
from bot.handlers.onboarding import valid_stars
from storage import movies, ratings

MAX_RESULTS = 5


async def search_and_offer(update: Update, context: BotContext, query: str) -> None:
    """Up to five matches as buttons; nothing found → closest spellings or a hint."""
    if len(query) > MAX_INPUT:
        await reply(update, render.too_long())
        return
    titles = context.services.titles
    found = titles.search(query, limit=MAX_RESULTS)
    db = context.services.db
    if not found:
        ids = [s.movie_id for s in titles.suggest(query, limit=3)]
        close = movies.get_many(db, ids)
        await reply(update, render.no_match(query, [close[i] for i in ids if i in close]))
        return
    by_id = movies.get_many(db, [m.movie_id for m in found])
    text, keyboard = render.search_results(
        query,
        [by_id[m.movie_id] for m in found if m.movie_id in by_id],
        context.codec,
        button_scope(update),
    )
    await reply(update, text, reply_markup=keyboard)


async def rate_command(update: Update, context: BotContext) -> None:
    """/rate TITLE: find the movie to rate."""
    query = " ".join(context.args or []).strip()
    if not query:
        await reply(update, "Which movie? Send <code>/rate heat</code>, or just type a title.")
        return
    await search_and_offer(update, context, query)


async def text_message(update: Update, context: BotContext) -> None:
    """Plain text in a private chat is a title to look up."""
    await search_and_offer(update, context, (update.effective_message.text or "").strip())


async def send_card(update: Update, context: BotContext, movie_id: int) -> None:
    """The movie card with rating buttons, the user's rating or our prediction."""
    movie = await movie_or_expired(update, context, movie_id)
    if movie is None:
        return
    services = context.services
    user = caller(update, context)
    history = ratings.history(services.db, user)
    yours = history.ratings.get(movie_id)
    predicted = None if yours is not None else services.predicted(user, [movie_id]).get(movie_id)
    text, keyboard = render.movie_card(
        movie,
        predicted,
        yours,
        context.codec,
        button_scope(update),
        services.rating_scale(),
        on_watchlist=movie_id in history.watchlist,
    )
    await reply(update, text, reply_markup=keyboard)


async def card_button(update: Update, context: BotContext) -> None:
    """A search result or a pick's "Rate" button: show that movie's card."""
    callback = await read_button(update, context)
    if callback is None:
        return
    await update.callback_query.answer()
    await send_card(update, context, callback["movie"])


async def star_button(update: Update, context: BotContext) -> None:
    """★ on a movie card: store the rating (committed before we answer) and update the card."""
    if (pressed := await pressed_movie(update, context)) is None:
        return
    callback, movie = pressed
    services = context.services
    stars = valid_stars(callback["half_stars"], services.rating_scale())
    if stars is None:
        await update.callback_query.answer(render.EXPIRED, show_alert=True)
        return
    user = caller(update, context)
    ratings.upsert(services.db, user, movie.id, stars)
    query = update.callback_query
    await query.answer(f"Saved {render.stars(stars)}")
    text, keyboard = render.movie_card(
        movie, None, stars, context.codec, button_scope(update), services.rating_scale()
    )
    await edit(update, text, keyboard)
