"""How an evaluation reads on a terminal: the held-out figures with their bootstrap intervals beside
the TF-IDF baseline's, the difference between the two, the top-k accuracies, the calibration,
selective prediction, the behavioural checks, and, from ``per-class-metrics.csv``, every class
weakest first with the most frequent confusions. The local run's summary and ``medtx models show``
print it; the files are what ``scripts/evaluate.py`` writes.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

HEADLINE = ("macro_f1", "accuracy", "macro_precision", "macro_recall", "weighted_f1")
#: The per-class table ``scripts/evaluate.py`` writes beside ``evaluation.json``.
PER_CLASS_CSV = "per-class-metrics.csv"


def print_figures(console: Console, report: dict[str, Any]) -> None:
    """The headline figures (with their intervals where the evaluation computed them) beside the
    baseline's, the model-minus-baseline difference with its paired interval, and, when a model was
    served, the difference to it on the same rows."""
    metrics, baseline = report["multiclass_classification_metrics"], report.get("baseline", {})
    spread = report.get("bootstrap", {})
    interval = spread.get("interval", {})
    level = f"{100 * spread.get('confidence_level', 0.95):.0f}% interval"
    figures = Table(title=f"Held-out evaluation ({report.get('validation_rows', '?')} rows)")
    figures.add_column("figure")
    figures.add_column("transformer", justify="right")
    if interval:
        figures.add_column(level, justify="right")
    figures.add_column("TF-IDF baseline", justify="right")
    for name in HEADLINE:
        if name in metrics:
            cells = [name, f"{metrics[name]['value']:.4f}"]
            if interval:
                cells.append("{:.4f}-{:.4f}".format(*interval[name]) if name in interval else "")
            figures.add_row(*cells, f"{baseline.get(name, float('nan')):.4f}")
    console.print(figures)
    if "macro_f1_minus_baseline" in interval:
        console.print(
            "macro-F1 minus the baseline's: {:+.4f} ({} {:+.4f} to {:+.4f}, over {} resamples of the "
            "{} validation texts; ahead in {:.0%} of them)".format(
                report["macro_f1_minus_baseline"],
                level,
                *interval["macro_f1_minus_baseline"],
                spread["resamples"],
                spread["texts"],
                spread["share_above_baseline"],
            )
        )
    champion = report.get("champion") or {}
    which = champion.get("model_package") or "the model the endpoint serves"
    if champion.get("same_archive"):
        console.print(
            f"the served model ({which}) is this archive (a retraining whose Train step was a cache "
            "hit): the same predictions, nothing between them",
            highlight=False,
        )
    elif champion.get("rows_predicted_differently") == 0:
        console.print(
            f"the served model ({which}) predicts the same class on every one of these rows (a "
            "retraining on the same data and settings reproduces it): nothing between them",
            highlight=False,
        )
    elif champion.get("served"):
        paired = (
            " ({} {:+.4f} to {:+.4f}; ahead in {:.0%} of the resamples)".format(
                level, *interval["macro_f1_minus_champion"], spread["share_above_champion"]
            )
            if "share_above_champion" in spread
            else ""
        )
        console.print(
            f"against the served model ({which}) on the same rows: macro-F1 {champion['macro_f1']:.4f}, "
            f"difference {report['macro_f1_minus_champion']:+.4f}{paired}; only this model right on "
            f"{champion['rows_only_this_model_gets_right']} rows, only the served one on "
            f"{champion['rows_only_the_champion_gets_right']}",
            highlight=False,
        )
    for line in (
        top_k_line(report),
        calibration_line(report),
        selective_line(report),
        behaviour_line(report),
    ):
        if line:
            console.print(line, highlight=False)


def top_k_line(report: dict[str, Any]) -> str:
    """How often the right specialty is among the first k the model lists (``evaluation.json``'s
    ``top_k_accuracy``), with the baseline's beside it, in one line; empty for an evaluation that
    predates it."""
    found = report.get("top_k_accuracy")
    if not found:
        return ""
    theirs = (report.get("baseline") or {}).get("top_k_accuracy") or {}
    return "Right specialty among the first k listed (top-k accuracy): " + ", ".join(
        f"k={name.removeprefix('top_')} {value:.3f}"
        + (f" (baseline {theirs[name]:.3f})" if name in theirs else "")
        for name, value in found.items()
    )


def calibration_line(report: dict[str, Any]) -> str:
    """How far a score can be read as a probability (``evaluation.json``'s ``calibration``), in one
    line; empty for an evaluation that predates it."""
    found = report.get("calibration")
    if not found:
        return ""
    gap = found["overconfidence"]
    leaning = "overconfident" if gap > 0 else "underconfident" if gap < 0 else "even"
    line = (
        f"Calibration: the top score is {found['expected_calibration_error']:.3f} from the accuracy of its "
        f"score bin on average (ECE, {len(found['bins'])} bins with rows); mean score minus accuracy "
        f"{gap:+.3f} ({leaning}); log loss {found['log_loss']:.3f}, Brier {found['brier_score']:.3f}"
    )
    before = found.get("without_temperature")
    if before:
        line += (
            f"; scores at temperature {found['temperature']:.2f}, fitted on the validation notes (without "
            f"it: ECE {before['expected_calibration_error']:.3f}, mean score minus accuracy "
            f"{before['overconfidence']:+.3f}, log loss {before['log_loss']:.3f})"
        )
    held = found.get("held_out")
    if held:
        ece, loss = held["expected_calibration_error"], held["log_loss"]
        line += (
            f"; held out (each half of the notes at the other half's temperature): ECE {ece:.3f}, "
            f"log loss {loss:.3f}"
        )
    return line


def selective_reach(figures: dict[str, Any]) -> str:
    """``selective``'s ``at_accuracy`` in words: the share of notes the threshold answers, and it; and,
    where the evaluation has them, the accuracy and the share answered, each with its interval, when
    each fold of the notes is answered at the threshold the other folds fit (``held_out``), and the
    threshold that guarantees the target at a confidence (``guaranteed``), with its share answered."""
    at = figures["at_accuracy"]
    if at["threshold"] is None:
        reach = "no score threshold gets there"
    else:
        reach = f"{at['coverage']:.0%} of the notes answered at score >= {at['threshold']:.3f}"
    held = figures.get("held_out")
    if held and held["accuracy"] is not None:
        low, high = held["accuracy_interval"]
        fewest, most = held["coverage_interval"]
        reach += (
            f", held out {held['accuracy']:.1%} right [{held['confidence_level']:.0%} interval "
            f"{low:.1%}-{high:.1%}] on {held['coverage']:.0%} [{fewest:.0%}-{most:.0%}]"
        )
        if high < figures["accuracy_target"]:  # new notes answered at the threshold fall short
            reach += ": the target lies above the interval, new notes at this threshold fall short of it"
    elif held:
        reach += ", held out none answered"
    sure = figures.get("guaranteed")
    if sure and sure["threshold"] is not None:
        reach += (
            f"; guaranteed ({sure['confidence_level']:.0%} confidence): {sure['coverage']:.0%} answered at "
            f"score >= {sure['threshold']:.3f}, their accuracy's bound {sure['accuracy_bound']:.1%}"
        )
    elif sure:
        reach += f"; no threshold found that guarantees it at {sure['confidence_level']:.0%} confidence"
    return reach


def selective_line(report: dict[str, Any]) -> str:
    """What a score threshold buys when the notes scored below it go to a person (``evaluation.json``'s
    ``selective``), the baseline's beside it, in one line; empty for an evaluation that predates it."""
    found = report.get("selective")
    if not found:
        return ""
    theirs = (report.get("baseline") or {}).get("selective")
    return (
        f"Selective prediction, to reach {found['accuracy_target']:.0%} accuracy on the notes answered "
        f"(right: one of the note's specialties; the rest to review): {selective_reach(found)}"
        + (f" (baseline: {selective_reach(theirs)})" if theirs else "")
        + f"; area under the risk-coverage curve {found['area_under_risk_coverage']:.3f}"
        + (f" (baseline {theirs['area_under_risk_coverage']:.3f})" if theirs else "")
    )


def behaviour_line(report: dict[str, Any]) -> str:
    """The behavioural checks in one line (``evaluation.json``'s ``behaviour``): per check, the share
    of the notes it rewrote that kept their predicted label, and the macro-F1 change; empty when
    evaluation ran none (or predates them)."""
    parts = [
        f"{name.replace('_', ' ')} {found['agreement']:.1%} of {found['texts_altered']} "
        f"(macro-F1 {found['macro_f1_change']:+.4f})"
        for name, found in (report.get("behaviour") or {}).items()
        if found.get("agreement") is not None
    ]
    if not parts:
        return ""
    return "Predicted label kept when a note is rewritten (behavioural checks): " + "; ".join(parts)


def read_per_class(body: bytes | str) -> pd.DataFrame:
    """``per-class-metrics.csv`` from its bytes; an error names the columns it lacks."""
    text = body.decode() if isinstance(body, bytes) else body
    table = pd.read_csv(io.StringIO(text), keep_default_na=False)
    missing = [c for c in ("label", "precision", "recall", "f1", "support", "predicted") if c not in table]
    if missing:
        raise ValueError(f"{PER_CLASS_CSV} lacks the column(s) {', '.join(missing)}")
    return table


def confusions(report: dict[str, Any], most: int = 5) -> list[tuple[str, str, int]]:
    """The most frequent (true class, predicted class, count) mistakes of the confusion matrix."""
    matrix = report["multiclass_classification_metrics"].get("confusion_matrix", {})
    pairs = [
        (target, predicted, count)
        for target, row in matrix.items()
        for predicted, count in row.items()
        if predicted != target and count > 0
    ]
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))[:most]


def print_classes(console: Console, per_class: pd.DataFrame, report: dict[str, Any]) -> None:
    """Every class, weakest F1 first, then the most frequent confusions."""
    table = Table(title="Per class, weakest F1 first")
    for column in ("label", "f1", "precision", "recall", "support", "predicted"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in per_class.sort_values(["f1", "support"], ascending=[True, False]).itertuples(index=False):
        table.add_row(
            str(row.label),
            f"{row.f1:.3f}",
            f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            str(row.support),
            str(row.predicted),
        )
    console.print(table)
    mistakes = confusions(report)
    if mistakes:
        console.print(
            "Most frequent confusions (true -> predicted): "
            + "; ".join(f"{target} -> {predicted}: {count}" for target, predicted, count in mistakes),
            highlight=False,
        )
