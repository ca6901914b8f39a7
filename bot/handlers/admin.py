"""Admin commands: /retrain (also run periodically) and /stats. Admins are numeric user ids.

The work is done by `bot.services.training` (`context.services.training`): a retrain in a
worker thread, one at a time, the model swapped only on success. These handlers check who is
asking, call it, and word the answer.

When the bot starts (`schedule_retrain` → `startup_check`) it edits the "Retraining…" messages of
a retrain it did not live to finish, and, with no usable model, retrains at once in the
background, telling every admin when it starts and how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot import render
from bot.context import BotContext
from bot.handlers.common import reply
from bot.services.training import ModelSummary, StatusMessage
from bot.settings import Settings

log = logging.getLogger(__name__)


class _StatusMessage:
    """The admin's "Retraining…" message, edited as the training goes."""

    def __init__(self, command: Message) -> None:
        self.command = command
        self.sent: Message | None = None

    async def started(self, old: ModelSummary | None) -> list[StatusMessage]:
        text = render.retrain_started(old)
        self.sent = await self.command.reply_text(text, parse_mode="HTML")
        return [StatusMessage(self.sent.chat_id, self.sent.message_id)]

    async def step(self, step: str) -> None:
        if self.sent is not None:
            await self.sent.edit_text(render.retrain_progress(step), parse_mode="HTML")


class _Announcement:
    """A retrain the bot started itself, told to every admin in their private chat (one who
    never opened a chat with the bot cannot be told: logged and skipped)."""

    def __init__(self, bot: Bot, admins: Sequence[int], why: str) -> None:
        self.bot, self.admins, self.why = bot, admins, why
        self.sent: list[Message] = []

    async def started(self, old: ModelSummary | None) -> list[StatusMessage]:
        text = render.retrain_at_start(self.why, old)
        for admin_id in self.admins:
            try:
                self.sent.append(await self.bot.send_message(admin_id, text, parse_mode="HTML"))
            except TelegramError as exc:
                log.warning("cannot tell admin %s about the retrain: %s", admin_id, exc)
        return [StatusMessage(m.chat_id, m.message_id) for m in self.sent]

    async def step(self, step: str) -> None:
        for message in self.sent:
            try:
                await message.edit_text(render.retrain_progress(step), parse_mode="HTML")
            except TelegramError as exc:
                log.info("retrain progress not shown in chat %s: %s", message.chat_id, exc)

    async def finished(self, text: str) -> None:
        for message in self.sent:
            try:
                await message.reply_text(text, parse_mode="HTML")
            except TelegramError as exc:
                log.warning("cannot tell admin %s how the retrain went: %s", message.chat_id, exc)


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


async def startup_check(context: BotContext) -> None:
    """JobQueue callback, once as the bot starts: say so where a retrain was cut off, then
    retrain at once when no usable model is served (popularity answers meanwhile)."""
    training = context.services.training
    why = training.why_retrain_at_start()
    await _mark_interrupted(context, again=why is not None)
    if why is None:
        return
    log.warning("retraining at start: %s (popular picks meanwhile)", why)
    watcher = _Announcement(context.bot, sorted(context.services.settings.admin_ids), why)
    outcome = await training.retrain(watcher)
    await watcher.finished(render.retrain_outcome(outcome))


async def _mark_interrupted(context: BotContext, again: bool) -> None:
    """Edit the "Retraining…" messages of a retrain the last run did not finish."""
    training = context.services.training
    for status in training.take_interrupted():
        text = render.retrain_interrupted(training.serving(), again)
        try:
            await context.bot.edit_message_text(
                text, chat_id=status.chat_id, message_id=status.message_id, parse_mode="HTML"
            )
        except TelegramError as exc:
            log.info("cannot mark the interrupted retrain in chat %s: %s", status.chat_id, exc)


def schedule_retrain(app: Application, settings: Settings) -> None:
    """The start check at once, and the periodic retrain every settings.retrain_interval s."""
    if app.job_queue is None:
        return
    app.job_queue.run_once(startup_check, when=0, name="startup-check")
    if settings.retrain_interval > 0:
        app.job_queue.run_repeating(
            periodic_retrain,
            interval=settings.retrain_interval,
            first=settings.retrain_interval,
            name="periodic-retrain",
        )
