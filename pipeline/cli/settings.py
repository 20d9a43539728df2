"""``config``: the settings a command builds the pipeline with, each by the name ``--set`` takes."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import ENV_SETTINGS, Sets, app, config, console
from pipeline.config import LOCAL_PROFILES, PipelineConfig, flat_settings
from pipeline.definition import PARAMETER_OF_SETTING

#: Longer values (the model card's texts) are cut in the table; ``--json`` gives them whole.
SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """A setting as ``--set`` would give it: a list comma-separated, true/false, none for unset."""
    if isinstance(value, tuple):
        text = ",".join(map(str, value))
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = "none" if value is None else str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def differing(cfg: PipelineConfig) -> dict[str, Any]:
    """The settings of ``cfg`` (``flat_settings``) whose values are not the defaults'."""
    defaults = flat_settings(PipelineConfig())
    return {k: v for k, v in flat_settings(cfg).items() if v != defaults[k]}


def changed_settings(cfg: PipelineConfig) -> str:
    """The settings of ``cfg`` that differ from the defaults, as ``name=value`` pairs (a local run's
    header line names them), or ``the defaults``."""
    return ", ".join(f"{k}={shown(v)}" for k, v in differing(cfg).items()) or "the defaults"


@app.command("config")
def show_config(
    sets: Sets = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="only the settings that differ from the defaults")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="name -> value as JSON on stdout")] = False,
) -> None:
    """Every setting the pipeline is built with (``MEDTX_SETTINGS`` and ``--set`` applied, a preset
    expanded), by the name ``--set`` takes, with the default beside each one that differs and the
    pipeline parameter it is the default of, which an execution can set (``--param``, a local
    run's profile)."""
    cfg, defaults = config(sets), flat_settings(PipelineConfig())
    found = differing(cfg) if changed else flat_settings(cfg)
    if as_json:
        sys.stdout.write(
            json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in found.items()}, indent=2) + "\n"
        )
        return
    if not found:  # --changed of the defaults: said, not an empty table
        console.print(f"every setting is at its default ({ENV_SETTINGS} and --set applied)", highlight=False)
        return
    table = Table(title=f"settings ({ENV_SETTINGS} and --set applied)", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("default", overflow="fold", style="dim")
    table.add_column("parameter", no_wrap=True)
    for name, value in found.items():
        default = "" if value == defaults[name] else shown(defaults[name])
        table.add_row(name, shown(value), default, PARAMETER_OF_SETTING.get(name, ""))
    console.print(table)
    profiles = "; ".join(
        f"{name}: " + ", ".join(f"{k}={v}" for k, v in profile.parameters().items())
        for name, profile in LOCAL_PROFILES.items()
    )
    console.print(
        "A setting with a parameter is that pipeline parameter's default: medtx start --param "
        f"Name=Value sets it for one execution, and medtx run --local takes its profile's ({profiles})",
        highlight=False,
    )
