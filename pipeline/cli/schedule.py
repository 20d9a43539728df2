"""``medtx schedule``: the EventBridge rule that starts the pipeline for retraining."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipeline.cli.common import (
    Params,
    PipelineName,
    Region,
    app,
    console,
    failing,
    named_pipeline,
    resolve_region,
    upserted_pipeline,
)

schedule_app = typer.Typer(help="The EventBridge rule that starts the pipeline for retraining.")
app.add_typer(schedule_app, name="schedule")


def _events(region: str | None):
    import boto3

    region = resolve_region(region)
    return boto3.client("events", region_name=region), region


def _schedule_call(action):
    from pipeline import schedule as sched

    with failing(sched.ScheduleError, ValueError, code=2):
        return action()


@schedule_app.command("create")
def schedule_create(
    expression: Annotated[str, typer.Argument(help="rate(7 days) or cron(0 3 ? * MON *)")],
    role_arn: Annotated[
        str | None,
        typer.Option(help="role EventBridge assumes (default: SCHEDULE_ROLE_ARN; the stack's EventsRole)"),
    ] = None,
    params: Params = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="create it disabled")] = False,
    pipeline_name: PipelineName = None,
    region: Region = None,
) -> None:
    """Create or update the retraining schedule, with pipeline parameters (``--param Name=Value``).

    Their names are checked against the pipeline's definition, as ``medtx start`` checks them: the
    rule's start with a name the pipeline does not declare would fail at every tick, seen only in
    EventBridge's FailedInvocations metric."""
    import boto3

    from pipeline import aws
    from pipeline import schedule as sched
    from pipeline.config import from_env
    from pipeline.definition import INPUT_VERSION

    role_arn = from_env("SCHEDULE_ROLE_ARN", role_arn)
    if not role_arn:
        console.print("[red]error:[/red] missing --role-arn (or SCHEDULE_ROLE_ARN)")
        raise typer.Exit(2)
    events, region = _events(region)
    name = named_pipeline(pipeline_name)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    target = sched.pipeline_arn(region, account, name)
    parsed = _schedule_call(lambda: aws.parse_params(params))
    if parsed:
        described = upserted_pipeline(boto3.client("sagemaker", region_name=region), name, region)
        _schedule_call(lambda: aws.check_params(json.loads(described["PipelineDefinition"]), parsed))
    arn = _schedule_call(lambda: sched.put(events, name, target, role_arn, expression, parsed, not disabled))
    console.print(f"schedule {arn} -> {target}")
    if INPUT_VERSION not in {p["Name"] for p in parsed}:
        console.print(
            "[yellow]note:[/yellow] a rule starts the pipeline with fixed parameters, so it cannot name "
            "the data's version (InputDataVersion, which `medtx start` fills in): new data replaced at "
            "the same key is a Preprocess cache hit until the cache expires (cache_expire_after, "
            "P30D), nor the commit (its packages record SourceCommit 'unrecorded'). Give each drop a key "
            "of its own (--param InputDataUri=...), or use the stack's RetrainRule, which starts through "
            "`medtx start`.",
            highlight=False,
        )


@schedule_app.command("show")
def schedule_show(pipeline_name: PipelineName = None, region: Region = None) -> None:
    """Show the schedule: expression, state, target and parameters."""
    from pipeline import schedule as sched

    events, _ = _events(region)
    print(
        json.dumps(
            _schedule_call(lambda: sched.show(events, named_pipeline(pipeline_name))),
            indent=2,
        )
    )


def _set_schedule_state(enabled: bool, pipeline_name: str | None, region: str | None) -> None:
    from pipeline import schedule as sched

    events, _ = _events(region)
    name = named_pipeline(pipeline_name)
    state = _schedule_call(lambda: sched.set_state(events, name, enabled))
    console.print(f"{state['Name']}: {state['State']}")


@schedule_app.command("enable")
def schedule_enable(pipeline_name: PipelineName = None, region: Region = None) -> None:
    """Enable the schedule."""
    _set_schedule_state(True, pipeline_name, region)


@schedule_app.command("disable")
def schedule_disable(pipeline_name: PipelineName = None, region: Region = None) -> None:
    """Disable the schedule (it stays, with its parameters)."""
    _set_schedule_state(False, pipeline_name, region)


@schedule_app.command("delete")
def schedule_delete(pipeline_name: PipelineName = None, region: Region = None) -> None:
    """Delete the schedule."""
    from pipeline import schedule as sched

    events, _ = _events(region)
    name = named_pipeline(pipeline_name)
    _schedule_call(lambda: sched.delete(events, name))
    console.print(f"deleted {sched.rule_name(name)}")
