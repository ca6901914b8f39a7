"""`moviebot run` serves the web app from the bot's own process: /web's link signs in, and
what the browser stores the chat sees (one database, one set of services)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import aiohttp

from bot.settings import Settings
from emulator.server import Emulator
from tests.bot.test_logs_and_secrets import Run, environment, free_port, until


async def test_moviebot_run_serves_the_web_app_next_to_the_bot(
    emulator: Emulator, settings: Settings, tmp_path: Path
):
    port = free_port()
    env = environment(
        settings,
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        MOVIEBOT_WEB_PORT=str(port),
    )
    run = await Run(tmp_path, env).start()
    try:
        await until(lambda: emulator.api.polling.active > 0, "polled", run)
        alice = emulator.user("Alice")
        await alice.send("/web")
        link = re.search(
            rf"http://127\.0\.0\.1:{port}/signin\?t=(\S+)", (await alice.next_message()).text
        )
        assert link, run.output
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get("/hello") as hello:
                assert await hello.text() == "hello"
            token = unquote(link[1])
            async with http.post("/signin", data={"t": token}) as signed_in:
                assert signed_in.status == 200 and str(signed_in.url).endswith("/start")
            page = await (await http.get("/profile")).text()
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
            async with http.post("/movie/8/rate", data={"csrf": csrf, "half_stars": "10"}) as r:
                assert r.status == 200
        await alice.send("/profile")
        assert "Ratings: 1" in (await alice.next_message()).text
    finally:
        await run.stop()
    assert "web app on 127.0.0.1:" in run.output


def test_moviebot_chat_serves_the_web_app_and_prints_a_sign_in_link(settings, tmp_path):
    """Offline: the link for the simulated user is printed (to stderr under a transcript),
    and /web in the chat links to the same server."""
    from tests.bot.test_chat_command import run_cli

    port = free_port()
    result = run_cli(
        "--db",
        str(settings.db_path),
        stdin="/web\n",
        data_dir=tmp_path,
        MOVIEBOT_MODEL_DIR=str(settings.model_dir),
        MOVIEBOT_WEB_PORT=str(port),
    )
    assert result.returncode == 0, result.stderr
    base = f"http://127.0.0.1:{port}"
    assert f"The web app is at {base} — sign in as Alice" in result.stderr
    assert f"{base}/signin?t=" in result.stderr
    assert result.stdout.startswith("Alice> /web\nbot: ") and f"{base}/signin?t=" in result.stdout
