"""Telegram's text formatting, as the server sees it: HTML in, plain text plus entities out.

Telegram parses a message's HTML into visible text and `MessageEntity` objects whose offsets
and lengths count UTF-16 code units. It refuses markup it cannot parse with
"Bad Request: can't parse entities: …" and counts the 4096-character limit on the visible text.
The emulator reproduces that so a bot that forgets to escape a title fails here first.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

# Tag → entity type; attributes are handled in `_entity_for`.
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


class EntityParseError(ValueError):
    """The markup is not what Telegram accepts; the message is Telegram's own wording."""


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    type: str
    offset: int
    extra: dict[str, Any]


class _TelegramHTML(HTMLParser):
    """Collects visible text and entities; raises EntityParseError like Telegram's parser."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.parts: list[str] = []
        self.length = 0  # UTF-16 length of the text so far
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def byte_offset(self, extra_chars: int = 0) -> int:
        """UTF-8 byte offset of the parser's current position (Telegram reports bytes)."""
        line, col = self.getpos()
        index = self._line_starts[line - 1] + col + extra_chars
        return len(self.source[:index].encode("utf-8"))

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def handle_data(self, data: str) -> None:
        bracket = data.find("<")
        if bracket >= 0:
            name = re.split(r"[\s>/]", data[bracket + 1 :], maxsplit=1)[0]
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(bracket)}'
            )
        self._add(data)

    def handle_entityref(self, name: str) -> None:
        end = self.rawdata.find(";", self.rawdata.find("&" + name))
        self._add(_NAMED_ENTITIES.get(name) or f"&{name}{';' if end >= 0 else ''}")

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self._add(chr(code))
        except (ValueError, OverflowError):
            self._add(f"&#{name};")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        entity = self._entity_for(tag, dict(attrs))
        self.stack.append(_Open(tag, entity[0], self.length, entity[1]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self.byte_offset()}")
        top = self.stack.pop()
        if top.tag != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self.byte_offset()}, "
                f'expected "</{top.tag}>", found "</{tag}>"'
            )
        length = self.length - top.offset
        if length > 0:
            self._close(top, length)

    def _close(self, top: _Open, length: int) -> None:
        if top.type == "code" and self.stack and self.stack[-1].type == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            if "language" in top.extra:
                self.stack[-1].extra["language"] = top.extra["language"]
            return
        self.entities.append(
            {"type": top.type, "offset": top.offset, "length": length, **top.extra}
        )

    def _entity_for(self, tag: str, attrs: dict[str, str | None]) -> tuple[str, dict[str, Any]]:
        if tag in _SIMPLE_TAGS:
            extra: dict[str, Any] = {}
            cls = attrs.get("class") or ""
            if tag == "code" and cls.startswith("language-"):
                extra["language"] = cls.removeprefix("language-")
            return _SIMPLE_TAGS[tag], extra
        if tag == "span" and attrs.get("class") == "tg-spoiler":
            return "spoiler", {}
        if tag == "a":
            url = (attrs.get("href") or "").strip()
            return ("text_link", {"url": url}) if url else ("bold", {})
        if tag == "blockquote":
            kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
            return kind, {}
        if tag == "tg-emoji" and attrs.get("emoji-id"):
            return "custom_emoji", {"custom_emoji_id": attrs["emoji-id"]}
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset()}')

    def unknown_decl(self, data: str) -> None:
        raise EntityParseError(
            f'Unsupported start tag "!{data}" at byte offset {self.byte_offset()}'
        )

    def handle_comment(self, data: str) -> None:
        raise EntityParseError(f'Unsupported start tag "!--" at byte offset {self.byte_offset()}')

    def handle_decl(self, decl: str) -> None:
        self.handle_comment(decl)  # Telegram reports a declaration like a comment

    def handle_pi(self, data: str) -> None:
        self.handle_comment(data)  # and a processing instruction too

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        rest = self.rawdata
        if rest.startswith("<"):
            offset = len(self.source.encode()) - len(rest.encode())
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        self.close()
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Visible text and entities of a message sent with parse_mode=HTML."""
    parser = _TelegramHTML(source)
    parser.feed(source)
    return parser.finish()


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does, moving entities with the text."""
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    stripped = text.strip()
    end = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        stop = min(entity["offset"] + entity["length"] - lead, end)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


def command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entities Telegram attaches to a user's message."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in _COMMAND.finditer(text)
    ]


_HTML_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ("<tg-spoiler>", "</tg-spoiler>"),
    "code": ("<code>", "</code>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote expandable>", "</blockquote>"),
}


def _tags(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity["type"]
    if kind == "text_link":
        return f'<a href="{html.escape(entity["url"])}">', "</a>"
    if kind == "pre":
        lang = entity.get("language")
        if lang:
            return f'<pre><code class="language-{html.escape(lang)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{entity["custom_emoji_id"]}">', "</tg-emoji>"
    return _HTML_TAGS.get(kind, ("", ""))


def to_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Render text and entities back to the HTML Telegram would accept for them."""
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        start, end = entity["offset"], entity["offset"] + entity["length"]
        open_tag, close_tag = _tags(entity)
        opens.setdefault(start, []).append(open_tag)
        closes.setdefault(end, []).insert(0, close_tag)
    out: list[str] = []
    pos = 0
    for char in text:
        out += closes.pop(pos, []) + opens.pop(pos, [])
        out.append(html.escape(char, quote=False))
        pos += utf16_len(char)
    out += closes.pop(pos, [])
    return "".join(out)
