"""Thin boto3 helpers for the CLI: upsert, start, status. Clients are made when called, never at import."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OFFLINE_ACCOUNT_ROLE = "arn:aws:iam::123456789012:role/medtx-offline-build"
OFFLINE_REGION = "us-east-1"


@contextlib.contextmanager
def offline_aws(bucket: str) -> Iterator[None]:
    """moto's in-memory AWS with throwaway credentials and the artifact bucket: builds the definition
    (which uploads the code bundle) on a machine with no AWS account."""
    from moto import mock_aws

    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    os.environ.update({"AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline"})
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        with mock_aws():
            import boto3

            # a session of its own: nothing of the offline build touches the caller's default session
            boto3.Session(region_name=OFFLINE_REGION).client("s3").create_bucket(Bucket=bucket)
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def parse_params(pairs: list[str] | None) -> list[dict[str, str]]:
    """``Name=Value`` pairs -> SageMaker's ``PipelineParameters`` list (one clear error otherwise,
    also for a number parameter without a positive number: ``definition.check_parameter_values``)."""
    from pipeline.definition import check_parameter_values

    result = []
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"parameter {pair!r} is not Name=Value")
        result.append({"Name": name.strip(), "Value": value})
    check_parameter_values({p["Name"]: p["Value"] for p in result})
    return result


def check_params(definition: dict[str, Any], params: list[dict[str, str]]) -> None:
    from pipeline.definition import unknown_parameters

    message = unknown_parameters(definition, (p["Name"] for p in params))
    if message:
        raise ValueError(message)


def input_data_version(s3: Any, uri: str) -> str:
    """What identifies the objects the Preprocess step will read at ``uri`` (an ``S3Prefix`` input:
    every key that starts with it), for ``InputDataVersion``: a digest of their keys, ETags and sizes,
    so data replaced at the same key gives a new version and the step's cache misses. One clear
    ``ValueError`` when nothing is there (the step would fail on it minutes later)."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"InputDataUri {uri!r} is not s3://bucket/key")
    bucket, _, prefix = uri[5:].partition("/")
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        listed += [f"{o['Key']}\t{o['ETag']}\t{o['Size']}" for o in page.get("Contents", [])]
    if not listed:
        raise ValueError(f"no input data at {uri}: upload the CSV there or pass --param InputDataUri=...")
    check_input_files(uri, [line.split("\t", 1)[0] for line in listed])
    return short_version(hashlib.sha256("\n".join(sorted(listed)).encode()).hexdigest())


def check_input_files(uri: str, keys: list[str]) -> None:
    """Preprocessing reads exactly one file of its input named as ``INPUT_PATTERNS`` says (``*.csv``,
    ``*.csv.gz``, ``*.zip``; ``preprocess.read_raw_csv``): one ``ValueError`` now when the objects at
    ``uri`` hold none or several, which the Preprocess step would fail on after its instance
    started."""
    from fnmatch import fnmatchcase

    from scripts.medtx_config import INPUT_PATTERNS

    wanted = " or ".join(INPUT_PATTERNS)
    found = sorted(k for k in keys if any(fnmatchcase(k.rsplit("/", 1)[-1], p) for p in INPUT_PATTERNS))
    if len(found) == 1:
        return
    if not found:
        shown = ", ".join(sorted(keys)[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        raise ValueError(f"no input file at {uri}: Preprocess reads one named {wanted}; there are {shown}")
    raise ValueError(
        f"{len(found)} input files at {uri} ({', '.join(found)}): Preprocess reads exactly one named "
        f"{wanted}; remove the others or point InputDataUri at one"
    )


def short_version(sha256_hex: str) -> str:
    """A SHA-256 digest as an ``InputDataVersion`` value: ``sha256-`` and its first 16 hex digits."""
    return "sha256-" + sha256_hex[:16]


def with_input_version(params: list[dict[str, str]], definition: dict[str, Any], s3: Any) -> str | None:
    """Add ``InputDataVersion`` to ``params`` from the data at the execution's ``InputDataUri``
    (given, or the definition's default) unless it is given or the definition (upserted before the
    parameter existed) lacks it; returns the version added."""
    from pipeline.definition import INPUT_VERSION

    given = {p["Name"]: p["Value"] for p in params}
    declared = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}
    if INPUT_VERSION in given or INPUT_VERSION not in declared:
        return None
    version = input_data_version(s3, given.get("InputDataUri") or declared["InputDataUri"])
    params.append({"Name": INPUT_VERSION, "Value": version})
    return version


def with_source_commit(
    params: list[dict[str, str]], definition: dict[str, Any], revision: str | None
) -> str | None:
    """Add ``SourceCommit`` to ``params``: ``revision``, the commit the definition was upserted from
    (``upserted_from``), recorded on the model package, unless it is given, unknown or not a value a
    package records, or the definition (upserted before the parameter existed) lacks it; returns the
    value added."""
    from pipeline.definition import SOURCE_COMMIT, recordable

    given = {p["Name"] for p in params}
    declared = {p["Name"] for p in definition.get("Parameters", [])}
    if not revision or SOURCE_COMMIT in given or SOURCE_COMMIT not in declared or not recordable(revision):
        return None
    params.append({"Name": SOURCE_COMMIT, "Value": revision})
    return revision


#: CodeBuild's revision of the source it builds: the commit ID for a CodeCommit, GitHub or Bitbucket
#: source, and for a build CodePipeline runs, the revision its source action passed (a CodeConnections
#: source's commit ID). The zip CodePipeline hands CodeBuild holds no ``.git`` to ask.
ENV_SOURCE_REVISION = "CODEBUILD_RESOLVED_SOURCE_VERSION"
#: The pipeline's description in SageMaker (Studio shows it): this, then where it was upserted from.
DESCRIPTION = "medtx specialty classifier"
_FROM = ", upserted from commit "
DIRTY = " with uncommitted changes"
#: The checkout this package is in (an editable install's; elsewhere no git answers for it).
CHECKOUT = Path(__file__).resolve().parents[1]


def source_revision(checkout: Path = CHECKOUT) -> str | None:
    """The commit this checkout builds: CodeBuild's resolved source version, else git's HEAD, marked
    ``DIRTY`` when tracked files differ from it; None where neither says (an installed copy)."""
    given = os.environ.get(ENV_SOURCE_REVISION, "").strip()
    if given:
        return given
    git = ["git", "-C", str(checkout)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--show-toplevel", "HEAD"], capture_output=True, text=True, timeout=30
        )
        top, _, sha = head.stdout.strip().partition("\n")
        # a copy installed into a virtualenv that lies inside some other repository is not that commit
        if head.returncode != 0 or Path(top).resolve() != checkout.resolve():
            return None
        changes = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):  # no git on the machine
        return None
    return sha.strip() + (DIRTY if changes.stdout.strip() else "")


def pipeline_description(revision: str | None) -> str:
    """What ``medtx upsert`` sets as the pipeline's description: ``DESCRIPTION`` and the commit."""
    return f"{DESCRIPTION}{_FROM}{revision}" if revision else DESCRIPTION


def upserted_from(description: str | None) -> str | None:
    """The commit a pipeline's description says it was upserted from (``pipeline_description``);
    None for one upserted without it (by hand, or before descriptions named it)."""
    _, found, revision = (description or "").partition(_FROM)
    return (revision.strip() or None) if found else None


#: StartPipelineExecution's pattern for a display name: 1 to 82 letters and digits, hyphens between.
DISPLAY_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")


def display_name(revision: str | None) -> str | None:
    """An execution's display name (Studio lists executions by it, ``medtx status --last`` shows it)
    for a definition built from ``revision``: ``commit-<12 hex>``, ``-modified`` when built with
    uncommitted changes; None when ``revision`` is no commit hash (CodePipeline's revision of an S3
    source), so the name never claims a commit it does not know."""
    sha = (revision or "").removesuffix(DIRTY)
    if not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        return None
    return f"commit-{sha[:12]}" + ("-modified" if revision != sha else "")


def upsert(pipeline: Any, role: str, revision: str | None = None) -> str:
    """Create or update the pipeline; its description names ``revision`` (``source_revision``)."""
    response = pipeline.upsert(role_arn=role, description=pipeline_description(revision))
    return response["PipelineArn"]


def start(
    client: Any, pipeline_name: str, params: list[dict[str, str]], display_name: str | None = None
) -> str:
    kwargs: dict[str, Any] = {"PipelineName": pipeline_name, "PipelineParameters": params}
    if display_name:
        kwargs["PipelineExecutionDisplayName"] = display_name
    return client.start_pipeline_execution(**kwargs)["PipelineExecutionArn"]


def latest_execution(client: Any, pipeline_name: str) -> str | None:
    summaries = client.list_pipeline_executions(
        PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )["PipelineExecutionSummaries"]
    return summaries[0]["PipelineExecutionArn"] if summaries else None


def recent_executions(client: Any, pipeline_name: str, last: int | None) -> list[dict[str, Any]]:
    """The newest ``last`` executions (None: all of them), newest first: id, status, start, display
    name, failure reason."""
    pages = client.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline_name,
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"MaxItems": last} if last else {},
    )
    return [
        {
            "id": summary["PipelineExecutionArn"].rsplit("/", 1)[-1],
            "arn": summary["PipelineExecutionArn"],
            "status": summary.get("PipelineExecutionStatus"),
            "started": summary["StartTime"].strftime("%Y-%m-%dT%H:%M:%SZ") if "StartTime" in summary else "",
            "display_name": summary.get("PipelineExecutionDisplayName") or "",
            "failure_reason": summary.get("PipelineExecutionFailureReason") or "",
        }
        for page in pages
        for summary in page["PipelineExecutionSummaries"]
    ]


#: An execution in one of these states still runs (``medtx start --if-idle`` starts none beside it).
RUNNING = ("Executing", "Stopping")


def running_executions(client: Any, pipeline_name: str) -> list[dict[str, Any]]:
    """The pipeline's executions that still run, newest first (every page: one that has waited days
    for spot capacity is far down the list)."""
    return [e for e in recent_executions(client, pipeline_name, None) if e["status"] in RUNNING]


def execution_status(client: Any, arn: str) -> dict[str, Any]:
    """Status, parameters and step states of one execution."""
    described = client.describe_pipeline_execution(PipelineExecutionArn=arn)
    params = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    return {
        "arn": arn,
        "status": described["PipelineExecutionStatus"],
        "display_name": described.get("PipelineExecutionDisplayName"),
        "failure_reason": described.get("FailureReason"),
        "parameters": {p["Name"]: p["Value"] for p in params},
        "steps": with_training_metrics(client, execution_steps(client, arn)),
    }


#: The training metrics a training step's note shows (all of them are in ``medtx status``'s JSON).
NOTE_METRICS = ("validation:macro_f1", "validation:loss")


def final_metrics(metric_data: list[dict[str, Any]]) -> dict[str, float]:
    """DescribeTrainingJob's ``FinalMetricDataList`` by name: the last value of each metric the Train
    step's ``MetricDefinitions`` read from the job's output."""
    return {m["MetricName"]: m["Value"] for m in metric_data}


def metrics_note(note: str, metrics: dict[str, float]) -> str:
    """A step's note with its training job's headline metrics after it."""
    shown = ", ".join(f"{name} {metrics[name]:.4f}" for name in NOTE_METRICS if name in metrics)
    return "; ".join(part for part in (note, shown) if part)


def with_training_metrics(client: Any, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each training step with its job's final metrics (one DescribeTrainingJob per training job) in
    ``metrics`` and its note. A job that cannot be described (a caller without the permission) keeps
    its note, and the reason goes in ``metrics_error``: the status itself does not fail for it."""
    from botocore.exceptions import ClientError

    for step in steps:
        job = step.get("job")
        if job and job["kind"] == "TrainingJob":
            try:
                described = client.describe_training_job(TrainingJobName=job["name"])
            except ClientError as err:
                step["metrics"], step["metrics_error"] = None, str(err)
                continue
            step["metrics"] = final_metrics(described.get("FinalMetricDataList", []))
            step["note"] = metrics_note(step["note"], step["metrics"])
    return steps


def execution_steps(client: Any, arn: str) -> list[dict[str, Any]]:
    """Each step of one execution in the order it started (every page of them: SageMaker lists a
    few steps at a time): status, failure, cache source, note and the job it ran."""
    pages = client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )
    return [
        {
            "name": s["StepName"],
            "status": s["StepStatus"],
            "failure": s.get("FailureReason"),
            "cached_from": s.get("CacheHitResult", {}).get("SourcePipelineExecutionArn"),
            "note": step_note(s),
            "job": step_job(s),
        }
        for page in pages
        for s in page["PipelineExecutionSteps"]
    ]


#: Where SageMaker writes what a job prints: a CloudWatch Logs group per kind of job, a stream per
#: instance named ``<job name>/algo-<n>-<epoch seconds>``.
JOB_LOG_GROUPS = {
    "ProcessingJob": "/aws/sagemaker/ProcessingJobs",
    "TrainingJob": "/aws/sagemaker/TrainingJobs",
    "TransformJob": "/aws/sagemaker/TransformJobs",
}


def step_job(step: dict[str, Any]) -> dict[str, str] | None:
    """The processing or training job a ListPipelineExecutionSteps entry ran (kind and name), if any."""
    for kind in JOB_LOG_GROUPS:
        job_arn = step.get("Metadata", {}).get(kind, {}).get("Arn")
        if job_arn:
            return {"kind": kind, "name": job_arn.rsplit("/", 1)[-1]}
    return None


def job_log_lines(logs: Any, job: dict[str, str], lines: int) -> list[str]:
    """The last ``lines`` lines a job wrote to CloudWatch Logs, oldest first; each line names its
    instance when the job ran on several. Empty when the job has written nothing (yet)."""
    group = JOB_LOG_GROUPS[job["kind"]]
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, logStreamNamePrefix=f"{job['name']}/"
        )
        streams = [stream["logStreamName"] for page in pages for stream in page["logStreams"]]
    except logs.exceptions.ResourceNotFoundException:  # no job of this kind has logged in the region
        return []
    events = []
    for stream in streams:
        got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=lines)
        events += [(event["timestamp"], stream, event["message"].rstrip("\n")) for event in got["events"]]
    events.sort(key=lambda event: event[0])  # stable: a stream's own order holds within one timestamp
    if len(streams) < 2:
        return [text for _, _, text in events[-lines:]]
    # `<job>/algo-2-1733300000` -> `[algo-2]`
    return [f"[{re.sub(r'-[0-9]+$', '', s.split('/', 1)[-1])}] {text}" for _, s, text in events[-lines:]]


def step_note(step: dict[str, Any]) -> str:
    """What one ListPipelineExecutionSteps entry did, in a few words: the execution a cached step's
    outputs came from (a retraining on unchanged data trains nothing), a condition's outcome, the
    job, model package or endpoint it made."""
    cached = step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn")
    if cached:
        return f"cache hit: the outputs of execution {cached.rsplit('/', 1)[-1]}"
    metadata = step.get("Metadata", {})
    if "Condition" in metadata:
        return f"condition {'met' if metadata['Condition'].get('Outcome') == 'True' else 'not met'}"
    if "RegisterModel" in metadata:
        return f"registered {metadata['RegisterModel'].get('Arn', '')}"
    for kind in ("TrainingJob", "ProcessingJob", "Model", "EndpointConfig", "Endpoint"):
        if metadata.get(kind, {}).get("Arn"):
            return metadata[kind]["Arn"].rsplit("/", 1)[-1]
    return ""
