"""The direction of the arrows in docs (DESIGN): which package may import which.

`recommender` is a pure library (no Telegram, no SQL), `storage` the only code that speaks SQL
and knows nothing of the bot or the recommender, the emulator runs any python-telegram-bot
application and knows nothing of ours, and the bot uses the emulator only for `moviebot chat`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports(package: str) -> dict[str, set[str]]:
    """Every module of `package` → the top-level packages it imports (at any depth)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("recommender", {"telegram", "storage", "bot", "emulator", "sqlite3"}),
        ("storage", {"telegram", "recommender", "bot", "emulator"}),
        ("emulator", {"bot", "storage", "recommender"}),
    ],
)
def test_a_package_imports_only_what_the_design_allows(package, forbidden):
    offending = {m: sorted(n & forbidden) for m, n in imports(package).items() if n & forbidden}
    assert offending == {}


def test_the_bot_uses_the_emulator_only_in_moviebot_chat():
    users = sorted(m for m, names in imports("bot").items() if "emulator" in names)
    assert users == ["bot/commands/chat.py"]
