"""`moviebot chat`: try the bot with no Telegram token, through a local Bot API emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
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
        "--log",
        metavar="PATH",
        type=Path,
        help="where the bot's log goes, so it does not break into the chat "
        "(default: DATA_DIR/chat.log; - for the terminal)",
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
    if factory is None:  # a read-only database: one line now, before the emulator starts
        from bot.services import check_storage

        check_storage(settings)
    if not args.verbose:
        for name in ("telegram", "apscheduler", "aiohttp"):
            logging.getLogger(name).setLevel(logging.WARNING)
    files = args.files or settings.data_dir / "chat-files"
    log_file = None if str(args.log) == "-" else args.log or settings.data_dir / "chat.log"
    with log_to(log_file) as errors:
        code = asyncio.run(chat_session(args, settings, factory, files, errors))
    if errors.count:
        print(f"moviebot: the bot logged {errors.count} error(s); see {log_file}", file=sys.stderr)
    return code


async def chat_session(
    args: argparse.Namespace,
    settings: Settings,
    factory: Callable[[Settings], Any] | None,
    files: Path,
    errors: ErrorNotices,
) -> int:
    from telegram import Update

    from bot.cli import CLIError
    from emulator import DriverError, Emulator, RateLimits
    from emulator.chat import ChatClient, known_name, read_lines
    from emulator.runner import handling_updates, running

    # Groups are new in every run (private chats are not): the emulator forgets its polls
    # when it stops, so a vote left open in an earlier run must not hold the group.
    # People are the same in every run: their ratings are in the database.
    try:
        emulator = Emulator(
            rate_limits=RateLimits() if args.rate_limits else None,
            first_group_number=1 + secrets.randbelow(10**9),
            people_file=people_file(settings) if factory is None else None,
        )
    except DriverError as exc:
        raise CLIError(str(exc)) from None
    async with emulator:
        # The user you start as is an admin of the bot here (it is all local): /retrain and
        # /stats work without first looking up an id for MOVIEBOT_ADMIN_IDS.
        starter = emulator.user(known_name(emulator, args.name))
        admins = settings.admin_ids | {starter.id}
        offline_settings = replace(emulator.settings(settings), admin_ids=admins)
        app, services = build_bot(offline_settings, factory)
        script = args.script or not sys.stdin.isatty()  # a pipe gets a transcript
        try:
            async with (
                web_app(app, offline_settings, services, starter, script) as web_note,
                running(app, allowed_updates=Update.ALL_TYPES),  # as `moviebot run`
            ):
                await emulator.wait_polling()
                client = ChatClient(
                    emulator,
                    sys.stdout,
                    files,
                    name=starter.name,
                    script=script,
                    # a retrain (the bot's own at start, or /retrain) is work it does too
                    bot_busy=lambda: handling_updates(app) or training_now(services),
                    admins=admins if factory is None else (),
                    notes="\n".join(
                        n
                        for n in (chat_notes(starter.name, factory is None, errors.path), web_note)
                        if n
                    ),
                )
                errors.loop, errors.show = asyncio.get_running_loop(), client.notice
                await client.run(read_lines(sys.stdin), quiet=args.idle, timeout=args.timeout)
        finally:
            close = getattr(services, "close", None)
            if callable(close):
                close()
    return 0


@contextlib.asynccontextmanager
async def web_app(
    app: Any, settings: Settings, services: Any, starter: Any, script: bool
) -> AsyncIterator[str]:
    """The web app on 127.0.0.1 for the real bot (MOVIEBOT_WEB=0: none), and a sign-in link
    for the simulated user: printed before the chat (to stderr under a transcript, which
    stays the chat's alone). Yields the line for the chat's help (/?)."""
    if services is None or not settings.web:
        yield ""
        return
    from bot.handlers.web import WEB_BASE_URL
    from bot.services.people import Person
    from web.server import serving

    local = replace(settings, web_listen="127.0.0.1")
    async with serving(local, lambda: services, fall_back_to_any_port=True) as server:
        assert server is not None
        app.bot_data[WEB_BASE_URL] = server.base_url
        token = services.web.link_token(Person(starter.id, starter.name))
        note = (
            f"The web app is at {server.base_url} — sign in as {starter.name} (once, within "
            f"10 minutes): {server.sign_in_link(token)} ; /web in the chat makes a new link."
        )
        print(note, file=sys.stderr if script else sys.stdout, flush=True)
        yield note


def chat_notes(starter: str, moviebot: bool, log_file: Path | None) -> str:
    """What the chat's help (/?) says about this bot: its admins, and where its log goes."""
    notes = []
    if moviebot:
        notes.append(
            f"{starter}, the user you started as, is an admin of the bot here: /retrain and "
            "/stats work. To make someone else one, put their id (see /who) in "
            "MOVIEBOT_ADMIN_IDS, or start as them with --name."
        )
    if log_file is not None:
        notes.append(f"The bot's log goes to {log_file} (errors are mentioned here too).")
    return "\n".join(notes)


class ErrorNotices(logging.Handler):
    """Counts the bot's ERROR records and mentions each in the chat, in one line: the log
    file has the details. Records from worker threads reach the chat through its loop."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(logging.ERROR)
        self.path = path
        self.count = 0
        self.show: Callable[[str], None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.show is None or self.loop is None or self.path is None:
            return
        first_line = (record.getMessage().splitlines() or [""])[0][:120]
        text = f"(the bot logged an error: {first_line} — details in {self.path})"
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(self.show, text)


@contextlib.contextmanager
def log_to(path: Path | None) -> Iterator[ErrorNotices]:
    """For the chat, send the log to `path` instead of the terminal, where its lines would
    break into the prompt (None: leave it on the terminal). Yields the error counter."""
    root = logging.getLogger()
    console: list[logging.Handler] = [
        h
        for h in root.handlers
        if type(h) is logging.StreamHandler and h.stream in (sys.stderr, sys.__stderr__)
    ]
    errors = ErrorNotices(path)
    handlers: list[logging.Handler] = [errors]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(path, mode="w", encoding="utf-8")
        to_file.setFormatter(
            console[0].formatter
            if console and console[0].formatter
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handlers.append(to_file)
        for removed in console:
            root.removeHandler(removed)
        logging.captureWarnings(True)  # warnings, too, would print over the prompt
    for added in handlers:
        root.addHandler(added)
    try:
        yield errors
    finally:
        for added in handlers:
            root.removeHandler(added)
            added.close()
        for removed in console:
            root.addHandler(removed)
        if path is not None:
            logging.captureWarnings(False)


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
        from bot.services import heap, open_services
    except ImportError as exc:
        raise CLIError(f"the bot cannot be loaded ({exc}); try --app MODULE:FUNCTION") from exc
    services = open_services(settings)
    heap.settle()  # as `moviebot run` does once its services are open
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


def training_now(services: Any) -> bool:
    """Is our bot (not an --app one: no services) retraining now?"""
    return services is not None and services.training.running
