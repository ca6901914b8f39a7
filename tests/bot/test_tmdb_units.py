"""The pure and service parts of TMDb metadata: captions, reasons with people, the movie info a
web front end reads, the content features."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest

from bot import render
from bot.services.catalog import Card
from bot.services.metadata import MetadataService
from bot.services.picks import Because, Suggestion
from bot.settings import Settings, SettingsError
from bot.training import catalog_from_db
from recommender.content import Content, item_tokens
from recommender.data import Catalog, Ratings
from storage import metadata
from storage.db import Database
from storage.metadata import Credited, Metadata
from storage.movies import Movie

HEAT = Movie(2, "Heat", 1995, ("Action", "Crime", "Thriller"))


def card(about: Metadata | None, **changes) -> Card:
    return Card(HEAT, None, 4.04, False, False, (1.0, 5.0, 1.0), about=about, **changes)


def test_a_caption_stays_under_telegrams_limit_however_long_its_parts():
    long = "&<>" * 2000
    people = tuple(Credited(i, "&" * 300) for i in range(10))
    about = Metadata(2, "search", 0, overview=long, runtime=170, directors=people, cast=people)
    genres = tuple(f"Genre number {i}" for i in range(80))
    crowded = Card(
        Movie(2, "&" * 500, 1995, genres), None, None, False, False, (1.0, 5.0, 1.0), about
    )
    caption = render.card_caption(crowded)
    visible = unescape(re.sub(r"<[^>]*>", "", caption))  # what Telegram counts
    assert len(visible) < 800 <= len(caption)
    assert len(visible.splitlines()) == 5 and visible.endswith("…")  # the overview, cut


def test_a_caption_has_the_facts_in_order_and_the_prediction():
    about = Metadata(
        2,
        "tmdb_id",
        0,
        overview="Cops & robbers.",
        runtime=170,
        directors=(Credited(1, "Michael Mann"),),
    )
    assert render.card_caption(card(about)).splitlines() == [
        "<b>Heat</b> (1995 · 170 min)",
        "Action · Crime · Thriller",
        "Directed by Michael Mann",
        "<i>Cops &amp; robbers.</i>",
        "Predicted ★4 for you",
    ]


@pytest.mark.parametrize(
    ("kind", "director", "text"),
    [
        ("liked", "Michael Mann", "same director as <b>Heat (1995)</b>, which you liked"),
        ("liked", None, "because you liked <b>Heat (1995)</b>"),
        ("similar", "Michael Mann", "same director as <b>Heat (1995)</b>"),
    ],
)
def test_a_reason_names_a_shared_director(kind, director, text):
    assert render.reason_text(Because(kind, HEAT, None, director)) == text


def test_a_similar_pick_says_so_only_when_it_shares_the_director():
    codec = render.kb.CallbackCodec("1:secret")
    shared = Suggestion(
        Movie(3, "Collateral", 2004, ()),
        None,
        Because("similar", HEAT, None, "Michael Mann"),
        directors=("Michael Mann",),
    )
    other = Suggestion(Movie(4, "Ronin", 1998, ()), None, Because("similar", HEAT))
    text, _ = render.picks(render.similar_heading(HEAT), [shared, other], codec, 1)
    assert "<i>same director as <b>Heat (1995)</b></i>" in text
    assert text.count("same director") == 1 and "🎬 Michael Mann" in text


def test_the_movie_info_a_web_front_end_reads(tiny_catalog: Database):
    service = MetadataService(tiny_catalog, "https://image.tmdb.org/t/p/w342/")
    metadata.save(
        tiny_catalog, [Metadata(2, "tmdb_id", 0, poster_path="/p.jpg", backdrop_path="/b.jpg")]
    )
    info = service.movie(2)
    assert info.movie.title == "Heat" and info.details.match == "tmdb_id"
    assert info.poster_url == "https://image.tmdb.org/t/p/w342/p.jpg"
    assert info.backdrop_url == "https://image.tmdb.org/t/p/w342/b.jpg"
    plain = service.movie(3)
    assert plain.details is None and plain.poster_url is None
    assert service.movie(999) is None


def test_tmdb_settings_and_the_message_without_credentials():
    settings = Settings.from_env(
        {"TMDB_READ_ACCESS_TOKEN": "tok-123456", "TMDB_API_BASE_URL": "http://127.0.0.1:9/3/"},
        env_file=None,
    )
    assert settings.tmdb_api_base_url == "http://127.0.0.1:9/3" and "tok-123456" in settings.secrets
    settings.require_tmdb()
    with pytest.raises(SettingsError, match=r"https://www\.themoviedb\.org/settings/api"):
        Settings.from_env({}, env_file=None).require_tmdb()


def test_people_keywords_and_overview_words_become_content_features(tiny_catalog: Database):
    mann = Credited(638, "Michael Mann")
    metadata.save(
        tiny_catalog,
        [
            Metadata(
                2,
                "tmdb_id",
                0,
                overview="A heist crew and a detective.",
                directors=(mann,),
                keywords=("heist",),
                keyword_ids=(7,),
            ),
            Metadata(
                3,
                "tmdb_id",
                0,
                overview="Another heist, another detective.",
                directors=(mann,),
                keywords=("heist",),
                keyword_ids=(7,),
            ),
        ],
    )
    catalog = catalog_from_db(tiny_catalog)
    heat = item_tokens(catalog, int(catalog.items.index_of(np.array([2]))[0]))
    assert heat["tmdb_director=638"] == 1.0 and heat["tmdb_keyword=7"] == 1.0
    assert heat["overview=heist"] == 1.0 and "overview=and" not in heat  # stop words dropped
    ratings = Ratings.from_arrays(
        np.array([1, 1]), np.array([2, 4]), np.array([5.0, 1.0]), items=catalog.items
    )
    content = Content.fit(ratings, catalog)
    assert {"tmdb_director=638", "overview=heist", "overview=detective"} <= set(
        content.feature_names
    )
    scores = content.score(ratings.matrix[:1])[0]
    position = {int(m): i for i, m in enumerate(catalog.items.ids)}
    # The Matrix shares Heat's director, keyword and words; Toy Story shares nothing with Heat
    assert scores[position[3]] > scores[position[1]]


def test_without_metadata_the_features_are_what_they_were(tiny_catalog: Database):
    plain = catalog_from_db(tiny_catalog)
    assert isinstance(plain, Catalog) and all(not f for f in plain.features)
