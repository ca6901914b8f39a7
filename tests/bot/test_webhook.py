"""Webhook mode: updates come in over HTTP, and only with Telegram's secret header."""

from __future__ import annotations

import socket
from dataclasses import replace

import aiohttp

from bot.app import build_application, webhook_options
from bot.services import open_services
from emulator.markup import command_entities
from emulator.runner import stop_application


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_accepts_updates_with_the_secret_and_refuses_others(emulator, world):
    port = free_port()
    settings = emulator.settings(
        replace(
            world,
            webhook_url="https://bot.example.org/telegram/hook",
            webhook_secret="s3cret-token",
            webhook_listen="127.0.0.1",
            webhook_port=port,
        )
    )
    services = open_services(settings)
    app = build_application(settings, services)
    options = webhook_options(settings)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_webhook(**options)
    try:
        assert emulator.api.webhook_url == "https://bot.example.org/telegram/hook"
        alice = emulator.user("Alice")
        message = emulator.world.add_message(
            alice.chat, alice.account, text="/help", entities=command_entities("/help")
        )
        update = {"update_id": 1, "message": message.to_dict()}
        url = f"http://127.0.0.1:{port}/telegram/hook"
        async with aiohttp.ClientSession() as http:
            for secret in (None, "wrong"):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            assert not alice.messages()
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200
        reply = await alice.next_message()
        assert "What I can do" in reply.text
    finally:
        await stop_application(app)
        services.close()
