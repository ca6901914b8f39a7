"""The Bot API's HTTP client on aiohttp: python-telegram-bot's `BaseRequest`, which it documents
as the way to plug in another HTTP library.

python-telegram-bot's own `HTTPXRequest` is correct but costly for a bot that answers many
chats at once: httpx's connection pool checks every idle pooled connection (`getpeername` and a
`poll`) on each request, so with 20 chats in flight every Bot API call walks ~19 connections,
and the event loop spends more on the HTTP exchange than on the bot. On the same emulator an
echo bot answering 20 chats at once ran 234–511 updates/s over httpx and 928–1,727/s over this
class (`bench/scale.py --steps bot`: "echo_at_once_*" and "echo_aiohttp_*", docs/benchmarks.md).
aiohttp is already the web app's server and the webhook's.

Behaviour kept from `HTTPXRequest`: the same defaults (a pool of 256, 5 s to connect, read and
write, 1 s to wait for a pooled connection, 20 s to write an upload), multipart forms for
uploads, certificates checked against certifi's CA bundle, proxies
from the environment (`HTTPS_PROXY`, `NO_PROXY`: read once per host, not on every call as
aiohttp's `trust_env` does, in a worker thread), and its errors: `TimedOut` for a timeout,
`NetworkError` for anything else on the wire, naming the aiohttp error but never the URL (it
carries the token).

Other calls go as one JSON body (`application/json`, which the Bot API takes for everything but
uploads) rather than HTTPXRequest's urlencoded form: a form JSON-encodes each nested value and
then percent-encodes the whole in Python: a movie card's sendMessage (13 buttons) cost 885–912
µs of client CPU as a form against 640–685 µs as JSON (`bench/transport_bench.py`;
docs/benchmarks.md, "Bot API calls as one JSON body").

aiohttp has no separate write timeout: a request is bounded by the sum of its phases'
timeouts (pool wait + connect + write + read), and each read by the read timeout.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, RequestData

Builder = TypeVar("Builder", bound=ApplicationBuilder[Any, Any, Any, Any, Any, Any])


def install(builder: Builder) -> Builder:
    """`builder` with its bot's HTTP clients on aiohttp: one for the calls, one connection for
    getUpdates (python-telegram-bot's own split)."""
    return builder.request(AiohttpRequest()).get_updates_request(
        AiohttpRequest(connection_pool_size=1)
    )


@functools.cache
def _trusted() -> ssl.SSLContext:
    """Certificates verified against certifi's CA bundle, as httpx does (a slim image without
    the system's CA certificates still reaches api.telegram.org): read once for every client
    of the process, as reading the bundle takes 25–40 ms."""
    return ssl.create_default_context(cafile=certifi.where())


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a pool of `connection_pool_size` connections."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._size, ssl=_trusted()),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
        write = _given(write_timeout, self._media_write if files else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        phases = (pool, connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in phases else sum(p for p in phases if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | None = None
        body: dict[str, Any] | None = None  # everything but an upload: one JSON body
        if request_data is not None:
            if files:
                data = _form(request_data)
            else:
                body = request_data.parameters
        try:
            proxy = self._proxy(url)
            async with self._session.request(
                method, url, data=data, json=body, timeout=timeout, proxy=proxy
            ) as res:
                return res.status, await res.read()
        except TimeoutError as err:  # asyncio's and aiohttp's timeouts both are TimeoutError
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class name says what failed; str(err) of a few aiohttp errors holds the URL.
            raise NetworkError(f"aiohttp.{err.__class__.__name__}") from err

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for url's scheme and host (as httpx reads it), or None."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(key[1])
            proxies = urllib.request.getproxies()
            self._proxies[key] = None if bypass else proxies.get(key[0])
        return self._proxies[key]


def _form(request_data: RequestData) -> aiohttp.FormData:
    """The parameters and the files as one multipart form, as Telegram takes uploads."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
