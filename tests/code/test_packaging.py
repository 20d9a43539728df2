"""What ``pip install .`` puts in the wheel: setuptools takes the packages pyproject.toml lists and
not their subpackages, so a folder left off the list (``pipeline/cli``) installs a ``medtx`` that
cannot start; and a data file no ``package-data`` pattern matches stays out of it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

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


def _pins(lines: list[str]) -> dict[str, str]:
    """``name==version`` requirement lines by normalised name (PEP 503), comments left out."""
    found = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, sep, version = requirement.partition("==")
            assert sep and version and not any(c in version for c in " ;<>,"), line
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


@pytest.mark.parametrize(
    ("constraints", "pinned"),
    [("constraints.txt", "pyproject.toml"), ("infra/constraints.txt", "infra/requirements.txt")],
)
def test_the_constraints_hold_every_pin_at_its_version(constraints, pinned):
    """A new machine installs the versions `make lock` resolved: every package exactly pinned, each of
    the project's own pins at the same version (a pin changed without `make lock` fails here)."""
    locked = _pins((ROOT / constraints).read_text().splitlines())
    if pinned == "pyproject.toml":
        project = tomllib.loads((ROOT / pinned).read_text())["project"]
        lines = [
            *project["dependencies"],
            *(r for extra in project["optional-dependencies"].values() for r in extra),
        ]
    else:
        lines = (ROOT / pinned).read_text().splitlines()
    own = _pins(lines)
    own.pop("torch", None)  # pinned where it is installed: its build depends on the index it comes from
    assert "torch" not in locked and "medtx" not in locked
    assert {name: locked.get(name) for name in own} == own


def test_every_install_of_the_project_takes_the_constraints():
    """The Makefile (make run, make test), the build and the deploy project's builds."""
    files = [
        "Makefile",
        "buildspec.yml",
        *(p.relative_to(ROOT).as_posix() for p in (ROOT / "infra").glob("*spec.yml")),
    ]
    installs = [
        (name, line.strip())
        for name in files
        for line in (ROOT / name).read_text().splitlines()
        if "pip install" in line and ('-e "' in line or "-r infra/requirements.txt" in line)
    ]
    assert len({name for name, _ in installs}) == len(files), installs
    for name, line in installs:
        if "LOCK_VENV" in line:  # make lock resolves anew: what it writes is the constraints
            continue
        wanted = "-c infra/constraints.txt" if "infra/requirements.txt" in line else "-c constraints.txt"
        assert wanted in line, (name, line)
