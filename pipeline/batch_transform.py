"""Score a CSV with a SageMaker Batch Transform job (``medtx predict --batch-transform``).

For a backlog too large to send through the endpoint: the job runs the model the endpoint serves on
its own instances, so the endpoint's traffic (and its data capture) is untouched. Its input is the
requests ``batch_predict.requests`` makes for the endpoint, one JSON request body a line
(``application/json``, ``SplitType=Line``, ``BatchStrategy=SingleRecord``): the service sends each line
to the model's container as one invocation, so ``scripts/inference.py`` and its contract serve
unchanged, and writes each answer as one line of ``<file>.out``, in the input's order
(``AssembleWith=Line``). The requests are spread over one file per instance (the service hands
files, not lines, to instances). ``predictions`` reads the answers back through the endpoint's own
answer check and returns one prediction per text, in order, for ``batch_predict.table``.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.batch_predict import requests
from pipeline.deploy import DeployError, check_answer

CONTENT_TYPE = "application/json"
#: What a job's name starts with (``TransformJobName``: at most 63 characters).
JOB_PREFIX = "medtx-predict"
#: DescribeTransformJob's states that end a job.
ENDED = ("Completed", "Failed", "Stopped")


class TransformError(RuntimeError):
    """The job failed or stopped, or its answers do not match its requests."""


@dataclass(frozen=True)
class Staged:
    """The job's input files (name -> body) and, for each file, the text positions of each line."""

    files: dict[str, bytes]
    positions: dict[str, list[list[int]]]

    @property
    def requests(self) -> int:
        return sum(len(lines) for lines in self.positions.values())


def job_name(now: float | None = None) -> str:
    """``medtx-predict-20261204-215501-123``: unique per millisecond, sortable."""
    now = time.time() if now is None else now
    return f"{JOB_PREFIX}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}"


def stage(
    texts: Sequence[str | dict[str, str]],
    batch_size: int,
    max_texts: int,
    max_bytes: int,
    top_k: int,
    files: int,
) -> Staged:
    """The endpoint's requests for ``texts`` (empty texts are not sent), one a line, in consecutive
    runs over at most ``files`` files (``requests-00001.jsonl``...; no file without a request)."""
    batches = list(requests(texts, batch_size, max_texts, max_bytes, top_k))
    per_file = max(1, math.ceil(len(batches) / max(1, files)))
    staged: dict[str, bytes] = {}
    positions: dict[str, list[list[int]]] = {}
    for number, start in enumerate(range(0, len(batches), per_file), 1):
        chunk = batches[start : start + per_file]
        name = f"requests-{number:05d}.jsonl"
        staged[name] = b"".join(body + b"\n" for _, body in chunk)  # json.dumps writes no line break
        positions[name] = [p for p, _ in chunk]
    return Staged(staged, positions)


def transform_request(
    name: str,
    model: str,
    input_uri: str,
    output_uri: str,
    instance_type: str,
    instance_count: int,
    max_bytes: int,
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """CreateTransformJob's request: each line of the files under ``input_uri`` is one request of at
    most ``max_bytes`` (the payload limit in whole MB, at least 1), each answer one line under
    ``output_uri``; outputs and instance volumes encrypted with ``kms_key_id`` when given."""
    kms = {"KmsKeyId": kms_key_id} if kms_key_id else {}
    return {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": "SingleRecord",
        "MaxPayloadInMB": max(1, math.ceil(max_bytes / 1024**2)),
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": output_uri,
            "Accept": CONTENT_TYPE,
            "AssembleWith": "Line",
            **kms,
        },
        "TransformResources": {
            "InstanceType": instance_type,
            "InstanceCount": instance_count,
            **({"VolumeKmsKeyId": kms_key_id} if kms_key_id else {}),
        },
        "Tags": [{"Key": "medtx:purpose", "Value": "predict"}],
    }


def wait(
    sagemaker: Any,
    name: str,
    poll_seconds: float = 30,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """DescribeTransformJob until the job ends; a failed or stopped job raises ``TransformError`` with
    the service's reason and where its logs are."""
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        if on_poll:
            on_poll(described)
        status = described["TransformJobStatus"]
        if status == "Completed":
            return described
        if status in ENDED:
            reason = described.get("FailureReason") or "no reason given"
            raise TransformError(
                f"transform job {name} {status.lower()}: {reason} "
                f"(logs: CloudWatch log group /aws/sagemaker/TransformJobs, streams {name}/...)"
            )
        time.sleep(poll_seconds)


def predictions(staged: Staged, texts: int, read: Callable[[str], bytes]) -> list[dict[str, Any] | None]:
    """Each text's prediction (``None``: not sent, no text), in order, from the answers ``read(name)``
    gives for each input file (the body of ``<name>.out``); every answer is checked as the endpoint's
    are, and an output with more or fewer lines than its input raises ``TransformError``."""
    found: list[dict[str, Any] | None] = [None] * texts
    for name, lines in staged.positions.items():
        answers = read(name).splitlines()
        if len(answers) != len(lines):
            raise TransformError(f"{name}.out holds {len(answers)} answer(s) for {len(lines)} request(s)")
        for number, (positions, answer) in enumerate(zip(lines, answers, strict=True), 1):
            try:
                checked = check_answer(answer, len(positions))
            except DeployError as err:
                raise TransformError(f"{name}.out line {number}: {err}") from err
            for position, prediction in zip(positions, checked, strict=True):
                found[position] = prediction
    return found


def summary(described: dict[str, Any]) -> str:
    """A line on a finished job: its instances and how long it ran."""
    resources = described.get("TransformResources", {})
    started, ended = described.get("TransformStartTime"), described.get("TransformEndTime")
    took = f", {(ended - started).total_seconds():.0f} s" if started and ended else ""
    return f"{resources.get('InstanceCount', 1)} x {resources.get('InstanceType', '?')}{took}"


def input_note(staged: Staged) -> str:
    size = sum(len(b) for b in staged.files.values())
    return f"{staged.requests:,} request(s) in {len(staged.files)} file(s), {size / 1024**2:.1f} MB"


@dataclass(frozen=True)
class Location:
    """A job's folder: ``s3://<bucket>/<prefix>/<job>/`` with ``input/`` and ``output/``."""

    bucket: str
    prefix: str
    job: str

    @property
    def jobs(self) -> str:
        """Where every predict job's folder is: ``s3://<bucket>/<prefix>/``."""
        return f"s3://{self.bucket}/{self.prefix.strip('/')}/"

    @property
    def folder(self) -> str:
        return f"{self.jobs}{self.job}/"

    def key(self, part: str, name: str = "") -> str:
        return f"{self.prefix.strip('/')}/{self.job}/{part}/{name}"

    def uri(self, part: str) -> str:
        return f"{self.folder}{part}/"


def submit(
    sagemaker: Any,
    s3: Any,
    staged: Staged,
    at: Location,
    model: str,
    instance_type: str,
    instance_count: int,
    max_bytes: int,
    kms_key_id: str | None = None,
) -> None:
    """Upload the input files (multipart where large) and start the job (named ``at.job``)."""
    for name, body in staged.files.items():
        s3.upload_fileobj(
            io.BytesIO(body), at.bucket, at.key("input", name), ExtraArgs={"ContentType": CONTENT_TYPE}
        )
    sagemaker.create_transform_job(
        **transform_request(
            at.job,
            model,
            at.uri("input"),
            at.uri("output").rstrip("/"),
            instance_type,
            instance_count,
            max_bytes,
            kms_key_id,
        )
    )


def check_input(s3: Any, staged: Staged, at: Location) -> None:
    """For a job started earlier (``--job``): its input files must be the requests staged now, byte for
    byte, or its answers would be joined to the wrong rows."""
    from botocore.exceptions import ClientError

    same = "pass the CSV, --column, --top-k, --batch-size and --instance-count the job was started with"
    listed = s3.list_objects_v2(Bucket=at.bucket, Prefix=at.key("input"))
    found = {o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])}
    if not found:
        raise TransformError(
            f"no requests under {at.uri('input')}: {at.job} is not a job medtx predict started "
            f"(they are kept under {at.jobs})"
        )
    if found != set(staged.files):
        raise TransformError(
            f"{at.uri('input')} holds {len(found)} request file(s), not the {len(staged.files)} this CSV "
            f"gives with these options: {same}"
        )
    for name, body in staged.files.items():
        try:
            kept = s3.get_object(Bucket=at.bucket, Key=at.key("input", name))["Body"].read()
        except ClientError as err:
            raise TransformError(f"cannot read {at.uri('input')}{name}: {err}") from err
        if kept != body:
            raise TransformError(
                f"{at.uri('input')}{name} is not the requests this CSV gives with these options: {same}"
            )


def collect(s3: Any, staged: Staged, texts: int, at: Location) -> list[dict[str, Any] | None]:
    """The finished job's predictions, one per text in order (``predictions``)."""
    from botocore.exceptions import ClientError

    def read(name: str) -> bytes:
        try:
            return s3.get_object(Bucket=at.bucket, Key=at.key("output", f"{name}.out"))["Body"].read()
        except ClientError as err:
            raise TransformError(f"cannot read {at.uri('output')}{name}.out: {err}") from err

    return predictions(staged, texts, read)
