"""/start, onboarding cards, /help and unknown commands."""

from __future__ import annotations

from telegram import Update

from bot import keyboards as kb
from bot import render
from bot.context import BotContext
from bot.handlers import movienight
from bot.handlers.common import button_scope, caller, edit, read_button, reply
from storage import ratings
from storage.movies import Movie
from storage.users import User


def valid_stars(value: int, scale: tuple[float, float, float]) -> float | None:
    """Stars from a button value (stars × 2), or None if the data set's scale has no such value."""
    low, high, step = scale
    stars = value / 2
    if not low <= stars <= high or (stars * 2) % (step * 2):
        return None
    return stars


def _card(context: BotContext, update: Update, user: User, movie: Movie) -> tuple:
    services = context.services
    rated = len(ratings.history(services.db, user).ratings)
    predicted = services.predicted(user, [movie.id]).get(movie.id) if rated else None
    return render.onboarding_card(
        movie, predicted, rated, context.codec, button_scope(update), services.rating_scale()
    )


async def start(update: Update, context: BotContext) -> None:
    """Welcome the user and show the first movie to rate."""
    user = caller(update, context)
    if context.args and context.args[0].startswith("movienight_"):
        context.services.remember_movienight(user, context.args[0].removeprefix("movienight_"))
    await reply(update, render.welcome(update.effective_user.first_name))
    movie = context.services.onboarding_movie(user)
    if movie is None:
        await reply(update, render.onboarding_exhausted())
        return
    text, keyboard = _card(context, update, user, movie)
    await reply(update, text, reply_markup=keyboard)


async def onboarding_button(update: Update, context: BotContext) -> None:
    """A star, "Haven't seen", "Skip" or "Done" on an onboarding card."""
    callback = await read_button(update, context)
    if callback is None:
        return
    services = context.services
    user = caller(update, context)
    query = update.callback_query
    if callback.action is kb.ONBOARDING_DONE:
        await query.answer()
        rated = len(ratings.history(services.db, user).ratings)
        await edit(update, render.onboarding_done(rated))
        return
    movie_id = callback["movie"]
    if callback.action is not kb.ONBOARDING_RATE:  # "Haven't seen" or "Skip"
        services.mark_asked(user, movie_id)
        await query.answer()
    else:
        stars = valid_stars(callback["half_stars"], services.rating_scale())
        if stars is None or not services.movie_exists(movie_id):
            await query.answer(render.EXPIRED, show_alert=True)
            return
        ratings.upsert(services.db, user, movie_id, stars)
        await query.answer(f"Saved {render.stars(stars)}")
        await movienight.onboarded(update, context)
    movie = services.onboarding_movie(user)
    if movie is None:
        await edit(update, render.onboarding_exhausted())
        return
    text, keyboard = _card(context, update, user, movie)
    await edit(update, text, keyboard)


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands."""
    is_admin = update.effective_user.id in context.services.settings.admin_ids
    await reply(update, render.help_text(is_admin))


async def not_text(update: Update, context: BotContext) -> None:
    """Photos, stickers, files…: we only read titles."""
    await reply(update, render.NOT_TEXT)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Any command we don't know gets a hint instead of silence."""
    command = (update.effective_message.text or "").split()[0]
    await reply(update, render.unknown_command(command))
