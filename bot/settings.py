"""All configuration, read once from the environment (and `.env`) into one frozen object."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dotenv import dotenv_values

TELEGRAM_API = "https://api.telegram.org/bot"
TMDB_API = "https://api.themoviedb.org/3"
TMDB_IMAGES = "https://image.tmdb.org/t/p/w342"
TMDB_KEYS_PAGE = "https://www.themoviedb.org/settings/api"
GROUP_STRATEGIES = ("average", "least_misery", "average_without_misery", "most_pleasure")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    token: str | None = None
    api_base_url: str = TELEGRAM_API
    db_path: Path = Path("data/moviebot.sqlite")
    data_dir: Path = Path("data")
    model_dir: Path = Path("models")
    admin_ids: frozenset[int] = frozenset()
    retrain_interval: int = 6 * 3600
    retrain_min_new_ratings: int = 50
    log_level: str = "INFO"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    group_strategy: str = "average_without_misery"
    poll_timeout: int = 3600
    rate_limit: bool = True
    connect_timeout: int = 300  # seconds `run` keeps retrying an unreachable Bot API at start
    send_deadline: int = 300  # seconds a reply is retried through flood waits and outages
    tmdb_api_key: str | None = None  # TMDb v3 API key (a query parameter)
    tmdb_read_access_token: str | None = None  # TMDb v4 read access token (a bearer token)
    tmdb_api_base_url: str = TMDB_API
    tmdb_image_base_url: str = TMDB_IMAGES  # poster URLs: this + the poster path
    web: bool = True  # serve the web app / Mini App next to the bot
    web_listen: str = "127.0.0.1"
    web_port: int = 8080
    web_url: str | None = None  # the public HTTPS address: Mini App buttons and sign-in links
    web_auth_max_age: int = 24 * 3600  # seconds a Mini App's initData stays valid

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Build settings from `environ` (default: os.environ) over the values in `env_file`.

        Real environment variables win over `.env`, as with docker and systemd.
        """
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        def integer(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None

        strategy = get("MOVIEBOT_GROUP_STRATEGY") or cls.group_strategy
        if strategy not in GROUP_STRATEGIES:
            raise SettingsError(
                f"MOVIEBOT_GROUP_STRATEGY must be one of {', '.join(GROUP_STRATEGIES)}"
            )
        webhook_url, webhook_secret = get("MOVIEBOT_WEBHOOK_URL"), get("MOVIEBOT_WEBHOOK_SECRET")
        if webhook_url and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret or ""):
            raise SettingsError(
                "MOVIEBOT_WEBHOOK_URL needs MOVIEBOT_WEBHOOK_SECRET: 1-256 characters of "
                "A-Z, a-z, 0-9, _ and - (Telegram sends it with every update)"
            )
        data_dir = Path(get("MOVIEBOT_DATA_DIR") or "data")
        web_url = (get("MOVIEBOT_WEB_URL") or "").rstrip("/") or None
        if web_url and not web_url.startswith("https://"):
            raise SettingsError(
                "MOVIEBOT_WEB_URL must be an https:// address (Telegram opens Mini Apps over "
                f"HTTPS only), got {web_url!r}"
            )
        return cls(
            token=get("TELEGRAM_BOT_TOKEN"),
            api_base_url=get("TELEGRAM_API_BASE_URL") or TELEGRAM_API,
            db_path=Path(get("MOVIEBOT_DB") or data_dir / "moviebot.sqlite"),
            data_dir=data_dir,
            model_dir=Path(get("MOVIEBOT_MODEL_DIR") or "models"),
            admin_ids=parse_admin_ids(get("MOVIEBOT_ADMIN_IDS") or ""),
            retrain_interval=integer("MOVIEBOT_RETRAIN_INTERVAL", cls.retrain_interval),
            retrain_min_new_ratings=integer(
                "MOVIEBOT_RETRAIN_MIN_NEW_RATINGS", cls.retrain_min_new_ratings
            ),
            log_level=(get("MOVIEBOT_LOG_LEVEL") or "INFO").upper(),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_listen=get("MOVIEBOT_WEBHOOK_LISTEN") or cls.webhook_listen,
            webhook_port=integer("MOVIEBOT_WEBHOOK_PORT", cls.webhook_port),
            group_strategy=strategy,
            poll_timeout=integer("MOVIEBOT_POLL_TIMEOUT", cls.poll_timeout),
            rate_limit=(get("MOVIEBOT_RATE_LIMIT") or "1") not in ("0", "false", "no"),
            connect_timeout=integer("MOVIEBOT_CONNECT_TIMEOUT", cls.connect_timeout),
            send_deadline=integer("MOVIEBOT_SEND_DEADLINE", cls.send_deadline),
            tmdb_api_key=get("TMDB_API_KEY"),
            tmdb_read_access_token=get("TMDB_READ_ACCESS_TOKEN"),
            tmdb_api_base_url=(get("TMDB_API_BASE_URL") or TMDB_API).rstrip("/"),
            tmdb_image_base_url=(get("TMDB_IMAGE_BASE_URL") or TMDB_IMAGES).rstrip("/"),
            web=(get("MOVIEBOT_WEB") or "1") not in ("0", "false", "no"),
            web_listen=get("MOVIEBOT_WEB_LISTEN") or cls.web_listen,
            web_port=integer("MOVIEBOT_WEB_PORT", cls.web_port),
            web_url=web_url,
            web_auth_max_age=integer("MOVIEBOT_WEB_AUTH_MAX_AGE", cls.web_auth_max_age),
        )

    def with_db(self, db_path: str | Path | None) -> Settings:
        """The same settings with another database file (the CLI's `--db`)."""
        return self if db_path is None else replace(self, db_path=Path(db_path))

    def require_token(self) -> str:
        if not self.token:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather, put its token in "
                ".env (see .env.example), or try the bot offline with `moviebot chat`."
            )
        return self.token

    def require_tmdb(self) -> None:
        """Refuse TMDb work without credentials, saying where to get them."""
        if not (self.tmdb_api_key or self.tmdb_read_access_token):
            raise SettingsError(
                "TMDb credentials are not set. Get a free API key at "
                f"{TMDB_KEYS_PAGE} and put it in .env as TMDB_API_KEY (v3 key) or "
                "TMDB_READ_ACCESS_TOKEN (v4 read access token); or import The Movies Dataset "
                "files offline with `moviebot data import-metadata PATH`."
            )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret no log line may carry, besides the bot token."""
        found = (self.webhook_secret, self.tmdb_api_key, self.tmdb_read_access_token)
        return tuple(s for s in found if s)


def parse_admin_ids(raw: str) -> frozenset[int]:
    """Numeric Telegram user ids, comma-separated. Usernames are refused: they can change hands."""
    ids = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        # ASCII digits ("²" is a digit to isdigit(), not to int()), few enough for an SQLite integer
        if not (part.isascii() and part.lstrip("-").isdigit()) or len(part) > 19:
            raise SettingsError(f"MOVIEBOT_ADMIN_IDS takes numeric Telegram user ids, got {part!r}")
        ids.add(int(part))
    return frozenset(ids)
