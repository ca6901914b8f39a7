"""pytest fixtures that run a python-telegram-bot application against the emulator.

Only a conftest loads this (`pytest_plugins = ["emulator.pytest_plugin"]`); nothing in the
emulator imports it, so running a bot against the emulator never needs pytest. A test then
reads like a conversation:

    @pytest.fixture
    async def echobot(start_bot):
        return await start_bot(build)  # build(settings) -> Application | ApplicationBuilder

    async def test_start(emulator, echobot):
        alice = emulator.user("Alice")
        await alice.send("/start")
        reply = await alice.next_message()
        assert "rate" in reply.text
        await alice.press(reply, "★4")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from telegram import Update
from telegram.ext import ApplicationBuilder

from emulator.runner import (
    AnyApplication,
    AnyBuilder,
    application_builder,
    start_application,
    stop_application,
)
from emulator.server import Connection, Emulator

AppFactory = Callable[[Connection], AnyApplication | AnyBuilder] | AnyApplication | AnyBuilder
StartBot = Callable[..., Awaitable[AnyApplication]]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator on a free 127.0.0.1 port (no flood limits), stopped after the test."""
    async with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator_builder(emulator: Emulator) -> AnyBuilder:
    """An ApplicationBuilder pointed at the emulator, for tests that build their own bot."""
    return application_builder(emulator)


@pytest.fixture
async def start_bot(emulator: Emulator) -> AsyncIterator[StartBot]:
    """Start an Application against the emulator; everything started is stopped afterwards.

    `await start_bot(factory)` where factory is an Application, an ApplicationBuilder, or a
    callable taking `emulator.settings()` (a Connection: `token`, `api_base_url`) and
    returning either. Keyword arguments: `poll_timeout`, `allowed_updates` (default: every
    update type; None = Telegram's default, no chat_member).
    Returns once the bot is long polling, so what a test does next reaches it.
    """
    started: list[AnyApplication] = []

    async def start(
        factory: AppFactory,
        *,
        poll_timeout: float = 10.0,
        allowed_updates: Sequence[str] | None = Update.ALL_TYPES,
    ) -> AnyApplication:
        made = factory(emulator.settings()) if callable(factory) else factory
        app = made.build() if isinstance(made, ApplicationBuilder) else made
        await start_application(app, poll_timeout=poll_timeout, allowed_updates=allowed_updates)
        started.append(app)
        emulator.busy_checks.append(lambda: handling(app))
        if not await emulator.wait_polling(timeout=5.0):
            raise RuntimeError("the bot started but never polled the emulator for updates")
        return app

    yield start
    for app in reversed(started):
        await stop_application(app)
    emulator.busy_checks.clear()


def handling(app: AnyApplication) -> bool:
    """Whether the Application has updates queued or in its handlers."""
    return app.update_queue.qsize() > 0 or app.update_processor.current_concurrent_updates > 0
