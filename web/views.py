"""The pages: each handler parses the request, makes one service call and renders a template
(or redirects after a change, so a reload never sends a form twice)."""

from __future__ import annotations

import time

from aiohttp import web

from bot import render
from bot.services.movienight import NightView
from bot.services.people import Person
from bot.services.web import Session
from web import auth, charts, forms
from web.app import SESSION, SESSION_COOKIE, SETTINGS, call, page, services, session

PICKS_PER_PAGE = 10
routes = web.RouteTableDef()
MOVIE = "/movie/{movie:[0-9]{1,9}}"


def add_routes(app: web.Application) -> None:
    app.add_routes(routes)
    app.router.add_static("/static", forms.STATIC, name="static")


def person(request: web.Request) -> Person:
    return session(request).person


def done(request: web.Request, fallback: str) -> web.HTTPSeeOther:
    """Back to where the form came from (a path of ours), or `fallback`."""
    return web.HTTPSeeOther(forms.local_path(request.query.get("next"), fallback))


# -- signing in and out ----------------------------------------------------------------------


@routes.get("/hello")
async def hello(request: web.Request) -> web.Response:
    """A static answer: the floor the bench measures the pages against."""
    return web.Response(text="hello")


@routes.get("/signin")
async def signin_page(request: web.Request) -> web.Response:
    """The link from /web: a button that redeems it (link previews fetch pages, not forms)."""
    token = request.query.get("t", "")
    if not token or len(token) > 200:
        raise web.HTTPBadRequest(text="This sign-in link is incomplete: send /web again.")
    return page(request, "signin.html", token=token)


@routes.post("/signin")
async def signin(request: web.Request) -> web.StreamResponse:
    """Redeem a one-time link: a session cookie, and off to the picks."""
    token = str((await forms.form(request)).get("t", ""))
    opened = await call(request, services(request).web.redeem, token)
    if opened is None:
        raise web.HTTPUnauthorized(
            text="This sign-in link was used already or has expired: send /web to the bot "
            "for a new one."
        )
    response = web.HTTPSeeOther("/")
    set_cookie(request, response, opened, mini_app=False)
    raise response


@routes.post("/auth/telegram")
async def telegram_sign_in(request: web.Request) -> web.Response:
    """A Mini App: Telegram's initData, checked as Telegram documents it → a session."""
    settings = request.app[SETTINGS]
    init_data = str((await forms.form(request)).get("init_data", ""))
    try:
        user = auth.validate(
            init_data, settings.require_token(), now=time.time(), max_age=settings.web_auth_max_age
        )
    except auth.InitDataError as exc:
        raise web.HTTPUnauthorized(text=f"Telegram's sign-in data was refused ({exc}).") from None
    opened = await call(request, services(request).web.open_session, forms.person_of(user))
    response = web.json_response({"ok": True, "name": user.first_name})
    set_cookie(request, response, opened, mini_app=True)
    return response


def set_cookie(
    request: web.Request, response: web.StreamResponse, opened: Session, mini_app: bool
) -> None:
    """HttpOnly; Secure over HTTPS; SameSite=Lax, or None for a Mini App over HTTPS (Telegram's
    web clients show it in a frame of their own site)."""
    secure = request.secure or bool(request.app[SETTINGS].web_url)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=max(opened.expires_at - int(time.time()), 0),
        httponly=True,
        secure=secure,
        samesite="None" if mini_app and secure else "Lax",
        path="/",
    )


@routes.post("/signout")
async def signout(request: web.Request) -> web.StreamResponse:
    await call(request, services(request).web.sign_out, session(request).token)
    response = page(request, "signed_out.html")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- finding and rating ----------------------------------------------------------------------


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    """Newcomers start with onboarding; everyone else with their picks."""
    rated = await call(request, services(request).onboarding.rated, person(request))
    raise web.HTTPSeeOther("/picks" if rated else "/start")


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    query = forms.query(request)
    found = await call(request, services(request).catalog.search, query, 10) if query else None
    return page(request, "search.html", query=query, found=found)


@routes.get("/api/search")
async def search_api(request: web.Request) -> web.Response:
    """Results as you type: the same fuzzy title search as the chat's."""
    query = forms.query(request)
    found = await call(request, services(request).catalog.search, query, 8)
    return web.json_response(forms.found_json(found))


@routes.get(MOVIE)
async def movie(request: web.Request) -> web.Response:
    movie_id = int(request.match_info["movie"])
    card = await call(request, services(request).catalog.card, person(request), movie_id)
    if card is None:
        raise web.HTTPNotFound(text=render.NOT_FOUND)
    return page(request, "movie.html", card=card, steps=forms.steps(card.scale))


@routes.post(MOVIE + "/rate")
async def rate(request: web.Request) -> web.StreamResponse:
    movie_id = int(request.match_info["movie"])
    half_stars = forms.half_stars(await forms.form(request))
    rated = await call(
        request, services(request).feedback.rate, person(request), movie_id, half_stars
    )
    forms.refuse(rated)
    raise done(request, f"/movie/{movie_id}")


@routes.post(MOVIE + "/watchlist")
async def add_to_watchlist(request: web.Request) -> web.StreamResponse:
    movie_id = int(request.match_info["movie"])
    forms.refuse(await call(request, services(request).watchlist.add, person(request), movie_id))
    raise done(request, f"/movie/{movie_id}")


@routes.post(MOVIE + "/unwatch")
async def remove_from_watchlist(request: web.Request) -> web.StreamResponse:
    movie_id = int(request.match_info["movie"])
    await call(request, services(request).watchlist.remove, person(request), movie_id)
    raise done(request, "/watchlist")


@routes.post(MOVIE + "/dismiss")
async def dismiss(request: web.Request) -> web.StreamResponse:
    movie_id = int(request.match_info["movie"])
    forms.refuse(await call(request, services(request).feedback.dismiss, person(request), movie_id))
    raise done(request, f"/movie/{movie_id}")


@routes.get(MOVIE + "/similar")
async def similar(request: web.Request) -> web.Response:
    movie_id = int(request.match_info["movie"])
    alike = await call(request, services(request).picks.similar, person(request), movie_id, 10)
    if alike.seed is None:
        raise web.HTTPNotFound(text=render.NOT_FOUND)
    return page(request, "similar.html", similar=alike)


# -- onboarding and picks --------------------------------------------------------------------


@routes.get("/start")
async def start(request: web.Request) -> web.Response:
    """The newcomer's cards, one at a time (the chat's onboarding)."""
    question = await call(request, services(request).onboarding.question, person(request))
    steps = forms.steps(question.scale) if question else ()
    return page(request, "start.html", question=question, steps=steps, goal=render.ONBOARDING_GOAL)


@routes.post("/start/{movie:[0-9]{1,9}}/{answer:rate|unseen|skip}")
async def answer(request: web.Request) -> web.StreamResponse:
    """A star, "Haven't seen" or "Skip" on an onboarding card; then the next card."""
    movie_id, said = int(request.match_info["movie"]), request.match_info["answer"]
    onboarding, who = services(request).onboarding, person(request)
    if said == "rate":
        half_stars = forms.half_stars(await forms.form(request))
        forms.refuse(await call(request, onboarding.rate, who, movie_id, half_stars))
    else:
        await call(
            request, onboarding.unseen if said == "unseen" else onboarding.skip, who, movie_id
        )
    raise web.HTTPSeeOther("/start")


@routes.get("/picks")
async def picks(request: web.Request) -> web.Response:
    """Picks with their reasons, filtered by genre and decade, a page at a time."""
    svc = services(request)
    genres, about = svc.catalog.genres(), svc.catalog.about()  # in memory: no worker needed
    wanted, number = forms.picks_request(request, genres, PICKS_PER_PAGE)
    shown = await call(
        request, svc.picks.recommend, person(request), wanted, number * PICKS_PER_PAGE
    )
    return page(
        request,
        "picks.html",
        picks=shown,
        number=number,
        genres=genres,
        decades=forms.decades(about),
        genre=wanted.genre_names(genres)[0] if wanted.genres else "",
        decade=wanted.decade,
    )


# -- the person's lists and data --------------------------------------------------------------


@routes.get("/watchlist")
async def watchlist(request: web.Request) -> web.Response:
    number = forms.page_number(request)
    listed = await call(request, services(request).watchlist.page, person(request), number)
    return page(request, "watchlist.html", listed=listed)


@routes.get("/dismissed")
async def dismissed(request: web.Request) -> web.Response:
    listed = await call(request, services(request).watchlist.not_interested, person(request))
    return page(request, "dismissed.html", movies=listed)


@routes.get("/profile")
async def profile(request: web.Request) -> web.Response:
    summary = await call(request, services(request).account.summary, person(request))
    return page(request, "profile.html", summary=summary, chart=charts.histogram(summary))


@routes.get("/export.csv")
async def export(request: web.Request) -> web.Response:
    data = await call(request, services(request).account.export, person(request))
    return web.Response(
        body=data,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{render.EXPORT_FILE}"'},
    )


@routes.get("/forget")
async def forget_page(request: web.Request) -> web.Response:
    return page(request, "forget.html")


@routes.post("/forget")
async def forget(request: web.Request) -> web.StreamResponse:
    """Delete the person and everything of theirs; every browser of theirs is signed out."""
    if (await forms.form(request)).get("confirm") != "yes":
        raise web.HTTPBadRequest(text="Tick the box to confirm, or go back: nothing was deleted.")
    await call(request, services(request).account.forget, person(request))
    request[SESSION] = None
    response = page(request, "forgotten.html")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- movie nights ----------------------------------------------------------------------------


@routes.get("/nights")
async def nights(request: web.Request) -> web.Response:
    mine = await call(request, services(request).nights.nights_of, person(request).telegram_id)
    return page(request, "nights.html", nights=mine)


async def my_night(request: web.Request) -> NightView | None:
    """The night the path names, if the person asking is in it."""
    night_id, asking = int(request.match_info["night"]), person(request).telegram_id
    return await call(request, services(request).nights.for_member, night_id, asking)


@routes.get("/nights/{night:[0-9]{1,12}}")
async def night(request: web.Request) -> web.Response:
    """A night's members, picks and votes: for the people in it only (404 for anyone else)."""
    shown = await my_night(request)
    if shown is None:
        raise web.HTTPNotFound(text="No movie night of yours has that number.")
    title = await call(request, services(request).nights.group_title, shown.chat_id)
    return page(request, "night.html", night=shown, group=title)


@routes.get("/api/nights/{night:[0-9]{1,12}}")
async def night_votes(request: web.Request) -> web.Response:
    """The live vote count the night page refreshes."""
    shown = await my_night(request)
    if shown is None:
        raise web.HTTPNotFound(text="no such movie night of yours")
    return web.json_response(forms.night_json(shown))
