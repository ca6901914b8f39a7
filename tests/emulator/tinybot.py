"""A tiny python-telegram-bot v22 bot for testing the emulator and the chat client.

It uses the features moviebot relies on — commands, HTML, inline buttons that edit their
message, polls, photos, documents, group membership — so the emulator is tested against
real PTB client code. `build(settings)` builds it the way the real bot does, from Settings.
"""

from __future__ import annotations

import asyncio
import io
import json

from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

STARS = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton(f"★{n}", callback_data=f"rate:{n}") for n in range(1, 6)],
        [InlineKeyboardButton("Skip", callback_data="skip")],
    ]
)
POSTER_STARS = InlineKeyboardMarkup(
    [[InlineKeyboardButton(f"★{n}", callback_data=f"poster:{n}") for n in (3, 4, 5)]]
)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, "PNG")
    return buffer.getvalue()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets and asks for a rating with star buttons (or says which deep link started it)."""
    if context.args:
        await update.effective_message.reply_text(f"Started from a link: {context.args[0]}")
        return
    await update.effective_message.reply_html(
        "Welcome! Please rate <b>Heat</b> (1995):", reply_markup=STARS
    )


async def rate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A star button: answer the query, then replace the question with the result."""
    query = update.callback_query
    stars = query.data.partition(":")[2]
    await query.answer(f"Saved ★{stars}" if stars else "Skipped")
    text = f"You rated <b>Heat</b> ★{stars}" if stars else "Skipped <b>Heat</b>"
    await query.edit_message_text(text, parse_mode=ParseMode.HTML)


async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Thinks a while before asking a question with buttons (a reply that is still due)."""
    await asyncio.sleep(0.4)
    buttons = [InlineKeyboardButton(t, callback_data=t.lower()) for t in ("Yes", "No")]
    await update.effective_message.reply_text(
        "Ready?", reply_markup=InlineKeyboardMarkup([buttons])
    )


async def ready(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer(f"You said {update.callback_query.data}")


async def night(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group message with URL buttons: a deep link into the private chat, and a web page."""
    link = f"https://t.me/{context.bot.username}?start=night_42"
    keyboard = [
        [InlineKeyboardButton("⭐ Rate", url=link)],
        [InlineKeyboardButton("Trailer", url="https://example.com/trailer")],
    ]
    await update.effective_message.reply_text(
        "Movie night!", reply_markup=InlineKeyboardMarkup(keyboard)
    )


async def boom(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A handler that fails: python-telegram-bot logs the exception at ERROR."""
    raise RuntimeError("tinybot failed on purpose")


async def poll(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Movie-night style poll whose answers the bot hears."""
    message = await context.bot.send_poll(
        update.effective_chat.id, "Tonight?", ["Heat", "Alien"], is_anonymous=False
    )
    context.bot_data[message.poll.id] = update.effective_chat.id


async def poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reports each vote in the chat where the poll was sent."""
    answer = update.poll_answer
    chat_id = context.bot_data.get(answer.poll_id)
    if chat_id is not None:
        await context.bot.send_message(
            chat_id, f"{answer.user.first_name} voted {list(answer.option_ids)}"
        )


async def chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_photo(
        png_bytes(), caption="Your <i>taste</i>", parse_mode=ParseMode.HTML
    )


POSTER = "https://image.tmdb.org/t/p/w342/heat.jpg"


async def poster(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo sent by URL (Telegram fetches it) with a caption and star buttons."""
    await update.effective_message.reply_photo(
        POSTER, caption="<b>Heat</b> (1995)", parse_mode=ParseMode.HTML, reply_markup=POSTER_STARS
    )


async def rate_poster(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A star under the photo: its caption changes (a photo has no text to edit)."""
    query = update.callback_query
    await query.answer()
    await query.edit_message_caption(
        f"<b>Heat</b> (1995)\nYou rated it ★{query.data[-1]}", parse_mode=ParseMode.HTML
    )


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_document(
        json.dumps({"Heat": 4}).encode(), filename="ratings.json"
    )


async def admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers whether the sender is a group admin (getChatMember)."""
    member = await context.bot.get_chat_member(update.effective_chat.id, update.effective_user.id)
    await update.effective_message.reply_text(f"status: {member.status}")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"You said: {update.effective_message.text}")


async def added(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Says hello when someone adds the bot to a group."""
    change = update.my_chat_member
    if change.new_chat_member.status == "member" and change.chat.type != "private":
        await context.bot.send_message(change.chat.id, f"Hi {change.chat.title}!")


def build(settings) -> Application:
    """The tiny bot, connected the production way: token and API base URL from Settings."""
    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_url.removesuffix("/bot") + "/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("poll", poll))
    app.add_handler(CommandHandler("slow", slow))
    app.add_handler(CommandHandler("night", night))
    app.add_handler(CommandHandler("boom", boom))
    app.add_handler(CommandHandler("chart", chart))
    app.add_handler(CommandHandler("export", export))
    app.add_handler(CommandHandler("poster", poster))
    app.add_handler(CallbackQueryHandler(rate_poster, pattern=r"^poster:\d$"))
    app.add_handler(CommandHandler("admin", admin))
    app.add_handler(CallbackQueryHandler(rate, pattern=r"^(rate:\d|skip)$"))
    app.add_handler(CallbackQueryHandler(ready, pattern=r"^(yes|no)$"))
    app.add_handler(PollAnswerHandler(poll_answer))
    app.add_handler(ChatMemberHandler(added, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app
