"""Keep the bot token out of every log line, whoever writes it.

httpx logs each request URL at INFO, and Bot API URLs contain the token; an exception from the
network layer can carry the URL too. Instead of hoping every library behaves, every log record
created in this process has the token replaced before any handler sees it.
"""

from __future__ import annotations

import logging

REDACTED = "<bot-token>"


def redact_token(token: str) -> None:
    """Install (once per token) a log record factory that removes `token` from messages and
    tracebacks, and quiet httpx's per-request lines."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    previous = logging.getLogRecordFactory()
    if token in getattr(previous, "moviebot_tokens", ()):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if token in message:
            record.msg, record.args = message.replace(token, REDACTED), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = text.replace(token, REDACTED)
        return record

    factory.moviebot_tokens = (*getattr(previous, "moviebot_tokens", ()), token)  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
