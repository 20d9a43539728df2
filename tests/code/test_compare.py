"""``pipeline.compare``: two versions' evaluations paired row by row, or refused a pairing, with why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medtx_common import classification_metrics
from pipeline import compare as cmp
from scripts.medtx_config import EvalConfig

LABELS = ["Nephrology", "Radiology", "Urology"]


def _side(pred: list[int], target: list[int], texts: list[str], baseline: float = 0.5):
    """An evaluation as ``scripts/evaluate.py`` writes it: the report and the per-row table."""
    table = pd.DataFrame(
        {
            "row_id": range(len(target)),
            "text": texts,
            "target": target,
            "pred": pred,
            "target_label": [LABELS[t] for t in target],
        }
    )
    figures = classification_metrics(target, pred, len(LABELS))
    report = {
        "multiclass_classification_metrics": {k: {"value": v} for k, v in figures.items()},
        "labels": LABELS,
        "baseline": {"macro_f1": baseline},
        "macro_f1_minus_baseline": figures["macro_f1"] - baseline,
    }
    return report, table


def _rows(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 3, n).tolist()
    texts = [f"note {i // 2}" for i in range(n)]  # two rows per text, as a note under two specialties
    return target, texts


def test_a_paired_comparison_scores_both_versions_on_the_same_draws():
    target, texts = _rows(300)
    rng = np.random.default_rng(1)
    better = [t if rng.random() < 0.9 else (t + 1) % 3 for t in target]
    worse = [t if rng.random() < 0.6 else (t + 2) % 3 for t in target]
    report_a, table_a = _side(better, target, texts)
    report_b, table_b = _side(worse, target, texts)
    shuffled = table_b.sample(frac=1, random_state=3)  # B's file in another row order
    result = cmp.compare(report_a, table_a, report_b, shuffled, EvalConfig(bootstrap_resamples=500))

    assert result["paired"] and result["rows"] == 300 and result["texts"] == 150
    a_f1 = report_a["multiclass_classification_metrics"]["macro_f1"]["value"]
    b_f1 = report_b["multiclass_classification_metrics"]["macro_f1"]["value"]
    assert result["macro_f1_difference"] == pytest.approx(a_f1 - b_f1)
    low, high = result["bootstrap"]["interval"]
    assert 0 < low < a_f1 - b_f1 < high and result["bootstrap"]["share_a_ahead"] == 1.0
    assert cmp.verdict(result, "v2", "v1") == "v2 is ahead of v1 (95% interval of the difference above 0)"
    assert cmp.verdict(
        {**result, "bootstrap": {**result["bootstrap"], "interval": [-0.2, -0.1]}}, "a", "b"
    ) == ("a is behind b (95% interval of the difference below 0)")
    assert cmp.verdict(
        {**result, "bootstrap": {**result["bootstrap"], "interval": [-0.1, 0.1]}}, "a", "b"
    ) == ("no difference between a and b that the 95% interval can tell (it spans 0)")
    right_a, right_b = np.equal(better, target), np.equal(worse, target)
    assert result["disagreements"] == {
        "rows": int(np.not_equal(better, worse).sum()),
        "only_a_right": int((right_a & ~right_b).sum()),
        "only_b_right": int((right_b & ~right_a).sum()),
    }
    differences = [c["difference"] for c in result["classes"]]
    assert [c["label"] for c in result["classes"]] != [] and differences == sorted(differences, reverse=True)
    assert sum(c["support"] for c in result["classes"]) == 300


def test_the_same_predictions_differ_by_nothing():
    target, texts = _rows(60)
    report, table = _side(target[:30] + [0] * 30, target, texts)
    result = cmp.compare(report, table, report, table.copy(), EvalConfig(bootstrap_resamples=200))
    assert result["macro_f1_difference"] == 0 and result["bootstrap"]["interval"] == [0.0, 0.0]
    assert result["disagreements"]["rows"] == 0 and all(c["difference"] == 0 for c in result["classes"])
    said = cmp.verdict(result, "v3", "v2")
    assert said == "v3 and v2 predict the same class on every row: no difference to tell"


def test_each_versions_behavioural_checks_are_in_its_headline():
    target, texts = _rows(20)
    report, table = _side(target, target, texts)
    checked = {**report, "behaviour": {"typos": {"agreement": 0.9}, "gender_swap": {"agreement": None}}}
    result = cmp.compare(checked, table, report, table.copy(), EvalConfig(bootstrap_resamples=50))
    assert result["a"]["label_kept"] == {"typos": 0.9, "gender_swap": None}
    assert result["b"]["label_kept"] == {}  # an evaluation that ran no check
    assert cmp.verdict(result, "a", "b").startswith("a and b predict the same class on every row")


def test_evaluations_on_other_rows_or_classes_are_not_paired():
    target, texts = _rows(40)
    report_a, table_a = _side(target, target, texts, baseline=0.4)
    other_target, other_texts = _rows(40, seed=5)
    report_b, table_b = _side(other_target, other_target, [t + "!" for t in other_texts], baseline=0.3)

    result = cmp.compare(report_a, table_a, report_b, table_b)
    assert result["paired"] is False and "bootstrap" not in result
    assert result["reason"] == (
        "they were evaluated on different validation rows (0 in common of 40 and 40): another CSV or "
        "another split"
    )
    assert result["a"]["minus_baseline"] == pytest.approx(0.6) and result["b"]["baseline_macro_f1"] == 0.3
    assert cmp.verdict(result, "a", "b").startswith("no paired comparison of a and b: they were evaluated")

    relabelled = {**report_a, "labels": [*LABELS, "Surgery"]}
    assert cmp.compare(relabelled, table_a, report_a, table_a)["reason"] == (
        "the two versions know different classes (only A: Surgery)"
    )
    reordered = {**report_a, "labels": LABELS[::-1]}
    assert "(the same ones in another order)" in cmp.compare(report_a, table_a, reordered, table_a)["reason"]
    twice = pd.concat([table_a, table_a.iloc[:1]])
    assert "holds one validation row twice" in cmp.compare(report_a, twice, report_a, table_a)["reason"]


def test_a_performance_table_without_its_columns_is_named():
    with pytest.raises(
        cmp.CompareError, match=r"model-performance\.csv lacks the column\(s\) target_label, pred"
    ):
        cmp.read_performance(b"row_id,text,target\n1,a,0\n")
    assert len(cmp.read_performance("row_id,text,target_label,target,pred\n1,a,Urology,2,2\n")) == 1
