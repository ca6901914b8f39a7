"""Starting and stopping the web server inside the bot's event loop."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from bot.services import Services
from bot.settings import Settings
from web.app import AccessLog, build_app

log = logging.getLogger(__name__)


@dataclass
class WebServer:
    runner: web.AppRunner
    base_url: str  # where people reach it: MOVIEBOT_WEB_URL, or the address it listens on

    def sign_in_link(self, token: str) -> str:
        return sign_in_link(self.base_url, token)

    async def stop(self) -> None:
        await self.runner.cleanup()


def base_url(settings: Settings, port: int | None = None) -> str:
    """The public address when configured, else the local one."""
    if settings.web_url:
        return settings.web_url
    host = settings.web_listen
    host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.web_port if port is None else port}"


def sign_in_link(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/signin?t={quote(token)}"


async def start(
    settings: Settings,
    get_services: Callable[[], Services | None],
    *,
    fall_back_to_any_port: bool = False,
) -> WebServer:
    """Listen on MOVIEBOT_WEB_LISTEN:MOVIEBOT_WEB_PORT (or, when that port is taken and
    `fall_back_to_any_port`, on a free one: the offline chat must start anyway)."""
    runner = web.AppRunner(
        build_app(settings, get_services), access_log_class=AccessLog, handle_signals=False
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.web_listen, settings.web_port)
        await site.start()
    except OSError:
        if not fall_back_to_any_port:
            await runner.cleanup()
            raise
        site = web.TCPSite(runner, settings.web_listen, 0)
        await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.web_port
    server = WebServer(runner, base_url(settings, port))
    log.info("web app on %s:%s (%s)", settings.web_listen, port, server.base_url)
    return server


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, get_services: Callable[[], Services | None], **options: bool
) -> AsyncIterator[WebServer | None]:
    """The web server for the duration of the block; None when MOVIEBOT_WEB=0."""
    if not settings.web:
        yield None
        return
    server = await start(settings, get_services, **options)
    try:
        yield server
    finally:
        await server.stop()
