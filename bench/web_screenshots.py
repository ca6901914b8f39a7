"""Screenshots of the web app's main pages, desktop and phone, into docs/web/ (`make screenshots`).

    python bench/web_screenshots.py                      # the tests' small world
    python bench/web_screenshots.py --db data/moviebot.sqlite --out docs/web

The database is copied to a temporary folder (a model is trained there if none loads); a
person "Alice" rates a few movies, joins a movie night with "Bob", and headless Chromium
(Debian's chromium + chromium-driver) photographs each page at 1280 px and at 360 px.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services import Services  # noqa: E402
from bot.services.people import Person  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.web.browser import MISSING, chromium, desktop, phone, served  # noqa: E402

ALICE, BOB = Person(7001, "Alice"), Person(7002, "Bob")
GROUP = -1007001


def world(args: argparse.Namespace, folder: Path) -> Settings:
    from bot.training import load_current, train
    from storage.db import Database

    if not args.db:
        from tests.bot.world import build

        return replace(build(folder / "world.sqlite", folder / "models"), token="1:shots")
    shutil.copy(args.db, folder / "shots.sqlite")
    settings = replace(
        Settings.from_env(env_file=None),
        db_path=folder / "shots.sqlite",
        model_dir=folder / "models",
        token="1:shots",
    )
    with Database(settings.db_path) as db:
        if load_current(db, settings) is None:
            print("training a model for the screenshots…", file=sys.stderr)
            train(db, settings)
    return settings


def stage(services: Services) -> tuple[int, int]:
    """Alice's ratings and a movie night she and Bob are in; (a movie to show, the night)."""
    found = [services.catalog.search(q, limit=1).movies for q in ("godfather", "star wars",
             "fargo", "toy story", "alien", "heat")]  # fmt: skip
    movies = [m[0].id for m in found if m]
    for movie, half in zip(movies[1:], (10, 8, 6, 8, 4), strict=False):
        services.feedback.rate(ALICE, movie, half)
    for movie in movies[1:4]:
        services.feedback.rate(BOB, movie, 8)
    night = services.nights.open(GROUP, "Film club", ALICE.telegram_id, "Alice")
    services.nights.join(night.id, GROUP, BOB.telegram_id, "Bob", in_group=True)
    services.nights.start_picking(night.id, GROUP, ALICE.telegram_id, is_admin=False)
    picking = services.nights.choose(night.id)
    services.nights.save_poll(night.id, picking, "shots-poll", 1)
    services.nights.vote("shots-poll", BOB.telegram_id, [0], in_group=True)
    return (movies[0] if movies else 1), night.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a moviebot database to copy (default: the tests' world)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "web")
    args = parser.parse_args()
    if MISSING:
        print(f"web_screenshots: {MISSING}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = world(args, Path(tmp))
        with served(settings) as (server, services), chromium(1280, 900) as driver:
            movie, night = stage(services)
            pages = {
                "picks": "/picks",
                "movie": f"/movie/{movie}",
                "search": "/search?q=godfater",
                "profile": "/profile",
                "start": "/start",
                "night": f"/nights/{night}",
            }
            driver.get(server.sign_in_link(services.web.link_token(ALICE)))
            driver.find_element("id", "signin").click()
            for size, resize in (("desktop", desktop), ("phone", phone)):
                resize(driver)
                for name, path in pages.items():
                    driver.get(server.base_url + path)
                    height = driver.execute_script("return document.body.scrollHeight")
                    if size == "desktop":
                        driver.set_window_size(1280, min(max(height + 140, 600), 2400))
                    target = args.out / f"{name}-{size}.png"
                    driver.save_screenshot(str(target))
                    print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
