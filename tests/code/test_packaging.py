"""What ``pip install .`` puts in the wheel: setuptools takes the packages pyproject.toml lists and
not their subpackages, so a folder left off the list (``pipeline/cli``) installs a ``medtx`` that
cannot start."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_in_the_wheel():
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("pipeline", "scripts", "steps")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert sorted(found) == sorted(listed)
