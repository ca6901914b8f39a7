"""The `moviebot` command: a thin layer over the library that turns its errors into messages.

Each group of subcommands lives in `bot/commands/<name>.py` and exposes
`register(subparsers, parent)`; every parser it adds takes `parents=[parent]` and sets
`func(args, settings) -> int`. Modules are found by listing the package, in name order.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

# implicit and numpy read these when BLAS loads: set them before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from bot import commands, logs
from bot.settings import Settings, SettingsError
from storage.db import StorageError


class CLIError(Exception):
    """An error the user can fix; printed as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moviebot",
        description="A Telegram bot that recommends movies, and the tools around it.",
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite file (default: MOVIEBOT_DB)")
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers, common_parent())
    return parser


def common_parent() -> argparse.ArgumentParser:
    """Options every subcommand accepts after its name too (`moviebot train --db x.sqlite`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db", metavar="PATH", default=argparse.SUPPRESS, help="SQLite file (default: MOVIEBOT_DB)"
    )
    return parent


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the token; the handler
    # gets bot.logs' Redactor, which removes the token and the webhook secret once registered
    # (and python-telegram-bot's DEBUG lines that carry what users wrote).
    logs.install()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(env_file=args.env_file).with_db(args.db)
        logs.protect(settings.token, *settings.secrets)
        setup_logging("DEBUG" if args.verbose else settings.log_level)
        return int(args.func(args, settings) or 0)
    except (CLIError, SettingsError, StorageError) as exc:
        print(f"moviebot: {logs.redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("moviebot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
