"""The real bot against the emulator, over a small trained movie world."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from bot.app import build_application
from bot.services import Services, open_services
from bot.settings import Settings
from tests.bot.world import build

RunBot = Callable[..., Awaitable[Services]]


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Built and trained once per run; every test gets its own copy."""
    folder = tmp_path_factory.mktemp("world")
    return build(folder / "world.sqlite", folder / "models")


@pytest.fixture
def world(world_template: Settings, tmp_path) -> Settings:
    shutil.copy(world_template.db_path, tmp_path / "world.sqlite")
    shutil.copytree(world_template.model_dir, tmp_path / "models")
    return replace(world_template, db_path=tmp_path / "world.sqlite", model_dir=tmp_path / "models")


@pytest.fixture
async def run_bot(world: Settings, emulator, start_bot) -> AsyncIterator[RunBot]:
    """`services = await run_bot(admins=[alice.id])`: the real Application, polling the emulator."""
    opened: list[Services] = []

    async def run(admins: tuple[int, ...] = (), **changes: object) -> Services:
        settings = emulator.settings(replace(world, admin_ids=frozenset(admins), **changes))
        services = open_services(settings)
        opened.append(services)
        run.apps.append(await start_bot(lambda s: build_application(settings, services)))
        return services

    run.apps = []  # type: ignore[attr-defined]  # the started Applications, oldest first
    yield run
    for services in opened:
        services.close()
