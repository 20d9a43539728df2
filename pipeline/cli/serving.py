"""Serving: ``deploy`` (a model package to the endpoint, in SageMaker or locally), ``invoke``, and
``medtx endpoint`` (status, start, stop, delete, predictions); ``medtx predict`` is in ``predict``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import (
    EndpointName,
    Region,
    Role,
    SageMakerFlag,
    StoreDir,
    Terminal,
    app,
    config,
    console,
    failing,
    named_endpoint,
    named_values,
    resolve_region,
)
from pipeline.local import DEFAULT_STORE
from scripts.medtx_config import NOTE_FIELD

endpoint_app = typer.Typer(
    help="Local endpoints started by `medtx run --local`; with --sagemaker, the deployed one."
)
app.add_typer(endpoint_app, name="endpoint")


@endpoint_app.command("status")
def endpoint_status(
    name: EndpointName = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Show a local endpoint's record (and whether it answers), or with ``--sagemaker`` what the
    deployed endpoint serves: model package, instances, scaling range, alarm states. A line says it
    in words; the record follows as JSON."""
    from pipeline import deploy as dep
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    if sagemaker:
        import boto3

        region = resolve_region(region)
        with failing(dep.DeployError, code=1):
            found = dep.describe(
                boto3.client("sagemaker", region_name=region),
                named_endpoint(name),
                cloudwatch=boto3.client("cloudwatch", region_name=region),
                autoscaling=boto3.client("application-autoscaling", region_name=region),
            )
        scaling = found.get("autoscaling")
        fleet = f"on {found['instance_count']} x {found['instance_type']}" + (
            f", autoscaling {scaling['min']}-{scaling['max']}" if scaling else ""
        )
        alarms = found.get("alarms") or {}
        raised = sorted(alarm for alarm, state in alarms.items() if state == "ALARM")
        said = _endpoint_line(
            found["endpoint"],
            found["status"],
            found.get("model_package") or found["model"],
            fleet,
            found["capture_percent"],
            found.get("failure_reason"),
        )
        if alarms:
            said += f"; alarms: {', '.join(raised)} in ALARM" if raised else "; no alarm raised"
        console.print(said, highlight=False)
        print(json.dumps(found, indent=2))
        return
    with failing(endpoint.EndpointError, code=1):
        record = endpoint.status(Store(store), named_endpoint(name))
    said = _endpoint_line(
        record["EndpointName"],
        record["EndpointStatus"],
        record.get("ModelPackageArn") or record["ModelName"],
        f"at {record['Url']}" if record.get("Pid") else "",
        dep.capture_percent_of(record.get("DataCaptureConfig")),
        record.get("FailureReason"),
    )
    if record["EndpointStatus"] == "OutOfService":
        said += f"; `medtx endpoint start --store {store}` starts it again"
    console.print(said, highlight=False)
    print(json.dumps(record, indent=2))


def _endpoint_line(
    name: str, status: str, serves: str, where: str, capture_percent: int, failure: str | None
) -> str:
    """An endpoint's status in one line: what it serves (a model package, else a model), ``where``
    ("at URL", "on N x TYPE"), whether it captures, and why it failed."""
    said = f"endpoint {name}: {status}, {serves}" + (f" {where}" if where else "")
    said += f"; capturing {capture_percent}% of its answers" if capture_percent else "; data capture off"
    return said + (f"; failed: {failure}" if failure else "")


@endpoint_app.command("start")
def endpoint_start(name: EndpointName = None, store: StoreDir = Path(DEFAULT_STORE)) -> None:
    """Start a stopped local endpoint again: the model it served, with its settings and data
    capture, after a smoke request (one that answers is left as it is)."""
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    with failing(endpoint.EndpointError, code=1):
        record = endpoint.restart(Store(store), named_endpoint(name))
    served = record.get("ModelPackageArn") or record["ModelName"]
    said = f"{record['EndpointName']}: {record['Action']} ({served} at {record['Url']})"
    console.print(said, highlight=False)


@endpoint_app.command("stop")
def endpoint_stop(name: EndpointName = None, store: StoreDir = Path(DEFAULT_STORE)) -> None:
    """Stop a local endpoint's server."""
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    with failing(endpoint.EndpointError, code=1):
        record = endpoint.stop(Store(store), named_endpoint(name))
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
    name = named_endpoint(name)
    region = resolve_region(region)
    if not yes:
        typer.confirm(f"Delete endpoint {name} in {region} (it stops serving now)?", abort=True)
    with failing(dep.DeployError, code=1):
        done = dep.delete(
            boto3.client("sagemaker", region_name=region),
            boto3.client("cloudwatch", region_name=region),
            boto3.client("application-autoscaling", region_name=region),
            name,
        )
    configs, models = len(done["endpoint_configs"]), len(done["models"])
    console.print(f"deleted endpoint {name}, {configs} endpoint config(s), {models} model(s)")
    if done["kept"]:
        console.print(f"kept, as medtx deploy did not make them: {', '.join(done['kept'])}")
    print(json.dumps(done, indent=2))


@endpoint_app.command("predictions")
def endpoint_predictions(
    name: EndpointName = None,
    hours: Annotated[int, typer.Option(min=1, help="read the captures of the last this many hours")] = 24,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish",
            help="also add the check to the drift history (capture.HISTORY_KEY in the capture bucket; "
            "the dashboards chart it) and, with --sagemaker, put the figures in CloudWatch (namespace "
            "medtx): the stack's scheduled drift check, whose alarm reads PredictionPSI",
        ),
    ] = False,
) -> None:
    """What the endpoint has been predicting, from its data capture (``medtx deploy [--local]
    --capture-percent N``): each class's share of the traffic beside its share of the served version's
    validation predictions, the population stability index, the model's mean confidence in both, and
    the traffic's accuracy estimated from its scores (``capture.estimate_accuracy``).
    With ``--sagemaker`` the deployed endpoint, else the local one. ``--publish`` adds the check to the
    bucket's drift history (``capture.HISTORY_KEY``; in the local store for a local endpoint, where
    ``medtx dashboard`` charts it) and, with ``--sagemaker``, puts the figures in CloudWatch
    (``capture.metric_data``); a window without predictions then publishes a count of 0. An endpoint
    deployed since without capture is read where ``medtx deploy`` captured before, and said to be."""
    from botocore.exceptions import ClientError

    from pipeline import capture
    from pipeline import deploy as dep
    from pipeline.local import endpoint

    name = named_endpoint(name)
    now = datetime.now(UTC)
    with failing(dep.DeployError, endpoint.EndpointError, capture.CaptureError, code=1):
        served = _served_capture(name, store, sagemaker, region)
        off = not served["destination"] or not served["percent"]
        # a deploy that turned capture off leaves what it captured before where medtx deploy puts it
        destination = served["destination"] or served["usual_destination"]
        try:
            read = capture.read_answers(served["files"](destination), now - timedelta(hours=hours))
        except ClientError as err:
            if not off:
                raise
            read = {"records": 0, "location": f"{destination} ({err.response['Error']['Code']})"}
        if off and not read["records"]:
            raise capture.CaptureError(
                f"endpoint {name} captures nothing: deploy it with --capture-percent N (in an account: "
                f"the stack parameter EndpointCapturePercent); nothing captured before in the last "
                f"{hours} h at {read['location']}"
            )
        if off:
            console.print(
                f"[yellow]note:[/yellow] endpoint {name} captures nothing now (deployed without "
                "--capture-percent); these are the answers it captured before, which may be another "
                "version's",
                highlight=False,
            )
        validation, note, selective = _validation_predictions(served["package"], served["registry"])
        review_below = (selective.get("at_accuracy") or {}).get("threshold")
        if read["answers"].empty and publish:
            # a quiet day is a figure to publish, not a failed check
            result: dict[str, Any] = {"predictions": 0}
        elif read["answers"].empty:
            raise capture.CaptureError(capture.no_traffic(read, hours))
        else:
            result = capture.drift(read["answers"], validation, review_below, selective.get("held_out"))
    summary = {k: v for k, v in read.items() if k != "answers"}
    result = {
        "endpoint": name,
        "hours": hours,
        "model_package": served["package"],
        "capture_percent": 0 if off else served["percent"],
        **summary,
        **result,
    }
    if publish:
        if sagemaker:
            import boto3

            figures = capture.metric_data(name, result, now)
            cloudwatch = boto3.client("cloudwatch", region_name=resolve_region(region))
            cloudwatch.put_metric_data(Namespace=capture.NAMESPACE, MetricData=figures)
            console.print(
                f"put {', '.join(f['MetricName'] for f in figures)} in CloudWatch "
                f"({capture.NAMESPACE}, EndpointName={name})",
                highlight=False,
            )
        bucket, _ = capture.prefix(destination, name)
        with failing(capture.CaptureError, code=1):
            kept = served["keep_history"](bucket, capture.history_rows(result, now))
        console.print(f"added this check to {kept}", highlight=False)
        if not sagemaker:
            console.print(f"`medtx dashboard --store {store}` charts the history", highlight=False)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out = Terminal()
    out.print(
        f"endpoint {name}, the last {hours} h: {result['predictions']} predictions in {read['records']} "
        f"captured records ({read['records_without_prediction']} without one"
        + (f", {read['batch_records']} from medtx predict left out" if read["batch_records"] else "")
        + (f", {read['smoke_records']} deploy smoke request(s) left out" if read["smoke_records"] else "")
        + f"), {read['location']}",
        highlight=False,
    )
    if not result["predictions"]:
        return
    if note:
        console.print(note, highlight=False)
    if result["predictions"] < capture.FEW:
        console.print(
            f"[yellow]note:[/yellow] {result['predictions']} predictions are few for shares, a PSI and "
            f"an accuracy estimate (read them from about {capture.FEW} on; --hours widens the window)",
            highlight=False,
        )
    table = Table(title="Predicted classes" + ("" if validation is None else ", largest change first"))
    columns = ["label", "traffic", "share"]
    if validation is not None:
        columns += ["validation share", "difference"]
    for column in columns:
        table.add_column(column, justify="left" if column == "label" else "right")
    for c in result["classes"]:
        cells = [c["label"], str(c["traffic"]), f"{c['traffic_share']:.1%}"]
        if validation is not None:
            cells += [f"{c['validation_share']:.1%}", f"{c['difference']:+.1%}"]
        table.add_row(*cells)
    out.print(table)
    confidence = f"mean top score {result['mean_score']:.3f}"
    if validation is not None:
        confidence += f" (validation: {result['validation_mean_score']:.3f})"
        out.print(capture.reading(result), highlight=False)
        out.print(f"total variation distance {result['total_variation']:.3f}; {confidence}", highlight=False)
        out.print(
            f"estimated accuracy {result['estimated_accuracy']:.3f} ({100 * capture.ESTIMATE_LEVEL:.0f}%: "
            f"{result['estimated_accuracy_low']:.3f}-{result['estimated_accuracy_high']:.3f}; validation: "
            f"{result['validation_accuracy']:.3f}), from how often each score was right on validation",
            highlight=False,
        )
        if "review_share" in result:
            held = "held_out_review_share_low" in result
            out.print(
                f"to review: {result['review_share']:.1%} ({100 * capture.ESTIMATE_LEVEL:.0f}%: "
                f"{result['review_share_low']:.1%}-{result['review_share_high']:.1%}) of the predictions "
                f"scored below {result['review_threshold']:.3f}, the served version's threshold for its "
                f"target accuracy (validation notes: {result['validation_review_share']:.1%}"
                + (
                    f"; held out {result['held_out_review_share_low']:.1%}-"
                    f"{result['held_out_review_share_high']:.1%}"
                    if held
                    else ""
                )
                + ")",
                highlight=False,
            )
    else:
        out.print(confidence, highlight=False)


def _served_capture(name: str, store: Path, sagemaker: bool, region: str | None) -> dict[str, Any]:
    """Where endpoint ``name`` captures to (``usual_destination``: where ``medtx deploy`` would), at what
    share, the package it serves, ``files(destination)``
    for ``capture.read_answers``, ``keep_history(bucket, rows)`` for a published check, and the
    ``registry`` its package's evaluation is read from."""
    from pipeline import capture
    from pipeline.cli.sources import open_registry

    opened = open_registry(store, sagemaker, region)
    if sagemaker:
        import boto3

        from pipeline import deploy as dep
        from pipeline.config import ENV_BUCKET, from_env

        region = resolve_region(region)
        found = dep.describe(boto3.client("sagemaker", region_name=region), name)
        s3 = boto3.client("s3", region_name=region)
        return {
            "destination": found.get("capture_uri"),
            "usual_destination": config().endpoint_capture_uri(from_env(ENV_BUCKET, None)),
            "percent": found["capture_percent"],
            "package": found.get("model_package"),
            "files": lambda destination: capture.s3_files(s3, destination, name),
            "keep_history": lambda bucket, rows: capture.write_history(s3, bucket, rows),
            "registry": opened,
        }
    from pipeline.deploy import capture_percent_of
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    local = Store(store)
    record = endpoint.status(local, name)
    captured = record.get("DataCaptureConfig") or {}
    return {
        "destination": captured.get("DestinationS3Uri"),
        "usual_destination": config().endpoint_capture_uri(),
        "percent": capture_percent_of(captured),
        "package": record.get("ModelPackageArn"),
        "files": lambda destination: capture.store_files(local, destination, name),
        "keep_history": lambda bucket, rows: capture.store_history(local, bucket, rows),
        "registry": opened,
    }


def _validation_predictions(package: str | None, opened: Any) -> tuple[Any, str | None, dict[str, Any]]:
    """The served version's ``model-performance.csv`` (or None and why it is not there), and its
    selective-prediction figures, whose ``at_accuracy.threshold`` is the review threshold: the lowest
    score whose validation notes reached the target accuracy (``evaluation.json``'s ``selective``;
    empty for an evaluation without them)."""
    from pipeline import compare, registry

    if not package:
        return None, "the endpoint serves no model package: no validation predictions to compare with", {}
    uri = opened.evaluation_uri(package)
    if uri is None:
        return None, f"{package} records no evaluation: no validation predictions to compare with", {}
    rows = registry.beside(uri, compare.PERFORMANCE_CSV)
    try:
        validation = compare.read_performance(opened.read(rows))
    except (OSError, ValueError) as err:
        return None, f"cannot read {rows}: {err}", {}
    try:
        selective = json.loads(opened.read(uri)).get("selective") or {}
    except (OSError, ValueError) as err:
        return validation, f"cannot read {uri}: {err}; no review share", {}
    return validation, None, selective


@app.command()
def invoke(
    texts: Annotated[list[str] | None, typer.Argument(help="transcript text(s) to classify")] = None,
    top_k: Annotated[int, typer.Option(help="also return the k best labels")] = 1,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help='another text field of the note, as NAME=VALUE (e.g. description="Chest pain."), for a '
            "model trained on several; TEXT is then the one note's transcription. Repeat for each",
        ),
    ] = None,
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

    fields = named_values(field, "--field", "NAME=VALUE")
    if body is not None:
        if texts or fields:
            raise typer.BadParameter(
                "it is the whole request: give no TEXT or --field with it", param_hint="--body"
            )
        payload = body.read_bytes()
    elif fields:
        payload = dep.request_body([_note(texts or [], fields)], top_k)
    elif texts:
        payload = dep.request_body(texts, top_k)
    else:
        raise typer.BadParameter("give text(s) to classify or --body FILE", param_hint="TEXTS")
    if sagemaker:
        import boto3

        runtime = boto3.client("sagemaker-runtime", region_name=resolve_region(region))
        with failing(dep.DeployError, code=1):
            answer = dep.invoke(runtime, named_endpoint(name), payload)
        print(answer.decode("utf-8", errors="replace"))
        return
    with failing(endpoint.EndpointError, code=1):
        status_code, answer = endpoint.invoke(Store(store), named_endpoint(name), payload)
    print(answer.decode("utf-8", errors="replace"))
    if status_code != 200:
        console.print(f"[red]HTTP {status_code}[/red]")
        raise typer.Exit(1)


def _note(texts: list[str], fields: dict[str, str]) -> dict[str, str]:
    """One note as the endpoint reads an object: ``--field`` values, with TEXT as its transcription."""
    if len(texts) > 1:
        raise typer.BadParameter(
            f"names the fields of one note: give it one TEXT (the transcription), not {len(texts)}",
            param_hint="--field",
        )
    if texts and NOTE_FIELD in fields:
        raise typer.BadParameter(
            f"TEXT is the note's {NOTE_FIELD}: give it or --field {NOTE_FIELD}=..., not both",
            param_hint="--field",
        )
    return {**fields, NOTE_FIELD: texts[0]} if texts else fields


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
    capture_percent: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=100,
            help="capture this share of the endpoint's answers (never the requests) to "
            "`s3://<bucket>/endpoint-capture/` (default: the config's, 0: none)",
            envvar="MEDTX_ENDPOINT_CAPTURE_PERCENT",
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
    if capture_percent is None:
        capture_percent = config().endpoint_capture_percent
    if local:
        _deploy_local(store, endpoint_name, model_package_arn, version, force, capture_percent)
        return
    import boto3

    from pipeline import deploy as dep
    from pipeline import registry
    from pipeline.config import ENV_BUCKET, ENV_KMS, ENV_ROLE, from_env

    cfg = config()
    region, role = resolve_region(region), from_env(ENV_ROLE, role)
    if not role:
        console.print(f"[red]error:[/red] missing role ({ENV_ROLE})")
        raise typer.Exit(2)
    sagemaker = boto3.client("sagemaker", region_name=region)
    from botocore.exceptions import ClientError

    with failing(dep.DeployError, registry.RegistryError, ClientError, code=2):
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
            capture_percent=capture_percent,
            capture_uri=cfg.endpoint_capture_uri(from_env(ENV_BUCKET, None)),
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
    console.print(f"endpoint {done['endpoint']} {done['action']}: {done['model_package']}")
    if wait or settings.autoscales:  # the outcome is known: it serves the package
        champion = cfg.champion_uri(from_env(ENV_BUCKET, None), settings.endpoint_name)
        try:
            kept = dep.record_champion(boto3.client("s3", region_name=region), sagemaker, arn, champion)
        except ClientError as err:
            print(json.dumps(done, indent=2))
            console.print(
                f"[red]error:[/red] deployed, but the champion later evaluations compare with could not "
                f"be recorded in {champion}: {err}"
            )
            raise typer.Exit(1) from err
        console.print(f"champion for later evaluations: {kept}", highlight=False)
    else:
        console.print(
            "the champion later evaluations compare with is recorded once the outcome is known: "
            "deploy with --wait"
        )
    print(json.dumps(done, indent=2))


def _deploy_local(
    store: Path,
    endpoint_name: str | None,
    arn: str | None,
    version: int | None,
    force: bool,
    capture_percent: int,
) -> None:
    from pipeline import deploy as dep
    from pipeline.local import endpoint
    from pipeline.local import registry as local_registry
    from pipeline.local.store import Store

    cfg, local = config(), Store(store)
    capture = dep.capture_request(capture_percent, cfg.endpoint_capture_uri()) if capture_percent else None
    with failing(local_registry.RegistryError, endpoint.EndpointError, code=2):
        package = local_registry.to_deploy(local, cfg.model_package_group, version, arn)
        record = endpoint.deploy_package(
            local, endpoint_name or cfg.endpoint_name, package, force, capture=capture
        )
    console.print(f"endpoint {record['EndpointName']} {record['Action']}: {record['ModelPackageArn']}")
    kept = endpoint.record_champion(local, package, cfg.champion_uri(endpoint=record["EndpointName"]))
    console.print(f"champion for later evaluations: {kept}", highlight=False)
    print(json.dumps(record, indent=2))
