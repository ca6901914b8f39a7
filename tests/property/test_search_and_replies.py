"""Title search and the replies around it under hostile input: arbitrary unicode, control
characters and bidi overrides, HTML, huge text; in what people type and in the titles and names
that come from imported files. No exception, bounded time, and every reply one Telegram takes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import render
from bot.keyboards import CallbackCodec
from bot.services import Services
from bot.services.catalog import MAX_INPUT, About, Card, Found, Scale
from bot.services.people import Person
from bot.settings import Settings
from recommender.hybrid import ModelHolder
from storage import movies
from storage.db import Database
from storage.movies import Movie
from storage.search import TitleIndex
from tests.conftest import TINY_MOVIES
from tests.property.strategies import BIDI, any_text, hostile_text
from tests.property.telegram import check_html, check_keyboard, check_plain, check_reply

CODEC = CallbackCodec("123456:property-test-token")
SCALE: Scale = (1.0, 5.0, 1.0)
PERSON = Person(7, "Mallory\u202e")
HOSTILE_TITLES = [
    Movie(101, f"Evil {BIDI[4]}gpj.exe{BIDI[2]} (Part\x00 2)", 2001, ("Horror",)),
    Movie(102, "Line\nbreak\tand\x1b[31mcolour", 1999, ("Drama",)),
    Movie(103, "<b>Bold</b> & <i>Brave</i>, The", None, ("Action",)),
    Movie(104, "Ω" * 500, 2020, ()),
]
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    db = Database(":memory:")
    movies.upsert_many(db, [*TINY_MOVIES, *HOSTILE_TITLES])
    yield Services(Settings(db_path=db.path), db, ModelHolder(None), TitleIndex.from_db(db))
    db.close()


def catalogue_counts(db: Database) -> tuple:
    return db.conn.execute(
        "SELECT (SELECT count(*) FROM movies), (SELECT count(*) FROM users), "
        "(SELECT count(*) FROM ratings), (SELECT count(*) FROM meta)"
    ).fetchone()


@given(query=any_text)
@fast
def test_any_typed_text_is_searched_quickly_and_answered_validly(services, query):
    before = catalogue_counts(services.db)
    started = time.perf_counter()
    found = services.catalog.search(query)
    assert time.perf_counter() - started < 2.0, f"{len(query)} characters took too long"
    check_reply(*render.found(found, CODEC, scope=42))
    assert catalogue_counts(services.db) == before  # a search never writes


@given(query=st.text(max_size=MAX_INPUT).filter(str.strip) | hostile_text.filter(str.strip))
@fast
def test_similar_to_any_title_answers_validly(services, query):
    similar = services.picks.similar_to(PERSON, query)
    if isinstance(similar, Found):
        check_reply(*render.found(similar, CODEC, scope=42))
    else:
        check_reply(*render.similar_page(similar, CODEC, scope=42))


@given(query=st.text(max_size=2000))
@settings(max_examples=60, deadline=None)
def test_the_title_index_itself_takes_long_text_in_bounded_time(services, query):
    started = time.perf_counter()
    services.titles.search(query)
    services.titles.suggest(query)
    assert time.perf_counter() - started < 3.0, f"{len(query)} characters took too long"


@given(
    title=hostile_text.filter(str.strip),
    year=st.one_of(st.none(), st.integers(1880, 2030)),
    genres=st.lists(hostile_text.filter(str.strip), max_size=3),
    predicted=st.one_of(st.none(), st.floats(1, 5)),
)
@fast
def test_any_imported_title_renders_as_a_valid_card_result_and_poll_option(
    title, year, genres, predicted
):
    movie = Movie(1, title, year, tuple(genres))
    check_reply(*render.movie_card(Card(movie, None, predicted, False, False, SCALE), CODEC, 1))
    check_reply(*render.search_results("q", [movie] * 5, CODEC, scope=-100))
    check_plain(render.poll_option(movie), 100)
    check_plain(render.label(movie), render.MAX_TITLE + 7)
    for limit in (render.TITLE_IN_BUTTON, render.TITLE_IN_WATCHLIST_BUTTON):
        assert len(render.button_label(movie, limit)) <= limit + 1


@given(name=hostile_text, about_name=hostile_text)
@fast
def test_any_person_or_data_set_name_renders_validly(name, about_name):
    about = About(about_name, 1682, 1922, 1998, dated=True)
    check_html(render.welcome(name, about))
    check_plain(render.joined(name, ready=False), render.MAX_ANSWER)
    check_plain(render.only_starter(name), render.MAX_ANSWER)
    check_html(render.unknown_command("/" + name))
    text, keyboard = render.group_unknown(name, "moviebot_bot")
    check_html(text)
    check_keyboard(keyboard)


def test_controls_and_bidi_overrides_are_removed_from_what_is_echoed():
    query = f"heat{BIDI[4]}\x00\x1b\x85 1995\tx\ny"
    assert render.visible(query) == "heat 1995 x\ny"
    assert render.escape(f"<{BIDI[0]}a&b{BIDI[8]}>") == "&lt;a&amp;b&gt;"
    assert render.display_title(HOSTILE_TITLES[0].title) == "Evil gpj.exe (Part 2)"


@pytest.mark.parametrize(
    "text",
    ["a & b", "<x>y</x>", "<b>open", "</b>", "a < b", "fine\u202eevil", "bell\x07", "", "x" * 4097],
)
def test_the_reply_check_refuses_what_telegram_would_refuse_or_show_wrongly(text):
    with pytest.raises(AssertionError):
        check_html(text)
