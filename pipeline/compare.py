"""Two registered versions side by side (``medtx models compare A B``): is the new one better than the
one the endpoint serves, or only different?

Each version's ``evaluation.json`` says how it did against the TF-IDF baseline on its own validation
rows. When both were evaluated on the same rows (one CSV, one split: a retraining after a code or
config change), their predictions pair up row by row, and the difference of their macro-F1 gets the
same paired bootstrap the evaluation gives the baseline (``scripts/evaluate.py``'s
``bootstrap_figures``: distinct texts resampled with all their rows, both versions scored on each
draw), with the classes that gained and lost and the rows where only one of them is right. Versions
evaluated on different rows (another CSV, another split) are not paired: each one's figures and its
own distance to its baseline are shown, and why no paired interval is given.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

import scripts
from scripts.medtx_config import EvalConfig

#: The per-row predictions ``scripts/evaluate.py`` writes beside ``evaluation.json``.
PERFORMANCE_CSV = "model-performance.csv"
#: What identifies a validation row: the same rows in both files, or no pairing.
ROW_KEY = ("row_id", "text", "target_label")
PERFORMANCE_COLUMNS = (*ROW_KEY, "target", "pred")
FIGURES = ("macro_f1", "accuracy", "weighted_f1")


class CompareError(ValueError):
    """An evaluation's files cannot be compared (a ``model-performance.csv`` without its columns)."""


def container_module(name: str, as_name: str) -> ModuleType:
    """``scripts/<name>.py`` as module ``as_name``. The container scripts import one another by plain
    name (``from medtx_common import ...``), as in the container's working directory, so their folder
    goes on the path, last: a package installed under one of their names keeps its own."""
    if as_name in sys.modules:
        return sys.modules[as_name]
    folder = Path(scripts.__file__).parent
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    spec = importlib.util.spec_from_file_location(as_name, folder / f"{name}.py")
    assert spec is not None and spec.loader is not None, as_name
    module = importlib.util.module_from_spec(spec)
    sys.modules[as_name] = module
    spec.loader.exec_module(module)
    return module


def read_performance(body: bytes | str) -> pd.DataFrame:
    """``model-performance.csv`` from its bytes; an error names the columns it lacks."""
    text = body.decode() if isinstance(body, bytes) else body
    table = pd.read_csv(io.StringIO(text), keep_default_na=False)
    missing = [c for c in PERFORMANCE_COLUMNS if c not in table]
    if missing:
        raise CompareError(f"{PERFORMANCE_CSV} lacks the column(s) {', '.join(missing)}")
    return table


def unpaired_reason(
    report_a: dict[str, Any], table_a: pd.DataFrame, report_b: dict[str, Any], table_b: pd.DataFrame
) -> str | None:
    """Why the two evaluations cannot be paired row by row; None when they can."""
    labels_a, labels_b = report_a.get("labels") or [], report_b.get("labels") or []
    if labels_a != labels_b:
        only = [
            f"only {side}: {', '.join(sorted(set(mine) - set(theirs)))}"
            for side, mine, theirs in (("A", labels_a, labels_b), ("B", labels_b, labels_a))
            if set(mine) - set(theirs)
        ]
        return "the two versions know different classes" + (
            f" ({'; '.join(only)})" if only else " (the same ones in another order)"
        )
    rows_a = set(table_a[list(ROW_KEY)].itertuples(index=False, name=None))
    rows_b = set(table_b[list(ROW_KEY)].itertuples(index=False, name=None))
    if len(rows_a) != len(table_a) or len(rows_b) != len(table_b):
        return f"a {PERFORMANCE_CSV} holds one validation row twice"
    if rows_a != rows_b:
        return (
            f"they were evaluated on different validation rows ({len(rows_a & rows_b)} in common of "
            f"{len(rows_a)} and {len(rows_b)}): another CSV or another split"
        )
    return None


def compare(
    report_a: dict[str, Any],
    table_a: pd.DataFrame,
    report_b: dict[str, Any],
    table_b: pd.DataFrame,
    cfg: EvalConfig | None = None,
) -> dict[str, Any]:
    """Version A against version B from their ``evaluation.json`` and ``model-performance.csv``.

    Always: each version's headline figures and its difference to its own baseline. When the rows
    pair up (``paired``): A minus B in macro-F1 with its paired bootstrap interval and the share of
    resamples where A is ahead, the rows where only one is right, and every class's F1 in both.
    """
    cfg = cfg or EvalConfig()
    result: dict[str, Any] = {"a": _headline(report_a), "b": _headline(report_b)}
    reason = unpaired_reason(report_a, table_a, report_b, table_b)
    if reason:
        return {**result, "paired": False, "reason": reason}
    evaluate = container_module("evaluate", "medtx_evaluate")
    b = table_b.set_index("row_id").loc[table_a["row_id"]]  # B's rows in A's order
    y_true = table_a["target"].to_numpy(dtype=int)
    pred_a, pred_b = table_a["pred"].to_numpy(dtype=int), b["pred"].to_numpy(dtype=int)
    labels = report_a["labels"]
    texts = table_a["text"].tolist()
    spread = evaluate.bootstrap_figures(y_true, pred_a, texts, len(labels), cfg, baseline_pred=pred_b)
    right_a, right_b = pred_a == y_true, pred_b == y_true
    result.update(
        paired=True,
        rows=len(table_a),
        texts=len(set(texts)),
        macro_f1_difference=result["a"]["macro_f1"] - result["b"]["macro_f1"],
        disagreements={
            "rows": int((pred_a != pred_b).sum()),
            "only_a_right": int((right_a & ~right_b).sum()),
            "only_b_right": int((right_b & ~right_a).sum()),
        },
        classes=_classes(y_true, pred_a, pred_b, labels),
    )
    if spread is not None:
        result["bootstrap"] = {
            "resamples": spread["resamples"],
            "confidence_level": spread["confidence_level"],
            "interval": spread["interval"]["macro_f1_minus_baseline"],
            "share_a_ahead": spread["share_above_baseline"],
        }
    return result


def verdict(result: dict[str, Any], a: str, b: str) -> str:
    """One sentence: which version is ahead with the interval's confidence, or that none is."""
    spread = result.get("bootstrap")
    if not result.get("paired") or spread is None:
        return f"no paired comparison of {a} and {b}: {result.get('reason', 'too few texts to resample')}"
    if not result["disagreements"]["rows"]:
        return f"{a} and {b} predict the same class on every row: no difference to tell"
    low, high = spread["interval"]
    level = f"{100 * spread['confidence_level']:.0f}%"
    if low > 0:
        return f"{a} is ahead of {b} ({level} interval of the difference above 0)"
    if high < 0:
        return f"{a} is behind {b} ({level} interval of the difference below 0)"
    return f"no difference between {a} and {b} that the {level} interval can tell (it spans 0)"


def _short(part: str, value: str) -> str:
    """A code bundle by its folder (``train-<digest>``), an archive by its training job's folder."""
    if part.endswith("code"):
        return value.rstrip("/").rsplit("/", 1)[-1]
    if part == "archive" and value.endswith("/output/model.tar.gz"):
        return value.removesuffix("/output/model.tar.gz").rsplit("/", 1)[-1]
    return value


def made_of_line(a: dict[str, str | None], b: dict[str, str | None], names: tuple[str, str]) -> str:
    """What two versions share and what differs, from ``registry.made_of`` of each: "made of: the same
    archive (huggingface-...), training code (train-...); evaluation code: evaluate-x in version 2,
    evaluate-y in version 1". Parts neither records are left out."""
    same, other = [], []
    for part in a:
        left, right = a[part], b.get(part)
        if left is None and right is None:
            continue
        if left is not None and left == right:
            same.append(f"{part} ({_short(part, left)})")
            continue
        shown = [_short(part, value) if value else "not recorded" for value in (left, right)]
        other.append(f"{part}: {shown[0]} in {names[0]}, {shown[1]} in {names[1]}")
    said = [f"the same {', '.join(same)}"] if same else []
    return "made of: " + ("; ".join(said + other) or "nothing recorded")


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    metrics = report.get("multiclass_classification_metrics", {})
    found: dict[str, Any] = {name: metrics[name]["value"] for name in FIGURES if name in metrics}
    found["baseline_macro_f1"] = report.get("baseline", {}).get("macro_f1")
    found["minus_baseline"] = report.get("macro_f1_minus_baseline")
    found["top_3_accuracy"] = (report.get("top_k_accuracy") or {}).get("top_3")
    calibration = report.get("calibration") or {}
    found["calibration_error"] = calibration.get("expected_calibration_error")
    # what the scores are divided by (TrainConfig.calibrate); absent from evaluations before it
    found["score_temperature"] = calibration.get("temperature")
    # selective prediction: the share answered at the target accuracy, and the risk-coverage area
    selective = report.get("selective") or {}
    found["answered_at_target"] = (selective.get("at_accuracy") or {}).get("coverage")
    # their accuracy when each fold of the notes is answered at the threshold the others fit
    found["held_out_accuracy"] = (selective.get("held_out") or {}).get("accuracy")
    # the share answered at the threshold that guarantees the target (absent before it)
    found["answered_guaranteed"] = (selective.get("guaranteed") or {}).get("coverage")
    found["selective_target"] = selective.get("accuracy_target")
    found["risk_coverage_area"] = selective.get("area_under_risk_coverage")
    # the behavioural checks: the share of the notes each rewrote that kept their label (None: the
    # check altered no note; absent: the evaluation ran no such check)
    found["label_kept"] = {name: f.get("agreement") for name, f in (report.get("behaviour") or {}).items()}
    return found


def _classes(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, labels: list[str]) -> list[dict]:
    """Every class with support or predictions: its F1 under A and B, largest gain first."""
    from sklearn.metrics import f1_score

    ids = list(range(len(labels)))
    f1_a = f1_score(y_true, pred_a, labels=ids, average=None, zero_division=0)
    f1_b = f1_score(y_true, pred_b, labels=ids, average=None, zero_division=0)
    support = np.bincount(y_true, minlength=len(labels))
    rows = [
        {
            "label": labels[i],
            "support": int(support[i]),
            "f1_a": float(f1_a[i]),
            "f1_b": float(f1_b[i]),
            "difference": float(f1_a[i] - f1_b[i]),
        }
        for i in ids
        if support[i] or (pred_a == i).any() or (pred_b == i).any()
    ]
    return sorted(rows, key=lambda row: (-row["difference"], row["label"]))
