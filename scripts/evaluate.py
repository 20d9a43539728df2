"""Evaluate: batched inference on the held-out rows, metrics, and a linear baseline on the same split.

Runs as the SageMaker evaluation ProcessingStep and as plain Python. Loads the model archive once and
scores every validation row in batches (one forward pass per batch; label and score come from the
same probabilities). Writes to the output dir:

- ``model-performance.csv``: one row per validation row (``row_id, text, target, pred, score,
  target_label, pred_label, correct``), the QuickSight model-performance input;
- ``evaluation.json``: SageMaker model-quality layout (``multiclass_classification_metrics``) for the
  Model Registry and the pipeline's quality gate, plus ``baseline`` (TF-IDF + logistic regression
  fitted on the same train split, scored on the same rows) and ``bootstrap``: each figure's standard
  deviation (also in the SageMaker layout) and confidence interval over resamples of the validation
  texts, and the paired interval of ``macro_f1_minus_baseline``; and ``champion``: the model the
  endpoint serves (``--champion``: a folder holding its ``model.tar.gz`` and ``champion.json``,
  the pipeline's stable champion prefix) scored on the same rows, ``macro_f1_minus_champion`` with
  its paired interval, the rows only one of the two gets right and the rows they predict
  differently. With nothing served, the
  champion is the null model (macro-F1 0), so the gate's champion margin is the macro-F1 itself.
  When the served archive is the one under evaluation (``--model-data`` equals the record's
  ``model_data``: a retraining whose Train step was a cache hit), it is not scored twice: its
  predictions are this model's, ``champion.same_archive`` says so. ``model_data`` and
  ``input_version`` (``--input-version``: the ``InputDataVersion`` the model was trained on) say what
  was evaluated, for the registries' lists; and ``behaviour``: the behavioural checks
  (``medtx_behaviour``: the notes rewritten in ways that must not change their specialty, scored
  again), how many of the notes each altered kept their predicted label, and ``behaviour_agreement``:
  the lowest of those shares and its check, which the quality gate compares with
  ``MinBehaviourAgreement`` (1 when no check altered a note); and ``calibration``: how far the top
  score (the endpoint's ``score``) is from how often it is right, per score bin and overall, at the
  temperature training fitted (``TrainConfig.calibrate``), with the figures without it and held out;
  and ``selective``: what a score threshold buys when the notes scored below it go to a person (the
  lowest threshold whose answered notes reach ``EvalConfig.selective_accuracy`` and the share of notes
  it answers, the same held out (each fold of the notes answered at the threshold the other folds
  fit, the accuracy with its interval), the accuracy/coverage curve; a note is right when the answer
  is one of the specialties it is filed under), the model's and the baseline's; and ``text``: the
  figures the quality gate's failure message and the model card's notes name, to four decimals
  (``figures_text``);
- ``per-class-metrics.csv``, ``confusion-matrix.csv``, ``behaviour-checks.csv`` (one row per
  behavioural check), ``top-k-accuracy.csv`` (the model's top-k accuracy beside the baseline's),
  ``selective-prediction.csv`` (the accuracy/coverage curves) and ``training-history.csv`` (the
  learning curve the archive carries) for the dashboards.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtx_behaviour import invariance, lowest_agreement, perturb
from medtx_common import (
    EVALUATION_JSON,
    INFERENCE_PRECISIONS,
    LOG,
    MODEL_PERFORMANCE_CSV,
    InputError,
    classification_metrics,
    fit_temperature,
    load_classifier,
    predict_proba,
    ranked_classes,
    resolve_file,
    run_cli,
    scoring_stack,
    setup_logging,
    write_json,
)
from medtx_config import (
    BEHAVIOUR_CHECKS,
    CHAMPION_ARCHIVE,
    CHAMPION_RECORD,
    TRAIN_METRICS_FILE,
    EvalConfig,
    InferenceConfig,
)

PER_CLASS_CSV = "per-class-metrics.csv"
CONFUSION_CSV = "confusion-matrix.csv"
#: The model's learning curve as a table (``training_table``), for QuickSight.
TRAINING_CSV = "training-history.csv"
TRAINING_COLUMNS = ("series", "epoch", "step", "loss", "macro_f1", "learning_rate")
#: The behavioural checks as a table, one row per check (``behaviour_table``), for QuickSight.
BEHAVIOUR_CSV = "behaviour-checks.csv"
BEHAVIOUR_COLUMNS = (
    "check",
    "description",
    "texts_altered",
    "texts_changed",
    "agreement",
    "macro_f1",
    "macro_f1_change",
)
#: ``top_k_accuracy`` as a table, one row per list length and model (``top_k_table``), for QuickSight.
TOP_K_CSV = "top-k-accuracy.csv"
TOP_K_COLUMNS = ("k", "model", "accuracy")
#: How ``top_k_table`` and ``selective_table`` name the two models.
TOP_K_MODELS = ("model", "TF-IDF baseline")
#: ``selective``'s accuracy/coverage curve as a table, one row per threshold and model
#: (``selective_table``), for QuickSight.
SELECTIVE_CSV = "selective-prediction.csv"
SELECTIVE_COLUMNS = ("model", "threshold", "coverage", "notes", "accuracy")
#: The curve's points: the thresholds that answer 5%, 10%, ... 100% of the notes.
SELECTIVE_STEPS = 20
#: One row per evaluation (``--history-dir``): the pipeline writes each execution's under its own key
#: of one prefix, which QuickSight reads as one table, the figures over retrainings. Every file under
#: the prefix must keep these columns: a change of columns needs a new prefix (``pipeline.config.
#: EVALUATION_HISTORY_PREFIX``) and ``pipeline.quicksight.DATASETS["quality"]`` changed with it.
SUMMARY_CSV = "evaluation-summary.csv"
SUMMARY_COLUMNS = (
    "evaluated_at",
    "execution_id",
    "model_data",
    "input_version",
    "validation_rows",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "accuracy",
    "weighted_f1",
    "baseline_macro_f1",
    "minus_baseline",
    "minus_baseline_low",
    "minus_baseline_high",
    "champion_served",
    "champion_same_archive",
    "champion_macro_f1",
    "minus_champion",
)


def read_table(path: str | Path, pattern: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read one of preprocess's CSVs; a missing column is a clear error."""
    path = resolve_file(path, pattern)
    try:
        frame = pd.read_csv(path, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable CSV ({exc})") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise InputError(f"{path}: no rows")
    return frame


def unpack_model(path: str | Path, workdir: Path) -> Path:
    """Accept a model folder or SageMaker's ``model.tar.gz`` (or a folder holding only that)."""
    path = Path(path)
    if path.is_dir() and (path / "config.json").exists():
        return path
    archive = resolve_file(path, "model.tar.gz")
    target = workdir / "model"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def champion_predictions(
    folder: str | Path,
    texts: Sequence[str],
    labels: Sequence[str],
    batch_size: int,
    precision: str,
    workdir: Path,
    model_data: str = "",
    own_pred: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The served model's predictions on ``texts`` as ids of ``labels`` (``len(labels)`` for a class
    the model under evaluation does not know), and what it is; None when ``folder`` holds no archive
    (nothing served yet). When the record names ``model_data``, the archive under evaluation, as the
    served one, ``own_pred`` (that model's predictions, in the same arithmetic) are its predictions:
    the same weights are not scored twice."""
    archive = Path(folder) / CHAMPION_ARCHIVE
    if not archive.is_file():
        return None
    record_path = Path(folder) / CHAMPION_RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    about = {k: v for k, v in record.items() if k in ("model_package", "model_data", "recorded_at")}
    served = record.get("model_package") or "the served model"
    if model_data and record.get("model_data") == model_data and own_pred is not None:
        LOG.info(
            "the champion (%s) is the archive under evaluation: its predictions are this model's", served
        )
        return own_pred, {
            **about,
            "same_archive": True,
            "labels_only_champion_has": [],
            "labels_champion_lacks": [],
        }
    classifier = load_classifier(unpack_model(archive, workdir / "champion"), precision=precision)
    LOG.info("scoring the champion (%s) on the same rows", served)
    probs = predict_proba(classifier, list(texts), batch_size)
    index = {label: i for i, label in enumerate(labels)}
    pred = np.array([index.get(classifier["labels"][i], len(labels)) for i in probs.argmax(axis=1)])
    return pred, {
        **about,
        "same_archive": False,
        "labels_only_champion_has": sorted(set(classifier["labels"]) - set(labels)),
        "labels_champion_lacks": sorted(set(labels) - set(classifier["labels"])),
    }


def performance_table(validation: pd.DataFrame, probs: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """The per-row predictions table; ``pred`` and ``score`` come from the same probabilities."""
    pred = probs.argmax(axis=1)
    return pd.DataFrame(
        {
            "row_id": validation["row_id"].to_numpy(),
            "text": validation["text"].to_numpy(),
            "target": validation["target"].astype(int).to_numpy(),
            "pred": pred,
            "score": probs[np.arange(len(pred)), pred].round(6),
            "target_label": validation["target_label"].to_numpy(),
            "pred_label": [labels[i] for i in pred],
            "correct": (validation["target"].astype(int).to_numpy() == pred).astype(int),
        }
    )


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_fscore_support

    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average=None, zero_division=0
    )
    return pd.DataFrame(
        {
            "label_id": ids,
            "label": labels,
            "precision": precision.round(6),
            "recall": recall.round(6),
            "f1": f1.round(6),
            "support": support,
            "predicted": np.bincount(y_pred, minlength=len(labels)),
        }
    )


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Long format (target, predicted, count) for every pair, zeros included: easy to pivot."""
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(labels))))
    rows = [(labels[t], labels[p], int(matrix[t, p])) for t in range(len(labels)) for p in range(len(labels))]
    return pd.DataFrame(rows, columns=["target_label", "pred_label", "count"])


def calibration_figures(probs: np.ndarray, y_true: np.ndarray, bins: int) -> dict[str, Any]:
    """How far the model's scores are from how often it is right. The endpoint answers with the top
    class's probability as its ``score``; ``bins`` splits the rows by that score into equal-width bins
    ([0, 0.1), ... [0.9, 1] for 10), and each non-empty bin gives its rows, mean score and accuracy
    (the reliability diagram). ``expected_calibration_error`` is the row-weighted mean of the gaps
    (Guo et al., 2017, "On Calibration of Modern Neural Networks"); ``overconfidence`` the mean score
    minus the accuracy over all rows (positive: the scores promise more than the model delivers).
    ``log_loss`` (scikit-learn) and ``brier_score`` score the whole distribution. The
    class-weighted loss raises the rare classes' probabilities, so a gap is expected: the figures say
    how far a score can be read as a probability."""
    from sklearn.metrics import log_loss

    probs = probs.astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)  # float32 softmax rounding: rows that sum to 1
    ids = list(range(probs.shape[1]))
    score, right = probs.max(axis=1), probs.argmax(axis=1) == y_true
    which = np.minimum((score * bins).astype(int), bins - 1)
    table = [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "rows": int((which == b).sum()),
            "mean_score": float(score[which == b].mean()),
            "accuracy": float(right[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return {
        "expected_calibration_error": float(
            sum(b["rows"] * abs(b["mean_score"] - b["accuracy"]) for b in table) / len(score)
        ),
        "overconfidence": float(score.mean() - right.mean()),
        "log_loss": float(log_loss(y_true, probs, labels=ids)),
        # Brier's own multi-category score, 0 to 2 for any number of classes (scikit-learn's
        # brier_score_loss switches to the one-class binary form, half of it, when there are two)
        "brier_score": float(np.mean(np.sum((probs - np.eye(len(ids))[y_true]) ** 2, axis=1))),
        "bins": table,
    }


def tempered_calibration(
    probs: np.ndarray, y_true: np.ndarray, texts: Sequence[str], bins: int, temperature: float
) -> dict[str, Any]:
    """``calibration_figures`` of the scores as served (the model's logits divided by its
    ``temperature``) and the temperature. When it is not 1 (training fitted it on these validation
    notes, ``TrainConfig.calibrate``), also the headline figures of the same model's scores without
    it (``softmax(T * log p)`` undoes the division: the logits are ``log p`` up to a constant per
    row), and ``held_out``: the figures when each half of the validation texts is scored at the
    temperature fitted on the other half, which no score's own label helped choose."""
    from scipy.special import softmax

    found = {**calibration_figures(probs, y_true, bins), "temperature": float(temperature)}
    if temperature == 1.0:
        return found
    logits = temperature * np.log(np.maximum(probs.astype(np.float64), np.finfo(np.float64).tiny))
    headline = ("expected_calibration_error", "overconfidence", "log_loss", "brier_score")
    before = calibration_figures(softmax(logits, axis=1), y_true, bins)
    found["without_temperature"] = {k: before[k] for k in headline}
    _, text_ids = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    half = np.random.default_rng(0).integers(0, 2, size=text_ids.max() + 1)[text_ids]
    if len(np.unique(half)) == 2:  # a text's rows stay together, as the split and the bootstrap keep them
        crossed = np.zeros_like(logits)
        fitted = []
        for side in (0, 1):
            fitted.append(fit_temperature(logits[half != side], y_true[half != side]))
            crossed[half == side] = softmax(logits[half == side] / fitted[-1], axis=1)
        held_out = calibration_figures(crossed, y_true, bins)
        found["held_out"] = {**{k: held_out[k] for k in headline}, "temperatures": fitted}
    return found


def top_k_accuracy(probs: np.ndarray, y_true: np.ndarray, top_k: int) -> dict[str, float]:
    """How often the right label is among the ``k`` most probable, for k = 1 to ``top_k``, as
    ``{"top_1": ...}``; a k at or above the number of classes is 1 (the list holds every class).

    Classes are ranked as the endpoint lists them (``ranked_classes``: a tie goes to the lower class
    id, as ``argmax`` predicts), so ``top_1`` is exactly the accuracy. (scikit-learn's
    ``top_k_accuracy_score`` gives the same figures without ties, and breaks a tie the other way.)"""
    rank = (ranked_classes(probs) == np.asarray(y_true)[:, None]).argmax(axis=1)
    return {f"top_{k}": float((rank < k).mean()) for k in range(1, top_k + 1)}


def note_outcomes(
    probs: np.ndarray, y_true: np.ndarray, texts: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct validation text once: its top score and whether the answer is right, that is one
    of the specialties the note is filed under. A note filed under several specialties is a row per
    specialty, all scored alike, and wrong on all but one of them whatever the model answers; the
    endpoint answers it once, and a person routing it takes any of its specialties as right."""
    _, note = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    score = np.zeros(note.max() + 1)
    right = np.zeros(note.max() + 1, dtype=bool)
    np.maximum.at(score, note, probs.max(axis=1).astype(np.float64))
    np.logical_or.at(right, note, probs.argmax(axis=1) == np.asarray(y_true))
    return score, right


def _runs(score: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notes by descending score, and the cuts between runs of equal scores (a threshold answers
    a whole run or none of it): the scores, each cut's last note, the notes each cut answers and
    their accuracy."""
    order = np.argsort(-score, kind="stable")
    score, right = score[order].astype(np.float64), np.asarray(right)[order]
    ends = np.append(np.flatnonzero(np.diff(score) != 0), len(score) - 1)  # each run's last note
    answered = ends + 1
    return score, ends, answered, np.cumsum(right)[ends] / answered


def _lowest_reaching(accurate: np.ndarray, accuracy: float) -> int | None:
    """Of ``_runs``' cuts, the one answering the most notes whose accuracy reaches ``accuracy``
    (the lowest threshold that does); None when none does."""
    reaching = np.flatnonzero(accurate >= accuracy)
    return int(reaching[-1]) if reaching.size else None


#: A selective point (``_point``) where no threshold gets there.
_NO_THRESHOLD: dict[str, Any] = {"threshold": None, "coverage": 0.0, "notes": 0, "accuracy": None}


def _point(runs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], cut: int) -> dict[str, Any]:
    """One of ``_runs``' cuts as a selective point: its threshold, the share and count of notes it
    answers, and their accuracy."""
    sorted_score, ends, answered, accurate = runs
    return {
        "threshold": float(sorted_score[ends[cut]]),
        "coverage": float(answered[cut] / len(sorted_score)),
        "notes": int(answered[cut]),
        "accuracy": float(accurate[cut]),
    }


def lowest_threshold(score: np.ndarray, right: np.ndarray, accuracy: float) -> float | None:
    """The lowest score threshold whose answered notes (scored at or above it) reach ``accuracy``;
    None when even the highest-scored notes fall short."""
    score, ends, _, accurate = _runs(score, right)
    cut = _lowest_reaching(accurate, accuracy)
    return None if cut is None else float(score[ends[cut]])


def held_out_threshold(
    score: np.ndarray, right: np.ndarray, accuracy: float, confidence_level: float, folds: int
) -> dict[str, Any] | None:
    """How the threshold does on notes that did not choose it: the notes in ``folds`` folds
    (``EvalConfig.selective_folds``; scikit-learn's ``KFold``, a fixed seed), each fold answered at
    the threshold ``lowest_threshold`` fits on the other folds, the answered notes pooled. Their
    accuracy (with its Wilson interval at ``confidence_level``: the notes answered are independent
    trials) says whether the accuracy the threshold was chosen for holds on new notes, which the
    in-sample figure cannot, since the threshold was picked where it reached it. A fold whose
    threshold is None answers none of its notes; accuracy and interval are None when no fold answers
    any. The share answered has its Wilson interval too (each note one trial): the review workload
    to plan for. None with fewer notes than folds."""
    from scipy.stats import binomtest
    from sklearn.model_selection import KFold

    if len(score) < folds:
        return None
    right = np.asarray(right, dtype=bool)
    answered = np.zeros(len(score), dtype=bool)
    thresholds: list[float | None] = []
    for fit, held in KFold(folds, shuffle=True, random_state=0).split(score):
        thresholds.append(lowest_threshold(score[fit], right[fit], accuracy))
        if thresholds[-1] is not None:
            answered[held] = score[held] >= thresholds[-1]
    notes, hits = int(answered.sum()), int(right[answered].sum())

    def wilson(successes: int, trials: int) -> list[float]:
        found = binomtest(successes, trials).proportion_ci(confidence_level, method="wilson")
        return [float(found.low), float(found.high)]

    return {
        "folds": folds,
        "thresholds": thresholds,
        "coverage": notes / len(score),
        "coverage_interval": wilson(notes, len(score)),
        "notes": notes,
        "accuracy": hits / notes if notes else None,
        "accuracy_interval": wilson(hits, notes) if notes else None,
        "confidence_level": float(confidence_level),
    }


def guaranteed_threshold(
    runs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], accuracy: float, confidence_level: float
) -> dict[str, Any]:
    """A threshold with a guarantee: selection with guaranteed risk (Geifman and El-Yaniv, 2017,
    "Selective Classification for Deep Neural Networks", Algorithm 1). A binary search over the cuts
    between runs of equal scores (``runs``: ``_runs``' notes and cuts) tests at most ``tests`` of
    them; at each, the one-sided Clopper-Pearson lower bound of the answered notes' accuracy
    (scipy's ``binomtest(..., alternative="greater").proportion_ci(method="exact")``) at confidence
    ``1 - (1 - confidence_level) / tests`` (the union bound over the tests), and the search goes on
    to more notes where the bound reaches ``accuracy`` and to fewer where it does not. The threshold is the
    lowest tested one whose bound reached it: with probability ``confidence_level`` over the draw of
    the validation notes, notes drawn as they were and answered at that threshold are right at least
    ``accuracy`` of the time. Fewer notes answered than ``at_accuracy``'s, the price of the guarantee;
    no threshold and coverage 0 when no tested cut's bound reaches ``accuracy``.

    The search takes the bound to fall as more notes are answered, but over the first few notes it
    rises (n notes all right bound the accuracy at ``alpha ** (1 / n)`` only, ``alpha`` the level's
    complement), and a search through them can step past the cuts that reach ``accuracy``. It starts
    at the first cut answering enough notes for the bound to reach ``accuracy`` at all (``accuracy ** n
    <= alpha``): cuts that cannot pass whatever their notes, so leaving them out spends no test. A
    miss can still happen where the bound is not monotone further on; it answers fewer notes (none),
    never breaks the guarantee, which holds for whichever tested cut is returned."""
    from scipy.stats import binomtest

    _, ends, answered, accurate = runs
    cuts = len(ends)
    # a binary search over ``cuts`` candidates tests at most this many
    tests = max(1, int(np.ceil(np.log2(cuts + 1))))
    level = 1 - (1 - confidence_level) / tests
    hits = np.rint(accurate * answered).astype(int)

    def bound(cut: int) -> float:
        found = binomtest(int(hits[cut]), int(answered[cut]), alternative="greater")
        return float(found.proportion_ci(level, method="exact").low)

    # below this many notes answered, even all of them right bound the accuracy under the target
    enough = np.log(1 - level) / np.log(accuracy) if accuracy < 1 else np.inf
    best: tuple[int, float] | None = None
    fewest, most = int(np.searchsorted(answered, enough)), cuts - 1
    while fewest <= most:
        cut = (fewest + most) // 2
        reached = bound(cut)
        if reached >= accuracy:
            best, fewest = (cut, reached), cut + 1
        else:
            most = cut - 1
    found = _NO_THRESHOLD if best is None else {**_point(runs, best[0]), "accuracy_bound": best[1]}
    return {**found, "confidence_level": float(confidence_level), "tests": tests}


def selective_figures(
    score: np.ndarray,
    right: np.ndarray,
    accuracy: float,
    confidence_level: float = EvalConfig.confidence_level,
    folds: int = EvalConfig.selective_folds,
) -> dict[str, Any]:
    """Selective prediction over notes (``note_outcomes``: each one's top score, the endpoint's
    ``score``, and whether it is right): the notes scored at or above a threshold are answered by the
    model, the rest go to a person. A threshold answers every note scored at or above it, so notes of
    equal score are answered or not together.

    ``at_accuracy``: the lowest threshold whose answered notes reach ``accuracy``, the share of notes
    it answers (``coverage``; the rest is the review workload) and their accuracy; no threshold and
    coverage 0 when even the highest-scored notes fall short. ``held_out`` (``held_out_threshold``):
    the accuracy and coverage of notes answered at a threshold fitted on other notes, with the
    accuracy's interval. ``guaranteed`` (``guaranteed_threshold``): the lowest threshold whose
    answered notes reach ``accuracy`` with probability ``confidence_level``. ``curve``: for the
    thresholds that answer 5%, 10%, ... 100% of the notes (``SELECTIVE_STEPS``), each one's coverage
    and accuracy. ``area_under_risk_coverage`` (AURC;
    Geifman and El-Yaniv, 2017, "Selective Classification for Deep Neural Networks"): the error rate
    of the answered notes averaged over every coverage, lower is better; a score that says nothing
    about being right gives ``full_coverage_error``, the error rate of all notes."""
    runs = _runs(score, right)
    sorted_score, _, answered, accurate = runs
    notes = len(sorted_score)
    # every note at the cut that answers its whole run of equal scores
    aurc = float(np.mean(1 - np.repeat(accurate, np.diff(answered, prepend=0))))
    cut = _lowest_reaching(accurate, accuracy)
    at_accuracy = dict(_NO_THRESHOLD) if cut is None else _point(runs, cut)
    wanted = np.ceil(np.arange(1, SELECTIVE_STEPS + 1) * notes / SELECTIVE_STEPS)
    cuts = sorted(set(np.searchsorted(answered, wanted).tolist()))
    return {
        "accuracy_target": float(accuracy),
        "notes": notes,
        "at_accuracy": at_accuracy,
        "held_out": held_out_threshold(np.asarray(score), right, accuracy, confidence_level, folds),
        "guaranteed": guaranteed_threshold(runs, accuracy, confidence_level),
        "area_under_risk_coverage": aurc,
        "full_coverage_error": float(1 - np.mean(right)),
        "curve": [_point(runs, cut) for cut in cuts],
    }


def by_model(report: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    """``report[key]`` named as the model's, and the baseline's own ``key`` where a baseline was
    fitted, as ``(name, figures)`` in ``TOP_K_MODELS``' order: the rows of the tables for QuickSight."""
    found = [(TOP_K_MODELS[0], report[key])]
    if report.get("baseline"):
        found.append((TOP_K_MODELS[1], report["baseline"][key]))
    return found


def selective_table(report: dict[str, Any]) -> pd.DataFrame:
    """``evaluation.json``'s ``selective`` curves, the model's and (where it was fitted) the
    baseline's, as rows of ``SELECTIVE_COLUMNS``."""
    found = by_model(report, "selective")
    rows = [{"model": name, **point} for name, figures in found for point in figures["curve"]]
    return pd.DataFrame(rows, columns=list(SELECTIVE_COLUMNS))


def top_k_table(report: dict[str, Any]) -> pd.DataFrame:
    """``evaluation.json``'s ``top_k_accuracy``, the model's and (where it was fitted) the baseline's,
    as rows of ``TOP_K_COLUMNS``: k, which model, the share of rows whose label is in its first k."""
    found = by_model(report, "top_k_accuracy")
    rows = [
        {"k": int(key.removeprefix("top_")), "model": name, "accuracy": share}
        for name, figures in found
        for key, share in figures.items()
    ]
    return pd.DataFrame(rows, columns=list(TOP_K_COLUMNS))


def training_table(model_dir: Path) -> pd.DataFrame:
    """The learning curve of the model under evaluation, from the ``train_metrics.json`` its archive
    carries (``train.py``): a ``training`` row per logged training loss (with its learning rate) and
    a ``validation`` row per epoch's evaluation (loss and macro-F1), by epoch and step. An archive
    without the file (trained by an earlier version) gives the header alone."""
    path = model_dir / TRAIN_METRICS_FILE
    if not path.is_file():
        LOG.info("the model archive holds no %s: no learning curve", TRAIN_METRICS_FILE)
        return pd.DataFrame(columns=list(TRAINING_COLUMNS))
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"the model archive's {TRAIN_METRICS_FILE} is not JSON: {err}") from err
    rows = [
        {
            "series": "training",
            "epoch": e.get("epoch"),
            "step": e.get("step"),
            "loss": e.get("loss"),
            "learning_rate": e.get("learning_rate"),
        }
        for e in metrics.get("train_history", [])
    ]
    rows += [
        {
            "series": "validation",
            "epoch": e.get("epoch"),
            "step": e.get("step"),
            "loss": e.get("eval_loss"),
            "macro_f1": e.get("eval_macro_f1"),
        }
        for e in metrics.get("eval_history", [])
    ]
    return pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))


def behaviour_table(behaviour: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``evaluation.json``'s ``behaviour`` as rows of ``BEHAVIOUR_COLUMNS`` (an ``agreement`` that is
    null, a check that altered no note, stays empty; with no check run, the header alone)."""
    rows = [
        {"check": name, **{c: found[c] for c in BEHAVIOUR_COLUMNS[1:]}} for name, found in behaviour.items()
    ]
    return pd.DataFrame(rows, columns=list(BEHAVIOUR_COLUMNS))


def baseline_vectorizer(cfg: EvalConfig) -> Any:
    """The baseline's features: TF-IDF over word n-grams, sublinear term frequency."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, cfg.baseline_ngram_max), min_df=cfg.baseline_min_df, sublinear_tf=True
    )


def fit_baseline(
    train_texts: Sequence[str],
    train_labels: np.ndarray,
    test_texts: Sequence[str],
    test_labels: np.ndarray,
    num_labels: int,
    cfg: EvalConfig,
) -> tuple[dict[str, Any], np.ndarray]:
    """TF-IDF (word n-grams) + balanced logistic regression, scored like the transformer: its figures
    and its predictions on ``test_texts``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        baseline_vectorizer(cfg),
        LogisticRegression(class_weight="balanced", max_iter=cfg.baseline_max_iter),
    )
    model.fit(list(train_texts), train_labels)
    predictions = model.predict(list(test_texts))
    figures = classification_metrics(test_labels, predictions, num_labels)
    probs = np.zeros((len(test_texts), num_labels))
    probs[:, model.classes_] = model.predict_proba(list(test_texts))  # a class absent from training: 0
    summary = {
        "model": f"TfidfVectorizer(ngram_range=(1, {cfg.baseline_ngram_max}), min_df="
        f"{cfg.baseline_min_df}, sublinear_tf=True) + LogisticRegression(class_weight='balanced')",
        "train_rows": len(train_texts),
        **figures,
        "top_k_accuracy": top_k_accuracy(probs, test_labels, cfg.top_k),
        "selective": selective_figures(
            *note_outcomes(probs, test_labels, test_texts),
            cfg.selective_accuracy,
            cfg.confidence_level,
            cfg.selective_folds,
        ),
    }
    return summary, predictions


#: The figures ``bootstrap_figures`` resamples, in ``classification_metrics``' names.
BOOTSTRAP_FIGURES = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")


def _figures_from_counts(true: np.ndarray, pred: np.ndarray, hit: np.ndarray) -> dict[str, np.ndarray]:
    """``classification_metrics`` from per-class counts (last axis: class; leading axes: resamples).

    ``true``/``pred``/``hit``: rows of each class, rows predicted as it, rows of it predicted right.
    A ratio with a zero denominator is 0, as scikit-learn's ``zero_division=0``.
    """

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)

    f1 = ratio(2 * hit, true + pred)
    rows = true.sum(axis=-1)
    return {
        "accuracy": ratio(hit.sum(axis=-1), rows),
        "macro_precision": ratio(hit, pred).mean(axis=-1),
        "macro_recall": ratio(hit, true).mean(axis=-1),
        "macro_f1": f1.mean(axis=-1),
        "weighted_f1": ratio((f1 * true).sum(axis=-1), rows),
    }


def bootstrap_figures(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    texts: Sequence[str],
    num_labels: int,
    cfg: EvalConfig,
    baseline_pred: np.ndarray | None = None,
    champion_pred: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """Standard deviations and confidence intervals of the headline figures (scipy's percentile
    bootstrap, a fixed seed, so the same predictions always give the same intervals).

    The resampled unit is a distinct validation text with all its rows: a note filed under several
    specialties is one row per specialty, and those rows stand or fall together. With the baseline's
    (or the champion's) predictions, each resample scores both models on the same draw, so
    ``macro_f1_minus_baseline``'s (``macro_f1_minus_champion``'s) interval is the paired one (narrower
    than the two intervals side by side suggest). A compared model's prediction of ``num_labels``
    stands for a class the model under evaluation does not know: never right. None when the rows
    hold fewer than two distinct texts (nothing to resample).
    """
    from scipy.stats import bootstrap

    _, group = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    groups = int(group.max()) + 1 if len(group) else 0
    if groups < 2:
        LOG.warning("%d distinct validation text(s): no bootstrap intervals", groups)
        return None

    def per_group(rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
        counts = np.zeros((groups, num_labels + 1))  # the last column: a class this model lacks
        np.add.at(counts, (group[rows], classes[rows]), 1)
        return counts[:, :num_labels]

    every = np.ones(len(y_true), dtype=bool)
    tables = [per_group(every, y_true), per_group(every, y_pred), per_group(y_pred == y_true, y_true)]
    others = {
        name: pred
        for name, pred in (("baseline", baseline_pred), ("champion", champion_pred))
        if pred is not None
    }
    for pred in others.values():
        tables += [per_group(every, pred), per_group(pred == y_true, y_true)]
    stacked = np.stack(tables, axis=1)  # group x table x class

    def statistic(draw: np.ndarray, axis: int = -1) -> np.ndarray:
        draw = np.moveaxis(draw, axis, -1).astype(int)
        lead = draw.shape[:-1]
        flat = draw.reshape(-1, draw.shape[-1])
        times = np.zeros((len(flat), groups))  # how often each group is drawn
        np.add.at(times, (np.arange(len(flat))[:, None], flat), 1)
        sums = np.einsum("rg,gtc->rtc", times, stacked)
        figures = _figures_from_counts(sums[:, 0], sums[:, 1], sums[:, 2])
        values = [figures[name] for name in BOOTSTRAP_FIGURES]
        for i in range(len(others)):
            other = _figures_from_counts(sums[:, 0], sums[:, 3 + 2 * i], sums[:, 4 + 2 * i])
            values.append(figures["macro_f1"] - other["macro_f1"])
        return np.stack(values).reshape(len(values), *lead)

    result = bootstrap(
        (np.arange(groups),),
        statistic,
        n_resamples=cfg.bootstrap_resamples,
        batch=max(1, 2_000_000 // groups),  # resamples per call: bounds the draw-count matrix
        confidence_level=cfg.confidence_level,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    names = [*BOOTSTRAP_FIGURES, *(f"macro_f1_minus_{name}" for name in others)]
    low, high = result.confidence_interval
    summary: dict[str, Any] = {
        "method": "percentile bootstrap over distinct validation texts (all rows of a text together)"
        + "".join(f", the {name} scored on the same draws" for name in others),
        "resamples": cfg.bootstrap_resamples,
        "texts": groups,
        "confidence_level": cfg.confidence_level,
        "standard_deviation": {n: float(v) for n, v in zip(names, result.standard_error, strict=True)},
        "interval": {n: [float(a), float(b)] for n, a, b in zip(names, low, high, strict=True)},
    }
    for i, name in enumerate(others):
        differences = result.bootstrap_distribution[len(BOOTSTRAP_FIGURES) + i]
        summary[f"share_above_{name}"] = float(np.mean(differences > 0))
    return summary


def evaluation_report(
    table: pd.DataFrame,
    labels: Sequence[str],
    baseline: dict[str, Any] | None,
    uncertainty: dict[str, Any] | None = None,
    champion: tuple[np.ndarray, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``evaluation.json``: SageMaker's multiclass model-quality layout plus the baseline, and, with
    ``uncertainty`` (``bootstrap_figures``), each figure's bootstrap standard deviation and interval.
    ``champion`` (``champion_predictions``): the served model's figures on the same rows; without
    one, the null champion (macro-F1 0), so ``macro_f1_minus_champion`` is always there for the gate
    (and its interval, that of the macro-F1)."""
    y_true, y_pred = table["target"].to_numpy(), table["pred"].to_numpy()
    figures = classification_metrics(y_true, y_pred, len(labels))
    confusion = confusion_table(y_true, y_pred, labels)
    matrix: dict[str, dict[str, int]] = {}
    for row in confusion.itertuples(index=False):
        matrix.setdefault(row.target_label, {})[row.pred_label] = row.count
    spread = uncertainty["standard_deviation"] if uncertainty else {}
    metrics: dict[str, Any] = {
        name: {"value": value, "standard_deviation": spread.get(name, "NaN")}
        for name, value in figures.items()
    }
    metrics["confusion_matrix"] = matrix
    report: dict[str, Any] = {
        "multiclass_classification_metrics": metrics,
        "validation_rows": len(table),
        "labels": list(labels),
    }
    if baseline is not None:
        report["baseline"] = baseline
        report["macro_f1_minus_baseline"] = figures["macro_f1"] - baseline["macro_f1"]
    if champion is None:
        report["champion"] = {"served": False, "macro_f1": 0.0}
    else:
        pred, about = champion
        right, champion_right = y_pred == y_true, pred == y_true
        report["champion"] = {
            "served": True,
            **about,
            **classification_metrics(y_true, pred, len(labels)),
            "rows_only_this_model_gets_right": int((right & ~champion_right).sum()),
            "rows_only_the_champion_gets_right": int((champion_right & ~right).sum()),
            "rows_predicted_differently": int((pred != y_pred).sum()),
        }
    report["macro_f1_minus_champion"] = figures["macro_f1"] - report["champion"]["macro_f1"]
    if uncertainty:
        uncertainty["interval"].setdefault("macro_f1_minus_champion", uncertainty["interval"]["macro_f1"])
        report["bootstrap"] = uncertainty
    return report


def figures_text(report: dict[str, Any]) -> dict[str, str]:
    """The figures the quality gate's failure message and the model card's notes name, to four
    decimals (a difference signed): a pipeline's ``Join`` splices a JSON number with every digit
    (0.5889983284226347). ``<name>_interval`` is an interval as "low to high", ``<name>_low`` its
    low end (the margin the gate reads with ``baseline_margin_from=interval_low``)."""

    def said(name: str, value: float) -> str:
        """``value`` to four decimals; signed where ``name`` is a difference (``macro_f1_minus_*``)."""
        return f"{value:+.4f}" if "_minus_" in name else f"{value:.4f}"

    figures = {
        "macro_f1": report["multiclass_classification_metrics"]["macro_f1"]["value"],
        "champion_macro_f1": report["champion"]["macro_f1"],
        "macro_f1_minus_champion": report["macro_f1_minus_champion"],
    }
    if "baseline" in report:
        figures["baseline_macro_f1"] = report["baseline"]["macro_f1"]
        figures["macro_f1_minus_baseline"] = report["macro_f1_minus_baseline"]
    if "behaviour_agreement" in report:
        figures["behaviour_agreement"] = report["behaviour_agreement"]["value"]
    text = {name: said(name, value) for name, value in figures.items()}
    for name, (low, high) in report.get("bootstrap", {}).get("interval", {}).items():
        text[f"{name}_interval"] = f"{said(name, low)} to {said(name, high)}"
        text[f"{name}_low"] = said(name, low)
    return text


def summary_row(report: dict[str, Any], evaluated_at: str, execution_id: str = "") -> dict[str, Any]:
    """``evaluation.json``'s headline as one row of ``SUMMARY_COLUMNS`` (a figure the evaluation did
    not compute, such as an interval without bootstrap resamples, is left empty)."""
    metrics = report["multiclass_classification_metrics"]
    interval = report.get("bootstrap", {}).get("interval", {})
    champion = report["champion"]
    row = {
        "evaluated_at": evaluated_at,
        "execution_id": execution_id,
        "model_data": report.get("model_data") or "",
        "input_version": report.get("input_version") or "",
        "validation_rows": report["validation_rows"],
        "accuracy": metrics["accuracy"]["value"],
        "weighted_f1": metrics["weighted_f1"]["value"],
        "baseline_macro_f1": report.get("baseline", {}).get("macro_f1"),
        "minus_baseline": report.get("macro_f1_minus_baseline"),
        "champion_served": int(champion["served"]),
        "champion_same_archive": int(bool(champion.get("same_archive"))),
        "champion_macro_f1": champion["macro_f1"],
        "minus_champion": report["macro_f1_minus_champion"],
        "macro_f1": metrics["macro_f1"]["value"],
    }
    for name, column in (("macro_f1", "macro_f1"), ("macro_f1_minus_baseline", "minus_baseline")):
        row[f"{column}_low"], row[f"{column}_high"] = interval.get(name) or (None, None)
    return {column: row[column] for column in SUMMARY_COLUMNS}


def behaviour_checks(
    classifier: dict[str, Any],
    validation: pd.DataFrame,
    predicted: np.ndarray,
    labels: Sequence[str],
    cfg: EvalConfig,
) -> dict[str, Any]:
    """Each of ``cfg.behaviour_checks`` (``medtx_behaviour``): the validation texts rewritten, those it
    altered scored again, and how the predictions compare (``invariance``), by check name."""
    texts = validation["text"].tolist()
    y_true = validation["target"].astype(int).to_numpy()
    found = {}
    for name in cfg.behaviour_checks:
        rewritten = perturb(name, texts, cfg.typo_rate)
        altered = [i for i, (t, r) in enumerate(zip(texts, rewritten, strict=True)) if t != r]
        after = predicted.copy()
        if altered:
            rescored = predict_proba(classifier, [rewritten[i] for i in altered], cfg.batch_size)
            after[altered] = rescored.argmax(axis=1)
        found[name] = invariance(name, texts, rewritten, y_true, predicted, after, labels)
        LOG.info(
            "behaviour %s: %d of %d altered texts changed label; macro-F1 %+.4f",
            name,
            found[name]["texts_changed"],
            found[name]["texts_altered"],
            found[name]["macro_f1_change"],
        )
    return found


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    cfg = EvalConfig(
        batch_size=args.batch_size,
        baseline_ngram_max=args.baseline_ngram_max,
        baseline_min_df=args.baseline_min_df,
        baseline_max_iter=args.baseline_max_iter,
        bootstrap_resamples=args.bootstrap_resamples,
        confidence_level=args.confidence_level,
        behaviour_checks=args.behaviour_checks,
        typo_rate=args.typo_rate,
        calibration_bins=args.calibration_bins,
        top_k=args.top_k,
        selective_accuracy=args.selective_accuracy,
        selective_folds=args.selective_folds,
    )
    validation = read_table(args.validation, "validation.csv", ["row_id", "text", "target", "target_label"])
    output_dir = Path(args.output_dir)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = unpack_model(args.model, Path(tmp))
        classifier = load_classifier(model_dir, precision=args.precision)
        training = training_table(model_dir)
        labels = classifier["labels"]
        unknown = sorted(set(validation["target_label"]) - set(labels))
        if unknown:
            raise InputError(f"validation labels not known to the model: {', '.join(unknown)}")
        LOG.info("scoring %d validation rows in batches of %d", len(validation), cfg.batch_size)
        probs = predict_proba(classifier, validation["text"].tolist(), cfg.batch_size)
        stack = scoring_stack(classifier)
        temperature = classifier["temperature"]
        behaviour = behaviour_checks(classifier, validation, probs.argmax(axis=1), labels, cfg)
        del classifier
        champion = (
            champion_predictions(
                args.champion,
                validation["text"].tolist(),
                labels,
                cfg.batch_size,
                args.precision,
                Path(tmp),
                args.model_data,
                probs.argmax(axis=1),
            )
            if args.champion
            else None
        )
    table = performance_table(validation, probs, labels)

    baseline = baseline_pred = None
    if args.train_data:
        train = read_table(args.train_data, "pre-processed.csv", ["text", "label", "split"])
        train = train[train["split"] == "train"]
        baseline, baseline_pred = fit_baseline(
            train["text"].tolist(),
            train["label"].astype(int).to_numpy(),
            validation["text"].tolist(),
            validation["target"].astype(int).to_numpy(),
            len(labels),
            cfg,
        )

    output_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(output_dir / MODEL_PERFORMANCE_CSV, index=False)
    y_true, y_pred = table["target"].to_numpy(), table["pred"].to_numpy()
    per_class_table(y_true, y_pred, labels).to_csv(output_dir / PER_CLASS_CSV, index=False)
    confusion_table(y_true, y_pred, labels).to_csv(output_dir / CONFUSION_CSV, index=False)
    behaviour_table(behaviour).to_csv(output_dir / BEHAVIOUR_CSV, index=False)
    training.to_csv(output_dir / TRAINING_CSV, index=False)
    uncertainty = (
        bootstrap_figures(
            y_true,
            y_pred,
            table["text"].tolist(),
            len(labels),
            cfg,
            baseline_pred,
            champion[0] if champion else None,
        )
        if cfg.bootstrap_resamples
        else None
    )
    report = evaluation_report(table, labels, baseline, uncertainty, champion)
    report["top_k_accuracy"] = top_k_accuracy(probs, y_true, cfg.top_k)
    top_k_table(report).to_csv(output_dir / TOP_K_CSV, index=False)
    outcomes = note_outcomes(probs, y_true, validation["text"].tolist())
    report["selective"] = selective_figures(
        *outcomes, cfg.selective_accuracy, cfg.confidence_level, cfg.selective_folds
    )
    selective_table(report).to_csv(output_dir / SELECTIVE_CSV, index=False)
    report["calibration"] = tempered_calibration(
        probs, y_true, validation["text"].tolist(), cfg.calibration_bins, temperature
    )
    report["behaviour"] = behaviour
    report["behaviour_agreement"] = lowest_agreement(behaviour)
    # what was evaluated: the archive, and the data it was trained on (read back by the registries)
    report.update(model_data=args.model_data or None, input_version=args.input_version or None)
    report["scored_with"] = stack  # device, arithmetic and versions: what the endpoint logs when it loads
    report["text"] = figures_text(report)
    write_json(output_dir / EVALUATION_JSON, report)
    if args.publish_dir:  # the stable keys dashboards read
        Path(args.publish_dir).mkdir(parents=True, exist_ok=True)
        tables = (
            MODEL_PERFORMANCE_CSV,
            PER_CLASS_CSV,
            CONFUSION_CSV,
            BEHAVIOUR_CSV,
            TOP_K_CSV,
            SELECTIVE_CSV,
            TRAINING_CSV,
        )
        for name in (*tables, EVALUATION_JSON):
            shutil.copy2(output_dir / name, Path(args.publish_dir) / name)
    if args.history_dir:  # this evaluation's row of the figures over retrainings
        Path(args.history_dir).mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = summary_row(report, now, args.execution_id)
        pd.DataFrame([row]).to_csv(Path(args.history_dir) / SUMMARY_CSV, index=False)
    headline = report["multiclass_classification_metrics"]
    interval = report.get("bootstrap", {}).get("interval", {})
    level = f"{100 * cfg.confidence_level:.0f}% interval"
    LOG.info(
        "macro-F1 %.4f%s, accuracy %.4f%s%s",
        headline["macro_f1"]["value"],
        " ({} {:.4f}-{:.4f})".format(level, *interval["macro_f1"]) if interval else "",
        headline["accuracy"]["value"],
        f"; baseline macro-F1 {baseline['macro_f1']:.4f}" if baseline else "",
        "; difference {}: {:+.4f} to {:+.4f}".format(level, *interval["macro_f1_minus_baseline"])
        if "macro_f1_minus_baseline" in interval
        else "",
    )
    if report["champion"]["served"]:
        LOG.info(
            "champion macro-F1 %.4f on the same rows; difference %+.4f%s; %d row(s) predicted differently",
            report["champion"]["macro_f1"],
            report["macro_f1_minus_champion"],
            " ({} {:+.4f} to {:+.4f})".format(level, *interval["macro_f1_minus_champion"])
            if interval
            else "",
            report["champion"]["rows_predicted_differently"],
        )
    return report


def _check_names(value: str) -> tuple[str, ...]:
    """``--behaviour-checks``: comma-separated names of ``BEHAVIOUR_CHECKS`` (empty: none)."""
    names = tuple(c.strip() for c in value.split(",") if c.strip())
    unknown = [c for c in names if c not in BEHAVIOUR_CHECKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown check(s) {', '.join(unknown)}; known: {', '.join(BEHAVIOUR_CHECKS)}"
        )
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    cfg = EvalConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="/opt/ml/processing/model", help="model.tar.gz, or a model folder")
    parser.add_argument(
        "--validation", default="/opt/ml/processing/validation", help="validation.csv or its folder"
    )
    parser.add_argument(
        "--train-data",
        default="/opt/ml/processing/pre-processed",
        help="pre-processed.csv (or its folder) for the baseline; empty to skip the baseline",
    )
    parser.add_argument(
        "--champion",
        default="",
        help="folder with the served model's model.tar.gz (and champion.json) to score on the same rows; "
        "empty, or a folder without the archive: nothing served",
    )
    parser.add_argument(
        "--model-data",
        default="",
        help="the archive's S3 URI (the Train step's), recorded; the champion is not scored again when "
        "its record names the same archive",
    )
    parser.add_argument(
        "--input-version", default="", help="the InputDataVersion the model was trained on, recorded"
    )
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    parser.add_argument("--publish-dir", default="", help="also copy the dashboard files here")
    parser.add_argument(
        "--history-dir", default="", help=f"write this evaluation's headline as one row ({SUMMARY_CSV}) here"
    )
    parser.add_argument("--execution-id", default="", help="the pipeline execution, recorded in that row")
    parser.add_argument("--batch-size", type=int, default=cfg.batch_size)
    parser.add_argument(
        "--baseline-ngram-max", type=int, default=cfg.baseline_ngram_max, help="TF-IDF word n-grams up to"
    )
    parser.add_argument("--baseline-min-df", type=int, default=cfg.baseline_min_df, help="TF-IDF min_df")
    parser.add_argument("--baseline-max-iter", type=int, default=cfg.baseline_max_iter)
    parser.add_argument(
        "--bootstrap-resamples",
        type=int,
        default=cfg.bootstrap_resamples,
        help="validation resamples behind the figures' spreads and intervals; 0: none",
    )
    parser.add_argument("--confidence-level", type=float, default=cfg.confidence_level)
    parser.add_argument(
        "--behaviour-checks",
        type=_check_names,
        default=cfg.behaviour_checks,
        help=f"comma-separated, of {', '.join(BEHAVIOUR_CHECKS)}; empty: none",
    )
    parser.add_argument(
        "--typo-rate", type=float, default=cfg.typo_rate, help="the typos check's share of words"
    )
    parser.add_argument(
        "--calibration-bins",
        type=int,
        default=cfg.calibration_bins,
        help="equal-width score bins of the calibration figures",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=cfg.top_k,
        help="top-k accuracies from k=1 to this (the right specialty among the first k)",
    )
    parser.add_argument(
        "--selective-accuracy",
        type=float,
        default=cfg.selective_accuracy,
        help="the accuracy the notes answered at or above a score threshold must reach (selective figures)",
    )
    parser.add_argument(
        "--selective-folds",
        type=int,
        default=cfg.selective_folds,
        help="folds of the notes behind the held-out selective figures (each at the others' threshold)",
    )
    parser.add_argument(
        "--precision",
        default=InferenceConfig.precision,
        choices=INFERENCE_PRECISIONS,
        help="forward-pass arithmetic (as the endpoint: auto = bf16 where native)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    setup_logging()
    return evaluate(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
