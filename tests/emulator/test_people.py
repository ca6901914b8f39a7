"""Simulated people: one name, one account, in every run."""

from __future__ import annotations

import json

import pytest

from emulator import DriverError, Emulator
from emulator import people as people_module
from emulator.people import SIM_ID_FIRST, SIM_ID_SPAN


def ids_of(people_file, *names: str) -> dict[str, int]:
    emulator = Emulator(people_file=people_file)
    return {name: emulator.user(name).id for name in names}


def test_a_name_has_the_same_id_whatever_order_names_come_in(tmp_path):
    first = ids_of(None, "Alice", "Bob", "Carol")
    again = ids_of(None, "Frank", "Carol", "Bob", "Alice")
    assert {name: again[name] for name in first} == first
    assert len(set(again.values())) == 4
    assert all(SIM_ID_FIRST <= uid < SIM_ID_FIRST + SIM_ID_SPAN for uid in again.values())
    assert max(again.values()) < 2**52  # what the Bot API promises a user id fits in


def test_colliding_names_are_told_apart_for_good(tmp_path, monkeypatch):
    """Two names whose ids collide: the first one seen keeps it, in every later run too."""
    monkeypatch.setattr(people_module, "derived_id", lambda name: SIM_ID_FIRST + 7)
    book = tmp_path / "people.json"
    first = ids_of(book, "Alice", "Bob")
    assert first == {"Alice": SIM_ID_FIRST + 7, "Bob": SIM_ID_FIRST + 8}
    assert ids_of(book, "Bob", "Alice", "Carol") == {**first, "Carol": SIM_ID_FIRST + 9}
    assert json.loads(book.read_text())["users"]["Carol"] == SIM_ID_FIRST + 9


def test_the_same_name_is_the_same_person(emulator):
    assert emulator.user(" Alice ") is emulator.user("Alice")
    with pytest.raises(DriverError, match="needs a name"):
        emulator.user("  ")


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"format": 2, "users": {}}', '{"users": {"Al": "x"}, "format": 1}']
)
def test_an_unreadable_people_file_is_one_clear_error(tmp_path, text):
    book = tmp_path / "people.json"
    book.write_text(text)
    with pytest.raises(DriverError, match=str(book)):
        Emulator(people_file=book)
