"""Small pieces every handler module shares: what an update carries (narrowed once, here),
reading a pressed button, answering it (or, when Telegram says it is too late, a fresh message
instead), replying safely, and noticing chats that blocked the bot or come back."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Chat, ChatMember, InlineKeyboardMarkup, Message, Update
from telegram import User as TelegramUser
from telegram.error import BadRequest

from bot import render
from bot.context import BotContext
from bot.keyboards import Callback, ExpiredButtonError, wire
from bot.services.feedback import Refusal
from bot.services.people import Person

log = logging.getLogger(__name__)

GONE = (ChatMember.BANNED, ChatMember.LEFT)  # "kicked" is BANNED: a blocked bot, or thrown out


class UnexpectedUpdateError(RuntimeError):
    """An update lacks what its handler was registered for (a bug in the registration)."""


def sender(update: Update) -> TelegramUser:
    """The Telegram user behind this update."""
    if update.effective_user is None:
        raise UnexpectedUpdateError(f"update {update.update_id} has no user")
    return update.effective_user


def chat(update: Update) -> Chat:
    """The chat this update happened in."""
    if update.effective_chat is None:
        raise UnexpectedUpdateError(f"update {update.update_id} has no chat")
    return update.effective_chat


def pressed(update: Update) -> CallbackQuery:
    """The button press this update carries."""
    if update.callback_query is None:
        raise UnexpectedUpdateError(f"update {update.update_id} is not a button press")
    return update.callback_query


def text(update: Update) -> str:
    """The message's text, stripped ("" for none)."""
    message = update.effective_message
    return (message.text or "").strip() if message is not None else ""


def caller(update: Update) -> Person:
    """Who is asking, as services know them."""
    user = sender(update)
    return Person(user.id, user.first_name)


def button_scope(update: Update) -> int:
    """Private buttons belong to the user who got them; group buttons to the group."""
    where = update.effective_chat
    if where is not None and where.type != "private":
        return where.id
    return sender(update).id


async def read_button(update: Update, context: BotContext) -> Callback | None:
    """The pressed button's action, or None after telling the user it has expired.

    Answers the callback query only when it has expired; the handler answers otherwise
    (Telegram shows a spinner until someone does).
    """
    try:
        return context.codec.decode(pressed(update).data, button_scope(update))
    except ExpiredButtonError as exc:
        log.info("rejected button from user %s: %s", sender(update).id, exc)
        await answer(update, render.EXPIRED, alert=True)
        return None


async def answer(update: Update, note: str | None = None, alert: bool = False) -> None:
    """Answer the pressed button, with a pop-up note if given."""
    await answer_query(pressed(update), note, alert)


async def answer_query(query: CallbackQuery, note: str | None = None, alert: bool = False) -> None:
    """Answer a button press, with a pop-up note if given.

    Telegram takes an answer only for a few seconds after the press ("query is too old": the
    bot was busy, or is catching up after a restart). The press is still carried out, so in a
    private chat the note comes as a fresh message instead; without a note, or in a group
    (where a message would not say whose press it was), the handler's reply says enough.
    """
    try:
        await query.answer(note, show_alert=alert)
    except BadRequest as exc:
        if "query is too old" not in exc.message.lower():
            raise
        log.info("button answered too late (user %s): %s", query.from_user.id, exc.message)
        where = query.message.chat if query.message is not None else None
        if note and where is not None and where.type == Chat.PRIVATE:
            await where.send_message(note)


async def refuse(update: Update, why: Refusal) -> None:
    """Tell the user why their button did nothing."""
    await answer(update, render.refusal(why), alert=True)


async def reply(
    update: Update, message: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Reply in HTML to the message (or button) that triggered this update."""
    await _call(
        update,
        "sendMessage",
        chat_id=chat(update).id,
        text=render.clip(message),
        parse_mode="HTML",
        reply_markup=reply_markup,
    )


async def reply_card(
    update: Update, caption: str, keyboard: InlineKeyboardMarkup, poster: str | None
) -> None:
    """A movie card: the poster (by URL, Telegram fetches it) with the caption, or the text
    card when there is no poster or Telegram cannot fetch it."""
    if poster is not None:
        try:
            await _call(update, "sendPhoto", chat_id=chat(update).id, photo=poster,
                        caption=caption, parse_mode="HTML", reply_markup=keyboard)  # fmt: skip
            return
        except BadRequest as exc:  # the URL is gone or not an image: the text card instead
            log.warning("poster %s refused (%s): sending the card as text", poster, exc)
    await reply(update, caption, keyboard)


async def edit(update: Update, message: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Replace the text of the message whose button was pressed (the caption, when it is a
    photo: a movie card with its poster).

    A double tap asks for the same edit twice; Telegram's "message is not modified" is taken as
    the success it is by the send policy (bot.sending).
    """
    query = pressed(update)
    shown = query.message
    if query.inline_message_id:
        where: dict[str, object] = {"inline_message_id": query.inline_message_id}
    elif isinstance(shown, Message):
        where = {"chat_id": shown.chat_id, "message_id": shown.message_id}
    else:  # too old for Telegram to show us: python-telegram-bot would raise the same
        raise TypeError("the pressed button's message is not accessible")
    if isinstance(shown, Message) and (shown.photo or shown.document):
        text = {"caption": render.clip(message, render.MAX_CAPTION)}
        await _call(update, "editMessageCaption", **where, **text, parse_mode="HTML",
                    reply_markup=keyboard)  # fmt: skip
        return
    await _call(update, "editMessageText", **where, text=render.clip(message),
                parse_mode="HTML", reply_markup=keyboard)  # fmt: skip


async def _call(update: Update, method: str, **params: object) -> None:
    """A Bot API call whose answer nobody reads (a reply, an edit), sent the way
    python-telegram-bot sends its own (the send policy, the HTTP client, None left out), but
    without turning the message Telegram sends back into objects: a page of picks comes back
    with its 21 buttons, and that parse was 14% of the samples holding the interpreter lock in
    a profile of `/recommend` (docs/benchmarks/notes.md). `Bot._post` is the call
    `Bot.do_api_request` makes for a method python-telegram-bot has no function for; the chat
    tests cover every caller."""
    keyboard = params.get("reply_markup")
    if isinstance(keyboard, InlineKeyboardMarkup):
        params["reply_markup"] = wire(keyboard)
    await update.get_bot()._post(method, params)


async def stray_button(update: Update, context: BotContext) -> None:
    """A button no handler knows (an old version's, or forged)."""
    await answer(update, render.EXPIRED, alert=True)


async def heard_from(update: Update, context: BotContext) -> None:
    """Before every update's handler: a chat that blocked or removed the bot is inactive (the
    send policy skips it) until it speaks again."""
    where, change = update.effective_chat, update.my_chat_member
    if where is None:
        return
    audience = context.services.audience
    if change is not None and change.new_chat_member.status in GONE:
        why = f"bot {change.new_chat_member.status}"
        await context.services.call(audience.went_away, where.id, why)
    elif not audience.is_active(where.id):  # a set in memory: most updates need no thread
        await context.services.call(audience.heard_from, where.id)
