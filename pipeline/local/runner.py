"""``medtx run --local``: execute the pipeline definition JSON on this machine, without Docker.

The runner builds the same definition ``medtx upsert`` sends (in-memory AWS, see ``build``), copies
what the build uploaded (the code bundles) into the store, then walks the steps as SageMaker does:
in dependency order, resolving parameters, execution variables, step properties, ``Join`` and
``JsonGet`` (``pipeline.local.expressions``), running job steps through ``pipeline.local.jobs``,
branching on conditions, stopping at a ``FailStep``.

State lives in ``<store>/_sagemaker/executions/<id>/`` (``execution.json``, the definition, one log per
step), written after every change, so a run that crashed or was stopped resumes at the step that did
not finish: the next run with the same definition and parameters continues that execution (same id,
same checkpoint folder). Job steps with caching enabled reuse an earlier successful run of the same
step when its resolved arguments and the bytes of its inputs are the same (``_sagemaker/cache``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import secrets
import signal
import string
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import deploy as contract
from pipeline.definition import quiet_sdk, unknown_parameters
from pipeline.local import endpoint, jobs, registry
from pipeline.local.expressions import Scope, conditions_hold, resolve
from pipeline.local.store import Store, write_json_atomic

EXECUTIONS = "executions"
CACHE = "cache"
_STEP_REF = re.compile(r"^Steps\.([A-Za-z0-9_-]+)")


class ExecutionFailedError(RuntimeError):
    """The execution failed (a job, a FailStep, an unsupported step): the message says which and why."""


class ExecutionStoppedError(RuntimeError):
    """Ctrl-C or SIGTERM: the execution is marked Stopped and resumes on the next run."""


# -- building ------------------------------------------------------------------------------------------
def build(store: Store, overrides: dict[str, str] | None = None) -> tuple[str, str]:
    """The pipeline definition JSON (as ``medtx definition --offline`` prints it) and the bucket.

    The build uploads the code bundles to (in-memory) S3; they are copied into the store under the
    same keys, which is where the jobs read them from.
    """
    from pipeline.aws import OFFLINE_ACCOUNT_ROLE, OFFLINE_REGION, offline_aws
    from pipeline.config import PipelineConfig
    from pipeline.definition import get_pipeline

    cfg = PipelineConfig().replace(**(overrides or {}))
    with quiet_sdk(), offline_aws(cfg.bucket):
        import boto3

        text = get_pipeline(region=OFFLINE_REGION, role=OFFLINE_ACCOUNT_ROLE, config=cfg).definition()
        s3 = boto3.client("s3", region_name=OFFLINE_REGION)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cfg.bucket):
            for item in page.get("Contents", []):
                uri = f"s3://{cfg.bucket}/{item['Key']}"
                body = s3.get_object(Bucket=cfg.bucket, Key=item["Key"])["Body"].read()
                target = store.path(uri)
                if not target.exists() or target.read_bytes() != body:
                    store.put_bytes(uri, body)
    return text, cfg.bucket


# -- parameters ----------------------------------------------------------------------------------------
def resolve_parameters(definition: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Defaults of the definition's parameters with ``given`` applied, typed as the service types them."""
    message = unknown_parameters(definition, given)
    if message:
        raise ExecutionFailedError(message)
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = given.get(name, spec.get("DefaultValue"))
        if raw is None:
            raise ExecutionFailedError(f"pipeline parameter {name} has no default and no value")
        values[name] = _typed(name, spec["Type"], raw)
        if spec.get("EnumValues") and values[name] not in spec["EnumValues"]:
            raise ExecutionFailedError(
                f"parameter {name}={raw!r} is not one of {', '.join(spec['EnumValues'])}"
            )
    return values


def _typed(name: str, kind: str, raw: Any) -> Any:
    try:
        if kind == "Integer":
            return int(raw)
        if kind == "Float":
            return float(raw)
        if kind == "Boolean":
            return raw if isinstance(raw, bool) else {"true": True, "false": False}[str(raw).lower()]
        return str(raw)
    except (ValueError, KeyError) as err:
        raise ExecutionFailedError(f"parameter {name}={raw!r} is not a valid {kind}") from err


# -- progress --------------------------------------------------------------------------------------------
class Reporter:
    """Receives the runner's events; the CLI's reporter shows them live (see ``pipeline.local.show``)."""

    def execution_started(self, execution: dict[str, Any], resumed: bool) -> None: ...
    def step_started(self, name: str, kind: str) -> None: ...
    def step_output(self, name: str, line: str) -> None: ...
    def step_finished(self, name: str, record: dict[str, Any]) -> None: ...


# -- the execution -------------------------------------------------------------------------------------
def _config():
    from pipeline.config import PipelineConfig

    return PipelineConfig()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _job_name(prefix: str) -> str:
    """``<prefix>-YYYY-MM-DD-HH-MM-SS-mmm``, the SDK's ``name_from_base`` layout (63 chars at most)."""
    moment = time.time()
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(moment)) + f"-{int(moment * 1000) % 1000:03d}"
    return f"{prefix[: 63 - len(stamp) - 1]}-{stamp}"


def _references(value: Any) -> set[str]:
    """Names of the steps a JSON value refers to (``{"Get": "Steps.X..."}``)."""
    if isinstance(value, dict):
        found = set()
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            match = _STEP_REF.match(value["Get"])
            if match:
                found.add(match.group(1))
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def ordered(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dependency order (``DependsOn`` and property references), the definition's order on ties."""
    names = [s["Name"] for s in steps]
    needs = {
        s["Name"]: (set(s.get("DependsOn", [])) | _references(s.get("Arguments", {}))) & set(names)
        for s in steps
    }
    done: list[str] = []
    while len(done) < len(steps):
        ready = [n for n in names if n not in done and needs[n] <= set(done)]
        if not ready:
            raise ExecutionFailedError(
                f"steps depend on each other in a cycle: {sorted(set(names) - set(done))}"
            )
        done.append(ready[0])
    return [next(s for s in steps if s["Name"] == n) for n in done]


def run_order(steps: list[dict[str, Any]]) -> list[str]:
    """Step names in the order ``LocalRun.run_steps`` takes them: dependency order, each condition's
    branches right after it."""
    names = []
    for step in ordered(steps):
        names.append(step["Name"])
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                names += run_order(step["Arguments"].get(branch, []))
    return names


def step_records(store: Store, execution: dict[str, Any]) -> list[dict[str, Any]]:
    """An execution's step records in the order they ran (``execution.json`` keeps them by name)."""
    saved = store.record_dir(EXECUTIONS) / execution["PipelineExecutionId"] / "definition.json"
    order = run_order(json.loads(saved.read_text())["Steps"]) if saved.is_file() else []
    rank = {name: i for i, name in enumerate(order)}
    return sorted(
        execution.get("Steps", {}).values(),
        key=lambda r: (r.get("StartTime", ""), rank.get(r["StepName"], len(rank))),
    )


@dataclass
class LocalRun:
    """One execution of a definition in a store."""

    store: Store
    definition_text: str
    parameters: dict[str, str] = field(default_factory=dict)
    use_cache: bool = True
    reporter: Reporter = field(default_factory=Reporter)
    new_execution: bool = False
    pipeline_name: str = field(default_factory=lambda: _config().pipeline_name)
    #: A new execution's ``PipelineExecutionDisplayName`` (``aws.display_name``: the checkout's commit).
    display_name: str | None = None

    def __post_init__(self) -> None:
        self.definition = json.loads(self.definition_text)
        self.values = resolve_parameters(self.definition, self.parameters)
        self.digest = hashlib.sha256(self.definition_text.encode()).hexdigest()
        self.execution: dict[str, Any] = {}
        self.scope = Scope(parameters=self.values)

    # -- state ------------------------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.store.record_dir(EXECUTIONS) / self.execution["PipelineExecutionId"]

    def save(self) -> None:
        write_json_atomic(self.folder / "execution.json", self.execution)

    def _resumable(self) -> dict[str, Any] | None:
        """The latest unfinished execution of this definition with these parameters, if any."""
        candidates = []
        for record in executions(self.store):
            if record.get("DefinitionSha256") != self.digest or record.get("Parameters") != self.values:
                continue
            if record["Status"] == "Executing" and endpoint.alive(record.get("RunnerPid")):
                raise ExecutionFailedError(
                    f"execution {record['PipelineExecutionId']} is running in process {record['RunnerPid']}"
                )
            if record["Status"] in ("Executing", "Stopped") or (
                record["Status"] == "Failed" and not record.get("FailedByFailStep")
            ):
                candidates.append(record)
        return candidates[-1] if candidates else None  # the newest: executions() is oldest first

    def _start(self) -> bool:
        previous = None if self.new_execution else self._resumable()
        if previous:
            self.execution = previous
            self.execution.update(Status="Executing", RunnerPid=os.getpid(), FailureReason=None, EndTime=None)
            self.execution["Attempts"] = self.execution.get("Attempts", 1) + 1
        else:
            alphabet = string.ascii_lowercase + string.digits
            execution_id = "".join(secrets.choice(alphabet) for _ in range(12))
            self.execution = {
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": jobs.arn(
                    "pipeline", f"{self.pipeline_name}/execution/{execution_id}"
                ),
                "PipelineName": self.pipeline_name,
                **({"PipelineExecutionDisplayName": self.display_name} if self.display_name else {}),
                "DefinitionSha256": self.digest,
                "Parameters": self.values,
                "Status": "Executing",
                "StartTime": _now(),
                "CreatedAt": time.time(),  # orders executions that start within one second
                "RunnerPid": os.getpid(),
                "Attempts": 1,
                "Steps": {},
            }
            self.folder.mkdir(parents=True)
            (self.folder / "definition.json").write_text(self.definition_text)
        self.save()
        ex = self.execution
        self.scope.execution = {
            "PipelineExecutionId": ex["PipelineExecutionId"],
            "PipelineExecutionArn": ex["PipelineExecutionArn"],
            "PipelineName": ex["PipelineName"],
            "PipelineArn": jobs.arn("pipeline", ex["PipelineName"]),
            "StartDateTime": ex["StartTime"],
            "CurrentDateTime": _now(),
        }
        return previous is not None

    # -- running ----------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run (or resume) the execution; returns its record. Raises ``ExecutionFailedError`` on failure."""
        resumed = self._start()
        self.reporter.execution_started(self.execution, resumed)
        in_main = threading.current_thread() is threading.main_thread()  # signals: main thread only
        previous_handler = signal.signal(signal.SIGTERM, _raise_stop) if in_main else None
        try:
            self.run_steps(self.definition["Steps"])
        except (KeyboardInterrupt, ExecutionStoppedError):
            self.execution.update(Status="Stopped", EndTime=_now(), FailureReason="stopped by the user")
            self.save()
            raise ExecutionStoppedError(
                f"execution {self.execution['PipelineExecutionId']} stopped; "
                "run the same command again to resume it"
            ) from None
        except ExecutionFailedError as err:
            self.execution.update(Status="Failed", EndTime=_now(), FailureReason=str(err))
            self.save()
            raise
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous_handler)
        self.execution.update(Status="Succeeded", EndTime=_now())
        self.save()
        return self.execution

    def run_steps(self, steps: list[dict[str, Any]]) -> None:
        for step in ordered(steps):
            self.run_step(step)

    def run_step(self, step: dict[str, Any]) -> None:
        name, kind = step["Name"], step["Type"]
        record = self.execution["Steps"].get(name)
        if record and record["StepStatus"] == "Succeeded":  # done in an earlier attempt of this execution
            self._restore(step, record)
            if kind == "Condition":
                self.run_steps(step["Arguments"]["IfSteps" if record["Outcome"] else "ElseSteps"])
            return
        if record and jobs.stop_group(record.get("JobPid")):  # its runner was killed, the job was not
            self.reporter.step_output(
                name, f"stopped the job left running by attempt {self.execution['Attempts'] - 1}"
            )
        record = {
            "StepName": name,
            "StepType": kind,
            "StepStatus": "Executing",
            "StartTime": _now(),
            "Log": str(self.folder / "logs" / f"{name}.log"),
        }
        self.execution["Steps"][name] = record
        self.save()
        self.reporter.step_started(name, kind)
        started = time.monotonic()
        try:
            branch = self._execute(step, record)
        except (KeyboardInterrupt, ExecutionStoppedError):
            record.update(StepStatus="Stopped", EndTime=_now(), Seconds=round(time.monotonic() - started, 1))
            self.save()
            self.reporter.step_finished(name, record)
            raise
        except (jobs.JobError, jobs.UnsupportedError, endpoint.EndpointError, registry.RegistryError) as err:
            self._fail(record, started, f"step {name} failed: {err}")
        except ExecutionFailedError as err:
            self._fail(record, started, str(err))
        except (ValueError, KeyError, OSError) as err:  # a bad expression, a missing file, ...
            self._fail(record, started, f"step {name} failed: {type(err).__name__}: {err}")
        record.update(StepStatus="Succeeded", EndTime=_now(), Seconds=round(time.monotonic() - started, 1))
        self.save()
        self.reporter.step_finished(name, record)
        if branch is not None:
            self.run_steps(branch)

    def _fail(self, record: dict[str, Any], started: float, message: str) -> None:
        record.update(
            StepStatus="Failed",
            EndTime=_now(),
            Seconds=round(time.monotonic() - started, 1),
            FailureReason=message,
        )
        self.save()
        self.reporter.step_finished(record["StepName"], record)
        raise ExecutionFailedError(message)

    def _restore(self, step: dict[str, Any], record: dict[str, Any]) -> None:
        self.scope.steps[step["Name"]] = record.get("Properties", {})
        self._load_property_files(step, record.get("Properties", {}))

    def _execute(self, step: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Run one step; returns the branch to run next for a condition step."""
        kind, name = step["Type"], step["Name"]
        self.scope.execution["CurrentDateTime"] = _now()
        if kind == "Condition":
            holds = conditions_hold(step["Arguments"]["Conditions"], self.scope)
            record.update(Outcome=holds, Properties={"Outcome": holds})
            self.scope.steps[name] = record["Properties"]
            return step["Arguments"]["IfSteps" if holds else "ElseSteps"]
        if kind == "Fail":
            message = resolve(step["Arguments"].get("ErrorMessage", ""), self.scope)
            self.execution["FailedByFailStep"] = name
            raise ExecutionFailedError(f"{name}: {message}")
        args = resolve(step["Arguments"], self.scope)
        if kind in ("Processing", "Training"):
            properties = self._job(step, args, record)
        elif kind == "RegisterModel":
            properties = registry.register(self.store, args, self.execution["PipelineExecutionId"])
        elif kind == "Model":
            properties = self._model(step, args)
        elif kind == "EndpointConfig":
            properties = self._endpoint_config(args)
        elif kind == "Endpoint":
            properties = self._endpoint(args)
        else:
            raise jobs.UnsupportedError(f"step type {kind!r} is not supported by the local runner")
        record["Properties"] = properties
        self.scope.steps[name] = properties
        self._load_property_files(step, properties)
        return None

    # -- job steps with caching -------------------------------------------------------------------------
    def _job(self, step: dict[str, Any], args: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        key = self._cache_key(step, args) if step.get("CacheConfig", {}).get("Enabled") else None
        hit = self._cache_lookup(key, step) if key and self.use_cache else None
        if hit:
            record["CacheHitResult"] = {
                "SourcePipelineExecutionArn": hit["PipelineExecutionArn"],
                "SourcePipelineExecutionId": hit["PipelineExecutionId"],
            }
            self.reporter.step_output(
                step["Name"], f"cache hit: outputs of execution {hit['PipelineExecutionId']}"
            )
            return hit["Properties"]
        kind = step["Type"]
        prefix_key = "ProcessingJobName" if kind == "Processing" else "TrainingJobName"
        prefix = (
            args.pop(prefix_key, None) or f"pipelines-{self.execution['PipelineExecutionId']}-{step['Name']}"
        )
        job_name = _job_name(prefix)
        record["JobName"] = job_name
        self.save()
        log = Path(record["Log"])
        on_line = lambda line: self.reporter.step_output(step["Name"], line)  # noqa: E731
        run = jobs.run_processing if kind == "Processing" else jobs.run_training
        try:
            properties = run(
                self.store, job_name, args, log, on_line, lambda pid: self._job_started(record, pid)
            )
        finally:  # the job has ended (or was stopped with the runner); a SIGKILLed runner leaves JobPid
            record.pop("JobPid", None)
        if key:
            write_json_atomic(
                self.store.record_dir(CACHE) / f"{key}.json",
                {
                    "StepName": step["Name"],
                    "PipelineExecutionId": self.execution["PipelineExecutionId"],
                    "PipelineExecutionArn": self.execution["PipelineExecutionArn"],
                    "CreationTime": _now(),
                    "CreatedAt": time.time(),
                    "Properties": properties,
                },
            )
        return properties

    def _job_started(self, record: dict[str, Any], pid: int) -> None:
        record["JobPid"] = pid  # its process group: stopped by the next attempt if this runner dies
        self.save()

    def _cache_key(self, step: dict[str, Any], args: dict[str, Any]) -> str:
        """Arguments resolved with this execution's variables left out, plus the bytes of every input."""
        neutral = copy.copy(self.scope)
        neutral.execution = {k: f"<{k}>" for k in self.scope.execution}
        inputs = [i["S3Input"]["S3Uri"] for i in args.get("ProcessingInputs", []) if "S3Input" in i] + [
            c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in args.get("InputDataConfig", [])
            if "S3DataSource" in c["DataSource"]
        ]
        payload = {
            "Name": step["Name"],
            "Type": step["Type"],
            "Arguments": resolve(step["Arguments"], neutral),
            "Inputs": {uri: self.store.digest(uri) for uri in inputs},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def _cache_lookup(self, key: str, step: dict[str, Any]) -> dict[str, Any] | None:
        path = self.store.service / CACHE / f"{key}.json"
        if not path.exists():
            return None
        entry = json.loads(path.read_text())
        if time.time() - entry["CreatedAt"] > _seconds(step["CacheConfig"].get("ExpireAfter", "P30D")):
            return None
        properties = entry["Properties"]
        outputs = [
            o["S3Output"]["S3Uri"] for o in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
        ]
        if "ModelArtifacts" in properties:
            outputs.append(properties["ModelArtifacts"]["S3ModelArtifacts"])
        if not all(self.store.path(uri).exists() for uri in outputs):
            return None  # an output was deleted from the store: run again
        return entry

    def _load_property_files(self, step: dict[str, Any], properties: dict[str, Any]) -> None:
        files = step.get("PropertyFiles", [])
        if not files:
            return
        loaded = {}
        for spec in files:
            path = self.store.path(f"{output_uri(properties, spec['OutputName'])}/{spec['FilePath']}")
            if not path.exists():
                raise ExecutionFailedError(
                    f"step {step['Name']}: property file {spec['FilePath']} was not written"
                )
            loaded[spec["PropertyFileName"]] = json.loads(path.read_text())
        self.scope.property_files[step["Name"]] = loaded

    # -- models and endpoints ---------------------------------------------------------------------------
    def _model(self, step: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        prefix = args.get("ModelName") or f"pipelines-{self.execution['PipelineExecutionId']}-{step['Name']}"
        name = _job_name(prefix)
        container = endpoint.model_container(args)
        if not container or "ModelDataUrl" not in container:
            raise jobs.UnsupportedError(
                f"model {name}: only a model with one container and ModelDataUrl runs locally"
            )
        if not self.store.path(container["ModelDataUrl"]).exists():
            raise ExecutionFailedError(f"model {name}: no model archive at {container['ModelDataUrl']}")
        record = {**args, "ModelName": name, "ModelArn": jobs.arn("model", name), "CreationTime": _now()}
        self.store.write_record("models", name, record)
        return record

    def _endpoint_config(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args["EndpointConfigName"]
        variants = args.get("ProductionVariants", [])
        if len(variants) != 1:
            raise jobs.UnsupportedError(f"endpoint config {name}: one production variant runs locally")
        if self.store.read_record("models", variants[0]["ModelName"]) is None:
            raise ExecutionFailedError(f"endpoint config {name}: no model {variants[0]['ModelName']!r}")
        record = {**args, "EndpointConfigArn": jobs.arn("endpoint-config", name), "CreationTime": _now()}
        self.store.write_record("endpoint-configs", name, record)
        return record

    def _endpoint(self, args: dict[str, Any]) -> dict[str, Any]:
        name, config_name = args["EndpointName"], args["EndpointConfigName"]
        config = self.store.read_record("endpoint-configs", config_name)
        if config is None:
            raise ExecutionFailedError(f"endpoint {name}: no endpoint config {config_name!r}")
        model_name = config["ProductionVariants"][0]["ModelName"]
        model = self.store.read_record("models", model_name)
        container = endpoint.model_container(model) if model else None
        if model is None or container is None:
            raise ExecutionFailedError(f"endpoint {name}: no model {model_name!r} with a container")
        record = endpoint.start(
            self.store,
            name,
            config_name,
            model["ModelName"],
            self.store.path(container["ModelDataUrl"]),
            container.get("Environment"),
            model_package=contract.package_of_container(container),
            capture=config.get("DataCaptureConfig"),
        )
        return record


def _seconds(duration: str) -> float:
    """ISO-8601 durations as CacheConfig uses them (``P30D``, ``PT1H``, ``P1DT12H``...)."""
    match = re.fullmatch(
        r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", duration
    )
    if not match:
        raise ValueError(f"cannot read the cache expiry {duration!r}")
    y, mo, w, d, h, mi, s = (int(v or 0) for v in match.groups())
    return (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s


def _raise_stop(signum: int, frame: Any) -> None:
    raise ExecutionStoppedError("SIGTERM")


def executions(store: Store) -> list[dict[str, Any]]:
    """Every execution record in the store, oldest first (``StartTime`` has whole seconds; records
    from before ``CreatedAt`` sort first within theirs)."""
    paths = (store.service / EXECUTIONS).glob("*/execution.json")  # a missing folder yields nothing
    return sorted(
        (json.loads(p.read_text()) for p in paths), key=lambda r: (r["StartTime"], r.get("CreatedAt", 0.0))
    )


def output_uri(properties: dict[str, Any], name: str) -> str | None:
    """The S3 URI of a processing step's output ``name`` (no trailing slash), from its properties."""
    for item in properties.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if item["OutputName"] == name:
            return item["S3Output"]["S3Uri"].rstrip("/")
    return None
