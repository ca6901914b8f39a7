"""A movie night a kill cut off: the bot stopped after "Pick movies" claimed the night (open →
voting) and before its poll was saved. On the next start the night is open again, so the press
the inbox replays posts the poll, once, and the vote runs as any other."""

from __future__ import annotations

from bot.services import open_services
from bot.services.movienight import NightView
from storage import groups, inbox
from storage.db import Database
from storage.inbox import Inbox
from tests.bot.test_intake import answers, bot_settings, fetch, serving


def polls_sent(emulator) -> int:
    return sum(1 for c in emulator.calls if c.method == "sendPoll")


async def test_a_kill_between_the_claim_and_the_poll_is_completed_by_the_replay(emulator, world):
    settings = bot_settings(emulator, world)
    alice, bob = emulator.user("Alice"), emulator.user("Bob")
    group = emulator.group("Friends", [alice, bob])
    async with serving(emulator, settings):
        await group.next_message()  # the bot introduces itself
        await alice.send("/movienight", to=group)
        night_message = await group.next_message()
        await bob.press(night_message, "I'm in 🙋")
        await emulator.wait_idle()
    press = await alice.press(night_message, "🎲 Pick movies")
    (fetched,) = await fetch(emulator)
    services = open_services(settings)
    try:  # stored, handled as far as the claim, and the bot dies before the poll goes out
        night = groups.current(services.db, group.id)
        assert night is not None
        Inbox(services.db).add([(fetched.update_id, fetched.to_json())])
        with inbox.handling(fetched.update_id):
            claimed = services.nights.start_picking(night.id, group.id, alice.id, False)
        assert isinstance(claimed, NightView) and claimed.status == "voting"
    finally:
        services.close()
    assert polls_sent(emulator) == 0

    async with serving(emulator, settings):
        poll = await group.next_message(timeout=10)
        reasons = await group.next_message()
        await emulator.wait_idle()
        assert poll.poll is not None and len(poll.poll.options) >= 2
        assert "Vote in the poll above!" in reasons.text
        await bob.vote(poll, 1)
        await emulator.wait_idle()
    assert polls_sent(emulator) == 1 and answers(emulator)[press.id] == 1
    with Database(settings.db_path) as db:
        after = groups.get(db, night.id)
        assert after is not None and after.status == "voting"
        assert after.poll_id == poll.poll.id and after.vote_deadline is not None
        assert groups.votes(db, night.id) == {bob.id: [1]}  # the poll that went out counts
