"""What Telegram accepts in a reply, checked strictly: HTML of its tags only, balanced, every
`<`, `>` and `&` of the text escaped; within the length limits; no control character or bidi
override shown; buttons with callback data of at most 64 bytes."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardMarkup

MAX_TEXT, MAX_CAPTION, MAX_CALLBACK = 4096, 1024, 64
# Telegram's HTML parse mode: https://core.telegram.org/bots/api#html-style
TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
INVISIBLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _plain(part: str, whole: str) -> None:
    assert "<" not in part and ">" not in part, f"unescaped < or > in {whole!r}"
    for amp in re.finditer("&", part):
        assert _ENTITY.match(part, amp.start()), f"unescaped & in {whole!r}"


def check_html(text: str, limit: int = MAX_TEXT) -> None:
    """`text` is a message Telegram takes with parse_mode=HTML."""
    assert text.strip(), "an empty message"
    assert len(text) <= limit, f"{len(text)} characters, over {limit}"
    stack: list[str] = []
    end = 0
    for tag in _TAG.finditer(text):
        _plain(text[end : tag.start()], text)
        closing, name = tag[1], tag[2].lower()
        assert name in TAGS, f"<{name}> is not a Telegram tag: {text!r}"
        if closing:
            assert stack and stack.pop() == name, f"</{name}> closes nothing open: {text!r}"
        else:
            stack.append(name)
        end = tag.end()
    _plain(text[end:], text)
    assert not stack, f"<{stack[-1]}> is never closed: {text!r}"
    shown = html.unescape(_TAG.sub("", text))
    assert not INVISIBLE.search(shown), f"a control or bidi character shown: {shown!r}"


def check_plain(text: str, limit: int) -> None:
    """A plain text (a pop-up answer, a poll option): within `limit`, nothing invisible."""
    assert len(text) <= limit and not INVISIBLE.search(text), repr(text)


def check_keyboard(keyboard: InlineKeyboardMarkup | None) -> None:
    if keyboard is None:
        return
    for row in keyboard.inline_keyboard:
        assert row, "an empty row of buttons"
        for button in row:
            assert button.text.strip() and not INVISIBLE.search(button.text), repr(button.text)
            data = button.callback_data
            if data is not None:
                assert isinstance(data, str) and len(data.encode()) <= MAX_CALLBACK, data


def check_reply(text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    check_html(text)
    check_keyboard(keyboard)
