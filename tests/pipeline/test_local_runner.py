"""The local runner's parts without training: the SDK driver contract, ordering, parameters, the store,
step types it refuses, a FailStep, caching keys and the endpoint's HTTP contract."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import present

from pipeline.local import jobs, runner
from pipeline.local.endpoint import Batcher, make_server
from pipeline.local.store import Store, StoreError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The real definition, built as ``medtx run --local`` builds it, and the store it filled."""
    store = Store(tmp_path_factory.mktemp("store"))
    text, bucket = runner.build(store)
    return store, text, bucket


def _train_step(definition: dict) -> dict:
    return next(s for s in definition["Steps"] if s["Type"] == "Training")


def test_build_copies_the_code_bundles_into_the_store(built):
    store, text, bucket = built
    definition = json.loads(text)
    for channel in _train_step(definition)["Arguments"]["InputDataConfig"]:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        if channel["ChannelName"] in ("code", "sm_drivers"):
            assert store.objects(uri), uri
    assert (store.root / bucket / "code").is_dir()


def test_the_sdk_training_driver_is_the_one_the_runner_knows(built):
    """Pins the SDK's sm_train.sh contract: an SDK upgrade that changes it fails here, loudly."""
    store, text, _ = built
    train = _train_step(json.loads(text))
    jobs._check_training_entrypoint(train["Arguments"]["AlgorithmSpecification"])
    drivers = next(
        c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in train["Arguments"]["InputDataConfig"]
        if c["ChannelName"] == jobs.DRIVERS_CHANNEL
    )
    folder = store.path(drivers)
    driver = jobs.TrainingDriver.parse((folder / "sm_train.sh").read_text())
    assert driver.workdir == "/opt/ml/input/data/code"
    assert driver.driver_script.endswith("/distributed_drivers/torchrun_driver.py")
    assert (folder / driver.environment_script.removeprefix(driver.channel + "/")).is_file()
    assert json.loads((folder / "sourcecode.json").read_text())["entry_script"] == "train.py"
    # the pieces driver_shim.py reaches into
    assert "def set_env(" in (folder / "scripts" / "environment.py").read_text()
    utils = (folder / "common" / "utils.py").read_text()
    assert "FAILURE_FILE" in utils and "def hyperparameters_to_cli_args" in utils


def test_a_changed_driver_script_is_refused_with_the_reason():
    script = "#!/bin/bash\ncd /opt/ml/input/data/code\n$SM_PYTHON_CMD /somewhere/else.py\n"
    with pytest.raises(jobs.UnsupportedError, match=r"sm_train\.sh.*environment_script"):
        jobs.TrainingDriver.parse(script)


def test_a_training_jobs_final_metrics_are_the_last_values_its_definitions_read(tmp_path):
    log = tmp_path / "Train.log"
    log.write_text("[metrics] epoch=1 validation:macro_f1=0.9\n")  # an earlier attempt's, before the offset
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write("[metrics] epoch=1 train:loss=2.5 validation:macro_f1=0.31\n[progress] step=9/9 loss=2.0\n")
        f.write("[metrics] epoch=2 validation:macro_f1=4.5e-01\n")
    definitions = [
        {"Name": "validation:macro_f1", "Regex": r"\[metrics\].* validation:macro_f1=([0-9.eE+-]+)"},
        {"Name": "train:loss", "Regex": r" train:loss=([0-9.]+)"},
        {"Name": "never:printed", "Regex": r"never=([0-9.]+)"},
        {"Name": "no:group", "Regex": r"train:loss"},
    ]
    found = jobs.final_metrics(log, offset, definitions)
    assert [(m["MetricName"], m["Value"]) for m in found] == [
        ("validation:macro_f1", 0.45),
        ("train:loss", 2.5),
    ]
    assert all(m["Timestamp"].endswith("Z") for m in found)


def test_steps_run_in_dependency_order():
    steps = [
        {"Name": "C", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.B.Outcome"}}},
        {"Name": "B", "Type": "Fail", "Arguments": {}, "DependsOn": ["A"]},
        {"Name": "A", "Type": "Fail", "Arguments": {}},
    ]
    assert [s["Name"] for s in runner.ordered(steps)] == ["A", "B", "C"]
    steps[2]["DependsOn"] = ["C"]
    with pytest.raises(runner.ExecutionFailedError, match="cycle"):
        runner.ordered(steps)


def test_parameters_are_typed_and_checked(built):
    definition = json.loads(built[1])
    values = runner.resolve_parameters(definition, {"TrainingInstanceCount": "2", "MinMacroF1": "0.5"})
    assert values["TrainingInstanceCount"] == 2 and values["MinMacroF1"] == 0.5
    assert values["Epochs"] == "3"  # a string parameter keeps its default string
    with pytest.raises(runner.ExecutionFailedError, match=r"unknown pipeline parameter.*Epoch\b"):
        runner.resolve_parameters(definition, {"Epoch": "2"})
    with pytest.raises(runner.ExecutionFailedError, match="DeployModel='yes' is not one of true, false"):
        runner.resolve_parameters(definition, {"DeployModel": "yes"})
    with pytest.raises(runner.ExecutionFailedError, match="not a valid Float"):
        runner.resolve_parameters(definition, {"MinMacroF1": "high"})


def test_store_maps_uris_and_refuses_bad_ones(tmp_path):
    store = Store(tmp_path)
    assert store.path("s3://bucket/a/b.csv") == tmp_path.resolve() / "bucket" / "a" / "b.csv"
    for bad in ("bucket/a", "s3://_sagemaker/x", "s3://bucket/../x"):
        with pytest.raises(StoreError):
            store.path(bad)
    with pytest.raises(StoreError, match="no objects at s3://bucket/missing"):
        store.objects("s3://bucket/missing")
    (tmp_path / "bucket" / "p").mkdir(parents=True)
    (tmp_path / "bucket" / "p" / "x.txt").write_text("1")
    before = store.digest("s3://bucket/p")
    (tmp_path / "bucket" / "p" / "x.txt").write_text("2")
    assert store.digest("s3://bucket/p") != before
    # put_bytes writes a new file over the key: one hard-linked elsewhere keeps its bytes
    linked = tmp_path / "elsewhere.txt"
    linked.hardlink_to(tmp_path / "bucket" / "p" / "x.txt")
    assert store.put_bytes("s3://bucket/p/x.txt", b"3") == tmp_path.resolve() / "bucket" / "p" / "x.txt"
    assert linked.read_text() == "2" and store.path("s3://bucket/p/x.txt").read_text() == "3"
    assert store.put_bytes("s3://bucket/new/deep/y", b"4").read_bytes() == b"4"
    assert [name for name, _ in store.objects("s3://bucket/p")] == ["x.txt"]  # no file left beside it


def test_sandbox_maps_container_paths_inside_values(tmp_path):
    box = jobs.Sandbox(tmp_path)
    assert box.map("/opt/ml/model") == f"{tmp_path}/opt/ml/model"
    assert (
        box.map('{"dir": "/opt/ml/input/data/train"}') == f'{{"dir": "{tmp_path}/opt/ml/input/data/train"}}'
    )
    assert box.map("/opt/mlx/x") == "/opt/mlx/x" and box.map("s3://b/opt/ml/x") == "s3://b/opt/ml/x"


def _definition(*steps: dict) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": list(steps)})


def test_an_unsupported_step_type_fails_the_execution_by_name(tmp_path):
    run = runner.LocalRun(
        Store(tmp_path), _definition({"Name": "Batch", "Type": "Transform", "Arguments": {}})
    )
    with pytest.raises(runner.ExecutionFailedError, match="'Transform' is not supported"):
        run.run()
    assert run.execution["Status"] == "Failed"
    assert run.execution["Steps"]["Batch"]["StepStatus"] == "Failed"


def test_a_fail_step_fails_with_its_resolved_message_and_is_not_resumed(tmp_path):
    text = json.dumps(
        {
            "Parameters": [{"Name": "Limit", "Type": "Float", "DefaultValue": 0.5}],
            "Steps": [
                {
                    "Name": "Gate",
                    "Type": "Condition",
                    "Arguments": {
                        "Conditions": [
                            {
                                "Type": "GreaterThanOrEqualTo",
                                "LeftValue": 0.4,
                                "RightValue": {"Get": "Parameters.Limit"},
                            }
                        ],
                        "IfSteps": [],
                        "ElseSteps": [
                            {
                                "Name": "Failed",
                                "Type": "Fail",
                                "Arguments": {
                                    "ErrorMessage": {
                                        "Std:Join": {
                                            "On": " ",
                                            "Values": ["below", {"Get": "Parameters.Limit"}],
                                        }
                                    }
                                },
                            }
                        ],
                    },
                }
            ],
        }
    )
    store = Store(tmp_path)
    with pytest.raises(runner.ExecutionFailedError, match=r"Failed: below 0\.5"):
        runner.LocalRun(store, text).run()
    again = runner.LocalRun(store, text)
    with pytest.raises(runner.ExecutionFailedError):
        again.run()
    assert again.execution["Attempts"] == 1  # a new execution: a FailStep's verdict is final
    assert runner.LocalRun(store, text, {"Limit": "0.3"}).run()["Status"] == "Succeeded"


def test_an_execution_keeps_its_display_name_and_status_shows_it(tmp_path):
    from pipeline.local import show

    store = Store(tmp_path)
    named = runner.LocalRun(store, _definition(), display_name="commit-0123456789ab-modified").run()
    unnamed = runner.LocalRun(store, _definition(), new_execution=True).run()
    assert "PipelineExecutionDisplayName" not in unnamed
    assert [e["display_name"] for e in show.recent_executions(store, 5)] == [
        "",
        "commit-0123456789ab-modified",
    ]
    assert show.execution_state(store, named)["display_name"] == "commit-0123456789ab-modified"


def _job_step(*arguments: str) -> dict:
    """A processing step running ``s3://b/code/job.py`` with ``arguments``."""
    return {
        "Name": "Job",
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": "x",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
                "ContainerArguments": list(arguments),
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {"S3Uri": "s3://b/code", "LocalPath": "/opt/ml/processing/input/code"},
                }
            ],
            "ProcessingOutputConfig": {"Outputs": []},
        },
    }


def test_a_job_that_fails_names_its_log_and_the_execution_resumes_there(tmp_path):
    store = Store(tmp_path)
    (tmp_path / "b" / "code").mkdir(parents=True)
    script = tmp_path / "b" / "code" / "job.py"
    script.write_text("import sys; print('working'); sys.exit(3)\n")
    step = _job_step()
    with pytest.raises(runner.ExecutionFailedError, match=r"exited with status 3; see .*Job\.log"):
        runner.LocalRun(store, _definition(step)).run()
    log = next((store.service / "executions").glob("*/logs/Job.log"))
    assert "working" in log.read_text()
    script.write_text("raise ValueError('column x is missing')\n")
    with pytest.raises(runner.ExecutionFailedError, match=r"status 1: ValueError: column x is missing; see"):
        runner.LocalRun(store, _definition(step)).run()  # the job's own error line is in the message
    # a logged error is quoted without its time, level and logger
    script.write_text(
        "import logging; logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')\n"
        "logging.getLogger('medtx').error('only 0 classes have >= 30 rows'); raise SystemExit(2)\n"
    )
    with pytest.raises(runner.ExecutionFailedError, match=r"status 2: only 0 classes have >= 30 rows; see"):
        runner.LocalRun(store, _definition(step)).run()
    long = "y" * 600  # cut where the failure reason would be too long, and said to be cut
    script.write_text(f"raise ValueError('{long}')\n")
    with pytest.raises(runner.ExecutionFailedError) as failed:
        runner.LocalRun(store, _definition(step)).run()
    quoted = f"ValueError: {long}"[: jobs.REASON_CHARS - 3] + "...; see"
    assert quoted in str(failed.value)
    script.write_text("print('fixed')\n")
    resumed = runner.LocalRun(store, _definition(step))
    assert resumed.run()["Status"] == "Succeeded"
    assert resumed.execution["Attempts"] == 5


def test_cache_expiry_durations():
    assert runner._seconds("P30D") == 30 * 86400
    assert runner._seconds("PT1H30M") == 5400
    with pytest.raises(ValueError, match="expiry"):
        runner._seconds("30 days")


class _Handler:
    """A stand-in for an archive's inference.py: the real one is served in the integration test."""

    class CONFIG:
        max_payload_bytes = 1000

    class ClientError(ValueError):
        def __init__(self, message: str, status_code: int) -> None:
            super().__init__(message)
            self.status_code = status_code

    def input_fn(self, body, content_type):
        if content_type != "application/json":
            raise self.ClientError("content type", 415)
        return json.loads(body)

    def predict_fn(self, data, model):
        if data.get("boom"):
            raise RuntimeError("internal")
        return [{"label": model, "n": len(data["inputs"])}]

    def output_fn(self, prediction, accept):
        return json.dumps(prediction)


def test_endpoint_server_speaks_the_container_contract():
    server = make_server(_Handler(), "Surgery", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def ask(
        body: bytes | None,
        content_type: str = "application/json",
        path: str = "/invocations",
        method: str = "POST",
    ):
        request = urllib.request.Request(
            f"{url}{path}", data=body, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()), err.headers.get("Allow")

    try:
        assert ask(None, path="/ping", method="GET") == (200, None)
        # each route by its own method: another one is named, an unknown path is not found
        assert ask(None, path="/invocations", method="GET") == (
            405,
            {"error": "/invocations takes POST, not GET"},
            "POST",
        )
        assert ask(b"{}", path="/ping") == (405, {"error": "/ping takes GET, not POST"}, "GET")
        assert ask(b"{}", path="/predict")[:2] == (404, {"error": "no route /predict"})
        assert ask(b'{"inputs": ["a", "b"]}') == (200, [{"label": "Surgery", "n": 2}])
        assert ask(b"{}", "text/plain")[:2] == (415, {"error": "content type"})
        assert ask(b'{"boom": true}')[0] == 500
        assert ask(b'{"inputs": ["' + b"x" * 2000 + b'"]}')[:2] == (
            413,
            {"error": "payload is 2016 bytes; the limit is 1000"},
        )
    finally:
        server.shutdown()


class _RowHandler:
    """One result row per text, so a batched call can be split back per request."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_fn(self, data, model):
        self.calls += 1
        time.sleep(0.05)  # a forward pass long enough for requests to pile up
        return [{"text": t, "top_k": data["top_k"]} for t in data["texts"]]


def test_batcher_merges_concurrent_requests_and_returns_each_its_rows():
    handler = _RowHandler()
    batcher = Batcher(handler, model=None, max_texts=64, wait_seconds=0.02)
    requests = [{"texts": [f"r{i}-a", f"r{i}-b"], "top_k": 1 + i % 2, "single": False} for i in range(12)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(batcher.predict, requests))
    for request, answer in zip(requests, answers, strict=True):
        assert [row["text"] for row in answer] == request["texts"]
        assert all(row["top_k"] == request["top_k"] for row in answer)
    assert handler.calls < len(requests)  # several requests shared a forward pass
    assert not Batcher.accepts({"inputs": "x"}) and Batcher.accepts(requests[0])


def test_sigterm_stops_the_job_marks_the_execution_stopped_and_the_next_run_resumes(tmp_path):
    import signal
    import subprocess
    import sys

    (tmp_path / "b" / "code").mkdir(parents=True)
    (tmp_path / "b" / "code" / "job.py").write_text(
        "import pathlib, sys, time\n"
        "marker = pathlib.Path(sys.argv[1])\n"
        "if not marker.exists():\n"
        "    marker.write_text('started')\n"
        "    time.sleep(600)\n"
        "print('second attempt finished')\n"
    )
    marker = tmp_path / "marker"
    step = _job_step(str(marker))
    (tmp_path / "definition.json").write_text(_definition(step))
    code = (
        "import sys; from pipeline.local.runner import LocalRun; from pipeline.local.store import Store\n"
        f"LocalRun(Store({str(tmp_path)!r}), open({str(tmp_path / 'definition.json')!r}).read()).run()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, present(process.stderr).read()
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "stopped; run the same command again to resume it" in err
    (record,) = [
        json.loads(p.read_text()) for p in (tmp_path / "_sagemaker" / "executions").glob("*/execution.json")
    ]
    assert record["Status"] == "Stopped" and record["Steps"]["Job"]["StepStatus"] == "Stopped"
    assert "JobPid" not in record["Steps"]["Job"]  # the job was stopped with its runner

    resumed = runner.LocalRun(Store(tmp_path), _definition(step))
    assert resumed.run()["Status"] == "Succeeded"
    assert resumed.execution["PipelineExecutionId"] == record["PipelineExecutionId"]
    assert "second attempt finished" in Path(resumed.execution["Steps"]["Job"]["Log"]).read_text()


def test_deploy_local_serves_only_an_approved_package_whose_archive_is_there(tmp_path):
    """``medtx deploy --local``'s refusals, before any server starts."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.local import endpoint, registry

    store = Store(tmp_path)
    container = {"Image": "hf:1", "ModelDataUrl": "s3://bucket/models/m/output/model.tar.gz"}
    request = {"ModelPackageGroupName": "g", "InferenceSpecification": {"Containers": [container]}}
    package = registry.register(store, request, "exec-1")
    with pytest.raises(registry.RegistryError, match=r"in group 'g': approve one first \(`medtx models"):
        registry.to_deploy(store, "g")
    with pytest.raises(endpoint.EndpointError, match=r"is PendingManualApproval; .* approve 1`\)"):
        endpoint.deploy_package(store, "ep", package)
    approved = registry.set_status(store, "g", 1, "Approved")
    assert (
        registry.to_deploy(store, "g")
        == approved
        == registry.to_deploy(store, "g", arn=package["ModelPackageArn"])
    )
    with pytest.raises(
        endpoint.EndpointError, match=r"model archive s3://bucket/models/m/output/model\.tar\.gz is not"
    ):
        endpoint.deploy_package(store, "ep", approved)
    assert store.read_record(endpoint.KIND, "ep") is None  # nothing was started
    missing = CliRunner().invoke(app, ["deploy", "--local", "--version", "9", "--store", str(tmp_path)])
    assert missing.exit_code == 2 and "no version 9" in missing.output


def test_approving_or_rejecting_a_local_version_says_what_it_means_for_the_local_endpoint(tmp_path):
    """No approval deploys here (in an account the deploy project does): approving names the command
    that serves the version, or says the endpoint serves it already; rejecting the version the
    endpoint serves warns that it still does."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.cli.common import config
    from pipeline.local import endpoint, registry

    store = Store(tmp_path)
    group, name = config().model_package_group, config().endpoint_name
    container = {"Image": "hf:1", "ModelDataUrl": "s3://bucket/m/model.tar.gz"}
    request = {"ModelPackageGroupName": group, "InferenceSpecification": {"Containers": [container]}}
    first, second = (registry.register(store, request, f"exec-{i}") for i in (1, 2))

    def said(*args: str) -> str:
        done = CliRunner().invoke(app, ["models", *args, "--store", str(tmp_path)])
        assert done.exit_code == 0, done.output
        return " ".join(done.output.split())

    assert f"`medtx deploy --local --version 1 --store {tmp_path}` serves it on endpoint {name}" in said(
        "approve", "1"
    )
    served = {"EndpointName": name, "EndpointStatus": "OutOfService", "ModelName": "m", "Url": ""}
    store.write_record(endpoint.KIND, name, {**served, "ModelPackageArn": first["ModelPackageArn"]})
    assert f"endpoint {name} serves this version already" in said("approve", "1")
    assert f"warning: endpoint {name} still serves this version: `medtx deploy --local --version N" in said(
        "reject", "1"
    )
    assert "serves" not in said("reject", "2") and second["ModelPackageVersion"] == 2


def test_the_local_registry_checks_the_model_card_as_the_service_does(tmp_path):
    """A card whose Join rendered broken JSON (a text variable holding a quote), or one outside the
    schema, fails the RegisterModel step with what is wrong and registers nothing."""
    from pipeline.local import registry

    store = Store(tmp_path)
    container = {"Image": "hf:1", "ModelDataUrl": "s3://bucket/m/model.tar.gz"}
    request = {"ModelPackageGroupName": "g", "InferenceSpecification": {"Containers": [container]}}
    broken = '{"model_overview": {"model_artifact": ["s3://b/"x".tar.gz"]}}'
    with pytest.raises(registry.RegistryError, match=r'RegisterModel: the model card is not JSON .*"x"\.tar'):
        registry.register(store, {**request, "ModelCard": {"ModelCardContent": broken}}, "exec-1")
    outside = '{"intended_uses": {"risk_rating": "Severe"}}'
    with pytest.raises(registry.RegistryError, match=r"the model card's intended_uses\.risk_rating"):
        registry.register(store, {**request, "ModelCard": {"ModelCardContent": outside}}, "exec-1")
    assert registry.packages(store) == []
    card = {"ModelCardContent": '{"intended_uses": {"risk_rating": "Low"}}', "ModelCardStatus": "Draft"}
    assert registry.register(store, {**request, "ModelCard": card}, "exec-1")["ModelCard"] == card


def test_approving_a_version_approves_its_card_only_where_it_waits_for_review(tmp_path):
    """The pipeline registers the card ``PendingReview`` with the version: approving the version
    approves that card. A rejection, a ``Draft`` card or no card at all stays as it is."""
    from pipeline.local import registry

    store = Store(tmp_path)
    container = {"Image": "hf:1", "ModelDataUrl": "s3://bucket/m/model.tar.gz"}
    request = {"ModelPackageGroupName": "g", "InferenceSpecification": {"Containers": [container]}}
    content = '{"intended_uses": {"risk_rating": "Low"}}'
    for status in ("PendingReview", "PendingReview", "Draft"):
        card = {"ModelCardContent": content, "ModelCardStatus": status}
        registry.register(store, {**request, "ModelCard": card}, "exec-1")
    registry.register(store, request, "exec-1")

    def card_of(version: int, status: str) -> dict | None:
        return registry.set_status(store, "g", version, status).get("ModelCard")

    assert card_of(1, "Rejected") == {"ModelCardContent": content, "ModelCardStatus": "PendingReview"}
    assert card_of(1, "Approved") == {"ModelCardContent": content, "ModelCardStatus": "Approved"}
    # settled: a retired version's card
    assert present(card_of(1, "Rejected"))["ModelCardStatus"] == "Approved"
    assert present(card_of(2, "Approved"))["ModelCardStatus"] == "Approved"
    assert present(card_of(3, "Approved"))["ModelCardStatus"] == "Draft"
    assert card_of(4, "Approved") is None
    assert registry.describe(store, "g", 2)["ModelCard"]["ModelCardStatus"] == "Approved"  # stored
    # approved where the card is not (Studio sets the version's status alone): the card left waiting
    from pipeline.registry import card_left_waiting

    waiting = {"ModelApprovalStatus": "Approved", "ModelCard": {"ModelCardStatus": "PendingReview"}}
    assert card_left_waiting(waiting)
    assert not card_left_waiting({**waiting, "ModelApprovalStatus": "PendingManualApproval"})
    assert not any(card_left_waiting(registry.describe(store, "g", v)) for v in (1, 2, 3, 4))


_HANDLER = """import json
def model_fn(model_dir):
    return open(model_dir + "/label.txt").read()
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
{predict}
def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _package(store: Store, key: str, label: str, predict: str, environment: dict | None = None) -> dict:
    """An Approved package of the local registry whose archive carries a handler of its own."""
    from pipeline.local import registry

    uri = f"s3://bucket/models/{key}/output/model.tar.gz"
    folder = store.path(uri).parent / "archive"
    (folder / "code").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "label.txt").write_text(label)
    (folder / "code" / "inference.py").write_text(_HANDLER.format(predict=predict))
    with tarfile.open(store.path(uri), "w:gz") as tar:
        for path in folder.rglob("*"):
            tar.add(path, arcname=str(path.relative_to(folder)))
    container = {
        "Image": "hf:1",
        "ModelDataUrl": uri,
        **({"Environment": environment} if environment else {}),
    }
    request = {"ModelPackageGroupName": "g", "InferenceSpecification": {"Containers": [container]}}
    package = registry.register(store, request, f"exec-{key}")
    return registry.set_status(store, "g", int(package["ModelPackageArn"].rsplit("/", 1)[1]), "Approved")


def _servers(store: Store) -> int:
    """How many endpoint servers of this store run (their command lines name its folder)."""
    found = subprocess.run(
        ["pgrep", "-f", f"endpoint --model-data {store.root}"], capture_output=True, text=True
    )
    return len(found.stdout.split())


def test_deploy_local_switches_only_to_a_server_that_answers_its_smoke_request(tmp_path):
    """Blue/green with a health check: a package whose handler fails the smoke request is stopped
    before the switch, and the endpoint goes on serving the package it served."""
    from pipeline.local import endpoint

    store = Store(tmp_path)
    good = _package(store, "good", "Cardiology", '    return [{"label": model, "class_id": 0, "score": 0.9}]')
    broken = _package(store, "broken", "Surgery", '    raise RuntimeError("the handler broke")')
    try:
        created = endpoint.deploy_package(store, "ep", good)
        assert created["Action"] == "created"
        assert created["SmokeTest"] == {"label": "Cardiology", "score": 0.9}
        with pytest.raises(endpoint.EndpointError) as failed:
            endpoint.deploy_package(store, "ep", broken)
        message = str(failed.value)
        assert "the new server for endpoint ep failed its smoke request, so it was stopped" in message
        assert "HTTP 500" in message and "the handler broke" in message
        assert f"The endpoint still serves {good['ModelPackageArn']}." in message
        kept = present(endpoint.current(store, "ep"))
        assert kept["EndpointStatus"] == "InService" and kept["ModelPackageArn"] == good["ModelPackageArn"]
        assert json.loads(endpoint.invoke(store, "ep", b'{"inputs": ["x"]}')[1])[0]["label"] == "Cardiology"
        assert _servers(store) == 1  # the failed server was stopped, the serving one was not

        with pytest.raises(endpoint.EndpointError, match=r"stopped: .*Nothing was deployed\."):
            endpoint.deploy_package(store, "fresh", broken)
        assert store.read_record(endpoint.KIND, "fresh") is None and _servers(store) == 1
    finally:
        if store.read_record(endpoint.KIND, "ep"):
            endpoint.stop(store, "ep")


def test_a_stopped_endpoint_starts_again_with_its_model_and_settings(tmp_path, monkeypatch):
    """``medtx endpoint start``: the stopped endpoint's model, with its container's environment and
    its data capture, behind a smoke request; a serving one is left alone."""
    from typer.testing import CliRunner

    from pipeline import deploy as contract
    from pipeline.cli import app
    from pipeline.local import endpoint

    store = Store(tmp_path)
    answer = (
        "    import os\n"
        '    return [{"label": model + os.environ["MEDTX_TEST_SUFFIX"], "class_id": 0, "score": 0.9}]'
    )
    good = _package(store, "good", "Cardiology", answer, environment={"MEDTX_TEST_SUFFIX": " (env)"})
    destination = "s3://bucket/endpoint-capture"
    monkeypatch.setenv("COLUMNS", "200")

    def start():
        return CliRunner().invoke(app, ["endpoint", "start", "--name", "ep", "--store", str(tmp_path)])

    def label():
        return json.loads(endpoint.invoke(store, "ep", b'{"inputs": ["x"]}')[1])[0]["label"]

    try:
        missing = start()
        assert missing.exit_code == 1
        assert f"no local endpoint 'ep' in {tmp_path} (medtx run --local makes one)" in " ".join(
            missing.output.split()
        )
        endpoint.deploy_package(store, "ep", good, capture=contract.capture_request(100, destination))
        first = present(endpoint.current(store, "ep"))
        endpoint.stop(store, "ep")
        with pytest.raises(endpoint.EndpointError, match="is OutOfService; `medtx endpoint start` serves"):
            label()
        started = start()
        assert started.exit_code == 0, started.output
        again = present(endpoint.current(store, "ep"))
        assert f"ep: started ({good['ModelPackageArn']} at {again['Url']})" in started.output
        assert again["Pid"] != first["Pid"] and again["EndpointConfigName"] == first["EndpointConfigName"]
        assert again["SmokeTest"] == {"label": "Cardiology (env)", "score": 0.9}
        assert label() == "Cardiology (env)" and _servers(store) == 1
        captured = sorted(store.path(f"{destination}/ep/AllTraffic").rglob("*.jsonl"))
        assert sum(len(p.read_text().splitlines()) for p in captured) == 3  # two smoke requests, one call
        unchanged = start()
        assert unchanged.exit_code == 0 and "ep: unchanged: it is serving" in unchanged.output
        assert present(endpoint.current(store, "ep"))["Pid"] == again["Pid"] and _servers(store) == 1

        # a record from before the environment was kept: the model record's container has it
        endpoint.stop(store, "ep")
        stored = present(store.read_record(endpoint.KIND, "ep"))
        older = {k: v for k, v in stored.items() if k != "Environment"}
        store.write_record(endpoint.KIND, "ep", older)
        container = {"Image": "hf:1", "Environment": {"MEDTX_TEST_SUFFIX": " (model)"}}
        store.write_record(
            "models", older["ModelName"], {"ModelName": older["ModelName"], "Containers": [container]}
        )
        assert start().exit_code == 0 and label() == "Cardiology (model)"
    finally:
        if store.read_record(endpoint.KIND, "ep"):
            endpoint.stop(store, "ep")


def test_the_local_endpoint_captures_its_answers_as_sagemaker_does(tmp_path, monkeypatch):
    """``deploy --local`` with a capture share: the server writes its answers (never the requests) in
    SageMaker's capture layout in the store, and ``medtx endpoint predictions`` reads them back."""
    from typer.testing import CliRunner

    from pipeline import capture
    from pipeline import deploy as contract
    from pipeline.cli import app
    from pipeline.cli.common import config
    from pipeline.local import endpoint

    def told_by(result: Any) -> str:
        return " ".join(result.output.split())

    store = Store(tmp_path)
    good = _package(store, "good", "Cardiology", '    return [{"label": model, "class_id": 0, "score": 0.9}]')
    destination = "s3://bucket/endpoint-capture"
    try:
        plain = endpoint.deploy_package(store, "ep", good)
        capturing = contract.capture_request(100, destination)
        captured = endpoint.deploy_package(store, "ep", good, capture=capturing)
        assert plain["Action"] == "created" and captured["Action"] == "updated (blue/green)"  # a new share
        again = endpoint.deploy_package(store, "ep", good, capture=capturing)
        assert again["Action"].startswith("unchanged")
        status = CliRunner().invoke(app, ["endpoint", "status", "--name", "ep", "--store", str(tmp_path)])
        assert json.loads(status.stdout)["DataCaptureConfig"] == capturing
        assert f"endpoint ep: InService, {good['ModelPackageArn']} at http://127.0.0.1:" in told_by(status)
        assert "; capturing 100% of its answers" in told_by(status)
        asked = ["endpoint", "predictions", "--name", "ep", "--store", str(tmp_path)]
        checks_only = CliRunner().invoke(app, asked)  # only the deploys' smoke requests: each kind said
        assert checks_only.exit_code == 1
        assert (
            "no captured predictions in the last 24 h at "
            f"{store.path(destination)}/ep/AllTraffic: of its 2 record(s), 2 deploy smoke request(s) left "
            "out (a scored backlog and a deployment's check are not the endpoint's traffic)"
        ) in " ".join(checks_only.output.split())
        for text in ("a note", "another note"):
            assert endpoint.invoke(store, "ep", contract.request_body([text]))[0] == 200
        written = sorted(store.path(f"{destination}/ep/AllTraffic").rglob("*.jsonl"))  # a file an hour
        lines = [line for path in written for line in path.read_text().splitlines()]
        assert len(lines) == 4  # the two deploys' smoke requests, then two
        assert all("a note" not in line and "endpointInput" not in line for line in lines)
        smoke = [json.loads(line)["eventMetadata"].get("inferenceId", "") for line in lines[:2]]
        assert all(mark.startswith(capture.SMOKE_INFERENCE_PREFIX) for mark in smoke)
        assert capture.answers_from_line(lines[2]) == [{"label": "Cardiology", "score": 0.9}]

        monkeypatch.setenv("COLUMNS", "200")
        shown = CliRunner().invoke(app, asked)
        assert shown.exit_code == 0, shown.output
        # the smoke requests check the deployments: not the endpoint's traffic
        told = " ".join(shown.output.split())
        assert (
            "2 predictions in 4 captured records (0 without one, 2 deploy smoke request(s) left out)" in told
        )
        assert "records no evaluation: no validation predictions to compare with" in shown.output
        few = "2 predictions are few for shares, a PSI and an accuracy estimate"
        assert few in " ".join(shown.output.split())
        # a backlog scored with `medtx predict` is captured with its InferenceId, and left out
        backlog = tmp_path / "backlog.csv"
        backlog.write_text("transcription\na note of the backlog\n")  # this handler answers one text
        scored = CliRunner().invoke(app, ["predict", str(backlog), "--name", "ep", "--store", str(tmp_path)])
        assert scored.exit_code == 0, scored.output
        lines = [line for path in written for line in path.read_text().splitlines()]
        marked = [json.loads(line)["eventMetadata"].get("inferenceId", "") for line in lines[4:]]
        assert len(marked) == 1 and marked[0].startswith(capture.BATCH_INFERENCE_PREFIX)
        shown = CliRunner().invoke(app, [*asked, "--json"])
        read = json.loads(shown.stdout)
        counted = (read["predictions"], read["records"], read["batch_records"], read["smoke_records"])
        assert counted == (2, 5, 1, 2)
        # --publish: the check joins the drift history in the store (no CloudWatch locally)
        published = CliRunner().invoke(app, [*asked, "--publish"])
        assert published.exit_code == 0, published.output
        kept = capture.read_history(store)
        assert kept[["endpoint", "label", "predictions"]].values.tolist() == [["ep", "Cardiology", 2.0]]
        assert store.path(f"s3://bucket/{capture.HISTORY_KEY}").is_file()
        assert "CloudWatch" not in published.output and "medtx dashboard" in published.output
        off = endpoint.deploy_package(store, "ep", good)
        assert off["Action"] == "updated (blue/green)" and "DataCaptureConfig" not in off
        endpoint.stop(store, "ep")
        stopped = CliRunner().invoke(app, ["endpoint", "status", "--name", "ep", "--store", str(tmp_path)])
        arn = good["ModelPackageArn"]
        assert f"endpoint ep: OutOfService, {arn}; data capture off; `medtx endpoint start" in (
            told_by(stopped)
        )
        endpoint.restart(store, "ep")
        nothing = CliRunner().invoke(app, asked)
        assert nothing.exit_code == 1 and "endpoint ep captures nothing" in nothing.output
        usual = config().endpoint_capture_uri()  # where medtx deploy --local captures
        assert "nothing captured before in the last 24 h at " + str(store.path(usual)) in told_by(nothing)

        # capture turned off after a while on: what it captured before is still read, and said to be
        endpoint.deploy_package(store, "ep", good, capture=contract.capture_request(100, usual))
        assert endpoint.invoke(store, "ep", contract.request_body(["a third note"]))[0] == 200
        endpoint.deploy_package(store, "ep", good)
        before = CliRunner().invoke(app, asked)
        assert before.exit_code == 0, before.output
        assert "endpoint ep captures nothing now (deployed without --capture-percent); these are the " in (
            told_by(before)
        )
        assert "1 predictions in 2 captured records (0 without one, 1 deploy smoke request(s) left out)" in (
            told_by(before)
        )
    finally:
        if store.read_record(endpoint.KIND, "ep"):
            endpoint.stop(store, "ep")


def test_the_local_dashboard_draws_the_learning_curve_from_the_training_jobs_output(tmp_path):
    """``train_metrics.json`` read from where the service archives a job's output data, as the local
    runner packs it; a job without it has no curve, an unreadable archive is named."""
    from pipeline import dashboard

    store = Store(tmp_path)
    job = {"TrainingJobName": "hf-1", "OutputDataConfig": {"S3OutputPath": "s3://bucket/models/"}}
    assert dashboard.training_metrics(store, job) is None  # no archive
    assert dashboard.training_metrics(store, {}) is None  # a step that never started a job
    metrics = {
        "train_history": [
            {"epoch": 0.5, "step": 10, "loss": 3.0, "learning_rate": 1e-4},
            {"epoch": 1.0, "step": 20, "loss": 2.5, "learning_rate": 9e-5},
            {"epoch": 1.5, "step": 30, "loss": 2.0, "learning_rate": 5e-5},
        ],
        "eval_history": [
            {"epoch": 1.0, "step": 20, "eval_loss": 2.6, "eval_macro_f1": 0.3},
            {"epoch": 2.0, "step": 40, "eval_loss": 2.2, "eval_macro_f1": 0.4},
        ],
    }
    data = tmp_path / "job-output"
    data.mkdir()
    (data / "other.txt").write_text("x")
    archive = store.path("s3://bucket/models/hf-1/output/output.tar.gz")
    jobs._tar(data, archive)
    assert dashboard.training_metrics(store, job) is None  # an archive without the file
    (data / "train_metrics.json").write_text(json.dumps(metrics))
    jobs._tar(data, archive)
    assert dashboard.training_metrics(store, job) == metrics

    ((title, figure),) = dashboard.training_figures(metrics)
    assert title.startswith("Learning curve: training loss every 10 steps")
    loss, eval_loss, f1 = figure.data
    assert list(loss.x) == [0.5, 1.0, 1.5] and list(loss.y) == [3.0, 2.5, 2.0]
    assert list(eval_loss.y) == [2.6, 2.2] and list(f1.y) == [0.3, 0.4] and f1.yaxis == "y2"
    assert dashboard.training_figures({"train_history": [], "eval_history": []}) == []
    ((title, _),) = dashboard.training_figures({"eval_history": metrics["eval_history"][:1]})
    assert "no training loss logged (fewer steps than train.logging_steps)" in title

    archive.write_bytes(b"not a tar archive")
    with pytest.raises(dashboard.DashboardError, match=r"cannot read train_metrics\.json"):
        dashboard.training_metrics(store, job)


def test_the_behavioural_checks_read_on_the_terminal_and_on_the_dashboard():
    from pipeline import dashboard, report

    found = {
        "gender_swap": {
            "texts_altered": 200,
            "texts_changed": 6,
            "agreement": 0.97,
            "macro_f1_change": -0.0021,
            "changes": [{"from": "Urology", "to": "Obstetrics / Gynecology", "texts": 3}],
        },
        "line_break_commas": {
            "texts_altered": 0,
            "texts_changed": 0,
            "agreement": None,
            "macro_f1_change": 0,
        },
        "typos": {"texts_altered": 180, "texts_changed": 18, "agreement": 0.9, "macro_f1_change": 0.001},
    }
    line = report.behaviour_line({"behaviour": found})
    assert line.endswith("gender swap 97.0% of 200 (macro-F1 -0.0021); typos 90.0% of 180 (macro-F1 +0.0010)")
    assert report.behaviour_line({}) == "" and dashboard.behaviour_figures({"behaviour": {}}) == []
    ((title, figure),) = dashboard.behaviour_figures({"behaviour": found})
    assert title.startswith("Behavioural checks") and list(figure.data[0].y) == ["gender swap", "typos"]
    assert list(figure.data[0].x) == [0.97, 0.9]
    assert "194 of 200 notes kept their label" in figure.data[0].hovertext[0]
    assert "most often Urology -> Obstetrics / Gynecology (3)" in figure.data[0].hovertext[0]


def test_a_served_model_that_predicts_the_same_is_said_to():
    """A retraining on the same data and settings predicts what the served version does: the summary
    says so, not a difference of +0.0000 with an interval of nothing and "ahead in 0%"."""
    from rich.console import Console

    from pipeline import dashboard, report

    def said(champion: dict[str, Any]) -> str:
        console = Console(record=True, width=300)
        figures = {"macro_f1": {"value": 0.5}}
        spread = {"interval": {"macro_f1_minus_champion": [0.0, 0.0]}, "share_above_champion": 0.0}
        found = {"multiclass_classification_metrics": figures, "champion": champion, "bootstrap": spread}
        report.print_figures(console, {**found, "macro_f1_minus_champion": 0.0})
        return console.export_text()

    champion = {"served": True, "model_package": "arn:...:model-package/g/2", "macro_f1": 0.5}
    same = {"rows_only_this_model_gets_right": 0, "rows_only_the_champion_gets_right": 0}
    text = said({**champion, **same, "rows_predicted_differently": 0})
    assert "the served model (arn:...:model-package/g/2) predicts the same class on every one of" in text
    assert "ahead in" not in text
    # two rows swapped between right and wrong, or an evaluation from before the count: the difference
    text = said({**champion, **same, "rows_predicted_differently": 2})
    assert "against the served model (arn:...:model-package/g/2) on the same rows: macro-F1 0.5000" in text
    assert "ahead in 0% of the resamples" in said({**champion, **same})
    header = dashboard._against_champion({"champion": {**champion, "rows_predicted_differently": 0}})
    assert header == "; the served model predicts the same class on every row (macro-F1 0.5000)"


def test_the_top_k_accuracy_reads_on_the_terminal_and_on_the_dashboard():
    from pipeline import dashboard, report

    found: dict[str, Any] = {"top_k_accuracy": {"top_1": 0.357, "top_2": 0.52, "top_3": 0.6114}}
    assert report.top_k_line(found) == (
        "Right specialty among the first k listed (top-k accuracy): k=1 0.357, k=2 0.520, k=3 0.611"
    )
    found["baseline"] = {"macro_f1": 0.46, "top_k_accuracy": {"top_1": 0.44, "top_2": 0.58, "top_3": 0.66}}
    assert report.top_k_line(found).endswith("k=3 0.611 (baseline 0.660)")
    assert report.top_k_line({}) == ""  # an evaluation from before it
    ((title, figure),) = dashboard.top_k_figures(found)
    assert title == "Top-k accuracy: the right specialty among the first k listed"
    model, baseline = figure.data
    assert (model.name, list(model.x), list(model.y)) == ("model", [1, 2, 3], [0.357, 0.52, 0.6114])
    assert baseline.name == "TF-IDF baseline" and list(baseline.y) == [0.44, 0.58, 0.66]
    assert dashboard.top_k_figures({}) == []


def test_selective_prediction_reads_on_the_terminal_and_on_the_dashboard():
    from pipeline import dashboard, report

    curve = [
        {"threshold": 0.81, "coverage": 0.4, "notes": 40, "accuracy": 0.93},
        {"threshold": 0.2, "coverage": 1.0, "notes": 100, "accuracy": 0.6},
    ]
    found: dict[str, Any] = {
        "selective": {
            "accuracy_target": 0.9,
            "at_accuracy": {"threshold": 0.7612, "coverage": 0.46, "notes": 46, "accuracy": 0.9},
            "held_out": {
                "coverage": 0.43,
                "coverage_interval": [0.3385, 0.5268],
                "notes": 43,
                "accuracy": 0.8837,
                "accuracy_interval": [0.7553, 0.9493],
                "confidence_level": 0.95,
            },
            "guaranteed": {
                "threshold": 0.8799,
                "coverage": 0.25,
                "notes": 25,
                "accuracy": 1.0,
                "accuracy_bound": 0.9042,
                "confidence_level": 0.95,
                "tests": 7,
            },
            "area_under_risk_coverage": 0.1834,
            "full_coverage_error": 0.4,
            "curve": curve,
        }
    }
    assert report.selective_line(found) == (
        "Selective prediction, to reach 90% accuracy on the notes answered (right: one of the note's "
        "specialties; the rest to review): 46% of the notes answered at score >= 0.761, held out 88.4% "
        "right [95% interval 75.5%-94.9%] on 43% [34%-53%]; guaranteed (95% confidence): 25% answered at "
        "score >= 0.880, their accuracy's bound 90.4%; area under the risk-coverage curve 0.183"
    )
    none = {"threshold": None, "coverage": 0.0, "notes": 0, "accuracy": None}
    unanswered = {**found["selective"]["held_out"], "notes": 0, "accuracy": None, "accuracy_interval": None}
    found["baseline"] = {
        "selective": {
            **found["selective"],
            "at_accuracy": none,
            "held_out": unanswered,
            "guaranteed": {**none, "confidence_level": 0.95, "tests": 7},
            "area_under_risk_coverage": 0.3,
        }
    }
    assert report.selective_line(found).endswith(
        "(baseline: no score threshold gets there, held out none answered; no threshold found that "
        "guarantees it at 95% confidence); area under the risk-coverage curve 0.183 (baseline 0.300)"
    )
    short = {**found["selective"]["held_out"], "accuracy": 0.8, "accuracy_interval": [0.7, 0.88]}
    assert report.selective_reach({**found["selective"], "held_out": short, "guaranteed": None}).endswith(
        "on 43% [34%-53%]: the target lies above the interval, new notes at this threshold fall short of it"
    )
    assert report.selective_line({}) == "" and dashboard.selective_figures({}) == []
    ((title, figure),) = dashboard.selective_figures(found)
    assert title == (
        "Selective prediction, 90% accuracy on the notes answered: 46% of the notes answered at score "
        ">= 0.761, held out 88.4% right [95% interval 75.5%-94.9%] on 43% [34%-53%]; guaranteed (95% "
        "confidence): 25% answered at score >= 0.880, their accuracy's bound 90.4%"
    )
    target, model, baseline, marked = figure.data
    assert list(target.y) == [0.9, 0.9] and (model.name, baseline.name) == ("model", "TF-IDF baseline")
    # the model's two review thresholds on its curve: in sample, and guaranteed
    assert list(marked.text) == ["in sample", "guaranteed"]
    assert list(marked.x) == [0.46, 0.25] and list(marked.y) == [0.9, 1.0]
    assert list(marked.hovertext) == ["score >= 0.761: 46 notes", "score >= 0.880: 25 notes"]
    unmarked = {**found, "selective": {**found["selective"], "at_accuracy": none, "guaranteed": None}}
    assert len(dashboard.selective_figures(unmarked)[0][1].data) == 3  # no threshold: nothing marked
    assert list(model.x) == [0.4, 1.0] and list(model.y) == [0.93, 0.6]
    assert model.hovertext[0] == "score >= 0.810: 40 notes"


def test_the_calibration_reads_on_the_terminal_and_on_the_dashboard():
    from pipeline import dashboard, report

    found = {
        "expected_calibration_error": 0.0812,
        "overconfidence": -0.042,
        "log_loss": 1.234,
        "brier_score": 0.71,
        "bins": [
            {"low": 0.2, "high": 0.3, "rows": 40, "mean_score": 0.26, "accuracy": 0.35},
            {"low": 0.9, "high": 1.0, "rows": 10, "mean_score": 0.95, "accuracy": 0.9},
        ],
    }
    assert report.calibration_line({"calibration": found}) == (
        "Calibration: the top score is 0.081 from the accuracy of its score bin on average (ECE, 2 bins "
        "with rows); mean score minus accuracy -0.042 (underconfident); log loss 1.234, Brier 0.710"
    )
    assert report.calibration_line({}) == "" and dashboard.reliability_figures({}) == []
    ((title, figure),) = dashboard.reliability_figures({"calibration": found})
    assert (
        title == "Calibration: accuracy against the top score (ECE 0.081, mean score minus accuracy -0.042)"
    )
    diagonal, bins = figure.data
    assert list(diagonal.x) == [0, 1] and list(bins.x) == [0.26, 0.95] and list(bins.y) == [0.35, 0.9]
    assert bins.hovertext[0] == "40 rows scored 0.2-0.3"
    # scores served at a fitted temperature: both say so, the line with the figures without it
    before = {"expected_calibration_error": 0.21, "overconfidence": 0.2, "log_loss": 1.72, "brier_score": 0.8}
    held_out = {
        "expected_calibration_error": 0.05,
        "overconfidence": 0.01,
        "log_loss": 1.5,
        "brier_score": 0.7,
    }
    tempered = {**found, "temperature": 1.8, "without_temperature": before, "held_out": held_out}
    assert report.calibration_line({"calibration": tempered}).endswith(
        "Brier 0.710; scores at temperature 1.80, fitted on the validation notes (without it: ECE 0.210, "
        "mean score minus accuracy +0.200, log loss 1.720); held out (each half of the notes at the other "
        "half's temperature): ECE 0.050, log loss 1.500"
    )
    ((title, _),) = dashboard.reliability_figures({"calibration": tempered})
    assert title.endswith("mean score minus accuracy -0.042, scores at temperature 1.80)")
    assert report.calibration_line({"calibration": {**found, "temperature": 1.0}}) == report.calibration_line(
        {"calibration": found}
    )


def test_the_local_dashboard_charts_the_drift_history(tmp_path):
    """Published checks (``endpoint predictions --publish``) in the store's history: typed when read
    back, the same hour replaced, a foreign file refused by name, and the production charts drawn."""
    from datetime import UTC, datetime, timedelta

    from pipeline import capture, dashboard

    store = Store(tmp_path)
    assert capture.read_history(store).empty
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)

    def check(predictions: int, urology: float, hour: int) -> None:
        shares = {"Urology": urology, "Radiology": 1 - urology}
        classes = [
            {
                "label": k,
                "traffic": round(v * predictions),
                "traffic_share": v,
                "validation_share": 0.5,
                "difference": v - 0.5,
            }
            for k, v in shares.items()
        ]
        result = {
            "endpoint": "ep",
            "hours": 24,
            "predictions": predictions,
            "model_package": "p/1",
            "psi": urology,
            "total_variation": abs(urology - 0.5),
            "mean_score": 0.7,
            "validation_mean_score": 0.8,
            "estimated_accuracy": 1 - urology / 2,
            "estimated_accuracy_low": 0.9 - urology / 2,
            "estimated_accuracy_high": 1.05 - urology / 2,
            "validation_accuracy": 0.6,
            "review_threshold": 0.5,
            "review_share": urology / 2,
            "review_share_low": urology / 2 - 0.04,
            "review_share_high": urology / 2 + 0.06,
            "validation_review_share": 0.3,
            "held_out_review_share_low": 0.2,
            "held_out_review_share_high": 0.4,
            "classes": classes,
        }
        capture.store_history(store, "bucket", capture.history_rows(result, at + timedelta(hours=hour)))

    # a history in an earlier layout (before the accuracy estimate, or before its interval): read with
    # the columns it lacks empty, and the next check rewrites it with them
    older = capture.history_rows({"endpoint": "ep", "hours": 24, "predictions": 0}, at - timedelta(days=1))
    written = store.path(f"s3://bucket/{capture.HISTORY_KEY}")
    written.parent.mkdir(parents=True)
    assert len(capture.ADDED_COLUMNS) == 4
    for added in capture.ADDED_COLUMNS:
        written.write_text(older.drop(columns=list(added)).to_csv(index=False))
        assert capture.read_history(store)[list(added)].isna().all().all()
    check(capture.FEW, 0.9, 0)
    assert written.read_text().startswith(",".join(capture.HISTORY_COLUMNS) + "\n")
    check(capture.FEW - 1, 0.6, 24)  # too few for a PSI
    check(capture.FEW, 0.7, 24)  # the same hour again: replaces the check above
    check(capture.FEW, 0.5, 48)
    kept = capture.read_history(store)
    assert kept["checked_at"].dt.tz is not None and kept["psi"].dtype == float
    psi = kept.drop_duplicates("checked_at")["psi"]
    assert psi.isna().tolist() == [True, False, False, False] and psi.iloc[1:].tolist() == [0.9, 0.7, 0.5]
    check(capture.FEW - 1, 0.6, 72)
    figures = dict(dashboard.production_figures(capture.read_history(store)))
    assert len(figures) == 7
    (psi_title,) = [t for t in figures if t.startswith("PSI")]
    assert "5 checks; 2 checks with fewer than 200 predictions: no PSI" in psi_title
    assert list(figures[psi_title].data[0].y) == [0.9, 0.7, 0.5]
    estimated, validation = figures[
        "Accuracy: estimated from the traffic's scores (with its 95% interval) against validation"
    ].data
    assert (estimated.name, validation.name) == ("traffic (estimated), ep", "validation, ep")
    assert list(estimated.y) == pytest.approx([0.55, 0.65, 0.75, 0.7])  # the older check had none
    # the estimate's interval as error bars: 0.1 below it, 0.05 above; none on the validation line
    assert list(estimated.error_y.arrayminus) == pytest.approx([0.1] * 4)
    assert list(estimated.error_y.array) == pytest.approx([0.05] * 4)
    assert validation.error_y.array is None or all(v != v for v in validation.error_y.array)
    assert list(validation.y) == [0.6] * 4
    # the mean top score beside validation's: one point per check each (a line named "traffic" once
    # took in the history's per-class "traffic" counts too)
    traffic, validation = figures["Mean top score: traffic against validation"].data
    assert list(traffic.y) == [0.7] * 4 and list(validation.y) == [0.8] * 4
    (review,) = [t for t in figures if t.startswith("To review:")]
    assert "(with its 95% interval)" in review
    traffic, validation, fewest, most = figures[review].data
    assert list(traffic.y) == pytest.approx([0.45, 0.35, 0.25, 0.3]) and list(validation.y) == [0.3] * 4
    # the traffic's interval as error bars (0.04 below, 0.06 above); the held-out range's two ends
    assert list(traffic.error_y.arrayminus) == pytest.approx([0.04] * 4)
    assert list(traffic.error_y.array) == pytest.approx([0.06] * 4)
    assert (fewest.name, most.name) == ("held out: low end, ep", "held out: high end, ep")
    assert list(fewest.y) == [0.2] * 4 and list(most.y) == [0.4] * 4
    assert most.error_y.array is None or all(v != v for v in most.error_y.array)
    # a margin beyond the first and last checks, so their markers are drawn whole
    import pandas as pd

    low, high = (pd.Timestamp(t) for t in figures[psi_title].layout.xaxis.range)
    checked = capture.read_history(store)["checked_at"]
    assert low < checked.min() and high > checked.max()
    shares = figures["Share of the traffic per predicted class"]
    assert sorted(trace.name for trace in shares.data) == ["Radiology, ep", "Urology, ep"]
    latest = figures["Traffic share minus validation share per class, latest check"]
    assert sorted(latest.data[0].x) == pytest.approx([-0.1, 0.1])  # the fifth check's 0.6 / 0.4
    foreign = store.path(f"s3://other/{capture.HISTORY_KEY}")
    foreign.parent.mkdir(parents=True)
    foreign.write_text("when,what\n1,2\n")
    with pytest.raises(
        capture.CaptureError, match=r"other/monitoring/prediction-drift.csv has the columns when"
    ):
        capture.read_history(store)


def test_versions_that_repeat_an_older_archive_are_named_after_the_oldest():
    """``registry.same_archives``: what ``models list`` and the run's summary say about a version that
    registers the same weights again; a local package from before ``ModelDataUrl`` was kept still has
    its request's archive."""
    from pipeline.registry import same_archives

    def package(version: int, url: str, listed: bool = True) -> dict:
        spec = {"InferenceSpecification": {"Containers": [{"ModelDataUrl": url}]}}
        return {"ModelPackageVersion": version, **({"ModelDataUrl": url} if listed else spec)}

    found = [
        package(3, "s3://b/a"),
        package(1, "s3://b/a", listed=False),
        package(2, "s3://b/b"),
        package(4, "s3://b/b"),
        package(5, "s3://b/c"),
        {"ModelPackageVersion": 6},  # no archive known: repeats nothing
        {"ModelPackageVersion": 7},
    ]
    assert same_archives(found) == {3: 1, 4: 2}


def test_the_live_reporter_receives_every_event_the_runner_sends():
    """``medtx run --local``'s reporter overrides each of the runner's events by its name (a renamed
    method would silently fall back to the base class's no-op); ``--verbose`` echoes a job's lines."""
    from rich.console import Console

    from pipeline.local.show import LiveReporter

    events = {name for name in vars(runner.Reporter) if not name.startswith("_")}
    shown = {name for name in vars(LiveReporter) if not name.startswith("_")}
    assert events == {"execution_started", "step_started", "step_output", "step_finished"}
    assert events <= shown, events - shown
    console = Console(record=True, width=200, force_terminal=False)
    with LiveReporter(console, verbose=True) as reporter:
        reporter.step_started("Train", "Training")
        reporter.step_output("Train", "[progress] epoch 1/1, step 5/9")
        reporter.step_output("Train", "\x1b[1mBertModel LOAD REPORT\x1b[0m from: x")  # the job's colours
        reporter.step_finished("Train", {"StepStatus": "Succeeded", "Seconds": 1.5, "JobName": "job-1"})
    text = console.export_text()
    assert "Train [progress] epoch 1/1, step 5/9" in text and "Train" in text and "job-1" in text
    assert "Train BertModel LOAD REPORT from: x" in text and "[1m" not in text
    quiet = Console(record=True, width=200, force_terminal=False)
    with LiveReporter(quiet) as reporter:
        reporter.step_output("Train", "a line of the job's log")
    assert "a line of the job's log" not in quiet.export_text()
    # on a terminal a progress line shows beside the spinner as the job wrote it, brackets and all
    live = Console(record=True, width=200, force_terminal=True)
    with LiveReporter(live) as reporter:
        reporter.step_started("Train", "Training")
        reporter.step_output("Train", "[progress] loss [/bold] 0.5")
        reporter.progress.refresh()
    assert "loss [/bold] 0.5" in live.export_text()


def test_status_local_shows_the_steps_in_the_order_they_ran_with_cache_hits(tmp_path, monkeypatch):
    """``medtx status --local``: a local execution in the shape ``medtx status`` gives a SageMaker one,
    steps in the order they ran (``execution.json`` keeps them by name), a cache hit naming the
    execution whose outputs it reused, and ``--last N`` newest first."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    (tmp_path / "b" / "code").mkdir(parents=True)
    (tmp_path / "b" / "code" / "job.py").write_text("print('done')\n")
    job = {**_job_step(), "Name": "Zeta", "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"}}
    inner = {
        "Name": "Alpha",
        "Type": "Condition",
        "Arguments": {"Conditions": [], "IfSteps": [], "ElseSteps": []},
    }
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "DependsOn": ["Zeta"],
        "Arguments": {
            "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2}],
            "IfSteps": [],
            "ElseSteps": [inner],
        },
    }
    store = Store(tmp_path)
    first = runner.LocalRun(store, _definition(gate, job)).run()
    second = runner.LocalRun(store, _definition(gate, job), new_execution=True).run()
    assert runner.run_order(json.loads(_definition(gate, job))["Steps"]) == ["Zeta", "Gate", "Alpha"]

    monkeypatch.setenv("COLUMNS", "200")
    cli = CliRunner()
    shown = cli.invoke(app, ["status", "--local", "--store", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    state = json.loads(shown.stdout[shown.stdout.index("{") :])
    assert state["arn"] == second["PipelineExecutionArn"] and state["status"] == "Succeeded"
    assert [s["name"] for s in state["steps"]] == ["Zeta", "Gate", "Alpha"]
    zeta, gated, _ = state["steps"]
    assert zeta["cached_from"] == first["PipelineExecutionArn"]
    assert zeta["note"] == f"cache hit (execution {first['PipelineExecutionId']})"
    assert gated["note"] == "condition not met"
    older = cli.invoke(app, ["status", first["PipelineExecutionId"], "--local", "--store", str(tmp_path)])
    (ran,) = [s for s in json.loads(older.stdout[older.stdout.index("{") :])["steps"] if s["name"] == "Zeta"]
    assert ran["cached_from"] is None and ran["note"].startswith("pipelines-")  # its processing job
    listed = cli.invoke(app, ["status", "--local", "--last", "5", "--store", str(tmp_path)])
    rows = json.loads(listed.stdout[listed.stdout.index("[") :])
    assert [r["id"] for r in rows] == [second["PipelineExecutionId"], first["PipelineExecutionId"]]
    missing = cli.invoke(app, ["status", "nope", "--local", "--store", str(tmp_path)])
    assert missing.exit_code == 1 and "no execution nope in" in missing.output

    # `medtx logs --local`: the job's own lines; a cache hit names where its job ran; a condition ran none
    def logs(*args: str):
        return cli.invoke(app, ["logs", *args, "--local", "--store", str(tmp_path)])

    ran_logs = logs("Zeta", first["PipelineExecutionId"], "--lines", "1")
    assert ran_logs.exit_code == 0 and ran_logs.stdout == "done\n", ran_logs.output
    cached = logs("Zeta")
    source = first["PipelineExecutionId"]
    assert cached.exit_code == 1
    assert f"cache hit: its job ran in execution {source} (medtx logs Zeta {source} --local" in cached.output
    assert logs("Gate").exit_code == 1 and "step Gate runs no job (condition not met)" in logs("Gate").output
    unknown = logs("Nope")
    assert unknown.exit_code == 2 and "has no step 'Nope'; its steps: Zeta, Gate, Alpha" in unknown.output
    empty = cli.invoke(app, ["status", "--local", "--store", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "no executions yet" in empty.output


def test_executions_that_start_in_one_second_keep_their_order(tmp_path):
    """``StartTime`` has whole seconds: two executions started within one are ordered by ``CreatedAt``
    (the latest is the one ``status --local``, the dashboard and resuming take), and a record from
    before that key sorts first within its second."""
    from pipeline.local.store import write_json_atomic

    store = Store(tmp_path)
    second = "2026-12-04T13:00:00Z"
    for name, created in (("aaa", 2.0), ("zzz", 1.0), ("mmm", None)):
        record = {
            "PipelineExecutionId": name,
            "StartTime": second,
            **({"CreatedAt": created} if created else {}),
        }
        write_json_atomic(store.record_dir(runner.EXECUTIONS) / name / "execution.json", record)
    write_json_atomic(
        store.record_dir(runner.EXECUTIONS) / "old" / "execution.json",
        {"PipelineExecutionId": "old", "StartTime": "2026-12-04T12:59:59Z", "CreatedAt": 9.0},
    )
    assert [r["PipelineExecutionId"] for r in runner.executions(store)] == ["old", "mmm", "zzz", "aaa"]


def test_a_local_transform_job_refuses_what_it_does_not_run_the_services_way(tmp_path):
    """``pipeline.local.transform``: a setting other than those ``medtx predict`` sends is named before
    anything runs; a model that is not in the store is named too."""
    from pipeline.batch_transform import transform_request
    from pipeline.local import jobs, transform

    store = Store(tmp_path)
    request = transform_request("j", "m", "s3://b/in/", "s3://b/out", "local", 1, 1024)
    multi = {**request, "BatchStrategy": "MultiRecord"}
    gzip = {**request, "TransformInput": {**request["TransformInput"], "CompressionType": "Gzip"}}
    with pytest.raises(jobs.UnsupportedError, match=r"BatchStrategy='MultiRecord' does not run locally"):
        transform.run(store, multi, tmp_path / "model.tar.gz")
    with pytest.raises(jobs.UnsupportedError, match=r"CompressionType='Gzip' does not run locally"):
        transform.run(store, gzip, tmp_path / "model.tar.gz")
    assert not (store.service / transform.KIND).exists()
    with pytest.raises(transform.TransformJobError, match="no local model 'm'"):
        transform.model_source(store, "ep", "m")
    with pytest.raises(transform.TransformJobError, match="no local endpoint 'ep'"):
        transform.model_source(store, "ep", None)
    gone = {"ModelName": "m", "PrimaryContainer": {"ModelDataUrl": "s3://b/m/model.tar.gz"}}
    store.write_record("models", "m", gone)
    with pytest.raises(transform.TransformJobError, match=r"model m: its archive .* is no longer"):
        transform.model_source(store, "ep", "m")
    (tmp_path / "model.tar.gz").write_bytes(b"an archive")
    store.put_file(tmp_path / "model.tar.gz", "s3://b/m/model.tar.gz")
    assert transform.model_source(store, "ep", "m")[:2] == ("m", store.path("s3://b/m/model.tar.gz"))
    # a job whose input names nothing fails (as the service's would), recorded with its reason
    failed = transform.run(store, request, tmp_path / "model.tar.gz")
    assert failed["TransformJobStatus"] == "Failed" and "no objects at s3://b/in/" in failed["FailureReason"]
    assert present(store.read_record(transform.KIND, "j"))["TransformJobStatus"] == "Failed"
    assert failed["TransformEndTime"] >= failed["TransformStartTime"]


def test_an_interrupted_local_transform_job_is_recorded_stopped(tmp_path, monkeypatch):
    """Ctrl-C while the job runs: the job is recorded ``Stopped`` with its end time, and the
    interruption goes on to the command."""
    from pipeline.batch_transform import transform_request
    from pipeline.local import transform

    store = Store(tmp_path)
    (tmp_path / "b" / "in").mkdir(parents=True)
    (tmp_path / "b" / "in" / "requests.jsonl").write_text('{"inputs": "a note"}\n')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transform.endpoint, "spawn", interrupted)
    request = transform_request("j", "m", "s3://b/in/", "s3://b/out", "local", 1, 1024)
    with pytest.raises(KeyboardInterrupt):
        transform.run(store, request, tmp_path / "model.tar.gz")
    record = present(store.read_record(transform.KIND, "j"))
    assert record["TransformJobStatus"] == "Stopped" and record["TransformEndTime"]
    assert not (tmp_path / "b" / "out").exists()


class _Servers:
    """Stand-ins for a transform job's model servers: ``spawn`` starts an idle process in its own
    session (so the job's stop_group has a real group to stop) and gives it a URL of its own;
    ``post`` answers from the test's ``answer`` and keeps which URL got which line."""

    def __init__(self, answer):
        self.answer, self.spawned, self.posted, self.lock = answer, [], [], threading.Lock()

    def spawn(self, model_data, workdir, log, environment=None, arguments=None):
        process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.spawned.append((workdir, log, dict(environment or {}), process))
        return process, f"http://instance-{len(self.spawned)}"

    def post(self, url, body, content_type="application/json", timeout=120):
        with self.lock:
            self.posted.append((url, body))
        return self.answer(url, body)


def _transform_input(tmp_path: Path, files: int) -> None:
    (tmp_path / "b" / "in").mkdir(parents=True)
    for n in range(1, files + 1):
        lines = "".join(f'{{"inputs": "note {n}.{i}"}}\n' for i in range(3))
        (tmp_path / "b" / "in" / f"requests-{n:05d}.jsonl").write_text(lines)


def test_a_local_transform_jobs_instances_score_their_files_at_the_same_time(tmp_path, monkeypatch):
    """``InstanceCount`` servers (no more than files), each handed whole files as the service hands
    them out and each scoring at the same time as the others (each instance's first request waits
    for the other's: run one after another, they would never meet); the cores are shared out, and
    every server is stopped at the end."""
    from pipeline.batch_transform import transform_request
    from pipeline.local import transform

    store = Store(tmp_path)
    _transform_input(tmp_path, 3)
    met = threading.Barrier(3, timeout=20)

    def answer(url, body):
        if body.endswith(b'.0"}'):  # each file's first line waits for the other instances' first
            met.wait()
        return 200, b'[{"label": "A", "score": 0.9}]'

    servers = _Servers(answer)
    monkeypatch.setattr(transform.endpoint, "spawn", servers.spawn)
    monkeypatch.setattr(transform.endpoint, "ready", lambda *args, **kwargs: None)
    monkeypatch.setattr(transform.endpoint, "post", servers.post)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(transform.os, "cpu_count", lambda: 8)
    request = transform_request("j", "m", "s3://b/in/", "s3://b/out", "local", 4, 1024)
    done = transform.run(store, request, tmp_path / "model.tar.gz", {"MODEL_ENV": "kept"})
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert not met.broken  # the two instances' first requests met
    folder = store.record_dir(transform.KIND) / "j"
    assert [(w, log, e) for w, log, e, _ in servers.spawned] == [
        (
            folder / f"instance-{n}",
            folder / f"instance-{n}.log",
            {"MODEL_ENV": "kept", "OMP_NUM_THREADS": "2"},
        )
        for n in (1, 2, 3)
    ]
    assert done["Logs"] == [str(folder / f"instance-{n}.log") for n in (1, 2, 3)]
    notes = {(url, json.loads(body)["inputs"].split(".")[0]) for url, body in servers.posted}
    assert notes == {(f"http://instance-{n}", f"note {n}") for n in (1, 2, 3)}
    for n in (1, 2, 3):
        assert (tmp_path / "b" / "out" / f"requests-{n:05d}.jsonl.out").read_bytes().count(b"\n") == 3
    assert all(process.poll() is not None for *_, process in servers.spawned)
    assert [[f for f, _ in share] for share in transform.shares([(str(i), Path()) for i in range(5)], 2)] == [
        ["0", "2", "4"],
        ["1", "3"],
    ]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert transform.server_environment({}, 3) == {}
    assert transform.server_environment({"A": "b"}, 1) == {"A": "b"}


def test_a_failing_instance_fails_the_local_transform_job_and_stops_the_others(tmp_path, monkeypatch):
    """A line one instance's server refuses fails the job, naming the file, the line, the answer,
    the instance and its server's log; the other instance stops and every server is stopped."""
    from pipeline.batch_transform import transform_request
    from pipeline.local import transform

    store = Store(tmp_path)
    _transform_input(tmp_path, 2)

    def answer(url, body):
        if url.endswith("-2") and body.endswith(b'.1"}'):
            return 400, b"inputs: expected a note"
        if url.endswith("-1"):
            time.sleep(0.2)
        return 200, b'[{"label": "A", "score": 0.9}]'

    servers = _Servers(answer)
    monkeypatch.setattr(transform.endpoint, "spawn", servers.spawn)
    monkeypatch.setattr(transform.endpoint, "ready", lambda *args, **kwargs: None)
    monkeypatch.setattr(transform.endpoint, "post", servers.post)
    request = transform_request("j", "m", "s3://b/in/", "s3://b/out", "local", 2, 1024)
    failed = transform.run(store, request, tmp_path / "model.tar.gz")
    log = store.record_dir(transform.KIND) / "j" / "instance-2.log"
    assert failed["TransformJobStatus"] == "Failed"
    assert failed["FailureReason"] == (
        "requests-00002.jsonl line 2: the model's server answered HTTP 400: inputs: expected a note "
        f"(instance 2; its server's log: {log})"
    )
    assert not (tmp_path / "b" / "out" / "requests-00002.jsonl.out").exists()
    assert all(process.poll() is not None for *_, process in servers.spawned)


def test_a_server_that_does_not_come_up_is_stopped(tmp_path, monkeypatch):
    """``endpoint.ready``: a server that exits is named with its exit status and log; one that does not
    answer in time, or whose wait is interrupted, is stopped before the error or the interruption."""
    from pipeline.local import endpoint

    log = tmp_path / "server.log"
    exited = subprocess.Popen(["sh", "-c", "exit 3"], start_new_session=True)
    exited.wait()
    with pytest.raises(
        endpoint.EndpointError, match=rf"model server did not start \(exit status 3\); see {log}"
    ):
        endpoint.ready(exited, "http://127.0.0.1:9", "model server", log)
    silent = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with pytest.raises(endpoint.EndpointError, match="did not answer /ping within 0 s"):
        endpoint.ready(silent, "http://127.0.0.1:9", "model server", log, wait_seconds=0)
    assert silent.wait(timeout=15) is not None

    def interrupted(url, timeout=2.0):
        raise KeyboardInterrupt

    monkeypatch.setattr(endpoint, "ping", interrupted)
    waiting = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with pytest.raises(KeyboardInterrupt):
        endpoint.ready(waiting, "http://127.0.0.1:9", "model server", log)
    assert waiting.wait(timeout=15) is not None


def test_time_axes_are_a_day_wide_at_least_and_keep_the_edge_points_whole():
    """``dashboard.time_range``: one point gets a day around it (not an axis of milliseconds); a span
    gets a fortieth of itself on each side."""
    import pandas as pd

    from pipeline.dashboard import time_range

    at = pd.Timestamp("2026-12-05T10:57:12Z")
    assert time_range(pd.Series([at])) == [at - pd.Timedelta(hours=12), at + pd.Timedelta(hours=12)]
    later = at + pd.Timedelta(days=10)
    assert time_range(pd.Series([later, at])) == [at - pd.Timedelta(hours=6), later + pd.Timedelta(hours=6)]
