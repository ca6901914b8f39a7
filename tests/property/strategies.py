"""Hostile text for the property tests: anything unicode, control characters and bidi
overrides, HTML, and huge input."""

from __future__ import annotations

from hypothesis import strategies as st

CONTROLS = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
NASTY = ["<b>", "</i>", "&amp;", "&", "<", ">", '"', "'", "<script>", "&#0;", "\u200b", "\ufeff"]

# Any character UTF-8 can carry (what Telegram delivers, and what a file we import can hold),
# and the invisible ones often.
hostile_char = st.one_of(st.characters(codec="utf-8"), st.sampled_from(CONTROLS + BIDI))
hostile_text = st.one_of(
    st.text(hostile_char, max_size=60),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(hostile_char, max_size=5)), max_size=12).map(
        "".join
    ),
)
huge_text = st.builds(lambda part, n: (part or "x") * n, hostile_text, st.integers(100, 3000))
any_text = st.one_of(hostile_text, huge_text)
