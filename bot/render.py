"""Every text the bot shows: pure functions from domain objects to escaped HTML (+ keyboards).

Titles come from data sets and users, so every one of them goes through `html.escape`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.keyboards import CallbackCodec, markup
from bot.profile import TasteProfile
from recommender.explain import Reason
from recommender.hybrid import Pick, Recommender
from storage.movies import Movie

MAX_TEXT = 4096
PAGE_SIZE = 5
MAX_TITLE = 100  # keeps ten picks with their reasons well under MAX_TEXT

# MovieLens writes "Matrix, The" and "Cité des enfants perdus, La"; people write "The Matrix".
_ARTICLE = re.compile(
    r"^(?P<body>.+?), (?P<art>The|A|An|La|Le|Les|L'|Il|Lo|I|Gli|El|Los|Las|Das|Der|Die|Den|Det"
    r"|De|Het|Un|Une|Una|Uno|O|Os|As)(?P<rest> \(.*\))?$"
)


def display_title(title: str) -> str:
    """'Matrix, The' → 'The Matrix'; alternative titles in parentheses keep their place.

    Very long titles are shortened with an ellipsis, so a page of picks always fits a message.
    """
    m = _ARTICLE.match(title)
    if m:
        art = m["art"]
        joiner = "" if art.endswith("'") else " "
        title = f"{art}{joiner}{m['body']}{m['rest'] or ''}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def label(movie: Movie) -> str:
    """Plain 'The Matrix (1999)' (not escaped): button texts, polls, documents."""
    name = display_title(movie.title)
    return f"{name} ({movie.year})" if movie.year else name


def stars(value: float) -> str:
    return f"★{value:g}"


def reason_text(reason: Reason, movies: Mapping[int, Movie]) -> str:
    """'because you liked <b>Heat (1995)</b>', computed by the model, escaped here."""
    liked = movies.get(reason.movie_id) if reason.movie_id is not None else None
    if reason.kind == "liked" and liked:
        return f"because you liked <b>{escape(label(liked))}</b>"
    if reason.kind == "similar" and liked:
        return f"like <b>{escape(label(liked))}</b>"
    if reason.kind == "genre" and reason.genre:
        return f"popular with people who like {escape(reason.genre)}"
    return "popular now"


def movie_lines(movie: Movie, predicted: float | None = None, yours: float | None = None) -> str:
    parts = [f"<b>{escape(display_title(movie.title))}</b>"]
    if movie.year:
        parts[0] += f" ({movie.year})"
    if movie.genres:
        parts.append(escape(" · ".join(movie.genres)))
    if yours is not None:
        parts.append(f"You rated it {stars(yours)}")
    elif predicted is not None:
        parts.append(f"Predicted {stars(round(predicted, 1))} for you")
    return "\n".join(parts)


def rating_rows(
    codec: CallbackCodec, action: str, movie_id: int, scope: int, scale: tuple[float, float, float]
) -> list[list[InlineKeyboardButton]]:
    """★1…★5 (and a row of half stars when the data set has them); value = stars × 2."""
    low, high, step = scale
    whole = [codec.button(stars(s), action, movie_id, s * 2, scope=scope) for s in range(1, 6)]
    rows = [whole]
    if step < 1:
        halves = [0.5, 1.5, 2.5, 3.5, 4.5]
        rows.append(
            [
                codec.button(stars(h), action, movie_id, int(h * 2), scope=scope)
                for h in halves
                if low <= h <= high
            ]
        )
    return rows


# -- onboarding ---------------------------------------------------------------------------

WELCOME = (
    "🎬 <b>Hi{name}!</b> I learn your taste in movies and tell you what to watch next.\n"
    "Rate a few movies you know and I'll start recommending. Tap a star, or "
    "<i>Haven't seen</i> if you don't know it."
)

ONBOARDING_GOAL = 5


def welcome(first_name: str | None) -> str:
    return WELCOME.format(name=f", {escape(first_name)}" if first_name else "")


def onboarding_card(
    movie: Movie,
    predicted: float | None,
    rated: int,
    codec: CallbackCodec,
    scope: int,
    scale: tuple[float, float, float],
) -> tuple[str, InlineKeyboardMarkup]:
    progress = (
        f"Rated {rated} so far — /recommend is ready whenever you are."
        if rated >= ONBOARDING_GOAL
        else f"Rated {rated} of {ONBOARDING_GOAL}."
    )
    text = f"{movie_lines(movie, predicted)}\n\n<i>{progress}</i>"
    rows = rating_rows(codec, "o", movie.id, scope, scale)
    rows.append(
        [
            codec.button("Haven't seen", "o", movie.id, 0, scope=scope),
            codec.button("Skip", "o", movie.id, 1, scope=scope),
            codec.button("Done", "od", scope=scope),
        ]
    )
    return text, markup(rows)


def onboarding_done(rated: int) -> str:
    if rated == 0:
        return "No ratings yet. Type a movie you've seen (e.g. <i>Heat</i>) to rate it any time."
    return (
        f"👍 Thanks! You've rated {rated} movie{'s' if rated != 1 else ''}. "
        "Send /recommend for your picks, or type any title to rate more."
    )


def onboarding_exhausted() -> str:
    return "That's all I have to ask for now. Send /recommend for your picks!"


# -- search and cards -----------------------------------------------------------------------


def search_results(
    query: str, found: Sequence[Movie], codec: CallbackCodec, scope: int
) -> tuple[str, InlineKeyboardMarkup]:
    text = f"Which one did you mean by <i>{escape(query)}</i>?"
    rows = [[codec.button(label(m)[:60], "m", m.id, scope=scope)] for m in found]
    return text, markup(rows)


def no_match(query: str, suggestions: Sequence[Movie]) -> str:
    text = f"I couldn't find a movie called <i>{escape(query[:100])}</i>."
    if suggestions:
        names = ", ".join(f"<i>{escape(label(m))}</i>" for m in suggestions)
        return f"{text} Did you mean {names}?"
    return f"{text} Check the spelling and try again, e.g. <i>toy story</i> or <i>heat 1995</i>."


def movie_card(
    movie: Movie,
    predicted: float | None,
    yours: float | None,
    codec: CallbackCodec,
    scope: int,
    scale: tuple[float, float, float],
    on_watchlist: bool = False,
) -> tuple[str, InlineKeyboardMarkup]:
    rows = rating_rows(codec, "r", movie.id, scope, scale)
    rows.append(
        [
            codec.button(
                "✅ On watchlist" if on_watchlist else "➕ Watchlist", "w", movie.id, scope=scope
            ),
            codec.button("🚫 Not interested", "x", movie.id, scope=scope),
            codec.button("More like this", "s", movie.id, scope=scope),
        ]
    )
    return movie_lines(movie, predicted, yours), markup(rows)


# -- recommendations ------------------------------------------------------------------------


def picks(
    heading: str,
    chosen: Sequence[Pick],
    movies: Mapping[int, Movie],
    codec: CallbackCodec,
    scope: int,
    more: tuple[str, tuple[int, ...]] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """A compact page of picks: each with its reason, and a row of buttons per pick."""
    lines = [heading, ""]
    rows: list[list[InlineKeyboardButton]] = []
    for number, pick in enumerate(chosen, start=1):
        movie = movies.get(pick.movie_id)
        if movie is None:
            continue
        lines.append(f"{number}. {movie_lines(movie, pick.predicted)}")
        if pick.reason.kind != "similar":  # the heading already says what it is like
            lines.append(f"   <i>{reason_text(pick.reason, movies)}</i>")
        lines.append("")
        rows.append(
            [
                codec.button(f"{number}. Rate", "m", movie.id, scope=scope),
                codec.button("➕", "w", movie.id, scope=scope),
                codec.button("🚫", "x", movie.id, scope=scope),
                codec.button("Similar", "s", movie.id, scope=scope),
            ]
        )
    if more is not None:
        action, args = more
        rows.append([codec.button("More ▶", action, *args, scope=scope)])
    return "\n".join(lines).strip(), markup(rows)


def similar_heading(seed: Movie) -> str:
    return f"🎞 <b>Like {escape(label(seed))}</b>"


def no_picks(filtered: bool, trained: bool) -> str:
    if not trained:
        return "The recommender isn't trained yet. An admin can start it with /retrain."
    if filtered:
        return "Nothing left that matches those filters. Try another genre or decade."
    return "I've run out of picks for you. Rate a few more movies and ask again!"


def _not_understood(word: str) -> str:
    return f"I didn't understand “{escape(clip(word, 40))}”. " if word else ""


def recommend_usage(genres: Sequence[str], word: str = "") -> str:
    return (
        _not_understood(word) + "Usage: <code>/recommend [n] [genre] [decade]</code>, e.g. "
        "<code>/recommend comedy 90s</code> or <code>/recommend 10 sci-fi</code>.\n"
        f"Genres: {escape(', '.join(genres))}."
    )


# -- watchlist, profile, account -------------------------------------------------------------


def watchlist_page(
    ids: Sequence[int], movies: Mapping[int, Movie], page: int, codec: CallbackCodec, scope: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not ids:
        return "Your watchlist is empty. Tap ➕ on a pick to add it.", None
    pages = (len(ids) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = ids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [f"<b>Your watchlist</b> ({len(ids)}) — page {page + 1}/{pages}", ""]
    rows = []
    for movie_id in shown:
        movie = movies.get(movie_id)
        if movie is None:
            continue
        lines.append(f"• {escape(label(movie))}")
        rows.append(
            [
                codec.button(f"✓ Watched: {label(movie)[:30]}", "wv", movie_id, scope=scope),
                codec.button("Remove", "wx", movie_id, page, scope=scope),
            ]
        )
    nav = []
    if page > 0:
        nav.append(codec.button("◀ Prev", "wp", page - 1, scope=scope))
    if page < pages - 1:
        nav.append(codec.button("Next ▶", "wp", page + 1, scope=scope))
    rows.append(nav)
    return "\n".join(lines), markup(rows)


def profile(taste: TasteProfile) -> str:
    if taste.count == 0:
        return "You haven't rated anything yet. Send /start to begin."
    lines = [
        "<b>Your taste profile</b>",
        f"Ratings: {taste.count} · average {stars(round(taste.average, 2))}",
    ]
    if taste.genres:
        lines.append("Favourite genres: " + escape(", ".join(g for g, _ in taste.genres[:3])))
    if taste.decades:
        lines.append("Favourite decades: " + ", ".join(f"{d}s" for d, _ in taste.decades[:3]))
    return "\n".join(lines)


def forget_confirm(codec: CallbackCodec, scope: int) -> tuple[str, InlineKeyboardMarkup]:
    text = (
        'This deletes all your ratings, your watchlist and your "not interested" list, '
        "and I will forget you completely. It cannot be undone. Are you sure?"
    )
    return text, markup(
        [
            [
                codec.button("Yes, delete everything", "fy", scope=scope),
                codec.button("Cancel", "fn", scope=scope),
            ]
        ]
    )


FORGOTTEN = (
    "Done: everything I knew about you is deleted. Send /start if you ever want to come back."
)
FORGET_CANCELLED = "Nothing was deleted."
EXPIRED = "This button has expired."
NOT_FOUND = "That movie is no longer in the catalogue."


# -- admin -----------------------------------------------------------------------------------

NOT_ADMIN = "Sorry, only the bot's admins can do that."
STALE_RETRAIN = (
    "I ignored a /retrain sent while I was offline. Send it again if you still want one."
)
RETRAIN_BUSY = "A retrain is already running; I'll report when it's done."


def _model_name(model: Recommender | None) -> str:
    if model is None:
        return "no model"
    return f"model v{model.info.get('version', '?')}"


def _ndcg(model: Recommender | None) -> str:
    value = (model.info.get("metrics") or {}).get("ndcg@10") if model is not None else None
    return "n/a" if value is None else f"{value:.3f}"


def retrain_started(old: Recommender | None) -> str:
    return f"⚙️ Retraining… (serving {_model_name(old)} meanwhile)"


def retrain_progress(step: str) -> str:
    return f"⚙️ Retraining: {escape(step)}…"


def retrain_failed(error: str, old: Recommender | None) -> str:
    return f"❌ Training failed: {escape(error)}\nStill serving {_model_name(old)}."


def retrain_done(old: Recommender | None, new: Recommender, seconds: float) -> str:
    timings = new.info.get("timings", {})
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total")
    return (
        f"✅ Now serving {_model_name(new)} (was {_model_name(old)}).\n"
        f"Validation NDCG@10: {_ndcg(new)} (was {_ndcg(old)}).\n"
        f"Took {seconds:.1f}s ({escape(parts)})."
    )


def stats(
    telegram_users: int,
    telegram_ratings: int,
    all_ratings: int,
    model: Recommender | None,
    latencies: Sequence[float],
) -> str:
    lines = [
        "<b>Stats</b>",
        f"Telegram users: {telegram_users} · their ratings: {telegram_ratings}",
        f"All ratings (with the data set): {all_ratings}",
    ]
    if model is not None:
        age = (time.time() - model.info.get("trained_at", time.time())) / 3600
        lines.append(f"{_model_name(model)}, trained {age:.1f} h ago, NDCG@10 {_ndcg(model)}")
    else:
        lines.append("No model loaded.")
    if latencies:
        ordered = sorted(latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        lines.append(
            f"/recommend latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(ordered)} calls)"
        )
    return "\n".join(lines)


def help_text(is_admin: bool) -> str:
    lines = [
        "<b>What I can do</b>",
        "/start – rate a few movies to get going",
        "/rate <i>title</i> – find a movie and rate it (or just type a title)",
        "/recommend [n] [genre] [decade] – your next picks, e.g. /recommend comedy 90s",
        "/similar <i>title</i> – movies like that one",
        "/watchlist – movies you saved for later",
        "/profile – your taste at a glance",
        "/export – download your data as CSV",
        "/forget – delete everything I know about you",
        "/movienight – in a group: find a movie everyone likes",
    ]
    if is_admin:
        lines += ["", "<b>Admin</b>", "/retrain – train the model now", "/stats – usage and model"]
    return "\n".join(lines)


def unknown_command(command: str) -> str:
    return f"I don't know <code>{escape(command[:50])}</code>. Send /help to see what I can do."


NOT_TEXT = "I only read text: type a movie title to rate it, or send /help."


def too_long() -> str:
    return "That message is too long for a movie title. Try just the title, e.g. <i>heat</i>."


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Keep a message under Telegram's limit (callers page long lists; this is the backstop)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- movie night -----------------------------------------------------------------------------

POLL_QUESTION = "🍿 What do we watch tonight?"
NIGHT_OVER = "This movie night is over."
NOT_IN_GROUP = "Only members of this group can take part."
ALREADY_PICKED = "The picks are already out: vote in the poll!"
NIGHT_NOT_VOTING = "There is no vote running for this movie night."
NIGHT_PRIVATE = (
    "Movie nights happen in groups: add me to a group with your friends and send "
    "/movienight there. I'll find movies everyone likes and run a vote."
)


def group_intro(bot_username: str) -> str:
    return (
        "👋 Hi, I'm a movie recommender. Send /movienight when you want to pick a movie "
        "together: everyone taps <i>I'm in</i>, I suggest five films the whole group should "
        "like, and you vote.\n"
        f"Tip: rate a few movies with me in private first (@{escape(bot_username)}), so I know "
        "your taste."
    )


def night_usage(genres: Sequence[str], word: str = "") -> str:
    return (
        _not_understood(word) + "Usage: <code>/movienight [genre] [decade]</code>, e.g. "
        "<code>/movienight comedy 90s</code>.\n"
        f"Genres: {escape(', '.join(genres))}."
    )


def night_already_open() -> str:
    return "There's already a vote going on here: vote in the poll above."


def night_filters(genre: str | None, decade: int) -> str:
    """' · Comedy · 1990s' for the heading ('' when there are no filters)."""
    parts = ([escape(genre)] if genre else []) + ([f"{decade}s"] if decade else [])
    return "".join(f" · {p}" for p in parts)


def night_link(bot_username: str, night_id: int) -> str:
    """The deep link that opens a private chat for a quick onboarding."""
    return f"https://t.me/{bot_username}?start=movienight_{night_id}"


def night_message(
    night_id: int,
    filters: str,
    members: Sequence[tuple[str, bool]],
    codec: CallbackCodec,
    scope: int,
    bot_username: str,
) -> tuple[str, InlineKeyboardMarkup]:
    """'Movie night! Who's in?' with the live member list; (name, has rated enough) each."""
    lines = [f"🎬 <b>Movie night!</b> Who's in?{filters}", ""]
    for name, ready in members:
        mark = "✅" if ready else "🆕"
        lines.append(f"{mark} {escape(name)}")
    newcomers = [name for name, ready in members if not ready]
    if newcomers:
        lines += [
            "",
            f"🆕 {escape(', '.join(newcomers))}: I don't know your taste yet. Tap "
            f'<a href="{night_link(bot_username, night_id)}">Rate a few movies</a> '
            "(a quick private chat with me) and you'll count. Otherwise you still vote, "
            "I just can't take your taste into account.",
        ]
    lines += ["", "<i>Whoever started it, or an admin, taps Pick movies when everyone's in.</i>"]
    keyboard = markup(
        [
            [
                codec.button("I'm in 🙋", "gi", night_id, scope=scope),
                codec.button("I'm out", "go", night_id, scope=scope),
            ],
            [InlineKeyboardButton("⭐ Rate a few movies", url=night_link(bot_username, night_id))],
            [codec.button("🎲 Pick movies", "gp", night_id, scope=scope)],
        ]
    )
    return "\n".join(lines), keyboard


def night_members_closed(filters: str, members: Sequence[str]) -> str:
    """The member list once the picks are out (no more buttons)."""
    names = escape(", ".join(members)) if members else "nobody"
    return (
        f"🎬 <b>Movie night</b>{filters}\nIn: {names}.\n\n"
        "<i>The picks are out: vote in the poll below.</i>"
    )


def joined(name: str, ready: bool) -> str:
    if ready:
        return f"You're in, {name}! 🍿"[:190]
    return f"You're in, {name}! Tap “Rate a few movies” so I know your taste."[:190]


def left() -> str:
    return "You're out. Tap I'm in if you change your mind."


def only_starter(starter: str) -> str:
    return f"Only {starter} (who started it) or a group admin can do that."[:190]


def poll_option(movie: Movie) -> str:
    """A poll option: the title and year, within Telegram's 100 characters."""
    text = label(movie)
    return text if len(text) <= 100 else text[:99] + "…"


def night_no_picks(filtered: bool, trained: bool) -> str:
    if not trained:
        return "The recommender isn't trained yet. A bot admin can start it with /retrain."
    if filtered:
        return (
            "I couldn't find enough movies for everyone with those filters. Start a new "
            "/movienight with another genre or decade."
        )
    return "I couldn't find enough movies nobody here has seen. Try again after a few ratings."


def group_reason(
    predicted: Mapping[int, float],
    loved: Mapping[int, int],
    names: Mapping[int, str],
    movies: Mapping[int, Movie],
) -> str:
    """ "everyone's predicted ★ ≥ 3.8; Alice and Bob loved Alien (1979)", from the model."""
    parts = []
    if len(predicted) > 1:
        parts.append(f"everyone's predicted ★ ≥ {int(min(predicted.values()) * 10) / 10:.1f}")
    elif predicted:
        key, value = next(iter(predicted.items()))
        parts.append(f"{escape(names.get(key, '?'))}'s predicted ★{value:.1f}")
    by_movie: dict[int, list[str]] = {}
    for key, movie_id in loved.items():
        by_movie.setdefault(movie_id, []).append(names.get(key, "?"))
    for movie_id, people in by_movie.items():
        movie = movies.get(movie_id)
        if movie is None:
            continue
        who = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
        parts.append(f"{escape(who)} loved <b>{escape(label(movie))}</b>")
    return "; ".join(parts) if parts else "popular with people like you"


def night_picks(entries: Sequence[tuple[Movie, str]]) -> str:
    """Why these five: one line per poll option, each with its (already escaped) reason."""
    lines = ["🗳 <b>Vote in the poll above!</b> Why these:", ""]
    for number, (movie, reason) in enumerate(entries, start=1):
        lines.append(f"{number}. <b>{escape(label(movie))}</b>")
        lines.append(f"   <i>{reason}</i>")
    return "\n".join(lines)


def night_winner(
    movie: Movie,
    votes: int,
    voters: int,
    tie_broken: bool,
    codec: CallbackCodec,
    scope: int,
    night_id: int,
) -> tuple[str, InlineKeyboardMarkup]:
    if voters == 0:
        how = "Nobody voted, so I went with the group's best match."
    else:
        how = f"{votes} of {voters} vote{'s' if voters != 1 else ''}"
        if tie_broken:
            how += " (a tie, broken by how well it fits the whole group)"
        how += "."
    text = f"🏆 <b>Tonight: {escape(label(movie))}</b>\n{how}\nEnjoy the movie! 🍿"
    keyboard = markup(
        [[codec.button("➕ Add to everyone's watchlist", "gw", night_id, scope=scope)]]
    )
    return text, keyboard


def watchlists_added(count: int, movie: Movie) -> str:
    return f"Added {label(movie)} to {count} watchlist{'s' if count != 1 else ''}."[:190]


def movienight_counted(title: str | None, is_member: bool) -> str:
    """After onboarding from a movie night's deep link."""
    where = f"<b>{escape(title)}</b>" if title else "your group"
    if is_member:
        return f"🍿 Thanks! You now count for the movie night in {where}. Head back there to vote."
    return (
        f"🍿 Thanks! Now head back to {where} and tap <i>I'm in</i> to count for the movie night."
    )
