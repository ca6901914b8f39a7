"""The user's own data: /watchlist, /profile, /export, /forget."""

from __future__ import annotations

import asyncio
import io

from telegram import InputFile, Update

from bot import keyboards as kb
from bot import render
from bot.context import BotContext
from bot.handlers.common import button_scope, caller, edit, read_button, reply
from bot.handlers.rate import send_card
from bot.profile import TasteProfile, taste_chart
from storage import movies, ratings, users


def _watchlist_page(update: Update, context: BotContext, page: int) -> tuple:
    db = context.services.db
    ids = ratings.watchlist(db, caller(update, context))
    shown = movies.get_many(db, ids)
    return render.watchlist_page(ids, shown, page, context.codec, button_scope(update))


async def watchlist(update: Update, context: BotContext) -> None:
    """/watchlist: the first page."""
    text, keyboard = _watchlist_page(update, context, 0)
    await reply(update, text, reply_markup=keyboard)


async def watchlist_button(update: Update, context: BotContext) -> None:
    """Paging, "Remove" and "Watched" on the watchlist."""
    callback = await read_button(update, context)
    if callback is None:
        return
    query = update.callback_query
    if callback.action is kb.WATCHLIST_WATCHED:
        await query.answer("Watched it? Rate it:")
        await send_card(update, context, callback["movie"])
        return
    page = callback["page"]
    if callback.action is kb.WATCHLIST_REMOVE:
        ratings.remove_from_watchlist(
            context.services.db, caller(update, context), callback["movie"]
        )
    await query.answer()
    text, keyboard = _watchlist_page(update, context, page)
    await edit(update, text, keyboard)


def taste(context: BotContext, update: Update) -> tuple[str, bytes | None]:
    """The profile text and chart for the user behind this update."""
    db = context.services.db
    rated = ratings.ratings_of(db, caller(update, context))
    catalog = movies.get_many(db, [r.movie_id for r in rated])
    profile = TasteProfile.of(rated, catalog)
    chart = taste_chart(profile) if rated else None
    return render.profile(profile), chart


async def profile(update: Update, context: BotContext) -> None:
    """/profile: counts, favourite genres and decades, and a chart."""
    text, chart = await asyncio.to_thread(taste, context, update)
    await reply(update, text)
    if chart is not None:
        await update.effective_chat.send_photo(InputFile(io.BytesIO(chart), "taste.png"))


async def export(update: Update, context: BotContext) -> None:
    """/export: ratings, watchlist and dismissals as CSV."""
    user = caller(update, context)
    data = ratings.export_csv(context.services.db, user).encode()
    await update.effective_chat.send_document(
        InputFile(io.BytesIO(data), filename="moviebot-export.csv"),
        caption='Your ratings, watchlist and "not interested" list.',
    )


async def forget(update: Update, context: BotContext) -> None:
    """/forget: ask first."""
    text, keyboard = render.forget_confirm(context.codec, button_scope(update))
    await reply(update, text, reply_markup=keyboard)


async def forget_button(update: Update, context: BotContext) -> None:
    """ "Yes, delete everything" or "Cancel"."""
    callback = await read_button(update, context)
    if callback is None:
        return
    await update.callback_query.answer()
    if callback.action is kb.FORGET_NO:
        await edit(update, render.FORGET_CANCELLED)
        return
    db = context.services.db
    user = users.find(db, "telegram", update.effective_user.id)
    if user is not None:
        ratings.forget(db, user)
    await edit(update, render.FORGOTTEN)
