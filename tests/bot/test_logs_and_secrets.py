"""`moviebot run` as a person runs it (a subprocess), against the emulator: no secret and nothing
a user wrote in any output at any level; one clear line when the token is rejected or Telegram
is unreachable; one line per 409 Conflict."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bot.logs import protect
from bot.settings import Settings
from emulator.server import Emulator

WEBHOOK_SECRET = "hook-Secret_4242-never-logged"
# What a user types: its first word too must never reach the log.
USER_TEXT = "Zanzibarian heat 1995"
LIMIT = 40.0  # seconds any one run may take


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(world: Settings, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MOVIEBOT_"))}
    env.update(
        OPENBLAS_NUM_THREADS="1",
        MOVIEBOT_DB=str(world.db_path),
        MOVIEBOT_MODEL_DIR=str(world.model_dir),
        MOVIEBOT_RETRAIN_INTERVAL="0",
        MOVIEBOT_RATE_LIMIT="0",
        MOVIEBOT_WEB_PORT=str(free_port()),  # the web app runs too, on a port of its own
    )
    env.update(changes)
    return env


class Run:
    """`moviebot run` in a subprocess, its stdout and stderr going to files."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.out, self.err = folder / f"out-{id(self)}", folder / f"err-{id(self)}"
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Run:
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self.env,
                cwd=self.out.parent,
                stdout=out,
                stderr=err,
            )
        return self

    async def wait(self, timeout: float = LIMIT) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            message = f"moviebot run did not end in {timeout} s:\n{self.output}"
            raise AssertionError(message) from None

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.wait()

    @property
    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.err.read_text().splitlines() if line.strip()]


async def run_to_end(folder: Path, env: dict[str, str]) -> Run:
    run = await Run(folder, env).start()
    await run.wait()
    return run


async def until(condition, what: str, run: Run, timeout: float = LIMIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or (run.process and run.process.returncode is not None):
            raise AssertionError(f"never {what}:\n{run.output}")
        await asyncio.sleep(0.1)


def leaks(text: str, token: str) -> list[str]:
    forbidden = [token, token.split(":", 1)[1], quote(token, safe=""), WEBHOOK_SECRET]
    forbidden += [USER_TEXT, USER_TEXT.split()[0]]
    return [f for f in forbidden if f in text]


async def test_at_debug_no_output_carries_the_token_the_webhook_secret_or_what_users_typed(
    emulator: Emulator, world: Settings, tmp_path: Path
):
    env = environment(
        world,
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        MOVIEBOT_LOG_LEVEL="DEBUG",
    )
    outputs: list[str] = []
    # 1. getMe answers 401: the token is refused.
    emulator.faults.fail_next(1, "getMe", status=401)
    refused = await run_to_end(tmp_path, env)
    assert refused.process and refused.process.returncode == 1
    outputs.append(refused.output)

    # 2. Long polling; a handler fails on a user's text (its sendMessage answers 400).
    polling = await Run(tmp_path, env).start()
    try:
        await until(lambda: emulator.api.polling.active > 0, "polled", polling)
        alice = emulator.user("Alice")
        emulator.faults.fail_next(1, "sendMessage", status=400)
        await alice.send(USER_TEXT)
        # A 400 is a bug of ours: one error line naming the method, Telegram's words, the update.
        await until(lambda: "Bad Request" in polling.output, "logged the error", polling)
        # The send policy's faults: two flood waits, a 502 and a closed connection, then 403.
        emulator.faults.flood("sendMessage", retry_after=1, n=2)
        emulator.faults.fail_next(1, "sendMessage", status=502)
        emulator.faults.drop_next(1, "sendMessage")
        await alice.send(USER_TEXT)
        await until(lambda: not emulator.faults.rules, "sent through the faults", polling)
        emulator.faults.blocked(alice.id, n=1)
        await alice.send(USER_TEXT)
        await until(lambda: "inactive now" in polling.output, "marked Alice inactive", polling)
    finally:
        await polling.stop()
    outputs.append(polling.output)
    assert "text message" in polling.output  # the kind of update, instead of its words

    # 3. Webhook mode with a secret; an update with the user's text comes in over HTTP.
    port = free_port()
    hook = {
        "MOVIEBOT_WEBHOOK_URL": "https://bot.example.org/telegram/hook",
        "MOVIEBOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MOVIEBOT_WEBHOOK_LISTEN": "127.0.0.1",
        "MOVIEBOT_WEBHOOK_PORT": str(port),
    }
    webhook = await Run(tmp_path, {**env, **hook}).start()
    try:
        await until(lambda: bool(emulator.api.webhook_url), "set its webhook", webhook)
        bob = emulator.user("Bob")
        message = emulator.world.add_message(bob.chat, bob.account, text=f"/rate {USER_TEXT}")
        update = {"update_id": 7, "message": message.to_dict()}
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        url = f"http://127.0.0.1:{port}/telegram/hook"
        deadline = time.monotonic() + LIMIT
        async with aiohttp.ClientSession() as http:
            while True:  # until the webhook server listens
                try:
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    assert time.monotonic() < deadline, webhook.output
                    await asyncio.sleep(0.2)
        await bob.next_message(timeout=LIMIT)
    finally:
        await webhook.stop()
    outputs.append(webhook.output)
    assert "webhook received update 7" in webhook.output  # DEBUG really was on

    for output in outputs:
        assert not leaks(output, emulator.token), output


def test_root_handlers_redact_the_token_its_url_form_and_the_secret_from_everything(caplog):
    token = "123456:Handler-SECRET-only-here"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        protect(token, "hook-secret-for-the-handler")
        log = logging.getLogger("some.library")
        log.setLevel(logging.DEBUG)
        # A record made outside the record factory (as a queue or socket listener would).
        record = logging.makeLogRecord(
            {"name": "x", "levelno": logging.ERROR, "levelname": "ERROR", "msg": "url %s"}
        )
        record.args = (f"https://api.telegram.org/bot{quote(token, safe='')}/getMe",)
        record.stack_info = f"Stack (most recent call last):\n  send('{token}')"
        handler.handle(record)
        try:
            raise RuntimeError(f"secret_token=hook-secret-for-the-handler for {token}")
        except RuntimeError:
            log.exception("setWebhook failed", stack_info=True)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue() + caplog.text
    assert "Handler-SECRET" not in text and "hook-secret-for-the-handler" not in text
    assert "setWebhook failed" in text and "<bot-token>" in text and "<secret>" in text


async def test_a_rejected_token_is_one_line_without_the_token_and_exit_1(
    emulator: Emulator, world: Settings, tmp_path: Path
):
    wrong = "7000000001:REVOKED-token-of-a-bot-that-was-deleted"
    cases = {
        "401": environment(
            world, TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=emulator.base_url
        ),
        "404": environment(  # a wrong self-hosted Bot API address
            world,
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{emulator.port}/not-the-api/bot",
        ),
    }
    for name, env in cases.items():
        run = await run_to_end(tmp_path, env)
        lines = run.stderr_lines
        assert run.process and run.process.returncode == 1, (name, run.output)
        assert len(lines) == 1 and lines[0].startswith("moviebot: "), (name, run.output)
        assert "rejected the bot token" in lines[0]
        assert not leaks(run.output, env["TELEGRAM_BOT_TOKEN"]), run.output


async def test_telegram_unreachable_at_start_is_retried_with_back_off_then_one_line_exit_1(
    world: Settings, tmp_path: Path
):
    token = "7000000001:UNREACHABLE-test-token"
    env = environment(
        world,
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}/bot",  # nothing listens
        MOVIEBOT_CONNECT_TIMEOUT="3",
    )
    started = time.monotonic()
    run = await run_to_end(tmp_path, env)
    took = time.monotonic() - started
    lines = run.stderr_lines
    assert run.process and run.process.returncode == 1, run.output
    assert "Traceback" not in run.output
    attempts = [line for line in lines if "retrying in" in line]
    assert len(attempts) >= 2, run.output  # 1 s, then 2 s (cut to the deadline)
    assert "(attempt 1)" in attempts[0] and "(attempt 2)" in attempts[1]
    assert lines[-1].startswith("moviebot: cannot reach the Bot API"), run.output
    assert len(lines) == len(attempts) + 1, run.output
    assert 3 <= took < LIMIT
    assert not leaks(run.output, token)


async def test_a_409_conflict_is_one_clear_line_each_time_and_polling_goes_on(
    emulator: Emulator, world: Settings, tmp_path: Path
):
    env = environment(
        world, TELEGRAM_BOT_TOKEN=emulator.token, TELEGRAM_API_BASE_URL=emulator.base_url
    )
    run = await Run(tmp_path, env).start()
    try:
        await until(lambda: emulator.api.polling.active > 0, "polled", run)
        emulator.faults.conflict(2)
        alice = emulator.user("Alice")
        await alice.send("/help")  # ends the long poll; the next two polls get 409
        await alice.next_message(timeout=LIMIT)
        await until(lambda: "409 Conflict" in run.output, "logged the conflict", run)
        await until(lambda: not emulator.faults.rules, "polled past the conflicts", run)
        await alice.send("/help")
        assert "What I can do" in (await alice.next_message(timeout=LIMIT)).text
    finally:
        await run.stop()
    conflicts = [line for line in run.stderr_lines if "Conflict" in line]
    assert len(conflicts) == 2, run.output
    assert all("another instance" in line for line in conflicts)
    assert "Traceback" not in run.output
