"""Movie nights in SQLite: one open per group, state transitions once, joins and votes upsert."""

from __future__ import annotations

import json
import threading

import pytest

from storage import groups, ratings, users
from storage.db import Database
from storage.groups import NightAlreadyOpenError, NightPick, NightStateError

CHAT = -4000001
ALICE, BOB, CAROL = 1001, 1002, 1003
PICKS = [NightPick(0, 10, 0.9, "r0"), NightPick(1, 11, 0.7, "r1"), NightPick(2, 12, 0.5, "r2")]


def voting_night(db: Database) -> groups.Night:
    night = groups.open_night(db, CHAT, ALICE, "Alice", {"genre": 3}, title="Friends")
    groups.start_picking(db, night.id)
    groups.save_poll(db, night.id, PICKS, "poll-1", 7, deadline=2_000_000_000)
    return groups.get(db, night.id)


def test_open_night_has_the_starter_in_it_and_keeps_the_filters(fresh_db):
    night = groups.open_night(fresh_db, CHAT, ALICE, "Alice", {"genre": 3, "decade": 1990})
    assert night.status == "open" and night.filters == {"genre": 3, "decade": 1990}
    assert [m.telegram_id for m in groups.members(fresh_db, night.id)] == [ALICE]
    assert groups.current(fresh_db, CHAT) == night


def test_only_one_night_that_is_not_closed_per_group(fresh_db):
    night = groups.open_night(fresh_db, CHAT, ALICE, "Alice")
    with pytest.raises(NightAlreadyOpenError):
        groups.open_night(fresh_db, CHAT, BOB, "Bob")
    groups.open_night(fresh_db, CHAT - 1, BOB, "Bob")  # another group is fine
    groups.start_picking(fresh_db, night.id)
    with pytest.raises(NightAlreadyOpenError):  # voting still counts as not closed
        groups.open_night(fresh_db, CHAT, BOB, "Bob")
    groups.close(fresh_db, night.id, None)
    assert groups.open_night(fresh_db, CHAT, BOB, "Bob").id != night.id


def test_join_and_leave_toggle_membership_once(fresh_db):
    night = groups.open_night(fresh_db, CHAT, ALICE, "Alice")
    assert groups.join(fresh_db, night.id, BOB, "Bob") is True
    assert groups.join(fresh_db, night.id, BOB, "Bob") is False
    assert [m.name for m in groups.members(fresh_db, night.id)] == ["Alice", "Bob"]
    assert groups.leave(fresh_db, night.id, BOB) is True
    assert groups.leave(fresh_db, night.id, BOB) is False
    assert not groups.is_member(fresh_db, night.id, BOB)


@pytest.mark.parametrize(
    "step",
    [
        lambda db, n: groups.join(db, n, CAROL, "Carol"),
        lambda db, n: groups.leave(db, n, ALICE),
        lambda db, n: groups.start_picking(db, n),
    ],
    ids=["join", "leave", "pick again"],
)
def test_once_voting_the_member_list_and_picks_are_frozen(fresh_db, step):
    night = voting_night(fresh_db)
    before = groups.members(fresh_db, night.id)
    with pytest.raises(NightStateError):
        step(fresh_db, night.id)
    assert groups.members(fresh_db, night.id) == before
    assert groups.get(fresh_db, night.id).status == "voting"


def test_poll_picks_and_votes_round_trip(fresh_db):
    night = voting_night(fresh_db)
    assert groups.by_poll(fresh_db, "poll-1").id == night.id
    assert groups.picks(fresh_db, night.id) == PICKS
    assert [n.id for n in groups.voting(fresh_db)] == [night.id]
    assert night.vote_deadline == 2_000_000_000 and night.poll_message_id == 7
    groups.vote(fresh_db, night.id, ALICE, [1])
    groups.vote(fresh_db, night.id, BOB, [2])
    groups.vote(fresh_db, night.id, BOB, [1])  # changed their mind
    groups.vote(fresh_db, night.id, CAROL, [0])
    groups.vote(fresh_db, night.id, CAROL, [])  # retracted
    assert groups.votes(fresh_db, night.id) == {ALICE: [1], BOB: [1]}
    assert groups.tally(fresh_db, night.id) == [0, 2, 0]


def test_close_happens_once_and_freezes_the_votes(fresh_db):
    night = voting_night(fresh_db)
    groups.vote(fresh_db, night.id, ALICE, [0])
    assert groups.close(fresh_db, night.id, 10) is True
    assert groups.close(fresh_db, night.id, 11) is False  # the timeout after "Close vote"
    closed = groups.get(fresh_db, night.id)
    assert closed.status == "closed" and closed.winner_movie_id == 10 and closed.closed_at
    with pytest.raises(NightStateError):
        groups.vote(fresh_db, night.id, BOB, [1])
    assert groups.votes(fresh_db, night.id) == {ALICE: [0]}
    assert groups.current(fresh_db, CHAT) is None and groups.voting(fresh_db) == []


def test_reopen_after_a_failed_poll_lets_picking_start_again(fresh_db):
    night = groups.open_night(fresh_db, CHAT, ALICE, "Alice")
    groups.start_picking(fresh_db, night.id)
    groups.reopen(fresh_db, night.id)
    assert groups.get(fresh_db, night.id).status == "open"
    assert groups.start_picking(fresh_db, night.id).status == "voting"


def test_concurrent_joins_votes_and_pick_presses_lose_nothing_and_pick_once(tmp_path):
    db = Database(tmp_path / "nights.sqlite")
    night = groups.open_night(db, CHAT, ALICE, "Alice")
    people = range(2000, 2040)
    barrier = threading.Barrier(len(people))
    errors: list[Exception] = []

    def join(person: int) -> None:
        barrier.wait()
        try:
            groups.join(db, night.id, person, f"P{person}")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=join, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(groups.members(db, night.id)) == 1 + len(people)

    winners: list[int] = []

    def pick() -> None:
        try:
            groups.start_picking(db, night.id)
            winners.append(1)
        except NightStateError:
            pass

    pickers = [threading.Thread(target=pick) for _ in range(8)]
    for t in pickers:
        t.start()
    for t in pickers:
        t.join(timeout=30)
    assert winners == [1]

    groups.save_poll(db, night.id, PICKS, "poll-x", 3, deadline=0)

    def vote(person: int) -> None:
        groups.vote(db, night.id, person, [person % 3])

    voters = [threading.Thread(target=vote, args=(p,)) for p in people]
    for t in voters:
        t.start()
    for t in voters:
        t.join(timeout=30)
    assert sum(groups.tally(db, night.id)) == len(people)
    db.close()


def test_forgetting_a_user_removes_their_membership_and_votes(fresh_db):
    night = voting_night(fresh_db)
    groups.vote(fresh_db, night.id, ALICE, [0])
    alice = users.ensure_telegram(fresh_db, ALICE, "Alice")
    ratings.forget(fresh_db, alice)
    assert groups.members(fresh_db, night.id) == [] and groups.votes(fresh_db, night.id) == {}


def test_forgetting_the_starter_keeps_the_night_and_scrubs_them_from_the_reasons(fresh_db):
    night = groups.open_night(fresh_db, CHAT, ALICE, "Alice")
    groups.join(fresh_db, night.id, BOB, "Bob")
    groups.start_picking(fresh_db, night.id)
    both = json.dumps(
        {
            "predicted": [[ALICE, 4.5], [BOB, 4.0]],
            "loved": [[ALICE, 3], [BOB, 4]],
            "fits": True,
            "top": 0.1,
            "alike": [ALICE],
        }
    )
    picks = [
        NightPick(0, 10, 0.9, both),
        NightPick(1, 11, 0.7, "Alice and Bob loved Heat"),  # worded, as an older bot stored
        NightPick(2, 12, 0.5, "Bob loved Heat"),
        NightPick(3, 13, 0.4, json.dumps({"predicted": [[BOB, 3.5]], "note": "for Alice"})),
    ]
    groups.save_poll(fresh_db, night.id, picks, "poll-1", 7, deadline=2_000_000_000)
    groups.vote(fresh_db, night.id, ALICE, [0])
    ratings.forget(fresh_db, users.ensure_telegram(fresh_db, ALICE, "Alice"))
    after = groups.get(fresh_db, night.id)
    assert after is not None and after.starter_id is None and after.status == "voting"
    reasons = [p.reason for p in groups.picks(fresh_db, night.id)]
    assert json.loads(reasons[0]) == {
        "predicted": [[BOB, 4.0]],
        "loved": [[BOB, 4]],
        "fits": True,
        "top": 0.1,
        "alike": [],
    }
    assert reasons[1:] == ["", "Bob loved Heat", ""]
    groups.vote(fresh_db, night.id, BOB, [1])  # the night goes on for the others
    assert groups.close(fresh_db, night.id, 11)
