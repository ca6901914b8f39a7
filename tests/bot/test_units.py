"""The pure parts of the bot: the button codec, rendering, /recommend arguments."""

from __future__ import annotations

import pytest

from bot import render
from bot.handlers.onboarding import valid_stars
from bot.handlers.recommend import Request, UsageError, parse_request
from bot.keyboards import MAX_CALLBACK_BYTES, CallbackCodec, ExpiredButtonError
from recommender.explain import Reason
from recommender.hybrid import Pick
from storage.movies import Movie

GENRES = ["Action", "Children's", "Comedy", "Film-Noir", "Romance", "Sci-Fi"]


def test_codec_round_trips_and_stays_under_telegrams_limit():
    codec = CallbackCodec("123:secret")
    big = 2**53  # larger than any Telegram id or movie id
    data = codec.encode("wx", big, big, scope=-(10**13))
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    decoded = codec.decode(data, scope=-(10**13))
    assert (decoded.action, decoded.args) == ("wx", (big, big))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.replace("r.5", "r.6"),  # another movie, same signature
        lambda d: d[:-1] + ("A" if d[-1] != "A" else "B"),  # signature changed
        lambda d: d.split(".")[0],  # truncated
        lambda d: "",
        lambda d: d + "x" * 64,  # oversized
        lambda d: "r.x.y." + d.rsplit(".", 1)[1],  # non-numeric arguments
    ],
)
def test_codec_refuses_tampered_data(tamper):
    codec = CallbackCodec("123:secret")
    data = codec.encode("r", 5, 8, scope=42)
    with pytest.raises(ExpiredButtonError):
        codec.decode(tamper(data), scope=42)


def test_codec_binds_buttons_to_their_scope_and_token():
    data = CallbackCodec("123:secret").encode("r", 5, 8, scope=42)
    with pytest.raises(ExpiredButtonError):
        CallbackCodec("123:secret").decode(data, scope=43)
    with pytest.raises(ExpiredButtonError):
        CallbackCodec("456:other").decode(data, scope=42)
    assert CallbackCodec("123:secret").decode(data, scope=42).args == (5, 8)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Matrix, The", "The Matrix"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            "The City of Lost Children (Cité des enfants perdus, La)",
        ),
        ("Haine, La", "La Haine"),
        ("Boot, Das", "Das Boot"),
        ("Heat", "Heat"),
        ("Sense and Sensibility", "Sense and Sensibility"),
        ("x" * 300, "x" * 99 + "…"),
    ],
)
def test_display_title_moves_articles_and_shortens(stored, shown):
    assert render.display_title(stored) == shown


def test_titles_are_escaped_in_cards_and_reasons():
    movie = Movie(7, "Tom & Jerry: <The Movie>", 1992, ("Animation",))
    text = render.movie_lines(movie, predicted=4.26)
    assert "<b>Tom &amp; Jerry: &lt;The Movie&gt;</b> (1992)" in text
    assert "Predicted ★4.3" in text
    reason = render.reason_text(Reason("liked", movie_id=7), {7: movie})
    assert reason == "because you liked <b>Tom &amp; Jerry: &lt;The Movie&gt; (1992)</b>"
    assert render.reason_text(Reason("genre", genre="Sci-Fi"), {}) == (
        "popular with people who like Sci-Fi"
    )
    assert render.reason_text(Reason("popular"), {}) == "popular now"


def test_ten_picks_with_the_longest_titles_fit_one_message():
    codec = CallbackCodec("t")
    long = {i: Movie(i, "W" * 400, 1999, tuple(GENRES)) for i in range(1, 11)}
    chosen = [Pick(i, 1.0, 4.0, Reason("liked", movie_id=(i % 10) + 1)) for i in range(1, 11)]
    more = ("n", (10, 10, 0, 0))
    text, keyboard = render.picks("<b>Your picks</b>", chosen, long, codec, 1, more)
    assert len(text) <= render.MAX_TEXT
    assert sum(len(row) for row in keyboard.inline_keyboard) <= 100


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], Request()),
        (["10"], Request(n=10)),
        (["comedy", "90s"], Request(genre=2, decade=1990)),
        (["90s", "comedy"], Request(genre=2, decade=1990)),
        (["sci-fi", "1980s"], Request(genre=5, decade=1980)),
        (["scifi", "1984"], Request(genre=5, decade=1980)),
        (["film", "noir"], Request(genre=3)),
        (["children"], Request(genre=1)),
        (["3", "romance", "00s"], Request(n=3, genre=4, decade=2000)),
        (["rom"], Request(genre=4)),
        (["50", "comedy"], Request(n=10, genre=2)),  # at most a page: the rest is behind More
        (["999999999999999999999"], Request(n=10)),
    ],
)
def test_recommend_arguments(args, expected):
    assert parse_request(args, GENRES) == expected


@pytest.mark.parametrize("args", [["banana"], ["0"], ["c"], ["1850s"]])
def test_bad_recommend_arguments(args):
    with pytest.raises(UsageError):
        parse_request(args, GENRES)


@pytest.mark.parametrize(
    ("value", "scale", "stars"),
    [
        (8, (1, 5, 1), 4.0),
        (7, (1, 5, 1), None),  # a half star on a whole-star data set
        (7, (0.5, 5, 0.5), 3.5),
        (1, (0.5, 5, 0.5), 0.5),
        (12, (1, 5, 1), None),
        (-2, (1, 5, 1), None),
    ],
)
def test_star_values_are_checked_against_the_data_sets_scale(value, scale, stars):
    assert valid_stars(value, scale) == stars
