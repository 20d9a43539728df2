"""``bench/accuracy_estimate.py`` on a table whose scores are right as often as they say: the drift
check's estimate and the mean score should then both land near the real accuracy of each kind of
traffic, and the tilted draws should move that accuracy the way they are meant to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_the_estimate_follows_the_real_accuracy_of_a_calibrated_model(tmp_path):
    rng = np.random.default_rng(3)
    notes = 2000
    score = rng.uniform(0.05, 0.95, notes)
    right = rng.uniform(size=notes) < score  # a score of s is right with probability s
    table = pd.DataFrame(
        {
            "text": [f"note {i}" for i in range(notes)],
            "target_label": [f"class {i % 7}" for i in range(notes)],
            "score": score,
        }
    )
    table["pred_label"] = np.where(right, table["target_label"], "another class")
    performance = tmp_path / "model-performance.csv"
    table.to_csv(performance, index=False)
    done = subprocess.run(
        [
            sys.executable,
            "bench/accuracy_estimate.py",
            "--performance",
            str(performance),
            "--trials",
            "20",
            "--resamples",
            "50",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["rows"] == report["notes"] == notes
    traffic = report["traffic"]
    assert set(traffic) == {
        "same mix",
        "same mix, one row per note",
        "more unsure notes",
        "more sure notes",
        "another specialty mix",
    }
    for name, figures in traffic.items():
        assert figures["trials"] == 20
        assert abs(figures["estimate_error_mean"]) < 0.02, name
        assert abs(figures["mean_score_error_mean"]) < 0.02, name  # calibrated: the naive one too
    unsure, same, sure = (
        traffic[k]["real_accuracy_mean"] for k in ("more unsure notes", "same mix", "more sure notes")
    )
    assert unsure < same - 0.1 and sure > same + 0.1
    # where nothing shifted, the interval holds the real accuracy about as often as it says (95%)
    assert traffic["same mix"]["interval_coverage"] >= 0.85
    assert 0 < traffic["same mix"]["interval_width_mean"] < 0.2
