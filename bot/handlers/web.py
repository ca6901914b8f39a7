"""/web: a one-time link that signs the person in to the web app in a browser."""

from __future__ import annotations

from urllib.parse import quote

from telegram import Update

from bot import render
from bot.context import BotContext
from bot.handlers.common import caller, reply
from bot.services.web import LINK_SECONDS

WEB_BASE_URL = "web_base_url"  # bot_data: where the running web server is reached


async def web_link(update: Update, context: BotContext) -> None:
    """/web: the link (the server that started the web app says where it is)."""
    base = context.bot_data.get(WEB_BASE_URL)
    if not base:
        await reply(update, render.WEB_OFF)
        return
    token = await context.services.call(context.services.web.link_token, caller(update))
    link = f"{base.rstrip('/')}/signin?t={quote(token)}"
    await reply(update, render.web_link(link, LINK_SECONDS // 60))
