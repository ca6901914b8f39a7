"""A real web server in a thread of its own and headless Chromium driven by selenium, for the
end-to-end tests and the screenshots. Debian's `chromium` and `chromium-driver` only: nothing
is downloaded."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from bot.services import Services, open_services
from bot.settings import Settings
from web.server import WebServer, start

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = (
    None
    if CHROMIUM and CHROMEDRIVER
    else "Chromium is not installed here (apt-get install chromium chromium-driver; "
    ".ci/run installs them)"
)


@contextmanager
def served(settings: Settings) -> Iterator[tuple[WebServer, Services]]:
    """The web app over fresh services on 127.0.0.1 (a free port), in a background loop."""
    services = open_services(settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    local = replace(settings, web_listen="127.0.0.1", web_port=0, web_url=None)
    server = asyncio.run_coroutine_threadsafe(start(local, lambda: services), loop).result(30)
    try:
        yield server, services
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        services.close()


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={width},{height}",
        "--host-resolver-rules=MAP telegram.org ~NOTFOUND",  # offline: fail at once
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def phone(driver: Any, width: int = 360, height: int = 740) -> None:
    """Lay pages out as a phone of this CSS width does (Telegram's in-app browser)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
    )


def desktop(driver: Any) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
