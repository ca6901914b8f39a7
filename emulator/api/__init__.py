"""The Bot API methods the emulator implements, with Telegram's shapes and error wording.

Each `api_<lowercased method>` takes the decoded parameters and returns the `result` value,
or raises `ApiError`, which the server turns into `{"ok": false, "error_code", "description"}`.
The methods are grouped by subject, one module each, over the shared state and checks of
`base.ApiBase`; `BotApi` is all of them together.
"""

from emulator.api.base import ApiConfig, ApiError, Params, PollingState, RateLimits, Upload
from emulator.api.chats import ChatMethods
from emulator.api.files import FileMethods, image_size
from emulator.api.messages import MessageMethods
from emulator.api.polls import PollMethods
from emulator.api.setup import SetupMethods
from emulator.api.updates import UpdateMethods


class BotApi(SetupMethods, UpdateMethods, MessageMethods, FileMethods, PollMethods, ChatMethods):
    """Every method the emulator implements, over one World."""


__all__ = [
    "ApiConfig",
    "ApiError",
    "BotApi",
    "Params",
    "PollingState",
    "RateLimits",
    "Upload",
    "image_size",
]
