"""Admin commands: /retrain (also run periodically) and /stats. Admins are numeric user ids.

The work is done by `bot.services.training` (`context.services.training`): a retrain in a
worker thread, one at a time, the model swapped only on success. These handlers check who is
asking, call it, and word the answer.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import Application

from bot import render
from bot.context import BotContext
from bot.handlers.common import reply
from bot.services.training import ModelSummary
from bot.settings import Settings

log = logging.getLogger(__name__)


class _StatusMessage:
    """The admin's "Retraining…" message, edited as the training goes."""

    def __init__(self, command: Message) -> None:
        self.command = command
        self.sent: Message | None = None

    async def started(self, old: ModelSummary | None) -> None:
        text = render.retrain_started(old)
        self.sent = await self.command.reply_text(text, parse_mode="HTML")

    async def step(self, step: str) -> None:
        if self.sent is not None:
            await self.sent.edit_text(render.retrain_progress(step), parse_mode="HTML")


async def _from_admin(update: Update, context: BotContext) -> Message | None:
    """The admin's command message; None (after saying so) for anyone else."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return None
    if not context.services.training.is_admin(user.id):
        await reply(update, render.NOT_ADMIN)
        return None
    return message


async def retrain(update: Update, context: BotContext) -> None:
    """/retrain: admins only, one at a time, never a stale one from before a restart."""
    message = await _from_admin(update, context)
    if message is None:
        return
    training = context.services.training
    if training.is_stale(message.date.timestamp()):
        log.info("ignored a stale /retrain from %s", message.date.isoformat())
        await reply(update, render.STALE_RETRAIN)
        return
    outcome = await training.retrain(_StatusMessage(message))
    await reply(update, render.retrain_outcome(outcome))


async def stats(update: Update, context: BotContext) -> None:
    """/stats: users, ratings, the model's version and age, recent latency."""
    if await _from_admin(update, context) is None:
        return
    await reply(update, render.stats(await context.services.call(context.services.stats)))


async def periodic_retrain(context: BotContext) -> None:
    """JobQueue callback: retrain when enough new ratings arrived since the last model."""
    await context.services.training.periodic_retrain()


def schedule_retrain(app: Application, settings: Settings) -> None:
    if settings.retrain_interval > 0 and app.job_queue is not None:
        app.job_queue.run_repeating(
            periodic_retrain,
            interval=settings.retrain_interval,
            first=settings.retrain_interval,
            name="periodic-retrain",
        )
