"""The command argument parsers (/recommend and /movienight share one; /rate and /similar take
the rest of the line as a title, see test_search_and_replies; /start takes a movie night's deep
link): any words give a request within bounds or a usage answer Telegram accepts, and an
argument that is not understood stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import render
from bot.handlers.recommend import UsageError, parse_request
from bot.services import Services
from bot.services.people import Person
from bot.services.picks import MAX_N
from bot.settings import Settings, SettingsError, parse_admin_ids
from recommender.hybrid import ModelHolder
from storage import movies
from storage.db import Database
from storage.search import TitleIndex
from storage.users import BadUserRefError, parse_ref
from tests.conftest import TINY_MOVIES
from tests.property.strategies import any_text, hostile_text
from tests.property.telegram import check_html

GENRES = [
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western", "<Odd & Genre>",
]  # fmt: skip
REAL_WORDS = [
    "10", "3", "0", "-5", "99999999999999999999", "comedy", "Comedies", "sci-fi", "scifi",
    "film", "noir", "kids", "rom", "90s", "'80s", "1990s", "1995", "1990-1995", "2099",
    "1880", "1879", "and", "&", "the", "horror", "westerns", "ω", "١٢", "５",
]  # fmt: skip
words = st.one_of(st.sampled_from(REAL_WORDS), hostile_text)
arguments = st.one_of(st.lists(words, max_size=10), st.lists(any_text, max_size=3))


@given(arguments)
@settings(max_examples=400, deadline=None)
def test_any_recommend_or_movienight_arguments_parse_or_get_usage(args):
    try:
        request = parse_request(args, GENRES)
    except UsageError as exc:
        check_html(render.recommend_usage(GENRES, str(exc)))
        check_html(render.night_usage(GENRES, str(exc)))
        return
    assert 1 <= request.n <= MAX_N
    assert all(0 <= g < len(GENRES) for g in request.genres)
    assert len(set(request.genres)) == len(request.genres)
    if request.since or request.until:
        assert 1880 <= request.since <= request.until <= 2099
    names = request.genre_names(GENRES)
    heading = "🍿 <b>Your picks</b>" + render.picks_filters(names, request.since, request.until)
    check_html(heading)
    genre = GENRES[request.genre] if request.genre >= 0 else None
    check_html("🍿 Movie night" + render.night_filters(genre, request.decade))


@given(st.lists(words, min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_parsing_does_not_depend_on_case_or_filler_words(args):
    """`/recommend Comedy 90s` is `/recommend comedy the 90s`."""
    try:
        plain = parse_request(args, GENRES)
    except UsageError:
        return
    assert parse_request([a.upper() if a.isascii() else a for a in args] + ["the"], GENRES) == plain


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    db = Database(":memory:")
    movies.upsert_many(db, TINY_MOVIES)
    yield Services(Settings(db_path=db.path), db, ModelHolder(None), TitleIndex.from_db(db))
    db.close()


def stored(db: Database) -> tuple:
    return db.conn.execute("SELECT count(*), group_concat(settings) FROM users").fetchone()


@given(
    argument=st.one_of(
        hostile_text,
        st.text(max_size=30).map("movienight_".__add__),
        st.sampled_from(["movienight_²", "movienight_١٢", "movienight_" + "9" * 5000]),
        st.integers(-(2**70), 2**70).map(lambda n: f"movienight_{n}"),
    ),
    user=st.integers(1, 10**12),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_start_argument_is_a_movie_night_link_or_ignored_without_a_trace(
    services, argument, user
):
    before = stored(services.db)
    started = services.onboarding.start(Person(user, "Eve"), argument)
    check_html(render.welcome("Eve", started.about))
    suffix = argument.removeprefix("movienight_")
    link = argument != suffix and suffix.isascii() and suffix.isdigit() and len(suffix) <= 18
    if not link:
        assert stored(services.db) == before  # ignored: nothing stored for them
        return
    assert services.nights.pending(user) == int(suffix)
    services.db.conn.execute(
        "DELETE FROM users WHERE kind = 'telegram' AND external_id = ?", (user,)
    )


@given(
    raw=st.one_of(
        hostile_text, st.lists(words).map(",".join), st.sampled_from(["12,²,-3", "9" * 5000])
    )
)
@settings(max_examples=200)
def test_admin_ids_and_user_references_parse_or_are_refused_in_one_line(raw):
    """What the person running the bot types (MOVIEBOT_ADMIN_IDS, `--user`): ids or one clear
    error, never a traceback."""
    try:
        assert all(isinstance(i, int) for i in parse_admin_ids(raw))
    except SettingsError as exc:
        assert "\n" not in str(exc)
    for ref in (raw, f"ml:{raw}"):
        try:
            kind, number = parse_ref(ref)
        except BadUserRefError as exc:
            assert ref in str(exc) or repr(ref) in str(exc)
            continue
        assert kind in ("telegram", "dataset") and number >= 0
