"""Telegram's HTML rules as the emulator applies them to what the bot sends."""

from __future__ import annotations

import pytest

from emulator.markup import EntityParseError, command_entities, parse_html, strip_text, to_html


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("<b>Heat</b> (1995)", "Heat (1995)", [("bold", 0, 4)]),
        ("Tom &amp; Jerry: &lt;The Movie&gt;", "Tom & Jerry: <The Movie>", []),
        ("<i>a<b>b</b></i>", "ab", [("italic", 0, 2), ("bold", 1, 1)]),
        ("😀<u>x</u>", "😀x", [("underline", 2, 1)]),  # offsets count UTF-16 units
        ('<a href="https://x.org">link</a>', "link", [("text_link", 0, 4)]),
        ('<span class="tg-spoiler">s</span>', "s", [("spoiler", 0, 1)]),
        ("&#65;&#x42; &nbsp;", "AB &nbsp;", []),
        ("<b></b>x", "x", []),
    ],
)
def test_html_becomes_text_and_entities(source, text, entities):
    parsed_text, parsed = parse_html(source)
    assert parsed_text == text
    assert [(e["type"], e["offset"], e["length"]) for e in parsed] == entities


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("Tom & Jerry: <The Movie>", 'Unsupported start tag "the" at byte offset 13'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("é</b>", "Unexpected end tag at byte offset 2"),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_bad_html_is_refused_with_telegrams_words(source, error):
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    "source",
    [
        "<b>Heat</b> &amp; <i>Alien</i>",
        '<a href="https://example.org/?a=1&amp;b=2">x</a> <code>1 &lt; 2</code>',
        '<pre><code class="language-python">print(1)</code></pre>',
        "<b>a <i>b</i></b> 😀 <s>c</s>",
    ],
)
def test_entities_render_back_to_equivalent_html(source):
    text, entities = parse_html(source)
    assert parse_html(to_html(text, entities)) == (text, entities)


def test_surrounding_whitespace_is_trimmed_and_entities_follow():
    text, entities = strip_text("  \nHeat  ", [{"type": "bold", "offset": 3, "length": 6}])
    assert text == "Heat"
    assert entities == [{"type": "bold", "offset": 0, "length": 4}]


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("/start", [(0, 6)]),
        ("/rate@moviebot_bot 5", [(0, 18)]),
        ("see /help or /about", [(4, 5), (13, 6)]),
        ("path/not/a/command and a/b", []),
    ],
)
def test_user_commands_get_bot_command_entities(text, commands):
    assert [(e["offset"], e["length"]) for e in command_entities(text)] == commands
