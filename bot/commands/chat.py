"""`moviebot chat`: try the bot with no Telegram token, through a local Bot API emulator."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "chat",
        parents=[parent],
        help="chat with the bot offline (local Telegram emulator, no token needed)",
        description=(
            "Start a local Telegram Bot API emulator, run the bot against it and chat with it "
            "in the terminal. Buttons are numbered: type the number to press one. "
            "Type /? inside for the client's own commands."
        ),
    )
    parser.add_argument(
        "--script",
        action="store_true",
        help="print a transcript, waiting for the bot after each input line (the default "
        "when stdin is not a terminal)",
    )
    parser.add_argument("--name", default="Alice", help="the simulated user you start as")
    parser.add_argument(
        "--files",
        metavar="DIR",
        type=Path,
        help="where photos and documents the bot sends are saved (default: DATA_DIR/chat-files)",
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:FUNCTION",
        help="run another bot: FUNCTION(settings) returns an Application or ApplicationBuilder",
    )
    parser.add_argument(
        "--rate-limits", action="store_true", help="enforce Telegram's flood limits (429)"
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=0.3,
        metavar="SECONDS",
        help="script mode: the bot is done when it has been quiet this long (default 0.3)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="script mode: longest wait for the bot after one line (default 30)",
    )
    parser.set_defaults(func=run_chat)


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Run emulator, bot and terminal client in one event loop until /quit or end of input."""
    from bot.cli import CLIError

    factory = load_factory(args.app) if args.app else None
    if args.idle <= 0 or args.timeout <= 0:
        raise CLIError("--idle and --timeout must be positive numbers of seconds")
    if not args.verbose:
        for name in ("telegram", "apscheduler", "aiohttp"):
            logging.getLogger(name).setLevel(logging.WARNING)
    files = args.files or settings.data_dir / "chat-files"
    return asyncio.run(chat_session(args, settings, factory, files))


async def chat_session(
    args: argparse.Namespace,
    settings: Settings,
    factory: Callable[[Settings], Any] | None,
    files: Path,
) -> int:
    from telegram import Update

    from bot.cli import CLIError
    from emulator import DriverError, Emulator, RateLimits
    from emulator.chat import ChatClient, read_lines
    from emulator.runner import handling_updates, running

    # Groups are new in every run (private chats are not): the emulator forgets its polls
    # when it stops, so a vote left open in an earlier run must not hold the group.
    # People are the same in every run: their ratings are in the database.
    try:
        emulator = Emulator(
            rate_limits=RateLimits() if args.rate_limits else None,
            first_group_number=1 + secrets.randbelow(10**9),
            people_file=people_file(settings),
        )
    except DriverError as exc:
        raise CLIError(str(exc)) from None
    async with emulator:
        offline_settings = emulator.settings(settings)
        app, services = build_bot(offline_settings, factory)
        try:
            async with running(app, allowed_updates=Update.ALL_TYPES):  # as `moviebot run`
                await emulator.wait_polling()
                script = args.script or not sys.stdin.isatty()  # a pipe gets a transcript
                client = ChatClient(
                    emulator,
                    sys.stdout,
                    files,
                    name=args.name,
                    script=script,
                    bot_busy=lambda: handling_updates(app),
                )
                await client.run(read_lines(sys.stdin), quiet=args.idle, timeout=args.timeout)
        finally:
            close = getattr(services, "close", None)
            if callable(close):
                close()
    return 0


def people_file(settings: Settings) -> Path | None:
    """Where the simulated users' ids are kept: next to the database their ratings are in."""
    if str(settings.db_path) == ":memory:":
        return None
    return settings.db_path.with_suffix(".chat-people.json")


def build_bot(settings: Settings, factory: Callable[[Settings], Any] | None) -> tuple[Any, Any]:
    """The Application to run (and the services to close afterwards, if any)."""
    from telegram.ext import ApplicationBuilder

    from bot.cli import CLIError

    if factory is not None:
        app = factory(settings)
        return (app.build() if isinstance(app, ApplicationBuilder) else app), None
    try:
        from bot.app import build_application
        from bot.services import open_services
    except ImportError as exc:
        raise CLIError(f"the bot cannot be loaded ({exc}); try --app MODULE:FUNCTION") from exc
    services = open_services(settings)
    return build_application(settings, services), services


def load_factory(spec: str) -> Callable[[Settings], Any]:
    """`package.module:function` → the function."""
    from bot.cli import CLIError

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CLIError(f"--app takes MODULE:FUNCTION, got {spec!r}")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # like `python -m` and uvicorn: modules under the current folder
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(f"--app: cannot import {module_name}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise CLIError(f"--app: {module_name} has no function {attr}")
    return factory
