"""Reading requests strictly (a bad value is a 400, never a guess or a 500) and shaping the
little JSON the pages' scripts read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot import render
from bot.services.catalog import MAX_INPUT, About, Found, Scale
from bot.services.feedback import Refusal
from bot.services.movienight import NightView
from bot.services.people import Person
from bot.services.picks import Request
from web.auth import MiniAppUser

STATIC = Path(__file__).with_name("static")
MAX_PAGE = 50  # pages of picks: 500 movies deep is further than anyone scrolls
_SMALL_INT = re.compile(r"^[0-9]{1,4}$")


async def form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form (a url-encoded one only; anything else is malformed)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPBadRequest(text="Send the form as the page does.")
    return await request.post()


def small_int(raw: object, name: str) -> int:
    if not isinstance(raw, str) or not _SMALL_INT.match(raw):
        raise web.HTTPBadRequest(text=f"{name} must be a small whole number.")
    return int(raw)


def half_stars(posted: MultiDictProxy[Any]) -> int:
    """The rating a star button sends, as stars × 2 (★3.5 → 7)."""
    return small_int(posted.get("half_stars"), "The rating")


def refuse(outcome: object) -> None:
    """A service's refusal as the HTTP error it is."""
    if outcome is Refusal.GONE:
        raise web.HTTPNotFound(text=render.NOT_FOUND)
    if outcome is Refusal.EXPIRED:
        raise web.HTTPBadRequest(text="That rating is not on this catalogue's scale.")


def local_path(target: str | None, fallback: str) -> str:
    """Where to go back to: a path of this site only (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return fallback


def query(request: web.Request) -> str:
    text = request.query.get("q", "").strip()
    if len(text) > MAX_INPUT:
        raise web.HTTPBadRequest(text=f"A title is at most {MAX_INPUT} characters.")
    return text


def page_number(request: web.Request) -> int:
    raw = request.query.get("page", "0")
    number = small_int(raw, "The page")
    if number > MAX_PAGE:
        raise web.HTTPBadRequest(text=f"The page must be 0 … {MAX_PAGE}.")
    return number


def picks_request(
    request: web.Request, genres: Sequence[str], per_page: int
) -> tuple[Request, int]:
    """Genre (by name), decade (its first year) and page of the picks page."""
    genre = request.query.get("genre", "")
    if genre and genre not in genres:
        raise web.HTTPBadRequest(text="There is no such genre in the catalogue.")
    raw_decade = request.query.get("decade", "") or "0"
    decade = small_int(raw_decade, "The decade")
    if decade and (decade % 10 or not 1870 <= decade <= 2100):
        raise web.HTTPBadRequest(text="A decade is a year ending in 0, such as 1990.")
    wanted = Request(
        n=per_page,
        genres=(genres.index(genre),) if genre else (),
        since=decade,
        until=decade + 9 if decade else 0,
    )
    return wanted, page_number(request)


def decades(about: About) -> tuple[int, ...]:
    first, last = about.first_year or 1900, about.last_year or 2020
    return tuple(range(last // 10 * 10, first // 10 * 10 - 1, -10))


def steps(scale: Scale) -> tuple[int, ...]:
    """The star buttons: every value of the scale, as stars × 2."""
    low, high, step = scale
    return tuple(range(round(low * 2), round(high * 2) + 1, max(1, round(step * 2))))


def person_of(user: MiniAppUser) -> Person:
    return Person(user.telegram_id, user.first_name)


def found_json(found: Found) -> dict[str, Any]:
    def one(movie: Any) -> dict[str, Any]:
        return {"id": movie.id, "label": render.label(movie), "url": f"/movie/{movie.id}"}

    return {
        "query": found.query,
        "movies": [one(m) for m in found.movies],
        "suggestions": [one(m) for m in found.suggestions],
    }


def night_json(night: NightView) -> dict[str, Any]:
    return {
        "status": night.status,
        "voters": night.voters,
        "tally": list(night.tally),
        "members": [m.name for m in night.members],
    }
