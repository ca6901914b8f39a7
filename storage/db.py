"""Open the SQLite file, set its pragmas, apply migrations, hand out connections.

Every thread gets its own connection (sqlite3 connections must not be shared across threads
without care), so the asyncio bot and the training thread can both read while WAL lets one
writer work. Writes go through `Database.write()`, a `BEGIN IMMEDIATE` transaction: the write
lock is taken at the start, so two writers queue on the busy timeout instead of failing halfway;
a lock held longer (another process) is waited out with jittered retries up to WRITE_DEADLINE_S.

`synchronous=NORMAL` in WAL mode: a commit is durable against a crash of the bot process; only a
power loss or OS crash can lose the last few transactions (never corrupt the file). That is the
usual trade for a chat bot: fsync on every rating would cost far more than it protects.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from storage import inbox

BUSY_TIMEOUT_MS = 10_000
# A write that finds the database locked (another process holds the write lock past the busy
# timeout) starts again after a random pause, until this many seconds have passed.
WRITE_DEADLINE_S = 45.0


class StorageError(Exception):
    """Base class for errors raised by `storage`."""


class SchemaTooNewError(StorageError):
    """The file was written by a newer moviebot than this one."""


class StorageUnavailable(StorageError):
    """The database cannot be written now: its file or folder is read-only, the disk is full,
    or the disk failed. What the transaction wrote was rolled back; reads may still work, and
    the same write may succeed later, so a front end says "try again later"."""


# SQLite's primary result codes (an extended code keeps its primary one in the low byte) that
# mean "cannot write here now", not a bug in our SQL.
_UNAVAILABLE_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)
_UNAVAILABLE_WORDS = ("readonly database", "disk is full", "disk i/o error", "unable to open")


def unavailable(exc: BaseException) -> bool:
    """Is this sqlite3 error a read-only file or folder, a full disk or an I/O error?"""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
        return True
    message = str(exc).lower()
    return any(words in message for words in _UNAVAILABLE_WORDS)


_V1 = """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE movies (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            year INTEGER,
            genres TEXT NOT NULL DEFAULT '',
            imdb_id TEXT,
            tmdb_id INTEGER
        );
        -- Content features of a movie: tags, people and other knowledge-graph entities.
        CREATE TABLE movie_features (
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            PRIMARY KEY (movie_id, kind, value)
        ) WITHOUT ROWID;
        -- Telegram users and data-set users live in one table, told apart by `kind`, so an
        -- imported MovieLens user 196 can never collide with Telegram user 196.
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('telegram', 'dataset')),
            external_id INTEGER NOT NULL,
            name TEXT,
            created_at INTEGER NOT NULL,
            age INTEGER,
            gender TEXT,
            occupation TEXT,
            settings TEXT NOT NULL DEFAULT '{}',
            UNIQUE (kind, external_id)
        );
        CREATE TABLE ratings (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            rating REAL NOT NULL,
            ts INTEGER NOT NULL,
            PRIMARY KEY (user_id, movie_id)
        ) WITHOUT ROWID;
        CREATE INDEX ratings_movie ON ratings (movie_id);
        CREATE TABLE dismissed (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            ts INTEGER NOT NULL,
            PRIMARY KEY (user_id, movie_id)
        ) WITHOUT ROWID;
        CREATE TABLE watchlist (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            ts INTEGER NOT NULL,
            PRIMARY KEY (user_id, movie_id)
        ) WITHOUT ROWID;
        CREATE TABLE models (
            version INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',
            counts TEXT NOT NULL DEFAULT '{}',
            timings TEXT NOT NULL DEFAULT '{}',
            ratings_seen INTEGER NOT NULL DEFAULT 0
        );
"""


_V2 = """
        CREATE TABLE groups (
            chat_id INTEGER PRIMARY KEY,
            title TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE movie_nights (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES groups(chat_id) ON DELETE CASCADE,
            starter_id INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'voting', 'closed')),
            filters TEXT NOT NULL DEFAULT '{}',
            message_id INTEGER,
            poll_id TEXT UNIQUE,
            poll_message_id INTEGER,
            winner_movie_id INTEGER,
            created_at INTEGER NOT NULL,
            closed_at INTEGER
        );
        -- At most one night that is not closed per group.
        CREATE UNIQUE INDEX movie_nights_one_open ON movie_nights (chat_id)
            WHERE status != 'closed';
        CREATE TABLE movie_night_members (
            night_id INTEGER NOT NULL REFERENCES movie_nights(id) ON DELETE CASCADE,
            telegram_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            joined_at INTEGER NOT NULL,
            PRIMARY KEY (night_id, telegram_id)
        ) WITHOUT ROWID;
        CREATE TABLE movie_night_picks (
            night_id INTEGER NOT NULL REFERENCES movie_nights(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            movie_id INTEGER NOT NULL,
            score REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (night_id, position)
        ) WITHOUT ROWID;
        CREATE TABLE movie_night_votes (
            night_id INTEGER NOT NULL REFERENCES movie_nights(id) ON DELETE CASCADE,
            telegram_id INTEGER NOT NULL,
            options TEXT NOT NULL,
            ts INTEGER NOT NULL,
            PRIMARY KEY (night_id, telegram_id)
        ) WITHOUT ROWID;
"""


# A movie night's vote ends at this Unix time (so a restarted bot re-schedules the timeout).
_V3 = """
        ALTER TABLE movie_nights ADD COLUMN vote_deadline INTEGER;
"""


# A movie night's starter may be unknown (NULL): /forget removes the starter's Telegram id and
# the night stays usable for the others (its "starter or admin" steps are then admin only).
# SQLite cannot drop a NOT NULL in place, so the table is rebuilt: `migrate` runs every script
# with foreign keys off, so dropping the old table deletes none of its members, picks or votes
# (their REFERENCES movie_nights(id) name the new table once it is renamed), and checks the
# foreign keys before it commits.
_V4 = """
        CREATE TABLE movie_nights_v4 (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES groups(chat_id) ON DELETE CASCADE,
            starter_id INTEGER,
            status TEXT NOT NULL CHECK (status IN ('open', 'voting', 'closed')),
            filters TEXT NOT NULL DEFAULT '{}',
            message_id INTEGER,
            poll_id TEXT UNIQUE,
            poll_message_id INTEGER,
            winner_movie_id INTEGER,
            created_at INTEGER NOT NULL,
            closed_at INTEGER,
            vote_deadline INTEGER
        );
        INSERT INTO movie_nights_v4 (
            id, chat_id, starter_id, status, filters, message_id, poll_id, poll_message_id,
            winner_movie_id, created_at, closed_at, vote_deadline
        )
        SELECT id, chat_id, starter_id, status, filters, message_id, poll_id, poll_message_id,
            winner_movie_id, created_at, closed_at, vote_deadline
        FROM movie_nights;
        DROP TABLE movie_nights;
        ALTER TABLE movie_nights_v4 RENAME TO movie_nights;
        CREATE UNIQUE INDEX movie_nights_one_open ON movie_nights (chat_id)
            WHERE status != 'closed';
"""


# Chats the bot can no longer write to: the person blocked the bot, or the bot was removed from
# the group (Telegram answered 403 Forbidden, or said so in a my_chat_member update). Nothing is
# sent there until an update comes from that chat again. Keyed by Telegram chat id (a private
# chat's id is the person's Telegram id), so it needs no user row.
_INACTIVE_CHATS = """
        CREATE TABLE inactive_chats (
            chat_id INTEGER PRIMARY KEY,
            since INTEGER NOT NULL,
            reason TEXT NOT NULL
        );
"""


# Movie metadata from TMDb (`moviebot data enrich` / `import-metadata`): one row per movie tried
# (`match` says how it was found, 'unmatched' when it was not, so a resumed run skips it), people
# as entities with their credits, keywords. No personal data: /forget never touches these.
_METADATA = """
        CREATE TABLE movie_metadata (
            movie_id INTEGER PRIMARY KEY REFERENCES movies(id) ON DELETE CASCADE,
            match TEXT NOT NULL
                CHECK (match IN ('tmdb_id', 'imdb_id', 'search', 'import', 'unmatched')),
            tmdb_id INTEGER,
            imdb_id TEXT,
            overview TEXT NOT NULL DEFAULT '',
            tagline TEXT NOT NULL DEFAULT '',
            runtime INTEGER,
            original_language TEXT,
            poster_path TEXT,
            backdrop_path TEXT,
            vote_average REAL,
            vote_count INTEGER,
            fetched_at INTEGER NOT NULL
        );
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,  -- the TMDb person id
            name TEXT NOT NULL
        );
        CREATE INDEX people_name ON people (name COLLATE NOCASE);
        CREATE TABLE credits (
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('director', 'cast', 'writer')),
            position INTEGER NOT NULL,  -- billing order within the role
            PRIMARY KEY (movie_id, role, person_id)
        ) WITHOUT ROWID;
        CREATE INDEX credits_person ON credits (person_id, role);
        CREATE TABLE keywords (
            id INTEGER PRIMARY KEY,  -- the TMDb keyword id
            name TEXT NOT NULL
        );
        CREATE TABLE movie_keywords (
            movie_id INTEGER NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
            keyword_id INTEGER NOT NULL REFERENCES keywords(id) ON DELETE CASCADE,
            PRIMARY KEY (movie_id, keyword_id)
        ) WITHOUT ROWID;
"""


# Web sign-in: one-time links (the /web command) and browser sessions. Only a SHA-256 of each
# token is kept, so a copy of the database signs nobody in; a row names the Telegram id it is for.
_WEB_TOKENS = """
        CREATE TABLE web_tokens (
            token_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('link', 'session')),
            telegram_id INTEGER NOT NULL,
            name TEXT,
            csrf TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX web_tokens_person ON web_tokens (telegram_id);
"""


# The update inbox (storage/inbox.py): every update Telegram handed the bot, written before its
# offset is confirmed, 'applied' with its first effect, 'done' once handled. A done row keeps no
# payload (no user text).
_INBOX = """
        CREATE TABLE inbox (
            update_id INTEGER PRIMARY KEY,
            payload TEXT NOT NULL,
            received_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'new'
                CHECK (state IN ('new', 'applied', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            done_at REAL
        );
        CREATE INDEX inbox_unfinished ON inbox (update_id) WHERE state IN ('new', 'applied');
        CREATE INDEX inbox_finished ON inbox (done_at) WHERE state IN ('done', 'failed');
"""


# Forward migrations, in order: MIGRATIONS[i] takes the schema from version i to i + 1.
# Each is a script of SQL statements; `migrate` runs it and stamps the version in one transaction,
# with foreign keys off (so a script may rebuild a table) and checked before the commit.
MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _INACTIVE_CHATS,
    _METADATA,
    _WEB_TOKENS,
    _INBOX,
)
SCHEMA_VERSION = len(MIGRATIONS)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: someone else holds the lock; worth trying again."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


class Database:
    """One SQLite database file, opened once per process and shared by every component."""

    def __init__(self, path: str | Path, *, target_version: int = SCHEMA_VERSION) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._trace: Callable[[str], object] | None = None
        if self.path == ":memory:":
            # A private in-memory database that every thread's connection sees.
            self._uri = f"file:moviebot-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            self._uri = Path(self.path).absolute().as_uri()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # The first connection stays open for the object's life: it keeps an in-memory
            # database alive and runs the migrations.
            self.migrate(target_version)
        except (OSError, sqlite3.Error) as exc:
            if isinstance(exc, sqlite3.Error) and not unavailable(exc):
                raise
            self.close()
            raise StorageUnavailable(
                f"cannot open the database {self.path}: {exc}. Is its file or folder read-only, "
                "or the disk full? (MOVIEBOT_DB or --db sets where it is)"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._all.append(conn)
            conn.set_trace_callback(self._trace)
        return conn

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Pass every SQL statement that any thread's connection runs to `callback` (None stops);
        for tests and debugging."""
        with self._lock:
            self._trace = callback
            for conn in self._all:
                conn.set_trace_callback(callback)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            # SQLite falls back to read-only when the file cannot be written (see `write`).
            self._local.read_only = self.path != ":memory:" and not os.access(self.path, os.W_OK)
        return conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement in the block sees the database as the first one
        did (WAL: writers go on meanwhile), e.g. a count and the rows it counted. Inside a
        transaction already, it is that one. Nothing may be written in the block."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            self._rollback(conn)  # it wrote nothing: ending it is all a rollback does

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Nested use joins the outer transaction (through a savepoint), so helpers that write
        can be combined into one atomic step. While an update is being handled
        (storage.inbox.handling), the outermost transaction also marks it applied in the inbox.
        A read-only file or folder, a full disk or an I/O error (SQLite's READONLY, FULL, IOERR)
        raises `StorageUnavailable` once the transaction is rolled back: nothing half-written.
        """
        conn = self.conn
        if conn.in_transaction:
            with self._savepoint(conn):
                yield conn
            return
        try:
            if getattr(self._local, "read_only", False):
                # SQLite opened it read-only (the file could not be written then) and keeps it
                # so for the connection's life: open a new one, the file may be writable now.
                self._drop(conn)
                conn = self.conn
            self._begin(conn)
            try:
                yield conn
                # The update being handled (if any) is marked applied with its effect.
                inbox.mark_applied(conn)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            raise StorageUnavailable(
                f"cannot write to the database {self.path} now ({exc}): is its file or folder "
                "read-only, or the disk full?"
            ) from exc

    def _drop(self, conn: sqlite3.Connection) -> None:
        """Close this thread's connection; its next use opens a new one."""
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        self._local.conn = None
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """Undo the open transaction, if SQLite has not already (it does after SQLITE_FULL);
        a failing disk may refuse even that, and the journal then undoes it on next open."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried with jitter while another connection or process holds the
        write lock (each try already waits the busy timeout). Nothing is written before the
        lock is ours, so a retry repeats nothing."""
        deadline = time.monotonic() + WRITE_DEADLINE_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.05, 0.5))

    @staticmethod
    @contextlib.contextmanager
    def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
        """A nested step of the current transaction: undone alone if it raises."""
        name = f"sp_{uuid.uuid4().hex}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back everything (SQLITE_FULL)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")

    def check_writable(self) -> None:
        """Raise `StorageUnavailable` unless this database can be written now (its file or
        folder is read-only): what a command that writes checks at start, before any work.
        The probe changes nothing, but SQLite refuses it as it would refuse a real write."""
        with self.write() as conn:
            conn.execute("DELETE FROM meta WHERE 0")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, target_version: int = SCHEMA_VERSION) -> None:
        """Bring the schema up to `target_version`, one forward migration at a time."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path} has schema version {current}, but this moviebot knows only up to "
                f"{SCHEMA_VERSION}. Upgrade moviebot."
            )
        conn = self.conn
        if current >= target_version:
            return
        # Outside any transaction (inside one the pragma does nothing): a rebuilt table's drop
        # must not cascade to the rows that reference it.
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for version in range(current, target_version):
                # executescript() commits anything pending and manages no transaction itself,
                # so the script carries its own BEGIN; the COMMIT follows the foreign-key check.
                try:
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\n"
                        f"PRAGMA user_version = {version + 1};"
                    )
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StorageError(
                            f"migrating {self.path} to version {version + 1} broke foreign keys: "
                            f"{broken[:5]}"
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def meta(self, *keys: str) -> dict[str, str]:
        """Several meta values in one statement; keys that are not set are left out."""
        marks = ",".join("?" * len(keys))
        return dict(self.conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys))

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        """Close every connection this object opened, in any thread."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.ProgrammingError):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
