"""How close the drift check's accuracy estimate (``capture.estimate_accuracy``) comes to the real
accuracy, on an evaluation's own rows: ``model-performance.csv`` is split by note into a half the
estimate is fitted on (standing for validation) and a half whose scores stand for the traffic, whose
real accuracy is known. Two kinds of traffic:

- the same mix as validation (random halves): what the estimate can do when nothing shifted; and
  the same with one row per note (a specialty drawn at random for a note filed under several), as
  the endpoint's traffic is one prediction per note: a note's rows are not right independently (one
  prediction against several specialties is right on one row at most), so only there is the chance
  in which predictions come right what the estimate's interval assumes;
- a shifted mix: the traffic half re-drawn so that the notes the model was least (or most) sure of
  make up more of it, which moves the real accuracy; the estimate should follow it;
- another mix of specialties: the traffic half re-drawn with a random third of the specialties three
  times as frequent (a shift in the labels, which the estimate assumes away: a score is taken to be
  as often right whatever the specialty).

Beside it, the naive estimate (the traffic's mean top score), and how often the estimate's interval
held the real accuracy. Prints a JSON summary; no timing.

    python bench/accuracy_estimate.py --performance .../evaluation/model-performance.csv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import capture


def halves(table: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows split by note (every row of a note on one side), about half the notes each."""
    notes = table["text"].unique()
    chosen = set(rng.choice(notes, size=len(notes) // 2, replace=False))
    mask = table["text"].isin(chosen).to_numpy()
    return table[mask], table[~mask]


def one_per_note(traffic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row of each note, drawn at random among its specialties."""
    shuffled = traffic.iloc[rng.permutation(len(traffic))]
    return shuffled.drop_duplicates("text")


def tilted(traffic: pd.DataFrame, rng: np.random.Generator, towards: str) -> pd.DataFrame:
    """The traffic re-drawn (with replacement, as many rows) with weights that favour its low-score
    (``towards="unsure"``) or high-score (``"sure"``) rows: a shifted mix of notes."""
    rank = traffic["score"].rank(pct=True).to_numpy()
    return redrawn(traffic, rng, (1 - rank if towards == "unsure" else rank) ** 2 + 1e-9)


def specialties(traffic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The traffic re-drawn (with replacement, as many rows) with a random third of the specialties
    three times as likely as the rest."""
    labels = traffic["target_label"].unique()
    favoured = set(rng.choice(labels, size=max(len(labels) // 3, 1), replace=False))
    return redrawn(traffic, rng, np.where(traffic["target_label"].isin(favoured), 3.0, 1.0))


def redrawn(traffic: pd.DataFrame, rng: np.random.Generator, weights: np.ndarray) -> pd.DataFrame:
    """As many rows as ``traffic``, drawn from it with replacement in proportion to ``weights``."""
    drawn = rng.choice(len(traffic), size=len(traffic), replace=True, p=weights / weights.sum())
    return traffic.iloc[drawn]


def trial(fit_on: pd.DataFrame, traffic: pd.DataFrame, resamples: int) -> dict[str, float]:
    right = float((traffic["pred_label"] == traffic["target_label"]).mean())
    found = capture.estimate_accuracy(traffic["score"].to_numpy(float), fit_on, resamples)
    low, high = found["estimated_accuracy_low"], found["estimated_accuracy_high"]
    return {
        "real": right,
        "estimated": found["estimated_accuracy"],
        "mean_score": float(traffic["score"].mean()),
        "inside": float(low <= right <= high),
        "width": high - low,
    }


def summary(trials: list[dict[str, float]]) -> dict[str, float]:
    frame = pd.DataFrame(trials)
    return {
        "trials": len(frame),
        "real_accuracy_mean": round(frame["real"].mean(), 4),
        "estimate_error_mean": round((frame["estimated"] - frame["real"]).mean(), 4),
        "estimate_error_mean_abs": round((frame["estimated"] - frame["real"]).abs().mean(), 4),
        "mean_score_error_mean": round((frame["mean_score"] - frame["real"]).mean(), 4),
        "mean_score_error_mean_abs": round((frame["mean_score"] - frame["real"]).abs().mean(), 4),
        "interval_coverage": round(frame["inside"].mean(), 4),
        "interval_width_mean": round(frame["width"].mean(), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--performance", type=Path, required=True, help="an evaluation's model-performance.csv"
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resamples",
        type=int,
        default=capture.ESTIMATE_RESAMPLES,
        help="bootstrap resamples per interval (the drift check's by default)",
    )
    cli = parser.parse_args()
    table = pd.read_csv(cli.performance, keep_default_na=False)
    rng = np.random.default_rng(cli.seed)
    results: dict[str, list[dict[str, float]]] = {
        "same mix": [],
        "same mix, one row per note": [],
        "more unsure notes": [],
        "more sure notes": [],
        "another specialty mix": [],
    }
    for _ in range(cli.trials):
        fit_on, traffic = halves(table, rng)
        results["same mix"].append(trial(fit_on, traffic, cli.resamples))
        results["same mix, one row per note"].append(trial(fit_on, one_per_note(traffic, rng), cli.resamples))
        results["more unsure notes"].append(trial(fit_on, tilted(traffic, rng, "unsure"), cli.resamples))
        results["more sure notes"].append(trial(fit_on, tilted(traffic, rng, "sure"), cli.resamples))
        results["another specialty mix"].append(trial(fit_on, specialties(traffic, rng), cli.resamples))
    report = {
        "performance": str(cli.performance),
        "rows": len(table),
        "notes": int(table["text"].nunique()),
        "accuracy": round(float((table["pred_label"] == table["target_label"]).mean()), 4),
        "traffic": {name: summary(trials) for name, trials in results.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
