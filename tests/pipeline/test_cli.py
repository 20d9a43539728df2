"""``medtx`` commands against moto: definition --offline, upsert (create then update), start, status."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import typer
from aws_helpers import BUCKET, INPUT_KEY, REGION, ROLE
from helpers import said
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def test_definition_offline_needs_no_credentials_and_shows_no_sdk_logging(tmp_path):
    """Nor any of the SDK's logging: one of its modules runs ``logging.basicConfig(level=INFO)`` on
    import, and `medtx upsert` printed ~50 lines of its records (credentials found, telemetry, "Model
    has been created" for a model it did not create) and UserWarnings before its one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MEDTX_DEBUG"}
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "definition", "--offline"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    definition = json.loads(result.stdout)
    assert [s["Name"] for s in definition["Steps"]] == ["Preprocess", "Train", "Evaluate", "CheckQuality"]


def test_definition_out_makes_its_folder(tmp_path):
    out = tmp_path / "build" / "pipeline-definition.json"  # a folder not made yet, as in a fresh build
    written = runner.invoke(app, ["definition", "--offline", "--out", str(out)])
    assert written.exit_code == 0, said(written)
    assert json.loads(out.read_text())["Steps"] and f"wrote {out}" in said(written)


def test_a_store_that_is_a_file_is_refused_by_name(tmp_path):
    taken = tmp_path / "store"
    taken.write_text("a file")
    for command in (["run", "--local"], ["status", "--local"], ["models", "list"]):
        refused = runner.invoke(app, [*command, "--store", str(taken)])
        assert refused.exit_code == 2 and "is a file" in said(refused), (command, said(refused))


def test_upsert_twice_then_start_with_params_and_status(aws, monkeypatch):
    import boto3

    from pipeline import aws as medtx_aws  # apart from the moto fixture `aws`

    args = ["--region", REGION, "--role", ROLE]
    first = runner.invoke(app, ["upsert", *args])
    assert first.exit_code == 0, first.output
    monkeypatch.setenv(medtx_aws.ENV_SOURCE_REVISION, "0123456789abcdef0123456789abcdef01234567")
    second = runner.invoke(app, ["upsert", *args, "--set", "train__epochs=4"])
    assert second.exit_code == 0, second.output
    client = boto3.client("sagemaker", region_name=REGION)
    described = client.describe_pipeline(PipelineName="medtx-specialty-classifier")
    params = {p["Name"]: p["DefaultValue"] for p in json.loads(described["PipelineDefinition"])["Parameters"]}
    assert params["Epochs"] == "4"  # the update took
    # the description (Studio shows it) names the commit CodeBuild built
    revision = "0123456789abcdef0123456789abcdef01234567"
    assert described["PipelineDescription"] == f"medtx specialty classifier, upserted from commit {revision}"
    assert medtx_aws.upserted_from(described["PipelineDescription"]) == revision
    assert f"from commit {revision}" in said(second)

    started = runner.invoke(
        app, ["start", "--region", REGION, "--param", "Epochs=7", "--param", "DeployModel=true"]
    )
    assert started.exit_code == 0, started.output
    arn = started.stdout.strip().splitlines()[-1]
    # named after the commit the running definition was upserted from, as Studio lists it
    assert f"started {arn} (commit-0123456789ab)" in said(started)
    execution = client.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert execution["PipelineExecutionDisplayName"] == "commit-0123456789ab"
    given = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    # and the model package will record that commit (SourceCommit), as it records the data's version
    version = {"InputDataVersion": _version_at(INPUT_KEY), "SourceCommit": revision}
    assert {p["Name"]: p["Value"] for p in given} == {"Epochs": "7", "DeployModel": "true", **version}

    shown = runner.invoke(app, ["status", "--region", REGION])
    assert shown.exit_code == 0, shown.output
    state = json.loads(shown.stdout)
    assert state["parameters"] == {"Epochs": "7", "DeployModel": "true", **version}
    assert state["status"] == "Succeeded"
    assert state["display_name"] == "commit-0123456789ab" and "(commit-0123456789ab)" in said(shown)
    steps = ["Preprocess", "Train", "Evaluate", "CheckQuality", "RegisterModel", "CreateModel"]
    steps += ["CheckDeploy", "EndpointConfig", "Endpoint", "RecordChampion"]  # every page, in order
    assert [s["name"] for s in state["steps"]] == steps
    waited = runner.invoke(app, ["start", "--region", REGION, "--wait", "--poll-seconds", "0"])
    assert waited.exit_code == 0 and all(f"{step} Succeeded" in said(waited) for step in steps)
    waited_arn = waited.stdout.strip().splitlines()[0]
    listed = runner.invoke(app, ["status", "--region", REGION, "--last", "5"])
    recent = json.loads(listed.stdout)
    assert [e["arn"] for e in recent] == [waited_arn, arn] and recent[0]["status"] == "Succeeded"
    assert recent[1]["display_name"] == "commit-0123456789ab"
    # what a start would send, with everything filled in, and no execution started
    dry = runner.invoke(app, ["start", "--region", REGION, "--param", "Epochs=9", "--dry-run"])
    assert dry.exit_code == 0 and "not started (--dry-run)" in said(dry)
    assert json.loads(dry.stdout) == {
        "PipelineName": "medtx-specialty-classifier",
        "PipelineParameters": [
            {"Name": "Epochs", "Value": "9"},
            {"Name": "InputDataVersion", "Value": version["InputDataVersion"]},
            {"Name": "SourceCommit", "Value": revision},
        ],
        "PipelineExecutionDisplayName": "commit-0123456789ab",
    }
    assert json.loads(runner.invoke(app, ["status", "--region", REGION, "--last", "5"]).stdout)[0]["arn"] == (
        waited_arn
    )
    named = runner.invoke(
        app, ["start", "--region", REGION, "--display-name", "nightly-7", "--param", "SourceCommit=v1.2"]
    )
    assert named.exit_code == 0 and "(nightly-7)" in said(named)
    named_arn = named.stdout.strip().splitlines()[-1]
    given = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=named_arn)[
        "PipelineParameters"
    ]
    assert {p["Name"]: p["Value"] for p in given}["SourceCommit"] == "v1.2"  # given, kept
    refused = runner.invoke(app, ["start", "--region", REGION, "--display-name", "nightly_7"])
    assert refused.exit_code == 2 and "1 to 82 letters and digits, with hyphens between" in said(refused)
    assert recent[1]["id"] == arn.rsplit("/", 1)[-1] and recent[1]["id"] in said(listed)
    newest = json.loads(runner.invoke(app, ["status", "--region", REGION, "--last", "2"]).stdout)
    assert [e["display_name"] for e in newest] == ["nightly-7", "commit-0123456789ab"]
    assert newest[1]["arn"] == waited_arn
    client.delete_pipeline(PipelineName="medtx-specialty-classifier")
    upserted = runner.invoke(app, ["upsert", *args])
    assert upserted.exit_code == 0, upserted.output
    none = runner.invoke(app, ["status", "--region", REGION, "--last", "5"])
    assert none.exit_code == 0 and json.loads(none.stdout) == []  # said, not an empty table
    assert "no executions of medtx-specialty-classifier yet (medtx start makes one)" in said(none)
    assert "note:" not in said(started)  # the upserted definition runs this checkout's scripts


def test_start_says_when_the_pipeline_runs_other_scripts_than_the_checkout(aws, tmp_path, monkeypatch):
    """An execution runs the upserted definition's code bundles: a checkout whose scripts changed since
    (or of another commit) is told before it starts, naming the steps whose bundle differs."""
    from pipeline import code_bundle

    monkeypatch.setenv("CODEBUILD_RESOLVED_SOURCE_VERSION", "89abcdef" * 5)
    assert runner.invoke(app, ["upsert", "--region", REGION, "--role", ROLE]).exit_code == 0
    upserted = code_bundle.files_digest(code_bundle.SCRIPTS_DIR, code_bundle.step_bundle_files("evaluate"))
    copy = tmp_path / "scripts"
    shutil.copytree(code_bundle.SCRIPTS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "evaluate.py").write_text((copy / "evaluate.py").read_text() + "\n# changed\n")
    here = code_bundle.files_digest(copy, code_bundle.step_bundle_files("evaluate", copy))
    monkeypatch.setattr(code_bundle, "SCRIPTS_DIR", copy)
    started = runner.invoke(app, ["start", "--region", REGION])
    assert started.exit_code == 0, started.output
    assert (
        "note: the pipeline runs other code than this checkout's scripts/ for evaluate "
        f"(evaluate-{upserted} there, evaluate-{here} here)" in said(started)
    )
    assert "train" not in said(started).split("scripts/ for ")[1].split(":")[0]  # Train's is the same
    assert f"It was upserted from commit {'89abcdef' * 5}." in said(started)
    assert code_bundle.stale_scripts_note("{}") is None  # a definition without bundles: nothing to say
    # a definition upserted before each step had its own bundle ran one bundle of every script
    older = '{"S3Uri": "s3://bucket/code/scripts-0123456789abcdef/"}'
    assert "upserted before each step had its own" in (code_bundle.stale_scripts_note(older) or "")


def test_a_bundles_files_are_compared_with_the_upserted_ones_by_their_etags(aws, tmp_path):
    """``medtx diff``'s file lines: a script changed, one the entry script now imports (added), one it
    no longer does (removed); a bundle that cannot be listed is said, not raised."""
    import boto3

    from pipeline import code_bundle

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, imported in ((old, "gone"), (new, "fresh")):
        folder.mkdir()
        (folder / "champion.py").write_text(f"import {imported}\n")
        (folder / "unrelated.py").write_text(folder.name)  # in no bundle: not compared
        (folder / f"{imported}.py").write_text("")
    uri = code_bundle.upload_files(
        s3, old, code_bundle.step_bundle_files("champion", old), BUCKET, "code", "champion"
    )
    assert code_bundle.changed_files(s3, uri, "champion", old) == []
    assert code_bundle.changed_files(s3, uri, "champion", new) == [
        "champion.py changed",
        "fresh.py added",
        "gone.py removed",
    ]
    lost = "s3://no-such-bucket/code/champion-0123456789abcdef/"
    assert code_bundle.changed_files(s3, lost, "champion", new) == [
        f"cannot list {lost} to compare its files (NoSuchBucket)"
    ]


EXECUTIONS = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/medtx-specialty-classifier/execution"


def _cache_hit(step: str, source: str) -> dict:
    """A ListPipelineExecutionSteps entry of a step that reused execution ``source``'s outputs."""
    return {
        "StepName": step,
        "StepStatus": "Succeeded",
        "CacheHitResult": {"SourcePipelineExecutionArn": source},
    }


def _stubbed_steps(client, arn: str, steps: list[dict]):
    """A Stubber answering ``aws.execution_steps``' one call (``medtx logs``)."""
    from botocore.stub import Stubber

    stub = Stubber(client)
    stub.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": steps},
        {"PipelineExecutionArn": arn, "SortOrder": "Ascending"},
    )
    return stub


def _stubbed_execution(
    client, arn: str, steps: list[dict], failure: str | None = None, parameters: dict | None = None
):
    """A Stubber answering ``aws.execution_status``'s three calls for one failed execution."""
    import datetime

    from botocore.stub import Stubber

    stub = Stubber(client)
    described = {
        "PipelineExecutionArn": arn,
        "PipelineExecutionStatus": "Failed",
        "CreationTime": datetime.datetime(2026, 12, 4),
        **({"FailureReason": failure} if failure else {}),
    }
    stub.add_response("describe_pipeline_execution", described, {"PipelineExecutionArn": arn})
    stub.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": k, "Value": v} for k, v in (parameters or {}).items()]},
        {"PipelineExecutionArn": arn},
    )
    stub.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": steps},
        {"PipelineExecutionArn": arn, "SortOrder": "Ascending"},
    )
    return stub


def test_status_says_which_steps_came_from_the_cache_and_how_the_gate_went(monkeypatch):
    """A scheduled retraining on unchanged data: Preprocess and Train cache hits, a fresh Evaluate,
    the gate not met. ``medtx status`` names the execution the cached outputs came from, each job,
    and the condition's outcome; the responses are checked against SageMaker's API model (botocore's
    Stubber refuses a field the API does not have)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sagemaker", region_name=REGION)
    arn, earlier = f"{EXECUTIONS}/new1", f"{EXECUTIONS}/old1"
    job = f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/medtx-evaluate-2026-12-04"
    failure = "Quality gate failed: macro-F1 0.41 must be >= MinMacroF1 0.45"
    steps = [
        _cache_hit("Preprocess", earlier),
        _cache_hit("Train", earlier),
        {"StepName": "Evaluate", "StepStatus": "Succeeded", "Metadata": {"ProcessingJob": {"Arn": job}}},
        {
            "StepName": "CheckQuality",
            "StepStatus": "Succeeded",
            "Metadata": {"Condition": {"Outcome": "False"}},
        },
        {
            "StepName": "QualityGateFailed",
            "StepStatus": "Failed",
            "FailureReason": failure,
            "Metadata": {"Fail": {"ErrorMessage": failure}},
        },
    ]
    parameters = {"InputDataVersion": "sha256-0123456789abcdef"}
    stub = _stubbed_execution(client, arn, steps, failure=failure, parameters=parameters)
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    with stub:
        shown = runner.invoke(app, ["status", arn, "--region", REGION])
    assert shown.exit_code == 0, shown.output
    notes = {step["name"]: step["note"] for step in json.loads(shown.stdout)["steps"]}
    assert notes == {
        "Preprocess": "cache hit: the outputs of execution old1",
        "Train": "cache hit: the outputs of execution old1",
        "Evaluate": "medtx-evaluate-2026-12-04",
        "CheckQuality": "condition not met",
        "QualityGateFailed": "",
    }
    assert json.loads(shown.stdout)["steps"][1]["cached_from"] == earlier
    assert "Train Succeeded cache hit: the outputs of execution old1" in said(shown)


def test_status_shows_the_training_jobs_final_metrics(monkeypatch):
    """The Train step's note carries its job's validation macro-F1 and loss (DescribeTrainingJob's
    FinalMetricDataList, what the step's MetricDefinitions read); the JSON has every metric. A caller
    not allowed to describe the job still gets the status, with the reason."""
    import datetime

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("COLUMNS", "200")
    client = boto3.client("sagemaker", region_name=REGION)
    arn, job = f"{EXECUTIONS}/new1", "huggingface-2026-12-04-11-00-00-000"
    job_arn = f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{job}"
    steps = [{"StepName": "Train", "StepStatus": "Succeeded", "Metadata": {"TrainingJob": {"Arn": job_arn}}}]
    when = datetime.datetime(2026, 12, 4, 12)
    metrics = {"validation:macro_f1": 0.48123, "validation:loss": 1.5, "train:loss": 0.9}
    described = {
        "TrainingJobName": job,
        "TrainingJobArn": job_arn,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/models/model.tar.gz"},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingImage": "hf:1", "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": when,
        "FinalMetricDataList": [{"MetricName": k, "Value": v, "Timestamp": when} for k, v in metrics.items()],
    }
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    stub = _stubbed_execution(client, arn, steps)
    stub.add_response("describe_training_job", described, {"TrainingJobName": job})
    with stub:
        shown = runner.invoke(app, ["status", arn, "--region", REGION])
        stub.assert_no_pending_responses()
    assert shown.exit_code == 0, shown.output
    (train,) = json.loads(shown.stdout)["steps"]
    assert train["metrics"] == metrics
    assert train["note"] == f"{job}; validation:macro_f1 0.4812, validation:loss 1.5000"
    assert f"Train Succeeded {job}; validation:macro_f1 0.4812" in said(shown)

    denied = _stubbed_execution(client, arn, steps)
    denied.add_client_error("describe_training_job", "AccessDeniedException", "not allowed")
    with denied:
        shown = runner.invoke(app, ["status", arn, "--region", REGION])
    assert shown.exit_code == 0, shown.output
    (train,) = json.loads(shown.stdout)["steps"]
    assert train["note"] == job and train["metrics"] is None and "AccessDenied" in train["metrics_error"]


def test_logs_shows_the_last_lines_of_a_steps_job(monkeypatch, capsys):
    """A failed Evaluate: SageMaker's failure reason for a processing job only says to read its logs.
    ``medtx logs`` finds the step's job and prints its last CloudWatch lines (moto's Logs), naming the
    instance when the job ran on several; ``status`` says the command; a cache hit names its source."""
    import time

    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("COLUMNS", "200")
    arn, earlier = f"{EXECUTIONS}/new1", f"{EXECUTIONS}/old1"
    job = "medtx-evaluate-2026-12-04-10-00-00-000"
    steps = [
        _cache_hit("Preprocess", earlier),
        {
            "StepName": "Evaluate",
            "StepStatus": "Failed",
            "FailureReason": "AlgorithmError: See job logs for more information",
            "Metadata": {
                "ProcessingJob": {"Arn": f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/{job}"}
            },
        },
    ]
    with mock_aws():
        logs = boto3.client("logs", region_name=REGION)
        group = "/aws/sagemaker/ProcessingJobs"
        logs.create_log_group(logGroupName=group)
        now = int(time.time() * 1000) - 60_000
        lines = {"algo-1": ["loading the model", "ERROR medtx: no label_map.json in the model archive"]}
        lines["algo-2"] = ["loading the model"]
        for offset, (instance, messages) in enumerate(lines.items()):
            stream = f"{job}/{instance}-1764842400"
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            events = [
                {"timestamp": now + 10 * i + offset, "message": m + "\n"} for i, m in enumerate(messages)
            ]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        client = boto3.client("sagemaker", region_name=REGION)
        services = {"sagemaker": client, "logs": logs}
        monkeypatch.setattr(boto3, "client", lambda service, *a, **k: services[service])

        with _stubbed_steps(client, arn, steps) as stub:
            shown = runner.invoke(app, ["logs", "Evaluate", arn, "--lines", "2", "--region", REGION])
            stub.assert_no_pending_responses()  # logs lists the steps only
        assert shown.exit_code == 0, shown.output
        assert shown.stdout == (
            "[algo-2] loading the model\n[algo-1] ERROR medtx: no label_map.json in the model archive\n"
        )
        assert f"Evaluate: {job} (/aws/sagemaker/ProcessingJobs)" in said(shown)
        with _stubbed_steps(client, arn, steps) as stub:
            cached = runner.invoke(app, ["logs", "Preprocess", arn, "--region", REGION])
        assert (
            cached.exit_code == 1
            and "cache hit: its job ran in execution old1 (medtx logs Preprocess old1)" in said(cached)
        )
        with _stubbed_execution(client, arn, steps):
            status = runner.invoke(app, ["status", arn, "--region", REGION])
        assert "its logs: medtx logs Evaluate new1" in said(status)
        assert json.loads(status.stdout[status.stdout.index("{") :])["steps"][1]["job"] == {
            "kind": "ProcessingJob",
            "name": job,
        }
        # `start --wait` and `run` print a failed job's last lines themselves
        from pipeline.cli import executions

        with _stubbed_execution(client, arn, steps), pytest.raises(typer.Exit):
            executions._watch(client, arn, 0)
    waited = " ".join(capsys.readouterr().err.split())
    assert f"Evaluate: the last 3 lines of {job}" in waited
    assert "[algo-1] ERROR medtx: no label_map.json in the model archive" in waited


def test_config_lists_every_setting_by_its_set_name_and_what_differs_from_the_default(monkeypatch):
    """``medtx config``: every field by the name ``--set`` takes, ``MEDTX_SETTINGS`` and ``--set``
    applied and a preset expanded; ``--changed`` keeps what differs, ``--json`` prints it for scripts."""
    from pipeline.cli.settings import shown
    from pipeline.config import PipelineConfig, flat_settings

    everything = flat_settings(PipelineConfig())
    assert "min_macro_f1" in everything and "train__calibrate" in everything
    assert "model_card__risk_rating" in everything and "container" not in everything
    assert PipelineConfig().replace(**everything) == PipelineConfig()  # each name is a setting
    as_shown = {name: shown(value) for name, value in everything.items()}
    whole = {name: text for name, text in as_shown.items() if not text.endswith("...")}  # not cut
    assert len(whole) > 100 and as_shown["kms_key_id"] == "none"
    assert PipelineConfig().replace(**whole) == PipelineConfig()  # each value as shown is --set's

    monkeypatch.setenv("MEDTX_SETTINGS", "train__epochs=5")
    listed = runner.invoke(app, ["config", "--set", "preset=title-headings", "--changed", "--json"])
    assert listed.exit_code == 0, said(listed)
    assert json.loads(listed.stdout) == {
        "data__text_fields": ["sample_name", "transcription"],
        "train__long_text": "chunks",
        "train__headings_window": True,
        "train__fields_window": True,
        "train__max_chunks": 1,
        "train__epochs": 5.0,
    }
    monkeypatch.setenv("COLUMNS", "200")  # one line a setting
    table = runner.invoke(app, ["config", "--set", "min_macro_f1=0.5"])
    assert table.exit_code == 0, said(table)
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
        for line in table.output.splitlines()
        if line.count("│") == 5
    }
    assert set(everything) <= set(rows)  # every setting has its row
    assert rows["min_macro_f1"] == ["0.5", "0.4", "MinMacroF1"]  # value, default, parameter
    assert rows["train__epochs"] == ["5.0", "3.0", "Epochs"]
    assert rows["pipeline_name"] == [PipelineConfig().pipeline_name, "", ""]
    assert rows["kms_key_id"] == ["none", "", ""]  # unset, as --set names it
    assert "medtx run --local takes its profile's (quick: ModelName=" in said(table)
    monkeypatch.delenv("MEDTX_SETTINGS")
    from pipeline.cli.settings import changed_settings  # the local run's header line

    assert changed_settings(PipelineConfig()) == "the defaults"
    assert changed_settings(PipelineConfig().replace(train__max_chunks="2", train__long_text="chunks")) == (
        "train__long_text=chunks, train__max_chunks=2"
    )
    unchanged = runner.invoke(app, ["config", "--changed"])
    assert unchanged.exit_code == 0 and "every setting is at its default" in said(unchanged)
    assert "┏" not in unchanged.output  # said in words, not an empty table
    refused = runner.invoke(app, ["config", "--set", "preset=best"])
    assert refused.exit_code == 2 and "unknown preset 'best' (presets: title-headings)" in said(refused)


def test_medtx_settings_name_the_pipeline_for_every_command(aws, monkeypatch):
    """``MEDTX_SETTINGS`` (as the stack's build project sets it) reaches every command: upsert builds
    and names the pipeline with it, start starts that pipeline, and ``--set`` wins over it."""
    import boto3

    monkeypatch.setenv("MEDTX_SETTINGS", "pipeline_name=stack-pipeline  endpoint_capture_percent=10")
    upserted = runner.invoke(
        app, ["upsert", "--region", REGION, "--role", ROLE, "--set", "endpoint_capture_percent=20"]
    )
    assert upserted.exit_code == 0, upserted.output
    client = boto3.client("sagemaker", region_name=REGION)
    definition = json.loads(client.describe_pipeline(PipelineName="stack-pipeline")["PipelineDefinition"])
    (gate,) = [s for s in definition["Steps"] if s["Name"] == "CheckQuality"]
    (deploy,) = [s for s in gate["Arguments"]["IfSteps"] if s["Name"] == "CheckDeploy"]
    (config,) = [s for s in deploy["Arguments"]["IfSteps"] if s["Name"] == "EndpointConfig"]
    assert config["Arguments"]["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    started = runner.invoke(app, ["start", "--region", REGION])
    assert started.exit_code == 0, started.output
    assert ":pipeline/stack-pipeline/execution/" in started.stdout

    for value, message in (
        ("pipeline_name", "Invalid value for MEDTX_SETTINGS: 'pipeline_name' is not name=value"),
        ("no_such=1", "MEDTX_SETTINGS: unknown setting(s): no_such"),
        ("preset=best", "MEDTX_SETTINGS: unknown preset 'best' (presets: title-headings)"),
        ("endpoint_capture_percent=lots", "MEDTX_SETTINGS: setting endpoint_capture_percent='lots' is not"),
    ):
        monkeypatch.setenv("MEDTX_SETTINGS", value)
        refused = runner.invoke(app, ["start", "--region", REGION])
        assert refused.exit_code == 2 and message in said(refused), said(refused)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("Epochs", "is not Name=Value"),
        ("NoSuchParam=1", "unknown pipeline parameter"),
        ("Epochs=abc", "Epochs='abc' (a positive number)"),
        # recorded on the model package, whose metadata values take neither nothing nor a comma
        ("InputDataVersion=", "InputDataVersion='' (recorded on the model package: 1 to 256 letters"),
        ("InputDataUri=s3://b/a,b.csv", "InputDataUri='s3://b/a,b.csv' (recorded on the model package"),
        ("SourceCommit=v1,2", "SourceCommit='v1,2' (recorded on the model package"),
    ],
)
def test_start_rejects_bad_params(aws, param, message):
    assert runner.invoke(app, ["upsert", "--region", REGION, "--role", ROLE]).exit_code == 0
    result = runner.invoke(app, ["start", "--region", REGION, "--param", param])
    assert result.exit_code == 2
    assert message in said(result)


def test_run_without_local_upserts_starts_and_waits(aws):
    import boto3

    result = runner.invoke(app, ["run", "--region", REGION, "--role", ROLE, "--param", "Epochs=2"])
    assert result.exit_code == 0, result.output  # moto ends every execution as Succeeded at once
    assert "upserted" in result.output and "started" in result.output and "Succeeded" in result.output
    client = boto3.client("sagemaker", region_name=REGION)
    (arn,) = {line for line in result.stdout.splitlines() if re.fullmatch(r"arn:aws:sagemaker:\S+", line)}
    given = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    from pipeline.aws import source_revision

    # the commit upsert recorded in the description (this checkout's), for the model package
    commit = {"SourceCommit": source_revision()} if source_revision() else {}
    assert {p["Name"]: p["Value"] for p in given["PipelineParameters"]} == {
        "Epochs": "2",
        "InputDataVersion": _version_at(INPUT_KEY),
        **commit,
    }


def _version_at(key: str) -> str:
    """What ``aws.input_data_version`` should name the object at ``key``: its key, ETag and size."""
    import hashlib

    import boto3

    head = boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key=key)
    line = f"{key}\t{head['ETag']}\t{head['ContentLength']}"
    return "sha256-" + hashlib.sha256(line.encode()).hexdigest()[:16]


def test_start_names_the_input_data_version_so_new_data_misses_the_cache(aws):
    """SageMaker's step cache keys on the input's URI, not its bytes: ``medtx start`` passes
    ``InputDataVersion`` (keys, ETags, sizes of what Preprocess will read), which Preprocess takes
    as an argument, so data replaced at the same key starts a fresh Preprocess."""
    import boto3

    from pipeline.definition import INPUT_VERSION

    s3 = boto3.client("s3", region_name=REGION)
    client = boto3.client("sagemaker", region_name=REGION)
    assert runner.invoke(app, ["upsert", "--region", REGION, "--role", ROLE]).exit_code == 0
    definition = json.loads(
        client.describe_pipeline(PipelineName="medtx-specialty-classifier")["PipelineDefinition"]
    )
    (preprocess,) = [s for s in definition["Steps"] if s["Name"] == "Preprocess"]
    arguments = preprocess["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--input-version") + 1] == {"Get": f"Parameters.{INPUT_VERSION}"}

    def started(*params: str) -> dict[str, str]:
        done = runner.invoke(app, ["start", "--region", REGION, *[a for p in params for a in ("--param", p)]])
        assert done.exit_code == 0, said(done)
        arn = done.stdout.strip().splitlines()[-1]
        given = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
        return {p["Name"]: p["Value"] for p in given}

    key = "drops/notes.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"description,medical_specialty,transcription\n")
    uri = f"InputDataUri=s3://{BUCKET}/{key}"
    first = started(uri)[INPUT_VERSION]
    assert first == _version_at(key) and started(uri)[INPUT_VERSION] == first  # same data, same version
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"description,medical_specialty,transcription\na,b,c\n")
    assert started(uri)[INPUT_VERSION] not in (first, "")  # replaced in place: a new version
    assert started(uri, f"{INPUT_VERSION}=2026-12-drop")[INPUT_VERSION] == "2026-12-drop"  # given wins
    missing = runner.invoke(
        app, ["start", "--region", REGION, "--param", f"InputDataUri=s3://{BUCKET}/none/"]
    )
    assert missing.exit_code == 2 and f"no input data at s3://{BUCKET}/none/" in said(missing)
    # what Preprocess would fail on once its instance started, said before anything starts
    for key in ("two/notes.csv", "two/notes.csv.gz", "other/README.txt", "other/notes.CSV.bak"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    two = runner.invoke(app, ["start", "--region", REGION, "--param", f"InputDataUri=s3://{BUCKET}/two/"])
    assert two.exit_code == 2 and (
        f"2 input files at s3://{BUCKET}/two/ (two/notes.csv, two/notes.csv.gz): Preprocess reads exactly "
        "one named *.csv or *.csv.gz or *.zip; remove the others or point InputDataUri at one"
    ) in said(two)
    other = runner.invoke(app, ["start", "--region", REGION, "--param", f"InputDataUri=s3://{BUCKET}/other"])
    assert other.exit_code == 2 and (
        f"no input file at s3://{BUCKET}/other: Preprocess reads one named *.csv or *.csv.gz or *.zip; "
        "there are other/README.txt, other/notes.CSV.bak"
    ) in said(other)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"Epochs": "abc"}, ["Epochs='abc'"]),
        (
            {"TrainBatchSize": "0", "MaxLength": "12.5"},
            ["MaxLength='12.5' (a positive integer)", "TrainBatchSize='0'"],
        ),
        ({"LearningRate": "nan", "MinClassSamples": "-3"}, ["LearningRate='nan'", "MinClassSamples='-3'"]),
        ({"Epochs": "inf"}, ["Epochs='inf'"]),
        # gate thresholds: a share in percent, a margin past 1, not a number
        (
            {"MinMacroF1": "40", "MinBehaviourAgreement": "95", "MinChampionMargin": "-2"},
            [
                "MinMacroF1='40' (a number from 0 to 1)",
                "MinBehaviourAgreement='95'",
                "MinChampionMargin='-2' (a number from -1 to 1)",
            ],
        ),
        ({"MinBaselineMargin": "nan"}, ["MinBaselineMargin='nan'"]),
    ],
)
def test_number_parameters_are_checked_before_a_start(values, named):
    from pipeline.definition import check_parameter_values

    with pytest.raises(ValueError, match="pipeline parameter value") as info:
        check_parameter_values(values)
    assert all(n in str(info.value) for n in named)
    check_parameter_values({"Epochs": "2.5", "LearningRate": "3e-5", "MaxLength": "256", "ModelName": "x"})
    check_parameter_values({"MinMacroF1": "0", "MinBaselineMargin": "-1", "MinBehaviourAgreement": "0.95"})


def test_local_run_refuses_a_bad_number_parameter_before_any_step(tmp_path):
    result = runner.invoke(app, ["run", "--local", "--store", str(tmp_path), "--param", "Epochs=abc"])
    assert result.exit_code == 2, result.output
    assert "Epochs='abc'" in result.output
    assert not (tmp_path / "_sagemaker").exists()  # no execution was started


def _zipped(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_local_run_refuses_an_input_prefix_preprocess_cannot_read_before_any_step(tmp_path):
    from pipeline.config import PipelineConfig

    drops = tmp_path / PipelineConfig().bucket / "drops"
    drops.mkdir(parents=True)
    for name in ("notes.csv", "notes.csv.gz"):
        (drops / name).write_text("x")
    uri = f"s3://{PipelineConfig().bucket}/drops"
    result = runner.invoke(
        app, ["run", "--local", "--store", str(tmp_path), "--param", f"InputDataUri={uri}"]
    )
    assert result.exit_code == 2, result.output
    assert f"2 input files at {uri} (notes.csv, notes.csv.gz)" in said(result)
    assert not (tmp_path / "_sagemaker").exists()  # no execution was started


def test_local_run_names_a_broken_data_file_before_any_step(tmp_path):
    """``--data``'s faults (columns, separator, encoding, records) come from preprocessing's own check,
    by the file's name, before anything is copied or run."""
    header = "description,medical_specialty,sample_name,transcription\n"
    broken = {
        "columns.csv": (b"a,b\n1,2\n", "missing column(s) description, medical_specialty"),
        "semicolons.csv": (header.replace(",", ";").encode(), "split by semicolons"),
        "latin1.csv": ((header + "Caf\xe9,a,b,c\n").encode("latin-1"), "not UTF-8"),
        "quote.csv": ((header + 'a,"b,c,d\n').encode(), "a stray or unclosed quote"),
        "two.zip": (_zipped({"a.csv": header, "b.csv": header}), "a zip archive must hold exactly one .csv"),
    }
    for name, (body, told) in broken.items():
        data = tmp_path / name
        data.write_bytes(body)
        store = tmp_path / f"store-{name}"
        result = runner.invoke(app, ["run", "--local", "--store", str(store), "--data", str(data)])
        assert result.exit_code == 2, result.output
        squeezed = re.sub(r"\s+", "", result.output)  # rich folds a long path anywhere
        assert f"{data}:" in squeezed and told.replace(" ", "") in squeezed, result.output
        assert not store.exists()  # nothing copied, no execution started


def test_an_aws_refusal_is_one_line_not_a_traceback(aws, monkeypatch, capsys):
    from pipeline.cli import main

    execution = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/never-upserted/execution/nope"
    argv = ["medtx", "status", execution, "--region", REGION]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: AWS: An error occurred (ValidationException) when calling the")
    assert "Could not find pipeline" in err and "Traceback" not in err


def test_missing_credentials_are_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", COLUMNS="200")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "status", "--region", REGION],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        result.stderr.strip()
        == "error: AWS: Unable to locate credentials (MEDTX_DEBUG=1 shows the traceback)"
    )
    missing = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "status"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 2 and "missing region: pass --region, set AWS_REGION, or give the AWS" in (
        " ".join(missing.stderr.split())
    )
    # the region `aws configure` gave the profile, as the AWS CLI and boto3 read it
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(
        f"[default]\nregion = {REGION}\n[profile eu]\nregion = eu-west-1\n"
    )
    for profile in ({}, {"AWS_PROFILE": "eu"}):
        configured = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "status"],
            capture_output=True,
            text=True,
            env={**env, **profile},
        )
        assert configured.returncode == 2 and "Unable to locate credentials" in configured.stderr  # got past


def test_the_region_comes_from_the_option_the_environment_or_the_aws_profile(tmp_path, monkeypatch):
    from pipeline.config import aws_region

    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-west-2\n[profile eu]\nregion = eu-west-1\n[profile none]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    assert aws_region(None) == "us-west-2"
    monkeypatch.setenv("AWS_PROFILE", "eu")
    assert aws_region(None) == "eu-west-1"
    monkeypatch.setenv("AWS_PROFILE", "none")
    assert aws_region(None) is None
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")  # the AWS call after names it
    assert aws_region(None) is None
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert aws_region(None) == "ca-central-1"
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert aws_region(None) == "sa-east-1" and aws_region("ap-south-1") == "ap-south-1"


def test_a_message_off_a_terminal_is_one_line_whatever_its_length(tmp_path):
    """A log (CodeBuild's) keeps each message whole on its line: at rich's 80 columns off a terminal
    this error was folded, its column name cut in two."""
    csv = tmp_path / "notes.csv"
    csv.write_text("text\nhello\n")
    column = "the_transcription_column_of_a_hospital_export_named_at_length"
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "predict", str(csv), "--column", column],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == f"error: {csv} has no column '{column}'; its columns: text\n"


def test_a_terminal_wraps_prose_and_keeps_a_line_to_copy_whole():
    import io

    from pipeline.cli.common import Terminal

    shown = io.StringIO()
    terminal = Terminal(file=shown, force_terminal=True, width=40, color_system=None)
    terminal.print("a message in words " * 4)
    path = "/store/" + "executions/" * 6 + "evaluation.json"
    terminal.print(f"  evaluation: {path}", soft_wrap=True)
    lines = shown.getvalue().splitlines()
    assert len(lines) == 3 and all(len(line) <= 40 for line in lines[:2])  # prose at the window's width
    assert lines[2] == f"  evaluation: {path}"  # the terminal wraps it; a copy takes it whole
    logged = io.StringIO()
    Terminal(file=logged, width=40).print("a message in words " * 4)
    assert logged.getvalue() == "a message in words " * 4 + "\n"  # off a terminal: one line


def test_quiet_sdk_leaves_the_root_logger_as_it_found_it(monkeypatch):
    import logging

    from pipeline.definition import quiet_sdk

    monkeypatch.delenv("MEDTX_DEBUG", raising=False)
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    with quiet_sdk():
        logging.basicConfig(level=logging.DEBUG, force=True)  # as the SDK does on import, or worse
        logging.getLogger("sagemaker.core").info("not for users")
    assert (root.level, root.handlers) == before


def test_a_table_in_a_log_is_laid_out_wider_than_80_columns(monkeypatch):
    """Off a terminal, with no window to size it and COLUMNS unset, rich laid tables out at 80
    columns: the run's step table folded each job name and figure over several lines."""
    import io

    from rich.table import Table

    from pipeline.cli import common
    from pipeline.cli.common import LOG_WIDTH, Terminal

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(common, "_window_open", lambda: False)
    note = "huggingface-2026-12-07-12-48-59-272; validation:macro_f1 0.5890, validation:loss 1.3826"
    table = Table("step", "status", "note")
    table.add_row("Train", "Succeeded", note)
    logged = io.StringIO()
    log = Terminal(file=logged)
    assert log.width == LOG_WIDTH
    log.print(table)
    assert any(line.endswith(f"{note} │") for line in logged.getvalue().splitlines())  # one line
    monkeypatch.setenv("COLUMNS", "100")
    assert Terminal(file=io.StringIO()).width == 100  # a width asked for is kept


def test_invoke_names_a_missing_body_file_and_an_empty_request(tmp_path):
    missing = runner.invoke(app, ["invoke", "--body", str(tmp_path / "nope.json"), "--store", str(tmp_path)])
    assert missing.exit_code == 2 and "nope.json' does not exist" in said(missing)
    empty = runner.invoke(app, ["invoke", "--store", str(tmp_path)])
    assert empty.exit_code == 2 and "give text(s) to classify or --body FILE" in said(empty)


def test_invoke_sends_field_options_as_one_note(tmp_path, monkeypatch):
    from pipeline.local import endpoint

    sent = []

    def answer(store, name, payload):
        sent.append(json.loads(payload))
        return 200, b'[{"label": "Urology", "class_id": 0, "score": 0.9}]'

    monkeypatch.setattr(endpoint, "invoke", answer)
    store = ["--store", str(tmp_path)]
    one = runner.invoke(
        app, ["invoke", "Cystoscopy.", "--field", "description=Hematuria.", "--top-k", "2", *store]
    )
    assert one.exit_code == 0, one.output
    assert sent.pop() == {
        "inputs": [{"description": "Hematuria.", "transcription": "Cystoscopy."}],
        "parameters": {"top_k": 2},
    }
    named = runner.invoke(
        app, ["invoke", "--field", "transcription=Cystoscopy.", "--field", "sample_name=A = B", *store]
    )
    assert named.exit_code == 0, named.output
    assert sent.pop()["inputs"] == [{"transcription": "Cystoscopy.", "sample_name": "A = B"}]
    plain = runner.invoke(app, ["invoke", "Cystoscopy.", "Chest pain.", *store])
    assert plain.exit_code == 0 and sent.pop()["inputs"] == ["Cystoscopy.", "Chest pain."]
    body = tmp_path / "request.json"
    body.write_text('{"inputs": ["Chest pain."]}')
    refused = {
        "'description' is not NAME=VALUE": ["invoke", "A.", "--field", "description"],
        "description is given twice": [
            "invoke",
            "A.",
            "--field",
            "description=B",
            "--field",
            "description=C",
        ],
        "give it one TEXT (the transcription), not 2": ["invoke", "A.", "B.", "--field", "description=C"],
        "give it or --field transcription=..., not both": ["invoke", "A.", "--field", "transcription=B"],
        "give no TEXT or --field with it": ["invoke", "A.", "--body", str(body)],
    }
    for message, args in refused.items():
        result = runner.invoke(app, [*args, *store])
        assert result.exit_code == 2 and message in said(result), (args, said(result))
    assert sent == []  # nothing went out for a refused command


def _commands(command, path=()):
    """Every leaf command of the click tree under ``command``, with the words that invoke it."""
    children = getattr(command, "commands", None)
    if not children:
        yield path, command
        return
    for name, child in children.items():
        yield from _commands(child, (*path, name))


def test_help_keeps_every_placeholder_it_names():
    """The help is rendered as markdown, where a bare ``<csv>`` is an HTML tag and vanishes; each
    ``<...>`` an option's or command's help names must reach the rendered page."""
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        wanted = {m for text in texts for m in re.findall(r"<[A-Za-z][\w -]*>", text)}
        if not wanted:
            continue
        page = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400", "TERM": "dumb"}).output
        missing = sorted(w for w in wanted if w not in page)
        assert not missing, f"medtx {' '.join(path)} --help drops {missing}"
        checked += 1
    assert checked >= 3


def test_source_revision_is_codebuilds_else_gits_head_marked_when_tracked_files_changed(
    tmp_path, monkeypatch
):
    from pipeline import aws

    monkeypatch.delenv(aws.ENV_SOURCE_REVISION, raising=False)
    assert aws.source_revision(tmp_path) is None  # not a checkout (an installed copy)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert aws.source_revision(tmp_path) == head
    (tmp_path / "new.py").write_text("")  # an untracked file is not built from
    assert aws.source_revision(tmp_path) == head
    (tmp_path / "a.py").write_text("x = 2\n")
    assert aws.source_revision(tmp_path) == f"{head} with uncommitted changes"
    (tmp_path / "venv" / "site-packages").mkdir(parents=True)  # an installed copy inside the repository
    assert aws.source_revision(tmp_path / "venv" / "site-packages") is None
    monkeypatch.setenv(aws.ENV_SOURCE_REVISION, "feedface")  # CodeBuild's word wins: its zip has no .git
    assert aws.source_revision(tmp_path) == "feedface"
    assert aws.upserted_from(aws.pipeline_description("feedface")) == "feedface"
    assert aws.pipeline_description(None) == "medtx specialty classifier"
    assert aws.upserted_from("medtx specialty classifier") is None  # upserted before it named one
    assert aws.upserted_from(None) is None


def test_the_source_commit_is_passed_only_where_the_definition_takes_it_and_none_was_given():
    from pipeline import aws

    sha = "0123456789abcdef0123456789abcdef01234567"
    takes = {"Parameters": [{"Name": "SourceCommit", "DefaultValue": "unrecorded"}]}
    params: list[dict[str, str]] = []
    assert aws.with_source_commit(params, takes, f"{sha}{aws.DIRTY}") == f"{sha}{aws.DIRTY}"
    assert params == [{"Name": "SourceCommit", "Value": f"{sha} with uncommitted changes"}]
    given = [{"Name": "SourceCommit", "Value": "v1.2"}]
    assert aws.with_source_commit(given, takes, sha) is None and len(given) == 1  # the starter's word
    cases: list[tuple[dict, str | None]] = [
        ({"Parameters": []}, sha),  # upserted before the parameter existed: StartPipelineExecution refuses it
        (takes, None),  # upserted without a commit (by hand, or an installed copy)
        (takes, "a,b"),  # a revision the package cannot record (the parameter's default stays)
    ]
    for definition, revision in cases:
        params = []
        assert aws.with_source_commit(params, definition, revision) is None and params == []


def test_an_executions_display_name_is_the_commit_or_none():
    from pipeline import aws

    sha = "0123456789abcdef0123456789abcdef01234567"
    assert aws.display_name(sha) == "commit-0123456789ab"
    assert aws.display_name(f"{sha}{aws.DIRTY}") == "commit-0123456789ab-modified"
    assert aws.display_name("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY") is None  # an S3 source's version id
    assert aws.display_name(None) is None and aws.display_name("") is None
    for name in ("commit-0123456789ab", "commit-0123456789ab-modified", "nightly-7"):
        assert aws.DISPLAY_NAME.fullmatch(name)
    assert not aws.DISPLAY_NAME.fullmatch("-x") and not aws.DISPLAY_NAME.fullmatch("x" * 83)
