"""One person and the bot, end to end through the emulator: each flow as a conversation."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot import keyboards as kb
from bot.keyboards import CallbackCodec
from emulator.runner import stop_application
from storage import movies, ratings, users
from storage.db import Database
from storage.movies import Movie


async def rated_count(services, alice) -> int:
    user = users.find(services.db, "telegram", alice.id)
    return 0 if user is None else len(ratings.history(services.db, user).ratings)


async def card_for(user, typed: str, choice: str | int = 0):
    """`user` types a title and gets its movie card: at once when one title matches, else by
    pressing `choice` among the matches (the best one by default)."""
    await user.send(typed)
    reply = await user.next_message()
    if (reply.text or "").startswith("Which one did you mean"):
        await user.press(reply, choice)
        reply = await user.next_message()
    return reply


async def onboard(alice, stars: str = "★5", count: int = 5):
    """Alice sends /start and rates `count` onboarding cards."""
    await alice.send("/start")
    welcome = await alice.next_message()
    card = await alice.next_message()
    for _ in range(count):
        await alice.press(card, stars)
        await alice.emulator.wait_idle()
    return welcome, card


async def test_start_welcomes_and_onboards_until_recommend_is_offered(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    welcome, card = await onboard(alice, count=5)
    assert "Hi, Alice" in welcome.text
    assert card.edited and "Rated 5 so far" in card.text and "/recommend" in card.text
    assert await rated_count(services, alice) == 5
    # Every card asked about a different movie, so five ratings were stored for five movies.
    await alice.press(card, "Done")
    await emulator.wait_idle()
    assert "You've rated 5 movies" in card.text


def card_title(card) -> str:
    """ "Heat (1995)": the first line of a movie card."""
    return card.text.splitlines()[0]


async def every_pick(person) -> list[str]:
    """All of a person's picks, page after page of ten until there is no More ▶."""
    await person.send("/recommend 10")
    page = await person.next_message()
    titles = [line.split(". ", 1)[1] for line in picked(page)]
    while "More ▶" in page.button_labels:
        await person.press(page, "More ▶")
        page = await person.next_message()
        titles += [line.split(". ", 1)[1] for line in picked(page)]
    return titles


async def test_onboarding_havent_seen_may_come_back_as_a_pick_and_skip_never(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/start")
    await alice.next_message()
    card = await alice.next_message()
    unseen = card_title(card)
    await alice.press(card, "Haven't seen")
    await emulator.wait_idle()
    skipped = card_title(card)
    query = await alice.press(card, "Skip")
    assert "won't ask about it or suggest it" in (await query.answered())["text"]
    await emulator.wait_idle()
    assert len({unseen, skipped, card_title(card)}) == 3  # neither is asked again
    assert await rated_count(services, alice) == 0
    picks = await every_pick(alice)
    assert unseen in picks and skipped not in picks


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("heat 1995", "Heat (1995)"), ("the matrix", "The Matrix (1999)"), ("amelie", "Amélie")],
)
async def test_typing_a_title_one_movie_has_opens_its_card_and_rating_it_is_saved(
    emulator, run_bot, typed, expected
):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.send(typed)
    card = await alice.next_message()  # the card itself: nothing to choose between
    assert card.text.startswith(expected) and "Predicted ★" in card.text
    await alice.press(card, "★4")
    await emulator.wait_idle()
    assert "You rated it ★4" in card.text
    await alice.press(card, "★2")  # re-rating replaces
    await emulator.wait_idle()
    assert "You rated it ★2" in card.text
    assert await rated_count(services, alice) == 1


async def test_a_single_match_of_another_year_than_typed_is_asked_not_opened(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("the matrix 1998")  # the catalogue's Matrix is 1999's: a guess
    offer = await alice.next_message()
    assert offer.text == "Which one did you mean by the matrix 1998?"
    assert offer.button_labels == ["The Matrix (1999)"]


async def test_a_title_several_movies_have_offers_each_as_a_button(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("heat")
    results = await alice.next_message()
    assert results.text == "Which one did you mean by heat?"
    assert sorted(results.button_labels[:2]) == ["Heat (1986)", "Heat (1995)"]
    await alice.press(results, "Heat (1986)")
    card = await alice.next_message()
    assert card.text.startswith("Heat (1986)")


async def test_nonsense_gets_a_friendly_no_match(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("qwxzv plmkj")
    reply = await alice.next_message()
    assert "My catalogue doesn't have qwxzv plmkj" in reply.text and not reply.button_list


async def test_huge_message_is_refused_politely(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.send("heat " * 800)
    reply = await alice.next_message()
    assert "too long" in reply.text
    assert await rated_count(services, alice) == 0


async def test_titles_with_html_characters_render_escaped(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "/rate tom & jerry")
    assert "Tom & Jerry: <The Movie>" in card.text
    assert "&lt;The Movie&gt;" in card.html


async def test_recommend_after_onboarding_gives_picks_with_reasons(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.press(await card_for(alice, "/rate die hard"), "★5")
    await emulator.wait_idle()
    await alice.send("/recommend")
    picks = await alice.next_message()
    assert "Your picks" in picks.text
    assert "because you liked" in picks.text and "Die Hard" in picks.text
    # every pick's ★ once; now only those the order does not contradict (at least one)
    assert 1 <= picks.text.count("Predicted ★") <= 5
    assert picks.button_labels[-1] == "More ▶"


async def test_recommend_filters_by_genre_and_decade(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend 3 comedy 90s")
    picks = await alice.next_message()
    titles = [line for line in picks.text.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(titles) == 3
    assert all("(199" in t for t in titles)
    assert picks.text.count("Comedy") >= 3


async def test_bad_recommend_arguments_get_usage(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend banana")
    answer = (await alice.next_message()).text
    assert "“banana”" in answer and "Usage" in answer
    await alice.send("/recommend 500")  # more than a page: the first page, with More ▶
    picks = await alice.next_message()
    assert "Your picks" in picks.text and "More" in str(picks.reply_markup)


async def test_not_interested_and_watchlist_change_the_next_picks_at_once(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend 3")
    first = await alice.next_message()
    top = first.button_labels[0]
    assert top == "1. Rate"
    await alice.press(first, "🚫")  # first pick's "not interested"
    await alice.press(first, "➕")  # first "➕" on the page: the same movie, now dismissed
    await emulator.wait_idle()
    await alice.send("/recommend 3")
    second = await alice.next_message()
    first_title = first.text.splitlines()[2]
    assert first_title not in second.text
    user = users.find(services.db, "telegram", alice.id)
    history = ratings.history(services.db, user)
    assert len(history.watchlist | history.dismissed) == 1


async def test_more_button_pages_without_repeats(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend 3")
    page1 = await alice.next_message()
    await alice.press(page1, "More ▶")
    page2 = await alice.next_message()
    assert "More picks" in page2.text
    names1 = {line[3:] for line in page1.text.splitlines() if line[:2] in ("1.", "2.", "3.")}
    names2 = {line[3:] for line in page2.text.splitlines() if line[:2] in ("4.", "5.", "6.")}
    assert len(names1) == len(names2) == 3 and not names1 & names2
    assert page2.button_labels[0] == "4. Rate"  # numbered on from the first page


async def test_similar_command_lists_neighbours(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/similar aliens")
    reply = await alice.next_message()
    assert reply.text.startswith("🎞 Like Aliens (1986)")
    picked = [line for line in reply.text.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(picked) == 3 and all("Aliens" not in line for line in picked)


async def test_watchlist_lists_removes_and_watched_asks_for_a_rating(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "fargo")
    await alice.press(card, "➕ Watchlist")
    await alice.press(await card_for(alice, "speed"), "➕ Watchlist")
    await emulator.wait_idle()
    await alice.send("/watchlist")
    listing = await alice.next_message()
    assert "Fargo (1996)" in listing.text and "Speed (1994)" in listing.text
    await alice.press(listing, "Remove")  # newest first: Speed
    await emulator.wait_idle()
    assert "Speed" not in listing.text and "Fargo" in listing.text
    await alice.press(listing, "✓ Watched: Fargo (1996)")
    card = await alice.next_message()
    await alice.press(card, "★5")
    await emulator.wait_idle()
    user = users.find(services.db, "telegram", alice.id)
    assert ratings.history(services.db, user).watchlist == frozenset()
    assert ratings.history(services.db, user).ratings == {11: 5.0}


async def test_profile_sends_text_and_a_chart(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await onboard(alice, count=3)
    await alice.send("/profile")
    text = await alice.next_message()
    chart = await alice.next_message()
    assert "Ratings: 3" in text.text and "Favourite genres" in text.text
    assert chart.photo is not None and chart.photo.data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_export_sends_a_csv_of_the_users_data(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await onboard(alice, count=2)
    await alice.send("/export")
    doc = await alice.next_message()
    rows = list(csv.DictReader(io.StringIO(doc.document.data.decode())))
    assert [r["list"] for r in rows] == ["rating", "rating"]


async def test_forget_asks_then_deletes_everything(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await onboard(alice, count=2)
    await alice.send("/forget")
    confirm = await alice.next_message()
    await alice.press(confirm, "Cancel")
    await emulator.wait_idle()
    assert await rated_count(services, alice) == 2
    await alice.send("/forget")
    confirm = await alice.next_message()
    await alice.press(confirm, "Yes, delete everything")
    await emulator.wait_idle()
    assert "deleted" in confirm.text
    assert users.find(services.db, "telegram", alice.id) is None


async def test_forged_and_foreign_buttons_expire_and_change_nothing(emulator, run_bot):
    services = await run_bot()
    alice, mallory = emulator.user("Alice"), emulator.user("Mallory")
    card = await card_for(alice, "heat 1995")
    # Mallory presses a copy of Alice's card: signed for Alice, so it is not Mallory's button.
    query = await mallory.press(card, "★1")
    assert (await query.answered())["text"] == "This button has expired."
    # A forged payload with a made-up signature, and one signed with another bot's key.
    other_bot = CallbackCodec("other-token").encode(kb.RATE, movie=1, half_stars=10, scope=alice.id)
    for forged in ("r.1.10.AAAAAAAA", other_bot, "r.1", "", "x" * 64):
        card.reply_markup["inline_keyboard"][0][0]["callback_data"] = forged
        query = await alice.press(card, 0)
        assert (await query.answered())["text"] == "This button has expired."
    assert await rated_count(services, alice) == 0
    assert (
        users.find(services.db, "telegram", mallory.id) is None
        or await rated_count(services, mallory) == 0
    )


async def test_double_tap_creates_one_rating(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat 1995")
    await alice.press(card, "★4")
    await alice.press(card, "★4")
    await emulator.wait_idle()
    assert await rated_count(services, alice) == 1


async def test_unknown_command_gets_a_hint_and_help_lists_commands(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/frobnicate")
    assert "/help" in (await alice.next_message()).text
    await alice.send("/help")
    help_text = (await alice.next_message()).text
    assert "/recommend" in help_text and "/retrain" not in help_text
    commands = [c["command"] for c in emulator.my_commands()]
    assert {"start", "recommend", "rate", "watchlist", "help"} <= set(commands)


async def test_buttons_keep_working_after_a_restart(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat 1995")
    await stop_application(run_bot.apps[0])
    services.close()
    services2 = await run_bot()
    await alice.press(card, "★3")
    await emulator.wait_idle()
    assert await rated_count(services2, alice) == 1
    assert services is not services2


async def test_half_star_data_sets_get_every_half_star_in_order(emulator, run_bot, world):
    services = await run_bot()
    services.db.set_meta("rating_min", "0.5")
    services.db.set_meta("rating_step", "0.5")
    alice = emulator.user("Alice")
    card = await card_for(alice, "heat 1995")
    assert [[b.text for b in row] for row in card.buttons[:2]] == [
        ["★0.5", "★1", "★1.5", "★2", "★2.5"],
        ["★3", "★3.5", "★4", "★4.5", "★5"],
    ]
    await alice.press(card, "★3.5")
    await emulator.wait_idle()
    user = users.find(services.db, "telegram", alice.id)
    assert ratings.history(services.db, user).ratings == {1: 3.5}


async def test_half_a_star_in_onboarding_is_a_rating_not_a_skip(emulator, run_bot):
    services = await run_bot()
    services.db.set_meta("rating_min", "0.5")
    services.db.set_meta("rating_step", "0.5")
    alice = emulator.user("Alice")
    await alice.send("/start")
    await alice.next_message()
    card = await alice.next_message()
    await alice.press(card, "★0.5")
    await emulator.wait_idle()
    user = users.find(services.db, "telegram", alice.id)
    assert list(ratings.history(services.db, user).ratings.values()) == [0.5]
    assert "Rated 1 of 5" in card.text


async def test_a_sticker_or_file_gets_a_hint_not_silence(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    message = emulator.world.add_message(alice.chat, alice.account)
    payload = message.to_dict()
    payload["document"] = {"file_id": "f1", "file_unique_id": "u1", "file_name": "evil.exe"}
    emulator.world.push_update("message", payload)
    assert "I only read text" in (await alice.next_message()).text


async def test_a_misspelling_too_far_off_gets_closest_spellings_best_first(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("alienz 5")
    reply = await alice.next_message()
    assert "Did you mean Alien (1979), Aliens (1986)?" in reply.text
    assert not reply.button_list


WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "COMMIT")


async def read_around(person, emulator) -> None:
    """Everything a person can look at without telling us anything."""
    await person.send("/recommend")
    picks = await person.next_message()
    await person.press(picks, "More ▶")
    await person.next_message()
    await person.press(picks, "Similar")
    await person.next_message()
    await person.send("/similar aliens")
    await person.next_message()
    await card_for(person, "heat")  # a search, then a movie card
    await person.send("qwxzv plmkj")  # a search that finds nothing
    await person.next_message()
    await person.send("/watchlist")
    await person.next_message()
    await person.send("/profile")
    await emulator.wait_idle()


async def test_reading_never_writes_and_a_reader_leaves_no_row(emulator, run_bot):
    services = await run_bot()
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    await alice.press(await card_for(alice, "die hard"), "★5")
    await alice.press(await card_for(alice, "fargo"), "➕ Watchlist")
    await emulator.wait_idle()
    statements: list[str] = []
    services.db.trace(statements.append)
    await read_around(alice, emulator)
    await read_around(bob, emulator)
    services.db.trace(None)
    assert statements, "the trace saw nothing"
    assert [s for s in statements if s.lstrip().upper().startswith(WRITES)] == []
    assert users.find(services.db, "telegram", bob.id) is None


async def test_recommend_reads_the_history_once_and_the_movies_once(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.press(await card_for(alice, "die hard"), "★5")
    await alice.send("/recommend")  # the catalogue's genres are read once, on the first
    await alice.next_message()
    statements: list[str] = []
    services.db.trace(statements.append)
    await alice.send("/recommend 3")
    picks = await alice.next_message()
    services.db.trace(None)
    assert "because you liked" in picks.text and "Die Hard" in picks.text
    assert len(statements) == 2
    assert "FROM ratings" in statements[0] and "FROM watchlist" in statements[0]
    assert "FROM movies WHERE id IN" in statements[1]


@pytest.mark.parametrize(
    "write",
    ["rate", "watchlist", "dismiss", "onboarding skip", "deep link"],
)
async def test_the_first_write_creates_the_user_in_the_same_transaction(emulator, run_bot, write):
    services = await run_bot()
    alice = emulator.user("Alice")
    statements: list[str] = []
    if write == "deep link":
        services.db.trace(statements.append)
        await alice.send("/start movienight_7")
    elif write == "onboarding skip":
        await alice.send("/start")
        await alice.next_message()
        card = await alice.next_message()
        services.db.trace(statements.append)
        await alice.press(card, "Skip")
    else:
        card = await card_for(alice, "heat 1995")
        label = {"rate": "★4", "watchlist": "➕ Watchlist", "dismiss": "🚫 Not interested"}
        services.db.trace(statements.append)
        await alice.press(card, label[write])
    await emulator.wait_idle()
    services.db.trace(None)
    assert sum(s.startswith("BEGIN") for s in statements) == 1
    user = users.find(services.db, "telegram", alice.id)
    assert user is not None and user.name == "Alice"
    if write == "deep link":
        assert services.nights.pending(alice.id) == 7


async def test_similar_is_timed_like_recommend(emulator, run_bot):
    services = await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/similar aliens")
    await alice.next_message()
    await alice.send("/recommend")
    await alice.next_message()
    latency = services.stats().latency
    assert latency["similar"].calls == 1 and latency["recommend"].calls == 1


def add_movies(world, *more) -> None:
    """Put movies in the world's catalogue before the bot starts (the title index is built
    when it opens)."""
    db = Database(world.db_path)
    movies.upsert_many(db, more)
    db.close()


HATE = Movie(31, "Hate (Haine, La)", 1995, ("Crime", "Drama"), "tt0113247", 406)
STAR_TREK = Movie(32, "Star Trek: First Contact", 1996, ("Action", "Sci-Fi"))


async def test_a_title_reads_the_same_everywhere_with_its_articles_in_front(
    emulator, run_bot, world
):
    add_movies(world, HATE)
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("la haine")
    card = await alice.next_message()
    assert card.text.startswith("Hate (La Haine) (1995)")
    await alice.press(card, "➕ Watchlist")
    await emulator.wait_idle()
    await alice.send("/watchlist")
    assert "• Hate (La Haine) (1995)" in (await alice.next_message()).text
    await alice.send("Hate (La Haine) (1995)")  # a title pasted back finds the movie
    assert (await alice.next_message()).text.startswith("Hate (La Haine) (1995)")


async def test_a_long_title_in_a_button_is_cut_at_a_word_and_keeps_its_year(
    emulator, run_bot, world
):
    add_movies(world, STAR_TREK)
    await run_bot()
    alice = emulator.user("Alice")
    card = await card_for(alice, "star trek first contact")
    await alice.press(card, "➕ Watchlist")
    await emulator.wait_idle()
    await alice.send("/watchlist")
    listing = await alice.next_message()
    assert "• Star Trek: First Contact (1996)" in listing.text
    assert listing.button_labels[0] == "✓ Watched: Star Trek: First… (1996)"


def name_the_data_set(world, code: str = "ml-100k") -> None:
    db = Database(world.db_path)
    db.set_meta("dataset", code)
    db.close()


@pytest.mark.parametrize("typed", ["lord of the rings", "seven samurai 1954", "casablanca"])
async def test_a_movie_the_catalogue_lacks_is_said_so_not_blamed_on_spelling(
    emulator, run_bot, world, typed
):
    name_the_data_set(world)
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send(typed)
    reply = await alice.next_message()
    assert not reply.button_list
    assert reply.text.startswith(f"My catalogue doesn't have {typed}")
    assert "MovieLens 100K, 30 movies up to 2001" in reply.text
    assert "Did you mean" not in reply.text and "spelling" not in reply.text


async def test_a_year_outside_the_catalogue_is_said_so(emulator, run_bot, world):
    name_the_data_set(world)
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/similar seven samurai 1954")
    assert (await alice.next_message()).text == (
        "My catalogue doesn't have seven samurai 1954: it is MovieLens 100K, 30 movies up to "
        "2001, so nothing from 1954."
    )


async def test_start_and_help_say_what_the_catalogue_is_and_how_to_get_a_current_one(
    emulator, run_bot, world
):
    name_the_data_set(world)
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/start")
    welcome = (await alice.next_message()).text
    await alice.next_message()  # the first card
    await alice.send("/help")
    help_text = (await alice.next_message()).text
    for text in (welcome, help_text):
        assert "My catalogue: MovieLens 100K, 30 movies up to 2001." in text
        assert "moviebot data fetch ml-latest-small" in text and "ml-32m" in text
        assert "moviebot data import" in text


HORROR = [
    Movie(41, "Scream", 1996, ("Horror", "Thriller")),
    Movie(42, "Halloween", 1978, ("Horror",)),
    Movie(43, "Shining, The", 1980, ("Horror",)),
    Movie(44, "Hellraiser", 1987, ("Horror",)),
    Movie(45, "Evil Dead, The", 1981, ("Horror", "Comedy")),
    Movie(46, "Candyman", 1992, ("Horror",)),
    Movie(47, "Poltergeist", 1982, ("Horror", "Adventure")),
    Movie(48, "Carrie", 1976, ("Horror",)),
]


async def test_profile_favourites_are_what_you_rate_often_and_highly(emulator, run_bot, world):
    add_movies(world, *HORROR)
    await run_bot()
    alice = emulator.user("Alice")
    for movie in HORROR:  # everything ★5, so averages cannot tell the genres apart
        await alice.press(await card_for(alice, movie.title.split(",")[0]), "★5")
    await alice.press(await card_for(alice, "die hard"), "★5")  # Action, Thriller
    await emulator.wait_idle()
    await alice.send("/profile")
    text = (await alice.next_message()).text
    assert "Ratings: 9" in text
    assert "Favourite genres: Horror, Thriller" in text
    assert "Favourite decades: 1980s, 1970s, 1990s" in text


def picked(message) -> list[str]:
    """The pick lines of a page: '1. Toy Story (1995)', …"""
    return [line for line in message.text.splitlines() if re.match(r"^\d+\. ", line)]


async def test_recommend_heading_shows_the_filters_and_more_only_when_there_is_more(
    emulator, run_bot
):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend 3 comedy 90s")
    page = await alice.next_message()
    assert page.text.startswith("🍿 Your picks · Comedy · 1990s")
    await alice.press(page, "More ▶")
    page2 = await alice.next_message()
    assert page2.text.startswith("🍿 More picks · Comedy · 1990s")
    # Four animated films in all: one page of five has them all, and no More ▶.
    await alice.send("/recommend animation")
    page = await alice.next_message()
    assert len(picked(page)) == 4 and "More ▶" not in page.button_labels


@pytest.mark.parametrize(
    ("args", "heading", "check"),
    [
        (
            "comedy romance",
            "Comedy + Romance",
            lambda lines: all("Comedy · Romance" in g for g in lines),
        ),
        ("kids", "Children's", lambda lines: all("Children's" in g for g in lines)),
        ("noir", "Film-Noir", lambda lines: all("Film-Noir" in g for g in lines)),
        ("1995", "1995", lambda titles: all("(1995)" in t for t in titles)),
    ],
)
async def test_recommend_understands_the_filter_words_people_use(
    emulator, run_bot, args, heading, check
):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send(f"/recommend {args}")
    page = await alice.next_message()
    assert page.text.startswith(f"🍿 Your picks · {heading}")
    lines = page.text.splitlines()
    titles = picked(page)
    genre_lines = [lines[lines.index(t) + 1] for t in titles]
    assert titles and check(titles if args == "1995" else genre_lines)


async def test_a_newcomers_picks_are_liked_by_many_not_popular_now(emulator, run_bot):
    """The reason comes from the data set's ratings (for MovieLens 100K, up to 1998), so a
    1977 film is not "popular now"."""
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recommend 10")
    page = await alice.next_message()
    assert "popular now" not in page.text
    assert page.text.count("liked by many people") == len(picked(page))


async def test_a_mistyped_command_gets_the_closest_one(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    await alice.send("/recomend comedy")
    assert "Did you mean /recommend?" in (await alice.next_message()).text
    await alice.send("/wachlist")
    assert "Did you mean /watchlist?" in (await alice.next_message()).text
    await alice.send("/frobnicate")
    hint = (await alice.next_message()).text
    assert "Did you mean" not in hint and "/help" in hint


async def test_stats_count_one_call_as_one_call(emulator, run_bot):
    alice = emulator.user("Alice")
    await run_bot(admins=(alice.id,))
    await alice.send("/recommend")
    await alice.next_message()
    await alice.send("/stats")
    assert "/recommend latency: p50" in (stats := (await alice.next_message()).text)
    assert "(1 call)" in stats and "(1 calls)" not in stats


async def test_the_export_has_iso_dates_display_titles_and_the_movies_ids(emulator, run_bot, world):
    add_movies(world, HATE)
    await run_bot()
    alice = emulator.user("Alice")
    await alice.press(await card_for(alice, "la haine"), "★5")
    await alice.press(await card_for(alice, "fargo"), "➕ Watchlist")
    await emulator.wait_idle()
    await alice.send("/export")
    doc = await alice.next_message()
    rows = list(csv.DictReader(io.StringIO(doc.document.data.decode())))
    assert [(r["list"], r["title"], r["imdb_id"], r["tmdb_id"]) for r in rows] == [
        ("rating", "Hate (La Haine)", "tt0113247", "406"),
        ("watchlist", "Fargo", "", ""),  # the catalogue has no ids for it
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["date"]) for r in rows)


async def test_predicted_stars_shown_with_picks_never_rise_down_the_page(emulator, run_bot):
    """The page is ranked by the blend, not by predicted stars: a ★ the order contradicts (a
    ★4.7 under a ★3.8) is left out rather than shown."""
    await run_bot()
    alice = emulator.user("Alice")
    await alice.press(await card_for(alice, "/rate die hard"), "★5")
    await emulator.wait_idle()
    await alice.send("/recommend 10")
    page = await alice.next_message()
    shown = [float(s) for s in re.findall(r"Predicted ★([\d.]+)", page.text)]
    assert shown and shown == sorted(shown, reverse=True)
