"""The shape the design asks for: thin handlers over services, services without Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bot" / "handlers").glob("*.py"))
SERVICES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bot" / "services").glob("*.py"))
MAX_LINES = 25


def functions(path: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse((ROOT / path).read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def imported(path: str) -> set[str]:
    """Every module a module imports, with the packages above them (`a.b.c` → a, a.b, a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names


@pytest.mark.parametrize("path", HANDLERS)
def test_handlers_are_short(path):
    """parse → call → render → reply: no function (docstring included) over 25 lines."""
    long = {f.name: (f.end_lineno or f.lineno) - f.lineno + 1 for f in functions(path)}
    assert {name: n for name, n in long.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("path", HANDLERS)
def test_handlers_reach_storage_only_through_services(path):
    source = (ROOT / path).read_text()
    assert "storage" not in imported(path) and "recommender" not in imported(path)
    assert "storage" not in source and "services.db" not in source
    assert "type: ignore" not in source


@pytest.mark.parametrize("path", SERVICES)
def test_services_know_nothing_of_telegram(path):
    """A web front end calls the same services: no Telegram types, no wording, no handlers."""
    assert not imported(path) & {"telegram", "bot.handlers", "bot.render", "bot.keyboards"}
