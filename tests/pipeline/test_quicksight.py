"""QuickSight as code: generated metric fields against scikit-learn, request shapes against the
service model, and create-then-update under moto."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from aws_helpers import BUCKET, REGION
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from pipeline import quicksight as qs

LABELS = ["Surgery", "Cardiovascular / Pulmonary", "Orthopedic", "Radiology", "ENT - Otolaryngology"]
TARGET = qs.Target(
    account_id="123456789012",
    region=REGION,
    bucket=BUCKET,
    principal="arn:aws:quicksight:us-east-1:123456789012:group/default/ml",
)


@pytest.fixture
def rows():
    rng = np.random.default_rng(3)
    target = rng.integers(0, 4, 200)  # class 4 never occurs as a target...
    pred = np.where(rng.random(200) < 0.6, target, rng.integers(0, 5, 200))
    pred[pred == 3] = 1  # ...and class 3 is never predicted
    return pd.DataFrame(
        {
            "row_id": range(200),
            "target_label": [LABELS[i] for i in target],
            "pred_label": [LABELS[i] for i in pred],
            "target": target,
            "pred": pred,
        }
    )


def test_macro_fields_agree_with_scikit_learn(rows):
    fields = qs.metric_fields(LABELS)
    precision, recall, f1, _ = precision_recall_fscore_support(
        rows["target"], rows["pred"], labels=range(len(LABELS)), average="macro", zero_division=0
    )
    value = lambda name: fields[name].evaluate(rows, fields)  # noqa: E731
    assert value("Accuracy") == pytest.approx(accuracy_score(rows["target"], rows["pred"]))
    assert value("Macro Precision") == pytest.approx(precision)
    assert value("Macro Recall") == pytest.approx(recall)
    assert value("Macro F1") == pytest.approx(f1)


def test_each_macro_figure_references_every_class_exactly_once():
    fields = qs.metric_fields(LABELS)
    for macro, prefix in (
        ("Macro Precision", "precision_"),
        ("Macro Recall", "recall_"),
        ("Macro F1", "f1_"),
    ):
        expression = fields[macro].render()
        referenced = re.findall(r"\{([^}]+)\}", expression)
        assert len(referenced) == len(set(referenced)) == len(LABELS)
        assert all(name.startswith(prefix) for name in referenced)
        assert expression.endswith(f"/ {len(LABELS)}")
        assert {int(name.split("_")[1]) for name in referenced} == set(range(len(LABELS)))
    for i, label in enumerate(LABELS):
        precision = next(m for n, m in fields.items() if n.startswith(f"precision_{i:02d}_")).render()
        # numerator (pred and target), denominator in the zero guard and in the division; no other class
        assert precision.count(f"'{label}'") == 4
        assert set(re.findall(r"'([^']+)'", precision)) == {label}
        assert "ifelse(" in precision  # no division by zero for a class never predicted


def test_label_sets_with_repeats_or_quotes_are_refused():
    with pytest.raises(ValueError, match="repeats"):
        qs.metric_fields(["A", "A"])
    with pytest.raises(ValueError, match="single quote"):
        qs.metric_fields(["Children's"])["precision_00_children_s"].render()


def test_requests_match_the_service_model():
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("quicksight")
    built = qs.requests(TARGET, LABELS)
    checks = [("CreateDataSource", r) for r in built["data_sources"].values()]
    checks += [("CreateDataSet", r) for r in built["data_sets"].values()]
    checks += [("CreateDashboard", r) for r in built["dashboards"].values()]
    for operation, request in checks:
        report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
        assert not report.has_errors(), f"{operation}: {report.generate_report()}"
    fields = built["dashboards"]["model-performance"]["Definition"]["CalculatedFields"]
    assert {f["Name"] for f in fields} >= {"Accuracy", "Macro Precision", "Macro Recall", "Macro F1"}
    assert len(fields) == 4 + 3 * len(LABELS) + 1  # the macro figures, per class, the score bin
    manifest = built["manifests"]["performance"]
    assert manifest["fileLocations"][0]["URIs"] == [
        f"s3://{BUCKET}/preprocess/pre-processed/eval/model-performance.csv"
    ]


def test_apply_creates_then_updates_under_moto(aws):
    import boto3

    s3, quicksight = boto3.client("s3", region_name=REGION), boto3.client("quicksight", region_name=REGION)
    built = qs.requests(TARGET, LABELS)
    first = qs.apply(built, TARGET, s3, quicksight)
    assert set(first.values()) == {"written", "created"}
    described = quicksight.describe_dashboard(
        AwsAccountId=TARGET.account_id, DashboardId="medtx-model-performance"
    )
    assert described["Dashboard"]["Name"] == "medtx — model performance"
    source = quicksight.describe_data_source(AwsAccountId=TARGET.account_id, DataSourceId="medtx-eda")[
        "DataSource"
    ]
    assert (
        source["DataSourceParameters"]["S3Parameters"]["ManifestFileLocation"]["Key"]
        == "quicksight/manifests/eda.json"
    )
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="quicksight/manifests/eda.json")["Body"].read())
    assert manifest["fileLocations"][0]["URIs"][0].endswith("pre-processed.csv")
    # moto 5.2.5 has no update_dashboard or update_data_set, and its create_data_set overwrites where
    # the service answers ResourceExistsException: those calls are checked against the service model.
    import botocore.session
    from botocore.exceptions import ClientError
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("quicksight")
    updates = []

    def recorder(operation: str):
        def call(**request):
            report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
            assert not report.has_errors(), report.generate_report()
            updates.append(operation)

        return call

    def exists(**request):
        raise ClientError(
            {"Error": {"Code": "ResourceExistsException", "Message": "exists"}}, "CreateDataSet"
        )

    quicksight.update_dashboard = recorder("UpdateDashboard")
    quicksight.update_data_set = recorder("UpdateDataSet")
    quicksight.create_data_set = exists
    second = qs.apply(built, TARGET, s3, quicksight)
    assert second["data-source/eda"] == "updated"  # moto's own update_data_source
    assert second["data-set/performance"] == "updated" and second["dashboard/model-performance"] == "updated"
    assert updates.count("UpdateDataSet") == len(qs.DATASETS) == 10 and updates.count("UpdateDashboard") == 3


def test_refresh_starts_an_ingestion_of_every_dataset(aws, monkeypatch):
    import boto3
    from typer.testing import CliRunner

    from pipeline.cli import app

    quicksight = boto3.client("quicksight", region_name=REGION)
    for request in qs.requests(TARGET, LABELS)["data_sets"].values():
        quicksight.create_data_set(**request)  # moto overwrites an existing one
    started = qs.refresh(quicksight, TARGET.account_id, "run-1")
    assert set(started) == set(qs.DATASETS) and "not created" not in started.values()
    monkeypatch.setenv("AWS_REGION", REGION)
    asked = ["quicksight", "--refresh", "--account-id", TARGET.account_id]
    result = CliRunner().invoke(app, asked)
    assert result.exit_code == 0, result.output
    assert result.output.count("SPICE refresh of medtx-") == len(qs.DATASETS)
    assert "not created yet" not in result.output
    # dashboards made by an earlier version lack a dataset this one added (moto's CreateIngestion
    # does not look for the dataset, the service does): the refresh says what to run; the drift
    # history's dataset waits for the first check, as before
    before = {**started, "quality": "not created", "predictions": "not created"}
    monkeypatch.setattr(qs, "refresh", lambda *args: before)
    older = CliRunner().invoke(app, asked)
    assert older.exit_code == 0, older.output
    said = " ".join(older.output.split())
    assert "note: quality not created yet: run `medtx quicksight --principal ...` once" in said


def test_refresh_reports_a_dataset_not_created_yet():
    """Before the first drift check there is no predictions dataset: the refresh after an execution
    (and the drift check's own) says so and refreshes the rest; any other refusal still fails."""
    from botocore.exceptions import ClientError

    class QuickSight:
        def create_ingestion(self, **request):
            if request["DataSetId"] == "medtx-predictions":
                raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "x")
            if request["DataSetId"] == "medtx-eda" and denied:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "x")
            return {"IngestionStatus": "INITIALIZED"}

    denied = False
    started = qs.refresh(QuickSight(), TARGET.account_id, "run-2")
    assert started["predictions"] == "not created" and started["eda"] == "INITIALIZED"
    denied = True
    with pytest.raises(ClientError, match="AccessDenied"):
        qs.refresh(QuickSight(), TARGET.account_id, "run-3")


def test_the_production_dashboard_reads_the_drift_history_as_the_checks_write_it(aws):
    """The predictions dataset is the drift checks' history (``capture.HISTORY_KEY``), column for
    column, its check time cast in the format the checks write; it and the production dashboard are
    built only once that file exists."""
    from datetime import UTC, datetime

    import boto3

    from pipeline import capture

    key, columns = qs.DATASETS["predictions"]
    assert key == capture.HISTORY_KEY and tuple(columns) == capture.HISTORY_COLUMNS
    result = {"endpoint": "e", "hours": 24, "predictions": 3, "mean_score": 0.5, "classes": []}
    checked = capture.history_rows(result, datetime(2026, 12, 4, 7, 42, tzinfo=UTC))["checked_at"].iloc[0]
    java_to_python = qs.DATETIME_FORMAT.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
    java_to_python = (
        java_to_python.replace("HH", "%H").replace("mm", "%M").replace("ss", "%S").replace("'", "")
    )
    assert datetime.strptime(checked, java_to_python) == datetime(2026, 12, 4, 7)
    casts = qs.data_set_request(TARGET, "predictions")["LogicalTableMap"]["table"]["DataTransforms"]
    (when,) = [
        c["CastColumnTypeOperation"]
        for c in casts
        if c["CastColumnTypeOperation"]["ColumnName"] == "checked_at"
    ]
    assert when == {"ColumnName": "checked_at", "NewColumnType": "DATETIME", "Format": qs.DATETIME_FORMAT}

    without = qs.requests(TARGET, LABELS, missing=["predictions"])
    assert "predictions" not in without["data_sets"] and set(without["dashboards"]) == {
        "eda",
        "model-performance",
    }
    dashboard = qs.requests(TARGET, LABELS)["dashboards"]["production"]
    used = set(re.findall(r'"ColumnName": "(\w+)"', json.dumps(dashboard)))
    assert used <= set(columns) and {"psi", "traffic_share", "difference", "estimated_accuracy"} <= used

    s3 = boto3.client("s3", region_name=REGION)
    assert qs.not_written(s3, BUCKET) == [
        "predictions",
        "quality",
        "training",
        "top-k",
        "selective",
        "behaviour",
    ]
    s3.put_object(Bucket=BUCKET, Key=capture.HISTORY_KEY + ".old", Body=b"checked_at\n")
    assert "predictions" in qs.not_written(s3, BUCKET)  # the file itself, not a name it begins
    s3.put_object(Bucket=BUCKET, Key=capture.HISTORY_KEY, Body=b"checked_at\n")
    assert qs.not_written(s3, BUCKET) == ["quality", "training", "top-k", "selective", "behaviour"]


def test_quicksight_builds_the_production_dashboard_once_a_drift_check_wrote_its_history(aws, monkeypatch):
    """``medtx quicksight`` looks for the history in the bucket: without it, the two pipeline
    dashboards and a note saying when the third comes; with it, all three (``apply`` is tested above;
    here what the command asks it to send)."""
    import boto3
    from helpers import said
    from typer.testing import CliRunner

    from pipeline import capture
    from pipeline.cli import app

    s3 = boto3.client("s3", region_name=REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    asked = [
        "quicksight",
        "--principal",
        TARGET.principal,
        "--account-id",
        TARGET.account_id,
        "--bucket",
        BUCKET,
    ]
    early = CliRunner().invoke(app, asked)  # before any execution: says what writes the label map
    assert early.exit_code == 2
    assert "(the Preprocess step writes it: run the pipeline first, or --label-map)" in said(early)
    label_map = {"id2label": {str(i): name for i, name in enumerate(LABELS)}}
    s3.put_object(Bucket=BUCKET, Key="preprocess/train/label_map.json", Body=json.dumps(label_map).encode())
    sent = []

    def apply(built, *_):
        sent.append(built)
        return {"dashboard/x": "created"}

    monkeypatch.setattr(qs, "apply", apply)
    s3.delete_object(Bucket=BUCKET, Key=capture.HISTORY_KEY)
    first = CliRunner().invoke(app, asked)
    assert first.exit_code == 0, said(first)
    assert f"nothing at s3://{BUCKET}/{capture.HISTORY_KEY} yet, so no production dashboard" in said(
        first
    ) and "run `medtx quicksight` again after the first check" in said(first)
    assert (
        set(sent[0]["dashboards"]) == {"eda", "model-performance"}
        and "predictions" not in sent[0]["data_sets"]
    )
    # no execution has written an evaluation summary yet (a stack upgraded from an earlier version):
    # no quality dataset and no sheet reading it, and a note saying when they come
    assert "quality" not in sent[0]["data_sets"] and "quality" not in sent[0]["manifests"]
    sheets = sent[0]["dashboards"]["model-performance"]["Definition"]["Sheets"]
    assert [sheet["SheetId"] for sheet in sheets] == ["performance"]
    assert "so no 'Over retrainings' sheet on the model-performance dashboard" in said(first)
    # nor behavioural checks: no charts reading them, the dataset left out
    assert "behaviour" not in sent[0]["data_sets"] and "behaviour" not in json.dumps(sheets)
    assert "so no behavioural checks' charts on the model-performance dashboard" in said(first)
    assert "so no 'Training' sheet (the learning curve) on the model-performance dashboard" in said(first)
    assert "so no top-k accuracy chart on the model-performance dashboard" in said(first)
    assert "so no accuracy/coverage chart (selective prediction) on the model-performance" in said(first)
    assert "FilterGroups" not in sent[0]["dashboards"]["model-performance"]["Definition"]
    s3.put_object(Bucket=BUCKET, Key=capture.HISTORY_KEY, Body=b"checked_at\n")
    s3.put_object(
        Bucket=BUCKET, Key="history/evaluations/exec-1/evaluation-summary.csv", Body=b"evaluated_at\n"
    )
    s3.put_object(Bucket=BUCKET, Key=qs.DATASETS["behaviour"][0], Body=b"check\n")
    s3.put_object(Bucket=BUCKET, Key=qs.DATASETS["training"][0], Body=b"series\n")
    s3.put_object(Bucket=BUCKET, Key=qs.DATASETS["top-k"][0], Body=b"k\n")
    s3.put_object(Bucket=BUCKET, Key=qs.DATASETS["selective"][0], Body=b"model\n")
    second = CliRunner().invoke(app, asked)
    assert second.exit_code == 0 and "nothing at" not in said(second)
    assert set(sent[1]["dashboards"]) == {"eda", "model-performance", "production"}
    assert {"predictions", "quality", "behaviour"} <= set(sent[1]["data_sets"])
    sheets = sent[1]["dashboards"]["model-performance"]["Definition"]["Sheets"]
    assert [sheet["SheetId"] for sheet in sheets] == ["performance", "training", "retrainings"]
    assert {"behaviour", "behaviour-agreement", "top-k", "selective"} <= set(
        re.findall(r'"VisualId": "([\w-]+)"', json.dumps(sheets))
    )
    # a history in an earlier layout (before the accuracy estimate, or before its interval) is
    # rewritten with the columns it lacks before the dataset that reads them is sent; a current one is
    # left as it is
    from datetime import UTC, datetime

    check = {"endpoint": "e", "hours": 24, "predictions": 0}
    for added in capture.ADDED_COLUMNS:
        older = capture.history_rows(check, datetime(2026, 12, 1, tzinfo=UTC)).drop(columns=list(added))
        s3.put_object(Bucket=BUCKET, Key=capture.HISTORY_KEY, Body=older.to_csv(index=False).encode())
        third = CliRunner().invoke(app, asked)
        assert third.exit_code == 0
        rewrote = f"rewrote s3://{BUCKET}/{capture.HISTORY_KEY} with the columns {', '.join(added)}"
        assert rewrote in said(third)
        rewritten = s3.get_object(Bucket=BUCKET, Key=capture.HISTORY_KEY)["Body"].read()
        assert capture.parse_history(rewritten).equals(
            capture.parse_history(older.to_csv(index=False).encode())
        )
        assert rewritten.startswith(",".join(capture.HISTORY_COLUMNS).encode() + b"\n")
        fourth = CliRunner().invoke(app, asked)
        assert fourth.exit_code == 0 and "rewrote" not in said(fourth)


def test_cli_dry_run_writes_the_requests(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    label_map = tmp_path / "label_map.json"
    label_map.write_text(json.dumps({"id2label": {str(i): name for i, name in enumerate(LABELS)}}))
    result = CliRunner().invoke(
        app, ["quicksight", "--dry-run", "--label-map", str(label_map), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    dashboard = json.loads((tmp_path / "out" / "dashboards" / "model-performance.json").read_text())
    assert len(dashboard["Definition"]["CalculatedFields"]) == 4 + 3 * len(LABELS) + 1
    assert (tmp_path / "out" / "manifests" / "confusion.json").exists()
    bad = CliRunner().invoke(app, ["quicksight", "--dry-run", "--label-map", str(tmp_path / "missing.json")])
    assert bad.exit_code == 2 and "cannot read the label map" in bad.output


def test_the_figures_over_retrainings_read_every_evaluations_row():
    """The Evaluate step writes one ``evaluation-summary.csv`` per execution under one prefix; the
    ``quality`` dataset reads the prefix (a manifest of ``URIPrefixes``) with the script's columns, its
    time in the format the script writes, and the model-performance dashboard charts it on a sheet
    of its own."""
    from datetime import UTC, datetime

    from evaluate import SUMMARY_COLUMNS, summary_row
    from pipeline.config import EVALUATION_HISTORY_PREFIX

    key, columns = qs.DATASETS["quality"]
    assert key == EVALUATION_HISTORY_PREFIX and tuple(columns) == SUMMARY_COLUMNS
    built = qs.requests(TARGET, LABELS, missing=["predictions"])
    assert built["manifests"]["quality"]["fileLocations"] == [
        {"URIPrefixes": [f"s3://{BUCKET}/{EVALUATION_HISTORY_PREFIX}"]}
    ]
    report = {
        "multiclass_classification_metrics": {
            name: {"value": value}
            for name, value in (("macro_f1", 0.5), ("accuracy", 0.6), ("weighted_f1", 0.55))
        },
        "validation_rows": 10,
        "baseline": {"macro_f1": 0.45},
        "macro_f1_minus_baseline": 0.05,
        "champion": {"served": True, "same_archive": False, "macro_f1": 0.48},
        "macro_f1_minus_champion": 0.02,
        "bootstrap": {"interval": {"macro_f1": [0.4, 0.6], "macro_f1_minus_baseline": [-0.01, 0.11]}},
        "model_data": "s3://b/m.tar.gz",
        "input_version": "sha256-0123456789abcdef",
    }
    row = summary_row(
        report, datetime(2026, 12, 4, 7, 42, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "exec-1"
    )
    assert list(row) == list(SUMMARY_COLUMNS)
    assert (row["macro_f1_low"], row["minus_baseline_high"], row["champion_served"]) == (0.4, 0.11, 1)
    java = qs.DATETIME_FORMAT
    for old, new in (
        ("yyyy", "%Y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("'", ""),
    ):
        java = java.replace(old, new)
    assert datetime.strptime(row["evaluated_at"], java) == datetime(2026, 12, 4, 7, 42)
    no_interval = summary_row({**report, "bootstrap": {}}, "2026-12-04T07:42:00Z")
    assert no_interval["macro_f1_low"] is None and no_interval["execution_id"] == ""
    dashboard = built["dashboards"]["model-performance"]["Definition"]
    (sheet,) = [s for s in dashboard["Sheets"] if s["SheetId"] == "retrainings"]
    assert {"quality-trend", "quality-margins", "evaluations"} == {
        next(iter(v.values()))["VisualId"] for v in sheet["Visuals"]
    }
    assert "quality" in {d["Identifier"] for d in dashboard["DataSetIdentifierDeclarations"]}


def test_the_behavioural_checks_dataset_reads_the_table_evaluation_writes():
    """``behaviour-checks.csv``: one row per check with the script's columns, published under the
    stable key the dataset reads; a check that altered no note leaves its agreement empty."""
    from evaluate import BEHAVIOUR_COLUMNS, BEHAVIOUR_CSV, behaviour_table

    key, columns = qs.DATASETS["behaviour"]
    assert key.endswith(f"/eval/{BEHAVIOUR_CSV}") and tuple(columns) == BEHAVIOUR_COLUMNS
    found = {
        "typos": {
            "description": "two letters swapped",
            "texts_altered": 40,
            "texts_changed": 2,
            "agreement": 0.95,
            "macro_f1": 0.5,
            "macro_f1_change": -0.01,
            "changes": [],
        },
        "gender_swap": {
            "description": "gendered words swapped",
            "texts_altered": 0,
            "texts_changed": 0,
            "agreement": None,
            "macro_f1": 0.51,
            "macro_f1_change": 0.0,
            "changes": [],
        },
    }
    table = behaviour_table(found)
    assert list(table.columns) == list(BEHAVIOUR_COLUMNS) and list(table["check"]) == ["typos", "gender_swap"]
    assert table.to_csv(index=False).splitlines()[2] == "gender_swap,gendered words swapped,0,0,,0.51,0.0"
    assert behaviour_table({}).to_csv(index=False).strip() == ",".join(BEHAVIOUR_COLUMNS)
    dashboard = qs.requests(TARGET, LABELS)["dashboards"]["model-performance"]
    used = set(re.findall(r'"DataSetIdentifier": "behaviour", "ColumnName": "(\w+)"', json.dumps(dashboard)))
    assert used <= set(columns) and {"check", "agreement", "texts_changed"} <= used


def test_the_top_k_dataset_reads_the_table_evaluation_writes():
    """``top-k-accuracy.csv``: evaluation.json's top-k figures, the model's and the baseline's, one
    row per k and model with the script's columns, under the stable key the chart reads; without a
    baseline, the model's rows alone. Until an execution writes it, no chart reads it."""
    from evaluate import TOP_K_COLUMNS, TOP_K_CSV, top_k_table

    key, columns = qs.DATASETS["top-k"]
    assert key.endswith(f"/eval/{TOP_K_CSV}") and tuple(columns) == TOP_K_COLUMNS
    report = {
        "top_k_accuracy": {"top_1": 0.4, "top_2": 0.6},
        "baseline": {"macro_f1": 0.5, "top_k_accuracy": {"top_1": 0.45, "top_2": 0.7}},
    }
    assert top_k_table(report).to_csv(index=False).splitlines() == [
        "k,model,accuracy",
        "1,model,0.4",
        "2,model,0.6",
        "1,TF-IDF baseline,0.45",
        "2,TF-IDF baseline,0.7",
    ]
    assert list(top_k_table({"top_k_accuracy": {"top_1": 1.0}})["model"]) == ["model"]
    dashboard = json.dumps(qs.requests(TARGET, LABELS)["dashboards"]["model-performance"])
    used = set(re.findall(r'"DataSetIdentifier": "top-k", "ColumnName": "(\w+)"', dashboard))
    assert used == set(columns)
    later = json.dumps(qs.requests(TARGET, LABELS, missing=["top-k"])["dashboards"]["model-performance"])
    assert '"top-k"' not in later


def test_the_selective_dataset_reads_the_curves_evaluation_writes():
    """``selective-prediction.csv``: evaluation.json's accuracy/coverage curves (per note), the
    model's and the baseline's, with the script's columns, under the stable key the chart reads; the
    chart plots the accuracy along the coverage, one line per model. Until an execution writes it, no
    chart reads it."""
    from evaluate import SELECTIVE_COLUMNS, SELECTIVE_CSV, note_outcomes, selective_figures, selective_table

    key, columns = qs.DATASETS["selective"]
    assert key.endswith(f"/eval/{SELECTIVE_CSV}") and tuple(columns) == SELECTIVE_COLUMNS
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6]])
    report = {
        "selective": selective_figures(*note_outcomes(probs, np.array([0, 1, 1]), ["a", "b", "c"]), 0.9)
    }
    assert selective_table(report).to_csv(index=False).splitlines() == [
        "model,threshold,coverage,notes,accuracy",
        "model,0.9,0.3333333333333333,1,1.0",
        "model,0.7,0.6666666666666666,2,0.5",
        "model,0.6,1.0,3,0.6666666666666666",
    ]
    dashboard = json.dumps(qs.requests(TARGET, LABELS)["dashboards"]["model-performance"])
    used = set(re.findall(r'"DataSetIdentifier": "selective", "ColumnName": "(\w+)"', dashboard))
    assert used == {"accuracy", "coverage", "model"} and used <= set(columns)
    later = json.dumps(qs.requests(TARGET, LABELS, missing=["selective"])["dashboards"]["model-performance"])
    assert '"selective"' not in later


def test_the_learning_curve_dataset_reads_the_table_evaluation_writes(tmp_path):
    """``training-history.csv``: the ``train_metrics.json`` the model archive carries as rows of the
    script's columns, under the stable key the dataset reads; the macro-F1 chart keeps to the
    validation rows; an archive without the file gives the header alone."""
    from evaluate import TRAINING_COLUMNS, TRAINING_CSV, training_table
    from medtx_common import InputError

    key, columns = qs.DATASETS["training"]
    assert key.endswith(f"/eval/{TRAINING_CSV}") and tuple(columns) == TRAINING_COLUMNS
    metrics = {
        "train_history": [
            {"epoch": 0.5, "step": 10, "loss": 3.1, "learning_rate": 1e-4, "grad_norm": 2.0},
            {"epoch": 1.0, "step": 20, "loss": 2.4, "learning_rate": 5e-5},
        ],
        "eval_history": [{"epoch": 1.0, "step": 20, "eval_loss": 2.6, "eval_macro_f1": 0.31}],
    }
    (tmp_path / "train_metrics.json").write_text(json.dumps(metrics))
    table = training_table(tmp_path)
    assert list(table.columns) == list(TRAINING_COLUMNS)
    assert table.to_csv(index=False).splitlines()[1:] == [
        "training,0.5,10,3.1,,0.0001",
        "training,1.0,20,2.4,,5e-05",
        "validation,1.0,20,2.6,0.31,",
    ]
    assert training_table(tmp_path / "older").empty
    (tmp_path / "train_metrics.json").write_text("{")
    with pytest.raises(InputError, match=r"train_metrics\.json is not JSON"):
        training_table(tmp_path)
    dashboard = qs.requests(TARGET, LABELS)["dashboards"]["model-performance"]["Definition"]
    used = set(re.findall(r'"DataSetIdentifier": "training", "ColumnName": "(\w+)"', json.dumps(dashboard)))
    assert used <= set(columns) and {"epoch", "loss", "macro_f1", "series"} <= used
    ((scope,),) = [
        g["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"]
        for g in dashboard["FilterGroups"]
    ]
    assert scope["SheetId"] == "training" and scope["VisualIds"] == ["training-macro-f1"]
    (sheet,) = [s for s in dashboard["Sheets"] if s["SheetId"] == "training"]
    assert {"training-macro-f1", "training-loss"} == {
        next(iter(v.values()))["VisualId"] for v in sheet["Visuals"]
    }


def test_the_reliability_diagram_bins_scores_in_tenths_as_evaluation_does():
    """QuickSight's score bin (a calculated field over ``model-performance.csv``) puts a top score
    where ``calibration_figures`` with its default 10 bins does, a score of 1 in the last bin."""
    import math

    from evaluate import calibration_figures

    assert qs.SCORE_BIN_EXPRESSION == "ifelse({score} >= 1, 0.9, floor({score} * 10) / 10)"

    def quicksight_bin(score: float) -> float:  # the expression, term for term
        return 0.9 if score >= 1 else math.floor(score * 10) / 10

    for score in (0.09, 0.1, 0.35, 0.5, 0.99, 1.0):
        row = np.array([[score, *[(1 - score) / 11] * 11]])  # 12 classes: ``score`` is the top one
        (found,) = calibration_figures(row, np.array([0]), 10)["bins"]
        assert found["low"] == pytest.approx(quicksight_bin(score)), score
    performance = qs.requests(TARGET, LABELS)["dashboards"]["model-performance"]["Definition"]
    (sheet,) = [s for s in performance["Sheets"] if s["SheetId"] == "performance"]
    (chart,) = [
        v["LineChartVisual"]
        for v in sheet["Visuals"]
        if v.get("LineChartVisual", {}).get("VisualId") == "calibration"
    ]
    wells = chart["ChartConfiguration"]["FieldWells"]["LineChartAggregatedFieldWells"]
    assert wells["Category"][0]["NumericalDimensionField"]["Column"]["ColumnName"] == qs.SCORE_BIN
    assert {v["NumericalMeasureField"]["Column"]["ColumnName"] for v in wells["Values"]} == {
        "correct",
        "score",
    }
