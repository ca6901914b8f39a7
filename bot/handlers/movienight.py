"""Group movie night: /movienight, join/leave, Pick movies → a native poll, votes, the winner.

Everything a night needs lives in SQLite (`storage.groups`), so the bot can restart mid-night:
buttons carry only the night id (signed for the group's chat), poll answers are matched by poll
id, and the vote timeout is re-scheduled from the stored deadline on start-up. In privacy mode
the bot sees only commands, so the whole flow runs on /movienight, buttons and poll answers.
The member list is one message edited in place: groups allow about 20 bot messages a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Bot, ChatMember, ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, JobQueue

from bot import keyboards as kb
from bot import render
from bot.context import BotContext
from bot.handlers.common import button_scope, edit, read_button, reply
from bot.handlers.recommend import Request, UsageError, parse_request
from bot.keyboards import CallbackCodec, markup
from bot.services import Services
from recommender.group import MIN_RATINGS
from storage import groups, movies, ratings
from storage.groups import Night, NightAlreadyOpenError, NightPick, NightStateError

log = logging.getLogger(__name__)

POLL_SIZE = 5
IN_GROUP = (
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.RESTRICTED,
)
MANAGERS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


# -- the bot joins a group -----------------------------------------------------------------------


async def bot_membership(update: Update, context: BotContext) -> None:
    """Added to a group: introduce myself. Removed: close the group's night, if any."""
    change: ChatMemberUpdated = update.my_chat_member
    chat = change.chat
    if chat.type == "private":
        return
    was, now = change.old_chat_member.status, change.new_chat_member.status
    if now in IN_GROUP and was not in IN_GROUP:
        groups.ensure_group(context.services.db, chat.id, chat.title)
        await chat.send_message(render.group_intro(context.bot.username), parse_mode="HTML")
    elif now not in IN_GROUP and was in IN_GROUP:
        night = groups.current(context.services.db, chat.id)
        if night is not None:
            groups.cancel(context.services.db, night.id)
            _unschedule(context.job_queue, night.id)


# -- /movienight and the member list -----------------------------------------------------------


async def movienight(update: Update, context: BotContext) -> None:
    """/movienight [genre] [decade]: open a night and post the live "Who's in?" message."""
    services = context.services
    genres = services.genres()
    try:
        request = parse_request(context.args or [], genres)
    except UsageError as exc:
        await reply(update, render.night_usage(genres, str(exc)))
        return
    chat, user = update.effective_chat, update.effective_user
    wanted = {"genre": request.genre, "decade": request.decade}
    try:
        night = groups.open_night(
            services.db, chat.id, user.id, user.first_name, wanted, title=chat.title
        )
    except NightAlreadyOpenError:
        night = groups.current(services.db, chat.id)
        if night is None or night.status != "open":
            await reply(update, render.night_already_open())
            return
        # The "Who's in?" message may have scrolled away (or gone): post it again, live.
    text, keyboard = _member_list(context, night)
    sent = await chat.send_message(
        text, parse_mode="HTML", reply_markup=keyboard, disable_web_page_preview=True
    )
    groups.set_message(services.db, night.id, sent.message_id)


async def movienight_private(update: Update, context: BotContext) -> None:
    """/movienight in a private chat: explain where it works."""
    await reply(update, render.NIGHT_PRIVATE)


async def join_button(update: Update, context: BotContext) -> None:
    """ "I'm in 🙋": join, and edit the one member-list message."""
    await _toggle(update, context, joining=True)


async def leave_button(update: Update, context: BotContext) -> None:
    """ "I'm out": leave, and edit the one member-list message."""
    await _toggle(update, context, joining=False)


async def _toggle(update: Update, context: BotContext, joining: bool) -> None:
    night = await _night_of_button(update, context, "open")
    if night is None:
        return
    query, user = update.callback_query, update.effective_user
    if not await _in_group(context.bot, night.chat_id, user.id):
        await query.answer(render.NOT_IN_GROUP, show_alert=True)
        return
    db = context.services.db
    try:
        if joining:
            changed = groups.join(db, night.id, user.id, user.first_name)
            note = render.joined(user.first_name, _ready(context.services, user.id))
        else:
            changed = groups.leave(db, night.id, user.id)
            note = render.left()
    except NightStateError:
        await query.answer(render.ALREADY_PICKED, show_alert=True)
        return
    await query.answer(note)
    if changed:
        text, keyboard = _member_list(context, night)
        await edit(update, text, keyboard)


def _ready(services: Services, telegram_id: int) -> bool:
    return services.rated_count(telegram_id) >= MIN_RATINGS


def _filters_text(services: Services, night: Night) -> str:
    genres = services.genres()
    genre = night.filters.get("genre", -1)
    name = genres[genre] if 0 <= genre < len(genres) else None
    return render.night_filters(name, int(night.filters.get("decade", 0)))


def _member_list(context: BotContext, night: Night) -> tuple:
    services = context.services
    people = [
        (m.name, _ready(services, m.telegram_id)) for m in groups.members(services.db, night.id)
    ]
    return render.night_message(
        night.id,
        _filters_text(services, night),
        people,
        context.codec,
        night.chat_id,
        context.bot.username,
    )


async def refresh_member_list(context: BotContext, night_id: int) -> None:
    """Re-draw an open night's member list (someone finished onboarding in private)."""
    night = groups.get(context.services.db, night_id)
    if night is None or night.status != "open" or night.message_id is None:
        return
    text, keyboard = _member_list(context, night)
    try:
        await context.bot.edit_message_text(
            text,
            night.chat_id,
            night.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc):
            log.warning("could not refresh movie night %s: %s", night_id, exc)


# -- picking: group recommendations → a native poll ---------------------------------------------


async def pick_button(update: Update, context: BotContext) -> None:
    """ "Pick movies" (the starter or an admin, once): compute group picks and post the poll."""
    night = await _night_of_button(update, context, "open")
    if night is None:
        return
    query, services = update.callback_query, context.services
    if not await _may_manage(context.bot, night, update.effective_user.id):
        await query.answer(render.only_starter(_starter_name(services, night)), show_alert=True)
        return
    try:
        night = groups.start_picking(services.db, night.id)
    except NightStateError:
        await query.answer(render.ALREADY_PICKED, show_alert=True)
        return
    await query.answer("Picking movies for everyone…")
    try:
        posted = await _post_poll(update, context, night)
    except BaseException:
        groups.reopen(services.db, night.id)
        raise
    if not posted:
        groups.reopen(services.db, night.id)


async def _post_poll(update: Update, context: BotContext, night: Night) -> bool:
    """Picks → poll (+ "Close vote") → reasons; False (after saying why) if too few picks."""
    services = context.services
    members = groups.members(services.db, night.id)
    request = Request(genre=night.filters.get("genre", -1), decade=night.filters.get("decade", 0))
    filters = request.filters(services.genres())
    chosen = await asyncio.to_thread(
        services.group_picks, [m.telegram_id for m in members], POLL_SIZE, filters
    )
    shown = movies.get_many(services.db, [p.movie_id for p in chosen])
    chosen = [p for p in chosen if p.movie_id in shown]
    if len(chosen) < 2:
        await reply(update, render.night_no_picks(filters is not None, services.model is not None))
        return False
    names = {m.telegram_id: m.name for m in members}
    loved = movies.get_many(services.db, [m for p in chosen for m in p.loved.values()])
    reasons = [render.group_reason(p.predicted, p.loved, names, loved) for p in chosen]
    scope = night.chat_id
    poll = await context.bot.send_poll(
        night.chat_id,
        render.POLL_QUESTION,
        [render.poll_option(shown[p.movie_id]) for p in chosen],
        is_anonymous=False,
        reply_markup=markup(
            [[context.codec.button("🏁 Close vote", kb.NIGHT_CLOSE, night=night.id, scope=scope)]]
        ),
    )
    deadline = int(time.time()) + services.settings.poll_timeout
    picks = [
        NightPick(i, p.movie_id, p.score, reason)
        for i, (p, reason) in enumerate(zip(chosen, reasons, strict=True))
    ]
    groups.save_poll(services.db, night.id, picks, poll.poll.id, poll.message_id, deadline)
    schedule_close(context.job_queue, night.id, deadline)
    await context.bot.send_message(
        night.chat_id,
        render.clip(render.night_picks([(shown[p.movie_id], p.reason) for p in picks])),
        parse_mode="HTML",
    )
    await edit(
        update,
        render.night_members_closed(_filters_text(services, night), [m.name for m in members]),
    )
    return True


# -- votes, closing, the winner ------------------------------------------------------------------


async def poll_answer(update: Update, context: BotContext) -> None:
    """A vote (or a retracted one) in a movie night's poll; outsiders and late votes ignored."""
    answer = update.poll_answer
    if answer.user is None:  # an anonymous admin voting as the chat: not a person we can count
        return
    db = context.services.db
    night = groups.by_poll(db, answer.poll_id)
    if night is None or night.status != "voting":
        return
    if not await _in_group(context.bot, night.chat_id, answer.user.id):
        log.info("ignored a vote from %s, who is not in chat %s", answer.user.id, night.chat_id)
        return
    try:
        groups.vote(db, night.id, answer.user.id, list(answer.option_ids))
    except NightStateError:
        log.info("ignored a vote on movie night %s after it closed", night.id)


async def close_button(update: Update, context: BotContext) -> None:
    """ "Close vote" (the starter or an admin): stop the poll and announce the winner."""
    night = await _night_of_button(update, context, "voting")
    if night is None:
        return
    query = update.callback_query
    if not await _may_manage(context.bot, night, update.effective_user.id):
        await query.answer(
            render.only_starter(_starter_name(context.services, night)), show_alert=True
        )
        return
    await query.answer()
    await finish_vote(context.bot, context.services, context.codec, night.id, context.job_queue)


async def vote_timeout(context: BotContext) -> None:
    """JobQueue callback: the poll's time is up."""
    night_id = int(context.job.data)
    await finish_vote(context.bot, context.services, context.codec, night_id, context.job_queue)


async def finish_vote(
    bot: Bot, services: Services, codec: CallbackCodec, night_id: int, jobs: JobQueue | None
) -> bool:
    """Close the vote once (a button and the timeout may race), stop the poll, announce."""
    db = services.db
    night = groups.get(db, night_id)
    if night is None or night.status != "voting":
        return False
    picks = groups.picks(db, night_id)
    tally = groups.tally(db, night_id)
    best, tie_broken = winner(picks, tally)
    if not groups.close(db, night_id, best.movie_id if best else None):
        return False
    _unschedule(jobs, night_id)
    if night.poll_message_id is not None:
        try:
            await bot.stop_poll(night.chat_id, night.poll_message_id)
        except BadRequest as exc:  # already stopped by hand, or deleted
            log.info("stopPoll for movie night %s: %s", night_id, exc)
    movie = movies.get(db, best.movie_id) if best else None
    if movie is None:
        await bot.send_message(night.chat_id, render.NIGHT_OVER)
        return True
    voters = len(groups.votes(db, night_id))
    text, keyboard = render.night_winner(
        movie, tally[best.position], voters, tie_broken, codec, night.chat_id, night_id
    )
    await bot.send_message(night.chat_id, text, parse_mode="HTML", reply_markup=keyboard)
    return True


def winner(picks: list[NightPick], tally: list[int]) -> tuple[NightPick | None, bool]:
    """Most votes; ties broken by the group score (then by poll order). And was there a tie?"""
    if not picks:
        return None, False
    best = max(picks, key=lambda p: (tally[p.position], p.score, -p.position))
    tied = sum(1 for p in picks if tally[p.position] == tally[best.position]) > 1
    return best, tied and tally[best.position] > 0


async def watchlist_button(update: Update, context: BotContext) -> None:
    """ "Add to everyone's watchlist": the winner goes on every member's watchlist."""
    night = await _night_of_button(update, context, "closed")
    if night is None:
        return
    services = context.services
    movie = movies.get(services.db, night.winner_movie_id) if night.winner_movie_id else None
    if movie is None:
        await update.callback_query.answer(render.NOT_FOUND, show_alert=True)
        return
    members = groups.members(services.db, night.id)
    for member in members:
        user = services.user(member.telegram_id, member.name)
        if movie.id not in ratings.history(services.db, user).seen:
            ratings.add_to_watchlist(services.db, user, movie.id)
    await update.callback_query.answer(render.watchlists_added(len(members), movie))


# -- scheduling ----------------------------------------------------------------------------------


def _job_name(night_id: int) -> str:
    return f"movienight-{night_id}"


def schedule_close(jobs: JobQueue | None, night_id: int, deadline: int) -> None:
    """Close the vote at `deadline` (a Unix time; at once if it has passed)."""
    if jobs is None:
        log.warning("no JobQueue: movie night %s will only close by button", night_id)
        return
    _unschedule(jobs, night_id)
    delay = max(0.0, deadline - time.time())
    jobs.run_once(vote_timeout, when=delay, data=night_id, name=_job_name(night_id))


def _unschedule(jobs: JobQueue | None, night_id: int) -> None:
    if jobs is None:
        return
    for job in jobs.get_jobs_by_name(_job_name(night_id)):
        job.schedule_removal()


def reschedule(app: Application) -> None:
    """On start-up: every vote still running gets its timeout back (from the stored deadline)."""
    services: Services = app.bot_data["services"]
    for night in groups.voting(services.db):
        deadline = night.vote_deadline or int(time.time())
        schedule_close(app.job_queue, night.id, deadline)


# -- checks shared by the buttons --------------------------------------------------------------


async def _night_of_button(update: Update, context: BotContext, status: str) -> Night | None:
    """The night a group button names, in the state the button needs; else None (answered)."""
    callback = await read_button(update, context)
    if callback is None:
        return None
    query = update.callback_query
    night = groups.get(context.services.db, callback["night"])
    if night is None or night.chat_id != button_scope(update):
        await query.answer(render.EXPIRED, show_alert=True)
        return None
    if night.status != status:
        notice = {
            "closed": render.NIGHT_OVER,
            "voting": render.ALREADY_PICKED,
            "open": render.NIGHT_NOT_VOTING,
        }[night.status]
        await query.answer(notice, show_alert=True)
        return None
    return night


async def _in_group(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Is this person a member of the group right now (as Telegram reports it)?"""
    try:
        member: ChatMember = await bot.get_chat_member(chat_id, user_id)
    except BadRequest:
        return False
    return member.status in IN_GROUP


async def _may_manage(bot: Bot, night: Night, user_id: int) -> bool:
    """The night's starter, or an administrator of the group."""
    if user_id == night.starter_id:
        return True
    try:
        member = await bot.get_chat_member(night.chat_id, user_id)
    except TelegramError:
        return False
    return member.status in MANAGERS


def _starter_name(services: Services, night: Night) -> str:
    for member in groups.members(services.db, night.id):
        if member.telegram_id == night.starter_id:
            return member.name
    return "the person"


# -- back from a deep link -----------------------------------------------------------------------


async def onboarded(update: Update, context: BotContext) -> None:
    """After a rating in private: once someone who came from a night's deep link has rated
    enough, tell them they count now and refresh the group's member list."""
    services = context.services
    user = update.effective_user
    night_id = services.pending_movienight(user.id)
    if night_id is None or services.rated_count(user.id) < MIN_RATINGS:
        return
    services.forget_movienight(user.id)
    night = groups.get(services.db, night_id)
    if night is None or night.status == "closed":
        return
    member = groups.is_member(services.db, night.id, user.id)
    title = groups.title(services.db, night.chat_id)
    await reply(update, render.movienight_counted(title, member))
    await refresh_member_list(context, night.id)
