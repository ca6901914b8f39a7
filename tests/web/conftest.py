"""The web app over the trained test world: a client signed in as someone, with a real
session, and the services behind it."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.services import Services, open_services
from bot.services.people import Person
from bot.settings import Settings
from tests.bot.world import build
from web.app import build_app

TOKEN = "123456:TEST-web-token"
ALICE = Person(1001, "Alice")
BOB = Person(1002, "Bob")


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("web-world")
    return build(folder / "world.sqlite", folder / "models")


@pytest.fixture
def settings(web_world: Settings, tmp_path) -> Settings:
    shutil.copy(web_world.db_path, tmp_path / "world.sqlite")
    shutil.copytree(web_world.model_dir, tmp_path / "models")
    return replace(
        web_world, db_path=tmp_path / "world.sqlite", model_dir=tmp_path / "models", token=TOKEN
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = open_services(settings)
    yield opened
    opened.close()


@dataclass
class Browser:
    """A test client with the session it signed in with (its CSRF token for forms)."""

    client: TestClient
    csrf: str = ""

    async def post(self, path: str, **fields: str):
        return await self.client.post(
            path, data={"csrf": self.csrf, **fields}, allow_redirects=False
        )

    async def get(self, path: str, **options):
        return await self.client.get(path, **options)


CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


async def sign_in(client: TestClient, services: Services, who: Person) -> Browser:
    """The /web flow: a link for `who`, its page, its button."""
    token = services.web.link_token(who)
    page = await client.get("/signin", params={"t": token})
    assert page.status == 200
    done = await client.post("/signin", data={"t": token}, allow_redirects=False)
    assert done.status == 303
    home = await client.get("/profile")
    match = CSRF.search(await home.text())
    assert match, "a signed-in page carries the session's CSRF token"
    return Browser(client, match[1])


@pytest.fixture
async def make_client(settings: Settings, services: Services) -> AsyncIterator:
    """`await make_client()`: a fresh cookie jar on the same server."""
    server = TestServer(build_app(settings, lambda: services))
    await server.start_server()
    clients: list[TestClient] = []

    async def make() -> TestClient:
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    await server.close()


@pytest.fixture
async def alice(make_client, services: Services) -> Browser:
    return await sign_in(await make_client(), services, ALICE)


@pytest.fixture
async def bob(make_client, services: Services) -> Browser:
    return await sign_in(await make_client(), services, BOB)
