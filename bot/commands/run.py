"""`moviebot run` (the bot on Telegram) and `moviebot start` (on Telegram, or offline)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.settings import Settings


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    run = subparsers.add_parser(
        "run",
        parents=[parent],
        help="run the bot on Telegram (long polling, or a webhook when configured)",
        description=(
            "Run the bot with TELEGRAM_BOT_TOKEN against TELEGRAM_API_BASE_URL (Telegram by "
            "default). Uses a webhook when MOVIEBOT_WEBHOOK_URL and MOVIEBOT_WEBHOOK_SECRET "
            "are set, long polling otherwise."
        ),
    )
    run.set_defaults(func=run_bot)
    start = subparsers.add_parser(
        "start",
        parents=[parent],
        help="`run` when a token is configured, otherwise the offline `chat`",
    )
    start.set_defaults(func=start_bot)


def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    """Serve Telegram until interrupted."""
    from bot.app import StartupError, run
    from bot.cli import CLIError
    from bot.services import check_storage

    settings.require_token()
    # A read-only database file or folder: one line and exit 1 (StorageUnavailable), before
    # connecting to Telegram, rather than a bot that answers every rating "Sorry…".
    check_storage(settings)
    try:
        run(settings)
    except StartupError as exc:
        raise CLIError(str(exc)) from None
    return 0


def start_bot(args: argparse.Namespace, settings: Settings) -> int:
    """What the README's first command ends with."""
    if settings.token:
        return run_bot(args, settings)
    from bot.commands import chat

    print(
        "No TELEGRAM_BOT_TOKEN configured: starting the offline chat instead "
        "(see README → Running on Telegram).\n"
    )
    parser = argparse.ArgumentParser(add_help=False)
    chat.register(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    chat_args = parser.parse_args(["chat"])
    chat_args.verbose = args.verbose
    return chat_args.func(chat_args, settings)
