"""/recommend, "More", /similar, and what can be done with a pick: watchlist, not interested."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import (
    answer,
    button_scope,
    caller,
    read_button,
    refuse,
    reply,
)
from bot.services.catalog import MAX_INPUT, Found
from bot.services.feedback import Refusal
from bot.services.picks import DEFAULT_N, MAX_N, Request

_DECADE = re.compile(r"^(?:'?(\d)0'?s|(18[89]|19\d|20\d)0'?s)$")  # 90s, '90s, 90's, 1990s
_YEAR = re.compile(r"^(18[89]\d|19\d\d|20\d\d)$")
_YEARS = re.compile(r"^(18[89]\d|19\d\d|20\d\d)[-–](18[89]\d|19\d\d|20\d\d)$")  # 1990-1995
_FILLER = frozenset({"and", "&", "+", "with", "movie", "movies", "film", "films", "in", "the"})
# Words people use for a genre, as the normalised start of its name.
_GENRE_WORDS = {
    "kid": "children",
    "kids": "children",
    "child": "children",
    "family": "children",
    "noir": "filmnoir",
    "cartoon": "animation",
    "animated": "animation",
    "anime": "animation",
    "scary": "horror",
    "romantic": "romance",
    "funny": "comedy",
    "sf": "scifi",
    "doc": "documentary",
    "docs": "documentary",
    "suspense": "thriller",
}


class UsageError(ValueError):
    """The /recommend arguments don't parse."""


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _years(word: str) -> tuple[int, int] | None:
    """'90s', "'80s", '1980s' → that decade; '1995' → that year; '1990-1995' → those years."""
    if m := _DECADE.match(word):
        decade = int(m[2]) * 10 if m[2] else 1900 + int(m[1]) * 10 + (100 if int(m[1]) < 3 else 0)
        return decade, decade + 9  # 00s, 10s, 20s: this century
    if _YEAR.match(word):
        return int(word), int(word)
    if m := _YEARS.match(word):
        return min(int(m[1]), int(m[2])), max(int(m[1]), int(m[2]))
    return None


def _genre_key(word: str) -> str:
    """A word as the normalised start of a genre name: 'kids' → 'children', 'comedies' →
    'comedy', 'westerns' → 'western'."""
    key = _norm(word)
    if key in _GENRE_WORDS:
        return _GENRE_WORDS[key]
    key = key[:-3] + "y" if key.endswith("ies") else key.removesuffix("s")
    return _GENRE_WORDS.get(key, key)


def _genre(word: str, following: str, names: dict[str, int]) -> tuple[int, int] | None:
    """(genre index, words used) for 'film noir' (two words), 'scifi', 'noir', 'kids' or a
    prefix like 'rom'; None if it names no genre, or several."""
    if following and _norm(word + following) in names:
        return names[_norm(word + following)], 2
    key = _genre_key(word)
    if key in names:
        return names[key], 1
    hits = [j for name, j in names.items() if name.startswith(key)] if len(key) >= 3 else []
    return (hits[0], 1) if len(set(hits)) == 1 else None


def _count(word: str) -> int | None:
    """A positive whole number in ASCII digits ('²' is a digit to str.isdigit(), not to int());
    a huge one counts as huge, without converting thousands of digits."""
    digits = word.lstrip("0")
    if not (word.isascii() and word.isdigit()) or not digits:
        return None
    return int(digits) if len(digits) <= 18 else 10**18


def parse_request(args: list[str], genres: Sequence[str]) -> Request:
    """`[n] [genres] [years]` in any order: `10 comedy 90s`, `comedy horror` (both), `sci-fi
    1980s`, `noir 1995` (that year), `kids 1990-1995`, `film noir`."""
    n, wanted, years = DEFAULT_N, list[int](), (0, 0)
    words = [a.lower() for a in args if a.strip() and a.lower() not in _FILLER]
    names = {_norm(g): i for i, g in enumerate(genres)}
    i = 0
    while i < len(words):
        word, following = words[i], words[i + 1] if i + 1 < len(words) else ""
        used = 1
        if (span := _years(word)) is not None:
            years = span
        elif (count := _count(word)) is not None:
            n = min(count, MAX_N)  # more than a page: the first, and More ▶
        elif (hit := _genre(word, following, names)) is not None:
            wanted, used = [*wanted, hit[0]], hit[1]
        else:
            raise UsageError(word)
        i += used
    return Request(n, tuple(dict.fromkeys(wanted)), *years)


async def send_picks(
    update: Update, context: BotContext, request: Request, offset: int, app: bool = False
) -> None:
    """One message with the next `n` picks after `offset`, a "More" button (and "Open app")."""
    page = await context.services.call(
        context.services.picks.recommend, caller(update), request, offset
    )
    message, keyboard = render.picks_page(page, context.codec, button_scope(update))
    url = context.services.settings.web_url if app else None
    await reply(update, message, render.with_open_app(keyboard, url))


async def recommend(update: Update, context: BotContext) -> None:
    """/recommend [n] [genres] [years]."""
    genres = context.services.catalog.genres()  # in memory: no worker needed
    try:
        request = parse_request(context.args or [], genres)
    except UsageError as exc:
        await reply(update, render.recommend_usage(genres, str(exc)))
        return
    await send_picks(update, context, request, offset=0, app=True)


async def more_button(update: Update, context: BotContext) -> None:
    """ "More ▶": the next page with the same filters, computed from the latest ratings."""
    if (callback := await read_button(update, context)) is None:
        return
    await answer(update)
    n, genres = min(max(callback["count"], 1), MAX_N), Request.genres_of(callback["genres"])
    request = Request(n, genres, callback["since"], callback["until"])
    await send_picks(update, context, request, callback["offset"])


async def watchlist_button(update: Update, context: BotContext) -> None:
    """➕ on a pick or card."""
    if (callback := await read_button(update, context)) is None:
        return
    added = await context.services.call(
        context.services.watchlist.add, caller(update), callback["movie"]
    )
    if isinstance(added, Refusal):
        await refuse(update, added)
        return
    await answer(update, render.watchlist_added(added))


async def dismiss_button(update: Update, context: BotContext) -> None:
    """🚫 "Not interested": never suggested again."""
    if (callback := await read_button(update, context)) is None:
        return
    movie = await context.services.call(
        context.services.feedback.dismiss, caller(update), callback["movie"]
    )
    if isinstance(movie, Refusal):
        await refuse(update, movie)
        return
    await answer(update, render.dismissed(movie))


async def send_similar(update: Update, context: BotContext, movie_id: int) -> None:
    """The movies like this one, leaving out what the user rated or dismissed."""
    similar = await context.services.call(context.services.picks.similar, caller(update), movie_id)
    await reply(update, *render.similar_page(similar, context.codec, button_scope(update)))


async def similar_button(update: Update, context: BotContext) -> None:
    """ "More like this" on a pick or card."""
    if (callback := await read_button(update, context)) is None:
        return
    await answer(update)
    await send_similar(update, context, callback["movie"])


async def similar_command(update: Update, context: BotContext) -> None:
    """/similar TITLE: the best title match's neighbours."""
    query = " ".join(context.args or []).strip()
    if not query or len(query) > MAX_INPUT:
        await reply(update, render.SIMILAR_USAGE)
        return
    similar = await context.services.call(context.services.picks.similar_to, caller(update), query)
    if isinstance(similar, Found):
        await reply(update, *render.found(similar, context.codec, button_scope(update)))
        return
    await reply(update, *render.similar_page(similar, context.codec, button_scope(update)))
