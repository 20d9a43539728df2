"""What ``pip install .`` puts in the wheel: setuptools takes the packages pyproject.toml lists and
not their subpackages, so a folder left off the list (``pipeline/cli``) installs a ``medtx`` that
cannot start; and a data file no ``package-data`` pattern matches stays out of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pipeline.synthetic import BUNDLED_CSV

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_in_the_wheel():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("pipeline", "scripts", "steps")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert sorted(found) == sorted(SETUPTOOLS["packages"])


def test_the_bundled_csv_is_in_the_wheel():
    """``medtx run --local`` without ``--data`` runs on it, from a clone or an installed wheel."""
    patterns = [
        f"{package.replace('.', '/')}/{pattern}"
        for package, globs in SETUPTOOLS["package-data"].items()
        for pattern in globs
    ]
    assert BUNDLED_CSV.is_file() and any(BUNDLED_CSV.match(p) for p in patterns), patterns
