"""``bench/gpu_run.sh``, the one command a device session runs, end to end in its smoke mode.

A device session has 15 minutes and no second try to spare, and the script is otherwise only run
there. Here it runs as it would there, on data packed by ``bench/pack_device_data.py`` (the gzipped
CSV, the xz-packed fp16 weights), with ``SMOKE=1`` (each benchmark's tiny settings, on CPU, with this
environment's packages), and every figure the device run is meant to bring back must be in ``$OUT``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from helpers import BUNDLED_CSV, ROOT

from bench import quality_sweep

# the windows path (every window of a note trained, predictions pooled per note): it runs all the
# code the first-window configurations run, and more; tests/bench/test_quality_sweep.py parses the rest
QUALITY_ONLY = ("chunks-256-lr2e-4",)


@pytest.mark.slow
def test_gpu_run_script_brings_back_every_figure(tmp_path: Path):
    benchdata, out = tmp_path / "benchdata", tmp_path / "out"
    subprocess.run(
        [sys.executable, "bench/pack_device_data.py", "--data", str(BUNDLED_CSV), "--out", str(benchdata)],
        cwd=ROOT,
        check=True,
    )
    env = {
        **os.environ,
        "SMOKE": "1",
        "PY": sys.executable,
        "BENCHDATA": str(benchdata),
        "OUT": str(out),
        "QUALITY_ONLY": ",".join(QUALITY_ONLY),
        # the device's time limits are sized for an H200; on 2 CPU cores each part takes 1-2 minutes
        "TRAIN_BENCH_S": "600",
        "QUALITY_S": "600",
        "QUALITY_DEADLINE_S": "600",
        "INFERENCE_S": "600",
    }
    done = subprocess.run(
        ["bash", "bench/gpu_run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    log = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, log

    train = json.loads((out / "train-throughput.json").read_text())
    runs = {"reference", "project", "upper_bound", "loader_only", "project_no_grouping", "project_pad_to_8"}
    assert runs <= set(train["results"]), log
    assert all(train["results"][name]["samples_per_second"] > 0 for name in runs)
    assert train["speedup_vs_reference"] > 0 and train["share_of_upper_bound"] > 0
    assert (out / "trainer-profile.txt").stat().st_size > 0

    quality = json.loads((out / "quality.json").read_text())
    assert [row["name"] for row in quality["results"]] == list(QUALITY_ONLY), log
    for row in quality["results"]:
        assert "error" not in row, row
        assert 0.0 <= row["macro_f1"] <= 1.0 and row["epoch_macro_f1"], row
        # the prior correction re-scored the trained model; tau 0 is the product's prediction
        corrected = row["macro_f1_by_prior_correction"]
        assert set(corrected) == {str(tau) for tau in (0.0, 0.1, 0.25, 0.5)}, row
        assert corrected["0.0"]["macro_f1"] == pytest.approx(row["macro_f1"], abs=1e-4), row
        if row["preprocess"].get("long-text") == "chunks":  # the window checks ran on the trained model
            assert row["macro_f1_by_predicted_windows"], row
            pooling = row["macro_f1_by_window_pooling"]
            assert set(pooling) == {"mean_logits", "mean_probs", "max_probs"}, row
            # the product's pooling scores as the evaluation step did
            assert pooling["mean_logits"]["macro_f1"] == pytest.approx(row["macro_f1"], abs=1e-4), row
        # per note: right when the answer is any of the note's specialties, as the kept rows give it
        kept_rows = pd.DataFrame({k: v for k, v in row["validation_predictions"].items() if k != "labels"})
        kept_rows = kept_rows.assign(right=kept_rows["target"] == kept_rows["pred"])
        by_note = kept_rows.groupby("text_sha1")["right"].any()
        selective = row["selective"]
        assert selective["notes"] == len(by_note) and "curve" not in selective, row["name"]
        assert 1 - selective["full_coverage_error"] == pytest.approx(by_note.mean()), row["name"]
        # the validation predictions it keeps score as the evaluation step did (what --compare pairs)
        kept = quality_sweep.compare(row, row)
        assert kept["a"]["macro_f1"] == pytest.approx(row["macro_f1"], abs=1e-4), row["name"]
        assert kept["paired"] and kept["macro_f1_difference"] == 0

    inference = json.loads((out / "inference-throughput.json").read_text())
    assert inference["model"] == "DistilBERT-base shape, random" and inference["smoke"]
    assert inference["evaluation"]["speedup"] > 0, log
    assert [mode["batching"] for mode in inference["endpoint"]] == [False, True]
    for mode in inference["endpoint"]:
        assert mode["requests"] > 0 and mode["status_5xx"] == mode["status_other_non_200"] == 0, mode
    assert (out / "log.txt").stat().st_size > 0
