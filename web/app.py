"""The aiohttp application: routes, the session and CSRF checks, error pages, templates.

Every page handler (web.views) is parse → one service call (through `call`) → template, as the
Telegram handlers are. Who is asking comes from the session cookie, never from the URL, so the
only ids a URL carries are the catalogue's movies and movie nights (checked for membership).
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from markupsafe import Markup

from bot import render
from bot.services import Services
from bot.services.web import Session
from bot.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVICES: web.AppKey[Callable[[], Services | None]] = web.AppKey("services")
SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")  # from their cookie
SESSION_COOKIE = "moviebot_session"
MAX_BODY = 64 * 1024  # a form of ours is a few hundred bytes
# Reachable without a session: the sign-in steps, the static files, the bench's "hello".
PUBLIC = ("/hello", "/static/", "/signin", "/auth/telegram", "/favicon.ico")
# State-changing requests that have no session yet: the link or initData proves who it is.
NO_CSRF = ("/signin", "/auth/telegram")


async def call(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a service call off the event loop, on the services' own thread pool (`Services.call`,
    the one the bot's update processor uses): both front ends share its workers and each
    worker's database connection."""
    return await services(request).call(fn, *args)


def services(request: web.Request) -> Services:
    """The bot's services (the same object the Telegram handlers use); 503 until they open."""
    opened = request.app[SERVICES]()
    if opened is None:
        raise web.HTTPServiceUnavailable(text="Starting up: try again in a moment.")
    return opened


def session(request: web.Request) -> Session:
    """The signed-in person's session (the auth middleware let the request through)."""
    found = request.get(SESSION)
    if found is None:
        raise web.HTTPUnauthorized()
    return found


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A template rendered for this request, as HTML."""
    settings = request.app[SETTINGS]
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            session=request.get(SESSION),
            path=request.path,
            public_url=settings.web_url,
            **context,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html")


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/auth/telegram"


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    """A clear 4xx/5xx answer: JSON for the API, a page for everything else."""
    if wants_json(request):
        return web.json_response({"error": message}, status=status)
    response = page(request, "error.html", status=status, status_code=status, message=message)
    if status == 401:  # the page signs a Mini App in by itself (see app.js)
        response.headers["WWW-Authenticate"] = 'Cookie realm="moviebot"'
    return response


MESSAGES = {
    400: "That request did not make sense to us.",
    401: "Please sign in: send /web to the bot in Telegram for a sign-in link.",
    403: "That is not allowed.",
    404: "There is nothing here.",
    405: "That is not something this page does.",
    413: "That is far more than any form of ours sends.",
}


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP errors become pages (or JSON) that say what happened; a bug is logged with the
    route (never the query, which may hold a sign-in token) and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        return error_response(request, exc.status, text or MESSAGES.get(exc.status, exc.reason))
    except Exception:
        log.exception("web: %s %s failed", request.method, request.path)
        return error_response(request, 500, "Something went wrong on our side; try again.")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking, from the session cookie; 401 for a private page without one."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        web_access = services(request).web
        found = web_access.remembered(token)  # in memory: no worker, no database
        if found is None:
            found = await call(request, web_access.session, token)
        request[SESSION] = found
    if request.get(SESSION) is None and not request.path.startswith(PUBLIC):
        raise web.HTTPUnauthorized()
    return await handler(request)


@web.middleware
async def protect(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSRF: every state-changing request carries the session's token (a form field or the
    X-CSRF-Token header); the sign-in steps, which have no session yet, must come from here."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    if request.path in NO_CSRF:
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="That request came from another site.")
        return await handler(request)
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type == "application/x-www-form-urlencoded":
        sent = str((await request.post()).get("csrf", ""))
    if not hmac.compare_digest(sent.encode(), session(request).csrf.encode()):
        raise web.HTTPForbidden(text="This form has expired: reload the page and try again.")
    return await handler(request)


class AccessLog(AbstractAccessLogger):
    """One line per request: method, path, status, time. No query string (sign-in tokens
    travel in it) and no client address (a person's, in a log)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %s %.1f ms", request.method, request.path, response.status, time * 1000
        )


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a poster the catalogue lacks is just absent
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are package files: no stat() of each on every page
    )
    # The helpers are filters (`{{ movie | label }}`): Jinja calls a filter directly, a global
    # function through its context (several times the cost, on every pick of every page).
    env.filters.update(
        display_title=render.display_title,
        label=render.label,
        stars=render.stars,
        # render's texts are escaped HTML already: the chat and the web word reasons alike.
        reason=lambda pick, filtered=False: Markup(render.pick_reason(pick, filtered)),
        group_reason=lambda reason: Markup(render.group_reason(reason)),
    )
    # The markup every list repeats, made once: a movie's heading and poster, a filter's
    # options. Each macro is a pure function of hashable values (a Movie is frozen), so a page
    # of picks costs a lookup per movie instead of a dozen escapes (docs/web.md, "Speed").
    macros = env.get_template("macros.html").module
    for name, size in (("movie_head", 4096), ("poster", 4096), ("options", 256)):
        env.filters[name] = functools.lru_cache(maxsize=size)(getattr(macros, name))
    for name in env.list_templates():  # compiled now, not on the event loop at a first visit
        env.get_template(name)
    return env


def build_app(settings: Settings, get_services: Callable[[], Services | None]) -> web.Application:
    """The web app over the bot's services (`get_services`: they may open after the server)."""
    from web import views

    app = web.Application(middlewares=[errors, authenticate, protect], client_max_size=MAX_BODY)
    app[SERVICES] = get_services
    app[SETTINGS] = settings
    app[TEMPLATES] = templates()
    views.add_routes(app)
    return app
