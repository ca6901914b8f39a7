"""ChatOrder: chats at the same time, one chat's updates in order, a bounded number at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from telegram import Chat, Message, Update, User

from bot.processor import ChatOrder, order_key

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, "private")
    return Update(
        update_id, message=Message(update_id, NOW, chat, from_user=User(chat_id, "P", False))
    )


async def run_all(processor: ChatOrder, jobs: list[tuple[Update, float]], log: list) -> None:
    """Hand every update to the processor as PTB does (a task each, in arrival order)."""

    async def handler(u: Update, seconds: float) -> None:
        log.append(("start", u.update_id))
        await asyncio.sleep(seconds)
        log.append(("end", u.update_id))

    tasks = [
        asyncio.create_task(processor.process_update(u, handler(u, seconds))) for u, seconds in jobs
    ]
    await asyncio.gather(*tasks)


async def test_one_chat_stays_in_order_while_another_chat_goes_ahead():
    processor = ChatOrder(limit=8)
    log: list = []
    # Chat 1: a slow update, then a fast one. Chat 2: a fast one that arrived last.
    await run_all(processor, [(update(1, 1), 0.3), (update(2, 1), 0.0), (update(3, 2), 0.0)], log)
    assert log.index(("start", 2)) > log.index(("end", 1))  # chat 1 waited its turn
    assert log.index(("end", 3)) < log.index(("end", 1))  # chat 2 did not wait for chat 1
    assert processor.waiting_chats == 0


async def test_order_holds_for_a_long_backlog_of_one_chat():
    processor = ChatOrder(limit=4)
    log: list = []
    jobs = [(update(i, 7), 0.001 * (i % 3)) for i in range(1, 60)]
    await run_all(processor, jobs, log)
    assert [i for what, i in log if what == "start"] == list(range(1, 60))


async def test_a_backlogged_chat_takes_one_slot_so_other_chats_are_not_starved():
    processor = ChatOrder(limit=2)
    log: list = []
    slow_chat = [(update(i, 1), 0.05) for i in range(1, 21)]  # 1 s of work in one chat
    others = [(update(100 + i, 10 + i), 0.0) for i in range(5)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(run_all(processor, slow_chat + others, log))
    while sum(1 for what, i in log if what == "end" and i >= 100) < 5 and not task.done():
        await asyncio.sleep(0.005)
    others_took = loop.time() - started
    await task
    assert others_took < 0.3  # the other five chats were served long before chat 1's 1 s
    assert loop.time() - started >= 1.0


async def test_at_most_limit_updates_run_at_once():
    processor = ChatOrder(limit=3)
    running = peak = 0

    async def handler() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(processor.process_update(update(i, i), handler()) for i in range(1, 30)))
    assert peak == 3


def test_poll_answers_are_ordered_per_user_and_other_objects_not_at_all():
    assert order_key(update(1, 42)) == ("chat", 42)
    assert order_key("not an update") is None
