"""/start, onboarding cards, /help and unknown commands."""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers import movienight
from bot.handlers.common import (
    answer,
    button_scope,
    caller,
    edit,
    read_button,
    refuse,
    reply,
    text,
)
from bot.services.feedback import Refusal


async def start(update: Update, context: BotContext) -> None:
    """Welcome the user and show the first movie to rate (a movie night's link is remembered)."""
    person = caller(update)
    argument = context.args[0] if context.args else None
    started = await context.services.call(context.services.onboarding.start, person, argument)
    app_url = context.services.settings.web_url
    await reply(
        update, render.welcome(person.name, started.about), render.with_open_app(None, app_url)
    )
    await reply(update, *render.question(started.question, context.codec, button_scope(update)))


async def rate_button(update: Update, context: BotContext) -> None:
    """A star on an onboarding card: save it, then the next card."""
    if (callback := await read_button(update, context)) is None:
        return
    person = caller(update)
    answered = await context.services.call(
        context.services.onboarding.rate, person, callback["movie"], callback["half_stars"]
    )
    if isinstance(answered, Refusal):
        await refuse(update, answered)
        return
    await answer(update, render.saved(answered.stars))
    await movienight.onboarded(update, context)
    await edit(update, *render.question(answered.next, context.codec, button_scope(update)))


async def unseen_button(update: Update, context: BotContext) -> None:
    """ "Haven't seen": not asked again (it may come back as a pick); the next card."""
    if (callback := await read_button(update, context)) is None:
        return
    asked = await context.services.call(
        context.services.onboarding.unseen, caller(update), callback["movie"]
    )
    await answer(update)
    await edit(update, *render.question(asked, context.codec, button_scope(update)))


async def skip_button(update: Update, context: BotContext) -> None:
    """ "Skip": neither asked again nor suggested; the next card."""
    if (callback := await read_button(update, context)) is None:
        return
    asked = await context.services.call(
        context.services.onboarding.skip, caller(update), callback["movie"]
    )
    await answer(update, render.SKIPPED)
    await edit(update, *render.question(asked, context.codec, button_scope(update)))


async def done_button(update: Update, context: BotContext) -> None:
    """ "Done": how many were rated, and what to do next."""
    if await read_button(update, context) is None:
        return
    await answer(update)
    await edit(
        update,
        render.onboarding_done(
            await context.services.call(context.services.onboarding.rated, caller(update))
        ),
    )


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands, and say what the catalogue is."""
    await reply(
        update, render.help_text(await context.services.call(context.services.help, caller(update)))
    )


async def not_text(update: Update, context: BotContext) -> None:
    """Photos, stickers, files…: we only read titles."""
    await reply(update, render.NOT_TEXT)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Any command we don't know gets a hint instead of silence."""
    await reply(update, render.unknown_command(next(iter(text(update).split()), "")))
