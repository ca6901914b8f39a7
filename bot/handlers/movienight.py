"""Group movie night on Telegram: /movienight, join/leave, Pick movies → a native poll, votes.

The rules live in `bot.services.movienight` (`context.services.nights`); these handlers read
the update, ask Telegram what only Telegram knows (is this person in the group, an admin?),
call the service and render its answer. Nothing is kept in memory, so the bot can restart
mid-night: buttons carry only the night id (signed for the group's chat), poll answers are
matched by poll id, and the vote timeout is scheduled again from the stored deadline on
start-up. In privacy mode the bot sees only commands, so the whole flow runs on /movienight,
buttons and poll answers. The member list is one message edited in place: groups allow about
20 bot messages a minute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, CallbackQuery, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, JobQueue

from bot import render
from bot.context import BotContext
from bot.handlers.common import answer_query, button_scope, edit, read_button, reply, text
from bot.handlers.recommend import UsageError, parse_request
from bot.services import Services
from bot.services.movienight import Closing, Picking, Refused, Timeout, Toggled

log = logging.getLogger(__name__)

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
    change = update.my_chat_member
    if change is None or change.chat.type == "private":
        return
    was = change.old_chat_member.status in IN_GROUP
    now = change.new_chat_member.status in IN_GROUP
    nights = context.services.nights
    if now and not was:
        await context.services.call(nights.bot_joined, change.chat.id, change.chat.title)
        await change.chat.send_message(render.group_intro(context.bot.username), parse_mode="HTML")
    elif was and not now:
        night_id = await context.services.call(nights.bot_left, change.chat.id)
        if night_id is not None:
            _unschedule(context.job_queue, night_id)


# -- /movienight and the member list -----------------------------------------------------------


async def movienight(update: Update, context: BotContext) -> None:
    """/movienight [genre] [decade]: open a night and post the live "Who's in?" message."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    services = context.services
    genres = await services.call(services.genres)
    try:
        request = parse_request(context.args or [], genres)
    except UsageError as exc:
        await reply(update, render.night_usage(genres, str(exc)))
        return
    where, who = (chat.id, chat.title), (user.id, user.first_name)
    night = await services.call(services.nights.open, *where, *who, request.genre, request.decade)
    if isinstance(night, Refused):  # the vote is running: no second night
        await reply(update, render.night_refusal(night))
        return
    # A new night, or the open one posted again (its member list may have scrolled away).
    text, keyboard = render.night_message(night, context.codec, context.bot.username)
    sent = await chat.send_message(
        text, parse_mode="HTML", reply_markup=keyboard, disable_web_page_preview=True
    )
    await services.call(services.nights.set_message, night.id, sent.message_id)


async def movienight_private(update: Update, context: BotContext) -> None:
    """/movienight in a private chat: explain where it works."""
    await reply(update, render.NIGHT_PRIVATE)


# -- other commands in a group -------------------------------------------------------------------


async def private_only(update: Update, context: BotContext) -> None:
    """/recommend, /profile, … in a group: they work in a private chat, which a link opens."""
    command, _ = _command(update)
    await reply(update, *render.group_private_only(command, context.bot.username))


async def unknown_in_group(update: Update, context: BotContext) -> None:
    """A command nobody handles, in a group: say what works here (not if it is another bot's)."""
    command, addressee = _command(update)
    if addressee and addressee.lower() != context.bot.username.lower():
        return
    await reply(update, *render.group_unknown(command, context.bot.username))


def _command(update: Update) -> tuple[str, str]:
    """("recommend", "moviebot") from "/recommend@moviebot 5"; the addressee may be ""."""
    word = next(iter(text(update).split()), "")
    command, _, addressee = word.removeprefix("/").partition("@")
    return command, addressee


async def join_button(update: Update, context: BotContext) -> None:
    """ "I'm in 🙋": join, and edit the one member-list message."""
    await _membership(update, context, context.services.nights.join)


async def leave_button(update: Update, context: BotContext) -> None:
    """ "I'm out": leave, and edit the one member-list message."""
    await _membership(update, context, context.services.nights.leave)


async def _membership(
    update: Update, context: BotContext, change: Callable[..., Toggled | Refused]
) -> None:
    """Join or leave (`change`) the night the button belongs to, then edit its member list."""
    press = await _press(update, context)
    if press is None:
        return
    in_group = await _in_group(context.bot, press.chat_id, press.user_id)
    done = await context.services.call(
        change, press.night_id, press.chat_id, press.user_id, press.name, in_group
    )
    await _toggled(update, context, press.query, done)


async def _toggled(
    update: Update, context: BotContext, query: CallbackQuery, done: Toggled | Refused
) -> None:
    """Answer a join/leave; redraw the member list if it changed."""
    if isinstance(done, Refused):
        await _refuse(query, done)
        return
    await answer_query(query, render.night_toggled(done))
    if done.changed:
        text, keyboard = render.night_message(done.night, context.codec, context.bot.username)
        await edit(update, text, keyboard)


async def refresh_member_list(context: BotContext, night_id: int) -> None:
    """Re-draw an open night's member list (someone finished onboarding in private)."""
    night = await context.services.call(context.services.nights.live_list, night_id)
    if night is None or night.message_id is None:
        return
    text, keyboard = render.night_message(night, context.codec, context.bot.username)
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
    press = await _press(update, context)
    if press is None:
        return
    nights = context.services.nights
    is_admin = await _is_admin(context.bot, press.chat_id, press.user_id)
    night = await context.services.call(
        nights.start_picking, press.night_id, press.chat_id, press.user_id, is_admin
    )
    if isinstance(night, Refused):
        await _refuse(press.query, night)
        return
    await answer_query(press.query, render.PICKING)
    try:
        picking = await context.services.call(nights.choose, night.id)
        timeout = await _post_poll(update, context, picking)
    except BaseException:
        await context.services.call(
            nights.reopen, night.id
        )  # no poll went out: the night is open again
        raise
    if timeout is not None:  # the vote runs now, whatever happens to the messages below
        schedule_close(context.job_queue, timeout)
        await _explain_picks(update, context, picking)


async def _post_poll(update: Update, context: BotContext, picking: Picking) -> Timeout | None:
    """The poll (+ "Close vote"), saved; None (after saying why) if there are too few picks."""
    night = picking.night
    if not picking.enough:  # the night is open again
        await reply(update, render.night_no_picks(picking.filtered, picking.trained))
        return None
    message = await context.bot.send_poll(
        night.chat_id,
        render.POLL_QUESTION,
        [render.poll_option(choice.movie) for choice in picking.choices],
        is_anonymous=False,
        reply_markup=render.poll_keyboard(context.codec, night),
    )
    if message.poll is None:  # Telegram always sends the poll back
        raise TelegramError("sendPoll answered without the poll")
    poll_id, message_id = message.poll.id, message.message_id
    return await context.services.call(
        context.services.nights.save_poll, night.id, picking, poll_id, message_id
    )


async def _explain_picks(update: Update, context: BotContext, picking: Picking) -> None:
    """Why these picks (a message under the poll), and the member list closed."""
    night = picking.night
    await context.bot.send_message(
        night.chat_id, render.clip(render.night_picks(picking.choices)), parse_mode="HTML"
    )
    await edit(update, render.night_members_closed(night))


# -- votes, closing, the winner ------------------------------------------------------------------


async def poll_answer(update: Update, context: BotContext) -> None:
    """A vote (or a retracted one) in a movie night's poll; outsiders and late votes ignored."""
    answer = update.poll_answer
    if answer is None or answer.user is None:  # an anonymous admin voting as the chat
        return
    nights = context.services.nights
    chat_id = await context.services.call(nights.poll_chat, answer.poll_id)
    if chat_id is None:  # not a running movie night's poll
        return
    in_group = await _in_group(context.bot, chat_id, answer.user.id)
    await context.services.call(
        nights.vote, answer.poll_id, answer.user.id, answer.option_ids, in_group
    )


async def close_button(update: Update, context: BotContext) -> None:
    """ "Close vote" (the starter or an admin): stop the poll and announce the winner."""
    press = await _press(update, context)
    if press is None:
        return
    is_admin = await _is_admin(context.bot, press.chat_id, press.user_id)
    nights = context.services.nights
    closing = await context.services.call(
        nights.close_by, press.night_id, press.chat_id, press.user_id, is_admin
    )
    if isinstance(closing, Refused):
        await _refuse(press.query, closing)
        return
    await answer_query(press.query)
    if closing is not None:  # else the timeout closed it a moment ago
        await announce(context, closing)


async def vote_timeout(context: BotContext) -> None:
    """JobQueue callback: the poll's time is up."""
    night_id = context.job.data if context.job is not None else None
    if not isinstance(night_id, int):
        return
    closing = await context.services.call(context.services.nights.close, night_id)
    if closing is not None:  # else "Close vote" got there first
        await announce(context, closing)


async def announce(context: BotContext, closing: Closing) -> None:
    """A vote just closed: stop its poll and say who won (once: the service closes once)."""
    _unschedule(context.job_queue, closing.night_id)
    if closing.poll_message_id is not None:
        await _stop_poll(context.bot, closing.chat_id, closing.poll_message_id, closing.night_id)
    text, keyboard = render.night_result(closing, context.codec)
    await context.bot.send_message(closing.chat_id, text, parse_mode="HTML", reply_markup=keyboard)


async def _stop_poll(bot: Bot, chat_id: int, message_id: int, night_id: int) -> None:
    """Stop the poll and take its "Close vote" button away (the vote is over)."""
    try:
        await bot.stop_poll(chat_id, message_id)
    except BadRequest as exc:  # already stopped by hand, or deleted
        log.info("stopPoll for movie night %s: %s", night_id, exc)
    try:  # no reply_markup: the inline keyboard goes
        await bot.edit_message_reply_markup(chat_id, message_id)
    except BadRequest as exc:  # deleted, or the button went with stopPoll
        if "not modified" not in str(exc):
            log.info("removing movie night %s's Close vote: %s", night_id, exc)


async def watchlist_button(update: Update, context: BotContext) -> None:
    """ "Add to everyone's watchlist": the winner goes on every member's watchlist."""
    press = await _press(update, context)
    if press is None:
        return
    added = await context.services.call(
        context.services.nights.add_winner_to_watchlists, press.night_id, press.chat_id
    )
    if isinstance(added, Refused):
        await _refuse(press.query, added)
        return
    await answer_query(press.query, render.watchlists_added(added))


# -- scheduling ----------------------------------------------------------------------------------


def _job_name(night_id: int) -> str:
    return f"movienight-{night_id}"


def schedule_close(jobs: JobQueue | None, timeout: Timeout) -> None:
    """Close the vote when its time is up (at once if it already is)."""
    if jobs is None:
        log.warning("no JobQueue: movie night %s will only close by button", timeout.night_id)
        return
    _unschedule(jobs, timeout.night_id)
    jobs.run_once(
        vote_timeout, when=timeout.delay, data=timeout.night_id, name=_job_name(timeout.night_id)
    )


def _unschedule(jobs: JobQueue | None, night_id: int) -> None:
    if jobs is None:
        return
    for job in jobs.get_jobs_by_name(_job_name(night_id)):
        job.schedule_removal()


def reschedule(app: Application) -> None:
    """On start-up: every vote still running gets its timeout back (from the stored deadline);
    a night cut off before its poll is open again (`NightService.resume`)."""
    services: Services = app.bot_data["services"]
    for timeout in services.nights.resume():
        schedule_close(app.job_queue, timeout)


# -- reading a pressed button, asking Telegram ---------------------------------------------------


@dataclass(frozen=True)
class _Press:
    """A pressed movie-night button: who pressed which night's button, in which chat."""

    query: CallbackQuery
    night_id: int
    chat_id: int
    user_id: int
    name: str


async def _press(update: Update, context: BotContext) -> _Press | None:
    """The pressed button, decoded; None once the presser was told it expired."""
    callback = await read_button(update, context)
    query, user = update.callback_query, update.effective_user
    if callback is None or query is None or user is None:
        return None
    return _Press(query, callback["night"], button_scope(update), user.id, user.first_name)


async def _refuse(query: CallbackQuery, refused: Refused) -> None:
    await answer_query(query, render.night_refusal(refused), alert=True)


async def _in_group(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Is this person a member of the group right now (as Telegram reports it)?"""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except BadRequest:
        return False
    return member.status in IN_GROUP


async def _is_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Is this person an administrator (or the owner) of the group?"""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in MANAGERS


# -- back from a deep link -----------------------------------------------------------------------


async def onboarded(update: Update, context: BotContext) -> None:
    """After a rating in private: once someone who came from a night's deep link has rated
    enough, tell them they count now and refresh the group's member list."""
    user = update.effective_user
    if user is None:
        return
    counted = await context.services.call(context.services.nights.after_onboarding, user.id)
    if counted is None:
        return
    await reply(update, render.movienight_counted(counted))
    await refresh_member_list(context, counted.night_id)
