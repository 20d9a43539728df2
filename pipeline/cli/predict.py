"""``medtx predict``: a CSV of transcripts scored through the endpoint (local, or the deployed one), or
with ``--batch-transform`` through a Batch Transform job of the endpoint's model, SageMaker's or the
local runner's (``pipeline.batch_predict``, ``pipeline.batch_transform``, ``pipeline.local.transform``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipeline.cli.common import (
    EndpointName,
    Region,
    SageMakerFlag,
    StoreDir,
    app,
    config,
    console,
    failing,
    named_endpoint,
    named_values,
    resolve_region,
)
from pipeline.cli.executions import print_job_log
from pipeline.local import DEFAULT_STORE

if TYPE_CHECKING:
    from pipeline.batch_transform import Location, Staged


@dataclass(frozen=True)
class Backlog:
    """What every way of scoring a CSV shares: its rows (``batch_predict.read_texts``), the output
    CSV, the alternatives and review flag each row gets, and the texts per request."""

    rows: Any
    target: Path
    top_k: int
    batch_size: int
    review_below: float | None


@app.command()
def predict(
    csv: Annotated[
        Path,
        typer.Argument(
            help="CSV of transcripts (or gzip-compressed, or a zip archive holding one)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    column: Annotated[
        str, typer.Option(help="the column holding the text (the transcription)")
    ] = "transcription",
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="another text field the model was trained on, as FIELD=COLUMN (e.g. "
            "description=description); repeat for each",
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="a column to copy to each output row ('': the one with an empty header, as mtsamples' index)"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output CSV (default: `<csv>-predictions.csv` beside it)"),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, help="also write the k best labels")] = 1,
    review_below: Annotated[
        str | None,
        typer.Option(
            metavar="SCORE|served|guaranteed",
            help="mark each row scored below this score (0 to 1) for review (a `review` column of 1 or "
            "0); `served`: the threshold the endpoint's model version reached its target accuracy at "
            "on its validation notes (selective prediction, as `medtx models show` gives it); "
            "`guaranteed`: its threshold that reaches the target with the evaluation's confidence "
            "(fewer notes answered)",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="texts per request (within the endpoint's limits)")
    ] = 32,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="requests in flight at once (an endpoint of several instances answers them side by "
            "side); the endpoint's live traffic shares it",
        ),
    ] = 1,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="send only the rows the output CSV notes 'not scored' (a run stopped by a refusal or "
            "Ctrl-C) and fill them in; the same CSV and options as the run that wrote it",
        ),
    ] = False,
    name: EndpointName = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    batch_transform: Annotated[
        bool,
        typer.Option(
            "--batch-transform",
            help="a Batch Transform job scores the rows with the endpoint's model on its own instances "
            "(large backlogs; the endpoint's traffic is untouched); without --sagemaker the local "
            "runner's transform job, with the local endpoint's model",
        ),
    ] = False,
    instance_type: Annotated[
        str | None, typer.Option(help="--batch-transform: instance type (default: endpoint_instance_type)")
    ] = None,
    instance_count: Annotated[int, typer.Option(min=1, help="--batch-transform: instances")] = 1,
    model_name: Annotated[
        str | None,
        typer.Option(help="--batch-transform: a SageMaker (or local) model (default: the endpoint's)"),
    ] = None,
    job: Annotated[
        str | None,
        typer.Option(
            help="--batch-transform: collect this earlier job's answers instead of starting one (same "
            "CSV and options)"
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(help="--batch-transform: wait for the job and write the CSV (--no-wait: start it only)"),
    ] = True,
    region: Region = None,
) -> None:
    """Score every row of a CSV through the endpoint (local, or with --sagemaker the deployed one).

    The rows go in requests within the endpoint's limits (texts and bytes per request); the output
    CSV has one row per input row, in order: row number (and --id-column), label, score, the k best
    with --top-k, a review flag with --review-below, and a note for a row without text (kept, not
    sent). Each request carries an InferenceId the endpoint's data capture keeps, so the
    prediction-drift check leaves a scored backlog out of the endpoint's traffic. With
    --batch-transform the same requests go, one a line, to a SageMaker Batch Transform job running the
    endpoint's model (without --sagemaker, to the local runner's transform job): the output is the
    same CSV."""
    import itertools
    import uuid

    from rich.progress import Progress

    from pipeline import batch_predict as bp
    from pipeline import capture
    from pipeline import deploy as dep
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    limits = config().container.inference
    target = out or bp.predictions_path(csv)
    columns = {
        name: source.strip() for name, source in named_values(field, "--field", "FIELD=COLUMN").items()
    }
    with failing(bp.PredictError, code=2):
        if target.resolve() == csv.resolve():
            raise bp.PredictError(f"--out {target} is the input CSV: name another file")
        if target.is_dir():  # said now, not after every row was scored
            raise bp.PredictError(f"--out {target}: is a folder: name a file in it")
        rows = bp.read_texts(csv, column, id_column, columns)
        if top_k > limits.max_top_k:
            raise bp.PredictError(f"--top-k must be at most {limits.max_top_k} (the endpoint's limit)")
        if batch_transform and (concurrency > 1 or resume):
            raise bp.PredictError(
                "--concurrency and --resume are for requests to the endpoint: a transform job's "
                "instances take one request each at a time (--instance-count), and it runs whole"
            )
        if (job or instance_type or model_name or instance_count > 1 or not wait) and not batch_transform:
            raise bp.PredictError(
                "--job, --instance-type, --instance-count, --model-name and --no-wait go with "
                "--batch-transform"
            )
        if job and not wait:
            raise bp.PredictError("--job collects a job's answers, which needs --wait")
        if batch_transform and not sagemaker and (job or instance_type or not wait):
            raise bp.PredictError(
                "--job, --instance-type and --no-wait go with --sagemaker: a local transform job runs "
                "to its end here, in this command"
            )
        try:  # its folder made once the request is sound, as medtx dashboard and quicksight --out make theirs
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise bp.PredictError(f"--out {target}: cannot make its folder ({err})") from err
    endpoint_name = named_endpoint(name)
    with failing(bp.PredictError, code=2):
        threshold = _review_threshold(review_below, model_name)
    served: str | None = None  # the model version whose threshold it is
    if review_below in SERVED_THRESHOLDS:
        with failing(bp.PredictError, code=1):
            threshold, served = _served_threshold(endpoint_name, store, sagemaker, region, review_below, job)
    backlog = Backlog(rows, target, top_k, batch_size, threshold)
    if batch_transform and not sagemaker:
        _predict_by_local_transform(backlog, endpoint_name, model_name, instance_count, Store(store))
        return
    if batch_transform:
        _predict_by_transform(
            backlog, endpoint_name, model_name, instance_type, instance_count, job, wait, region
        )
        return
    numbers, run = itertools.count(1), uuid.uuid4().hex[:12]

    def inference_id() -> str:
        return f"{capture.BATCH_INFERENCE_PREFIX}{run}-{next(numbers)}"

    if sagemaker:
        import boto3

        runtime = boto3.client("sagemaker-runtime", region_name=resolve_region(region))

        def send(body: bytes) -> bytes:
            return dep.invoke(runtime, endpoint_name, body, inference_id())
    else:
        local_store = Store(store)

        def send(body: bytes) -> bytes:
            status_code, answer = endpoint.invoke(
                local_store, endpoint_name, body, inference_id=inference_id()
            )
            if status_code != 200:
                shown = answer[:300].decode("utf-8", errors="replace")
                raise dep.DeployError(f"endpoint {endpoint_name} answered HTTP {status_code}: {shown}")
            return answer

    texts = asked = bp.inputs(rows)
    settings = {  # what the answers depend on, besides the texts: a resumed run asks the same
        "endpoint": f"{endpoint_name} ({'SageMaker' if sagemaker else 'local'})",
        "review threshold": "none" if threshold is None else repr(threshold),
        # a redeploy between a stopped run and its --resume is refused: one output, one model version
        "model version": served or _served_version(endpoint_name, store, sagemaker, region),
    }
    earlier: Any = None
    pending: list[int] = []
    if resume:  # the rows a stopped run left, and those whose text changed since: only those are sent
        with failing(bp.PredictError, code=2):
            columns = bp.table(rows.head(0), [], top_k, review_below=threshold).columns
            earlier, pending, changed = bp.earlier_output(target, rows, list(columns), asked, settings)
        if changed:
            shown = ", ".join(str(i + 1) for i in changed[:10]) + (", ..." if len(changed) > 10 else "")
            console.print(
                f"{len(changed):,} row(s) changed since the stopped run (rows {shown}): scored again",
                highlight=False,
            )
        if not pending:
            console.print(f"nothing to resume: {target} holds no row a stopped run left", highlight=False)
            bp.stop_record(target).unlink(missing_ok=True)
            return
        left = set(pending)
        texts = [t if i in left else "" for i, t in enumerate(texts)]
    with failing(bp.PredictError, code=1), Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"scoring {len(texts):,} rows", total=sum(1 for t in texts if t))
        try:
            found = bp.score(
                texts,
                send,
                batch_size,
                limits.max_texts,
                limits.max_payload_bytes,
                top_k,
                progress=lambda n: progress.advance(task, n),
                concurrency=concurrency,
            )
        except bp.ScoringStoppedError as stop:  # what was scored is kept: --resume sends the rest
            progress.stop()
            interrupted = isinstance(stop.error, KeyboardInterrupt)
            said = "[red]interrupted[/red]" if interrupted else f"[red]error:[/red] {stop.error}"
            if earlier is None and not any(stop.found):  # nothing to keep: no output to resume
                stale = f" ({target} is an earlier run's, left as it was)" if target.exists() else ""
                console.print(f"{said}\nno row was scored, so no output was written{stale}", highlight=False)
                raise typer.Exit(130 if interrupted else 1) from stop
            stopped = "interrupted" if interrupted else "the endpoint refused a request"
            written, _ = _output(backlog, stop.found, stopped, earlier, pending)
            bp.record_stop(target, asked, settings)
            console.print(
                f"{said}\nwrote {target} with the {int((written['label'] != '').sum()):,} row(s) scored; "
                f"the rest have the note '{bp.NOT_SCORED}...' (the same command with --resume sends them; "
                f"{bp.stop_record(target).name} records what it read)",
                highlight=False,
            )
            raise typer.Exit(130 if interrupted else 1) from stop
    version = settings["model version"]  # named when one was read (an ARN)
    by = f"by {endpoint_name}" + (f" ({version})" if version.startswith("arn:") else "")
    _write(backlog, found, by, earlier, pending)


#: What ``--resume`` records as the served version when none is read: the endpoint is not in service,
#: or serves a model of no registry.
NO_VERSION = "none (not in service, or a model of no registry)"


def _served_version(endpoint_name: str, store: Path, sagemaker: bool, region: str | None) -> str:
    """The model package version endpoint ``endpoint_name`` serves (its ARN; ``NO_VERSION`` when it
    is not in service or serves a model deployed from elsewhere), which ``--resume`` checks has not
    changed since the stopped run. SageMaker's answer takes three Describe calls (the endpoint, its
    config, its model), in the stack's model approver policy beside InvokeEndpoint; a caller refused
    them is told that a redeploy then goes unnoticed, and scores on ("unknown")."""
    from botocore.exceptions import BotoCoreError, ClientError

    from pipeline.cli.sources import open_registry

    try:
        return open_registry(store, sagemaker, region).served(endpoint_name) or NO_VERSION
    except (BotoCoreError, ClientError) as err:
        console.print(
            f"[yellow]note:[/yellow] cannot read which model version {endpoint_name} serves ({err}): "
            "a --resume of this run cannot tell a redeploy in between",
            highlight=False,
        )
        return "unknown"


#: ``--review-below served``: the served version's own threshold; ``guaranteed``: the one that
#: guarantees its target accuracy. Each reads ``evaluation.json``'s ``selective``, at this key.
SERVED_THRESHOLDS = {"served": "at_accuracy", "guaranteed": "guaranteed"}


def _review_threshold(value: str | None, model_name: str | None) -> float | None:
    """``--review-below`` as a score from 0 to 1 (None: no review column, or one of
    ``SERVED_THRESHOLDS``, resolved later by ``_served_threshold``). ``PredictError`` for anything
    else, and for ``served`` or ``guaranteed`` with a model of the caller's choosing, whose version
    the endpoint does not name."""
    from pipeline import batch_predict as bp

    if value is None or value in SERVED_THRESHOLDS:
        if value and model_name:
            raise bp.PredictError(
                f"--review-below {value} reads the endpoint's model version: with --model-name, give the "
                "threshold as a number"
            )
        return None
    try:
        threshold = float(value)
    except ValueError:
        threshold = float("nan")
    if not 0 <= threshold <= 1:
        raise bp.PredictError(
            f"--review-below takes a score from 0 to 1, served or guaranteed; got {value!r}"
        )
    return threshold


def _served_threshold(
    endpoint_name: str,
    store: Path,
    sagemaker: bool,
    region: str | None,
    kind: str = "served",
    job: str | None = None,
) -> tuple[float, str]:
    """The review threshold of the model version endpoint ``endpoint_name`` serves (``kind``, a key of
    ``SERVED_THRESHOLDS``): the lowest score whose validation notes reached the target accuracy
    (``served``: ``evaluation.json``'s ``selective.at_accuracy.threshold``) or reach it with the
    evaluation's confidence (``guaranteed``: ``selective.guaranteed.threshold``), said on the terminal
    with the held-out figures beside it, and the version's package ARN. With ``job`` (a transform job's
    answers collected, ``--job``), the version of the model the job ran, which a redeploy since has not
    changed. ``PredictError`` naming what is missing: a version, its evaluation, or a threshold."""
    import json

    from pipeline import batch_predict as bp
    from pipeline.cli.sources import open_registry
    from pipeline.report import selective_reach

    asked = f"--review-below {kind}"
    opened = open_registry(store, sagemaker, region)
    package = _job_package(job, region) if job else opened.served(endpoint_name)
    if not package:
        raise bp.PredictError(
            f"{asked}: transform job {job} ran a model of no registry version (or there is no such job): "
            "give the threshold as a number"
            if job
            else f"{asked}: endpoint {endpoint_name} serves no model version of a registry "
            "(not in service, or deployed from a model of its own): give the threshold as a number"
        )
    uri = opened.evaluation_uri(package)
    if uri is None:
        raise bp.PredictError(f"{asked}: {package} records no evaluation")
    try:
        selective = json.loads(opened.read(uri)).get("selective")
    except (OSError, ValueError) as err:
        raise bp.PredictError(f"{asked}: cannot read {uri}: {err}") from err
    found = (selective or {}).get(SERVED_THRESHOLDS[kind]) or {}
    threshold = found.get("threshold")
    if threshold is None:
        if not selective or not found:
            why = "(it predates selective prediction)" if not selective else "(it predates that threshold)"
        elif kind == "guaranteed":
            why = (
                f"(no score threshold found that reaches {selective['accuracy_target']:.0%} accuracy with "
                f"{found['confidence_level']:.0%} confidence on its validation notes)"
            )
        else:
            why = (
                f"(no score threshold reached {selective['accuracy_target']:.0%} accuracy on its "
                "validation notes)"
            )
        raise bp.PredictError(f"{asked}: {package}'s evaluation gives no review threshold {why}")
    how = (
        f"with {found['confidence_level']:.0%} confidence"
        if kind == "guaranteed"
        else "on its validation notes"
    )
    console.print(
        f"review below {threshold:g}, the threshold of {package} for {selective['accuracy_target']:.0%} "
        f"accuracy {how} ({selective_reach(selective)})",
        highlight=False,
    )
    return float(threshold), package


def _job_package(job: str, region: str | None) -> str | None:
    """The model package version of the model transform job ``job`` ran (DescribeTransformJob, then
    DescribeModel); None for no such job, or a model of no registry."""
    import boto3

    from pipeline import deploy as dep

    sagemaker = boto3.client("sagemaker", region_name=resolve_region(region))
    described = dep.found_or_none(sagemaker.describe_transform_job, TransformJobName=job)
    return dep.model_package_of(sagemaker, described["ModelName"]) if described else None


def _stage(
    backlog: Backlog, instance_count: int, job: str | None = None
) -> tuple[list[str | dict[str, str]], Staged, Location]:
    """A transform job's input: the backlog's texts, the endpoint's requests for them over one file per
    instance (``batch_transform.stage``), and the job's folder (``job``'s, else a new job's) under the
    bucket's ``batch_transform_prefix``. Rows without text only: ``PredictError``."""
    from pipeline import batch_predict as bp
    from pipeline import batch_transform as bt
    from pipeline.config import ENV_BUCKET, from_env

    cfg = config()
    limits = cfg.container.inference
    texts = bp.inputs(backlog.rows)
    staged = bt.stage(
        texts, backlog.batch_size, limits.max_texts, limits.max_payload_bytes, backlog.top_k, instance_count
    )
    if not staged.requests:
        raise bp.PredictError("no row has text: nothing to score")
    at = bt.Location(
        from_env(ENV_BUCKET, None) or cfg.bucket, cfg.batch_transform_prefix, job or bt.job_name()
    )
    return texts, staged, at


def _predict_by_transform(
    backlog: Backlog,
    endpoint_name: str,
    model_name: str | None,
    instance_type: str | None,
    instance_count: int,
    job: str | None,
    wait: bool,
    region: str | None,
) -> None:
    """``medtx predict --sagemaker --batch-transform``: stage the requests, start the job (or take
    ``job``), wait, join the answers to the rows (``pipeline.batch_transform``)."""
    import boto3
    from botocore.exceptions import ClientError

    from pipeline import batch_predict as bp
    from pipeline import batch_transform as bt
    from pipeline import deploy as dep
    from pipeline.config import ENV_KMS, from_env

    cfg = config()
    limits = cfg.container.inference
    region = resolve_region(region)
    sagemaker, s3 = boto3.client("sagemaker", region_name=region), boto3.client("s3", region_name=region)
    with failing(bp.PredictError, dep.DeployError, bt.TransformError, ClientError, code=1):
        texts, staged, at = _stage(backlog, instance_count, job)
        if job:
            bt.check_input(s3, staged, at)
            console.print(
                f"transform job {job}: {bt.input_note(staged)}; waiting for it to end", highlight=False
            )
        else:
            if model_name is None:
                model_name = (dep.served_model(sagemaker, endpoint_name) or ("", None))[1]
                if not model_name:
                    raise dep.DeployError(
                        f"no endpoint {endpoint_name} (or no model under it) to take the model from: "
                        "deploy one, or pass --model-name"
                    )
            chosen = instance_type or cfg.batch_transform_instance_type or cfg.endpoint_instance_type
            bt.submit(
                sagemaker,
                s3,
                staged,
                at,
                model_name,
                chosen,
                instance_count,
                limits.max_payload_bytes,
                from_env(ENV_KMS, cfg.kms_key_id),
            )
            started = (
                f"transform job {at.job}: {bt.input_note(staged)} to model {model_name} "
                f"on {instance_count} x {chosen}"
            )
            if not wait:
                console.print(
                    f"{started}; started. Its answers, once it ends: the same command with --job {at.job} "
                    "instead of --no-wait",
                    highlight=False,
                )
                return
            console.print(
                f"{started}; waiting for it to end (Ctrl-C leaves it running: collect its answers later "
                f"with the same command and --job {at.job})",
                highlight=False,
            )
        try:
            with console.status("transform job starting") as shown:
                described = bt.wait(
                    sagemaker,
                    at.job,
                    on_poll=lambda d: shown.update(f"transform job {d['TransformJobStatus']}"),
                )
        except bt.TransformError as err:  # what the container and the service said: the job's logs
            console.print(f"[red]error:[/red] {err}", highlight=False)
            print_job_log(boto3.client("logs", region_name=region), {"kind": "TransformJob", "name": at.job})
            raise typer.Exit(1) from err
        found = bt.collect(s3, staged, len(texts), at)
    _write(
        backlog,
        found,
        f"by transform job {at.job} ({bt.summary(described)}; requests and answers kept under {at.folder})",
    )


def _predict_by_local_transform(
    backlog: Backlog, endpoint_name: str, model_name: str | None, instance_count: int, store: Any
) -> None:
    """``medtx predict --batch-transform`` without --sagemaker: the same requests and job request as in
    an account, run by the local runner's transform job (``pipeline.local.transform``) with the local
    endpoint's model (or ``model_name``'s), the files in the store."""
    from pipeline import batch_predict as bp
    from pipeline import batch_transform as bt
    from pipeline.local import transform
    from pipeline.local.jobs import UnsupportedError

    limits = config().container.inference
    with failing(bp.PredictError, bt.TransformError, transform.TransformJobError, UnsupportedError, code=1):
        texts, staged, at = _stage(backlog, instance_count)
        model, model_data, environment = transform.model_source(store, endpoint_name, model_name)
        for name, body in staged.files.items():
            store.put_bytes(f"s3://{at.bucket}/{at.key('input', name)}", body)
        request = bt.transform_request(
            at.job,
            model,
            at.uri("input"),
            at.uri("output").rstrip("/"),
            "local",
            instance_count,
            limits.max_payload_bytes,
        )
        with console.status(f"local transform job {at.job}: {bt.input_note(staged)} to model {model}"):
            described = transform.run(store, request, model_data, environment)
        if described["TransformJobStatus"] != "Completed":
            raise bt.TransformError(f"transform job {at.job} failed: {described['FailureReason']}")
        found = bt.predictions(
            staged, len(texts), lambda name: store.path(f"{at.uri('output')}{name}.out").read_bytes()
        )
    _write(
        backlog,
        found,
        f"by local transform job {at.job} (model {model}, {bt.summary(described)}; requests and answers "
        f"kept under {store.path(at.folder)})",
    )


def _output(
    backlog: Backlog,
    found: list[dict[str, Any] | None],
    stopped: str = "",
    earlier: Any = None,
    pending: list[int] | None = None,
) -> tuple[Any, Any]:
    """Write the output CSV (``batch_predict.table``; ``stopped``: why rows with text have no label)
    and return its rows and the rows this run scored: all of them, or with ``earlier`` (the output a
    stopped run wrote, ``--resume``) its rows at ``pending``, the rest kept as that run wrote them."""
    from pipeline import batch_predict as bp

    written = fresh = bp.table(backlog.rows, found, backlog.top_k, stopped, backlog.review_below)
    if earlier is not None:
        fresh = written.iloc[pending or []]
        written = bp.fill_in(earlier, written, pending or [])
    written.to_csv(backlog.target, index=False)
    if not stopped:  # a whole output: a stopped run's record beside it is spent
        bp.stop_record(backlog.target).unlink(missing_ok=True)
    return written, fresh


def _write(
    backlog: Backlog,
    found: list[dict[str, Any] | None],
    by: str,
    earlier: Any = None,
    pending: list[int] | None = None,
) -> None:
    """The output CSV (``batch_predict.table``), and a line on what was scored ``by``, what was kept
    without text and, with ``review_below``, how many rows it marked for review. ``earlier``: the
    output a stopped run wrote (``--resume``), whose rows at ``pending`` are the ones scored now."""
    from pipeline import batch_predict as bp

    written, fresh = _output(backlog, found, earlier=earlier, pending=pending)
    scored = int((fresh["label"] != "").sum())
    empty = int((fresh["note"] == bp.NO_TEXT).sum())
    review = (
        f"; {int(fresh['review'].sum()):,} of them scored below {backlog.review_below:g}, marked for review"
        if backlog.review_below is not None
        else ""
    )
    kept = f" (resumed: the other {len(written) - len(fresh):,} row(s) kept as the earlier run wrote them)"
    console.print(
        f"wrote {backlog.target}: {scored:,} row(s) scored {by}{review}"
        + (f"; {empty:,} row(s) without text kept with the note {bp.NO_TEXT!r}" if empty else "")
        + (kept if earlier is not None else ""),
        highlight=False,
    )
