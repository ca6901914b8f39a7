"""The pure parts of the bot: the button codec, rendering, /recommend arguments."""

from __future__ import annotations

import pytest

from bot import keyboards as kb
from bot import render
from bot.app import buttons
from bot.handlers.recommend import UsageError, parse_request
from bot.keyboards import MAX_CALLBACK_BYTES, CallbackCodec, ExpiredButtonError
from bot.profile import TasteProfile
from bot.services.catalog import About, Found, valid_stars
from bot.services.feedback import Refusal
from bot.services.metrics import LatencySummary, ModelSummary, Stats
from bot.services.picks import Because, Page, Request, Similar, Suggestion
from bot.services.watchlist import Added, WatchlistPage
from storage.movies import Movie
from storage.ratings import Rating

GENRES = ["Action", "Children's", "Comedy", "Film-Noir", "Romance", "Sci-Fi"]


def test_codec_round_trips_and_stays_under_telegrams_limit():
    codec = CallbackCodec("123:secret")
    big = 2**53  # larger than any Telegram id or movie id
    data = codec.encode(kb.WATCHLIST_REMOVE, movie=big, page=big, scope=-(10**13))
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    decoded = codec.decode(data, scope=-(10**13))
    assert decoded.action is kb.WATCHLIST_REMOVE
    assert (decoded["movie"], decoded["page"]) == (big, big)


def test_codec_carries_negative_fields_without_offsets():
    codec = CallbackCodec("123:secret")
    data = codec.encode(kb.MORE_PICKS, offset=5, count=5, genres=0, since=-1, until=0, scope=7)
    assert codec.decode(data, scope=7).values == {
        "offset": 5,
        "count": 5,
        "genres": 0,
        "since": -1,
        "until": 0,
    }


def test_a_keyboard_goes_to_telegram_as_python_telegram_bot_would_send_it():
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    codec = CallbackCodec("123:secret")
    keyboard = InlineKeyboardMarkup(
        [
            [
                codec.button("★5", kb.RATE, movie=1, half_stars=10, scope=7),
                kb.open_app("Open", "https://a.example/"),
            ],
            [InlineKeyboardButton("💬 Open a private chat", url="https://t.me/moviebot")],
            [InlineKeyboardButton("Share", switch_inline_query="heat")],  # a kind we never make
        ]
    )
    assert kb.wire(keyboard) == keyboard.to_dict()


def test_every_action_has_exactly_one_handler():
    declared = {v for v in vars(kb).values() if isinstance(v, kb.Action)}
    registered = [action for action, _ in buttons()]
    assert sorted(a.code for a in registered) == sorted(a.code for a in declared)


def test_a_button_with_the_wrong_fields_is_refused_when_built_and_when_pressed():
    codec = CallbackCodec("123:secret")
    with pytest.raises(ValueError, match="fields"):
        codec.encode(kb.RATE, movie=5, scope=42)
    for payload in ("od.5", "r.5", "r.5.8.9", "zz.5"):  # signed, but not what the table says
        with pytest.raises(ExpiredButtonError):
            codec.decode(f"{payload}.{codec._sign(payload, 42)}", scope=42)


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
    data = codec.encode(kb.RATE, movie=5, half_stars=8, scope=42)
    with pytest.raises(ExpiredButtonError):
        codec.decode(tamper(data), scope=42)


def test_codec_binds_buttons_to_their_scope_and_token():
    data = CallbackCodec("123:secret").encode(kb.RATE, movie=5, half_stars=8, scope=42)
    with pytest.raises(ExpiredButtonError):
        CallbackCodec("123:secret").decode(data, scope=43)
    with pytest.raises(ExpiredButtonError):
        CallbackCodec("456:other").decode(data, scope=42)
    assert CallbackCodec("123:secret").decode(data, scope=42).values == {
        "movie": 5,
        "half_stars": 8,
    }


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Matrix, The", "The Matrix"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            "The City of Lost Children (La Cité des enfants perdus)",
        ),
        ("Hate (Haine, La)", "Hate (La Haine)"),
        ("Haine, La", "La Haine"),
        ("Boot, Das", "Das Boot"),
        ("Heat", "Heat"),
        ("Sense and Sensibility", "Sense and Sensibility"),
        ("x" * 300, "x" * 99 + "…"),
        ("word " * 30, ("word " * 20).strip() + "…"),  # cut between words
    ],
)
def test_display_title_moves_articles_and_shortens(stored, shown):
    assert render.display_title(stored) == shown


@pytest.mark.parametrize(
    ("title", "year", "limit", "shown"),
    [
        ("Star Trek: First Contact", 1996, 30, "Star Trek: First… (1996)"),
        ("Star Trek: First Contact", 1996, 31, "Star Trek: First Contact (1996)"),
        ("Heat", 1995, 30, "Heat (1995)"),
        ("Supercalifragilisticexpialidocious", None, 20, "Supercalifragilisti…"),
        (
            "Dr. Strangelove or: How I Learned to Stop Worrying",
            1964,
            30,
            "Dr. Strangelove or… (1964)",
        ),
    ],
)
def test_a_button_label_is_cut_at_a_word_and_keeps_the_year(title, year, limit, shown):
    label = render.button_label(Movie(1, title, year, ()), limit)
    assert label == shown and len(label) <= limit


def test_titles_are_escaped_in_cards_and_reasons():
    movie = Movie(7, "Tom & Jerry: <The Movie>", 1992, ("Animation",))
    text = render.movie_lines(movie, predicted=4.26)
    assert "<b>Tom &amp; Jerry: &lt;The Movie&gt;</b> (1992)" in text
    assert "Predicted ★4.3" in text
    reason = render.reason_text(Because("liked", movie))
    assert reason == "because you liked <b>Tom &amp; Jerry: &lt;The Movie&gt; (1992)</b>"
    assert render.reason_text(Because("genre", genre="Sci-Fi")) == (
        "popular with people who like Sci-Fi"
    )
    assert render.reason_text(Because("popular")) == "liked by many people"


def test_ten_picks_with_the_longest_titles_fit_one_message():
    codec = CallbackCodec("t")
    long = {i: Movie(i, "W" * 400, 1999, tuple(GENRES)) for i in range(1, 11)}
    chosen = [Suggestion(long[i], 4.0, Because("liked", long[(i % 10) + 1])) for i in range(1, 11)]
    more = {"offset": 10, "count": 10, "genres": 2**20 - 1, "since": 1990, "until": 1999}
    text, keyboard = render.picks("<b>Your picks</b>", chosen, codec, 1, more)
    assert len(text) <= render.MAX_TEXT
    assert sum(len(row) for row in keyboard.inline_keyboard) <= 100


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], Request()),
        (["10"], Request(n=10)),
        (["comedy", "90s"], Request(genres=(2,), since=1990, until=1999)),
        (["90s", "comedy"], Request(genres=(2,), since=1990, until=1999)),
        (["sci-fi", "1980s"], Request(genres=(5,), since=1980, until=1989)),
        (["1920s"], Request(since=1920, until=1929)),  # not the 2020s
        (["'80s"], Request(since=1980, until=1989)),
        (["scifi", "1984"], Request(genres=(5,), since=1984, until=1984)),  # that year
        (["1990-1995"], Request(since=1990, until=1995)),
        (["film", "noir"], Request(genres=(3,))),
        (["noir"], Request(genres=(3,))),
        (["children"], Request(genres=(1,))),
        (["kids"], Request(genres=(1,))),
        (["family", "movies"], Request(genres=(1,))),
        (["comedies"], Request(genres=(2,))),
        (["comedy", "romance"], Request(genres=(2, 4))),  # both at once
        (["romantic", "comedy"], Request(genres=(4, 2))),
        (["comedy", "and", "sci", "fi"], Request(genres=(2, 5))),
        (["comedy", "comedy"], Request(genres=(2,))),
        (["3", "romance", "00s"], Request(n=3, genres=(4,), since=2000, until=2009)),
        (["rom"], Request(genres=(4,))),
        (["50", "comedy"], Request(n=10, genres=(2,))),  # at most a page: the rest is behind More
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


def test_latency_percentiles_are_nearest_rank_in_milliseconds():
    assert LatencySummary.of([]) is None
    summary = LatencySummary.of([i / 1000 for i in range(100, 0, -1)])  # 1 … 100 ms
    assert summary == LatencySummary(p50_ms=51.0, p95_ms=96.0, calls=100)
    assert LatencySummary.of([0.010]) == LatencySummary(10.0, 10.0, 1)
    unsorted = LatencySummary.of([0.3, 0.1, 0.2])
    assert unsorted is not None and unsorted.calls == 3
    assert (unsorted.p50_ms, unsorted.p95_ms) == pytest.approx((200, 300))


def test_a_models_summary_reads_its_info_and_counts_its_age_from_now():
    info = {"version": 3, "metrics": {"ndcg@10": 0.4123}, "trained_at": 1_000.0}
    assert ModelSummary.of(info, now=1_000.0 + 5400) == ModelSummary(3, 0.4123, 1.5, {})
    assert ModelSummary.of({}, now=7.0) == ModelSummary("?", None, 0.0)


def test_stats_report_names_every_timed_operation():
    latency = {"recommend": LatencySummary(2.4, 9.6, 40), "similar": LatencySummary(1, 3, 2)}
    text = render.stats(Stats(2, 7, 900, ModelSummary(3, 0.4123, 1.5, {}), latency))
    assert "Telegram users: 2 · their ratings: 7" in text
    assert "model v3, trained 1.5 h ago, NDCG@10 0.412" in text
    assert "/recommend latency: p50 2 ms, p95 10 ms (40 calls)" in text
    assert "/similar latency: p50 1 ms, p95 3 ms (2 calls)" in text
    assert "No model loaded." in render.stats(Stats(0, 0, 0, None, {}))


def test_render_says_why_when_a_service_has_nothing_to_show():
    codec, heat = CallbackCodec("t"), Movie(1, "Heat", 1995, ("Action",))
    assert render.picks_page(Page((), Request(), 0, 0, False, False), codec, 1) == (
        render.no_picks(False, trained=False),
        None,
    )
    assert render.similar_page(Similar(None, (), True), codec, 1)[1] is None
    assert "too long" in render.found(Found("x" * 400, (), too_long=True), codec, 1)[0]
    text, keyboard = render.found(Found("hea", (), (heat,)), codec, 1)
    assert "Did you mean <i>Heat (1995)</i>?" in text and keyboard is None
    assert render.watchlist_page(WatchlistPage((), 0, 0, 0), codec, 1)[1] is None
    assert render.refusal(Refusal.GONE) == render.NOT_FOUND
    assert render.refusal(Refusal.EXPIRED) == render.EXPIRED


def test_button_answers_stay_under_telegrams_limit():
    long = Movie(1, "W" * 400, 1999, ())
    for note in (render.watchlist_added(Added(long, True)), render.dismissed(long)):
        assert len(note) <= render.MAX_ANSWER and "…" in note
    assert len(render.toast("x" * 300)) == render.MAX_ANSWER


def test_a_genre_rated_often_but_low_is_no_favourite():
    dramas = {i: Movie(i, f"Drama {i}", 1990, ("Drama",)) for i in range(1, 11)}
    comedies = {i: Movie(i, f"Comedy {i}", 1990, ("Comedy",)) for i in range(11, 14)}
    rated = [Rating(i, 2.0, 0) for i in dramas] + [Rating(i, 5.0, 0) for i in comedies]
    taste = TasteProfile.of(rated, {**dramas, **comedies})
    assert taste.favourite_genres == ("Comedy",)
    assert [g for g, _ in taste.genres] == ["Comedy", "Drama"]
    assert "Favourite genres: Comedy\n" in render.profile(taste)


ML100K = About("MovieLens 100K", 1682, 1922, 1998, dated=True)


@pytest.mark.parametrize(
    ("found", "text"),
    [
        (
            Found("the matrix", (), about=ML100K),
            "My catalogue doesn't have <i>the matrix</i>: it is MovieLens 100K, 1,682 movies "
            "up to 1998.",
        ),
        (
            Found("the matrix 1999", (), about=ML100K, year=1999),
            "My catalogue doesn't have <i>the matrix 1999</i>: it is MovieLens 100K, 1,682 "
            "movies up to 1998, so nothing from 1999.",
        ),
        (
            Found("heat", (), about=About("", 0, None, None, dated=False)),
            "I couldn't find <i>heat</i>: my catalogue is empty. Whoever runs me can import "
            "one with <code>moviebot data fetch</code>.",
        ),
        (Found("a <b>", ()), "I couldn't find a movie called <i>a &lt;b&gt;</i>."),
    ],
)
def test_no_match_says_what_the_catalogue_is(found, text):
    assert render.no_match(found) == text


def test_the_catalogue_note_says_how_to_get_a_current_one_only_when_dated():
    assert "moviebot data fetch ml-latest-small" in render.catalogue_note(ML100K)
    current = About("MovieLens 32M", 87_585, 1874, 2023, dated=False)
    assert (
        render.catalogue_note(current)
        == "📚 My catalogue: MovieLens 32M, 87,585 movies up to 2023."
    )


@pytest.mark.parametrize(
    ("filtered", "expected"),
    [
        (True, "the best match for your filter, though you may not love it"),
        (False, "liked by many people, though you may not love it"),
    ],
)
def test_a_pick_predicted_to_be_disliked_says_so(filtered, expected):
    western = Movie(1, "Maverick", 1994, ("Western",))
    doubtful = Suggestion(western, 2.7, Because("popular"), doubtful=True)
    text, _ = render.picks(
        "<b>Your picks</b>", [doubtful], CallbackCodec("t"), 1, None, 1, filtered
    )
    assert f"<i>{expected}</i>" in text and "Predicted ★2.7" in text


def test_a_pick_without_a_shown_prediction_has_no_stars_and_taste_is_worded():
    movie = Movie(1, "Contact", 1997, ("Sci-Fi",))
    text, _ = render.picks(
        "<b>Your picks</b>", [Suggestion(movie, None, Because("taste"))], CallbackCodec("t"), 1
    )
    assert "Predicted" not in text and "liked by people with taste like yours" in text
