"""pyproject.toml: metadata that installs without setuptools deprecation banners."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_the_license_is_an_spdx_expression_and_the_build_backend_reads_it():
    """A TOML table (`{ text = "MIT" }`) makes setuptools print a deprecation banner on every
    install; the SPDX string needs setuptools 77 or newer (PEP 639)."""
    assert PYPROJECT["project"]["license"] == "MIT"
    requires = PYPROJECT["build-system"]["requires"]
    floor = next(re.fullmatch(r"setuptools>=(\d+)", r) for r in requires if "setuptools" in r)
    assert floor is not None and int(floor[1]) >= 77
    classifiers = PYPROJECT["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")]  # refused next to it
