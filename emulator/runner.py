"""Run a python-telegram-bot Application against the emulator inside an existing event loop.

`Application.run_polling` owns the loop and blocks; tests and the terminal chat need the bot
running next to other coroutines, so this repeats its start and stop sequence step by step
(including `post_init`, `post_stop` and `post_shutdown`, which only run_polling calls).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from emulator.server import Emulator

# Whatever bot, context and data types the application was built with.
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
AnyBuilder = ApplicationBuilder[Any, Any, Any, Any, Any, Any]


def application_builder(emulator: Emulator) -> AnyBuilder:
    """An ApplicationBuilder already pointed at `emulator` (token, base_url, base_file_url)."""
    return (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
    )


async def start_application(
    app: AnyApplication,
    *,
    poll_timeout: float = 10.0,
    allowed_updates: Sequence[str] | None = None,
) -> None:
    """initialize → post_init → start polling → start, as run_polling does.

    `allowed_updates=None` keeps Telegram's default (no chat_member updates), like
    `run_polling()` without arguments; pass `telegram.Update.ALL_TYPES` for everything.
    """
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    if app.updater is None:
        raise RuntimeError("the Application has no Updater; build it with an updater to poll")
    await app.updater.start_polling(
        poll_interval=0.0, timeout=int(poll_timeout), allowed_updates=allowed_updates
    )
    await app.start()


async def stop_application(app: AnyApplication) -> None:
    """Stop polling, stop, post_stop, shutdown, post_shutdown — what run_polling does on exit."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)


@asynccontextmanager
async def running(
    app: AnyApplication,
    *,
    poll_timeout: float = 10.0,
    allowed_updates: Sequence[str] | None = None,
) -> AsyncIterator[AnyApplication]:
    """`async with running(app):` — the bot polls the emulator for the duration."""
    await start_application(app, poll_timeout=poll_timeout, allowed_updates=allowed_updates)
    try:
        yield app
    finally:
        await stop_application(app)


def handling_updates(app: AnyApplication) -> bool:
    """True while the Application has updates queued or a handler running: busy without
    calling the API (a chart, a retrain), which the emulator cannot see from outside."""
    return not app.update_queue.empty() or app.update_processor.current_concurrent_updates > 0
