"""The pipeline itself: ``definition``, ``upsert``, ``start``, ``status``, ``logs`` in SageMaker, and ``run``
(``--local``: every step on this machine; else upsert, start and follow it)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import (
    Bucket,
    Params,
    PipelineName,
    Region,
    Role,
    Sets,
    StoreDir,
    app,
    config,
    console,
    executions_of,
    failing,
    named_pipeline,
    resolve_region,
    settings,
    upserted_pipeline,
)
from pipeline.config import LOCAL_PROFILES, PipelineConfig
from pipeline.local import DEFAULT_STORE

ExecutionArg = Annotated[
    str | None, typer.Argument(help="default: the latest execution (--local: its id or ARN)")
]
LocalRuns = Annotated[bool, typer.Option("--local", help="the executions of medtx run --local in --store")]


def _build(region: str | None, role: str | None, bucket: str | None, sets: list[str] | None):
    from pipeline.definition import get_pipeline

    with failing(ValueError, code=2):
        overrides: dict[str, Any] = settings(sets)  # PipelineConfig.replace's settings
        return get_pipeline(region=region, role=role, default_bucket=bucket, **overrides)


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
    from pipeline.definition import quiet_sdk

    if offline:
        from pipeline.aws import OFFLINE_ACCOUNT_ROLE, OFFLINE_REGION, offline_aws

        cfg = config(sets)
        with quiet_sdk(), offline_aws(bucket or cfg.bucket):
            text = _build(region or OFFLINE_REGION, role or OFFLINE_ACCOUNT_ROLE, bucket, sets).definition()
    else:
        with quiet_sdk():
            text = _build(region, role, bucket, sets).definition()
    pretty = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(pretty)
        console.print(f"wrote {out}", soft_wrap=True)
    else:
        sys.stdout.write(pretty)


@app.command()
def upsert(region: Region = None, role: Role = None, bucket: Bucket = None, sets: Sets = None) -> None:
    """Create or update the pipeline in SageMaker. Its description (which Studio shows, and ``medtx
    diff`` reads) names the commit it was built from: CodeBuild's source version, or git's HEAD here,
    marked when tracked files have uncommitted changes."""
    from pipeline import aws
    from pipeline.definition import quiet_sdk, resolve_target

    with failing(ValueError, code=2):
        region, role, bucket = resolve_target(region, role, bucket, config(sets))
    revision = aws.source_revision()
    with quiet_sdk():
        arn = aws.upsert(_build(region, role, bucket, sets), role, revision)
    console.print(f"upserted {arn} " + (f"from commit {revision}" if revision else "(no commit known)"))


@app.command()
def diff(
    pipeline_name: PipelineName = None, region: Region = None, bucket: Bucket = None, sets: Sets = None
) -> None:
    """What differs between the pipeline SageMaker runs and the one this checkout builds.

    SageMaker runs the definition last upserted (what Studio, the schedule and ``start`` run); this
    checkout's is built offline with the pipeline's own role. Lists parameters and steps added or
    removed and each changed value, and for a step whose code bundle moved, which of its scripts
    differ (compared with the upserted bundle's S3 ETags, nothing downloaded). Exit status 0 when
    they are the same, 1 when they differ or no pipeline of that name is upserted yet (``medtx
    upsert``, or a push, makes it this checkout's)."""
    import os

    import boto3

    from pipeline.aws import offline_aws
    from pipeline.cli.common import ENV_SETTINGS
    from pipeline.code_bundle import bundle_differences
    from pipeline.config import ENV_BUCKET, ENV_KMS
    from pipeline.definition import quiet_sdk, resolve_target
    from pipeline.definition_diff import differences

    region = resolve_region(region)
    name = named_pipeline(pipeline_name)
    # none yet (the first push): everything differs, exit 1 as for any difference
    described = upserted_pipeline(boto3.client("sagemaker", region_name=region), name, region, code=1)
    # the bucket as `upsert` resolves it; the role the pipeline's own
    _, _, bucket = resolve_target(region, described["RoleArn"], bucket, config(sets))
    with quiet_sdk(), offline_aws(bucket):
        built = _build(region, described["RoleArn"], bucket, sets).definition()
    found = differences(json.loads(described["PipelineDefinition"]), json.loads(built))
    console.print(_upserted_line(name, described), highlight=False)
    if not found:
        console.print(f"{name} runs the definition this checkout builds", highlight=False)
        return
    console.print(
        f"{name} runs another definition than this checkout builds ({len(found)} difference(s); "
        "`medtx upsert` or a push makes it this checkout's):",
        highlight=False,
    )
    for line in found:
        print(line)
    # which scripts a changed code bundle differs in, read from the upserted bundle's keys
    for line in bundle_differences(
        boto3.client("s3", region_name=region), described["PipelineDefinition"], built
    ):
        print(line)
    unset = [var for var in (ENV_BUCKET, ENV_KMS, ENV_SETTINGS) if not os.environ.get(var)]
    if unset:  # the build project sets them: a difference may be theirs, not the checkout's
        console.print(
            f"note: {', '.join(unset)} not set here; the stack's build project sets them, so a "
            "difference in the bucket, KmsKeyId or the stack's names may come from that",
            highlight=False,
        )
    raise typer.Exit(1)


def _upserted_line(name: str, described: dict) -> str:
    """When the pipeline SageMaker runs was upserted and from which commit, beside this checkout's."""
    from datetime import UTC

    from pipeline import aws

    when = described.get("LastModifiedTime")
    at = f" {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else ""
    there = aws.upserted_from(described.get("PipelineDescription"))
    source = f"from commit {there}" if there else "from a commit its description does not name"
    here = aws.source_revision()
    return f"{name} was upserted{at} {source}; this checkout is " + (
        f"commit {here}" if here else "of no commit git or CodeBuild names"
    )


@app.command()
def start(
    params: Params = None,
    wait: Annotated[bool, typer.Option(help="poll and show step progress until the execution ends")] = False,
    poll_seconds: Annotated[float, typer.Option(help="seconds between polls with --wait")] = 30.0,
    if_idle: Annotated[
        bool,
        typer.Option(
            "--if-idle",
            help="start nothing (exit 0) while an execution of the pipeline still runs; the scheduled "
            "retraining uses it",
        ),
    ] = False,
    display_name: Annotated[
        str | None,
        typer.Option(
            help="the execution's name in Studio and medtx status --last (default: the commit the running "
            "definition was upserted from, as commit-0123456789ab)"
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="check everything and print the StartPipelineExecution request (the parameters with the "
            "data's version and the commit filled in, the display name) instead of starting",
        ),
    ] = False,
    pipeline_name: PipelineName = None,
    region: Region = None,
) -> None:
    """Start an execution, with ``--param Name=Value`` overrides. It is named after the commit the
    pipeline's definition was upserted from (``medtx upsert`` records it), unless ``--display-name``
    names it."""
    import boto3

    from pipeline import aws
    from pipeline.code_bundle import stale_scripts_note

    region = resolve_region(region)
    client = boto3.client("sagemaker", region_name=region)
    name = named_pipeline(pipeline_name)
    if display_name is not None and not aws.DISPLAY_NAME.fullmatch(display_name):
        raise typer.BadParameter(
            f"{display_name!r}: 1 to 82 letters and digits, with hyphens between them",
            param_hint="--display-name",
        )
    with failing(ValueError, code=2):
        parsed = aws.parse_params(params)
        upserted = upserted_pipeline(client, name, region)
        described = upserted["PipelineDefinition"]
        definition = json.loads(described)
        aws.check_params(definition, parsed)
        version = aws.with_input_version(parsed, definition, boto3.client("s3", region_name=region))
    if version:
        console.print(f"input data version {version} (InputDataVersion: new data misses the cache)")
    upserted_from = aws.upserted_from(upserted.get("PipelineDescription"))
    aws.with_source_commit(parsed, definition, upserted_from)  # recorded on the model package
    stale = stale_scripts_note(described)
    if stale:
        stale += f" It was upserted from commit {upserted_from}." if upserted_from else ""
        console.print(f"[yellow]note:[/yellow] {stale}", highlight=False)
    if if_idle:
        running = aws.running_executions(client, name)
        if running:
            shown = ", ".join(f"{e['id']} ({e['status']} since {e['started']})" for e in running)
            console.print(f"not started (--if-idle): {name} still runs {shown}", highlight=False)
            return
    display_name = display_name or aws.display_name(upserted_from)
    if dry_run:
        request = {"PipelineName": name, "PipelineParameters": parsed}
        request |= {"PipelineExecutionDisplayName": display_name} if display_name else {}
        console.print(
            "not started (--dry-run): the request StartPipelineExecution would get", highlight=False
        )
        print(json.dumps(request, indent=2))
        return
    arn = aws.start(client, name, parsed, display_name)
    console.print(f"started {arn}" + (f" ({display_name})" if display_name else ""), highlight=False)
    print(arn)
    if wait:
        _watch(client, arn, poll_seconds)


def _watch(client, arn: str, poll_seconds: float) -> None:
    from pipeline import aws

    with console.status("waiting for the execution") as status:
        while True:
            state = aws.execution_status(client, arn)
            running = [s["name"] for s in state["steps"] if s["status"] in ("Executing", "Starting")]
            status.update(f"{state['status']}: {', '.join(running) or '...'}")
            if state["status"] not in aws.RUNNING:
                break
            time.sleep(poll_seconds)
    _show(state)
    if state["status"] != "Succeeded":
        _print_failed_logs(state)
        raise typer.Exit(1)


#: How many of a failed job's last lines ``run``/``start --wait`` print.
FAILED_LOG_LINES = 20


def _print_failed_logs(state: dict) -> None:
    """The last lines of each failed job (a processing job's failure reason only says to look at
    its logs); a caller not allowed to read them gets the command that would."""
    import boto3

    logs = boto3.client("logs", region_name=state["arn"].split(":")[3])
    for step in _failed_jobs(state):
        print_job_log(logs, step["job"], f"{step['name']}: ")


def print_job_log(logs: Any, job: dict[str, str], title: str = "") -> None:
    """The last ``FAILED_LOG_LINES`` lines a failed job wrote (``aws.job_log_lines``) under a rule
    naming it; a caller not allowed to read them is told so."""
    from botocore.exceptions import BotoCoreError, ClientError

    from pipeline import aws

    try:
        lines = aws.job_log_lines(logs, job, FAILED_LOG_LINES)
    except (BotoCoreError, ClientError) as err:
        console.print(f"{title}the logs of {job['name']} could not be read ({err})", highlight=False)
        return
    console.rule(f"{title}the last {len(lines)} lines of {job['name']}")
    console.print("\n".join(lines) or "(nothing logged)", highlight=False, markup=False)


def _failed_jobs(state: dict) -> list[dict]:
    return [step for step in state["steps"] if step["status"] == "Failed" and step.get("job")]


def _show(state: dict, logs_option: str = "") -> None:
    """An execution's steps as a table, its failure, and how to read a failed job's logs."""
    named = f" ({state['display_name']})" if state.get("display_name") else ""
    table = Table(title=f"{state['arn']}{named} — {state['status']}")
    table.add_column("step")
    table.add_column("status")
    table.add_column("note", overflow="fold")
    table.add_column("failure", overflow="fold")
    for step in state["steps"]:
        table.add_row(step["name"], step["status"], step["note"], step["failure"] or "")
    console.print(table)
    if state["failure_reason"]:
        console.print(f"[red]{state['failure_reason']}[/red]")
    execution = state["arn"].rsplit("/", 1)[-1]
    for step in _failed_jobs(state):
        console.print(
            f"its logs: medtx logs {step['name']} {execution}{logs_option}", highlight=False, soft_wrap=True
        )


@app.command()
def status(
    execution_arn: ExecutionArg = None,
    pipeline_name: PipelineName = None,
    last: Annotated[
        int | None, typer.Option(min=1, help="list the newest this many executions instead")
    ] = None,
    local: LocalRuns = False,
    store: StoreDir = Path(DEFAULT_STORE),
    region: Region = None,
) -> None:
    """Show an execution's status, parameters and steps (a cache hit names the execution whose
    outputs it reused); with ``--last N``, the newest N executions (status, start, failure reason:
    why a scheduled retraining registered no model). ``--local``: the local runner's executions."""
    if local:
        _local_status(execution_arn, last, store)
        return
    import boto3

    from pipeline import aws

    region = resolve_region(region)
    client = boto3.client("sagemaker", region_name=region)
    name = named_pipeline(pipeline_name)
    none = _none_yet(name)
    if last:
        with executions_of(client, name, region):
            found = aws.recent_executions(client, name, last)
        _show_recent(name, found, none)
        return
    with executions_of(client, name, region):
        arn = execution_arn or aws.latest_execution(client, name)
    if not arn:
        console.print(none, highlight=False)
        raise typer.Exit(1)
    state = aws.execution_status(client, arn)
    _show(state)
    print(json.dumps(state, indent=2, default=str))


def _local_status(execution: str | None, last: int | None, store: Path) -> None:
    from pipeline.local import show
    from pipeline.local.store import Store

    local_store = Store(store)
    if last:
        none = f"no executions yet in {local_store.root} (medtx run --local makes them)"
        _show_recent(f"the local store {local_store.root}", show.recent_executions(local_store, last), none)
        return
    state = show.execution_state(local_store, _local_execution(local_store, execution))
    _show(state, f" --local --store {store}")
    print(json.dumps(state, indent=2, default=str))


def _local_execution(local_store, execution: str | None) -> dict:
    """A local execution's record by id or ARN, else the newest; exit 1 when there is none."""
    from pipeline.local.runner import executions

    found = executions(local_store)
    if execution:  # an id, or the ARN the runner gave it
        found = [r for r in found if execution.rsplit("/", 1)[-1] == r["PipelineExecutionId"]]
    if not found:
        where = f"no execution {execution}" if execution else "no executions yet"
        console.print(f"{where} in {local_store.root} (medtx run --local makes them)", highlight=False)
        raise typer.Exit(1)
    return found[-1]


@app.command()
def logs(
    step: Annotated[str, typer.Argument(help="the step: Preprocess, Train, Evaluate, RecordChampion, ...")],
    execution_arn: ExecutionArg = None,
    lines: Annotated[int, typer.Option(min=1, max=10000, help="how many of the last lines")] = 50,
    pipeline_name: PipelineName = None,
    local: LocalRuns = False,
    store: StoreDir = Path(DEFAULT_STORE),
    region: Region = None,
) -> None:
    """The last lines a step's job wrote: its CloudWatch Logs on SageMaker (where a failed processing
    job's error is: its failure reason only says to look there), or with ``--local`` the step's log."""
    if local:
        _local_logs(step, execution_arn, lines, store)
        return
    import boto3

    from pipeline import aws

    region = resolve_region(region)
    client = boto3.client("sagemaker", region_name=region)
    name = named_pipeline(pipeline_name)
    with executions_of(client, name, region):
        arn = execution_arn or aws.latest_execution(client, name)
    if not arn:
        console.print(_none_yet(name), highlight=False)
        raise typer.Exit(1)
    steps = {s["name"]: s for s in aws.execution_steps(client, arn)}
    found = _named_step(step, steps, arn)
    if not found.get("job"):
        _no_job(step, found.get("cached_from"), found["note"])
    shown = aws.job_log_lines(boto3.client("logs", region_name=region), found["job"], lines)
    console.print(
        f"{step}: {found['job']['name']} ({aws.JOB_LOG_GROUPS[found['job']['kind']]})", highlight=False
    )
    print("\n".join(shown) if shown else "(nothing logged yet)")


def _local_logs(step: str, execution: str | None, lines: int, store: Path) -> None:
    from collections import deque

    from pipeline.local import show
    from pipeline.local.store import Store

    local_store = Store(store)
    record = _local_execution(local_store, execution)
    state = show.execution_state(local_store, record)
    found = _named_step(step, {s["name"]: s for s in state["steps"]}, record["PipelineExecutionId"])
    if not found.get("job"):
        _no_job(step, found.get("cached_from"), found["note"], f" --local --store {store}")
    log = Path(record["Steps"][step].get("Log", ""))
    if not log.is_file():
        console.print(f"[red]error:[/red] the log of step {step} is missing: {log}", highlight=False)
        raise typer.Exit(1)
    console.print(f"{step}: {found['job']['name']} ({log})", highlight=False)
    with log.open(errors="replace") as f:
        print("".join(deque(f, maxlen=lines)), end="")


def _named_step(step: str, steps: dict, execution: str) -> dict:
    if step not in steps:
        console.print(
            f"[red]error:[/red] execution {execution.rsplit('/', 1)[-1]} has no step {step!r}; "
            f"its steps: {', '.join(steps)}",
            highlight=False,
        )
        raise typer.Exit(2)
    return steps[step]


def _no_job(step: str, cached_from: str | None, note: str, logs_option: str = "") -> None:
    if cached_from:
        source = cached_from.rsplit("/", 1)[-1]
        console.print(
            f"step {step} was a cache hit: its job ran in execution {source} "
            f"(medtx logs {step} {source}{logs_option})",
            highlight=False,
        )
    else:
        console.print(
            f"step {step} runs no job{f' ({note})' if note else ''}: nothing logged", highlight=False
        )
    raise typer.Exit(1)


def _none_yet(name: str) -> str:
    return f"no executions of {name} yet (medtx start makes one)"


def _show_recent(name: str, found: list[dict], none: str) -> None:
    """The newest executions (``aws.recent_executions``' rows), a table and then the JSON (``[]``
    when there are none: ``none`` says so instead of an empty table)."""
    if not found:
        console.print(none, highlight=False)
        print("[]")
        return
    table = Table(title=f"Executions of {name}, newest first")
    for column in ("execution", "status", "started", "display name", "failure reason"):
        table.add_column(column, overflow="fold")
    for execution in found:
        table.add_row(*(execution[k] for k in ("id", "status", "started", "display_name", "failure_reason")))
    console.print(table)
    print(json.dumps(found, indent=2))


@app.command()
def run(
    local: Annotated[
        bool, typer.Option("--local", help="run every step on this machine (no Docker, no AWS account)")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="Kaggle-layout CSV to run on (local; default: the bundled synthetic CSV)"),
    ] = None,
    profile: Annotated[
        str, typer.Option(help=f"local parameter profile: {', '.join(LOCAL_PROFILES)}")
    ] = "quick",
    params: Params = None,
    sets: Sets = None,
    store: StoreDir = Path(DEFAULT_STORE),
    cache: Annotated[bool, typer.Option(help="reuse earlier outputs of unchanged steps")] = True,
    new_execution: Annotated[
        bool, typer.Option("--new-execution", help="start afresh instead of resuming an unfinished run")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="echo the jobs' output")] = False,
    region: Region = None,
    role: Role = None,
    bucket: Bucket = None,
) -> None:
    """Run the pipeline: ``--local`` on this machine, else upsert it to SageMaker and start it."""
    if not local:
        upsert(region=region, role=role, bucket=bucket, sets=sets)
        start(
            params=params, wait=True, poll_seconds=30.0, display_name=None, pipeline_name=None, region=region
        )
        return
    from pipeline import aws
    from pipeline.cli.settings import changed_settings
    from pipeline.definition import INPUT_VERSION, SOURCE_COMMIT
    from pipeline.local.runner import ExecutionFailedError, ExecutionStoppedError, LocalRun, build
    from pipeline.local.show import LiveReporter, summary
    from pipeline.local.store import Store, StoreError
    from pipeline.synthetic import BUNDLED_CSV

    if profile not in LOCAL_PROFILES:
        raise typer.BadParameter(f"{profile!r}; choose {', '.join(LOCAL_PROFILES)}", param_hint="--profile")
    overrides = {**settings(sets), **({"bucket": bucket} if bucket else {})}
    with failing(ValueError, code=2):
        given = {p["Name"]: p["Value"] for p in aws.parse_params(params)}
        cfg = PipelineConfig().replace(**overrides)
    if data is not None and "InputDataUri" in given:
        raise typer.BadParameter("give --data or --param InputDataUri=..., not both", param_hint="--data")
    if data is not None and not data.is_file():
        raise typer.BadParameter(f"{data} is not a file", param_hint="--data")
    if data is not None:  # the file's faults named now, by its own name, not minutes later in a job's log
        from pipeline.compare import container_module

        with failing(ValueError, code=2):  # preprocessing's own check: encoding, records, columns
            container_module("preprocess", "medtx_preprocess").read_raw_csv(data)
    local_store = Store(store)
    if "InputDataUri" not in given:  # the raw CSV goes where the pipeline reads it by default
        local_store.put_file(data or BUNDLED_CSV, cfg.input_data_uri)
    if INPUT_VERSION not in given:  # as medtx start does: the data's identity joins the record
        uri = given.get("InputDataUri", cfg.input_data_uri)
        with failing(StoreError, ValueError, code=2):  # the names and bytes, as the step cache digests them
            aws.check_input_files(uri, [name for name, _ in local_store.objects(uri)])
            digest = local_store.digest(uri)
        given[INPUT_VERSION] = aws.short_version(digest)
    revision = aws.source_revision()  # the checkout the definition is built from
    console.print(
        f"Local run: profile {profile}, data {data or BUNDLED_CSV.name}, store {local_store.root}, "
        f"settings: {changed_settings(cfg)}",
        highlight=False,
    )
    with console.status("building the pipeline definition"):
        text, _ = build(local_store, overrides)
    listed = [{"Name": name, "Value": value} for name, value in given.items()]
    commit = aws.with_source_commit(listed, json.loads(text), revision)
    if commit:  # recorded on the model package, as medtx start records it
        given[SOURCE_COMMIT] = commit
    runner = LocalRun(
        store=local_store,
        definition_text=text,
        parameters={**LOCAL_PROFILES[profile].parameters(), **given},
        use_cache=cache,
        new_execution=new_execution,
        pipeline_name=cfg.pipeline_name,
        display_name=aws.display_name(revision),
    )
    try:
        with LiveReporter(console, verbose) as reporter:
            runner.reporter = reporter
            runner.run()
    except ExecutionStoppedError as err:
        console.print(f"[yellow]{err}[/yellow]")
        raise typer.Exit(130) from err
    except ExecutionFailedError as err:
        if runner.execution:
            summary(console, local_store, runner.execution)
        console.print(f"[red]failed:[/red] {err}", highlight=False)
        raise typer.Exit(1) from err
    summary(console, local_store, runner.execution)
    _local_dashboard(local_store)


def _local_dashboard(store) -> None:
    from pipeline import dashboard as dash

    try:
        console.print(f"Dashboard: {dash.write(store)}", highlight=False, soft_wrap=True)
    except dash.DashboardError as err:
        console.print(f"no dashboard: {err}")
