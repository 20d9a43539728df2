"""``medtx run --local --data mtsamples.csv --profile quick``: the whole pipeline on the real file.

Skipped when ``../shared/data/mtsamples.csv`` is absent; CI has it. The run trains one epoch of the
profile's three (5 to 9 minutes on 2 cores, where the whole profile takes about 12 against its target
of 15; docs/local-run.md has its figures): what is checked here is what the pipeline writes, not
how well the model learns, and two more epochs would add 7 minutes to every CI run. The per-step times
are printed (``pytest -s`` or the CI log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from helpers import REAL_CSV, ROOT
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_CSV.exists(), reason=f"{REAL_CSV} not present"),
]
BUCKET = "medical-transcription-repo"


def test_quick_profile_on_mtsamples(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("sagemaker")
    store = tmp_path / "store"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "160"}
    command = [sys.executable, "-m", "pipeline.cli"]
    try:
        result = subprocess.run(
            [
                *command,
                "run",
                "--local",
                "--data",
                str(REAL_CSV),
                "--profile",
                "quick",
                "--param",
                "Epochs=1",
                "--store",
                str(store),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        subprocess.run([*command, "endpoint", "stop", "--store", str(store)], cwd=ROOT, env=env, check=False)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr

    (state,) = [
        json.loads(p.read_text()) for p in (store / "_sagemaker" / "executions").glob("*/execution.json")
    ]
    print({name: step["Seconds"] for name, step in state["Steps"].items()})
    run = store / BUCKET / "executions" / state["PipelineExecutionId"]
    report = json.loads((run / "evaluation" / "evaluation.json").read_text())
    assert len(report["labels"]) == 23

    eda = pd.read_csv(
        store / BUCKET / "preprocess" / "pre-processed" / "pre-processed.csv", keep_default_na=False
    )
    assert eda["medical_specialty"].nunique() == 23
    sides = eda.groupby("text")["split"].nunique()
    assert sides.max() == 1, f"{(sides > 1).sum()} texts on both sides of the split"

    rows = pd.read_csv(run / "evaluation" / "model-performance.csv", keep_default_na=False)
    assert len(rows) == report["validation_rows"] == (eda["split"] == "validation").sum()
    assert (rows["correct"] == (rows["target"] == rows["pred"])).all()
    labels = list(range(len(report["labels"])))
    precision, recall, f1, _ = precision_recall_fscore_support(
        rows["target"], rows["pred"], labels=labels, average="macro", zero_division=0
    )
    metrics = report["multiclass_classification_metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(rows["target"], rows["pred"]))
    assert metrics["macro_f1"]["value"] == pytest.approx(f1)
    assert metrics["macro_precision"]["value"] == pytest.approx(precision)
    assert metrics["macro_recall"]["value"] == pytest.approx(recall)
