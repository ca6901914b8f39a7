"""Rankings and title searches have worker threads of their own (`bot.services.computing`): a
crowd of writers waiting for a lock held elsewhere (an import, another process) does not hold
up anyone's picks or searches."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.services import WORKERS, open_services
from bot.services.feedback import Rated
from bot.services.people import Person
from bot.services.picks import Request
from bot.settings import Settings

ALICE = Person(501, "Alice")


async def test_picks_and_search_answer_while_every_worker_waits_for_the_write_lock(
    world: Settings,
) -> None:
    services = open_services(world)
    other = sqlite3.connect(world.db_path, isolation_level=None)
    try:
        services.feedback.rate(ALICE, 1, 10)  # Heat (1995): Alice likes action
        other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        waiting = [
            asyncio.ensure_future(services.call(services.feedback.rate, Person(600 + i), 7, 8))
            for i in range(WORKERS + 8)  # more writers than the pool has threads
        ]
        await asyncio.sleep(0.5)
        assert not any(w.done() for w in waiting)  # every one of them waits for the lock

        page = await asyncio.wait_for(
            services.call(services.picks.recommend, ALICE, Request(n=5)), timeout=5
        )
        found = await asyncio.wait_for(
            services.call(services.catalog.search, "godfater", 3), timeout=5
        )
        assert len(page.suggestions) == 5
        assert 1 not in {s.movie.id for s in page.suggestions}  # she rated it
        assert [m.title for m in found.movies][:1] == ["Godfather, The"]

        other.execute("ROLLBACK")  # the lock is free: every waiting rating is saved
        saved = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
        assert {type(r) for r in saved} == {Rated} and {r.stars for r in saved} == {4.0}
    finally:
        other.close()
        services.close()
