"""Build the Application: the one place where every handler is registered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp.web import AppRunner, TCPSite
from telegram import BotCommand, MenuButtonWebApp, Update, WebAppInfo
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
    MessageHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)

from bot import keyboards as kb
from bot import render, transport
from bot.context import BotContext
from bot.handlers import (
    account,
    admin,
    common,
    errors,
    movienight,
    onboarding,
    rate,
    recommend,
    web,
)
from bot.intake import Intake
from bot.keyboards import Action, CallbackCodec
from bot.logs import protect
from bot.processor import ChatOrder
from bot.sending import Limits, SendPolicy
from bot.services import Services, heap, open_services
from bot.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = [BotCommand(name, description) for name, description in render.COMMANDS]
PRIVATE_ONLY = [c.command for c in COMMANDS if c.command not in ("movienight", "help")]


def file_url(api_base_url: str) -> str:
    """Telegram serves files under /file/bot<token>; a self-hosted server does the same."""
    base = api_base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def build_application(
    settings: Settings,
    services: Services | None = None,
) -> Application:
    """The bot, talking to settings.api_base_url. Services are opened in post_init unless given
    (tests pass their own), and closed in post_shutdown only if we opened them."""
    token = settings.require_token()
    protect(token, *settings.secrets)
    # Typed for the rate-limited bot it may become (ExtBot's type says which limiter it has).
    builder: ApplicationBuilder[ExtBot[Any], BotContext, Any, Any, Any, JobQueue[Any]] = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.api_base_url)
        .base_file_url(file_url(settings.api_base_url))
        .context_types(ContextTypes(context=BotContext))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(ChatOrder())  # chats at once, each chat in order (bot.processor)
    )
    # The Bot API over aiohttp (bot.transport): httpx's pool costs chats at once dearly.
    builder = transport.install(builder)
    # Every call but getUpdates passes the send policy (bot.sending); rate_limit paces messages.
    limits = Limits() if settings.rate_limit else None
    builder = builder.rate_limiter(SendPolicy(settings.send_deadline, limits))
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["codec"] = CallbackCodec(token)
    if services is not None:
        app.bot_data["services"] = services
    register_handlers(app)
    return app


def buttons() -> list[tuple[Action, Callable]]:
    """Which handler answers each action of the table in bot.keyboards: every action once."""
    return [
        (kb.ONBOARDING_RATE, onboarding.rate_button),
        (kb.ONBOARDING_UNSEEN, onboarding.unseen_button),
        (kb.ONBOARDING_SKIP, onboarding.skip_button),
        (kb.ONBOARDING_DONE, onboarding.done_button),
        (kb.OPEN_CARD, rate.card_button),
        (kb.RATE, rate.star_button),
        (kb.MORE_PICKS, recommend.more_button),
        (kb.ADD_TO_WATCHLIST, recommend.watchlist_button),
        (kb.NOT_INTERESTED, recommend.dismiss_button),
        (kb.MORE_LIKE_THIS, recommend.similar_button),
        (kb.WATCHLIST_PAGE, account.page_button),
        (kb.WATCHLIST_REMOVE, account.remove_button),
        (kb.WATCHLIST_WATCHED, account.watched_button),
        (kb.FORGET_YES, account.forget_button),
        (kb.FORGET_NO, account.keep_button),
        (kb.NIGHT_JOIN, movienight.join_button),
        (kb.NIGHT_LEAVE, movienight.leave_button),
        (kb.NIGHT_PICK, movienight.pick_button),
        (kb.NIGHT_CLOSE, movienight.close_button),
        (kb.NIGHT_WATCHLIST, movienight.watchlist_button),
    ]


def register_handlers(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    command = CommandHandler
    # First, for every update: a chat that blocked or removed the bot and speaks again is back.
    app.add_handler(TypeHandler(Update, common.heard_from), group=-1)
    app.add_handlers(
        [
            command("start", onboarding.start, filters=private),
            command("help", onboarding.help_command),
            command("rate", rate.rate_command, filters=private),
            command("recommend", recommend.recommend, filters=private),
            command("similar", recommend.similar_command, filters=private),
            command("watchlist", account.watchlist, filters=private),
            command("profile", account.profile, filters=private),
            command("export", account.export, filters=private),
            command("forget", account.forget, filters=private),
            command("web", web.web_link, filters=private),
            command("retrain", admin.retrain, block=False),
            command("stats", admin.stats),
            *(
                CallbackQueryHandler(handler, pattern=action.pattern)
                for action, handler in buttons()
            ),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, rate.text_message),
        ]
    )
    register_movienight(app)
    add_fallbacks(app)
    app.add_error_handler(errors.on_error)


def register_movienight(app: Application) -> None:
    """Group movie nights: the command, its buttons, poll answers, the bot joining a group."""
    app.add_handlers(
        [
            CommandHandler("movienight", movienight.movienight, filters=filters.ChatType.GROUPS),
            CommandHandler(
                "movienight", movienight.movienight_private, filters=filters.ChatType.PRIVATE
            ),
            PollAnswerHandler(movienight.poll_answer),
            ChatMemberHandler(movienight.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER),
            # Every other command in a group: the private ones say where they work, the rest
            # what works here (after /help, /retrain and /stats, which work in groups too).
            CommandHandler(PRIVATE_ONLY, movienight.private_only, filters=filters.ChatType.GROUPS),
            MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, movienight.unknown_in_group),
        ]
    )


def add_fallbacks(app: Application) -> None:
    """Last in the group, so they see only what no other handler took: unknown commands in a
    private chat get a hint, buttons of no known kind are expired."""
    app.add_handlers(
        [
            MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, onboarding.unknown_command),
            MessageHandler(
                filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL,
                onboarding.not_text,
            ),
            CallbackQueryHandler(common.stray_button),
        ]
    )


async def _post_init(app: Application) -> None:
    if "services" not in app.bot_data:
        app.bot_data["services"] = open_services(app.bot_data["settings"])
        app.bot_data["owns_services"] = True
    services: Services = app.bot_data["services"]
    if isinstance(app.bot.rate_limiter, SendPolicy):  # no sends to chats that blocked the bot
        app.bot.rate_limiter.recipients = services.audience
    await app.bot.set_my_commands(COMMANDS)
    if services.settings.web_url:  # the Mini App, from the menu button of every private chat
        await app.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(render.OPEN_APP, WebAppInfo(services.settings.web_url))
        )
    admin.schedule_retrain(app, services.settings)
    movienight.reschedule(app)
    log.info(
        "bot @%s ready; model %s",
        app.bot.username,
        (services.model.info.get("version") if services.model else "none"),
    )


async def _post_shutdown(app: Application) -> None:
    if app.bot_data.pop("owns_services", False):
        app.bot_data.pop("services").close()


def webhook_options(settings: Settings) -> dict:
    """Where the webhook server listens and what Telegram is told. Telegram sends the secret in
    a header with every update; python-telegram-bot refuses a request without it (403)."""
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url or "").path.lstrip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": settings.webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }


class StartupError(Exception):
    """The bot cannot start; the message is one line for the person running it (no token)."""


def public_url(api_base_url: str) -> str:
    """The Bot API address for messages: without any user:password, the token as `…`."""
    parts = urlsplit(api_base_url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + "…"


async def connect(app: Application, settings: Settings) -> None:
    """`app.initialize()` (getMe) until it works: a rejected token stops at once, an unreachable
    Bot API is retried with exponential back-off (1, 2, 4 … 30 s) for settings.connect_timeout
    seconds, one log line per failed attempt. On giving up the HTTP sessions are closed."""
    try:
        await _connect(app, settings)
    except BaseException:
        await app.bot.shutdown()  # initialize opened them before getMe failed
        raise


async def _connect(app: Application, settings: Settings) -> None:
    where = public_url(settings.api_base_url)
    deadline = time.monotonic() + settings.connect_timeout
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        # A server that is not a Bot API answers HTML; python-telegram-bot logs that with a
        # traceback before raising. The one line below says it better.
        request_log = logging.getLogger("telegram.request")
        level = request_log.level
        request_log.setLevel(logging.CRITICAL)
        try:
            await app.initialize()
            return
        except InvalidToken as exc:
            answer = getattr(exc.__cause__, "message", "") or "refused"
            raise StartupError(
                f"the Bot API at {where} rejected the bot token (getMe: {answer}). Check "
                "TELEGRAM_BOT_TOKEN (a revoked token needs a new one from @BotFather) and, for a "
                "self-hosted server, TELEGRAM_API_BASE_URL."
            ) from None
        except RetryAfter as exc:
            error: Exception = exc
            after = exc.retry_after
            wait = after.total_seconds() if hasattr(after, "total_seconds") else float(after)
        except (NetworkError, TimedOut) as exc:  # TimedOut is a NetworkError; named for clarity
            error, wait = exc, delay
            delay = min(delay * 2, 30.0)
        except TelegramError as exc:
            raise StartupError(
                f"the Bot API at {where} answered getMe with an error ({exc}); check "
                "TELEGRAM_API_BASE_URL"
            ) from None
        finally:
            request_log.setLevel(level)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StartupError(
                f"cannot reach the Bot API at {where}: {attempt} attempts in "
                f"{settings.connect_timeout} s failed (last: {error}). Check the network and "
                "TELEGRAM_API_BASE_URL; MOVIEBOT_CONNECT_TIMEOUT sets how long to keep trying."
            ) from None
        wait = min(float(wait), remaining)
        log.warning(
            "cannot reach the Bot API at %s (attempt %d): %s; retrying in %.1f s",
            where,
            attempt,
            error,
            wait,
        )
        await asyncio.sleep(wait)


def run(settings: Settings) -> None:
    """Long polling, or a webhook when a public URL is configured. Connects first (see
    `connect`); raises StartupError. Updates go through the inbox (bot.intake), not PTB's
    Updater, so none is lost when the process dies."""
    app = build_application(settings)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(connect(app, settings))
        web = loop.run_until_complete(start_web(app, settings)) if settings.web else None
    except BaseException:
        loop.close()
        raise
    try:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.run_until_complete(serve(app, settings, stop))
    finally:
        if web is not None:
            loop.run_until_complete(web.stop())
        loop.close()


async def serve(app: Application, settings: Settings, stop: asyncio.Event) -> None:
    """post_init → replay the inbox → start → take updates (polling or webhook) until `stop`
    is set → stop and shut down, as run_polling does. `app` is initialized (`connect`)."""
    try:
        if app.post_init:
            await app.post_init(app)
        heap.settle()  # the services' model, catalogue and title index: out of full GC passes
        intake = Intake(app, app.bot_data["services"])
        await intake.replay()
        await app.start()
        try:
            async with taking_updates(intake, settings):
                await stop.wait()
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
        finally:
            intake.close()
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


@contextlib.asynccontextmanager
async def taking_updates(intake: Intake, settings: Settings) -> AsyncIterator[None]:
    """The webhook server (after setWebhook) or the polling task, for the block's duration."""
    bot = intake.app.bot
    if not settings.webhook_url:
        await bot.delete_webhook()
        task = asyncio.create_task(intake.poll(), name="moviebot-intake")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return
    options = webhook_options(settings)
    runner = AppRunner(intake.webhook_app(options["url_path"], settings.webhook_secret))
    await runner.setup()
    await TCPSite(runner, options["listen"], options["port"]).start()
    try:
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
        yield
    finally:
        await runner.cleanup()


async def start_web(app: Application, settings: Settings) -> Any:
    """The web app in the bot's loop, over the services post_init opens (web/server.py)."""
    from bot.handlers.web import WEB_BASE_URL
    from web.server import start

    try:
        server = await start(settings, lambda: app.bot_data.get("services"))
    except OSError as exc:
        raise StartupError(
            f"the web app cannot listen on {settings.web_listen}:{settings.web_port} "
            f"({exc.strerror or exc}); set MOVIEBOT_WEB_PORT, or MOVIEBOT_WEB=0 to turn it off"
        ) from None
    app.bot_data[WEB_BASE_URL] = server.base_url
    return server
