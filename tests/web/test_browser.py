"""End to end in headless Chromium: sign in with a link, find a misspelt title, rate it, see
the picks change; a Mini App session from initData; a phone's 360 px; the profile chart."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from tests.web.browser import MISSING, chromium, desktop, phone, served
from tests.web.conftest import ALICE, BOB, TOKEN
from web import auth

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

WAIT = 10  # seconds any one thing may take to appear
GODFATHER = 8


@pytest.fixture(scope="module")
def site(web_world, tmp_path_factory):
    import shutil
    from dataclasses import replace

    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(web_world.db_path, folder / "world.sqlite")
    shutil.copytree(web_world.model_dir, folder / "models")
    settings = replace(
        web_world, db_path=folder / "world.sqlite", model_dir=folder / "models", token=TOKEN
    )
    with served(settings) as (server, services), chromium() as driver:
        yield server, services, driver


@pytest.fixture
def browser(site):
    server, _services, driver = site
    driver.get(server.base_url + "/hello")
    driver.delete_all_cookies()
    driver.execute_script("sessionStorage.clear()")  # a Mini App's theme stays in its tab
    desktop(driver)
    return site


def wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(lambda d: condition(d), message=what)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def picks_shown(driver) -> list[str]:
    return [e.get_attribute("data-movie") for e in css(driver, "#picks .pick")]


def sign_in(server, services, driver, who=ALICE) -> None:
    driver.get(server.sign_in_link(services.web.link_token(who)))
    css(driver, "#signin")[0].click()
    wait(driver, lambda d: "/signin" not in d.current_url, "the sign-in lands on a page")


def test_link_search_rate_and_the_picks_change(browser):
    server, services, driver = browser
    sign_in(server, services, driver)
    assert driver.current_url.endswith("/start")  # a newcomer: onboarding first
    driver.get(server.base_url + "/picks")
    before = picks_shown(driver)
    assert before
    driver.get(server.base_url + "/search")
    box = css(driver, "#q")[0]
    box.send_keys("godfater")
    result = wait(driver, lambda d: css(d, "#live-results a"), "results appear as you type")[0]
    assert result.text == "The Godfather (1972)"
    result.click()
    wait(driver, lambda d: d.current_url.endswith(f"/movie/{GODFATHER}"), "the movie page")
    assert css(driver, "#predicted")
    css(driver, 'button[aria-label="Rate ★5"]')[0].click()
    wait(driver, lambda d: css(d, "#yours"), "the rating is shown")
    assert css(driver, "#yours")[0].text == "You rated it ★5"
    driver.get(server.base_url + "/picks")
    after = picks_shown(driver)
    assert after and after != before and str(GODFATHER) not in after


def test_a_mini_app_session_from_telegrams_init_data(browser):
    server, _services, driver = browser
    fields = {
        "user": json.dumps({"id": BOB.telegram_id, "first_name": "Bob"}),
        "auth_date": str(int(time.time())),
        "query_id": "AAE-test",
    }
    theme = {"bg_color": "#102030", "text_color": "#f0f0f0", "button_color": "#ff8800"}
    launch = f"#tgWebAppData={quote(auth.sign(fields, TOKEN))}" + (
        f"&tgWebAppVersion=8.0&tgWebAppThemeParams={quote(json.dumps(theme))}"
    )
    driver.get(server.base_url + "/" + launch)
    wait(driver, lambda d: d.current_url.split("#")[0].endswith("/start"), "signed in by initData")
    assert "Signed in as Bob" in css(driver, "footer")[0].text
    background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 32, 48)"  # Telegram's theme, not ours
    # A tampered initData signs nobody in.
    driver.delete_all_cookies()
    driver.get(server.base_url + "/picks#tgWebAppData=" + quote(auth.sign(fields, "1:other")))
    wait(
        driver,
        lambda d: "refused" in css(d, "#miniapp-signin")[0].text,
        "a foreign bot's initData is refused",
    )
    assert css(driver, "#error")[0].get_attribute("data-status") == "401"


@pytest.mark.parametrize(
    "path", ["/picks", "/search?q=godfater", f"/movie/{GODFATHER}", "/profile", "/start"]
)
def test_a_phone_width_of_360_px_needs_no_horizontal_scroll(browser, path):
    server, services, driver = browser
    sign_in(server, services, driver)
    phone(driver)
    driver.get(server.base_url + path)
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[1] == 360 and widths[0] <= widths[1], widths


def test_the_profile_chart_renders(browser):
    server, services, driver = browser
    sign_in(server, services, driver)
    for movie, half in [(1, 10), (3, 8), (4, 8), (16, 4)]:
        services.feedback.rate(ALICE, movie, half)
    driver.get(server.base_url + "/profile")
    chart = css(driver, "#rating-chart")[0]
    assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 80
    heights = driver.execute_script(
        "return [...document.querySelectorAll('#rating-chart rect')]"
        ".map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) == 5 and heights[3] > heights[0] == 0 and heights[3] == max(heights)


def test_every_control_is_reachable_by_keyboard(browser):
    """Tab from the top reaches the search link, a star button and "More like this"."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    server, services, driver = browser
    sign_in(server, services, driver)
    driver.get(server.base_url + f"/movie/{GODFATHER}")
    reached = []
    for _ in range(40):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        reached.append(active.get_attribute("aria-label") or active.text)
    assert {"Search", "Rate ★5", "More like this", "➕ Watchlist"} <= set(reached), reached


def test_outside_telegram_the_page_follows_the_systems_dark_mode(browser):
    server, services, driver = browser
    sign_in(server, services, driver)
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        driver.get(server.base_url + "/picks")
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(23, 24, 28)"
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
