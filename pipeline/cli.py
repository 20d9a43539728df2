"""``medtx``: build, upsert, start and watch the SageMaker pipeline.

Account settings come from options or the environment (``AWS_REGION``, ``SAGEMAKER_PIPELINE_ROLE_ARN``,
``ARTIFACT_BUCKET``), as CodeBuild passes them. ``--set name=value`` overrides ``PipelineConfig``
fields (``--set train__epochs=5``) at build time; ``--param Name=Value`` overrides pipeline
parameters of one execution.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import PipelineConfig

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

Region = Annotated[str | None, typer.Option(help="AWS region (default: AWS_REGION)")]
Role = Annotated[
    str | None, typer.Option(help="pipeline execution role ARN (default: SAGEMAKER_PIPELINE_ROLE_ARN)")
]
Bucket = Annotated[
    str | None, typer.Option(help="artifact bucket (default: ARTIFACT_BUCKET, else the config's)")
]
Sets = Annotated[list[str] | None, typer.Option("--set", help="config override name=value (repeatable)")]
Params = Annotated[
    list[str] | None, typer.Option("--param", help="pipeline parameter Name=Value (repeatable)")
]


def _overrides(sets: list[str] | None) -> dict[str, str]:
    result = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint="--set")
        result[name.strip()] = value
    return result


def _build(region: str | None, role: str | None, bucket: str | None, sets: list[str] | None):
    from pipeline.definition import get_pipeline

    try:
        return get_pipeline(region=region, role=role, default_bucket=bucket, **_overrides(sets))
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err


@app.command()
def definition(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    offline: Annotated[bool, typer.Option(help="build without AWS credentials (in-memory AWS)")] = False,
    region: Region = None,
    role: Role = None,
    bucket: Bucket = None,
    sets: Sets = None,
) -> None:
    """Print or write the pipeline definition JSON (byte-identical for the same commit and config)."""
    if offline:
        from pipeline.aws import OFFLINE_ACCOUNT_ROLE, OFFLINE_REGION, offline_aws

        cfg = PipelineConfig().replace(**_overrides(sets))
        with offline_aws(bucket or cfg.bucket):
            text = _build(region or OFFLINE_REGION, role or OFFLINE_ACCOUNT_ROLE, bucket, sets).definition()
    else:
        text = _build(region, role, bucket, sets).definition()
    pretty = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    if out:
        out.write_text(pretty)
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(pretty)


@app.command()
def upsert(region: Region = None, role: Role = None, bucket: Bucket = None, sets: Sets = None) -> None:
    """Create or update the pipeline in SageMaker."""
    from pipeline import aws
    from pipeline.definition import resolve_target

    try:
        region, role, bucket = resolve_target(
            region, role, bucket, PipelineConfig().replace(**_overrides(sets))
        )
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    arn = aws.upsert(_build(region, role, bucket, sets), role)
    console.print(f"upserted {arn}")


@app.command()
def start(
    params: Params = None,
    wait: Annotated[bool, typer.Option(help="poll and show step progress until the execution ends")] = False,
    poll_seconds: Annotated[float, typer.Option(help="seconds between polls with --wait")] = 30.0,
    pipeline_name: Annotated[str | None, typer.Option(help="default: the config's pipeline name")] = None,
    region: Region = None,
) -> None:
    """Start an execution, with ``--param Name=Value`` overrides."""
    import boto3

    from pipeline import aws
    from pipeline.config import ENV_REGION, from_env

    client = boto3.client("sagemaker", region_name=from_env(ENV_REGION, region))
    name = pipeline_name or PipelineConfig().pipeline_name
    try:
        parsed = aws.parse_params(params)
        definition = client.describe_pipeline(PipelineName=name)["PipelineDefinition"]
        aws.check_params(definition, parsed)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    arn = aws.start(client, name, parsed)
    console.print(f"started {arn}")
    print(arn)
    if wait:
        _watch(client, arn, poll_seconds)


def _watch(client, arn: str, poll_seconds: float) -> None:
    from pipeline import aws

    with console.status("waiting for the execution") as status:
        while True:
            state = aws.execution_status(client, arn)
            running = [s["name"] for s in state["steps"] or [] if s["status"] in ("Executing", "Starting")]
            status.update(f"{state['status']}: {', '.join(running) or '...'}")
            if state["status"] not in ("Executing", "Stopping"):
                break
            time.sleep(poll_seconds)
    _show(state)
    if state["status"] != "Succeeded":
        raise typer.Exit(1)


def _show(state: dict) -> None:
    table = Table(title=f"{state['arn']} — {state['status']}")
    table.add_column("step")
    table.add_column("status")
    table.add_column("failure")
    for step in state["steps"] or []:
        table.add_row(step["name"], step["status"], step["failure"] or "")
    console.print(table)
    if state["failure_reason"]:
        console.print(f"[red]{state['failure_reason']}[/red]")


@app.command()
def status(
    execution_arn: Annotated[str | None, typer.Argument(help="default: the latest execution")] = None,
    pipeline_name: Annotated[str | None, typer.Option(help="default: the config's pipeline name")] = None,
    region: Region = None,
) -> None:
    """Show an execution's status, parameters and steps."""
    import boto3

    from pipeline import aws
    from pipeline.config import ENV_REGION, from_env

    client = boto3.client("sagemaker", region_name=from_env(ENV_REGION, region))
    arn = execution_arn or aws.latest_execution(client, pipeline_name or PipelineConfig().pipeline_name)
    if not arn:
        console.print("no executions yet")
        raise typer.Exit(1)
    state = aws.execution_status(client, arn)
    _show(state)
    print(json.dumps(state, indent=2, default=str))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
