"""Try and test the bot without Telegram: a local Bot API emulator and a terminal chat.

- `emulator.Emulator`: the Bot API over HTTP on 127.0.0.1 plus simulated users and groups.
- `runner`: start/stop a python-telegram-bot Application against it in a running loop.
- `chat.ChatClient`: the terminal client behind `moviebot chat`.
- `testing`: pytest fixtures (`emulator`, `emulator_builder`, `start_bot`).
"""

from emulator.api import RateLimits
from emulator.emulator import SANDBOX_TOKEN, DriverError, Emulator, NoReply, SimGroup, SimUser

__all__ = [
    "SANDBOX_TOKEN",
    "DriverError",
    "Emulator",
    "NoReply",
    "RateLimits",
    "SimGroup",
    "SimUser",
]
