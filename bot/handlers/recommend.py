"""/recommend, "More", /similar, and what can be done with a pick: watchlist, not interested."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import (
    MAX_INPUT,
    button_scope,
    caller,
    pressed_movie,
    read_button,
    reply,
)
from recommender.filters import Filters
from recommender.hybrid import Pick
from storage import movies, ratings

DEFAULT_N, MAX_N = 5, 10
_DECADE = re.compile(r"^(?:(?:19|20)?(\d)0'?s|((?:19|20)\d\d)s?)$")


class UsageError(ValueError):
    """The /recommend arguments don't parse."""


@dataclass(frozen=True)
class Request:
    n: int = DEFAULT_N
    genre: int = -1  # index into the catalogue's sorted genres, -1 = any
    decade: int = 0  # first year of the decade, 0 = any

    def filters(self, genres: list[str]) -> Filters | None:
        if self.genre < 0 and not self.decade:
            return None
        return Filters(
            genres=frozenset(genres[self.genre : self.genre + 1] if self.genre >= 0 else []),
            year_min=self.decade or None,
            year_max=self.decade + 9 if self.decade else None,
        )


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def parse_request(args: list[str], genres: list[str]) -> Request:
    """`[n] [genre] [decade]` in any order: `10 comedy 90s`, `sci-fi 1980s`, `film noir`."""
    n, genre, decade = DEFAULT_N, -1, 0
    words = [a for a in args if a.strip()]
    names = {_norm(g): i for i, g in enumerate(genres)}
    i = 0
    while i < len(words):
        word = words[i].lower()
        pair = _norm(word + (words[i + 1] if i + 1 < len(words) else ""))
        if (m := _DECADE.match(word)) is not None:
            decade = 1900 + int(m[1]) * 10 if m[1] else int(m[2]) // 10 * 10
            if m[1] and int(m[1]) < 3:  # 00s, 10s, 20s are this century
                decade += 100
        elif word.isdigit() and int(word) >= 1:
            n = min(int(word), MAX_N)  # more than a message holds: the first page, and More ▶
        elif pair in names and i + 1 < len(words):
            genre, i = names[pair], i + 1
        elif (
            (key := _norm(word).removesuffix("s"))
            and (hits := [j for name, j in names.items() if name.startswith(key) and len(key) >= 3])
            and len(hits) == 1
        ):
            genre = hits[0]
        else:
            raise UsageError(word)
        i += 1
    return Request(n, genre, decade)


async def send_picks(update: Update, context: BotContext, request: Request, offset: int) -> None:
    """One message with the next `n` picks after `offset`, and a "More" button."""
    services = context.services
    user = caller(update, context)
    genres = services.genres()
    filters = request.filters(genres)
    chosen: list[Pick] = services.recommend(user, request.n, filters, offset)
    if not chosen:
        await reply(update, render.no_picks(filters is not None, services.model is not None))
        return
    shown = movies.get_many(services.db, [p.movie_id for p in chosen])
    reasons = movies.get_many(
        services.db, [p.reason.movie_id for p in chosen if p.reason.movie_id is not None]
    )
    heading = "🍿 <b>Your picks</b>" if offset == 0 else "🍿 <b>More picks</b>"
    more = ("n", (offset + len(chosen), request.n, request.genre + 1, request.decade))
    text, keyboard = render.picks(
        heading, chosen, shown | reasons, context.codec, button_scope(update), more
    )
    await reply(update, text, reply_markup=keyboard)


async def recommend(update: Update, context: BotContext) -> None:
    """/recommend [n] [genre] [decade]."""
    genres = context.services.genres()
    try:
        request = parse_request(context.args or [], genres)
    except UsageError as exc:
        await reply(update, render.recommend_usage(genres, str(exc)))
        return
    await send_picks(update, context, request, offset=0)


async def more_button(update: Update, context: BotContext) -> None:
    """ "More ▶": the next page with the same filters, computed from the latest ratings."""
    callback = await read_button(update, context)
    if callback is None:
        return
    await update.callback_query.answer()
    offset, n = callback.arg(0), min(max(callback.arg(1), 1), MAX_N)
    request = Request(n, callback.arg(2) - 1, callback.arg(3))
    await send_picks(update, context, request, offset)


async def watchlist_button(update: Update, context: BotContext) -> None:
    """➕ on a pick or card."""
    if (pressed := await pressed_movie(update, context)) is None:
        return
    movie = pressed[1]
    added = ratings.add_to_watchlist(context.services.db, caller(update, context), movie.id)
    note = "Added to your watchlist" if added else "Already on your watchlist"
    await update.callback_query.answer(f"{note}: {render.label(movie)}"[:190])


async def dismiss_button(update: Update, context: BotContext) -> None:
    """🚫 "Not interested": never suggested again."""
    if (pressed := await pressed_movie(update, context)) is None:
        return
    movie = pressed[1]
    ratings.dismiss(context.services.db, caller(update, context), movie.id)
    note = f"Got it, I won't suggest {render.label(movie)} again."
    await update.callback_query.answer(note[:190])


async def send_similar(update: Update, context: BotContext, movie_id: int) -> None:
    services = context.services
    seed = movies.get(services.db, movie_id)
    model = services.model
    if seed is None or model is None:
        await reply(update, render.no_picks(False, model is not None))
        return
    history = ratings.history(services.db, caller(update, context))
    chosen = model.similar(movie_id, n=DEFAULT_N, exclude=history.seen | history.dismissed)
    shown = movies.get_many(services.db, [p.movie_id for p in chosen] + [movie_id])
    text, keyboard = render.picks(
        render.similar_heading(seed), chosen, shown, context.codec, button_scope(update)
    )
    await reply(update, text, reply_markup=keyboard)


async def similar_button(update: Update, context: BotContext) -> None:
    """ "More like this" on a pick or card."""
    callback = await read_button(update, context)
    if callback is None:
        return
    await update.callback_query.answer()
    await send_similar(update, context, callback.arg(0))


async def similar_command(update: Update, context: BotContext) -> None:
    """/similar TITLE: the best title match's neighbours."""
    query = " ".join(context.args or []).strip()
    if not query or len(query) > MAX_INPUT:
        await reply(update, "Which movie? Send <code>/similar alien</code>.")
        return
    found = context.services.titles.search(query, limit=1)
    if not found:
        await reply(update, render.no_match(query, []))
        return
    await send_similar(update, context, found[0].movie_id)
