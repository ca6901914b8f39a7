"""Keep secrets and what users type out of every line the bot writes, whoever writes it.

httpx logs each request URL, and Bot API URLs contain the token; an exception from the network
layer or from python-telegram-bot (`InvalidToken: The token ... was rejected`) carries it too;
at DEBUG python-telegram-bot logs every call's parameters (the webhook secret, the text of each
reply) and every update (what users wrote). Instead of hoping every library behaves:

- `protect(token, webhook_secret)` registers the secrets with one `Redactor`, a logging.Filter
  that sits on every root handler (and `logging.lastResort`) and also runs when each record is
  created, so handlers added later (pytest's) get clean records too. It replaces each secret,
  and the token's URL-encoded forms, in the message, the traceback text and the stack.
- The python-telegram-bot DEBUG lines that carry message content are rewritten to ids, sizes and
  parameter names before they are formatted.
- `redact(text)` does the same for what the CLI prints itself.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

REDACTED = "<bot-token>"
SECRET = "<secret>"
# Bot API parameters whose values are ids, kept in DEBUG lines; every other value is elided.
ID_PARAMS = frozenset({"chat_id", "message_id", "user_id", "offset", "limit", "timeout"})


def _params(data: object) -> object:
    if not isinstance(data, dict):
        return type(data).__name__
    return {k: (v if k in ID_PARAMS else "…") for k, v in data.items()}


def _result(value: object) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__


def _update(update: object) -> str:
    update_id = getattr(update, "update_id", None)
    return f"update {update_id}" if update_id is not None else type(update).__name__


def _size(data: object) -> str:
    return f"{len(data)} characters" if isinstance(data, (str, bytes)) else type(data).__name__


# python-telegram-bot's DEBUG lines that carry message content → their arguments, content-free.
CONTENT_LINES: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
    "Calling Bot API endpoint `%s` with parameters `%s`": lambda a: (a[0], _params(a[1])),
    "Call to Bot API endpoint `%s` finished with return value `%s`": lambda a: (
        a[0],
        _result(a[1]),
    ),
    "Processing update %s": lambda a: (_update(a[0]),),
    "Dropping pending update: %s": lambda a: (_update(a[0]),),
    "Webhook received data: %s": lambda a: (_size(a[0]),),
}


class Redactor(logging.Filter):
    """Removes the registered secrets (and message content) from each record it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}

    def add(self, secret: str, label: str) -> None:
        forms = {secret, quote(secret), quote(secret, safe="")}
        if label == REDACTED and ":" in secret:  # the part after the bot id is the secret one
            forms.add(secret.split(":", 1)[1])
        for form in forms:
            if len(form) >= 6:  # never a short string that ordinary text contains
                self.secrets.setdefault(form, label)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, self.secrets[secret])
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        self.scrub(record)
        return True

    def scrub(self, record: logging.LogRecord) -> None:
        shorten = CONTENT_LINES.get(record.msg) if isinstance(record.msg, str) else None
        if shorten is not None and isinstance(record.args, tuple):
            try:  # formatted now, so that the next handler does not shorten it again
                record.msg, record.args = record.msg % shorten(record.args), ()
            except Exception:  # not the shape we know: say less rather than too much
                record.msg, record.args = f"{record.msg.split('%', 1)[0]}(content elided)", ()
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the arguments
            message = f"{record.msg} (arguments dropped: they do not fit the format)"
            record.msg, record.args = message, ()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


REDACTOR = Redactor()
_factory_installed = False


def redact(text: str) -> str:
    """`text` without any registered secret (for what is printed rather than logged)."""
    return REDACTOR.redact(text)


def install() -> None:
    """Put the Redactor on every root handler and on record creation (idempotent)."""
    global _factory_installed
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    if not _factory_installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            REDACTOR.scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        sys.excepthook = _print_redacted
        _factory_installed = True


def _print_redacted(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    """An uncaught exception's traceback, as Python prints it, without the secrets."""
    sys.stderr.write(REDACTOR.redact("".join(traceback.format_exception(kind, error, tb))))


def protect(token: str | None, webhook_secret: str | None = None, *others: str | None) -> None:
    """Register the bot token, the webhook secret and `others` (the TMDb key and token); from
    now on no log line carries them."""
    if token:
        REDACTOR.add(token, REDACTED)
    for secret in (webhook_secret, *others):
        if secret:
            REDACTOR.add(secret, SECRET)
    install()
