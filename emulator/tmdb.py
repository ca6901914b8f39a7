"""A local stand-in for The Movie Database's API v3 on 127.0.0.1, for tests and benchmarks.

It serves the documented response shapes of the three calls `moviebot data enrich` makes:

- `GET /3/movie/{id}?append_to_response=credits,keywords`: the details, with `credits`
  (`cast`, `crew`) and `keywords` (`keywords`) appended when asked;
- `GET /3/find/{external_id}?external_source=imdb_id`: `movie_results` (and the empty lists
  for people, TV shows, …);
- `GET /3/search/movie?query=…&year=…`: a page of `results`, most popular first;

authenticated like TMDb (a v3 `api_key` query parameter or a v4 `Authorization: Bearer` token;
401 with TMDb's body otherwise), and seeded from a JSON file of movie details (`{"movies": […]}`,
each as `/movie/{id}?append_to_response=credits,keywords` returns it). `fail(status, times)`
makes the next calls answer 429 (with `Retry-After`) or a 5xx, as TMDb does under load (and
`recover()` ends that); `delay`
slows every answer so a client's concurrency can be seen in `max_in_flight`.

    async with TmdbStandIn.from_file("tests/data/tmdb_sample.json", api_key="k") as tmdb:
        ...  # point TMDB_API_BASE_URL at tmdb.base_url
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

PAGE_SIZE = 20
NOT_FOUND = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
BAD_KEY = {
    "success": False,
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
}
TOO_MANY = {
    "success": False,
    "status_code": 25,
    "status_message": "Your request count (41) is over the allowed limit of (40).",
}
UNAVAILABLE = {
    "success": False,
    "status_code": 43,
    "status_message": "Couldn't connect to the backend server.",
}
# What a search result or a /find result carries of a movie (no credits, no runtime).
LISTED = (
    "adult",
    "backdrop_path",
    "genre_ids",
    "id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "release_date",
    "title",
    "video",
    "vote_average",
    "vote_count",
)


def words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation: how the stand-in compares titles."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9]+", plain.replace("&", " and "))


@dataclass
class Failure:
    status: int
    times: int
    retry_after: int | None = None


@dataclass
class TmdbStandIn:
    """The stand-in server over a list of movie details (TMDb's shapes)."""

    movies: list[dict[str, Any]]
    api_key: str | None = None
    read_access_token: str | None = None
    delay: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    _failures: list[Failure] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        self.by_id = {int(m["id"]): m for m in self.movies}
        self.by_imdb = {m["imdb_id"]: m for m in self.movies if m.get("imdb_id")}
        self._words = {
            int(m["id"]): set(words(m.get("title", ""))) | set(words(m.get("original_title", "")))
            for m in self.movies
        }

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> TmdbStandIn:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["movies"], **options)

    @property
    def base_url(self) -> str:
        """What TMDB_API_BASE_URL is set to (TMDb's own is https://api.themoviedb.org/3)."""
        return f"http://{self.host}:{self.port}/3"

    def fail(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """The next `times` calls answer `status` (429 carries `Retry-After: retry_after`)."""
        self._failures.append(Failure(status, times, retry_after))

    def recover(self) -> None:
        """Forget the failures still queued: every call answers normally again."""
        self._failures.clear()

    async def start(self) -> TmdbStandIn:
        app = web.Application()
        app.router.add_get("/3/movie/{movie_id}", self._movie)
        app.router.add_get("/3/find/{external_id}", self._find)
        app.router.add_get("/3/search/movie", self._search)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.host, self.port = sock.getsockname()[:2]
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TmdbStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the calls ---------------------------------------------------------------------
    async def _movie(self, request: web.Request) -> web.Response:
        async def answer() -> web.Response:
            raw = request.match_info["movie_id"]
            movie = self.by_id.get(int(raw)) if raw.isdigit() else None
            if movie is None:
                return web.json_response(NOT_FOUND, status=404)
            appended = set(request.query.get("append_to_response", "").split(","))
            body = {k: v for k, v in movie.items() if k not in ("credits", "keywords")}
            for part in ("credits", "keywords"):
                if part in appended:
                    body[part] = movie.get(part, {})
            return web.json_response(body)

        return await self._serve(request, answer)

    async def _find(self, request: web.Request) -> web.Response:
        async def answer() -> web.Response:
            if request.query.get("external_source") != "imdb_id":
                return web.json_response(NOT_FOUND, status=404)
            movie = self.by_imdb.get(request.match_info["external_id"])
            return web.json_response(
                {
                    "movie_results": [] if movie is None else [_listed(movie)],
                    "person_results": [],
                    "tv_results": [],
                    "tv_episode_results": [],
                    "tv_season_results": [],
                }
            )

        return await self._serve(request, answer)

    async def _search(self, request: web.Request) -> web.Response:
        async def answer() -> web.Response:
            wanted = set(words(request.query.get("query", "")))
            year = request.query.get("year") or request.query.get("primary_release_year")
            hits = [
                m
                for m in self.movies
                if wanted
                and wanted <= self._words[int(m["id"])]
                and (not year or str(m.get("release_date", ""))[:4] == year)
            ]
            hits.sort(key=lambda m: -float(m.get("popularity") or 0))
            page = max(1, int(request.query.get("page", "1") or 1))
            shown = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            return web.json_response(
                {
                    "page": page,
                    "results": [_listed(m) for m in shown],
                    "total_pages": (len(hits) + PAGE_SIZE - 1) // PAGE_SIZE,
                    "total_results": len(hits),
                }
            )

        return await self._serve(request, answer)

    async def _serve(self, request: web.Request, answer: Any) -> web.Response:
        """Authenticate, count, apply the failure switches and the delay, then answer."""
        query = {k: v for k, v in request.query.items() if k != "api_key"}
        self.requests.append((request.path, query))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if not self._authorised(request):
                return web.json_response(BAD_KEY, status=401)
            if self._failures:
                failure = self._failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
                if failure.status == 429:
                    headers = {"Retry-After": str(failure.retry_after or 1)}
                    return web.json_response(TOO_MANY, status=429, headers=headers)
                return web.json_response(UNAVAILABLE, status=failure.status)
            response: web.Response = await answer()
            return response
        finally:
            self.in_flight -= 1

    def _authorised(self, request: web.Request) -> bool:
        if self.api_key is not None and request.query.get("api_key") == self.api_key:
            return True
        bearer = request.headers.get("Authorization", "")
        token = self.read_access_token
        return token is not None and bearer == f"Bearer {token}"


def _listed(movie: dict[str, Any]) -> dict[str, Any]:
    """A movie as search and /find list it."""
    listed = {k: movie.get(k) for k in LISTED if k != "genre_ids"}
    listed["genre_ids"] = [g["id"] for g in movie.get("genres", [])]
    return listed
