"""The ``medtx`` commands the README, docs, buildspecs and Makefile give are ones the CLI has.

A user copies these lines; a renamed option or command would otherwise go on being documented until
someone ran it. Each command must resolve to a command of ``medtx``, each option on it must be one
that command takes, and the settings, pipeline parameters, presets and profiles they name must exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from pipeline.cli import app
from pipeline.config import LOCAL_PROFILES, SETTING_PRESETS, PipelineConfig, flat_settings
from pipeline.definition import INPUT_VERSION, SETTING_PARAMETERS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "buildspec.yml",
    *sorted((ROOT / "infra").glob("*.yml")),
    ROOT / "Makefile",
]

#: An inline code span that is a ``medtx`` command (``.venv/bin/medtx`` too); it may go on over a
#: line break.
SPAN = re.compile(r"`(?:[\w./-]*/)?medtx ([^`]*)`")
#: Elsewhere (code blocks, buildspecs, the Makefile) ``medtx`` starts a command at a line's start,
#: after ``bin/`` (``.venv/bin/medtx``) or an opening parenthesis; in prose ("the medtx command",
#: "your-org/medtx") it does not.
COMMAND = re.compile(r"(?:^|(?<=\()|(?<=bin/))medtx (?P<rest>[^`\n]*)", re.MULTILINE)
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")
SETTING = re.compile(r"\b[a-z][a-z_]*__[a-z][a-z_0-9]*\b")


def commands() -> Iterator[tuple[str, str]]:
    """(where, text) of every ``medtx`` command on the pages, a comment after it cut off; ``medtx
    invoke|predict --sagemaker`` stands for both commands."""
    for page in PAGES:
        text = page.read_text()
        found = [(m.start(), m[1].replace("\n", " ")) for m in SPAN.finditer(text)]
        # the spans blanked out (line breaks kept), the rest read line by line
        rest = SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)
        found += [(m.start(), m["rest"].split(" #")[0]) for m in COMMAND.finditer(rest)]
        for start, command in sorted(found):
            line = text.count("\n", 0, start) + 1
            where = f"{page.relative_to(ROOT)}:{line}"
            first, _, tail = command.strip().partition(" ")
            for word in first.split("|"):
                yield where, f"{word} {tail}".strip()


ROOT_COMMAND = typer.main.get_command(app)
FOUND = list(commands())


def _resolve(text: str) -> tuple[list[str], Any, str]:
    """The command path the words of ``text`` lead to, its command object, and the text after it."""
    command, path, words = ROOT_COMMAND, [], text.split()
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words[0]]
        path.append(words.pop(0))
    return path, command, " ".join(words)


def _options(command: Any) -> set[str]:
    """The options a command takes; for a group, those any of its commands take."""
    if hasattr(command, "commands"):
        return set().union(*(_options(sub) for sub in command.commands.values()))
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_the_pages_give_commands():
    # the pattern still finds them: the README's and every buildspec's at least
    pages = {where.split(":")[0] for where, _ in FOUND}
    assert {"README.md", "buildspec.yml", "infra/deployspec.yml", "infra/retrainspec.yml"} <= pages
    assert len(FOUND) > 100


@pytest.mark.parametrize(("where", "text"), FOUND, ids=[where for where, _ in FOUND])
def test_a_documented_command_is_one_medtx_has_with_options_it_takes(where, text):
    path, command, rest = _resolve(text)
    assert path, f"{where}: 'medtx {text}' names no medtx command"
    if hasattr(command, "commands"):  # a group: the next word, if a word, is one of its commands
        word = (rest.split() or [""])[0]
        assert not re.fullmatch(r"[a-z][a-z-]*", word), (
            f"{where}: medtx {' '.join(path)} has no command {word!r}"
        )
    unknown = sorted(set(OPTION.findall(rest)) - _options(command))
    assert not unknown, f"{where}: medtx {' '.join(path)} takes no {', '.join(unknown)}"


def test_documented_settings_parameters_presets_and_profiles_exist():
    settings = set(flat_settings(PipelineConfig()))
    parameters = {"InputDataUri", INPUT_VERSION, *SETTING_PARAMETERS}
    wrong = []
    for page in [*PAGES, ROOT / "bench" / "RESULTS.md"]:
        text = page.read_text()
        wrong += [(page.name, name) for name in SETTING.findall(text) if name not in settings]
        for name, value in re.findall(r"--param[ =]\"?([A-Za-z]+)=([^\s\"`]*)", text):
            if value != "Value" and name not in parameters:  # ``--param Name=Value``: the form
                wrong.append((page.name, f"--param {name}"))
        wrong += [
            (page.name, f"preset {p}")
            for p in re.findall(r"preset=([a-z0-9-]+)", text)
            if p not in SETTING_PRESETS
        ]
        wrong += [
            (page.name, f"profile {p}")
            for p in re.findall(r"--profile[ =]([a-z]+)", text)
            if p not in LOCAL_PROFILES
        ]
    assert wrong == []


def test_the_readme_layout_names_every_module():
    """A newcomer finds each part of the project from the README's layout table: every module of
    ``pipeline/``, ``steps/`` and ``scripts/`` is named there, by its path in a row of its own or by
    its name in its folder's row."""
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [row.split(" | ", 1) for row in layout.splitlines() if row.startswith("| `")]
    modules = [
        path.relative_to(ROOT)
        for folder in ("pipeline", "steps", "scripts")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.stem not in ("__init__", "__main__")
    ]
    assert len(modules) > 40 and len(rows) > 20

    def named(module: Path) -> bool:
        return any(
            f"`{module}`" in first or (first == f"| `{module.parent}/`" and f"`{module.stem}`" in rest)
            for first, rest in rows
        )

    assert [str(module) for module in modules if not named(module)] == []
