"""The callback-data codec under arbitrary input: anything a client sends decodes to a genuine
button or is refused cleanly; every button we make round-trips and fits Telegram's 64 bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import keyboards as kb
from bot.keyboards import MAX_CALLBACK_BYTES, Callback, CallbackCodec, ExpiredButtonError
from tests.property.strategies import hostile_text

CODEC = CallbackCodec("123456:property-test-token")
ACTIONS = [value for value in vars(kb).values() if isinstance(value, kb.Action)]
scopes = st.integers(-(10**13), 10**13)  # user ids and group chat ids (negative)
# What a client could send: anything, bytes read as text, and near misses of real buttons.
near_misses = st.from_regex(r"[a-z]{1,2}(\.-?\d{1,20}){0,6}\.[A-Za-z0-9_=-]{0,10}", fullmatch=True)
callback_data = st.one_of(
    hostile_text,
    st.binary(max_size=100).map(lambda raw: raw.decode("utf-8", errors="replace")),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
    near_misses,
    st.none(),
)


@given(callback_data, scopes)
@settings(max_examples=400, deadline=None)
def test_anything_a_client_sends_is_a_genuine_button_or_refused(data, scope):
    try:
        pressed = CODEC.decode(data, scope)
    except ExpiredButtonError:
        return
    # Only what we signed decodes: re-encoding it gives the very same data.
    assert CODEC.encode(pressed.action, scope=scope, **pressed.values) == data


@st.composite
def buttons(draw):
    action = draw(st.sampled_from(ACTIONS))
    values = {f: draw(st.integers(-(2**40), 2**40)) for f in action.fields}
    return action, values


@given(buttons(), scopes)
@settings(max_examples=300, deadline=None)
def test_every_button_round_trips_within_64_bytes_and_only_in_its_scope(button, scope):
    action, values = button
    try:
        data = CODEC.encode(action, scope=scope, **values)
    except ValueError as exc:  # refused only for being too long
        assert "over 64 bytes" in str(exc)
        return
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    assert CODEC.decode(data, scope) == Callback(action, values)
    for other in (scope + 1, -scope - 1):
        try:
            CODEC.decode(data, other)
        except ExpiredButtonError:
            continue
        raise AssertionError(f"{data!r} decoded in scope {other}, made for {scope}")


@given(buttons(), scopes, st.data())
@settings(max_examples=300, deadline=None)
def test_a_button_changed_anywhere_is_refused(button, scope, data):
    action, values = button
    try:
        genuine = CODEC.encode(action, scope=scope, **values)
    except ValueError:
        return
    at = data.draw(st.integers(0, len(genuine) - 1))
    replacement = data.draw(st.text(min_size=0, max_size=3))
    forged = genuine[:at] + replacement + genuine[at + 1 :]
    if forged == genuine:
        return
    try:
        pressed = CODEC.decode(forged, scope)
    except ExpiredButtonError:
        return
    # "-0" for "0" and the like sign differently: only a byte-identical button decodes.
    raise AssertionError(f"forged {forged!r} decoded as {pressed}")


def test_realistic_buttons_always_fit():
    """The biggest values the bot puts in a button (movie ids, offsets, genre masks, years)."""
    for action in ACTIONS:
        values = {f: (2**31 - 1 if f != "genres" else 2**24 - 1) for f in action.fields}
        data = CODEC.encode(action, scope=-(10**13), **values)
        assert len(data.encode()) <= MAX_CALLBACK_BYTES, data
