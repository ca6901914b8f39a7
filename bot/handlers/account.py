"""The user's own data: /watchlist, /profile, /export, /forget."""

from __future__ import annotations

import io

from telegram import InputFile, Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import answer, button_scope, caller, chat, edit, read_button, reply
from bot.handlers.rate import open_card


async def watchlist(update: Update, context: BotContext) -> None:
    """/watchlist: the first page."""
    listed = await context.services.call(context.services.watchlist.page, caller(update))
    await reply(update, *render.watchlist_page(listed, context.codec, button_scope(update)))


async def page_button(update: Update, context: BotContext) -> None:
    """◀ Prev / Next ▶ on the watchlist."""
    if (callback := await read_button(update, context)) is None:
        return
    listed = await context.services.call(
        context.services.watchlist.page, caller(update), callback["page"]
    )
    await answer(update)
    await edit(update, *render.watchlist_page(listed, context.codec, button_scope(update)))


async def remove_button(update: Update, context: BotContext) -> None:
    """ "Remove" on the watchlist: off it, and the page redrawn."""
    if (callback := await read_button(update, context)) is None:
        return
    person = caller(update)
    listed = await context.services.call(
        context.services.watchlist.remove, person, callback["movie"], callback["page"]
    )
    await answer(update)
    await edit(update, *render.watchlist_page(listed, context.codec, button_scope(update)))


async def watched_button(update: Update, context: BotContext) -> None:
    """ "Watched" on the watchlist: the movie's card, to rate it."""
    if (callback := await read_button(update, context)) is None:
        return
    await open_card(update, context, callback["movie"], render.WATCHED)


async def profile(update: Update, context: BotContext) -> None:
    """/profile: counts, favourite genres and decades, and a chart."""
    mine = await context.services.call(context.services.account.profile, caller(update))
    await reply(update, render.profile(mine.taste))
    if mine.chart is not None:
        await chat(update).send_photo(InputFile(io.BytesIO(mine.chart), render.PROFILE_CHART))


async def export(update: Update, context: BotContext) -> None:
    """/export: ratings, watchlist and dismissals as CSV."""
    data = await context.services.call(context.services.account.export, caller(update))
    await chat(update).send_document(
        InputFile(io.BytesIO(data), filename=render.EXPORT_FILE), caption=render.EXPORT_CAPTION
    )


async def forget(update: Update, context: BotContext) -> None:
    """/forget: ask first."""
    await reply(update, *render.forget_confirm(context.codec, button_scope(update)))


async def forget_button(update: Update, context: BotContext) -> None:
    """ "Yes, delete everything": the user and all of theirs are deleted."""
    if await read_button(update, context) is None:
        return
    await context.services.call(context.services.account.forget, caller(update))
    await answer(update)
    await edit(update, render.FORGOTTEN)


async def keep_button(update: Update, context: BotContext) -> None:
    """ "Cancel" on /forget."""
    if await read_button(update, context) is None:
        return
    await answer(update)
    await edit(update, render.FORGET_CANCELLED)
