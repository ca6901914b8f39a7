"""Signing in to the web app: one-time links from the /web command, and browser sessions.

A link's token is `<telegram id>.<random>.<signature>`: the signature (an HMAC with a key
derived from the bot token) refuses a forged or altered link before the database is asked, and
the id binds it to one person. Storage keeps only a hash of each token, marks a link used when
it is redeemed (once), and forgets it after `LINK_SECONDS`. A session carries its own CSRF
token, which every state-changing request must echo.

Every page asks for its session, and sessions change only at sign-in, sign-out and /forget, so
the sessions read lately are remembered in memory (`remembered`, a lookup the event loop makes
without a worker or the database): sign-out and /forget drop them at once; one removed by
another process is noticed within `REMEMBER_SECONDS`; an expired one is never served.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.services.people import Person
from storage import web_tokens
from storage.db import Database

LINK_SECONDS = 10 * 60
SESSION_SECONDS = 30 * 24 * 3600
MAX_TOKEN = 200  # longer is not one of ours: refused unread
REMEMBER_SECONDS = 60  # a remembered session is read from the database again after this
REMEMBERED = 10_000  # sessions remembered at most (the oldest go first)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, the cookie's value, and the token its forms carry."""

    person: Person
    token: str
    csrf: str
    expires_at: int


class WebAccess:
    def __init__(
        self, db: Database, secret: str | None, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        # Without a bot token (tests, tools) links are signed with a key of this process only.
        seed = secret.encode() if secret else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"moviebot-web-link:" + seed).digest()
        self._clock = clock
        # token → (session, trusted until): written under the lock, read without it.
        self._recent: dict[str, tuple[Session, int]] = {}
        self._lock = threading.Lock()

    def _now(self) -> int:
        return int(self._clock())

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def link_token(self, person: Person) -> str:
        """A sign-in token for this person: valid for LINK_SECONDS, once."""
        body = f"{person.telegram_id}.{secrets.token_urlsafe(24)}"
        token = f"{body}.{self._sign(body)}"
        now = self._now()
        web_tokens.add(
            self._db,
            "link",
            token,
            person.telegram_id,
            person.name,
            now=now,
            expires_at=now + LINK_SECONDS,
        )
        return token

    def redeem(self, token: str) -> Session | None:
        """A new session for the link's person; None for a forged, used or expired link."""
        if len(token) > MAX_TOKEN:
            return None
        body, _, signature = token.rpartition(".")
        owner = body.partition(".")[0]
        if not owner.isdigit() or not hmac.compare_digest(signature, self._sign(body)):
            return None
        link = web_tokens.redeem_link(self._db, token, now=self._now())
        if link is None or link.telegram_id != int(owner):
            return None
        return self.open_session(Person(link.telegram_id, link.name))

    def open_session(self, person: Person) -> Session:
        """A session for someone whose identity the caller checked (a link, Telegram's
        initData)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self._now()
        expires = now + SESSION_SECONDS
        web_tokens.add(
            self._db,
            "session",
            token,
            person.telegram_id,
            person.name,
            now=now,
            expires_at=expires,
            csrf=csrf,
        )
        return Session(person, token, csrf, expires)

    def remembered(self, token: str) -> Session | None:
        """The session this cookie names if it was read lately and still lasts; None means
        "ask `session`", not "signed out". No database read: the event loop may call it."""
        found = self._recent.get(token)
        if found is None or found[1] <= self._now():
            return None
        return found[0]

    def session(self, token: str) -> Session | None:
        """The signed-in person this cookie names, while the session lasts."""
        if not token or len(token) > MAX_TOKEN:
            return None
        # Read and remembered under the lock, so a sign-out or /forget (which drops what is
        # remembered under it, after its own write) cannot be overtaken by a stale read.
        with self._lock:
            now = self._now()
            found = web_tokens.session(self._db, token, now=now)
            if found is None:
                self._recent.pop(token, None)
                return None
            person = Person(found.telegram_id, found.name)
            session = Session(person, token, found.csrf, found.expires_at)
            if len(self._recent) >= REMEMBERED:
                del self._recent[next(iter(self._recent))]
            self._recent[token] = (session, min(found.expires_at, now + REMEMBER_SECONDS))
        return session

    def sign_out(self, token: str) -> None:
        web_tokens.remove(self._db, token)
        with self._lock:
            self._recent.pop(token, None)

    def forgotten(self, person: Person) -> None:
        """Drop this person's remembered sessions: their rows are deleted (/forget)."""
        with self._lock:
            for token, (session, _) in list(self._recent.items()):
                if session.person.telegram_id == person.telegram_id:
                    del self._recent[token]
