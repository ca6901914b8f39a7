"""TMDb metadata in chat, end to end through the emulator: the poster card, its edits, the
director on each pick, person search, escaping, and the attribution in /help."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from storage import metadata
from storage.db import Database
from storage.metadata import Credited, Metadata
from tests.bot.test_private_chat import card_for

MANN = Credited(638, "Michael Mann")
HEAT = Metadata(
    movie_id=1,
    match="tmdb_id",
    fetched_at=0,
    tmdb_id=949,
    imdb_id="tt0113277",
    overview="A group of professional bank robbers start to feel the heat from police. " * 6,
    runtime=170,
    poster_path="/heat-poster.jpg",
    directors=(MANN,),
    cast=(
        Credited(1158, "Al Pacino"),
        Credited(380, "Robert De Niro"),
        Credited(5576, "Val Kilmer"),
        Credited(9999, "Jon Voight"),
    ),
    keywords=("heist",),
    keyword_ids=(1,),
)
# "Tom & Jerry: <The Movie>": a title, a person and an overview that need escaping.
TOM = Metadata(
    movie_id=18,
    match="search",
    fetched_at=0,
    overview="Tom & Jerry <meet> again & again.",
    poster_path="/tom.jpg",
    directors=(Credited(77, "Phil <Roman> & Co"),),
    cast=(Credited(78, "Richard Kind"),),
)
# Heat (1986) has metadata but no poster: a text card.
HEAT_1986 = Metadata(
    movie_id=2, match="search", fetched_at=0, directors=(Credited(5, "Dick Richards"),)
)


@pytest.fixture
def enriched(world: Settings) -> Settings:
    with Database(world.db_path) as db:
        metadata.save(db, [HEAT, TOM, HEAT_1986])
    return world


async def test_a_movie_with_a_poster_is_a_photo_card_with_a_caption(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat", "Heat (1995)")
    assert (
        card.photo is not None
        and card.photo.url == "https://image.tmdb.org/t/p/w342/heat-poster.jpg"
    )
    lines = card.caption.splitlines()
    assert lines[0] == "Heat (1995 · 170 min)"
    assert "Directed by Michael Mann" in lines
    assert "With Al Pacino, Robert De Niro, Val Kilmer" in lines  # three leading actors
    assert "Jon Voight" not in card.caption
    overview = next(line for line in lines if line.startswith("A group"))
    assert len(overview) <= 220 and overview.endswith("…")
    assert "★5" in card.button_labels and "More like this" in card.button_labels


async def test_rating_a_photo_card_edits_its_caption(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat", "Heat (1995)")
    await alice.press(card, "★4")
    await emulator.wait_idle()
    assert card.edited and card.photo is not None
    assert "You rated it ★4" in card.caption and "Directed by Michael Mann" in card.caption
    await alice.press(card, "★4")  # the same edit again: "not modified" is no error
    await emulator.wait_idle()
    assert "Sorry" not in " ".join(m.visible_text for m in alice.messages())


async def test_without_a_poster_the_card_is_text_as_before(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat", "Heat (1986)")
    assert card.photo is None and card.text.splitlines()[0] == "Heat (1986)"
    assert "Directed by Dick Richards" in card.text
    plain = await card_for(alice, "die hard")  # never enriched: the old text card
    assert plain.photo is None and plain.text.splitlines()[:2] == [
        "Die Hard (1988)",
        "Action · Thriller",
    ]
    await alice.press(plain, "★5")
    await emulator.wait_idle()
    assert "You rated it ★5" in plain.text


async def test_caption_names_and_overview_are_escaped(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "tom jerry")
    assert card.photo is not None
    assert "Directed by Phil <Roman> & Co" in card.caption
    assert "Tom & Jerry <meet> again & again." in card.caption
    assert "&lt;Roman&gt; &amp; Co" in card.raw  # sent escaped, shown as typed


async def test_typing_a_directors_name_offers_their_movies(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("michael mann")
    offer = await alice.next_message()
    assert "Movies directed Michael Mann" in offer.text
    assert offer.button_labels == ["Heat (1995)"]
    await alice.press(offer, "Heat (1995)")
    card = await alice.next_message()
    assert card.photo is not None and card.caption.startswith("Heat (1995")


async def test_an_actors_name_finds_the_movie_too(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("Robert De Niro")
    offer = await alice.next_message()
    assert "Movies with Robert De Niro" in offer.text and offer.button_labels == ["Heat (1995)"]


async def test_recommend_pages_stay_text_with_each_picks_director(emulator, enriched, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    for title in ("die hard", "speed", "aliens"):
        card = await card_for(alice, title)
        await alice.press(card, "★5")
        await emulator.wait_idle()
    await alice.send("/recommend 10")
    page = await alice.next_message()
    assert page.photo is None
    lines = page.text.splitlines()
    heat = next(i for i, line in enumerate(lines) if line.endswith(". Heat (1995)"))
    assert "🎬 Michael Mann" in [line.strip() for line in lines[heat : heat + 4]]
    enriched_shown = [line for line in lines if line.endswith((". Heat (1995)", ". Heat (1986)"))]
    assert page.text.count("🎬") == len(enriched_shown)  # movies without metadata have none


async def test_help_credits_tmdb(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/help")
    shown = await alice.next_message()
    assert "This product uses the TMDB API but is not endorsed or certified by TMDB." in shown.text
