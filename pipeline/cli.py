"""``medtx``: build, upsert, start and watch the SageMaker pipeline, or run it here (``run --local``).

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

from pipeline.config import LOCAL_PROFILES, PipelineConfig
from pipeline.local import DEFAULT_STORE

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")
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


StoreDir = Annotated[
    Path, typer.Option("--store", help="local store: S3 as folders, runs, registry, endpoints")
]


def _region(region: str | None, fallback: str | None = None) -> str:
    """``--region``, else AWS_REGION / AWS_DEFAULT_REGION, else ``fallback``; one clear error if none."""
    from pipeline.config import ENV_REGION, from_env

    found = from_env(ENV_REGION, region) or fallback
    if not found:
        console.print("[red]error:[/red] missing region: pass --region or set AWS_REGION")
        raise typer.Exit(2)
    return found


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

    client = boto3.client("sagemaker", region_name=_region(region))
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
            running = [s["name"] for s in state["steps"] if s["status"] in ("Executing", "Starting")]
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
    for step in state["steps"]:
        table.add_row(step["name"], step["status"], step["failure"] or "")
    console.print(table)
    if state["failure_reason"]:
        console.print(f"[red]{state['failure_reason']}[/red]")


@app.command()
def status(
    execution_arn: Annotated[str | None, typer.Argument(help="default: the latest execution")] = None,
    pipeline_name: Annotated[str | None, typer.Option(help="default: the config's pipeline name")] = None,
    last: Annotated[
        int | None, typer.Option(min=1, help="list the newest this many executions instead")
    ] = None,
    region: Region = None,
) -> None:
    """Show an execution's status, parameters and steps; with ``--last N``, the newest N executions
    (status, start, failure reason: why a scheduled retraining registered no model)."""
    import boto3

    from pipeline import aws

    client = boto3.client("sagemaker", region_name=_region(region))
    name = pipeline_name or PipelineConfig().pipeline_name
    if last:
        found = aws.recent_executions(client, name, last)
        table = Table(title=f"Executions of {name}, newest first")
        for column in ("execution", "status", "started", "display name", "failure reason"):
            table.add_column(column, overflow="fold")
        for execution in found:
            table.add_row(
                *(execution[k] for k in ("id", "status", "started", "display_name", "failure_reason"))
            )
        console.print(table)
        print(json.dumps(found, indent=2))
        return
    arn = execution_arn or aws.latest_execution(client, name)
    if not arn:
        console.print("no executions yet")
        raise typer.Exit(1)
    state = aws.execution_status(client, arn)
    _show(state)
    print(json.dumps(state, indent=2, default=str))


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
        start(params=params, wait=True, poll_seconds=30.0, pipeline_name=None, region=region)
        return
    from pipeline import aws
    from pipeline.local.runner import ExecutionFailedError, ExecutionStoppedError, LocalRun, build
    from pipeline.local.show import LiveReporter, summary
    from pipeline.local.store import Store
    from pipeline.synthetic import BUNDLED_CSV

    if profile not in LOCAL_PROFILES:
        raise typer.BadParameter(f"{profile!r}; choose {', '.join(LOCAL_PROFILES)}", param_hint="--profile")
    overrides = {**_overrides(sets), **({"bucket": bucket} if bucket else {})}
    try:
        given = {p["Name"]: p["Value"] for p in aws.parse_params(params)}
        cfg = PipelineConfig().replace(**overrides)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    if data is not None and "InputDataUri" in given:
        raise typer.BadParameter("give --data or --param InputDataUri=..., not both", param_hint="--data")
    if data is not None and not data.is_file():
        raise typer.BadParameter(f"{data} is not a file", param_hint="--data")
    local_store = Store(store)
    if "InputDataUri" not in given:  # the raw CSV goes where the pipeline reads it by default
        local_store.put_file(data or BUNDLED_CSV, cfg.input_data_uri)
    console.print(
        f"Local run: profile {profile}, data {data or BUNDLED_CSV.name}, store {local_store.root}",
        highlight=False,
    )
    with console.status("building the pipeline definition"):
        text, _ = build(local_store, overrides)
    runner = LocalRun(
        store=local_store,
        definition_text=text,
        parameters={**LOCAL_PROFILES[profile].parameters(), **given},
        use_cache=cache,
        new_execution=new_execution,
        pipeline_name=cfg.pipeline_name,
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
        console.print(f"Dashboard: {dash.write(store)}", highlight=False)
    except dash.DashboardError as err:
        console.print(f"no dashboard: {err}")


models_app = typer.Typer(
    help="Model package versions: the local registry of `medtx run --local`; with --sagemaker, "
    "the SageMaker Model Registry (approving a version there is what deploys it)."
)
endpoint_app = typer.Typer(
    help="Local endpoints started by `medtx run --local`; with --sagemaker, the deployed one."
)
app.add_typer(models_app, name="models")
app.add_typer(endpoint_app, name="endpoint")

SageMakerFlag = Annotated[
    bool,
    typer.Option("--sagemaker", help="in SageMaker (AWS_REGION), not the local store"),
]
Group = Annotated[str | None, typer.Option(help="model package group (default: the config's)")]
Version = Annotated[int, typer.Argument(help="model package version")]


def _group(group: str | None) -> str:
    return group or PipelineConfig().model_package_group


def _difference(figures: dict[str, float]) -> tuple[str, str]:
    """Model minus baseline macro-F1, and its paired bootstrap interval where the evaluation computed one."""
    if figures.get("baseline_macro_f1") is None or "macro_f1" not in figures:
        return "", ""
    interval = (
        f"{figures['difference_low']:+.4f} to {figures['difference_high']:+.4f}"
        if "difference_low" in figures
        else ""
    )
    return f"{figures['macro_f1'] - figures['baseline_macro_f1']:+.4f}", interval


def _packages_table(title: str, found: list[dict]) -> Table:
    table = Table(title=title)
    columns = ("version", "status", "macro_f1", "baseline", "difference", "interval", "created", "execution")
    for column in columns:  # folded, never cut short, in a narrow terminal
        table.add_column(column, overflow="fold", no_wrap=column in ("macro_f1", "baseline", "difference"))
    for package in found:
        figures = package.get("Figures", {})
        table.add_row(
            str(package["ModelPackageVersion"]),
            package["ModelApprovalStatus"],
            f"{figures['macro_f1']:.4f}" if "macro_f1" in figures else "-",
            f"{figures['baseline_macro_f1']:.4f}" if figures.get("baseline_macro_f1") is not None else "-",
            *_difference(figures),
            package["CreationTime"],
            package.get("PipelineExecutionId", ""),
        )
    return table


@models_app.command("list")
def models_list(
    group: Group = None,
    last: Annotated[int, typer.Option(min=1, help="the newest this many versions")] = 10,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the packages as JSON")] = False,
) -> None:
    """List model package versions with approval status and figures (macro-F1, the TF-IDF baseline's,
    the difference with its bootstrap interval); with ``--sagemaker`` also the version the endpoint
    serves."""
    from pipeline import registry

    if sagemaker:
        import boto3

        region = _region(region)
        client = boto3.client("sagemaker", region_name=region)
        try:
            found, total = registry.packages(
                client, boto3.client("s3", region_name=region), _group(group), last
            )
        except registry.RegistryError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(2) from err
        where = f"SageMaker, {region}"
    else:
        from pipeline.local import registry as local_registry
        from pipeline.local.store import Store

        every = local_registry.packages(Store(store), _group(group))
        found, total = every[-last:], len(every)
        where = f"store {store}"
    if not found:
        console.print(f"no model packages in group {_group(group)} ({where})")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(found, indent=2))
    else:
        Console().print(_packages_table(f"Model packages: {_group(group)} ({where})", found))
    if total > len(found):
        console.print(f"the newest {len(found)} of {total} versions (--last N shows more)")
    for package in found:
        if "FiguresError" in package:
            console.print(f"version {package['ModelPackageVersion']}: no figures: {package['FiguresError']}")
    if sagemaker:
        _print_serving(found, *_served(client))
    else:
        from pipeline.local import endpoint

        name = PipelineConfig().endpoint_name
        record = endpoint.current(Store(store), name)
        if record is not None and record["EndpointStatus"] == "InService":
            _print_serving(found, name, record["EndpointStatus"], record.get("ModelPackageArn"))


@models_app.command("show")
def models_show(
    version: Version,
    group: Group = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """What to review before approving a version: its held-out figures with their intervals beside the
    TF-IDF baseline's, every class weakest first, and the most frequent confusions."""
    from pipeline import registry
    from pipeline.report import print_classes, print_figures

    try:
        if sagemaker:
            import boto3

            region = _region(region)
            client = boto3.client("sagemaker", region_name=region)
            package = registry.describe(client, _group(group), version)
            read = registry.s3_reader(boto3.client("s3", region_name=region))
        else:
            from pipeline.local import registry as local_registry
            from pipeline.local.store import Store

            local = Store(store)
            package = local_registry.describe(local, _group(group), version)

            def read(uri: str) -> bytes:
                return local.path(uri).read_bytes()

        uri = registry.statistics_uri(package)
        try:
            report, per_class = registry.evaluation(read, uri)
        except (OSError, ValueError) as err:
            raise registry.RegistryError(f"cannot read the evaluation {uri}: {err}") from err
    except registry.RegistryError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    out = Console()
    note = f", note: {package['ApprovalDescription']}" if package.get("ApprovalDescription") else ""
    out.print(
        f"{package['ModelPackageArn']}: {package['ModelApprovalStatus']}{note}\nevaluation: {uri}",
        highlight=False,
    )
    print_figures(out, report)
    if isinstance(per_class, str):
        console.print(f"no per-class table: {per_class}", highlight=False)
    else:
        print_classes(out, per_class, report)


def _served(client) -> tuple[str, str | None, str | None]:
    """The config's endpoint: its name, its status (None: no such endpoint) and the model package it
    serves (None: a model not made from a package)."""
    from pipeline import deploy as dep

    name = PipelineConfig().endpoint_name
    found = dep.served_package(client, name)
    return (name, *found) if found else (name, None, None)


def _print_serving(found: list[dict], name: str, status: str | None, package: str | None) -> None:
    """Which listed version the endpoint serves."""
    if status is None:
        console.print(f"no endpoint {name} yet: approving a version deploys it")
        return
    versions = [p["ModelPackageVersion"] for p in found if p["ModelPackageArn"] == package]
    direct = "a model deployed from no package (the pipeline's own deploy step)"
    served = f"version {versions[0]}" if versions else (package or direct)
    console.print(f"endpoint {name} ({status}) serves {served}", highlight=False)


def _set_status(
    version: int, status: str, group: str | None, store: Path, note: str, sagemaker: bool, region: str | None
) -> None:
    from pipeline import registry

    try:
        if sagemaker:
            import boto3

            client = boto3.client("sagemaker", region_name=_region(region))
            package = registry.set_status(client, _group(group), version, status, note)
        else:
            from pipeline.local import registry as local_registry
            from pipeline.local.store import Store

            package = local_registry.set_status(Store(store), _group(group), version, status, note)
    except registry.RegistryError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    arn = package["ModelPackageArn"]
    console.print(f"{arn}: {package['ModelApprovalStatus']}", highlight=False)
    if not sagemaker:
        return
    if status == "Approved":
        console.print(
            "where the stack of infra/template.yaml runs, this starts its deploy project; follow it "
            "with `medtx endpoint status --sagemaker`"
        )
        return
    name, _, served = _served(client)
    if served == arn:
        console.print(
            f"[yellow]warning:[/yellow] endpoint {name} still serves this version: approve another "
            "(or `medtx deploy --model-package-arn <an approved one>`) to replace it"
        )


@models_app.command("approve")
def models_approve(
    version: Version,
    group: Group = None,
    note: Annotated[str, typer.Option(help="approval description")] = "",
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Approve a model package version."""
    _set_status(version, "Approved", group, store, note, sagemaker, region)


@models_app.command("reject")
def models_reject(
    version: Version,
    group: Group = None,
    note: Annotated[str, typer.Option(help="rejection reason")] = "",
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Reject a model package version."""
    _set_status(version, "Rejected", group, store, note, sagemaker, region)


EndpointName = Annotated[str | None, typer.Option("--name", help="endpoint name (default: the config's)")]


@endpoint_app.command("status")
def endpoint_status(
    name: EndpointName = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Show a local endpoint's record (and whether it answers), or with ``--sagemaker`` what the
    deployed endpoint serves: model package, instances, scaling range, alarm states."""
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    if sagemaker:
        import boto3

        from pipeline import deploy as dep

        region = _region(region)
        try:
            found = dep.describe(
                boto3.client("sagemaker", region_name=region),
                name or PipelineConfig().endpoint_name,
                cloudwatch=boto3.client("cloudwatch", region_name=region),
                autoscaling=boto3.client("application-autoscaling", region_name=region),
            )
        except dep.DeployError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(1) from err
        print(json.dumps(found, indent=2))
        return
    try:
        record = endpoint.status(Store(store), name or PipelineConfig().endpoint_name)
    except endpoint.EndpointError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    print(json.dumps(record, indent=2))


@endpoint_app.command("stop")
def endpoint_stop(name: EndpointName = None, store: StoreDir = Path(DEFAULT_STORE)) -> None:
    """Stop a local endpoint's server."""
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    try:
        record = endpoint.stop(Store(store), name or PipelineConfig().endpoint_name)
    except endpoint.EndpointError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    console.print(f"stopped {record['EndpointName']}")


@endpoint_app.command("delete")
def endpoint_delete(
    name: EndpointName = None,
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Delete the deployed endpoint (``--sagemaker``) with its rollback alarms, its scaling, and the
    endpoint configs and models ``medtx deploy`` made for it; the model packages stay, so ``medtx
    deploy`` brings it back. Local endpoints are stopped with ``medtx endpoint stop``."""
    import boto3

    from pipeline import deploy as dep

    if not sagemaker:
        console.print(
            "[red]error:[/red] only a SageMaker endpoint is deleted (--sagemaker); "
            "`medtx endpoint stop` stops a local one"
        )
        raise typer.Exit(2)
    name = name or PipelineConfig().endpoint_name
    region = _region(region)
    if not yes:
        typer.confirm(f"Delete endpoint {name} in {region} (it stops serving now)?", abort=True)
    try:
        done = dep.delete(
            boto3.client("sagemaker", region_name=region),
            boto3.client("cloudwatch", region_name=region),
            boto3.client("application-autoscaling", region_name=region),
            name,
        )
    except dep.DeployError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    configs, models = len(done["endpoint_configs"]), len(done["models"])
    console.print(f"deleted endpoint {name}, {configs} endpoint config(s), {models} model(s)")
    if done["kept"]:
        console.print(f"kept, as medtx deploy did not make them: {', '.join(done['kept'])}")
    print(json.dumps(done, indent=2))


@app.command()
def invoke(
    texts: Annotated[list[str] | None, typer.Argument(help="transcript text(s) to classify")] = None,
    top_k: Annotated[int, typer.Option(help="also return the k best labels")] = 1,
    body: Annotated[
        Path | None,
        typer.Option(
            help="send this file as the request body instead (JSON)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    name: EndpointName = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Send text to the local endpoint (``POST /invocations``), or with ``--sagemaker`` to the deployed
    one, and print its answer."""
    from pipeline import deploy as dep
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    if body is not None:
        payload = body.read_bytes()
    elif texts:
        payload = dep.request_body(texts, top_k)
    else:
        raise typer.BadParameter("give text(s) to classify or --body FILE", param_hint="TEXTS")
    if sagemaker:
        import boto3

        runtime = boto3.client("sagemaker-runtime", region_name=_region(region))
        try:
            answer = dep.invoke(runtime, name or PipelineConfig().endpoint_name, payload)
        except dep.DeployError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(1) from err
        print(answer.decode("utf-8", errors="replace"))
        return
    try:
        status_code, answer = endpoint.invoke(Store(store), name or PipelineConfig().endpoint_name, payload)
    except endpoint.EndpointError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    print(answer.decode("utf-8", errors="replace"))
    if status_code != 200:
        console.print(f"[red]HTTP {status_code}[/red]")
        raise typer.Exit(1)


@app.command()
def dashboard(
    store: StoreDir = Path(DEFAULT_STORE),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="default: <store>/dashboard.html")] = None,
    execution: Annotated[
        str | None, typer.Option(help="execution id (default: the latest evaluated)")
    ] = None,
) -> None:
    """Write the local dashboard (EDA + model performance) as one self-contained HTML file."""
    from pipeline import dashboard as dash
    from pipeline.local.store import Store

    try:
        path = dash.write(Store(store), out, execution)
    except dash.DashboardError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    console.print(f"wrote {path}")


@app.command()
def quicksight(
    principal: Annotated[str, typer.Option(help="QuickSight user or group ARN to share with")] = "",
    account_id: Annotated[str | None, typer.Option(help="AWS account id (default: from STS)")] = None,
    label_map: Annotated[
        str | None,
        typer.Option(
            help="label_map.json, a path or s3:// URI (default: the bucket's preprocess/train/ copy)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write the requests to --out, call nothing")
    ] = False,
    out: Annotated[Path, typer.Option(help="where --dry-run writes")] = Path("quicksight-requests"),
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="only start a SPICE refresh of the datasets (after an execution)"),
    ] = False,
    region: Region = None,
    bucket: Bucket = None,
) -> None:
    """Create or update the QuickSight data sources, datasets and the two dashboards (idempotent)."""
    from pipeline import quicksight as qs
    from pipeline.config import ENV_BUCKET, from_env

    if refresh:
        import time as clock

        import boto3

        region = _region(region)
        account_id = account_id or boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        client = boto3.client("quicksight", region_name=region)
        for name, state in qs.refresh(client, account_id, f"medtx-{int(clock.time())}").items():
            console.print(f"{state:>12} SPICE refresh of {qs.PREFIX}-{name}")
        return

    bucket = from_env(ENV_BUCKET, bucket) or PipelineConfig().bucket
    region = _region(region, "us-east-1" if dry_run else None)
    if not principal and not dry_run:
        console.print("[red]error:[/red] --principal (a QuickSight user or group ARN) is required")
        raise typer.Exit(2)
    uri = label_map or f"s3://{bucket}/preprocess/train/label_map.json"
    try:
        if uri.startswith("s3://"):
            import boto3

            name, _, key = uri[5:].partition("/")
            body = boto3.client("s3", region_name=region).get_object(Bucket=name, Key=key)["Body"].read()
            labels = qs.labels_from(json.loads(body))
        else:
            labels = qs.labels_from(json.loads(Path(uri).read_text()))
    except Exception as err:  # a missing file, no credentials, a malformed label map: one clear line
        console.print(f"[red]error:[/red] cannot read the label map {uri}: {err}")
        raise typer.Exit(2) from err
    if dry_run:
        account_id = account_id or "123456789012"
    elif not account_id:
        import boto3

        account_id = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    target = qs.Target(
        account_id=account_id, region=region, bucket=bucket, principal=principal or "PRINCIPAL_ARN"
    )
    built = qs.requests(target, labels)
    if dry_run:
        written = qs.write(built, out)
        console.print(f"wrote {len(written)} request files under {out} ({len(labels)} classes)")
        return
    import boto3

    done = qs.apply(
        built, target, boto3.client("s3", region_name=region), boto3.client("quicksight", region_name=region)
    )
    for resource, action in done.items():
        console.print(f"{action:>8} {resource}")


schedule_app = typer.Typer(help="The EventBridge rule that starts the pipeline for retraining.")
app.add_typer(schedule_app, name="schedule")
PipelineName = Annotated[str | None, typer.Option(help="default: the config's pipeline name")]


def _events(region: str | None):
    import boto3

    region = _region(region)
    return boto3.client("events", region_name=region), region


def _schedule_call(action):
    from pipeline import schedule as sched

    try:
        return action()
    except (sched.ScheduleError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err


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
    """Create or update the retraining schedule, with pipeline parameters (``--param Name=Value``)."""
    import boto3

    from pipeline import aws
    from pipeline import schedule as sched
    from pipeline.config import from_env

    role_arn = from_env("SCHEDULE_ROLE_ARN", role_arn)
    if not role_arn:
        console.print("[red]error:[/red] missing --role-arn (or SCHEDULE_ROLE_ARN)")
        raise typer.Exit(2)
    events, region = _events(region)
    name = pipeline_name or PipelineConfig().pipeline_name
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    target = sched.pipeline_arn(region, account, name)
    arn = _schedule_call(
        lambda: sched.put(events, name, target, role_arn, expression, aws.parse_params(params), not disabled)
    )
    console.print(f"schedule {arn} -> {target}")


@schedule_app.command("show")
def schedule_show(pipeline_name: PipelineName = None, region: Region = None) -> None:
    """Show the schedule: expression, state, target and parameters."""
    from pipeline import schedule as sched

    events, _ = _events(region)
    print(
        json.dumps(
            _schedule_call(lambda: sched.show(events, pipeline_name or PipelineConfig().pipeline_name)),
            indent=2,
        )
    )


def _set_schedule_state(enabled: bool, pipeline_name: str | None, region: str | None) -> None:
    from pipeline import schedule as sched

    events, _ = _events(region)
    name = pipeline_name or PipelineConfig().pipeline_name
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
    name = pipeline_name or PipelineConfig().pipeline_name
    _schedule_call(lambda: sched.delete(events, name))
    console.print(f"deleted {sched.rule_name(name)}")


@app.command()
def deploy(
    model_package_arn: Annotated[
        str | None, typer.Option(help="an Approved package (default: the group's latest Approved)")
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="the Approved package of this version of the group, instead of an ARN")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="serve the package of the local registry on the local endpoint")
    ] = False,
    store: StoreDir = Path(DEFAULT_STORE),
    endpoint_name: Annotated[
        str | None, typer.Option(help="default: the config's endpoint name", envvar="MEDTX_ENDPOINT_NAME")
    ] = None,
    instance_type: Annotated[
        str | None, typer.Option(help="default: the config's endpoint instance type")
    ] = None,
    instance_count: Annotated[
        int | None, typer.Option(help="fleet size; with autoscaling, the minimum (default: the config's)")
    ] = None,
    max_instance_count: Annotated[
        int | None,
        typer.Option(
            help="autoscale up to this many (default: the config's; equal: no autoscaling)",
            envvar="MEDTX_ENDPOINT_MAX_INSTANCE_COUNT",
        ),
    ] = None,
    invocations_per_instance: Annotated[
        int | None,
        typer.Option(
            help="autoscaling target: invocations per instance per minute (default: the config's)",
            envvar="MEDTX_ENDPOINT_INVOCATIONS_PER_INSTANCE",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="follow the endpoint to InService; fail if the update rolled back (implied by autoscaling)"
        ),
    ] = False,
    smoke: Annotated[
        bool,
        typer.Option(help="when waiting: once InService, send one request; fail unless it gets a prediction"),
    ] = True,
    force: Annotated[
        bool,
        typer.Option(
            help="update even when the endpoint already serves the package on the same fleet "
            "(otherwise only its alarms and scaling are brought up to the settings)"
        ),
    ] = False,
    canary_percent: Annotated[int, typer.Option(help="capacity share that takes traffic first")] = 10,
    canary_wait_seconds: Annotated[int, typer.Option(help="how long the canary is watched")] = 600,
    role: Role = None,
    region: Region = None,
) -> None:
    """Deploy a model package: a new endpoint, or a blue/green canary update with rollback on alarms;
    optionally autoscaled (target tracking on invocations per instance). With ``--local``, a package
    of the local registry on the local endpoint (blue/green, smoke request)."""
    if local:
        _deploy_local(store, endpoint_name, model_package_arn, version, force)
        return
    import boto3

    from pipeline import deploy as dep
    from pipeline import registry
    from pipeline.config import ENV_KMS, ENV_REGION, ENV_ROLE, from_env

    cfg = PipelineConfig()
    region, role = from_env(ENV_REGION, region), from_env(ENV_ROLE, role)
    if not region or not role:
        console.print(
            f"[red]error:[/red] missing {'region (AWS_REGION)' if not region else f'role ({ENV_ROLE})'}"
        )
        raise typer.Exit(2)
    sagemaker = boto3.client("sagemaker", region_name=region)
    from botocore.exceptions import ClientError

    try:
        minimum = instance_count or cfg.endpoint_instance_count
        settings = dep.DeploySettings(
            endpoint_name=endpoint_name or cfg.endpoint_name,
            role_arn=role,
            instance_type=instance_type or cfg.endpoint_instance_type,
            instance_count=minimum,
            max_instance_count=max_instance_count
            if max_instance_count is not None
            else max(minimum, cfg.endpoint_max_instance_count),
            invocations_per_instance=invocations_per_instance or cfg.endpoint_invocations_per_instance,
            kms_key_id=from_env(ENV_KMS, cfg.kms_key_id),
            canary_percent=canary_percent,
            canary_wait_seconds=canary_wait_seconds,
            network_isolation=cfg.network_isolation_endpoint,
        )
        if version is not None:
            arn = registry.package_arn(sagemaker, cfg.model_package_group, version)
        else:
            arn = model_package_arn or dep.latest_approved(sagemaker, cfg.model_package_group)
        if wait or settings.autoscales:
            console.print(
                f"deploying {arn} to {settings.endpoint_name}; waiting until it is InService "
                f"(an update: the canary takes {settings.canary_percent}% "
                f"for {settings.canary_wait_seconds} s)"
            )
        done = dep.deploy(
            sagemaker,
            boto3.client("cloudwatch", region_name=region),
            settings,
            arn,
            autoscaling=boto3.client("application-autoscaling", region_name=region),
            wait=wait,
            runtime=boto3.client("sagemaker-runtime", region_name=region) if smoke else None,
            force=force,
        )
    except (dep.DeployError, registry.RegistryError, ClientError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    console.print(f"endpoint {done['endpoint']} {done['action']}: {done['model_package']}")
    print(json.dumps(done, indent=2))


def _deploy_local(
    store: Path, endpoint_name: str | None, arn: str | None, version: int | None, force: bool
) -> None:
    from pipeline.local import endpoint
    from pipeline.local import registry as local_registry
    from pipeline.local.store import Store

    cfg, local = PipelineConfig(), Store(store)
    try:
        package = local_registry.to_deploy(local, cfg.model_package_group, version, arn)
        record = endpoint.deploy_package(local, endpoint_name or cfg.endpoint_name, package, force)
    except (local_registry.RegistryError, endpoint.EndpointError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    console.print(f"endpoint {record['EndpointName']} {record['Action']}: {record['ModelPackageArn']}")
    print(json.dumps(record, indent=2))


def main() -> None:
    """The ``medtx`` entry point. What AWS answers about the caller's setup (no region or credentials, a
    refused call such as AccessDenied or a pipeline that does not exist, an unreachable endpoint) is one
    line and exit status 2, not a traceback; ``MEDTX_DEBUG=1`` shows the traceback."""
    import os

    try:
        from botocore.exceptions import BotoCoreError, ClientError

        aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
    except ImportError:  # without the pipeline extra no command reaches AWS
        aws_errors = ()
    try:
        app()
    except aws_errors as err:
        if os.environ.get("MEDTX_DEBUG"):
            raise
        console.print(f"[red]error:[/red] AWS: {err} (MEDTX_DEBUG=1 shows the traceback)", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
