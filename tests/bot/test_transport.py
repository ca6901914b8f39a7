"""The Bot API's HTTP client (bot.transport.AiohttpRequest) as a bot sees it: uploads arrive
whole, a slow or absent server is a clear error without the token, proxies come from the
environment. Every server here listens on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut

from bot.transport import AiohttpRequest

TOKEN = "123456:SECRET-token-of-the-test"
ME = {"id": 1, "is_bot": True, "first_name": "Moviebot", "username": "moviebot_test_bot"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """`base = await serve(handler)`: a server on 127.0.0.1 answering every path with handler."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def bot_at(base: str, **timeouts: float) -> Bot:
    return Bot(TOKEN, base_url=f"{base}/bot", request=AiohttpRequest(**timeouts))


async def test_a_document_upload_arrives_with_its_name_type_bytes_and_parameters(serve):
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/getMe"):
            return ok(ME)
        form = await request.post()
        upload = form["document"]
        seen.update(
            chat=form["chat_id"],
            caption=form["caption"],
            name=upload.filename,
            type=upload.content_type,
            body=upload.file.read(),
        )
        return ok(
            {
                "message_id": 7,
                "date": 0,
                "chat": {"id": 42, "type": "private"},
                "document": {"file_id": "f", "file_unique_id": "u", "file_name": "x.csv"},
            }
        )

    bot = bot_at(await serve(handler))
    async with bot:
        body = b"movie,stars\nThe Godfather (1972),5\n" * 2000  # 74 KB
        sent = await bot.send_document(42, body, filename="ratings.csv", caption="Your ratings ★")
    assert sent.message_id == 7
    assert seen == {
        "chat": "42",
        "caption": "Your ratings ★",
        "name": "ratings.csv",
        "type": "text/csv",
        "body": body,
    }


async def test_parameters_are_one_json_body_with_the_keyboard_as_an_object(serve):
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/getMe"):
            return ok(ME)
        seen["type"] = request.content_type
        seen.update(await request.json())
        return ok({"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}})

    bot = bot_at(await serve(handler))
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("★5", callback_data="r.1.10.sig")]])
    async with bot:
        await bot.send_message(42, "Léon & <b>co</b>", parse_mode="HTML", reply_markup=keyboard)
    assert seen == {
        "type": "application/json",
        "chat_id": 42,
        "text": "Léon & <b>co</b>",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "★5", "callback_data": "r.1.10.sig"}]]},
    }


async def test_a_server_slower_than_the_read_timeout_is_timed_out(serve):
    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/getMe"):
            return ok(ME)
        await asyncio.sleep(2.0)
        return ok(True)

    bot = bot_at(await serve(handler), read_timeout=0.2)
    async with bot:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            await bot.send_chat_action(42, "typing")
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_no_server_is_a_network_error_that_never_names_the_token():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request = AiohttpRequest(connect_timeout=1.0)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    with pytest.raises(NetworkError) as raised:
        await bot.initialize()
    await bot.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert "SECRET" not in str(raised.value) and "aiohttp." in str(raised.value)


async def test_a_proxy_from_the_environment_carries_the_calls_unless_no_proxy_says(
    serve, monkeypatch
):
    through: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        through.append(str(request.url))  # a proxy is asked for the whole URL
        return ok(ME)

    async def direct(request: web.Request) -> web.Response:
        return ok(dict(ME, first_name="Direct"))

    proxy_base, direct_base = await serve(proxy), await serve(direct)
    monkeypatch.setenv("HTTP_PROXY", proxy_base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = "http://bot-api.invalid:8081"  # only the proxy can answer for this name
    async with Bot(TOKEN, base_url=f"{target}/bot", request=AiohttpRequest()) as bot:
        assert (await bot.get_me()).first_name == "Moviebot"
    assert through and all(url.startswith(f"{target}/bot") for url in through)

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    through.clear()
    async with bot_at(direct_base) as bot:
        assert (await bot.get_me()).first_name == "Direct"
    assert through == []


async def test_a_request_before_initialize_or_after_shutdown_is_refused():
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post("http://127.0.0.1:9/bot/getMe")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post("http://127.0.0.1:9/bot/getMe")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_a_server_with_an_untrusted_certificate_is_refused_before_any_call(tmp_path: Path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    reached: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        reached.append(request.path)
        return ok(ME)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    try:
        port = runner.addresses[0][1]
        bot = Bot(TOKEN, base_url=f"https://127.0.0.1:{port}/bot", request=AiohttpRequest())
        with pytest.raises(NetworkError) as raised:
            await bot.initialize()
        await bot.shutdown()
    finally:
        await runner.cleanup()
    assert reached == []  # the token never went to a server we could not verify
    assert "SECRET" not in str(raised.value)
