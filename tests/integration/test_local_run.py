"""``medtx run --local`` end to end on the bundled CSV with tiny settings, through the real CLI.

Checks the store's keys, the registry, a real HTTP call to the local endpoint, a second run served from
the step cache, the quality gate's FailStep, and a run killed during training that resumes.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import BUNDLED_CSV, ROOT

pytest.importorskip("transformers")
pytest.importorskip("sagemaker")
pytestmark = pytest.mark.slow

from pipeline import deploy  # noqa: E402  (after the skips: it is part of the pipeline extra)
from pipeline.quicksight import DATASETS  # noqa: E402

BUCKET = "medical-transcription-repo"
TINY = ["--param", "Epochs=0.05", "--param", "MaxLength=32", "--param", "MinMacroF1=0"]


def medtx(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def executions(store: Path) -> list[dict]:
    records = [
        json.loads(p.read_text()) for p in (store / "_sagemaker" / "executions").glob("*/execution.json")
    ]
    return sorted(records, key=lambda r: r["StartTime"])


def backlog(folder: Path, count: int, blank: int) -> tuple[list[dict[str, str]], Path]:
    """The bundled CSV's first ``count`` rows, row ``blank`` (0-based) without text, as ``backlog.csv``."""
    with BUNDLED_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))[:count]
    rows[blank]["transcription"] = "  "
    source = folder / "backlog.csv"
    with source.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows, source


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    result = medtx("run", "--local", "--store", str(store), *TINY)
    yield store, result
    medtx("endpoint", "stop", "--store", str(store))


def test_the_default_run_succeeds_and_prints_times_figures_and_next_steps(local_run):
    _, result = local_run
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    for step in ("Preprocess", "Train", "Evaluate", "CheckQuality", "RegisterModel", "Endpoint"):
        assert step in out
    assert "macro_f1" in out and "TF-IDF baseline" in out and "medtx invoke" in out
    assert ", settings: the defaults" in out  # the header names what the definition was built with
    assert re.search(
        r"endpoint:\s+medtx-specialty-classifier at http://127\.0\.0\.1:\d+ \(data capture off\)", out
    )
    assert "95% interval" in out and "macro-F1 minus the baseline's" in out  # bootstrap over texts


def test_the_store_holds_the_keys_a_cloud_run_writes(local_run):
    store, _ = local_run
    (execution,) = executions(store)
    assert execution["Status"] == "Succeeded"
    bucket, run = store / BUCKET, store / BUCKET / "executions" / execution["PipelineExecutionId"]
    assert (bucket / "dataset" / "dataset.csv").read_bytes() == BUNDLED_CSV.read_bytes()
    for key in (
        "preprocess/pre-processed/pre-processed.csv",
        "preprocess/pre-processed/eval/validation.csv",
        "preprocess/pre-processed/eval/model-performance.csv",
        "preprocess/train/label_map.json",
        "preprocess/train/class_weights.json",
        "preprocess/test/dataset_info.json",
    ):
        assert (bucket / key).is_file(), key
    # every QuickSight dataset's stable key (or prefix) but the drift checks' is written by a run
    for name, (key, _) in DATASETS.items():
        if name != "predictions":
            assert (bucket / key).is_dir() if key.endswith("/") else (bucket / key).is_file(), key
    for key in (
        "preprocess/report/data-report.json",
        "evaluation/evaluation.json",
        "evaluation/per-class-metrics.csv",
    ):
        assert (run / key).is_file(), key
    # the data's identity (medtx run names it, as medtx start does) is in the data report
    report = json.loads((run / "preprocess" / "report" / "data-report.json").read_text())
    assert report["input_version"] == execution["Parameters"]["InputDataVersion"]
    assert report["input_version"].startswith("sha256-")
    # the evaluation's headline, one row under the execution's own key of the history prefix
    summary = bucket / "history" / "evaluations" / execution["PipelineExecutionId"] / "evaluation-summary.csv"
    (row,) = list(csv.DictReader(summary.open()))
    assert (
        row["execution_id"] == execution["PipelineExecutionId"]
        and row["input_version"] == report["input_version"]
    )
    assert row["model_data"].endswith("model.tar.gz") and 0 <= float(row["macro_f1"]) <= 1
    (archive,) = bucket.glob("models/huggingface-*/output/model.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"config.json", "label_map.json", "code/inference.py"} <= names
    logs = store / "_sagemaker" / "executions" / execution["PipelineExecutionId"] / "logs"
    train_log = (logs / "Train.log").read_text()
    assert "[progress] step=" in train_log  # the Trainer's progress lines
    # its metrics, read from the log by the MetricDefinitions as the service reads them
    found = execution["Steps"]["Train"]["Properties"]["FinalMetricDataList"]
    reported = {m["MetricName"]: m["Value"] for m in found}
    assert {"validation:loss", "validation:macro_f1", "train:samples_per_second"} <= set(reported)
    saved = re.search(r"saved model to .*; metrics (\{.*\})", train_log)
    assert saved, train_log[-2000:]
    final = json.loads(saved.group(1))
    assert reported["validation:macro_f1"] == pytest.approx(final["eval_macro_f1"], rel=1e-5)
    assert all(step["StepStatus"] == "Succeeded" for step in execution["Steps"].values())


def test_the_model_is_registered_and_can_be_approved(local_run):
    store, _ = local_run
    listed = medtx("models", "list", "--store", str(store))
    assert listed.returncode == 0 and "PendingManualApproval" in listed.stdout
    # the run's own deploy step (the quick profile's DeployModel=true) serves the version it registered
    serving = "endpoint medtx-specialty-classifier (InService) serves version 1"
    assert serving in " ".join(listed.stderr.split())
    approved = medtx("models", "approve", "1", "--store", str(store))
    assert approved.returncode == 0, approved.stderr
    assert "Approved (model card: Approved)" in " ".join(approved.stderr.split())  # reviewed together
    package = json.loads(
        (store / "_sagemaker" / "registry" / "medtx-specialty-classifier" / "1.json").read_text()
    )
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith("model.tar.gz")
    # what it was made from: its archive and the data version of the run that trained it
    assert package["ModelDataUrl"] == package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    execution = executions(store)[0]  # the run that registered version 1
    assert package["InputDataVersion"] == execution["Parameters"]["InputDataVersion"]
    made_of = package["CustomerMetadataProperties"]  # the RegisterModel step's, resolved as the service does
    made_by = execution["PipelineExecutionId"]
    assert made_of["PipelineExecutionId"] == package["PipelineExecutionId"] == made_by
    assert made_of["BaseModel"] == execution["Parameters"]["ModelName"]
    assert made_of["CodeBundle"].startswith(f"s3://{BUCKET}/code/train-")  # the code that trained it
    assert made_of["EvaluationCodeBundle"].startswith(f"s3://{BUCKET}/code/evaluate-")
    # the commit the definition was built from (this checkout's), passed as medtx start passes it
    from pipeline.aws import source_revision

    commit = source_revision() or "unrecorded"
    assert made_of["SourceCommit"] == execution["Parameters"].get("SourceCommit", "unrecorded") == commit
    figures = package["Figures"]
    assert 0 <= figures["macro_f1"] <= 1 and 0 <= figures["baseline_macro_f1"] <= 1
    assert -1 <= figures["difference_low"] <= figures["difference_high"] <= 1  # the paired interval
    listed = medtx("models", "list", "--json", "--store", str(store))
    assert json.loads(listed.stdout) == [package]
    shown = medtx("models", "show", "1", "--store", str(store))  # what a reviewer reads before approving
    assert shown.returncode == 0, shown.stderr
    assert "Held-out evaluation" in shown.stdout and "Per class, weakest F1 first" in shown.stdout
    assert "Most frequent confusions" in shown.stdout
    assert f"trained on data: {package['InputDataVersion']}" in shown.stdout
    scored = r"scored with: (float32|bfloat16) on (cpu|cuda) \(torch \S+, transformers \S+\)"
    assert re.search(scored, shown.stdout)
    assert f"BaseModel {made_of['BaseModel']}; CodeBundle {made_of['CodeBundle']}" in shown.stdout
    assert "model card: Approved, risk rating Medium, 1 evaluation(s)" in " ".join(shown.stdout.split())
    assert "still waits for review" not in shown.stdout
    # a version approved where its card is not (Studio sets the version's status alone): show says so,
    # and approving the version again approves the card
    record = store / "_sagemaker" / "registry" / "medtx-specialty-classifier" / "1.json"
    waiting = {**package, "ModelCard": {**package["ModelCard"], "ModelCardStatus": "PendingReview"}}
    record.write_text(json.dumps(waiting))
    hinted = " ".join(medtx("models", "show", "1", "--store", str(store)).stdout.split())
    assert "its card still waits for review" in hinted
    assert "`medtx models approve 1` approves the card" in hinted
    listing = " ".join(medtx("models", "list", "--store", str(store)).stderr.split())
    assert "version 1: Approved, its model card still waits for review (`medtx models approve 1`" in listing
    again = medtx("models", "approve", "1", "--store", str(store))
    assert "Approved (model card: Approved)" in " ".join(again.stderr.split())
    # the model card, its Join resolved with this run's figures and names (and checked when registered)
    card = medtx("models", "show", "1", "--card", "--store", str(store))
    assert card.returncode == 0, card.stderr
    document = json.loads(card.stdout)
    (evaluation,) = document["evaluation_details"]
    model = {m["name"]: m["value"] for m in evaluation["metric_groups"][0]["metric_data"]}
    assert model["macro_f1"] == figures["macro_f1"]
    jobs = document["training_details"]["training_job_details"]
    assert jobs["training_arn"] == execution["Steps"]["Train"]["Properties"]["TrainingJobArn"]
    assert document["model_overview"]["model_artifact"] == [package["ModelDataUrl"]]
    assert (package["Domain"], package["Task"]) == ("NATURAL_LANGUAGE_PROCESSING", "CLASSIFICATION")
    missing = medtx("models", "approve", "9", "--store", str(store))
    assert missing.returncode == 2 and "no version 9" in missing.stderr

    # the approved version on the local endpoint, as the deploy project does on approval in an account:
    # the endpoint already serves it (the run deployed the archive the version was registered from)
    deployed = medtx("deploy", "--local", "--store", str(store))
    assert deployed.returncode == 0, deployed.stderr
    record = json.loads(deployed.stdout)
    assert record["Action"].startswith("unchanged")
    assert record["ModelPackageArn"] == package["ModelPackageArn"]
    assert record["SmokeTest"]["label"] and 0 <= record["SmokeTest"]["score"] <= 1
    forced = json.loads(medtx("deploy", "--local", "--version", "1", "--force", "--store", str(store)).stdout)
    assert forced["Action"] == "updated (blue/green)" and forced["Url"] != record["Url"]
    assert forced["ModelPackageArn"] == package["ModelPackageArn"]
    listed = medtx("models", "list", "--store", str(store)).stderr
    assert serving in " ".join(listed.split())
    # a version against the served one (by default): here itself, which tells nothing (the test of a
    # second run compares two versions)
    compared = medtx("models", "compare", "1", "--json", "--store", str(store))
    assert compared.returncode == 2 and not compared.stdout
    assert "version 1 is the one the endpoint serves: name another to compare it with" in compared.stderr


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_local_endpoint_answers_over_http(local_run):
    store, _ = local_run
    record = json.loads((store / "_sagemaker" / "endpoints" / "medtx-specialty-classifier.json").read_text())
    labels = json.loads((store / BUCKET / "preprocess" / "train" / "label_map.json").read_text())["id2label"]
    status, answer = _post(
        record["Url"] + "/invocations", json.dumps({"inputs": ["Knee arthroscopy."]}).encode()
    )
    assert status == 200 and answer[0]["label"] in labels.values()
    # the answer `medtx deploy` checks after a deployment is the one this handler gives
    status, smoke = _post(record["Url"] + "/invocations", deploy.request_body([deploy.SMOKE_TEXT]))
    assert status == 200 and deploy.check_answer(json.dumps(smoke).encode(), 1)[0]["label"] in labels.values()
    assert _post(record["Url"] + "/invocations", b"{not json")[0] == 400
    assert _post(record["Url"] + "/invocations", b"{}", "text/csv")[0] == 415
    invoked = medtx("invoke", "Cardiac catheterization.", "--top-k", "3", "--store", str(store))
    assert invoked.returncode == 0, invoked.stderr
    assert len(json.loads(invoked.stdout)[0]["top_k"]) == 3


def test_predict_scores_a_csv_through_the_local_endpoint(local_run, tmp_path):
    """``medtx predict`` on rows of the bundled CSV (one blanked), three requests in flight at once
    (the endpoint batches them together): one output row per input row, each with one of the
    model's labels, the blank one kept with its note."""
    store, _ = local_run
    labels = json.loads((store / BUCKET / "preprocess" / "train" / "label_map.json").read_text())["id2label"]
    rows, source = backlog(tmp_path, 40, blank=5)
    done = medtx(
        "predict",
        str(source),
        "--id-column",
        "sample_name",
        "--batch-size",
        "8",
        "--concurrency",
        "3",
        "--store",
        str(store),
    )
    assert done.returncode == 0, done.stderr
    record = json.loads((store / "_sagemaker" / "endpoints" / "medtx-specialty-classifier.json").read_text())
    served = record["ModelPackageArn"]  # the version that scored them, named
    assert (
        f"39 row(s) scored by medtx-specialty-classifier ({served}); 1 row(s) without text kept"
        in " ".join(done.stderr.split())
    )
    with (tmp_path / "backlog-predictions.csv").open(newline="") as f:
        out = list(csv.DictReader(f))
    assert [r["row"] for r in out] == [str(i) for i in range(1, 41)]
    assert [r["id"] for r in out] == [r["sample_name"] for r in rows]
    assert out[5]["label"] == "" and out[5]["note"] == "no text: not sent"
    assert all(
        r["label"] in labels.values() and 0 < float(r["score"]) <= 1 for i, r in enumerate(out) if i != 5
    )


def test_a_local_transform_job_answers_as_the_endpoint_does(local_run, tmp_path, monkeypatch):
    """``medtx predict --batch-transform`` without --sagemaker: the requests an account's job would get,
    one a line over two files, run by the local runner's transform job with the endpoint's model, one
    server per instance; the CSV is the endpoint's, the job is recorded, and a job whose line the
    server refuses fails naming the file, the line and the answer."""
    import torch

    from pipeline.batch_transform import transform_request
    from pipeline.local import transform
    from pipeline.local.store import Store

    # the endpoint's torch thread count for the job's servers too (they would split the cores
    # otherwise): bf16 sums taken with another count move a score in its fourth decimal
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))

    store, _ = local_run
    _, source = backlog(tmp_path, 30, blank=3)
    common = ["predict", str(source), "--top-k", "2", "--batch-size", "8", "--store", str(store)]
    by_endpoint = medtx(*common, "--out", str(tmp_path / "endpoint.csv"))
    assert by_endpoint.returncode == 0, by_endpoint.stderr
    by_job = medtx(*common, "--batch-transform", "--instance-count", "2", "--out", str(tmp_path / "job.csv"))
    assert by_job.returncode == 0, by_job.stderr
    told = " ".join(by_job.stderr.split())
    job = re.search(r"29 row\(s\) scored by local transform job (medtx-predict-[\d-]+) \(model ", told)
    assert job, told
    with (tmp_path / "endpoint.csv").open(newline="") as f:
        served = list(csv.DictReader(f))
    with (tmp_path / "job.csv").open(newline="") as f:
        transformed = list(csv.DictReader(f))
    assert [r.keys() for r in transformed] == [r.keys() for r in served]
    for a, b in zip(transformed, served, strict=True):
        assert (a["row"], a["label"], a["label_2"], a["note"]) == (
            b["row"],
            b["label"],
            b["label_2"],
            b["note"],
        )
        assert (float(a["score"]) if a["score"] else None) == pytest.approx(
            float(b["score"]) if b["score"] else None, abs=1e-6
        )
    record = json.loads((store / "_sagemaker" / "transform-jobs" / f"{job[1]}.json").read_text())
    assert record["TransformJobStatus"] == "Completed" and record["TransformResources"]["InstanceCount"] == 2
    assert [Path(log).name for log in record["Logs"]] == ["instance-1.log", "instance-2.log"]
    assert all("loaded model with" in Path(log).read_text() for log in record["Logs"])  # each its own server
    folder = store / BUCKET / "batch-predict" / job[1]
    assert sorted(p.name for p in (folder / "input").iterdir()) == [
        "requests-00001.jsonl",
        "requests-00002.jsonl",
    ]
    for kept in (folder / "input").iterdir():
        answers = (folder / "output" / f"{kept.name}.out").read_bytes().splitlines()
        assert len(answers) == len(kept.read_bytes().splitlines())

    # a line the model's server refuses fails the job with the file, the line and the answer
    bad = store / BUCKET / "batch-predict" / "broken" / "input"
    bad.mkdir(parents=True)
    (bad / "requests.jsonl").write_bytes(b'{"inputs": ["fine"]}\n{"inputs": 3}\n')
    request = transform_request(
        "medtx-predict-broken",
        "m",
        f"s3://{BUCKET}/batch-predict/broken/input/",
        f"s3://{BUCKET}/batch-predict/broken/output",
        "local",
        1,
        1024,
    )
    local = Store(store)
    _, model_data, environment = transform.model_source(local, "medtx-specialty-classifier", None)
    failed = transform.run(local, request, model_data, environment)
    assert failed["TransformJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("requests.jsonl line 2: the model's server answered HTTP 400")
    assert not (store / BUCKET / "batch-predict" / "broken" / "output").exists()
    with pytest.raises(transform.TransformJobError, match="already exists"):
        transform.run(local, request, model_data, environment)


def test_a_second_run_is_served_from_the_cache(local_run, tmp_path):
    """Endpoint settings change no job, so the jobs come from the cache; the endpoint is updated,
    serves the new version and captures its answers."""
    store, _ = local_run
    endpoint_settings = ["--set", "inference__max_top_k=2", "--set", "endpoint_capture_percent=100"]
    again = medtx("run", "--local", "--store", str(store), *TINY, *endpoint_settings)
    assert again.returncode == 0, again.stdout + again.stderr
    first, second = executions(store)[:2]
    for step in ("Preprocess", "Train"):
        hit = second["Steps"][step]["CacheHitResult"]
        assert hit["SourcePipelineExecutionId"] == first["PipelineExecutionId"], step
    # Evaluate is never cached: the first run's RecordChampion (and deploy --local) made version 1
    # the champion since. The same archive (Train was a cache hit): not scored twice, nothing between
    # them. Then this run's deploy branch made version 2 the champion.
    assert "CacheHitResult" not in second["Steps"]["Evaluate"]
    runs = store / BUCKET / "executions" / second["PipelineExecutionId"]
    evaluated = json.loads((runs / "evaluation" / "evaluation.json").read_text())
    assert evaluated["champion"]["served"] and evaluated["champion"]["model_package"].endswith("/1")
    assert (
        evaluated["champion"]["same_archive"]
        and evaluated["model_data"] == evaluated["champion"]["model_data"]
    )
    champion = store / BUCKET / "champion" / "medtx-specialty-classifier"
    assert json.loads((champion / "champion.json").read_text())["model_package"].endswith("/2")
    assert evaluated["macro_f1_minus_champion"] == 0
    said = " ".join((again.stdout + again.stderr).split())
    assert "is this archive (a retraining whose Train step was a cache hit)" in said
    assert re.search(r"endpoint: medtx-specialty-classifier at \S+ \(capturing 100% of its answers\)", said)
    assert (
        "scoring the champion"
        not in (
            store / "_sagemaker" / "executions" / second["PipelineExecutionId"] / "logs" / "Evaluate.log"
        ).read_text()
    )
    listed = " ".join(medtx("models", "list", "--store", str(store)).stderr.split())
    assert "version 2: the same model archive as version 1" in listed
    assert "version 2 (PendingManualApproval), the same model archive as version 1" in said
    page = (store / "dashboard.html").read_text()  # the dashboard draws the served model beside
    assert '"name":"served model"' in page
    assert "the served model predicts the same class on every row (macro-F1 " in page  # the same archive
    assert second["Steps"]["RegisterModel"]["Properties"]["ModelPackageVersion"] == 2
    # the summary suggests the comparison with the previous version, evaluated on the same rows
    hint = f"models compare 2 1 --store {store}"
    assert hint in " ".join((again.stdout + again.stderr).split())
    compared = json.loads(medtx(*hint.split()[:-2], "--json", "--store", str(store)).stdout)
    assert compared["paired"] and compared["macro_f1_difference"] == 0
    # made of the same archive, data and code (only the endpoint's settings changed), as recorded
    trained, _ = compared["made_of"]
    assert compared["made_of"] == [trained, trained]
    assert trained["training code"].rsplit("/", 1)[1].startswith("train-")
    assert trained["archive"] == evaluated["model_data"]
    # the setting reaches the server through the model's environment, as on SageMaker
    record = json.loads((store / "_sagemaker" / "endpoints" / "medtx-specialty-classifier.json").read_text())
    asked = {"inputs": "Knee arthroscopy.", "parameters": {"top_k": 3}}
    status, answer = _post(record["Url"] + "/invocations", json.dumps(asked).encode())
    assert status == 400 and "from 1 to 2" in answer["error"]
    # the run's deploy step captures as medtx deploy does: answers only, read back beside the
    # served version's validation predictions
    knee = json.dumps({"inputs": ["Knee arthroscopy."]}).encode()
    assert _post(record["Url"] + "/invocations", knee)[0] == 200
    read = medtx("endpoint", "predictions", "--json", "--store", str(store))
    assert read.returncode == 0, read.stderr
    drift = json.loads(read.stdout)
    assert drift["predictions"] == 1 and drift["model_package"].endswith("/2")
    assert "validation_share" in drift["classes"][0]
    # accuracy as the evaluation counted it on the served version's rows, and the traffic's estimate
    metrics = evaluated["multiclass_classification_metrics"]
    assert drift["validation_accuracy"] == pytest.approx(metrics["accuracy"]["value"])
    assert (
        0
        <= drift["estimated_accuracy_low"]
        <= drift["estimated_accuracy"]
        <= drift["estimated_accuracy_high"]
        <= 1
    )
    written = list((store / BUCKET / "endpoint-capture").rglob("*.jsonl"))  # a file an hour
    assert written and not any("Knee" in path.read_text() for path in written)
    # the check published into the store's drift history, which the dashboard then charts
    published = medtx("endpoint", "predictions", "--publish", "--store", str(store))
    assert published.returncode == 0, published.stderr
    assert (store / BUCKET / "monitoring" / "prediction-drift.csv").is_file()
    drawn = medtx("dashboard", "--store", str(store), "--out", str(tmp_path / "production.html"))
    assert drawn.returncode == 0, drawn.stderr
    assert "Predictions in production" in (tmp_path / "production.html").read_text()
    loaded = browser_check(tmp_path / "production.html", tmp_path / "production.png")
    assert loaded["errors"] == [] and loaded["charts"] == loaded["rendered"] == 23, loaded


def test_the_dashboards_cleaning_chart_accounts_for_every_row_removed(local_run):
    """The EDA's cleaning chart: its removed rows add up to the rows in minus the rows out (nothing
    dropped unreported), and the texts filed under several specialties, which stay, are a bar apart."""
    from pipeline import dashboard
    from pipeline.local.store import Store

    store, _ = local_run
    data = dashboard.load(Store(store))
    (figure,) = [f for title, f in dashboard.eda_figures(data) if title.startswith("Rows removed by reason")]
    removed, kept = figure.data
    assert removed.name == "rows removed" and "class below rule" in removed.y
    assert sum(removed.x) == data.report["rows_in"] - data.report["rows_out"] > 0
    assert kept.name == "texts kept once per label" and list(kept.x) == [data.report["conflicting_texts"]]


def test_the_quality_gate_fails_the_execution_with_its_reason(local_run):
    store, _ = local_run
    gated = medtx("run", "--local", "--store", str(store), *TINY, "--param", "MinMacroF1=0.99")
    assert gated.returncode == 1
    assert "Quality gate failed: macro-F1" in gated.stdout + gated.stderr
    last = executions(store)[-1]
    assert last["Status"] == "Failed" and last["FailedByFailStep"] == "QualityGateFailed"
    # the figures to four decimals (evaluation.json's text), not every digit of a float
    assert re.search(
        r"Quality gate failed: macro-F1 \d\.\d{4} must be >= MinMacroF1 0\.99 and exceed the TF-IDF baseline "
        r"macro-F1 \d\.\d{4} by >= MinBaselineMargin -1(\.0)? \(margin reached: [+-]\d\.\d{4}\), and ",
        last["FailureReason"],
    ), last["FailureReason"]
    assert "RegisterModel" not in last["Steps"]


def test_a_run_killed_during_training_resumes_and_completes(tmp_path):
    store = tmp_path / "store"
    args = [
        *("run", "--local", "--store", str(store), "--set", "train__save_steps=2"),
        *("--param", "Epochs=0.5", "--param", "MaxLength=32", "--param", "MinMacroF1=0"),
        *("--param", "DeployModel=false"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    try:
        while not list((store / BUCKET / "executions").glob("*/checkpoints/checkpoint-*/trainer_state.json")):
            assert process.poll() is None, "the run ended before a checkpoint was written"
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no clean-up in the runner
        process.wait()
    (killed,) = executions(store)
    assert killed["Status"] == "Executing" and killed["Steps"]["Train"]["StepStatus"] == "Executing"

    resumed = medtx(*args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (execution,) = executions(store)
    assert execution["PipelineExecutionId"] == killed["PipelineExecutionId"]
    assert execution["Status"] == "Succeeded" and execution["Attempts"] == 2
    assert execution["Steps"]["Preprocess"]["StartTime"] == killed["Steps"]["Preprocess"]["StartTime"]
    log = (
        store / "_sagemaker" / "executions" / execution["PipelineExecutionId"] / "logs" / "Train.log"
    ).read_text()
    assert "resuming from" in log and "/checkpoints/checkpoint-" in log


def test_the_run_writes_an_offline_dashboard_that_renders_in_chromium(local_run, tmp_path):
    store, result = local_run
    page = store / "dashboard.html"
    assert page.is_file() and f"Dashboard: {page}" in " ".join((result.stdout + result.stderr).split())
    text = page.read_text()
    # plotly.js is inlined: no script or stylesheet comes from the network
    assert not re.findall(r"<script[^>]*\bsrc=|<link[^>]*\bhref=[\"']?https?:", text)
    assert '"error_y"' in text  # the headline bars carry evaluation's bootstrap intervals
    # the registered version's model card, below the charts
    import html

    from pipeline.config import PipelineConfig

    card = text[text.index("<h2>Model card</h2>") :]
    assert "Status PendingReview, risk rating Medium" in card
    assert html.escape(PipelineConfig().model_card.purpose) in card and "Fine-tuned from " in card
    loaded = browser_check(page, tmp_path / "dashboard.png")
    assert loaded["errors"] == [], loaded["errors"]
    assert loaded["charts"] == loaded["rendered"] == 16
    assert "<h3>Learning curve: " in text  # from the Train job's train_metrics.json
    assert "<h3>Behavioural checks: " in text  # from evaluation.json
    assert "<h3>Calibration: accuracy against the top score (ECE " in text  # from evaluation.json
    assert "<h3>Top-k accuracy: the right specialty among the first k listed</h3>" in text
    assert "<h3>Selective prediction, 90% accuracy on the notes answered: " in text
    assert loaded["colours"] > 50, "the screenshot is blank"


def browser_check(page: Path, screenshot: Path) -> dict:
    """Open ``page`` in headless Chromium: console errors, charts with a plot, screenshot colours."""
    chromium, driver_path = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
    missing = not (chromium.exists() and driver_path.exists())
    try:
        from selenium import webdriver
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("MEDTX_REQUIRE_BROWSER"):  # set by .ci/run, which installs them
            pytest.fail(
                "selenium, Chromium and ChromeDriver are required (apt-get install chromium chromium-driver)"
            )
        pytest.skip("selenium or Debian's chromium and chromium-driver are not installed")
    from PIL import Image
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,4000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    try:
        driver.get(page.as_uri())
        count = "return document.querySelectorAll('section.chart').length"
        drawn = (
            "return document.querySelectorAll('section.chart .js-plotly-plot .main-svg').length > 0 && "
            + (
                "Array.from(document.querySelectorAll('section.chart')).filter("
                "s => s.querySelector('.js-plotly-plot .main-svg')).length"
            )
        )
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(drawn) == d.execute_script(count))
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.save_screenshot(str(screenshot))
        result = {
            "errors": errors,
            "charts": driver.execute_script(count),
            "rendered": driver.execute_script(drawn),
        }
    finally:
        driver.quit()
    with Image.open(screenshot) as image:
        result["colours"] = len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    return result


def test_logs_hold_no_transcript_text(local_run):
    """Jobs and the endpoint log counts and ids only (transcripts are protected health information)."""
    import pandas as pd

    store, _ = local_run
    medtx("invoke", "Patient with left knee effusion after a fall.", "--store", str(store))
    texts = pd.read_csv(BUNDLED_CSV, keep_default_na=False)["transcription"]
    snippets = [*[t[20:80] for t in texts if len(t) > 100][:50], "left knee effusion after a fall"]
    logs = list((store / "_sagemaker").rglob("*.log"))
    assert any(p.name == "server.log" for p in logs) and any(p.name == "Train.log" for p in logs)
    for log in logs:
        content = log.read_text(errors="replace")
        leaked = [s for s in snippets if s in content]
        assert not leaked, f"{log} contains transcript text: {leaked[:1]}"
