"""A local emulator of the Telegram Bot API that runs any python-telegram-bot application.

- `server.Emulator`: the Bot API over HTTP on 127.0.0.1; point a bot's `base_url` at it.
- `people`: the simulated users and groups a test drives (`emulator.user("Alice")`).
- `faults`: make the bot's next calls fail, hang, drop or hit a flood limit.
- `api`, `world`, `markup`: the methods, the state they act on, Telegram's HTML entities.
- `runner`: start/stop an Application against it inside a running event loop.
- `chat.ChatClient`: a terminal client for chatting with a bot through it.
- `pytest_plugin`: pytest fixtures (`emulator`, `emulator_builder`, `start_bot`); a conftest
  loads it with `pytest_plugins = ["emulator.pytest_plugin"]`, nothing here imports it.
"""

from emulator.api import RateLimits
from emulator.people import DriverError, NoReply, SimGroup, SimUser
from emulator.server import EMULATOR_TOKEN, Connection, Emulator

__all__ = [
    "EMULATOR_TOKEN",
    "Connection",
    "DriverError",
    "Emulator",
    "NoReply",
    "RateLimits",
    "SimGroup",
    "SimUser",
]
