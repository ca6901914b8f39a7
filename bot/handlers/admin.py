"""Admin commands: /retrain (also run periodically) and /stats. Admins are numeric user ids."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application

from bot import render
from bot.context import BotContext
from bot.handlers.common import reply
from bot.services import Services
from bot.settings import Settings
from bot.training import TrainingError, TrainResult, needs_training, train
from storage import models, ratings, users

log = logging.getLogger(__name__)

STALE_AFTER = 120  # seconds: a /retrain older than this was queued while the bot was down
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message


def is_admin(update: Update, context: BotContext) -> bool:
    return update.effective_user.id in context.services.settings.admin_ids


async def retrain_in_thread(
    services: Services, report: Callable[[str], Awaitable[None]] | None = None
) -> TrainResult:
    """Train in a worker thread; report progress now and then; swap the model on success.

    The caller holds `services.retrain_lock`. On failure the current model stays in place.
    """
    steps: list[str] = []
    task = asyncio.create_task(
        asyncio.to_thread(train, services.db, services.settings, steps.append)
    )
    shown = 0
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EVERY)
        if report is not None and len(steps) > shown and not task.done():
            shown = len(steps)
            await report(steps[-1])
    result = task.result()
    services.models.swap(result.recommender)
    return result


async def retrain(update: Update, context: BotContext) -> None:
    """/retrain: admins only, one at a time, never a stale one from before a restart."""
    if not is_admin(update, context):
        await reply(update, render.NOT_ADMIN)
        return
    message = update.effective_message
    if time.time() - message.date.timestamp() > STALE_AFTER:
        log.info("ignored a stale /retrain from %s", message.date.isoformat())
        await reply(update, render.STALE_RETRAIN)
        return
    services = context.services
    if services.retrain_lock.locked():
        await reply(update, render.RETRAIN_BUSY)
        return
    async with services.retrain_lock:
        old = services.model
        status = await message.reply_text(render.retrain_started(old), parse_mode="HTML")

        async def report(step: str) -> None:
            await status.edit_text(render.retrain_progress(step), parse_mode="HTML")

        try:
            result = await retrain_in_thread(services, report)
        except TrainingError as exc:
            log.warning("retrain failed: %s", exc)
            await reply(update, render.retrain_failed(str(exc), old))
            return
        await reply(update, render.retrain_done(old, result.recommender, result.seconds))


async def stats(update: Update, context: BotContext) -> None:
    """/stats: users, ratings, the model's version and age, recent latency."""
    if not is_admin(update, context):
        await reply(update, render.NOT_ADMIN)
        return
    services = context.services
    db = services.db
    await reply(
        update,
        render.stats(
            telegram_users=users.count(db, "telegram"),
            telegram_ratings=ratings.count(db, "telegram"),
            all_ratings=ratings.count(db),
            model=services.model,
            latencies=list(services.latencies),
        ),
    )


async def periodic_retrain(context: BotContext) -> None:
    """JobQueue callback: retrain when enough new ratings arrived since the last model."""
    services = context.services
    if services.retrain_lock.locked():
        return
    record = models.latest(services.db)
    if record is not None and services.model is not None:
        # (no model in use, e.g. the latest is from an older moviebot: retrain at once)
        new = ratings.count_since(services.db, record.created_at)
        if new < services.settings.retrain_min_new_ratings:
            return
    if needs_training(services.db, services.settings) is None:
        return
    async with services.retrain_lock:
        try:
            result = await retrain_in_thread(services)
        except TrainingError as exc:
            log.warning("periodic retrain failed, keeping the current model: %s", exc)
            return
    log.info("periodic retrain: now serving v%s", result.record.version)


def schedule_retrain(app: Application, settings: Settings) -> None:
    if settings.retrain_interval > 0 and app.job_queue is not None:
        app.job_queue.run_repeating(
            periodic_retrain,
            interval=settings.retrain_interval,
            first=settings.retrain_interval,
            name="periodic-retrain",
        )
