"""Webhook mode: updates come in over HTTP, only with Telegram's secret header, and are answered
200 only once they are in the inbox (Telegram sends again whatever did not get its 200)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from dataclasses import replace

import aiohttp

from emulator.markup import command_entities
from storage.db import Database
from storage.inbox import Inbox
from tests.bot.test_intake import bot_settings, serving

HOOK_PATH = "/telegram/hook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook_settings(emulator, world, port: int):
    return bot_settings(
        emulator,
        replace(
            world,
            webhook_url=f"https://bot.example.org{HOOK_PATH}",
            webhook_secret="s3cret-token",
            webhook_listen="127.0.0.1",
            webhook_port=port,
        ),
    )


async def test_webhook_accepts_updates_with_the_secret_and_refuses_others(emulator, world):
    port = free_port()
    settings = webhook_settings(emulator, world, port)
    async with serving(emulator, settings):
        assert emulator.api.webhook_url == f"https://bot.example.org{HOOK_PATH}"
        assert emulator.api.webhook_secret == "s3cret-token"
        alice = emulator.user("Alice")
        message = emulator.world.add_message(
            alice.chat, alice.account, text="/help", entities=command_entities("/help")
        )
        update = {"update_id": 1, "message": message.to_dict()}
        url = f"http://127.0.0.1:{port}{HOOK_PATH}"
        async with aiohttp.ClientSession() as http:
            for secret in (None, "wrong"):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            assert not alice.messages()
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with http.post(url, data=b"not json", headers=headers) as response:
                assert response.status == 400
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
            # Telegram sends it again (our 200 was lost on the way): handled only once.
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
        reply = await alice.next_message()
        assert "What I can do" in reply.text
        await emulator.wait_idle()
    assert len(alice.messages()) == 1


async def test_an_update_the_inbox_cannot_store_gets_no_200_and_telegram_sends_it_again(
    emulator, world, monkeypatch
):
    """Another process holds the database's write lock: the webhook answers 500 (the update is
    not stored), the emulator retries as Telegram does, and once the lock goes the update is
    stored, answered 200 and handled once."""
    monkeypatch.setattr("storage.db.BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr("storage.db.WRITE_DEADLINE_S", 0.1)
    port = free_port()
    settings = webhook_settings(emulator, world, port)
    emulator.webhook.target = f"http://127.0.0.1:{port}{HOOK_PATH}"
    alice = emulator.user("Alice")
    async with serving(emulator, settings):
        holder = sqlite3.connect(settings.db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        await alice.send("/help")
        deadline = time.monotonic() + 10
        while len(emulator.webhook.log) < 3:
            assert time.monotonic() < deadline, emulator.webhook.log
            await asyncio.sleep(0.02)
        assert not alice.messages()
        holder.execute("COMMIT")
        holder.close()
        reply = await alice.next_message(timeout=10)
        await emulator.wait_idle()
    statuses = [status for _, status in emulator.webhook.log]
    assert statuses[-1] == 200 and statuses.count(200) == 1
    assert set(statuses[:-1]) == {500}
    assert "What I can do" in reply.text and len(alice.messages()) == 1
    assert not emulator.webhook.dropped and not emulator.world.updates
    with Database(settings.db_path) as db:
        (update_id, _), *_ = emulator.webhook.log
        assert Inbox(db).states([update_id]) == {update_id: "done"}
