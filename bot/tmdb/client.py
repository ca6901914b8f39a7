"""A small async client for the three TMDb v3 calls enrichment needs, over httpx.

httpx comes with python-telegram-bot and is async; the TMDb client libraries on PyPI
(tmdbsimple, tmdbv3api) are synchronous wrappers over requests without rate-limit handling, so
they would add a dependency and still need this module's retry loop. Here:

- authentication by a v3 API key (the `api_key` query parameter) or a v4 read access token
  (`Authorization: Bearer`); neither ever reaches a log line (`bot.logs` redacts both, and
  errors name the path, never the URL with its query);
- at most `concurrency` requests in flight (TMDb allows about 40 a second per address; 8 at
  a time stays well under it);
- 429 → wait what `Retry-After` says (capped), then try again; 5xx and network errors → back
  off exponentially; both bounded by `retries`, after which `TmdbUnavailableError` stops the
  run (what was fetched stays stored);
- 401 → `TmdbAuthError` at once; 404 → None.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

DETAILS_APPENDED = "credits,keywords"
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is waited this long, then retried
Sleep = Callable[[float], Awaitable[None]]


class TmdbError(Exception):
    """TMDb could not be used; the message says why, without any credential."""


class TmdbAuthError(TmdbError):
    """TMDb refused the key or token."""


class TmdbUnavailableError(TmdbError):
    """TMDb kept failing (rate limits, server errors or the network) after every retry."""


class TmdbClient:
    """`details`, `find_imdb` and `search_movie`, with bounded concurrency and retries."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        read_access_token: str | None = None,
        concurrency: int = 8,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 20.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not (api_key or read_access_token):
            raise TmdbAuthError("a TMDb API key or read access token is needed")
        headers = {"Accept": "application/json"}
        if read_access_token:
            headers["Authorization"] = f"Bearer {read_access_token}"
        self._key = None if read_access_token else api_key
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self.waited = 0.0  # seconds spent waiting on 429s and back-off, for the summary

    async def details(self, tmdb_id: int) -> dict[str, Any] | None:
        """A movie's details with its credits and keywords, in one request; None if unknown."""
        return await self._get(f"movie/{int(tmdb_id)}", {"append_to_response": DETAILS_APPENDED})

    async def find_imdb(self, imdb_id: str) -> list[dict[str, Any]]:
        """The movies TMDb lists under this IMDb id ("tt0113277")."""
        found = await self._get(f"find/{imdb_id}", {"external_source": "imdb_id"})
        return list((found or {}).get("movie_results") or [])

    async def search_movie(self, query: str, year: int | None = None) -> list[dict[str, Any]]:
        """The first page of TMDb's title search, most relevant first; `year` narrows it."""
        params: dict[str, str] = {"query": query, "include_adult": "false"}
        if year:
            params["year"] = str(year)
        found = await self._get("search/movie", params)
        return list((found or {}).get("results") or [])

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        query = dict(params) | ({"api_key": self._key} if self._key else {})
        for attempt in range(self._retries + 1):
            async with self._slots:
                try:
                    response = await self._http.get(path, params=query)
                except httpx.TransportError as exc:
                    why = f"{type(exc).__name__} on {path}"
                    response = None
            if response is not None:
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                if response.status_code == 404:
                    return None
                if response.status_code == 401:
                    raise TmdbAuthError(
                        "TMDb refused the credentials (401): check TMDB_API_KEY or "
                        "TMDB_READ_ACCESS_TOKEN"
                    )
                if response.status_code != 429 and response.status_code < 500:
                    raise TmdbError(f"TMDb answered {response.status_code} to {path}")
                why = f"{response.status_code} on {path}"
            if attempt == self._retries:
                break
            wait = self._wait(response, attempt)
            log.warning("TMDb: %s; retry %d/%d in %.1f s", why, attempt + 1, self._retries, wait)
            self.waited += wait
            await self._sleep(wait)
        raise TmdbUnavailableError(f"TMDb kept failing ({why}) after {self._retries} retries")

    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        """Retry-After on a 429 (seconds; TMDb sends whole seconds), else exponential back-off."""
        if response is not None and response.status_code == 429:
            try:
                asked = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                asked = 1.0
            return min(max(asked, 0.0), MAX_RETRY_AFTER)
        return float(self._backoff * 2**attempt)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> TmdbClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
