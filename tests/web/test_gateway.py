"""One off-loop gateway: every statement a web page runs, the session lookup included, runs on
a worker of the services' own threads (`Services.call`, the one the bot's processor uses: its
pool, and the lane that ranks and searches), never on the event loop's thread nor on a thread
of asyncio's default executor."""

from __future__ import annotations

import threading

from tests.web.test_pages import GODFATHER

PAGES = (
    "/",
    "/start",
    "/picks",
    "/picks?page=1",
    "/search?q=godfater",
    "/api/search?q=god",
    f"/movie/{GODFATHER}",
    f"/movie/{GODFATHER}/similar",
    "/watchlist",
    "/dismissed",
    "/profile",
    "/export.csv",
    "/nights",
)


async def test_every_page_reads_and_writes_on_the_services_pool(alice, services):
    threads: list[str] = []
    services.db.trace(lambda _: threads.append(threading.current_thread().name))
    try:
        for path in PAGES:
            assert (await alice.get(path)).status == 200, path
        assert (await alice.post(f"/movie/{GODFATHER}/rate", half_stars="8")).status == 303
        assert (await alice.post(f"/movie/{GODFATHER}/watchlist")).status == 303
    finally:
        services.db.trace(None)
    assert len(threads) > len(PAGES)  # the trace saw the pages' statements
    # The pages' rankings and searches read on the computing lane, everything else on the pool.
    assert {name.split("_")[0] for name in threads} == {"services", "services-computing"}
