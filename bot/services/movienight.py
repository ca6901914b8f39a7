"""Group movie nights, as rules: who is in, who counts, what is picked and why, who won.

A night moves `open` → `voting` → `closed`; storage makes each step happen once, this module
decides who may take it: anyone in the group joins or leaves an open night, its starter or a
group admin picks and closes. Everything comes in and goes out as plain ids, names and frozen
dataclasses, never Telegram objects, so a web front end can run the same night. What only the
chat platform knows (is this person in the group? an admin of it?) the caller asks and passes
in as a bool. Nothing is kept in memory between calls: a restart mid-night loses nothing, and
`resume` (at start-up) says which vote timeouts to schedule again, after opening again a night
that a stop cut off between "Pick movies" claiming it and its poll being saved.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.services.computing import computes
from bot.services.metadata import MetadataService
from bot.services.onboarding import PENDING_NIGHT
from bot.settings import Settings
from recommender.filters import Filters
from recommender.group import ALIKE_MIN, ALIKE_TOP, MIN_RATINGS, GroupPick, Member, recommend_group
from recommender.hybrid import ModelHolder
from storage import groups, movies, ratings, users
from storage.db import Database
from storage.groups import (
    Night,
    NightAlreadyOpenError,
    NightMember,
    NightPick,
    NightStateError,
    Status,
)
from storage.movies import Movie

log = logging.getLogger(__name__)

POLL_SIZE = 5  # poll options
# For the words: someone who rates everything alike gets only picks among their own top share
# of matches (and at least their top few), see recommender.group.
ALIKE_SHARE, ALIKE_AT_LEAST = ALIKE_TOP, ALIKE_MIN
MIN_PICKS = 2  # fewer than this is no vote: the night opens again

Why = Literal[
    "expired",  # no such night, or another group's
    "over",  # the night is closed
    "picked",  # the picks are out (it is voting)
    "not_voting",  # the step needs a running vote, the night is still open
    "not_in_group",  # only members of the group take part
    "not_manager",  # only the starter or a group admin may do this
    "no_winner",  # the winner is no longer in the catalogue
    "vote_running",  # a new night while the group's vote is running
]
_WRONG_STATE: dict[Status, Why] = {"closed": "over", "voting": "picked", "open": "not_voting"}


@dataclass(frozen=True)
class Refused:
    """A step the night does not allow, and why; `starter` names who may do it instead."""

    why: Why
    starter: str = ""  # "" when they have left the night


@dataclass(frozen=True)
class Attendee:
    telegram_id: int
    name: str
    ready: bool  # has rated enough for the picks to take their taste into account


@dataclass(frozen=True)
class GroupReason:
    """Why a pick suits the group, as data (render words it). `fits`: it makes nobody
    miserable on their own scale (see recommender.group), False for a compromise that fills
    the poll, None when unknown (nobody informed, or a reason stored by an older moviebot)."""

    predicted: tuple[tuple[str, float], ...] = ()  # (member, predicted stars), informed ones
    loved: tuple[tuple[tuple[str, ...], Movie], ...] = ()  # (who, a movie like it they loved)
    fits: bool | None = None
    top: float | None = None  # the largest share of movies any member likes better (0 = best)
    alike: tuple[str, ...] = ()  # who rates everything alike: kept to their top ALIKE_SHARE


@dataclass(frozen=True)
class Choice:
    """One poll option: the movie, its group score (breaks ties) and why it was picked."""

    position: int
    movie: Movie
    score: float
    reason: GroupReason
    poster: str | None = None  # the poster's URL, from TMDb metadata (the web page's tile)


@dataclass(frozen=True)
class NightView:
    """A group's night as a front end shows it: who is in, the picks, the live vote count."""

    id: int
    chat_id: int
    status: Status
    starter_id: int | None  # None once the starter asked to be forgotten (/forget)
    genre: str | None
    decade: int
    members: tuple[Attendee, ...]
    message_id: int | None = None  # the live "Who's in?" message
    choices: tuple[Choice, ...] = ()
    tally: tuple[int, ...] = ()  # votes per choice
    voters: int = 0
    winner: Movie | None = None

    @property
    def starter(self) -> str:
        """The starter's name ("" once they have left the night)."""
        return next((m.name for m in self.members if m.telegram_id == self.starter_id), "")


@dataclass(frozen=True)
class Toggled:
    """Someone joined or left an open night."""

    joined: bool
    name: str
    ready: bool
    changed: bool  # False for a second tap: nothing to redraw
    night: NightView


@dataclass(frozen=True)
class Picking:
    """The group picks for a poll; fewer than MIN_PICKS and the night is open again."""

    night: NightView
    choices: tuple[Choice, ...]
    filtered: bool
    trained: bool
    stored: tuple[NightPick, ...] = field(repr=False)  # what save_poll keeps

    @property
    def enough(self) -> bool:
        return len(self.choices) >= MIN_PICKS


@dataclass(frozen=True)
class Timeout:
    """When a night's vote closes by itself: a Unix time, and the seconds left until then."""

    night_id: int
    deadline: int
    delay: float


@dataclass(frozen=True)
class Closing:
    """A vote that just closed: what to announce, and which poll to stop."""

    night_id: int
    chat_id: int
    poll_message_id: int | None
    winner: Movie | None
    votes: int  # the winner's
    voters: int
    tie_broken: bool


@dataclass(frozen=True)
class WatchlistsAdded:
    movie: Movie
    count: int  # watchlists it went on just now (members who rated it already are skipped)
    already: int = 0  # members whose watchlist had it before


@dataclass(frozen=True)
class Counted:
    """Someone from a night's deep link has rated enough to count."""

    night_id: int
    title: str | None  # the group's
    is_member: bool
    voting: bool  # the picks are out: too late to join, not too late to vote


def winner(picks: Sequence[NightPick], tally: Sequence[int]) -> tuple[NightPick | None, bool]:
    """Most votes; ties broken by the group score (then by poll order). And was there a tie?"""
    if not picks:
        return None, False
    best = max(picks, key=lambda p: (tally[p.position], p.score, -p.position))
    tied = sum(1 for p in picks if tally[p.position] == tally[best.position]) > 1
    return best, tied and tally[best.position] > 0


def night_filters(genre: int, decade: int, genres: Sequence[str]) -> Filters | None:
    """The recommender's filters for a night's genre index (−1 = any) and decade (0 = any)."""
    if genre < 0 and not decade:
        return None
    return Filters(
        genres=frozenset(genres[genre : genre + 1] if genre >= 0 else []),
        year_min=decade or None,
        year_max=decade + 9 if decade else None,
    )


def _record(pick: GroupPick) -> str:
    """A pick's reason as stored: member ids and movie ids, worded only when shown."""
    predicted = [(int(k), float(v)) for k, v in pick.predicted.items()]
    loved = [(int(k), int(v)) for k, v in pick.loved.items()]
    top = None if pick.top is None else round(pick.top, 4)
    alike = [int(k) for k in pick.alike]
    return json.dumps(
        {"predicted": predicted, "loved": loved, "fits": pick.fits, "top": top, "alike": alike}
    )


@dataclass(frozen=True)
class _Stored:
    """A stored reason read back: member ids and movie ids."""

    predicted: tuple[tuple[int, float], ...] = ()
    loved: tuple[tuple[int, int], ...] = ()
    fits: bool | None = None
    top: float | None = None
    alike: tuple[int, ...] = ()


def _read_reason(record: str) -> _Stored:
    """A stored reason; nothing for one this cannot read (or one from an older moviebot)."""
    try:
        data = json.loads(record)
        fits, top = data.get("fits"), data.get("top")
        return _Stored(
            tuple((int(k), float(v)) for k, v in data.get("predicted", [])),
            tuple((int(k), int(v)) for k, v in data.get("loved", [])),
            fits if isinstance(fits, bool) else None,
            float(top) if isinstance(top, int | float) else None,
            tuple(int(k) for k in data.get("alike", [])),
        )
    except (ValueError, TypeError, AttributeError):
        return _Stored()


def _group_reason(
    stored: _Stored, names: Mapping[int, str], shown: Mapping[int, Movie]
) -> GroupReason:
    by_movie: dict[int, list[str]] = {}
    for key, movie_id in stored.loved:
        by_movie.setdefault(movie_id, []).append(names.get(key, "?"))
    return GroupReason(
        tuple((names.get(key, "?"), stars) for key, stars in stored.predicted),
        tuple((tuple(who), shown[m]) for m, who in by_movie.items() if m in shown),
        stored.fits,
        stored.top,
        tuple(names[key] for key in stored.alike if key in names),
    )


class NightService:
    """Movie nights over storage and the current model; one per process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        models: ModelHolder,
        genres: Callable[[], Sequence[str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.db, self.models = settings, db, models
        self.genres, self.clock = genres, clock
        self.metadata = MetadataService(db, settings.tmdb_image_base_url)

    # -- people -------------------------------------------------------------------------------

    def rated_count(self, telegram_id: int) -> int:
        """How many movies this Telegram user has rated (0 if we never met them)."""
        user = users.find(self.db, "telegram", telegram_id)
        return len(ratings.history(self.db, user).ratings)

    def ready(self, telegram_id: int) -> bool:
        """Rated enough for the group picks to take their taste into account."""
        return self.rated_count(telegram_id) >= MIN_RATINGS

    def pending(self, telegram_id: int) -> int | None:
        """The night whose deep link brought this user to the private chat, if any."""
        user = users.find(self.db, "telegram", telegram_id)
        night = users.settings(self.db, user).get(PENDING_NIGHT) if user else None
        return night if isinstance(night, int) else None

    def forget_pending(self, telegram_id: int) -> None:
        user = users.find(self.db, "telegram", telegram_id)
        if user is not None:
            users.update_settings(self.db, user, **{PENDING_NIGHT: None})

    def after_onboarding(self, telegram_id: int) -> Counted | None:
        """Once someone from a night's deep link has rated enough: the night they now count
        for (said once; None for everyone else, or when that night is over)."""
        night_id = self.pending(telegram_id)
        if night_id is None or not self.ready(telegram_id):
            return None
        self.forget_pending(telegram_id)
        night = groups.get(self.db, night_id)
        if night is None or night.status == "closed":
            return None
        member = groups.is_member(self.db, night.id, telegram_id)
        title = groups.title(self.db, night.chat_id)
        return Counted(night.id, title, member, voting=night.status == "voting")

    # -- the bot in a group, opening a night ---------------------------------------------------

    def bot_joined(self, chat_id: int, title: str | None) -> None:
        groups.ensure_group(self.db, chat_id, title)

    def bot_left(self, chat_id: int) -> int | None:
        """The bot was removed: the group's night ends; returns its id (to unschedule)."""
        night = groups.current(self.db, chat_id)
        if night is None:
            return None
        groups.cancel(self.db, night.id)
        return night.id

    def open(
        self,
        chat_id: int,
        title: str | None,
        starter_id: int,
        starter_name: str,
        genre: int = -1,
        decade: int = 0,
    ) -> NightView | Refused:
        """A new night with its starter in it; the group's open one if it has one (to post
        its member list again); refused while the group's vote is running."""
        wanted = {"genre": genre, "decade": decade}
        try:
            night = groups.open_night(self.db, chat_id, starter_id, starter_name, wanted, title)
        except NightAlreadyOpenError:
            current = groups.current(self.db, chat_id)
            if current is None or current.status != "open":
                return Refused("vote_running")
            night = current
        return self._view(night)

    def set_message(self, night_id: int, message_id: int) -> None:
        """The message that shows who is in (edited in place as people join)."""
        groups.set_message(self.db, night_id, message_id)

    # -- reading a night -----------------------------------------------------------------------

    def view(self, night_id: int) -> NightView | None:
        night = groups.get(self.db, night_id)
        return None if night is None else self._view(night)

    def current(self, chat_id: int) -> NightView | None:
        """The group's night that is not over, if any."""
        night = groups.current(self.db, chat_id)
        return None if night is None else self._view(night)

    def for_member(self, night_id: int, telegram_id: int) -> NightView | None:
        """The night, for someone in it; None for everyone else (as for no such night: a
        stranger learns nothing, not even that it exists)."""
        night = groups.get(self.db, night_id)
        if night is None or not groups.is_member(self.db, night_id, telegram_id):
            return None
        return self._view(night)

    def group_title(self, chat_id: int) -> str | None:
        return groups.title(self.db, chat_id)

    def nights_of(self, telegram_id: int) -> list[NightView]:
        """The nights this person is in that are not over, newest first."""
        return [self._view(n) for n in groups.nights_of(self.db, telegram_id)]

    def live_list(self, night_id: int) -> NightView | None:
        """The night, if it is open and its member-list message can be redrawn."""
        night = groups.get(self.db, night_id)
        if night is None or night.status != "open" or night.message_id is None:
            return None
        return self._view(night)

    def _view(self, night: Night) -> NightView:
        genres = self.genres()
        genre = int(night.filters.get("genre", -1))
        members = groups.members(self.db, night.id)
        names = {m.telegram_id: m.name for m in members}
        picks = groups.picks(self.db, night.id)
        tally = groups.tally(self.db, night.id) if picks else []
        winner_movie = movies.get(self.db, night.winner_movie_id) if night.winner_movie_id else None
        return NightView(
            id=night.id,
            chat_id=night.chat_id,
            status=night.status,
            starter_id=night.starter_id,
            genre=genres[genre] if 0 <= genre < len(genres) else None,
            decade=int(night.filters.get("decade", 0)),
            members=tuple(
                Attendee(m.telegram_id, m.name, self.ready(m.telegram_id)) for m in members
            ),
            message_id=night.message_id,
            choices=self._choices(picks, names),
            tally=tuple(tally),
            voters=len(groups.votes(self.db, night.id)) if picks else 0,
            winner=winner_movie,
        )

    def _attendees(self, members: Sequence[NightMember]) -> tuple[Attendee, ...]:
        return tuple(Attendee(m.telegram_id, m.name, self.ready(m.telegram_id)) for m in members)

    def _choices(self, picks: Sequence[NightPick], names: Mapping[int, str]) -> tuple[Choice, ...]:
        """Stored picks as poll options, their reasons worded with the members' names."""
        stored = {p.position: _read_reason(p.reason) for p in picks}
        wanted = [p.movie_id for p in picks] + [m for r in stored.values() for _, m in r.loved]
        shown, _, posters = self.metadata.movies(wanted)  # one statement, posters with them
        choices = []
        for pick in picks:
            if pick.movie_id in shown:
                reason = _group_reason(stored[pick.position], names, shown)
                movie, poster = shown[pick.movie_id], posters.get(pick.movie_id)
                choices.append(Choice(pick.position, movie, pick.score, reason, poster))
        return tuple(choices)

    # -- joining, and the checks every step makes ---------------------------------------------

    def _night_for(self, night_id: int, chat_id: int, status: Status) -> Night | Refused:
        """The night a button in `chat_id` names, in the state the step needs."""
        night = groups.get(self.db, night_id)
        if night is None or night.chat_id != chat_id:
            return Refused("expired")
        if night.status != status:
            return Refused(_WRONG_STATE[night.status])
        return night

    def join(
        self, night_id: int, chat_id: int, telegram_id: int, name: str, in_group: bool
    ) -> Toggled | Refused:
        """Join an open night (`in_group`: is this person in the group right now?)."""
        return self._toggle(night_id, chat_id, telegram_id, name, in_group, joining=True)

    def leave(
        self, night_id: int, chat_id: int, telegram_id: int, name: str, in_group: bool
    ) -> Toggled | Refused:
        return self._toggle(night_id, chat_id, telegram_id, name, in_group, joining=False)

    def _toggle(
        self,
        night_id: int,
        chat_id: int,
        telegram_id: int,
        name: str,
        in_group: bool,
        joining: bool,
    ) -> Toggled | Refused:
        night = self._night_for(night_id, chat_id, "open")
        if isinstance(night, Refused):
            return night
        if not in_group:
            return Refused("not_in_group")
        try:
            if joining:
                changed = groups.join(self.db, night.id, telegram_id, name)
            else:
                changed = groups.leave(self.db, night.id, telegram_id)
        except NightStateError:  # the picks went out a moment ago
            return Refused("picked")
        view = self._view(night)
        return Toggled(joining, name, self.ready(telegram_id), changed, view)

    def _manager_check(self, night: Night, telegram_id: int, is_admin: bool) -> Refused | None:
        """The starter, or an admin of the group (`is_admin`, as the chat platform says).
        A night whose starter was forgotten has no starter (None): only an admin then."""
        if (night.starter_id is not None and telegram_id == night.starter_id) or is_admin:
            return None
        members = groups.members(self.db, night.id)
        starter = next((m.name for m in members if m.telegram_id == night.starter_id), "")
        return Refused("not_manager", starter)

    # -- picking --------------------------------------------------------------------------------

    def start_picking(
        self, night_id: int, chat_id: int, telegram_id: int, is_admin: bool
    ) -> NightView | Refused:
        """Claim the night for picking (open → voting): the starter or an admin, once."""
        night = self._night_for(night_id, chat_id, "open")
        if isinstance(night, Refused):
            return night
        refused = self._manager_check(night, telegram_id, is_admin)
        if refused is not None:
            return refused
        try:
            return self._view(groups.start_picking(self.db, night.id))
        except NightStateError:  # someone else pressed first
            return Refused("picked")

    @computes
    def group_picks(
        self, telegram_ids: list[int], n: int, filters: Filters | None = None
    ) -> list[GroupPick]:
        """Picks for these members (settings.group_strategy); [] without a model.

        Nothing any member rated or dismissed is picked; members we know too little about
        have neutral preferences (see recommender.group).
        """
        model = self.models.current
        if model is None:
            return []
        members: list[Member] = []
        exclude: set[int] = set()
        for telegram_id in telegram_ids:
            history = ratings.history(self.db, users.find(self.db, "telegram", telegram_id))
            members.append(Member(telegram_id, history.ratings))
            exclude |= history.dismissed
        return recommend_group(
            model, members, n, self.settings.group_strategy, exclude=exclude, filters=filters
        )

    def choose(self, night_id: int) -> Picking:
        """The group picks for a night being picked, with their movies and reasons (slow: call
        it off the event loop). Too few, and the night is open again."""
        night = groups.get(self.db, night_id)
        if night is None:
            raise NightStateError(f"no movie night {night_id}")
        view = self._view(night)
        names = {m.telegram_id: m.name for m in view.members}
        genre, decade = int(night.filters.get("genre", -1)), int(night.filters.get("decade", 0))
        filters = night_filters(genre, decade, self.genres())
        chosen = self.group_picks(list(names), POLL_SIZE, filters)
        known = movies.get_many(self.db, [p.movie_id for p in chosen])
        chosen = [p for p in chosen if p.movie_id in known]
        stored = tuple(NightPick(i, p.movie_id, p.score, _record(p)) for i, p in enumerate(chosen))
        trained = self.models.current is not None
        picking = Picking(view, self._choices(stored, names), filters is not None, trained, stored)
        if not picking.enough:
            groups.reopen(self.db, night_id)
        return picking

    def reopen(self, night_id: int) -> None:
        """Undo `start_picking` (the poll could not be posted): the night is open again."""
        groups.reopen(self.db, night_id)

    def save_poll(self, night_id: int, picking: Picking, poll_id: str, message_id: int) -> Timeout:
        """The poll offering these picks is out; returns when its vote closes by itself."""
        deadline = int(self.clock()) + self.settings.poll_timeout
        groups.save_poll(self.db, night_id, picking.stored, poll_id, message_id, deadline)
        return self._timeout(night_id, deadline)

    # -- votes, closing, the winner ------------------------------------------------------------

    def poll_chat(self, poll_id: str) -> int | None:
        """The group whose running vote this poll is (None for any other poll)."""
        night = groups.by_poll(self.db, poll_id)
        return night.chat_id if night is not None and night.status == "voting" else None

    def vote(self, poll_id: str, telegram_id: int, options: Sequence[int], in_group: bool) -> bool:
        """Count a poll answer (no options retracts it); False if ignored (an outsider, a
        vote after the close, or not a movie night's poll)."""
        night = groups.by_poll(self.db, poll_id)
        if night is None or night.status != "voting":
            return False
        if not in_group:
            log.info("ignored a vote from %s, who is not in chat %s", telegram_id, night.chat_id)
            return False
        try:
            groups.vote(self.db, night.id, telegram_id, list(options))
        except NightStateError:
            log.info("ignored a vote on movie night %s after it closed", night.id)
            return False
        return True

    def close(self, night_id: int) -> Closing | None:
        """End the vote and pick the winner, once: None if it is not running (a timeout and a
        "Close vote" may race; the loser gets None)."""
        night = groups.get(self.db, night_id)
        if night is None or night.status != "voting":
            return None
        picks = groups.picks(self.db, night_id)
        tally = groups.tally(self.db, night_id)
        best, tie_broken = winner(picks, tally)
        if not groups.close(self.db, night_id, best.movie_id if best else None):
            return None
        movie = movies.get(self.db, best.movie_id) if best else None
        votes = tally[best.position] if best else 0
        voters = len(groups.votes(self.db, night_id))
        return Closing(
            night.id, night.chat_id, night.poll_message_id, movie, votes, voters, tie_broken
        )

    def close_by(
        self, night_id: int, chat_id: int, telegram_id: int, is_admin: bool
    ) -> Closing | Refused | None:
        """ "Close vote": the starter or an admin; None if it closed a moment ago."""
        night = self._night_for(night_id, chat_id, "voting")
        if isinstance(night, Refused):
            return night
        refused = self._manager_check(night, telegram_id, is_admin)
        return refused if refused is not None else self.close(night.id)

    def add_winner_to_watchlists(self, night_id: int, chat_id: int) -> WatchlistsAdded | Refused:
        """The winner goes on every member's watchlist (unless they have rated it); a second
        press changes nothing and says it is there already."""
        night = self._night_for(night_id, chat_id, "closed")
        if isinstance(night, Refused):
            return night
        movie = movies.get(self.db, night.winner_movie_id) if night.winner_movie_id else None
        if movie is None:
            return Refused("no_winner")
        count = already = 0
        for member in groups.members(self.db, night.id):
            history = ratings.history_of(self.db, "telegram", member.telegram_id)
            if movie.id in history.seen:
                continue
            if movie.id in history.watchlist:
                already += 1
                continue
            user = users.ensure_telegram(self.db, member.telegram_id, member.name)
            count += ratings.add_to_watchlist(self.db, user, movie.id)
        return WatchlistsAdded(movie, count, already)

    # -- timeouts -------------------------------------------------------------------------------

    def _timeout(self, night_id: int, deadline: int) -> Timeout:
        return Timeout(night_id, deadline, max(0.0, deadline - self.clock()))

    def pending_timeouts(self) -> list[Timeout]:
        """Every running vote's timeout (to schedule again after a restart; a vote whose
        deadline passed, or was never set, closes at once). A night claimed for picking whose
        poll was never saved has no vote running yet: it has no timeout."""
        now = int(self.clock())
        return [
            self._timeout(n.id, n.vote_deadline or now)
            for n in groups.voting(self.db)
            if n.poll_id is not None
        ]

    def resume(self) -> list[Timeout]:
        """At start-up, before any update is handled: a night in "voting" without a poll was
        cut off (the bot stopped after "Pick movies" claimed it, before the poll was saved), so
        nobody is picking it now: it is open again, and the replayed press (or the next one)
        picks and posts its poll. Then every running vote's timeout, as `pending_timeouts`."""
        for night in groups.voting(self.db):
            if night.poll_id is None:
                log.warning("movie night %s was cut off before its poll: open again", night.id)
                groups.reopen(self.db, night.id)
        return self.pending_timeouts()
