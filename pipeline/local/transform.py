"""Local transform jobs: a ``CreateTransformJob`` request run here, as the service runs it.

The service starts the model's container, and for each input file sends each record to its
``/invocations`` and writes the answers to ``<S3OutputPath>/<file>.out``. Here the container is the
local endpoint's server (``endpoint.spawn``: the archive's ``code/inference.py`` behind the same
contract), one per instance, started for the job and stopped after it; the files are the store's. What ``medtx
predict --batch-transform`` sends runs: ``SplitType=Line`` (a record a line), ``BatchStrategy=
SingleRecord``, ``AssembleWith=Line``, uncompressed ``S3Prefix`` input; anything else is refused by
name (``UnsupportedError``). As on the service, each instance scores whole files, the instances at
the same time (here on this machine's cores, shared between them).

A job runs to its end in ``run`` and is recorded under ``<store>/_sagemaker/transform-jobs/``: its
request, status, times and, when it failed, the reason (the file and line, and what the server
answered); each instance's server log is beside the record.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.local import endpoint
from pipeline.local.jobs import UnsupportedError, arn, stop_group
from pipeline.local.store import Store

KIND = "transform-jobs"


class TransformJobError(RuntimeError):
    """No model to run, or a job of that name already exists."""


def model_source(
    store: Store, endpoint_name: str, model_name: str | None
) -> tuple[str, Path, dict[str, str]]:
    """(model name, archive, container environment) of the model a job runs: ``model_name``'s record
    (a pipeline's ``CreateModel``), else what local endpoint ``endpoint_name`` serves. An archive no
    longer in the store is named."""
    if model_name:
        model = store.read_record("models", model_name)
        container = endpoint.model_container(model or {})
        if not container or "ModelDataUrl" not in container:
            raise TransformJobError(f"no local model {model_name!r} in {store.root}")
        name, archive = model_name, store.path(container["ModelDataUrl"])
        environment = container.get("Environment")
    else:
        record = store.read_record(endpoint.KIND, endpoint_name)
        if record is None:
            raise TransformJobError(
                f"no local endpoint {endpoint_name!r} in {store.root} to take the model from: "
                "run `medtx run --local`, or pass --model-name"
            )
        name, archive = record["ModelName"], Path(record["ModelDataUrl"])
        environment = endpoint.served_environment(store, record)
    if not archive.is_file():
        raise TransformJobError(f"model {name}: its archive {archive} is no longer in the store")
    return name, archive, environment or {}


def _check(request: dict[str, Any]) -> None:
    """Refuse what this runner does not do the service's way, naming it."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    found = {
        "BatchStrategy": request.get("BatchStrategy", "MultiRecord"),
        "SplitType": request["TransformInput"].get("SplitType", "None"),
        "CompressionType": request["TransformInput"].get("CompressionType", "None"),
        "S3DataType": source.get("S3DataType"),
        "AssembleWith": request["TransformOutput"].get("AssembleWith", "None"),
    }
    wanted = {
        "BatchStrategy": "SingleRecord",
        "SplitType": "Line",
        "CompressionType": "None",
        "S3DataType": "S3Prefix",
        "AssembleWith": "Line",
    }
    differ = [f"{k}={found[k]!r}" for k in wanted if found[k] != wanted[k]]
    if differ:
        raise UnsupportedError(
            f"transform job {request['TransformJobName']}: {', '.join(differ)} does not run locally "
            f"(only {', '.join(f'{k}={v}' for k, v in wanted.items())})"
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def described(record: dict[str, Any]) -> dict[str, Any]:
    """A job's record as ``DescribeTransformJob`` gives it: times as datetimes."""
    times = ("CreationTime", "TransformStartTime", "TransformEndTime")
    return {
        k: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")) if k in times and v else v
        for k, v in record.items()
    }


def shares(inputs: list[tuple[str, Path]], instances: int) -> list[list[tuple[str, Path]]]:
    """The input files each instance scores, as the service hands them out: whole files, the k-th to
    instance k mod ``instances``; an instance with no file is not started."""
    count = max(1, instances)
    return [share for share in (inputs[i::count] for i in range(count)) if share]


def server_environment(environment: dict[str, str] | None, servers: int) -> dict[str, str]:
    """The container environment of each of ``servers`` servers sharing this machine: each instance of
    the service has CPUs of its own, here they share them, so unless the model or this process sets
    ``OMP_NUM_THREADS``, each server's torch gets its part of the cores rather than all of them."""
    environment = dict(environment or {})
    if servers > 1 and "OMP_NUM_THREADS" not in environment and "OMP_NUM_THREADS" not in os.environ:
        environment["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // servers))
    return environment


def _score(
    store: Store,
    url: str,
    files: list[tuple[str, Path]],
    output: str,
    limit: int,
    content_type: str,
    stop: threading.Event,
) -> None:
    """One instance's work: each line of each of its ``files`` posted to its server at ``url``, the
    answers written, a file at a time, to ``<output>/<file>.out``; returns early once ``stop`` is set
    (another instance failed, or the job was interrupted)."""
    for file, path in files:
        answers = []
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if stop.is_set():
                return
            if not line.strip():
                continue
            if len(line) > limit:
                raise TransformJobError(
                    f"{file} line {number}: a record of {len(line):,} bytes is over MaxPayloadInMB "
                    f"({limit // 1024**2} MB)"
                )
            status, answer = endpoint.post(url, line, content_type, timeout=600)
            if status != 200:
                shown = answer[:300].decode("utf-8", errors="replace")
                raise TransformJobError(
                    f"{file} line {number}: the model's server answered HTTP {status}: {shown}"
                )
            answers.append(answer.rstrip(b"\n") + b"\n")
        store.put_bytes(f"{output}/{file}.out", b"".join(answers))  # never half an output


def run(
    store: Store, request: dict[str, Any], model_data: Path, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the job ``request`` describes with the model archive ``model_data``: one server process per
    instance (``TransformResources.InstanceCount``, no more than there are input files), each scoring
    its share of the files (``shares``) at the same time as the others, each line posted to its
    ``/invocations`` and each answer a line of ``<file>.out``. Returns the job's description,
    ``Completed`` or ``Failed`` (a line a server refused or could not answer, a line over
    ``MaxPayloadInMB``, a server that did not start: its ``FailureReason`` says which, and which
    instance's log to read; the other instances stop). A job interrupted (Ctrl-C) is recorded
    ``Stopped``, its servers stopped, and the interruption goes on."""
    name = request["TransformJobName"]
    _check(request)
    if store.read_record(KIND, name) is not None:
        raise TransformJobError(f"transform job {name} already exists in {store.root}")
    folder = store.record_dir(KIND) / name
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        **request,
        "TransformJobArn": arn("transform-job", name),
        "TransformJobStatus": "InProgress",
        "ModelDataUrl": str(model_data),
        "CreationTime": _now(),
        "TransformStartTime": _now(),
    }
    store.write_record(KIND, name, record)
    output = request["TransformOutput"]["S3OutputPath"].rstrip("/")
    limit = int(request.get("MaxPayloadInMB", 6)) * 1024**2
    content_type = request["TransformInput"].get("ContentType", "application/json")
    instances = max(1, int(request["TransformResources"].get("InstanceCount", 1)))
    stop = threading.Event()
    servers: list[subprocess.Popen] = []
    pool = concurrent.futures.ThreadPoolExecutor(instances, thread_name_prefix=f"transform-{name}")
    try:
        inputs = store.objects(request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        work = shares(inputs, instances)
        logs = [folder / f"instance-{n}.log" for n in range(1, len(work) + 1)]
        record["Logs"] = [str(log) for log in logs]
        environment = server_environment(environment, len(work))
        started = []
        for n, log in enumerate(logs, 1):  # every server loads its model at once
            process, url = endpoint.spawn(
                model_data,
                folder / f"instance-{n}",
                log,
                environment,
                arguments=["--batching", "off"],  # one request at a time: nothing arrives together to batch
            )
            servers.append(process)
            started.append(url)
        for n, (process, url, log) in enumerate(zip(servers, started, logs, strict=True), 1):
            endpoint.ready(process, url, f"transform job {name}'s model server (instance {n})", log)
        futures = [
            pool.submit(_score, store, url, files, output, limit, content_type, stop)
            for url, files in zip(started, work, strict=True)
        ]
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        for n, (future, log) in enumerate(zip(futures, logs, strict=True), 1):
            failure = future.exception() if future.done() else None
            if failure is not None:
                stop.set()
                kind = "" if isinstance(failure, TransformJobError) else f"{type(failure).__name__}: "
                raise TransformJobError(f"{kind}{failure} (instance {n}; its server's log: {log})")
        record["TransformJobStatus"] = "Completed"
    except (TransformJobError, endpoint.EndpointError, OSError, ValueError) as err:
        record.update(TransformJobStatus="Failed", FailureReason=str(err))
    finally:
        stop.set()
        for process in servers:  # the others' requests in flight end with their servers
            stop_group(process.pid, timeout=10)
        pool.shutdown(wait=True, cancel_futures=True)
        if record["TransformJobStatus"] == "InProgress":  # Ctrl-C, or an error nobody expected
            record.update(TransformJobStatus="Stopped", FailureReason="the command running it stopped")
        record["TransformEndTime"] = _now()
        store.write_record(KIND, name, record)
    return described(record)
