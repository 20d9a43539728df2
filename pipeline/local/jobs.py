"""Processing and training jobs on this machine, from a step's resolved ``Arguments``.

A job runs in a sandbox folder ``<store>/_sagemaker/jobs/<job name>/`` that stands for the container's
``/``: every container path (``/opt/ml/...``) in the entrypoint, arguments, environment and
hyperparameters is mapped into it. Inputs are copied in from the store before the job and outputs
copied out after it, as the service does with S3.

Training jobs of SDK 3.x run through the SDK's own driver (an ``sm_drivers`` input channel and a
``/bin/bash -c .../sm_train.sh`` entrypoint). ``TrainingDriver`` reads ``sm_train.sh`` and runs the
same driver pieces it names (``scripts/environment.py``, then the distributed driver) through
``driver_shim.py``; if an SDK upgrade changes that script, ``TrainingDriver`` fails loudly rather
than guessing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.local.store import Store

CONTAINER_ROOT = "/opt/ml"
SHIM = Path(__file__).with_name("driver_shim.py")
_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?=/|\b)")
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"


class JobError(RuntimeError):
    """A job that failed: its exit status and where its log is."""


class UnsupportedError(ValueError):
    """A definition feature the local runner does not execute (never silently skipped)."""


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}/{name}"


@dataclass
class Sandbox:
    """The container's ``/`` for one job."""

    root: Path

    def local(self, container_path: str) -> Path:
        if not container_path.startswith("/"):
            raise UnsupportedError(f"container path {container_path!r} is not absolute")
        return self.root / container_path.lstrip("/")

    def map(self, value: str) -> str:
        """Every ``/opt/ml...`` path inside a string (plain, or JSON in an environment value)."""
        return _CONTAINER_PATH.sub(lambda m: str(self.root) + m.group(0), value)


def new_sandbox(store: Store, job_name: str) -> Sandbox:
    root = store.record_dir("jobs") / job_name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return Sandbox(root)


def run_process(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    log: Path,
    on_line: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Run ``command``, appending its merged output to ``log`` line by line; its exit status.

    On Ctrl-C (or any exception here) the job's whole process group is stopped before re-raising.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as sink:
        sink.write(f"$ {shlex.join(command)}\n")
        sink.flush()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: stopped as a whole
        )
        assert process.stdout is not None  # stdout=PIPE
        if on_start:
            on_start(process.pid)
        try:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                if on_line:
                    on_line(line.rstrip("\n"))
            return process.wait()
        except BaseException:
            _stop_group(process)
            raise
        finally:
            process.stdout.close()  # the pipe, read to its end or abandoned with the stopped job


def _stop_group(process: subprocess.Popen) -> None:
    stop_group(process.pid)
    process.wait()


def stop_group(group: int | None, timeout: float = 15) -> bool:
    """SIGTERM a process group (a job, an endpoint server: each leads its own), SIGKILL what is left
    after ``timeout``; True if there was one. Our own exited children in it are reaped on the way."""
    if not group:
        return False
    try:
        os.killpg(group, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-group, os.WNOHANG)
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    return True


def _python(entry: str) -> str:
    return sys.executable if entry in ("python", "python3") else entry


def _check_s3_input(what: str, data_type: str | None, mode: str | None, compression: str | None) -> None:
    if data_type not in (None, "S3Prefix"):
        raise UnsupportedError(f"{what}: S3DataType {data_type!r} (only S3Prefix runs locally)")
    if mode not in (None, "File"):
        raise UnsupportedError(f"{what}: input mode {mode!r} (only File runs locally)")
    if compression not in (None, "None"):
        raise UnsupportedError(f"{what}: compression {compression!r} is not supported locally")


def _environment(extra: dict[str, str], sandbox: Sandbox) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: sandbox.map(str(v)) for k, v in (extra or {}).items()})
    # Tools the container has on its PATH (torchrun, ...) come from this interpreter's environment.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# -- processing ------------------------------------------------------------------------------------------
def run_processing(
    store: Store,
    job_name: str,
    args: dict[str, Any],
    log: Path,
    on_line: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """A ``CreateProcessingJob`` request, run here; returns the job's description (properties)."""
    sandbox = new_sandbox(store, job_name)
    for item in args.get("ProcessingInputs", []):
        source = item.get("S3Input")
        if source is None:
            raise UnsupportedError(f"processing input {item.get('InputName')!r}: only S3 inputs run locally")
        _check_s3_input(
            f"processing input {item['InputName']!r}",
            source.get("S3DataType"),
            source.get("S3InputMode"),
            source.get("S3CompressionType"),
        )
        store.download(source["S3Uri"], sandbox.local(source["LocalPath"]))
    outputs = args.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        if "S3Output" not in item:
            raise UnsupportedError(
                f"processing output {item.get('OutputName')!r}: only S3 outputs run locally"
            )
        sandbox.local(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    app = args["AppSpecification"]
    entry = app.get("ContainerEntrypoint")
    if not entry:
        raise UnsupportedError(
            "a processing job without ContainerEntrypoint needs its image's own entrypoint"
        )
    command = [_python(entry[0]), *(sandbox.map(a) for a in entry[1:] + app.get("ContainerArguments", []))]
    status = run_process(
        command, _environment(args.get("Environment", {}), sandbox), sandbox.root, log, on_line, on_start
    )
    if status != 0:
        raise JobError(f"processing job {job_name} exited with status {status}{_reason(log)}; see {log}")
    for item in outputs:
        store.upload(sandbox.local(item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
    return {
        **args,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": arn("processing-job", job_name),
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "",
    }


# -- training --------------------------------------------------------------------------------------------
DRIVERS_CHANNEL = "sm_drivers"


@dataclass(frozen=True)
class TrainingDriver:
    """What ``sm_train.sh`` (the SDK's training entrypoint) does, read from the script itself."""

    channel: str  # container path of the drivers channel
    environment_script: str  # writes the SM_* environment file
    environment_file: str  # ... which the script then sources
    workdir: str  # the folder it ``cd``s to (the source code channel)
    driver_script: str  # the distributed driver it runs last

    PATTERNS = {  # noqa: RUF012 - class constant
        "environment_script": r"^\$SM_PYTHON_CMD (\S+/scripts/environment\.py)\s*$",
        "environment_file": r"^source (\S+\.env)\s*$",
        "workdir": r"^cd (\S+)\s*$",
        "driver_script": r"^\$SM_PYTHON_CMD (\S+/distributed_drivers/\w+\.py)\s*$",
    }

    @classmethod
    def parse(
        cls, script: str, channel: str = f"{CONTAINER_ROOT}/input/data/{DRIVERS_CHANNEL}"
    ) -> TrainingDriver:
        found, missing = {}, []
        for name, pattern in cls.PATTERNS.items():
            matches = re.findall(pattern, script, flags=re.MULTILINE)
            if len(matches) != 1:
                missing.append(f"{name} (/{pattern}/ matched {len(matches)} lines)")
            else:
                found[name] = matches[0]
        if missing:
            raise UnsupportedError(
                "the SDK's training driver (sm_train.sh) is not the one the local runner knows: "
                + "; ".join(missing)
                + ". Update pipeline/local/jobs.py:TrainingDriver for this SDK version."
            )
        driver = cls(channel=channel, **found)
        for path in (driver.environment_script, driver.driver_script):
            if not path.startswith(channel + "/"):
                raise UnsupportedError(f"sm_train.sh runs {path}, outside the {DRIVERS_CHANNEL} channel")
        return driver


def _check_training_entrypoint(spec: dict[str, Any]) -> None:
    entry, arguments = spec.get("ContainerEntrypoint"), spec.get("ContainerArguments") or []
    if entry != ["/bin/bash"] or len(arguments) != 2 or "sm_train.sh" not in arguments[1]:
        raise UnsupportedError(
            "only SDK-3 ModelTrainer jobs (entrypoint /bin/bash -c .../sm_drivers/sm_train.sh) run locally; "
            f"got entrypoint {entry} {arguments}"
        )


def run_training(
    store: Store,
    job_name: str,
    args: dict[str, Any],
    log: Path,
    on_line: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """A ``CreateTrainingJob`` request, run here; returns the job's description (properties)."""
    spec = args["AlgorithmSpecification"]
    _check_training_entrypoint(spec)
    if spec.get("TrainingInputMode", "File") != "File":
        raise UnsupportedError(f"training input mode {spec['TrainingInputMode']!r} (only File runs locally)")
    resources = args["ResourceConfig"]
    if int(resources.get("InstanceCount", 1)) != 1:
        raise UnsupportedError(
            f"InstanceCount={resources['InstanceCount']}: multi-instance training needs SageMaker"
        )
    sandbox = new_sandbox(store, job_name)
    data_dir = f"{CONTAINER_ROOT}/input/data"
    channels: dict[str, Any] = {}
    for channel in args.get("InputDataConfig", []):
        name, source = channel["ChannelName"], channel["DataSource"].get("S3DataSource")
        if source is None:
            raise UnsupportedError(f"training channel {name!r}: only S3 data sources run locally")
        _check_s3_input(
            f"training channel {name!r}",
            source.get("S3DataType"),
            channel.get("InputMode"),
            channel.get("CompressionType"),
        )
        store.download(source["S3Uri"], sandbox.local(f"{data_dir}/{name}"))
        channels[name] = {
            "TrainingInputMode": "File",
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": "None",
        }
    if DRIVERS_CHANNEL not in channels:
        raise UnsupportedError(f"training job without the SDK's {DRIVERS_CHANNEL!r} channel")

    config = sandbox.local(f"{CONTAINER_ROOT}/input/config")
    config.mkdir(parents=True)
    hyperparameters = {k: str(v) for k, v in args.get("HyperParameters", {}).items()}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": "algo-1",
                "current_instance_type": resources.get("InstanceType", "local"),
                "current_group_name": "homogeneousCluster",
                "hosts": ["algo-1"],
                "instance_groups": [],
                "network_interface_name": "eth0",
            }
        )
    )
    for folder in ("model", "output/data"):
        sandbox.local(f"{CONTAINER_ROOT}/{folder}").mkdir(parents=True, exist_ok=True)
    checkpoint = args.get("CheckpointConfig")
    if checkpoint:  # the service syncs this folder with S3 as the job runs: here it *is* the store's
        kept = store.path(checkpoint["S3Uri"])
        kept.mkdir(parents=True, exist_ok=True)
        local = sandbox.local(checkpoint.get("LocalPath") or f"{CONTAINER_ROOT}/checkpoints")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.symlink_to(kept, target_is_directory=True)

    drivers = sandbox.local(f"{data_dir}/{DRIVERS_CHANNEL}")
    driver = TrainingDriver.parse((drivers / "sm_train.sh").read_text())
    base_env = {**args.get("Environment", {}), "TRAINING_JOB_NAME": job_name}
    env = _environment(base_env, sandbox)
    env_file = sandbox.local(driver.environment_file)
    status = run_process(
        [
            sys.executable,
            str(SHIM),
            "environment",
            str(drivers),
            str(config),
            str(drivers / "sourcecode.json"),
            str(drivers / "distributed.json"),
            str(env_file),
        ],
        env,
        sandbox.root,
        log,
        None,
    )
    if status != 0:
        raise JobError(f"training job {job_name}: the SDK driver's environment set-up failed; see {log}")
    env.update({k: sandbox.map(v) for k, v in read_env_file(env_file).items()})
    failure = sandbox.local(f"{CONTAINER_ROOT}/output/failure")
    written = log.stat().st_size if log.exists() else 0
    status = run_process(
        [sys.executable, str(SHIM), "run", str(drivers), sandbox.map(driver.driver_script), str(failure)],
        env,
        sandbox.local(driver.workdir),
        log,
        on_line,
        on_start,
    )
    if status != 0:
        raise JobError(f"training job {job_name} exited with status {status}{_reason(log)}; see {log}")
    output_path = args["OutputDataConfig"]["S3OutputPath"]
    model_uri = training_archive(output_path, job_name, "model.tar.gz")
    _tar(sandbox.local(f"{CONTAINER_ROOT}/model"), store.path(model_uri))
    output_dir = sandbox.local(f"{CONTAINER_ROOT}/output/data")
    if any(output_dir.iterdir()):
        _tar(output_dir, store.path(training_archive(output_path, job_name, "output.tar.gz")))
    return {
        **args,
        "TrainingJobName": job_name,
        "TrainingJobArn": arn("training-job", job_name),
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": final_metrics(log, written, spec.get("MetricDefinitions", [])),
    }


def training_archive(output_path: str, job_name: str, archive: str) -> str:
    """Where the service puts a training job's ``model.tar.gz`` (``/opt/ml/model``) and
    ``output.tar.gz`` (``/opt/ml/output/data``): ``<S3OutputPath>/<job>/output/<archive>``."""
    return f"{output_path.rstrip('/')}/{job_name}/output/{archive}"


def final_metrics(log: Path, offset: int, definitions: list[dict[str, str]]) -> list[dict[str, Any]]:
    """DescribeTrainingJob's ``FinalMetricDataList``, found as the service finds it: each metric's last
    value that its ``MetricDefinitions`` regular expression reads from the job's output (from byte
    ``offset`` of the step log: this job's lines)."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", errors="replace").splitlines()
    found, now = [], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for definition in definitions:
        pattern, value = re.compile(definition["Regex"]), None
        for line in lines:
            match = pattern.search(line)
            if match and match.groups():
                with contextlib.suppress(ValueError):
                    value = float(match.group(1))
        if value is not None:
            found.append(
                {
                    "MetricName": definition["Name"],
                    "Value": value,
                    "Timestamp": now,
                }
            )
    return found


_ERROR_LINE = re.compile(r"\bERROR\b|^\s*[\w.]+(Error|Exception): ")
_DRIVER_NOISE = ("CalledProcessError", "Command failed with exit code", "An error occurred with exit code")
#: A logged error's time, level and logger ("2026-12-07 16:18:50,029 ERROR medtx: "), left out of the
#: reason: the message is what it says.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ERROR [\w.]+: ")


#: How much of the job's error line a failure reason quotes (SageMaker's FailureReason holds 1,024
#: characters); a longer line is cut with "...", the whole of it in the log the reason names.
REASON_CHARS = 500


def _reason(log: Path) -> str:
    """The job's own last error line (a script's one-line error, or a traceback's last line)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines[-400:]):
        if _ERROR_LINE.search(line) and not any(noise in line for noise in _DRIVER_NOISE):
            line = _LOG_PREFIX.sub("", line.strip())
            return f": {line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 3] + '...'}"
    return ""


def read_env_file(path: Path) -> dict[str, str]:
    """``export KEY='value'`` lines, as the driver writes them."""
    result = {}
    for line in path.read_text().splitlines():
        if not line.startswith("export "):
            continue
        (assignment,) = shlex.split(line[len("export ") :])
        key, _, value = assignment.partition("=")
        result[key] = value
    return result


def _tar(folder: Path, archive: Path) -> None:
    """Pack a folder's contents as the service packs ``/opt/ml/model`` (members at the top level)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name)
    os.replace(tmp, archive)
