"""Every text the bot shows: pure functions from domain objects to escaped HTML (+ keyboards).

Titles come from data sets and users, so every one of them goes through `escape` (html.escape of
`visible`: no control characters or bidi overrides echoed back; plain texts such as button
labels go through `visible` alone). Nothing
here reads a clock or the database or computes figures: services hand over finished ones (the
retrain messages still take the model itself, and read its version and timings, until admin
has services of its own).
"""

from __future__ import annotations

import difflib
import functools
import html
import re
from collections.abc import Mapping, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import keyboards as kb
from bot.keyboards import Action, CallbackCodec, markup
from bot.profile import TasteProfile
from bot.services import Help
from bot.services.catalog import About, Card, Found, Scale
from bot.services.feedback import Refusal
from bot.services.metrics import LatencySummary, ModelSummary, Stats
from bot.services.movienight import (
    ALIKE_AT_LEAST,
    ALIKE_SHARE,
    MIN_RATINGS,
    Choice,
    Closing,
    Counted,
    GroupReason,
    NightView,
    Refused,
    Toggled,
    WatchlistsAdded,
)
from bot.services.onboarding import Question
from bot.services.picks import Because, Page, Similar, Suggestion
from bot.services.training import RetrainBusy, Retrained, RetrainFailed
from bot.services.watchlist import Added, WatchlistPage
from storage import movies as catalog
from storage.movies import Movie

MAX_TEXT = 4096
MAX_ANSWER = 190  # a button's pop-up answer (Telegram allows 200 characters)
MAX_TITLE = 100  # keeps ten picks with their reasons well under MAX_TEXT
TITLE_IN_BUTTON = 60
TITLE_IN_WATCHLIST_BUTTON = 30
UNTITLED = "(untitled)"  # a title with nothing to show (a button's text must not be empty)

Keyboard = InlineKeyboardMarkup | None

# C0 and C1 control characters but the newline (a tab becomes a space first), DEL, and the bidi
# embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which can turn the rest of
# a message around ("gpj.exe" shown as "exe.jpg") or hide text.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` as we may echo it: control characters and bidi overrides removed, a tab made a
    space. Search queries, titles from imported files, group and person names all pass here."""
    return _INVISIBLE.sub("", text.replace("\t", " "))


def escape(text: str) -> str:
    """`visible(text)` escaped for Telegram's HTML: the one escaping helper of every reply."""
    return html.escape(visible(text))


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters: cut at the last word boundary that leaves at least half
    of it (a long single word is cut where it must), with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        head = cut.rsplit(" ", 1)[0]
        cut = head if " " in cut and len(head) >= limit // 2 else cut
    return cut.rstrip(" ,:;-–—(") + "…"


@functools.lru_cache(maxsize=16384)  # a pure function of the title, on every page and reply
def display_title(title: str) -> str:
    """The title as it reads everywhere (`storage.movies.display_title`: 'Matrix, The' → 'The
    Matrix', 'Hate (Haine, La)' → 'Hate (La Haine)'); a very long one is shortened at a word
    boundary, so a page of picks always fits a message."""
    shown = visible(catalog.display_title(title)).strip() or UNTITLED  # "\x1b" alone: nothing
    return shorten(shown, MAX_TITLE)


def label(movie: Movie) -> str:
    """Plain 'The Matrix (1999)' (not escaped): button texts, polls, documents. `Movie.label`,
    with a very long title shortened."""
    name = display_title(movie.title)
    return f"{name} ({movie.year})" if movie.year else name


def button_label(movie: Movie, limit: int) -> str:
    """`label` within `limit` characters for a button: the title is cut at a word boundary
    ("Star Trek: First… (1996)"), the year always kept."""
    year = f" ({movie.year})" if movie.year else ""
    return shorten(display_title(movie.title), max(limit - len(year), 8)) + year


def stars(value: float) -> str:
    return f"★{value:g}"


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Keep a message under Telegram's limit (callers page long lists; this is the backstop)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def toast(text: str) -> str:
    """A button's pop-up answer (plain text, names in it made `visible`), within Telegram's
    limit."""
    return clip(visible(text), MAX_ANSWER)


def refusal(why: Refusal) -> str:
    return NOT_FOUND if why is Refusal.GONE else EXPIRED


def saved(value: float) -> str:
    return toast(f"Saved {stars(value)}")


def reason_text(reason: Because) -> str:
    """'because you liked <b>Heat (1995)</b>', computed by the model, escaped here."""
    liked = reason.movie
    if reason.kind == "liked" and liked and reason.director:
        return f"same director as <b>{escape(label(liked))}</b>, which you liked"
    if reason.kind == "liked" and liked:
        return f"because you liked <b>{escape(label(liked))}</b>"
    if reason.kind == "similar" and liked and reason.director:
        return f"same director as <b>{escape(label(liked))}</b>"
    if reason.kind == "similar" and liked:
        return f"like <b>{escape(label(liked))}</b>"
    if reason.kind == "taste":
        return "liked by people with taste like yours"
    if reason.kind == "genre" and reason.genre:
        return f"popular with people who like {escape(reason.genre)}"
    # Popularity and how well it is rated carried it: the data set's, which may be decades
    # old ("popular now" was said of a 1977 film).
    return "liked by many people"


def pick_reason(pick: Suggestion, filtered: bool = False) -> str:
    """The reason line of a pick; for one the person is predicted not to like, that it is the
    best there is for the filter (or for them), though they may not love it."""
    if not pick.doubtful:
        return reason_text(pick.reason)
    if filtered:
        return "the best match for your filter, though you may not love it"
    return f"{reason_text(pick.reason)}, though you may not love it"


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


STARS_PER_ROW = 5


def rating_rows(
    codec: CallbackCodec,
    action: Action,
    movie_id: int,
    scope: int,
    scale: Scale,
) -> list[list[InlineKeyboardButton]]:
    """A button for every value of the data set's scale, in order, five to a row: ★1 … ★5, or
    ★0.5 … ★2.5 and ★3 … ★5 with half stars. A button's value is the stars × 2."""
    low, high, step = scale
    halves = range(round(low * 2), round(high * 2) + 1, max(1, round(step * 2)))
    buttons = [
        codec.button(stars(h / 2), action, movie=movie_id, half_stars=h, scope=scope)
        for h in halves
    ]
    return [buttons[i : i + STARS_PER_ROW] for i in range(0, len(buttons), STARS_PER_ROW)]


# -- the catalogue ------------------------------------------------------------------------

NO_CATALOGUE = "Whoever runs me can import one with <code>moviebot data fetch</code>."
CURRENT_CATALOGUE = (
    "Whoever runs me can switch to a current one: <code>moviebot data fetch ml-latest-small</code>"
    " (or <code>ml-32m</code>) into a new database, or <code>moviebot data import</code> a "
    "downloaded zip."
)


def catalogue_line(about: About) -> str:
    """ "MovieLens 100K, 1,682 movies up to 1998" (escaped)."""
    name = escape(about.name) if about.name else "an unnamed data set"
    count = f"{about.movies:,} movie{'s' if about.movies != 1 else ''}"
    years = f" up to {about.last_year}" if about.last_year else ""
    return f"{name}, {count}{years}"


def catalogue_note(about: About) -> str:
    """What the catalogue is, and how to get a current one when it is dated."""
    if not about.movies:
        return f"📚 My catalogue is empty. {NO_CATALOGUE}"
    note = f"📚 My catalogue: {catalogue_line(about)}."
    return f"{note}\n<i>{CURRENT_CATALOGUE}</i>" if about.dated else note


# -- onboarding ---------------------------------------------------------------------------

WELCOME = (
    "🎬 <b>Hi{name}!</b> I learn your taste in movies and tell you what to watch next.\n"
    "Rate a few movies you know and I'll start recommending. Tap a star; <i>Haven't seen</i> "
    "if you don't know it (I may suggest it later); <i>Skip</i> to pass on it for good (I "
    "won't ask or suggest it)."
)
SKIPPED = "Skipped: I won't ask about it or suggest it."

ONBOARDING_GOAL = 5


def welcome(first_name: str | None, about: About) -> str:
    """The greeting, and what the catalogue is (how to get a current one, if it is dated)."""
    greeting = WELCOME.format(name=f", {escape(first_name)}" if first_name else "")
    return f"{greeting}\n\n{catalogue_note(about)}"


def question(asked: Question | None, codec: CallbackCodec, scope: int) -> tuple[str, Keyboard]:
    """The next onboarding card, or the note that there is nothing left to ask."""
    if asked is None:
        return onboarding_exhausted(), None
    return onboarding_card(asked.movie, asked.predicted, asked.rated, codec, scope, asked.scale)


def onboarding_card(
    movie: Movie,
    predicted: float | None,
    rated: int,
    codec: CallbackCodec,
    scope: int,
    scale: Scale,
) -> tuple[str, InlineKeyboardMarkup]:
    progress = (
        f"Rated {rated} so far — /recommend is ready whenever you are."
        if rated >= ONBOARDING_GOAL
        else f"Rated {rated} of {ONBOARDING_GOAL}."
    )
    text = f"{movie_lines(movie, predicted)}\n\n<i>{progress}</i>"
    rows = rating_rows(codec, kb.ONBOARDING_RATE, movie.id, scope, scale)
    rows.append(
        [
            codec.button("Haven't seen", kb.ONBOARDING_UNSEEN, movie=movie.id, scope=scope),
            codec.button("Skip", kb.ONBOARDING_SKIP, movie=movie.id, scope=scope),
            codec.button("Done", kb.ONBOARDING_DONE, scope=scope),
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

RATE_USAGE = "Which movie? Send <code>/rate heat</code>, or just type a title."
WATCHED = "Watched it? Rate it:"


def found(result: Found, codec: CallbackCodec, scope: int) -> tuple[str, Keyboard]:
    """What a typed title matched, as buttons; or why nothing did."""
    if result.too_long:
        return too_long(), None
    if result.people:
        return person_results(result, codec, scope)
    if not result.movies:
        return no_match(result), None
    return search_results(result.query, result.movies, codec, scope)


ROLE_WORDS = {"director": "directed", "cast": "with", "writer": "written by"}


def person_results(
    result: Found, codec: CallbackCodec, scope: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Movies of the people a typed name matched (then any titles it matched), as buttons."""
    lines, rows, shown = [], [], set()
    for person in result.people:
        lines.append(
            f"🎬 Movies {ROLE_WORDS.get(person.role, 'with')} <b>{escape(person.name)}</b>"
        )
        for m in person.movies:
            if m.id not in shown:
                shown.add(m.id)
                rows.append(
                    [
                        codec.button(
                            button_label(m, TITLE_IN_BUTTON), kb.OPEN_CARD, movie=m.id, scope=scope
                        )
                    ]
                )
    titles = [m for m in result.movies if m.id not in shown]
    if titles:
        lines.append(f"…and titles like <i>{escape(clip(result.query, 100))}</i>")
        rows += [
            [codec.button(button_label(m, TITLE_IN_BUTTON), kb.OPEN_CARD, movie=m.id, scope=scope)]
            for m in titles
        ]
    return "\n".join(lines), markup(rows)


def search_results(
    query: str, found: Sequence[Movie], codec: CallbackCodec, scope: int
) -> tuple[str, InlineKeyboardMarkup]:
    text = f"Which one did you mean by <i>{escape(query)}</i>?"
    rows = [
        [codec.button(button_label(m, TITLE_IN_BUTTON), kb.OPEN_CARD, movie=m.id, scope=scope)]
        for m in found
    ]
    return text, markup(rows)


def no_match(result: Found) -> str:
    """Nothing matched: the closest spellings if some title is close, else that the catalogue
    does not have it, and what the catalogue is (a year outside it is said so)."""
    query = escape(clip(result.query, 100))
    if result.suggestions:
        names = ", ".join(f"<i>{escape(label(m))}</i>" for m in result.suggestions)
        return f"I couldn't find a movie called <i>{query}</i>. Did you mean {names}?"
    about = result.about
    if about is None:
        return f"I couldn't find a movie called <i>{query}</i>."
    if not about.movies:
        return f"I couldn't find <i>{query}</i>: my catalogue is empty. {NO_CATALOGUE}"
    text = f"My catalogue doesn't have <i>{query}</i>: it is {catalogue_line(about)}"
    year, first, last = result.year, about.first_year, about.last_year
    if year is not None and first is not None and last is not None and not first <= year <= last:
        text += f", so nothing from {year}"
    return text + "."


def movie_card(card: Card, codec: CallbackCodec, scope: int) -> tuple[str, InlineKeyboardMarkup]:
    """The movie, the person's rating or our prediction, star buttons and what else to do."""
    movie = card.movie
    rows = rating_rows(codec, kb.RATE, movie.id, scope, card.scale)
    rows.append(
        [
            codec.button(
                "✅ On watchlist" if card.on_watchlist else "➕ Watchlist",
                kb.ADD_TO_WATCHLIST,
                movie=movie.id,
                scope=scope,
            ),
            codec.button("🚫 Not interested", kb.NOT_INTERESTED, movie=movie.id, scope=scope),
            codec.button("More like this", kb.MORE_LIKE_THIS, movie=movie.id, scope=scope),
        ]
    )
    if card.about is None:
        return movie_lines(movie, card.predicted, card.yours), markup(rows)
    return card_caption(card), markup(rows)


MAX_CAPTION = 1024  # Telegram's limit for a photo's caption
OVERVIEW_IN_CAPTION = 220  # about two lines on a phone
LEADING_CAST = 3
NAME_IN_CAPTION = 40
GENRES_IN_CAPTION = 120


def _people_names(people: Sequence[str], count: int) -> str:
    return escape(", ".join(shorten(p, NAME_IN_CAPTION) for p in people[:count]))


def card_caption(card: Card) -> str:
    """A movie card with TMDb metadata: title, year and runtime; genres; director; the three
    leading actors; two lines of the overview; the person's rating or our prediction. Every
    part is shortened before it is escaped, so the caption stays well under Telegram's 1024
    characters (counted after the HTML is parsed) whatever the data holds."""
    movie, about = card.movie, card.about
    head = f"<b>{escape(display_title(movie.title))}</b>"
    facts = [str(movie.year)] if movie.year else []
    if about is not None and about.runtime:
        facts.append(f"{about.runtime} min")
    lines = [head + (f" ({' · '.join(facts)})" if facts else "")]
    if movie.genres:
        lines.append(escape(shorten(" · ".join(movie.genres), GENRES_IN_CAPTION)))
    if about is not None:
        if about.directors:
            lines.append(f"Directed by {_people_names([p.name for p in about.directors], 2)}")
        if about.cast:
            lines.append(f"With {_people_names([p.name for p in about.cast], LEADING_CAST)}")
        if about.overview:
            lines.append(
                f"<i>{escape(shorten(' '.join(about.overview.split()), OVERVIEW_IN_CAPTION))}</i>"
            )
    if card.yours is not None:
        lines.append(f"You rated it {stars(card.yours)}")
    elif card.predicted is not None:
        lines.append(f"Predicted {stars(round(card.predicted, 1))} for you")
    return "\n".join(lines)


# -- recommendations ------------------------------------------------------------------------

SIMILAR_USAGE = "Which movie? Send <code>/similar alien</code>."


def picks_page(page: Page, codec: CallbackCodec, scope: int) -> tuple[str, Keyboard]:
    """A page of /recommend picks, numbered on from the pages before, under a heading with the
    filters asked for; "More ▶" only when there are more."""
    if not page.suggestions:
        return no_picks(page.filtered, page.trained), None
    heading = "🍿 <b>Your picks</b>" if page.offset == 0 else "🍿 <b>More picks</b>"
    heading += picks_filters(page.genres, page.request.since, page.request.until)
    request = page.request
    more = {
        "offset": page.next_offset,
        "count": request.n,
        "genres": request.genre_mask,
        "since": request.since,
        "until": request.until,
    }
    shown = page.suggestions
    more_button = more if page.more else None
    return picks(heading, shown, codec, scope, more_button, page.offset + 1, page.filtered)


def years_text(since: int, until: int) -> str:
    """ "1990s", "1995", "1990–1995", "from 1990", "up to 1995" ("" for any year)."""
    if since and until:
        if since == until:
            return str(since)
        return f"{since}s" if since % 10 == 0 and until == since + 9 else f"{since}–{until}"
    if since:
        return f"from {since}"
    return f"up to {until}" if until else ""


def picks_filters(genres: Sequence[str], since: int, until: int) -> str:
    """' · Comedy + Horror · 1990s' for a heading ('' without filters)."""
    parts = ([escape(" + ".join(genres))] if genres else []) + [years_text(since, until)]
    return "".join(f" · {p}" for p in parts if p)


def similar_page(similar: Similar, codec: CallbackCodec, scope: int) -> tuple[str, Keyboard]:
    """The movies like a seed, or why there are none."""
    if similar.seed is None or not similar.trained:
        return no_picks(False, similar.trained), None
    return picks(similar_heading(similar.seed), similar.suggestions, codec, scope)


def picks(
    heading: str,
    chosen: Sequence[Suggestion],
    codec: CallbackCodec,
    scope: int,
    more: Mapping[str, int] | None = None,
    first: int = 1,
    filtered: bool = False,
) -> tuple[str, InlineKeyboardMarkup]:
    """A compact page of picks numbered from `first`: each with its reason, and a row of
    buttons per pick; `more` holds the fields of the "More ▶" button (kb.MORE_PICKS), if there
    is a next page; `filtered`: the picks match genres or years asked for."""
    lines = [heading, ""]
    rows: list[list[InlineKeyboardButton]] = []
    for number, pick in enumerate(chosen, start=first):
        movie = pick.movie
        lines.append(f"{number}. {movie_lines(movie, pick.predicted)}")
        if pick.directors:
            lines.append(f"   🎬 {_people_names(pick.directors, 2)}")
        if pick.reason.kind != "similar" or pick.reason.director:
            # the heading already says what it is like, unless they share a director
            lines.append(f"   <i>{pick_reason(pick, filtered)}</i>")
        lines.append("")
        rows.append(
            [
                codec.button(f"{number}. Rate", kb.OPEN_CARD, movie=movie.id, scope=scope),
                codec.button("➕", kb.ADD_TO_WATCHLIST, movie=movie.id, scope=scope),
                codec.button("🚫", kb.NOT_INTERESTED, movie=movie.id, scope=scope),
                codec.button("Similar", kb.MORE_LIKE_THIS, movie=movie.id, scope=scope),
            ]
        )
    if more is not None:
        rows.append([codec.button("More ▶", kb.MORE_PICKS, scope=scope, **more)])
    return "\n".join(lines).strip(), markup(rows)


def similar_heading(seed: Movie) -> str:
    return f"🎞 <b>Like {escape(label(seed))}</b>"


def no_picks(filtered: bool, trained: bool) -> str:
    if not trained:
        return "The recommender isn't trained yet. An admin can start it with /retrain."
    if filtered:
        return "Nothing left that matches those filters. Try another genre or decade."
    return "I've run out of picks for you. Rate a few more movies and ask again!"


def watchlist_added(result: Added) -> str:
    note = "Added to your watchlist" if result.added else "Already on your watchlist"
    return toast(f"{note}: {label(result.movie)}")


def dismissed(movie: Movie) -> str:
    return toast(f"Got it, I won't suggest {label(movie)} again.")


def _not_understood(word: str) -> str:
    return f"I didn't understand “{escape(clip(word, 40))}”. " if word else ""


def recommend_usage(genres: Sequence[str], word: str = "") -> str:
    return (
        _not_understood(word) + "Usage: <code>/recommend [n] [genres] [years]</code>, e.g. "
        "<code>/recommend comedy 90s</code>, <code>/recommend 10 sci-fi</code>, "
        "<code>/recommend comedy horror</code> (both at once), <code>/recommend noir 1950-1959"
        "</code> or <code>/recommend kids 1995</code>.\n"
        f"Genres: {escape(', '.join(genres))}."
    )


# -- watchlist, profile, account -------------------------------------------------------------


def watchlist_page(listed: WatchlistPage, codec: CallbackCodec, scope: int) -> tuple[str, Keyboard]:
    if not listed.total:
        return "Your watchlist is empty. Tap ➕ on a pick to add it.", None
    page = listed.page
    lines = [f"<b>Your watchlist</b> ({listed.total}) — page {page + 1}/{listed.pages}", ""]
    rows = []
    for movie in listed.movies:
        lines.append(f"• {escape(label(movie))}")
        rows.append(
            [
                codec.button(
                    f"✓ Watched: {button_label(movie, TITLE_IN_WATCHLIST_BUTTON)}",
                    kb.WATCHLIST_WATCHED,
                    movie=movie.id,
                    scope=scope,
                ),
                codec.button("Remove", kb.WATCHLIST_REMOVE, movie=movie.id, page=page, scope=scope),
            ]
        )
    nav = []
    if page > 0:
        nav.append(codec.button("◀ Prev", kb.WATCHLIST_PAGE, page=page - 1, scope=scope))
    if page < listed.pages - 1:
        nav.append(codec.button("Next ▶", kb.WATCHLIST_PAGE, page=page + 1, scope=scope))
    rows.append(nav)
    return "\n".join(lines), markup(rows)


def profile(taste: TasteProfile) -> str:
    if taste.count == 0:
        return "You haven't rated anything yet. Send /start to begin."
    lines = [
        "<b>Your taste profile</b>",
        f"Ratings: {taste.count} · average {stars(round(taste.average, 2))}",
    ]
    if taste.favourite_genres:
        lines.append("Favourite genres: " + escape(", ".join(taste.favourite_genres[:3])))
    if taste.favourite_decades:
        lines.append(
            "Favourite decades: " + ", ".join(f"{d}s" for d in taste.favourite_decades[:3])
        )
    return "\n".join(lines)


PROFILE_CHART = "taste.png"
EXPORT_FILE = "moviebot-export.csv"
EXPORT_CAPTION = 'Your ratings, watchlist and "not interested" list.'


def forget_confirm(codec: CallbackCodec, scope: int) -> tuple[str, InlineKeyboardMarkup]:
    text = (
        'This deletes all your ratings, your watchlist and your "not interested" list, '
        "and I will forget you completely. It cannot be undone. Are you sure?"
    )
    return text, markup(
        [
            [
                codec.button("Yes, delete everything", kb.FORGET_YES, scope=scope),
                codec.button("Cancel", kb.FORGET_NO, scope=scope),
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


def _model_name(model: ModelSummary | None) -> str:
    if model is None:
        return "no model"
    return f"model v{'?' if model.version is None else model.version}"


def _ndcg(model: ModelSummary | None) -> str:
    value = model.ndcg if model is not None else None
    return "n/a" if value is None else f"{value:.3f}"


def retrain_started(old: ModelSummary | None) -> str:
    return f"⚙️ Retraining… (serving {_model_name(old)} meanwhile)"


def retrain_at_start(why: str, old: ModelSummary | None) -> str:
    """To the admins, when the bot starts a retrain itself because it has no usable model."""
    meanwhile = "popular picks" if old is None else _model_name(old)
    return (
        f"⚙️ Retraining now: {escape(why)}.\n"
        f"Serving {meanwhile} meanwhile; I'll report when it's done."
    )


def retrain_interrupted(serving: ModelSummary | None, again: bool) -> str:
    """The "Retraining…" message of a retrain the bot did not live to finish (`again`: the
    bot is starting a new one itself)."""
    now = "popular picks" if serving is None else _model_name(serving)
    then = "A new retrain is starting." if again else "Send /retrain to try again."
    return f"⚠️ This retrain was interrupted: I stopped before it finished. Serving {now}. {then}"


def retrain_progress(step: str) -> str:
    return f"⚙️ Retraining: {escape(step)}…"


def retrain_failed(error: str, old: ModelSummary | None) -> str:
    return f"❌ Training failed: {escape(error)}\nStill serving {_model_name(old)}."


def retrain_done(old: ModelSummary | None, new: ModelSummary, seconds: float) -> str:
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in new.timings.items() if k != "total")
    return (
        f"✅ Now serving {_model_name(new)} (was {_model_name(old)}).\n"
        f"Validation NDCG@10: {_ndcg(new)} (was {_ndcg(old)}).\n"
        f"Took {seconds:.1f}s ({escape(parts)})."
    )


def retrain_outcome(outcome: Retrained | RetrainFailed | RetrainBusy) -> str:
    """The answer to a /retrain, however it went."""
    if isinstance(outcome, Retrained):
        return retrain_done(outcome.old, outcome.new, outcome.seconds)
    if isinstance(outcome, RetrainFailed):
        return retrain_failed(outcome.error, outcome.old)
    return RETRAIN_BUSY


def latency_line(operation: str, summary: LatencySummary) -> str:
    return (
        f"/{escape(operation)} latency: p50 {summary.p50_ms:.0f} ms, "
        f"p95 {summary.p95_ms:.0f} ms ({summary.calls} call{'s' if summary.calls != 1 else ''})"
    )


def stats(figures: Stats) -> str:
    """/stats: users, ratings, the model, and each timed operation's recent latency."""
    lines = [
        "<b>Stats</b>",
        f"Telegram users: {figures.telegram_users} · their ratings: {figures.telegram_ratings}",
        f"All ratings (with the data set): {figures.all_ratings}",
    ]
    model = figures.model
    if model is not None:
        lines.append(
            f"{_model_name(model)}, trained {model.age_hours:.1f} h ago, NDCG@10 {_ndcg(model)}"
        )
    else:
        lines.append("No model loaded.")
    lines += [latency_line(op, summary) for op, summary in figures.latency.items()]
    return "\n".join(lines)


# The commands Telegram shows in its menu (setMyCommands), in that order.
COMMANDS = (
    ("start", "Rate a few movies to get going"),
    ("recommend", "Your next picks: /recommend [n] [genres] [years]"),
    ("rate", "Find a movie and rate it"),
    ("similar", "Movies like a given one"),
    ("watchlist", "Movies you saved for later"),
    ("profile", "Your taste at a glance"),
    ("movienight", "In a group: find a movie everyone likes"),
    ("export", "Download your data as CSV"),
    ("web", "Open the web app in a browser"),
    ("forget", "Delete everything I know about you"),
    ("help", "What I can do"),
)
ADMIN_COMMANDS = ("retrain", "stats")


def help_text(asked: Help) -> str:
    lines = [
        "<b>What I can do</b>",
        "/start – rate a few movies to get going",
        "/rate <i>title</i> – find a movie and rate it (or just type a title)",
        "/recommend [n] [genres] [years] – your next picks, e.g. /recommend comedy 90s",
        "/similar <i>title</i> – movies like that one",
        "/watchlist – movies you saved for later",
        "/profile – your taste at a glance",
        "/export – download your data as CSV",
        "/forget – delete everything I know about you",
        "/movienight – in a group: find a movie everyone likes",
    ]
    if asked.admin:
        lines += ["", "<b>Admin</b>", "/retrain – train the model now", "/stats – usage and model"]
    lines += ["", catalogue_note(asked.about), "", TMDB_CREDIT]
    return "\n".join(lines)


# TMDb's terms ask every app that uses its API to say so.
TMDB_CREDIT = (
    '<i>Movie posters and details from <a href="https://www.themoviedb.org/">TMDB</a>. '
    "This product uses the TMDB API but is not endorsed or certified by TMDB.</i>"
)


def unknown_command(command: str) -> str:
    """A hint for a command we don't know: the closest one (`/recomend` → /recommend), or /help."""
    name = command.lstrip("/").split("@")[0].lower()
    known = [c for c, _ in COMMANDS] + list(ADMIN_COMMANDS)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    shown = f"<code>{escape(command[:50])}</code>"
    if close:
        return f"I don't know {shown}. Did you mean /{close[0]}? (/help lists what I can do.)"
    return f"I don't know {shown}. Send /help to see what I can do."


NOT_TEXT = "I only read text: type a movie title to rate it, or send /help."
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
CANNOT_SAVE = "I can't save right now, please try again later."


def too_long() -> str:
    return "That message is too long for a movie title. Try just the title, e.g. <i>heat</i>."


# -- movie night -----------------------------------------------------------------------------

POLL_QUESTION = "🍿 What do we watch tonight?"
NIGHT_OVER = "This movie night is over."
NOT_IN_GROUP = "Only members of this group can take part."
ALREADY_PICKED = "The picks are already out: vote in the poll!"
NIGHT_NOT_VOTING = "There is no vote running for this movie night."
PICKING = "Picking movies for everyone…"
NIGHT_PRIVATE = (
    "Movie nights happen in groups: add me to a group with your friends and send "
    "/movienight there. I'll find movies everyone likes and run a vote."
)


IN_A_GROUP = "Here in the group: /movienight to pick a movie together, and /help."


def private_chat_link(bot_username: str) -> str:
    """The deep link that opens a private chat with the bot (its /start)."""
    return f"https://t.me/{bot_username}?start=group"


def _private_chat_button(bot_username: str) -> InlineKeyboardMarkup:
    return markup(
        [[InlineKeyboardButton("💬 Open a private chat", url=private_chat_link(bot_username))]]
    )


def group_private_only(command: str, bot_username: str) -> tuple[str, InlineKeyboardMarkup]:
    """/recommend, /profile, … sent in a group: where they work."""
    text = (
        f"<code>/{escape(command[:50])}</code> works in a private chat with me, so your taste "
        f"stays yours. {IN_A_GROUP}"
    )
    return text, _private_chat_button(bot_username)


def group_unknown(command: str, bot_username: str) -> tuple[str, InlineKeyboardMarkup]:
    """A command the bot does not know, sent in a group."""
    text = (
        f"I don't know <code>/{escape(command[:50])}</code>. {IN_A_GROUP} Everything else "
        "(ratings, /recommend, /profile, …) is in a private chat with me."
    )
    return text, _private_chat_button(bot_username)


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


def only_starter(starter: str) -> str:
    return toast(f"Only {starter or 'the person'} (who started it) or a group admin can do that.")


def night_refusal(refused: Refused) -> str:
    """Why a movie-night button did nothing (an alert under the button)."""
    if refused.why == "not_manager":
        return only_starter(refused.starter)
    return {
        "expired": EXPIRED,
        "over": NIGHT_OVER,
        "picked": ALREADY_PICKED,
        "not_voting": NIGHT_NOT_VOTING,
        "not_in_group": NOT_IN_GROUP,
        "no_winner": NOT_FOUND,
        "vote_running": night_already_open(),
    }[refused.why]


def night_filters(genre: str | None, decade: int) -> str:
    """' · Comedy · 1990s' for the heading ('' when there are no filters)."""
    parts = ([escape(genre)] if genre else []) + ([f"{decade}s"] if decade else [])
    return "".join(f" · {p}" for p in parts)


def night_link(bot_username: str, night_id: int) -> str:
    """The deep link that opens a private chat for a quick onboarding."""
    return f"https://t.me/{bot_username}?start=movienight_{night_id}"


def night_message(
    night: NightView, codec: CallbackCodec, bot_username: str
) -> tuple[str, InlineKeyboardMarkup]:
    """'Movie night! Who's in?' with the live member list (✅ has rated enough, 🆕 not yet)."""
    lines = [f"🎬 <b>Movie night!</b> Who's in?{night_filters(night.genre, night.decade)}", ""]
    for member in night.members:
        mark = "✅" if member.ready else "🆕"
        lines.append(f"{mark} {escape(member.name)}")
    newcomers = [m.name for m in night.members if not m.ready]
    link = night_link(bot_username, night.id)
    if newcomers:
        lines += [
            "",
            f"🆕 {escape(', '.join(newcomers))}: I don't know your taste yet; you count once "
            f'you have rated {MIN_RATINGS} movies. Tap <a href="{link}">Rate a few movies</a> '
            "(a quick private chat with me). Otherwise you still vote, I just can't take "
            "your taste into account.",
        ]
    lines += ["", "<i>Whoever started it, or an admin, taps Pick movies when everyone's in.</i>"]
    scope = night.chat_id
    keyboard = markup(
        [
            [
                codec.button("I'm in 🙋", kb.NIGHT_JOIN, night=night.id, scope=scope),
                codec.button("I'm out", kb.NIGHT_LEAVE, night=night.id, scope=scope),
            ],
            [InlineKeyboardButton("⭐ Rate a few movies", url=link)],
            [codec.button("🎲 Pick movies", kb.NIGHT_PICK, night=night.id, scope=scope)],
        ]
    )
    return "\n".join(lines), keyboard


def night_members_closed(night: NightView) -> str:
    """The member list once the picks are out (no more buttons)."""
    members = [m.name for m in night.members]
    names = escape(", ".join(members)) if members else "nobody"
    return (
        f"🎬 <b>Movie night</b>{night_filters(night.genre, night.decade)}\nIn: {names}.\n\n"
        "<i>The picks are out: vote in the poll below.</i>"
    )


def joined(name: str, ready: bool) -> str:
    if ready:
        return toast(f"You're in, {name}! 🍿")
    return toast(f"You're in, {name}! Tap “Rate a few movies” so I know your taste.")


def left() -> str:
    return "You're out. Tap I'm in if you change your mind."


def night_toggled(toggled: Toggled) -> str:
    """The note under "I'm in" / "I'm out"."""
    return joined(toggled.name, toggled.ready) if toggled.joined else left()


def poll_option(movie: Movie) -> str:
    """A poll option: the title and year, within Telegram's 100 characters."""
    text = label(movie)
    return text if len(text) <= 100 else text[:99] + "…"


def poll_keyboard(codec: CallbackCodec, night: NightView) -> InlineKeyboardMarkup:
    """Under the poll: "Close vote" (the starter or an admin)."""
    close = codec.button("🏁 Close vote", kb.NIGHT_CLOSE, night=night.id, scope=night.chat_id)
    return markup([[close]])


def night_no_picks(filtered: bool, trained: bool) -> str:
    if not trained:
        return "The recommender isn't trained yet. A bot admin can start it with /retrain."
    if filtered:
        return (
            "I couldn't find enough movies for everyone with those filters. Start a new "
            "/movienight with another genre or decade."
        )
    return "I couldn't find enough movies nobody here has seen. Try again after a few ratings."


def _names(people: Sequence[str]) -> str:
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


TOP_SHOWN = 0.10  # a pick's reason says "in everyone's top N%" only up to this


def _group_stars(value: float) -> str:
    """Predicted stars as a reason shows them: rounded down to a tenth, never past what the
    model said ("4.2", and "5" rather than "5.0")."""
    tenths = int(value * 10 + 1e-9) / 10
    return f"{tenths:.0f}" if tenths == int(tenths) else f"{tenths:.1f}"


def _percent(share: float) -> str:
    """A share as a whole percentage, rounded up (never "0%")."""
    return f"{max(1, int(-(-round(share * 100, 6) // 1)))}%"


def _how_well(reason: GroupReason) -> str:
    """The predicted stars, and whether the pick fits everyone (see `_fits_note`)."""
    stars = [value for _, value in reason.predicted]
    low, high = _group_stars(min(stars)), _group_stars(max(stars))
    single = len(stars) == 1
    who = escape(reason.predicted[0][0]) if single else "everyone"
    if reason.fits is False:
        spread = f"★{low}" if low == high else f"★{low}–{high}"
        taste = f"{who}'s" if single else "everyone's"
        return f"a compromise, not {taste} usual taste (predicted {spread})"
    if reason.fits is None:  # stored by an older moviebot
        return f"{who}'s predicted ★{low}" + ("" if single or low == "5" else "+")
    details = f"predicted ★{low}" if single else f"predicted ★{low}{'' if low == '5' else '+'}"
    details += "" if single else " for all"
    if not single and reason.top is not None and reason.top < TOP_SHOWN:
        details += f", in everyone's top {_percent(reason.top)}"
    return f"fits {who} ({details})"


def group_reason(reason: GroupReason) -> str:
    """ "fits everyone (predicted ★3.8+ for all); Alice and Bob loved Alien (1979)", or
    "a compromise, …" for a pick that only fills the poll."""
    parts = [_how_well(reason)] if reason.predicted else []
    for people, movie in reason.loved:
        parts.append(f"{escape(_names(people))} loved <b>{escape(label(movie))}</b>")
    return "; ".join(parts) if parts else "popular with people like you"


def _fits_note(choices: Sequence[Choice]) -> str:
    """What "fits" means, under the reasons ("" when no pick says it fits)."""
    if not any(c.reason.fits for c in choices):
        return ""
    note = "Fits: nobody is predicted well below their own usual rating."
    alike = next((c.reason.alike for c in choices if c.reason.alike), ())
    if alike:
        verb = "rates" if len(alike) == 1 else "rate"
        note += (
            f" {escape(_names(alike))} {verb} everything alike, so their predicted stars barely "
            f"tell one movie from another: for them a pick must also be among their own top "
            f"{_percent(ALIKE_SHARE)} of matches (top {ALIKE_AT_LEAST} at least)."
        )
    return f"<i>{note}</i>"


def night_picks(choices: Sequence[Choice]) -> str:
    """Why these five: one line per poll option, with its reason."""
    lines = [
        "🗳 <b>Vote in the poll above!</b> Anyone in the group can vote; the picks follow the "
        "taste of those who said they're in. Why these:",
        "",
    ]
    for number, choice in enumerate(choices, start=1):
        lines.append(f"{number}. <b>{escape(label(choice.movie))}</b>")
        lines.append(f"   <i>{group_reason(choice.reason)}</i>")
    note = _fits_note(choices)
    return "\n".join(lines + (["", note] if note else []))


def night_result(closing: Closing, codec: CallbackCodec) -> tuple[str, InlineKeyboardMarkup | None]:
    """The announcement when the vote closes: the winner (+ "Add to everyone's watchlist")."""
    movie = closing.winner
    if movie is None:
        return NIGHT_OVER, None
    if closing.voters == 0:
        how = "Nobody voted, so I went with the group's best match."
    else:
        how = f"{closing.votes} of {closing.voters} vote{'s' if closing.voters != 1 else ''}"
        if closing.tie_broken:
            how += " (a tie, broken by how well it fits the whole group)"
        how += ". Anyone in the group could vote."
    text = f"🏆 <b>Tonight: {escape(label(movie))}</b>\n{how}\nEnjoy the movie! 🍿"
    add = codec.button(
        "➕ Add to everyone's watchlist",
        kb.NIGHT_WATCHLIST,
        night=closing.night_id,
        scope=closing.chat_id,
    )
    return text, markup([[add]])


def _watchlists(count: int) -> str:
    return f"{count} watchlist{'s' if count != 1 else ''}"


def watchlists_added(added: WatchlistsAdded) -> str:
    """The note under "Add to everyone's watchlist" (a second press says it is there)."""
    title, count, already = label(added.movie), added.count, added.already
    if count and already:
        text = f"Added {title} to {_watchlists(count)}; it was on {already} already."
    elif count:
        text = f"Added {title} to {_watchlists(count)}."
    elif already:
        text = f"{title} is already on their watchlists: nothing to add."
    else:
        text = f"Everyone here has rated {title} already: nothing to add."
    return text[:MAX_ANSWER]


def movienight_counted(counted: Counted) -> str:
    """After onboarding from a movie night's deep link."""
    title = counted.title
    where = f"<b>{escape(title)}</b>" if title else "your group"
    if counted.voting:
        return f"🍿 Thanks! The picks for the movie night in {where} are already out: go and vote."
    if counted.is_member:
        return f"🍿 Thanks! You now count for the movie night in {where}. Head back there to vote."
    return (
        f"🍿 Thanks! Now head back to {where} and tap <i>I'm in</i> to count for the movie night."
    )


# -- the web app ----------------------------------------------------------------------------

OPEN_APP = "🌐 Open app"
WEB_OFF = "The web app is not running here (whoever runs me can turn it on with MOVIEBOT_WEB=1)."


def with_open_app(keyboard: Keyboard, url: str | None) -> Keyboard:
    """The keyboard with an "Open app" row at the end, when there is a public web app."""
    if not url:
        return keyboard
    rows = [list(r) for r in keyboard.inline_keyboard] if keyboard else []
    return markup([*rows, [kb.open_app(OPEN_APP, url)]])


def web_link(link: str, minutes: int) -> str:
    """The /web reply: a one-time sign-in link."""
    return (
        "🌐 <b>moviebot in your browser</b>\n"
        f"Open this link to sign in (it works once, for {minutes} minutes, and only for you: "
        f"don't share it):\n{escape(link)}\n\n"
        "Same ratings, picks and watchlist as here."
    )
