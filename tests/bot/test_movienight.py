"""Group movie night, end to end through the emulator with several simulated people."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3

import pytest

from bot import render
from bot.services import open_services, people
from bot.services.movienight import (
    Attendee,
    Choice,
    GroupReason,
    NightService,
    NightView,
    Picking,
    Refused,
    Timeout,
    winner,
)
from bot.services.people import Person
from bot.settings import Settings
from emulator.api import RateLimits
from emulator.runner import stop_application
from recommender.hybrid import ModelHolder
from storage import groups, movies, ratings, users
from storage.groups import NightPick
from tests.bot.test_private_chat import card_for
from tests.bot.world import ACTION

ACTION_IDS = [m.id for m in ACTION]


def seed(services, person, movie_ids, stars=5.0) -> None:
    """Give a simulated person ratings (as if they had rated these movies with the bot)."""
    user = people.ensure(services.db, Person(person.id, person.name))
    for movie_id in movie_ids:
        ratings.upsert(services.db, user, movie_id, stars)


async def group_with_night(emulator, run_bot, names=("Alice", "Bob", "Carol"), args="", **kw):
    """A group of `names` (the first starts the night) with the bot; returns the pieces."""
    services = await run_bot(**kw)
    people = [emulator.user(n) for n in names]
    group = emulator.group("Friends", people)
    intro = await group.next_message()
    await people[0].send(f"/movienight {args}".strip(), to=group)
    night_message = await group.next_message()
    return services, people, group, intro, night_message


def current_night(services, group):
    night = groups.current(services.db, group.id)
    assert night is not None
    return night


async def pick(emulator, group, starter, night_message):
    """The starter presses Pick movies; returns (poll message, reasons message)."""
    await starter.press(night_message, "🎲 Pick movies")
    poll = await group.next_message()
    reasons = await group.next_message()
    await emulator.wait_idle()
    return poll, reasons


async def test_bot_introduces_itself_when_added_to_a_group(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    group = emulator.group("Friends", [alice])
    intro = await group.next_message()
    assert "/movienight" in intro.text and "I'm in" in intro.text


async def test_a_whole_movie_night_from_command_to_watchlist(emulator, run_bot):
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot
    )
    seed(services, alice, ACTION_IDS[:4])
    seed(services, bob, ACTION_IDS[4:8])
    assert "Movie night!" in night_message.text and "Who's in?" in night_message.text
    assert night_message.button_labels[:2] == ["I'm in 🙋", "I'm out"]
    await bob.press(night_message, "I'm in 🙋")
    await carol.press(night_message, "I'm in 🙋")
    await emulator.wait_idle()
    # One message, edited in place: Carol has no ratings, so she gets the deep link.
    assert night_message.edited and group.messages() == [group.messages()[0], night_message]
    assert "Bob" in night_message.text and "Carol: I don't know your taste" in night_message.text
    assert "you count once you have rated 3 movies" in night_message.text
    night = current_night(services, group)
    link = f"https://t.me/{emulator.bot.username}?start=movienight_{night.id}"
    assert link in night_message.html and link in [b.url for b in night_message.button_list]

    poll_message, reasons = await pick(emulator, group, alice, night_message)
    poll = poll_message.poll
    assert poll is not None and not poll.is_anonymous and len(poll.options) == 5
    assert all("(19" in option or "(20" in option for option in poll.options)
    assert not set(poll.options) & {"Heat (1995)", "The Matrix (1999)"}  # Alice rated them
    assert "Why these" in reasons.text and "fits everyone (predicted ★" in reasons.text
    assert "★ ≥" not in reasons.text and "5.0" not in reasons.text
    # Alice and Bob rated only ★5: the note says how the picks took care of that.
    assert any(
        f"{a} and {b} rate everything alike" in reasons.text
        for a, b in [("Alice", "Bob"), ("Bob", "Alice")]
    )
    assert "nobody is predicted well below their own usual rating" in reasons.text
    assert "loved" in reasons.text
    assert "vote in the poll" in night_message.text and not night_message.button_list

    await alice.vote(poll_message, 0)
    await bob.vote(poll_message, 2)
    await carol.vote(poll_message, 2)
    await emulator.wait_idle()
    await alice.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message()
    await emulator.wait_idle()
    assert poll.is_closed
    assert f"Tonight: {poll.options[2]}" in announcement.text
    assert "2 of 3 votes" in announcement.text
    await bob.press(announcement, "➕ Add to everyone's watchlist")
    await emulator.wait_idle()
    winner = current_or_last(services, group).winner_movie_id
    for person in (alice, bob, carol):
        user = users.find(services.db, "telegram", person.id)
        assert winner in ratings.history(services.db, user).watchlist


def current_or_last(services, group):
    row = services.db.conn.execute(
        "SELECT max(id) FROM movie_nights WHERE chat_id = ?", (group.id,)
    ).fetchone()
    return groups.get(services.db, row[0])


@pytest.mark.parametrize("mention", [True, False], ids=["/movienight@bot", "/movienight"])
async def test_genre_and_decade_filters_apply_to_the_picks(emulator, run_bot, mention):
    services = await run_bot()
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Friends", [alice, bob])
    await group.next_message()
    await alice.send("/movienight comedy 90s", to=group, mention=mention)
    night_message = await group.next_message()
    assert "Comedy · 1990s" in night_message.text
    poll_message, _ = await pick(emulator, group, alice, night_message)
    assert all("(199" in option for option in poll_message.poll.options)
    chosen = groups.picks(services.db, current_night(services, group).id)
    assert chosen and all(16 <= p.movie_id <= 30 for p in chosen)  # the comedy half


async def test_bad_arguments_a_second_night_and_private_use_get_clear_answers(emulator, run_bot):
    services, (alice, bob, _), group, _, _ = await group_with_night(emulator, run_bot)
    await bob.send("/movienight banana", to=group)
    answer = (await group.next_message()).text
    assert "“banana”" in answer and "Usage" in answer
    await bob.send("/movienight", to=group)  # the same night, posted again at the bottom
    again = await group.next_message()
    assert "Who's in?" in again.text and "Alice" in again.text
    await emulator.wait_idle()
    night = current_night(services, group)
    assert night.message_id == again.id and len(groups.members(services.db, night.id)) == 1
    await bob.press(again, "I'm in 🙋")
    await emulator.wait_idle()
    assert "Bob" in again.text
    assert [n.id for n in groups.voting(services.db)] == []
    await alice.send("/movienight")
    assert "add me to a group" in (await alice.next_message()).text


async def test_newcomer_onboards_through_the_deep_link_and_counts(emulator, run_bot):
    services, (_, _, carol), group, _, night_message = await group_with_night(emulator, run_bot)
    await carol.press(night_message, "I'm in 🙋")
    await emulator.wait_idle()
    # Newcomers are named together ("Alice, Carol: …"), in an order that is not the test's.
    newcomers = re.compile(r"🆕 ([^:\n]*): I don't know your taste")
    assert "Carol" in newcomers.search(night_message.text)[1]
    night = current_night(services, group)
    await carol.send(f"/start movienight_{night.id}")
    await carol.next_message()  # welcome
    card = await carol.next_message()
    for _ in range(3):
        await carol.press(card, "★5")
        await emulator.wait_idle()
    back = [m.text for m in carol.messages() if "movie night" in m.text]
    assert back and "You now count for the movie night in Friends" in back[0]
    assert "Carol" not in newcomers.search(night_message.text)[1]
    assert "✅ Carol" in night_message.text


async def test_outsiders_cannot_join_or_vote(emulator, run_bot):
    services, (alice, bob, _), group, _, night_message = await group_with_night(emulator, run_bot)
    mallory = emulator.user("Mallory")  # not in the group, but got hold of the message
    query = await mallory.press(night_message, "I'm in 🙋")
    assert (await query.answered())["text"] == "Only members of this group can take part."
    night = current_night(services, group)
    assert [m.telegram_id for m in groups.members(services.db, night.id)] == [alice.id]
    poll_message, _ = await pick(emulator, group, alice, night_message)
    await mallory.vote(poll_message, 1)
    await bob.vote(poll_message, 0)
    await emulator.wait_idle()
    assert groups.votes(services.db, night.id) == {bob.id: [0]}


async def test_a_button_from_another_groups_night_is_rejected(emulator, run_bot):
    services, (alice, bob, _), group, _, night_message = await group_with_night(emulator, run_bot)
    other = emulator.group("Other", [alice, bob])
    await other.next_message()
    await alice.send("/movienight", to=other)
    other_message = await other.next_message()
    # Bob presses, in Friends, a copy of the Other group's "I'm in" button.
    night_message.reply_markup["inline_keyboard"][0][0]["callback_data"] = (
        other_message.reply_markup["inline_keyboard"][0][0]["callback_data"]
    )
    query = await bob.press(night_message, "I'm in 🙋")
    assert (await query.answered())["text"] == "This button has expired."
    for chat in (group, other):
        night = current_night(services, chat)
        assert [m.telegram_id for m in groups.members(services.db, night.id)] == [alice.id]


async def test_only_the_starter_or_an_admin_picks_and_only_once(emulator, run_bot):
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot
    )
    query = await bob.press(night_message, "🎲 Pick movies")
    assert "Only Alice" in (await query.answered())["text"]
    assert current_night(services, group).status == "open"
    group.promote(carol)
    keyboard = night_message.reply_markup
    poll_message, _ = await pick(emulator, group, carol, night_message)
    assert poll_message.poll is not None
    night_message.reply_markup = keyboard  # an old copy of the buttons, pressed again
    query = await alice.press(night_message, "🎲 Pick movies")
    assert (await query.answered())["text"] == "The picks are already out: vote in the poll!"
    query = await bob.press(night_message, "I'm in 🙋")
    assert (await query.answered())["text"] == "The picks are already out: vote in the poll!"
    await emulator.wait_idle()
    assert len([m for m in group.messages() if m.poll is not None]) == 1
    assert bob.id not in {
        m.telegram_id for m in groups.members(services.db, current_night(services, group).id)
    }
    query = await bob.press(poll_message, "🏁 Close vote")
    assert "Only Alice" in (await query.answered())["text"]
    assert not poll_message.poll.is_closed


async def test_a_closed_nights_buttons_change_nothing(emulator, run_bot):
    services, (alice, bob, _), group, _, night_message = await group_with_night(emulator, run_bot)
    keyboard = night_message.reply_markup
    poll_message, _ = await pick(emulator, group, alice, night_message)
    close = poll_message.reply_markup
    await alice.press(poll_message, "🏁 Close vote")
    await group.next_message()
    await emulator.wait_idle()
    night = current_or_last(services, group)
    # Old copies of the buttons (a client that has not caught up), pressed again.
    night_message.reply_markup, poll_message.reply_markup = keyboard, close
    for presser, message, label in [
        (bob, night_message, "I'm in 🙋"),
        (alice, night_message, "🎲 Pick movies"),
        (alice, poll_message, "🏁 Close vote"),
    ]:
        query = await presser.press(message, label)
        assert (await query.answered())["text"] == "This movie night is over."
    await emulator.wait_idle()
    assert groups.members(services.db, night.id)[0].telegram_id == alice.id
    assert len(groups.members(services.db, night.id)) == 1
    assert sum("Tonight" in m.text for m in group.messages() if m.text) == 1


async def test_many_joins_and_votes_at_once_lose_nothing_and_edit_one_message(emulator, run_bot):
    emulator.config.rate_limits = RateLimits()  # Telegram's 20 messages a minute per group
    names = ["Alice", *[f"Friend{i}" for i in range(24)]]
    services, people, group, _, night_message = await group_with_night(
        emulator, run_bot, names=names
    )
    queries = await asyncio.gather(*(p.press(night_message, "I'm in 🙋") for p in people[1:]))
    await asyncio.gather(*(q.answered() for q in queries))
    await emulator.wait_idle()
    night = current_night(services, group)
    assert len(groups.members(services.db, night.id)) == len(names)
    assert all(name in night_message.text for name in names)
    assert len(group.messages()) == 2  # the introduction and the one edited member list
    assert not [
        c
        for c in emulator.calls
        if c.method.lower() == "sendmessage" and str(c.params.get("chat_id")) == str(group.id)
    ][2:]
    # Everyone votes at the same moment: every vote is counted.
    poll_message, _ = await pick(emulator, group, people[0], night_message)
    await asyncio.gather(*(p.vote(poll_message, i % 5) for i, p in enumerate(people)))
    await emulator.wait_idle()
    assert sum(groups.tally(services.db, night.id)) == len(people)


async def test_the_vote_closes_itself_and_ties_go_to_the_better_group_match(emulator, run_bot):
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot, poll_timeout=2
    )
    seed(services, alice, ACTION_IDS[:4])
    night = current_night(services, group)
    poll_message, _ = await pick(emulator, group, alice, night_message)
    chosen = groups.picks(services.db, night.id)
    weaker, stronger = sorted(chosen[1:3], key=lambda p: p.score)
    await bob.vote(poll_message, weaker.position)
    await carol.vote(poll_message, stronger.position)
    announcement = await group.next_message(timeout=10)
    await emulator.wait_idle()
    assert poll_message.poll.is_closed
    assert f"Tonight: {poll_message.poll.options[stronger.position]}" in announcement.text
    assert "a tie" in announcement.text
    assert groups.get(services.db, night.id).winner_movie_id == stronger.movie_id


@pytest.mark.parametrize("closed_by", ["button", "timeout"])
async def test_a_closed_poll_loses_its_close_vote_button(emulator, run_bot, closed_by):
    timeout = 2 if closed_by == "timeout" else 3600
    _, (alice, bob, _), group, _, night_message = await group_with_night(
        emulator, run_bot, poll_timeout=timeout
    )
    poll_message, _ = await pick(emulator, group, alice, night_message)
    assert poll_message.button_labels == ["🏁 Close vote"]
    await bob.vote(poll_message, 0)
    if closed_by == "button":
        await alice.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message(timeout=10)
    await emulator.wait_idle()
    assert "Tonight" in announcement.text and poll_message.poll.is_closed
    assert poll_message.button_labels == []


async def test_anyone_in_the_group_may_vote_and_is_told_so(emulator, run_bot):
    """A native poll is open to the whole group: joining is for the picks' taste, not the vote."""
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot
    )
    await bob.press(night_message, "I'm in 🙋")
    poll_message, reasons = await pick(emulator, group, alice, night_message)
    assert "Anyone in the group can vote" in reasons.text
    await alice.vote(poll_message, 0)
    await bob.vote(poll_message, 1)
    await carol.vote(poll_message, 1)  # Carol never pressed "I'm in"
    await emulator.wait_idle()
    await alice.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message()
    assert f"Tonight: {poll_message.poll.options[1]}" in announcement.text
    assert "2 of 3 votes" in announcement.text
    assert "Anyone in the group could vote" in announcement.text
    night = current_or_last(services, group)
    assert carol.id not in {m.telegram_id for m in groups.members(services.db, night.id)}


async def test_adding_the_winner_twice_changes_nothing_the_second_time(emulator, run_bot):
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot
    )
    for person in (bob, carol):
        await person.press(night_message, "I'm in 🙋")
    poll_message, _ = await pick(emulator, group, alice, night_message)
    await bob.vote(poll_message, 0)
    await alice.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message()
    await emulator.wait_idle()
    title = poll_message.poll.options[0]
    first = await bob.press(announcement, "➕ Add to everyone's watchlist")
    assert (await first.answered())["text"] == f"Added {title} to 3 watchlists."
    second = await carol.press(announcement, "➕ Add to everyone's watchlist")
    answer = (await second.answered())["text"]
    assert "already on their watchlists" in answer and "Added" not in answer
    winner = current_or_last(services, group).winner_movie_id
    for person in (alice, bob, carol):
        user = users.find(services.db, "telegram", person.id)
        assert ratings.history(services.db, user).watchlist == {winner}


@pytest.mark.parametrize("command", ["/recommend", "/profile", "/start", "/rate heat"])
async def test_private_commands_in_a_group_point_to_the_private_chat(emulator, run_bot, command):
    await run_bot()
    alice = emulator.user("Alice")
    group = emulator.group("Friends", [alice])
    await group.next_message()  # the introduction
    await alice.send(command, to=group)
    answer = await group.next_message()
    name = command.split()[0]
    assert f"{name} works in a private chat with me" in answer.text
    assert "/movienight" in answer.text
    link = f"https://t.me/{emulator.bot.username}?start=group"
    assert [b.url for b in answer.button_list] == [link]


async def test_an_unknown_command_in_a_group_says_what_works_there(emulator, run_bot):
    await run_bot()
    alice = emulator.user("Alice")
    group = emulator.group("Friends", [alice])
    await group.next_message()
    group.promote_bot()  # an admin bot sees every message, other bots' commands too
    await alice.send("/dance", to=group)
    answer = await group.next_message()
    assert "I don't know /dance" in answer.text and "/movienight" in answer.text
    assert [b.url for b in answer.button_list] == [
        f"https://t.me/{emulator.bot.username}?start=group"
    ]
    await alice.send("/dance@another_bot", to=group, mention=False)  # not for us
    await alice.send("/help", to=group)
    help_text = await group.next_message()
    assert "What I can do" in help_text.text
    await emulator.wait_idle()
    assert group.messages()[-1] is help_text


async def test_a_restart_mid_vote_loses_nothing(emulator, run_bot):
    services, (alice, bob, carol), group, _, night_message = await group_with_night(
        emulator, run_bot, poll_timeout=3
    )
    await bob.press(night_message, "I'm in 🙋")
    poll_message, _ = await pick(emulator, group, alice, night_message)
    await bob.vote(poll_message, 1)
    await emulator.wait_idle()
    await stop_application(run_bot.apps[0])
    services.close()
    # While the bot is down Carol votes; Telegram keeps the update for the next bot.
    await carol.vote(poll_message, 1)
    services = await run_bot(poll_timeout=3)
    announcement = await group.next_message(timeout=10)  # the re-scheduled timeout fired
    await emulator.wait_idle()
    assert f"Tonight: {poll_message.poll.options[1]}" in announcement.text
    assert "2 of 2 votes" in announcement.text
    await bob.press(announcement, "➕ Add to everyone's watchlist")
    await emulator.wait_idle()
    user = users.find(services.db, "telegram", bob.id)
    assert ratings.history(services.db, user).watchlist


async def test_removing_the_bot_ends_the_groups_night(emulator, run_bot):
    services, (alice, _, _), group, _, _ = await group_with_night(emulator, run_bot)
    await group.remove_bot(by=alice)
    await emulator.wait_idle()
    assert groups.current(services.db, group.id) is None
    assert current_or_last(services, group).status == "closed"


def mentions(path, telegram_id: int, name: str) -> list[str]:
    """Every table.column of the database file at `path` (read through a fresh connection)
    holding this Telegram id (as a number or as text) or this name."""
    conn = sqlite3.connect(path)
    try:
        found = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                for column, value in zip(columns, row, strict=True):
                    text = value.decode(errors="replace") if isinstance(value, bytes) else value
                    if (isinstance(text, int | float) and text == telegram_id) or (
                        isinstance(text, str) and (str(telegram_id) in text or name in text)
                    ):
                        found.append(f"{table}.{column}={text!r}")
        return found
    finally:
        conn.close()


async def test_forget_leaves_nothing_that_identifies_the_person(emulator, run_bot, world):
    """Alice rates, keeps a watchlist, dismisses a movie, starts a movie night, is in its
    picks' reasons and votes; after /forget no table and no column of the file holds her id
    or her name, and the night she started goes on for the others (an admin closes it)."""
    services = await run_bot()
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    await alice.send("/start")
    await alice.next_message()
    card = await alice.next_message()
    for _ in range(5):
        await alice.press(card, "★5")
        await emulator.wait_idle()
    for typed, button in (("heat 1995", "➕ Watchlist"), ("clueless", "🚫 Not interested")):
        await alice.press(await card_for(alice, typed), button)
        await emulator.wait_idle()
    seed(services, bob, ACTION_IDS[4:8])
    group = emulator.group("Friends", [alice, bob])
    await group.next_message()
    await alice.send("/movienight", to=group)
    night_message = await group.next_message()
    await bob.press(night_message, "I'm in 🙋")
    poll_message, _ = await pick(emulator, group, alice, night_message)
    await alice.vote(poll_message, 0)
    await bob.vote(poll_message, 1)
    await emulator.wait_idle()
    night = current_night(services, group)
    assert any(str(alice.id) in p.reason for p in groups.picks(services.db, night.id))
    user = users.find(services.db, "telegram", alice.id)
    assert user is not None and ratings.history(services.db, user).watchlist
    assert mentions(world.db_path, alice.id, "Alice")  # the scan finds her before /forget

    await alice.send("/forget")
    confirm = await alice.next_message()
    await alice.press(confirm, "Yes, delete everything")
    await emulator.wait_idle()
    assert "deleted" in confirm.text
    assert mentions(world.db_path, alice.id, "Alice") == []
    # Bob is still in the picks' reasons, and the next model learns nothing of Alice: training
    # reads the ratings table, which has no row of hers.
    assert any(str(bob.id) in p.reason for p in groups.picks(services.db, night.id))
    assert user.id not in set(ratings.frame(services.db)["user"])

    # The night has no starter now: "starter or admin" is an admin only.
    query = await bob.press(poll_message, "🏁 Close vote")
    assert "group admin" in (await query.answered())["text"]
    group.promote(bob)
    await bob.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message()
    await emulator.wait_idle()
    assert f"Tonight: {poll_message.poll.options[1]}" in announcement.text
    assert mentions(world.db_path, alice.id, "Alice") == []


async def test_a_flood_wait_after_the_poll_keeps_the_vote_running(emulator, run_bot):
    """Once the poll is out, the vote runs: a follow-up message that has to wait (and is sent
    once the flood wait is over) must not undo it."""
    services, (alice, bob, _), group, _, night_message = await group_with_night(emulator, run_bot)
    emulator.faults.flood("sendMessage", retry_after=1, n=1)  # the reasons message
    await alice.press(night_message, "🎲 Pick movies")
    poll_message = await group.next_message()
    assert "Why these" in (await group.next_message(timeout=5)).text
    await emulator.wait_idle()
    night = current_night(services, group)
    assert night.status == "voting" and night.poll_id == poll_message.poll.id
    await bob.vote(poll_message, 0)
    await alice.press(poll_message, "🏁 Close vote")
    announcement = await group.next_message()
    assert f"Tonight: {poll_message.poll.options[0]}" in announcement.text


async def test_a_newcomer_who_rates_after_the_picks_are_out_is_sent_to_vote(emulator, run_bot):
    """Joining is closed once the picks are out, so "tap I'm in" would be a dead end."""
    services, (alice, _, carol), group, _, night_message = await group_with_night(emulator, run_bot)
    night = current_night(services, group)
    await pick(emulator, group, alice, night_message)
    await carol.send(f"/start movienight_{night.id}")
    await carol.next_message()  # welcome
    card = await carol.next_message()
    for _ in range(3):
        await carol.press(card, "★5")
        await emulator.wait_idle()
    back = [m.text for m in carol.messages() if "movie night" in m.text]
    assert back and "already out" in back[0] and "vote" in back[0]
    assert "I'm in" not in back[0]


# -- the night service on its own: plain ids in, dataclasses out, no Telegram -----------------

CHAT, ALICE, BOB, CAROL = -5001, 101, 102, 103


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def nights(tiny_catalog, clock) -> NightService:
    """Nights over the seven-movie catalogue, without a model, on a clock the test moves."""
    settings = Settings(poll_timeout=600)
    return NightService(
        settings, tiny_catalog, ModelHolder(), lambda: movies.genres(tiny_catalog), clock
    )


def reason(predicted=(), loved=(), **more) -> str:
    return json.dumps({"predicted": list(predicted), "loved": list(loved), **more})


def poll(nights: NightService, night: NightView, stored: list[NightPick]) -> Timeout:
    """Bob joins, Alice picks, and the poll offers `stored`."""
    assert not isinstance(nights.join(night.id, CHAT, BOB, "Bob", in_group=True), Refused)
    assert not isinstance(nights.start_picking(night.id, CHAT, ALICE, is_admin=False), Refused)
    picking = Picking(night, (), filtered=False, trained=True, stored=tuple(stored))
    return nights.save_poll(night.id, picking, "poll-1", 77)


PICKS = [NightPick(0, 1, 0.9, reason()), NightPick(1, 2, 0.5, reason()), NightPick(2, 3, 0.7, "")]


def opened(nights: NightService, **filters: int) -> NightView:
    night = nights.open(CHAT, "Friends", ALICE, "Alice", **filters)
    assert isinstance(night, NightView)
    return night


def test_who_may_take_each_step_of_a_night(nights):
    night = opened(nights, genre=2, decade=1990)
    assert night.status == "open" and night.genre == movies.genres(nights.db)[2]
    assert night.decade == 1990 and night.members == (Attendee(ALICE, "Alice", False),)
    assert nights.open(CHAT, "Friends", BOB, "Bob") == night  # the open one, to post again
    assert nights.join(night.id, CHAT, CAROL, "Carol", in_group=False) == Refused("not_in_group")
    assert nights.join(night.id, CHAT - 1, BOB, "Bob", in_group=True) == Refused("expired")
    assert nights.join(night.id + 1, CHAT, BOB, "Bob", in_group=True) == Refused("expired")
    joined = nights.join(night.id, CHAT, BOB, "Bob", in_group=True)
    assert not isinstance(joined, Refused) and joined.changed and joined.joined
    assert [m.name for m in joined.night.members] == ["Alice", "Bob"]
    again = nights.join(night.id, CHAT, BOB, "Bob", in_group=True)
    assert not isinstance(again, Refused) and not again.changed
    assert nights.close_by(night.id, CHAT, ALICE, is_admin=False) == Refused("not_voting")
    assert nights.start_picking(night.id, CHAT, BOB, is_admin=False) == Refused(
        "not_manager", "Alice"
    )
    claimed = nights.start_picking(night.id, CHAT, BOB, is_admin=True)  # a group admin may
    assert isinstance(claimed, NightView) and claimed.status == "voting"
    assert nights.start_picking(night.id, CHAT, ALICE, is_admin=False) == Refused("picked")
    assert nights.leave(night.id, CHAT, BOB, "Bob", in_group=True) == Refused("picked")
    assert nights.open(CHAT, "Friends", BOB, "Bob") == Refused("vote_running")
    assert nights.add_winner_to_watchlists(night.id, CHAT) == Refused("picked")


def test_the_starter_who_left_is_not_named(nights):
    night = opened(nights)
    nights.join(night.id, CHAT, BOB, "Bob", in_group=True)
    nights.leave(night.id, CHAT, ALICE, "Alice", in_group=True)
    assert nights.start_picking(night.id, CHAT, BOB, is_admin=False) == Refused("not_manager")


def test_votes_close_once_and_ties_go_to_the_better_group_match(nights):
    night = opened(nights)
    poll(nights, night, PICKS)
    assert nights.poll_chat("poll-1") == CHAT and nights.poll_chat("another poll") is None
    assert nights.vote("poll-1", ALICE, [1], in_group=True)
    assert nights.vote("poll-1", BOB, [2], in_group=True)
    assert not nights.vote("poll-1", CAROL, [1], in_group=False)  # not in the group
    assert not nights.vote("another poll", ALICE, [0], in_group=True)
    live = nights.current(CHAT)
    assert live is not None and live.tally == (0, 1, 1) and live.voters == 2
    assert nights.close_by(night.id, CHAT, BOB, is_admin=False) == Refused("not_manager", "Alice")
    closing = nights.close_by(night.id, CHAT, ALICE, is_admin=False)
    assert closing is not None and not isinstance(closing, Refused)
    assert closing.winner == movies.get(nights.db, 3)  # 1 vote each: 0.7 beats 0.5
    assert (closing.votes, closing.voters, closing.tie_broken) == (1, 2, True)
    assert closing.poll_message_id == 77 and closing.chat_id == CHAT
    assert nights.close(night.id) is None  # the timeout, a moment later
    assert nights.close_by(night.id, CHAT, ALICE, is_admin=False) == Refused("over")
    assert not nights.vote("poll-1", BOB, [0], in_group=True)
    assert nights.current(CHAT) is None
    view = nights.view(night.id)
    assert view is not None and view.status == "closed" and view.winner == closing.winner


@pytest.mark.parametrize(
    ("tally", "expected", "tie"),
    [
        ([0, 0, 0], 0, False),  # nobody voted: the best group score
        ([0, 3, 1], 1, False),
        ([2, 2, 0], 0, True),  # a tie: the better group score
        ([0, 1, 1], 2, True),
    ],
)
def test_the_winner(tally, expected, tie):
    best, tied = winner(PICKS, tally)
    assert best is not None and (best.position, tied) == (expected, tie)
    assert winner([], []) == (None, False)


def test_equal_scores_and_votes_go_to_the_earlier_option():
    picks = [NightPick(0, 1, 0.5, ""), NightPick(1, 2, 0.5, "")]
    best, tied = winner(picks, [1, 1])
    assert best is not None and best.position == 0 and tied


def test_timeouts_come_from_the_stored_deadline(nights, clock):
    night = opened(nights)
    timeout = poll(nights, night, PICKS)
    assert timeout == Timeout(night.id, int(clock.now) + 600, 600.0)
    clock.now += 200
    assert nights.pending_timeouts() == [Timeout(night.id, int(clock.now) + 400, 400.0)]
    clock.now += 1000  # the bot was down past the deadline: close at once
    assert nights.pending_timeouts()[0].delay == 0.0
    nights.close(night.id)
    assert nights.pending_timeouts() == []


def test_a_night_cut_off_before_its_poll_opens_again_on_resume(nights, clock):
    cut = opened(nights)
    assert not isinstance(nights.join(cut.id, CHAT, BOB, "Bob", in_group=True), Refused)
    assert not isinstance(nights.start_picking(cut.id, CHAT, ALICE, is_admin=False), Refused)
    running = nights.open(-5002, "Others", ALICE, "Alice")
    assert isinstance(running, NightView)
    assert not isinstance(nights.start_picking(running.id, -5002, ALICE, False), Refused)
    picking = Picking(running, (), filtered=False, trained=True, stored=tuple(PICKS))
    nights.save_poll(running.id, picking, "poll-2", 78)
    # Killed here: the first night is "voting" with no poll; a press now is refused ...
    assert nights.start_picking(cut.id, CHAT, ALICE, is_admin=False) == Refused("picked")
    assert [t.night_id for t in nights.pending_timeouts()] == [running.id]  # no vote to close
    # ... until the next start resumes: the cut-off night is open again, the vote still runs.
    assert [t.night_id for t in nights.resume()] == [running.id]
    again = nights.view(cut.id)
    assert again is not None and again.status == "open"
    assert [m.name for m in again.members] == ["Alice", "Bob"]
    assert isinstance(nights.start_picking(cut.id, CHAT, ALICE, is_admin=False), NightView)
    assert nights.view(running.id).status == "voting"


def test_the_winner_goes_on_the_watchlist_of_everyone_who_has_not_seen_it(nights):
    night = opened(nights)
    poll(nights, night, PICKS)
    nights.vote("poll-1", ALICE, [1], in_group=True)
    nights.close(night.id)
    bob = users.ensure_telegram(nights.db, BOB, "Bob")
    ratings.upsert(nights.db, bob, 2, 4.0)  # Bob has seen the winner since
    added = nights.add_winner_to_watchlists(night.id, CHAT)
    assert not isinstance(added, Refused) and added.movie.id == 2
    assert (added.count, added.already) == (1, 0)  # Alice's watchlist, not Bob's
    alice = users.find(nights.db, "telegram", ALICE)
    assert 2 in ratings.history(nights.db, alice).watchlist
    assert 2 not in ratings.history(nights.db, bob).watchlist
    again = nights.add_winner_to_watchlists(night.id, CHAT)  # a second press
    assert not isinstance(again, Refused) and (again.count, again.already) == (0, 1)
    assert nights.add_winner_to_watchlists(night.id, CHAT - 1) == Refused("expired")


def test_the_picks_reasons_are_stored_as_ids_and_shown_with_names(nights):
    night = opened(nights)
    fits = {"fits": True, "top": 0.04, "alike": [BOB, CAROL]}  # Carol is not in the night
    stored = [
        NightPick(0, 1, 0.9, reason([(ALICE, 4.25), (BOB, 3.5)], [(ALICE, 5), (BOB, 5)], **fits)),
        NightPick(1, 2, 0.5, "<i>a reason from an older moviebot</i>"),
        NightPick(2, 3, 0.4, reason([(ALICE, 2.5), (BOB, 5.0)])),  # an older one: no "fits"
    ]
    poll(nights, night, stored)
    view = nights.view(night.id)
    assert view is not None and [c.movie.id for c in view.choices] == [1, 2, 3]
    alien = movies.get(nights.db, 5)
    assert view.choices[0].reason == GroupReason(
        (("Alice", 4.25), ("Bob", 3.5)), ((("Alice", "Bob"), alien),), True, 0.04, ("Bob",)
    )
    assert view.choices[1].reason == GroupReason()
    assert view.choices[2].reason == GroupReason((("Alice", 2.5), ("Bob", 5.0)))


STARS = (("Alice", 5.0), ("Bob", 5.0))


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (GroupReason(STARS, fits=True), "fits everyone (predicted ★5 for all)"),
        (
            GroupReason((("Alice", 4.23), ("Bob", 4.8)), fits=True, top=0.021),
            "fits everyone (predicted ★4.2+ for all, in everyone's top 3%)",
        ),
        (
            GroupReason((("Alice", 4.99), ("Bob", 5.0)), fits=True, top=0.4),
            "fits everyone (predicted ★4.9+ for all)",  # never rounded up past the model
        ),
        (
            GroupReason((("Alice", 2.14), ("Bob", 4.8)), fits=False, top=0.6),
            "a compromise, not everyone's usual taste (predicted ★2.1–4.8)",
        ),
        (GroupReason((("Alice", 4.5),), fits=True), "fits Alice (predicted ★4.5)"),
        (
            GroupReason((("Alice", 3.0),), fits=False),
            "a compromise, not Alice's usual taste (predicted ★3)",
        ),
        (GroupReason(STARS), "everyone's predicted ★5"),  # stored by an older moviebot
        (GroupReason((("Alice", 4.25), ("Bob", 3.5))), "everyone's predicted ★3.5+"),
        (GroupReason(), "popular with people like you"),
    ],
)
def test_a_picks_reason_says_what_is_true_in_plain_words(reason, text):
    assert render.group_reason(reason) == text


def test_the_reasons_say_once_what_fits_means_and_who_rates_everything_alike():
    heat = movies.Movie(1, "Heat", 1995, ("Action",))
    fitting = Choice(0, heat, 0.9, GroupReason(STARS, fits=True, alike=("Alice", "Bob")))
    compromise = Choice(1, heat, 0.1, GroupReason(STARS, fits=False, alike=("Alice", "Bob")))
    text = render.night_picks([fitting, compromise])
    assert "Fits: nobody is predicted well below their own usual rating." in text
    assert "Alice and Bob rate everything alike" in text and "top 5% of matches" in text
    assert "Fits:" not in render.night_picks([compromise])
    alone = Choice(0, heat, 0.9, GroupReason(STARS, fits=True))
    assert "alike" not in render.night_picks([alone])


def test_the_note_on_alike_raters_holds_for_someone_who_rates_everything_one_star():
    heat = movies.Movie(1, "Heat", 1995, ("Action",))
    low = (("Finn", 1.0), ("Erin", 1.1))
    text = render.night_picks([Choice(0, heat, 0.9, GroupReason(low, fits=True, alike=("Finn",)))])
    assert "Finn rates everything alike" in text
    assert "high" not in text and "barely tell one movie from another" in text


def test_without_a_model_there_are_no_picks_and_the_night_opens_again(nights):
    night = opened(nights)
    nights.start_picking(night.id, CHAT, ALICE, is_admin=False)
    picking = nights.choose(night.id)
    assert not picking.enough and not picking.trained and not picking.filtered
    view = nights.view(night.id)
    assert view is not None and view.status == "open"


def test_a_newcomer_from_a_deep_link_counts_once_rated_enough(nights):
    night = opened(nights)
    carol = users.ensure_telegram(nights.db, CAROL, "Carol")
    users.update_settings(nights.db, carol, movienight=night.id)
    assert nights.pending(CAROL) == night.id
    for movie_id in (1, 2):
        ratings.upsert(nights.db, carol, movie_id, 5.0)
    assert nights.after_onboarding(CAROL) is None  # two ratings: not yet
    ratings.upsert(nights.db, carol, 3, 5.0)
    counted = nights.after_onboarding(CAROL)
    assert counted is not None and (counted.title, counted.is_member) == ("Friends", False)
    assert not counted.voting
    assert nights.after_onboarding(CAROL) is None and nights.pending(CAROL) is None


async def test_picks_with_a_model_round_trip_through_the_poll(world):
    """What the handler shows when the picks go out is what a front end reads back later."""
    services = open_services(world)
    try:
        nights = services.nights
        fans = [(ALICE, "Alice", ACTION_IDS[:4]), (BOB, "Bob", ACTION_IDS[4:8])]
        for telegram_id, name, liked in fans:
            user = people.ensure(services.db, Person(telegram_id, name))
            for movie_id in liked:
                ratings.upsert(services.db, user, movie_id, 5.0)
        night = nights.open(CHAT, "Friends", ALICE, "Alice")
        assert isinstance(night, NightView)
        nights.join(night.id, CHAT, BOB, "Bob", in_group=True)
        nights.start_picking(night.id, CHAT, ALICE, is_admin=False)
        picking = nights.choose(night.id)
        assert picking.enough and picking.trained and len(picking.choices) == 5
        assert not {c.movie.id for c in picking.choices} & set(ACTION_IDS[:8])
        assert any(c.reason.loved for c in picking.choices)
        assert all(len(c.reason.predicted) == 2 for c in picking.choices)
        assert all(c.reason.fits is not None for c in picking.choices)
        nights.save_poll(night.id, picking, "poll-9", 5)
        view = nights.view(night.id)
        assert view is not None and view.choices == picking.choices
    finally:
        services.close()
