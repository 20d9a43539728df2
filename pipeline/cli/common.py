"""What every ``medtx`` command shares: the typer app, the console, the options they have in common,
and the one way a command ends on an error it expects (one red line, an exit status)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions

from pipeline.config import SETTING_PRESETS, PipelineConfig

HELP = """medtx: build, upsert, start and watch the SageMaker pipeline, or run it here (``run --local``).

Account settings come from options or the environment (``AWS_REGION``, ``SAGEMAKER_PIPELINE_ROLE_ARN``,
``ARTIFACT_BUCKET``), as CodeBuild passes them; the region else from the AWS profile. ``--set
name=value`` overrides ``PipelineConfig`` fields (``--set train__epochs=5``) at build time, over those
in ``MEDTX_SETTINGS`` (the same ``name=value`` pairs, separated by spaces: the stack's CodeBuild
project sets its names there); ``--param Name=Value`` overrides pipeline parameters of one execution.
"""

#: Config overrides every command reads, ``name=value`` pairs separated by whitespace
#: (``pipeline_name=a endpoint_name=b``); ``--set`` wins over them.
ENV_SETTINGS = "MEDTX_SETTINGS"

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")


#: The width tables are laid out at where no window gives one (a log, with ``COLUMNS`` unset): rich's
#: 80 columns folded the run's step table, each job name and figure over three to seven lines.
LOG_WIDTH = 160


def _window_open() -> bool:
    """Whether this process has a terminal on stdin, stdout or stderr (where rich reads its size)."""
    return any(os.isatty(fd) for fd in (0, 1, 2))


class Terminal(Console):
    """rich's ``Console`` that breaks no printed line of its own where the output is not a terminal
    (soft wrap): in a log (CodeBuild's, CloudWatch Logs) or a pipe each message stays one line, whole
    to grep, instead of being folded at 80 columns with its paths and commands cut in two. In a
    terminal, rich wraps prose at the window's width as before. Tables are laid out at the window's
    width, or ``COLUMNS``, else (a log) at ``LOG_WIDTH``. A line meant to be copied (a path, a
    command) is printed with ``soft_wrap=True`` everywhere."""

    @property
    def soft_wrap(self) -> bool:
        return self._soft_wrap or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap = value

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and "COLUMNS" not in self._environ and not _window_open():
            return ConsoleDimensions(LOG_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


#: Messages go to stderr; what a script would read (JSON, an ARN) goes to stdout.
console = Terminal(stderr=True)

Region = Annotated[
    str | None, typer.Option(help="AWS region (default: AWS_REGION, else the AWS profile's region)")
]
Role = Annotated[
    str | None, typer.Option(help="pipeline execution role ARN (default: SAGEMAKER_PIPELINE_ROLE_ARN)")
]
Bucket = Annotated[
    str | None, typer.Option(help="artifact bucket (default: ARTIFACT_BUCKET, else the config's)")
]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="config override name=value (repeatable); preset=NAME sets a named group of them "
        f"({', '.join(SETTING_PRESETS)}), the others given winning",
    ),
]
Params = Annotated[
    list[str] | None, typer.Option("--param", help="pipeline parameter Name=Value (repeatable)")
]
StoreDir = Annotated[
    Path,
    typer.Option("--store", file_okay=False, help="local store: S3 as folders, runs, registry, endpoints"),
]
SageMakerFlag = Annotated[
    bool,
    typer.Option("--sagemaker", help="in SageMaker (AWS_REGION), not the local store"),
]
Group = Annotated[str | None, typer.Option(help="model package group (default: the config's)")]
Version = Annotated[int, typer.Argument(help="model package version")]
EndpointName = Annotated[str | None, typer.Option("--name", help="endpoint name (default: the config's)")]
PipelineName = Annotated[str | None, typer.Option(help="default: the config's pipeline name")]


@contextlib.contextmanager
def failing(*errors: type[Exception], code: int = 1) -> Iterator[None]:
    """An error of these types ends the command with one line saying it and exit status ``code``
    (2: the caller's input or setup; 1: the operation failed)."""
    try:
        yield
    except errors as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code) from err


MISSING_REGION = "missing region: pass --region, set AWS_REGION, or give the AWS profile one (aws configure)"


def resolve_region(region: str | None, fallback: str | None = None) -> str:
    """``--region``, else AWS_REGION / AWS_DEFAULT_REGION, else the AWS profile's region, else
    ``fallback``; one clear error if none."""
    from pipeline.config import aws_region

    found = aws_region(region) or fallback
    if not found:
        console.print(f"[red]error:[/red] {MISSING_REGION}")
        raise typer.Exit(2)
    return found


def parse_sets(sets: list[str] | None, hint: str = "--set") -> dict[str, str]:
    """``--set name=value`` options (or ``MEDTX_SETTINGS``' pairs, ``hint`` naming where they came
    from) as ``PipelineConfig.replace`` takes them."""
    result = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint=hint)
        result[name.strip()] = value
    return result


def named_values(given: list[str] | None, option: str, shape: str) -> dict[str, str]:
    """Repeated ``option NAME=VALUE`` options as {name: value} (``shape`` shows their form, e.g.
    ``FIELD=COLUMN``); one without a name or a value, or a name given twice, is refused."""
    found: dict[str, str] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not (sep and name and value.strip()):
            raise typer.BadParameter(f"{item!r} is not {shape}", param_hint=option)
        if name in found:
            raise typer.BadParameter(f"{name} is given twice", param_hint=option)
        found[name] = value
    return found


def settings(sets: list[str] | None = None) -> dict[str, str]:
    """A command's config overrides: ``MEDTX_SETTINGS``, then its ``--set`` options (which win)."""
    given = parse_sets(os.environ.get(ENV_SETTINGS, "").split(), ENV_SETTINGS)
    with failing(ValueError, code=2):
        try:
            PipelineConfig().replace(**given)
        except ValueError as err:
            raise ValueError(f"{ENV_SETTINGS}: {err}") from err
    return {**given, **parse_sets(sets)}


def config(sets: list[str] | None = None) -> PipelineConfig:
    """The config a command works with: the defaults with ``settings(sets)`` applied."""
    with failing(ValueError, code=2):
        return PipelineConfig().replace(**settings(sets))


def named_group(group: str | None) -> str:
    return group or config().model_package_group


def named_pipeline(name: str | None) -> str:
    return name or config().pipeline_name


def upserted_pipeline(client, name: str, region: str, code: int = 2) -> dict:
    """DescribePipeline's answer; a pipeline not upserted yet (the first push, a stack with names of
    its own and ``MEDTX_SETTINGS`` unset) ends the command with one line naming it, exit ``code``."""
    from pipeline.deploy import found_or_none

    described = found_or_none(client.describe_pipeline, PipelineName=name)
    if described is None:
        console.print(
            f"[red]error:[/red] no pipeline {name!r} in {region}: `medtx upsert` (or a push) creates it",
            highlight=False,
        )
        raise typer.Exit(code)
    return described


@contextlib.contextmanager
def executions_of(client, name: str, region: str) -> Iterator[None]:
    """Around listing a pipeline's executions: SageMaker refuses it for a pipeline that does not
    exist, which is then named as ``upserted_pipeline`` names it (its Describe call made only then)."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            upserted_pipeline(client, name, region)  # ends the command when there is none
        raise


def named_endpoint(name: str | None) -> str:
    return name or config().endpoint_name
