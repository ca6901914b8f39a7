"""web/ is a front end like bot/handlers: it reaches data only through the services."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.test_structure import imported

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "web").glob("*.py"))
MAX_LINES = 25


def test_there_is_a_web_package():
    assert "web/views.py" in MODULES


@pytest.mark.parametrize("path", MODULES)
def test_the_web_app_never_speaks_sql_or_runs_the_recommender(path):
    names = imported(path)
    assert not names & {"storage", "recommender", "sqlite3", "telegram"}
    source = (ROOT / path).read_text()
    assert "services.db" not in source and ".conn" not in source
    assert "type: ignore" not in source


def test_page_handlers_are_short():
    """parse → service → template: no view (docstring included) over 25 lines."""
    import ast

    tree = ast.parse((ROOT / "web" / "views.py").read_text())
    long = {
        f.name: (f.end_lineno or f.lineno) - f.lineno + 1
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert {n: lines for n, lines in long.items() if lines > MAX_LINES} == {}


def test_templates_and_static_files_ship_with_the_package():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "web*" in data["packages"]["find"]["include"]
    patterns = data["package-data"]["web"]
    for folder in ("templates", "static"):
        files = list((ROOT / "web" / folder).iterdir())
        assert files and all(any(f.match(p) for p in patterns) for f in files), folder
