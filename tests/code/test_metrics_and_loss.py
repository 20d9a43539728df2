"""Metrics, evaluation tables and the weighted loss, checked against scikit-learn and torch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.metrics import f1_score, precision_score, recall_score

from evaluate import (
    _figures_from_counts,
    bootstrap_figures,
    calibration_figures,
    confusion_table,
    evaluation_report,
    fit_baseline,
    note_outcomes,
    per_class_table,
    performance_table,
    selective_figures,
    selective_table,
    tempered_calibration,
    top_k_accuracy,
)
from medtx_common import InputError, classification_metrics, fit_temperature
from medtx_config import EvalConfig

LABELS = ["A", "B", "C"]


def _validation(targets):
    return pd.DataFrame(
        {
            "row_id": range(len(targets)),
            "text": [f"t{i}" for i in range(len(targets))],
            "target": targets,
            "target_label": [LABELS[t] for t in targets],
        }
    )


def test_classification_metrics_match_sklearn_and_count_absent_classes():
    y_true, y_pred = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    got = classification_metrics(y_true, y_pred, 3)
    labels = [0, 1, 2]
    assert got["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    assert got["macro_precision"] == pytest.approx(
        precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    assert got["macro_recall"] == pytest.approx(
        recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    assert got["accuracy"] == pytest.approx(0.6)
    # class 2 never appears: it counts as zero, so macro-F1 is a third lower than over two classes
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro") * 2 / 3)


def test_performance_table_takes_label_and_score_from_same_probabilities():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]], dtype=np.float32)
    table = performance_table(_validation([0, 1, 1]), probs, LABELS)
    assert table["pred"].tolist() == [0, 2, 1]
    assert table["score"].tolist() == pytest.approx([0.7, 0.6, 0.5])
    assert table["pred_label"].tolist() == ["A", "C", "B"]
    assert table["correct"].tolist() == [1, 0, 1]


def test_evaluation_report_agrees_with_tables():
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 3, size=50)
    probs = rng.dirichlet(np.ones(3), size=50).astype(np.float32)
    table = performance_table(_validation(targets.tolist()), probs, LABELS)
    report = evaluation_report(table, LABELS, {"macro_f1": 0.1})
    metrics = report["multiclass_classification_metrics"]
    expected = classification_metrics(table["target"], table["pred"], 3)
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value)
    assert report["macro_f1_minus_baseline"] == pytest.approx(expected["macro_f1"] - 0.1)
    confusion = confusion_table(table["target"].to_numpy(), table["pred"].to_numpy(), LABELS)
    assert confusion["count"].sum() == 50 and len(confusion) == 9
    assert sum(sum(row.values()) for row in metrics["confusion_matrix"].values()) == 50
    per_class = per_class_table(table["target"].to_numpy(), table["pred"].to_numpy(), LABELS)
    assert per_class["support"].sum() == 50 and per_class["predicted"].sum() == 50
    assert per_class["f1"].mean() == pytest.approx(expected["macro_f1"], abs=1e-5)


def test_figures_from_counts_match_classification_metrics():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 4, size=80), rng.integers(0, 5, size=80)  # class 4 never true
    k = 6  # class 5 never true nor predicted: counts as zero
    true, pred = np.bincount(y_true, minlength=k), np.bincount(y_pred, minlength=k)
    hit = np.bincount(y_true[y_true == y_pred], minlength=k)
    got = _figures_from_counts(true[None], pred[None], hit[None])
    for name, value in classification_metrics(y_true, y_pred, k).items():
        assert got[name][0] == pytest.approx(value)


def test_bootstrap_resamples_whole_texts_and_pairs_the_baseline():
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 3, size=60)
    texts = [f"note {i // 2}" for i in range(60)]  # two rows per text
    cfg = EvalConfig(bootstrap_resamples=300)
    noisy = np.where(rng.random(60) < 0.5, y_true, (y_true + 1) % 3)
    first = bootstrap_figures(y_true, noisy, texts, 3, cfg, baseline_pred=noisy)
    assert first == bootstrap_figures(y_true, noisy, texts, 3, cfg, baseline_pred=noisy)  # fixed seed
    assert first["texts"] == 30 and first["resamples"] == 300
    # the same predictions on every draw: the paired difference is exactly zero
    assert first["interval"]["macro_f1_minus_baseline"] == [0.0, 0.0]
    assert first["share_above_baseline"] == 0.0
    low, high = first["interval"]["macro_f1"]
    point = classification_metrics(y_true, noisy, 3)["macro_f1"]
    assert low < point < high and first["standard_deviation"]["macro_f1"] > 0
    # right on every row against wrong on every row: ahead on every draw
    wrong = (y_true + 1) % 3
    assert bootstrap_figures(y_true, y_true, texts, 3, cfg, baseline_pred=wrong)["share_above_baseline"] == 1
    # two texts, each one class: a draw holds one or both, so rows never part from their text
    split = bootstrap_figures(np.repeat([0, 1], 30), np.repeat([0, 1], 30), ["a"] * 30 + ["b"] * 30, 2, cfg)
    assert split["interval"]["accuracy"] == [1.0, 1.0] and "share_above_baseline" not in split
    assert split["interval"]["macro_f1"][0] == 0.5  # one text drawn twice: one class of the two
    assert bootstrap_figures(y_true, noisy, ["same"] * 60, 3, cfg) is None  # nothing to resample


def test_evaluation_report_takes_bootstrap_spreads():
    targets = [0, 1, 2, 0, 1, 2, 0, 0]
    probs = np.eye(3, dtype=np.float32)[[0, 1, 1, 0, 2, 2, 1, 0]]
    table = performance_table(_validation(targets), probs, LABELS)
    y_true, y_pred = table["target"].to_numpy(), table["pred"].to_numpy()
    spread = bootstrap_figures(y_true, y_pred, table["text"], 3, EvalConfig(bootstrap_resamples=50))
    report = evaluation_report(table, LABELS, None, spread)
    metrics = report["multiclass_classification_metrics"]
    assert metrics["macro_f1"]["standard_deviation"] == spread["standard_deviation"]["macro_f1"] > 0
    assert report["bootstrap"] is spread
    plain = evaluation_report(table, LABELS, None)["multiclass_classification_metrics"]
    assert plain["accuracy"]["standard_deviation"] == "NaN"  # without resamples: SageMaker's placeholder


def test_weighted_cross_entropy_matches_manual_formula():
    torch = pytest.importorskip("torch")
    from train import weighted_cross_entropy

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
    labels = torch.tensor([0, 2, 1])
    weights = torch.tensor([1.0, 3.0, 0.5])
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = -log_probs[torch.arange(3), labels] * weights[labels]
    expected = picked.sum() / weights[labels].sum()
    assert weighted_cross_entropy(logits, labels, weights).item() == pytest.approx(expected.item(), rel=1e-6)
    # upweighting the class of a badly predicted row raises the loss
    heavier = torch.tensor([1.0, 10.0, 0.5])
    assert weighted_cross_entropy(logits, labels, heavier) > weighted_cross_entropy(logits, labels, weights)


def test_weighted_cross_entropy_label_smoothing_and_half_precision_logits():
    torch = pytest.importorskip("torch")
    from train import weighted_cross_entropy

    logits = torch.tensor([[4.0, 0.0], [0.0, 4.0]], dtype=torch.bfloat16)
    labels = torch.tensor([0, 1])
    weights = torch.ones(2)
    plain = weighted_cross_entropy(logits, labels, weights)
    smoothed = weighted_cross_entropy(logits, labels, weights, label_smoothing=0.2)
    assert plain.dtype == torch.float32
    assert smoothed > plain


def test_logit_adjusted_cross_entropy_adds_the_log_class_shares_to_the_logits():
    """Class shares 1/2, 1/4, 1/4 give balanced weights 2/3, 4/3, 4/3 (n / (k * count)); the loss is
    the plain cross-entropy of logits + log(share), every row counted alike. It asks the rare classes
    for a larger margin: at logits that tie, a rare-class row costs more than a common-class one."""
    torch = pytest.importorskip("torch")
    from medtx_config import IMBALANCE_LOSSES, TrainConfig
    from train import IMBALANCE_LOSS, logit_adjusted_cross_entropy

    shares = torch.tensor([0.5, 0.25, 0.25])
    weights = 1 / (3 * shares)
    logits = torch.tensor([[1.0, 0.5, -1.0], [0.2, 0.1, 0.3]], dtype=torch.bfloat16)
    labels = torch.tensor([0, 2])
    expected = torch.nn.functional.cross_entropy(logits.float() + torch.log(shares), labels)
    found = logit_adjusted_cross_entropy(logits, labels, weights)
    assert found.dtype == torch.float32 and found.item() == pytest.approx(expected.item(), rel=1e-6)
    tied = torch.zeros(1, 3)
    common, rare = (logit_adjusted_cross_entropy(tied, torch.tensor([c]), weights) for c in (0, 1))
    assert rare > common
    assert set(IMBALANCE_LOSS) == set(IMBALANCE_LOSSES) and TrainConfig().imbalance == "weights"
    with pytest.raises(ValueError, match="imbalance must be one of weights, logit_adjustment"):
        TrainConfig(imbalance="focal")


def test_resume_skips_a_checkpoint_left_half_written(tmp_path):
    from train import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path) is None
    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-4").mkdir()  # the job stopped while saving it
    (tmp_path / "checkpoint-4" / "model.safetensors").write_text("partial")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert not (tmp_path / "checkpoint-4").exists()


def test_calibration_compares_each_score_bin_with_its_accuracy():
    """Four rows: two scored 0.95 of which one is right, two scored 0.55 both right. Bins of 0.1:
    [0.9, 1] gaps 0.45 over 2 rows, [0.5, 0.6) gaps 0.45 the other way; ECE 0.45, overconfidence 0."""
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.45, 0.55]])
    y_true = np.array([0, 1, 0, 1])
    found = calibration_figures(probs, y_true, 10)
    assert [(b["low"], b["rows"], b["accuracy"]) for b in found["bins"]] == [(0.5, 2, 1.0), (0.9, 2, 0.5)]
    assert found["expected_calibration_error"] == pytest.approx(0.45)
    assert found["overconfidence"] == pytest.approx(0.0)
    assert found["brier_score"] == pytest.approx((2 * 0.05**2 + 2 * 0.95**2 + 4 * 0.45**2) / 4)
    # one bin: the gap of the whole set; a top score of exactly 1 lands in the last bin
    whole = calibration_figures(np.array([[1.0, 0.0], [0.6, 0.4]]), np.array([0, 1]), 1)
    assert whole["bins"] == [{"low": 0.0, "high": 1.0, "rows": 2, "mean_score": 0.8, "accuracy": 0.5}]
    assert whole["expected_calibration_error"] == pytest.approx(0.3)


def test_the_temperature_undoes_a_known_overconfidence():
    """Labels drawn from softmax(z): z itself is calibrated, so given 3 z the fitted temperature is
    about 3, given z / 2 about 0.5; dividing by it lowers the log loss and moves no prediction."""
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 1.5, size=(20_000, 5))
    y = np.array([rng.choice(5, p=p) for p in softmax(z, axis=1)])
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(z / 2, y) == pytest.approx(0.5, rel=0.05)
    t = fit_temperature(3 * z, y)
    nll = [-np.log(softmax(3 * z / s, axis=1)[np.arange(len(y)), y]).mean() for s in (1.0, t)]
    assert nll[1] < nll[0]
    assert (np.argmax(3 * z / t, axis=1) == np.argmax(3 * z, axis=1)).all()
    with pytest.raises(InputError, match="a temperature needs logits and a label for each"):
        fit_temperature(z[:3], y[:2])


def test_calibration_reports_the_scores_as_served_without_their_temperature_and_held_out():
    """Scores served at temperature 2: the figures are theirs; ``without_temperature`` holds what
    softmax(z) itself scores; ``held_out`` scores each half of the texts at the temperature fitted on
    the other half (a text's rows on one side). At temperature 1 there is nothing to undo or hold out."""
    rng = np.random.default_rng(1)
    z = rng.normal(0.0, 3.0, size=(400, 4))
    y = np.array([rng.choice(4, p=p) for p in softmax(z / 3, axis=1)])  # z is three times too sharp
    texts = [f"note {i // 2}" for i in range(400)]  # two rows a text
    served = softmax(z / 2, axis=1).astype(np.float32)
    found = tempered_calibration(served, y, texts, 10, 2.0)
    assert found["temperature"] == 2.0
    assert found["log_loss"] == pytest.approx(calibration_figures(served, y, 10)["log_loss"])
    raw = calibration_figures(softmax(z, axis=1), y, 10)
    for name in ("expected_calibration_error", "overconfidence", "log_loss", "brier_score"):
        assert found["without_temperature"][name] == pytest.approx(raw[name], abs=1e-4)
    # each half's temperature comes near 3 from the other half; the held-out log loss beats the raw one
    held_out = found["held_out"]
    assert held_out["temperatures"] == pytest.approx([3.0, 3.0], rel=0.25)
    assert held_out["log_loss"] < raw["log_loss"] and held_out["overconfidence"] < raw["overconfidence"]
    plain = tempered_calibration(served, y, texts, 10, 1.0)
    assert "without_temperature" not in plain and "held_out" not in plain


def test_training_fits_the_temperature_on_notes_not_windows():
    """Five windows of two validation notes (``doc``): the temperature is fitted on the two notes'
    mean window logits, as the endpoint pools them, each note once with its label."""
    pytest.importorskip("torch")
    from types import SimpleNamespace

    from datasets import Dataset

    from train import calibration

    windows = np.array([[2.0, 0.0], [4.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, 5.0]])
    predicted = SimpleNamespace(predictions=windows, label_ids=np.array([0, 0, 1, 1, 1]))
    found = calibration(predicted, Dataset.from_dict({"doc": [7, 7, 3, 3, 3]}))
    notes, labels = np.array([[0.0, 3.0], [3.0, 0.0]]), np.array([1, 0])  # doc 3, then doc 7
    assert found["notes"] == 2 and found["temperature"] == pytest.approx(fit_temperature(notes, labels))
    # both notes right: sharper scores lose less, so the temperature is below 1
    assert found["temperature"] < 1
    assert found["log_loss_after"] < found["log_loss_before"]


def test_top_k_accuracy_counts_the_right_label_among_the_k_most_probable():
    """Three rows over four classes; the right label ranks first, second and fourth: top-1 1/3,
    top-2 and top-3 2/3; top-4 and beyond list every class, so 1."""
    probs = np.array([[0.7, 0.1, 0.1, 0.1], [0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1]])
    y_true = np.array([0, 1, 3])
    assert top_k_accuracy(probs, y_true, 5) == pytest.approx(
        {"top_1": 1 / 3, "top_2": 2 / 3, "top_3": 2 / 3, "top_4": 1.0, "top_5": 1.0}
    )
    assert list(top_k_accuracy(probs, y_true, 1)) == ["top_1"]


def test_ties_rank_as_argmax_in_the_figures_and_at_the_endpoint(monkeypatch):
    """A tie at the top goes to the lower class id everywhere: the evaluation's prediction (argmax),
    its top-1 accuracy and the endpoint's first answer agree; without ties the top-k accuracies are
    scikit-learn's."""
    from sklearn.metrics import top_k_accuracy_score

    import inference
    from medtx_common import ranked_classes

    tied = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4]], dtype=np.float32)
    assert ranked_classes(tied).tolist() == [[0, 1, 2], [1, 2, 0]]
    assert top_k_accuracy(tied, np.array([0, 1]), 1)["top_1"] == 1.0  # as argmax: [0, 1]
    monkeypatch.setattr(inference, "predict_proba", lambda classifier, texts, batch_size: tied)
    answer = inference.predict_fn({"texts": ["a", "b"], "top_k": 2}, {"labels": ["A", "B", "C"]})
    assert [a["class_id"] for a in answer] == tied.argmax(axis=1).tolist() == [0, 1]
    assert [t["class_id"] for t in answer[1]["top_k"]] == [1, 2]
    rng = np.random.default_rng(0)
    probs, y_true = rng.dirichlet(np.ones(6), size=200), rng.integers(0, 6, size=200)
    for k, value in top_k_accuracy(probs, y_true, 5).items():
        k = int(k.removeprefix("top_"))
        assert value == pytest.approx(top_k_accuracy_score(y_true, probs, k=k, labels=range(6)))


def test_selective_figures_answer_the_notes_scored_at_or_above_a_threshold():
    """Against the definition, threshold by threshold: the notes scored at or above it, their share
    and accuracy; the lowest threshold whose notes reach the target; AURC the mean error rate of the
    answered notes over every cut, notes of equal score answered together."""
    rng = np.random.default_rng(3)
    score = rng.random(400)
    right = rng.random(400) < score  # calibrated: higher scores, righter
    score[1::7] = score[::7][: len(score[1::7])]  # runs of equal scores
    found = selective_figures(score, right, 0.8)
    by_threshold = {t: (float(np.mean(score >= t)), float(right[score >= t].mean())) for t in set(score)}
    lowest = min(t for t, (_, accuracy) in by_threshold.items() if accuracy >= 0.8)
    assert found["at_accuracy"] == pytest.approx(
        {
            "threshold": lowest,
            "coverage": by_threshold[lowest][0],
            "notes": int(np.sum(score >= lowest)),
            "accuracy": by_threshold[lowest][1],
        }
    )
    assert 0.1 < found["at_accuracy"]["coverage"] < 0.9 and found["notes"] == 400  # a cut to find
    aurc = np.mean([1 - by_threshold[t][1] for t in score])  # each note at its own score's cut
    assert found["area_under_risk_coverage"] == pytest.approx(aurc)
    assert found["full_coverage_error"] == pytest.approx(1 - right.mean())
    assert found["area_under_risk_coverage"] < found["full_coverage_error"]  # the score knows something
    curve = found["curve"]
    assert len(curve) == 20 and curve[-1]["coverage"] == 1.0
    assert curve[-1]["accuracy"] == pytest.approx(right.mean())
    for point, share in zip(curve, np.arange(1, 21) / 20, strict=True):
        assert point["coverage"] >= share - 1e-9
        assert (point["coverage"], point["accuracy"]) == pytest.approx(by_threshold[point["threshold"]])
    assert [p["threshold"] for p in curve] == sorted((p["threshold"] for p in curve), reverse=True)


def test_a_note_filed_under_several_specialties_is_one_note_right_on_any_of_them():
    """The validation rows of one text are one note, scored once; it is right when the answer is one
    of its specialties (a row-level count would hold each such note wrong on all but one row)."""
    probs = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    y_true = np.array([1, 0, 1, 1])  # "a" filed under B and A: right on its second row
    score, right = note_outcomes(probs, y_true, ["a", "a", "b", "c"])
    assert score.tolist() == [0.7, 0.6, 0.5] and right.tolist() == [True, False, False]
    found = selective_figures(score, right, 0.9)
    assert found["at_accuracy"] == pytest.approx(
        {"threshold": 0.7, "coverage": 1 / 3, "notes": 1, "accuracy": 1.0}
    )


def test_the_held_out_threshold_answers_each_fold_at_the_threshold_the_other_folds_fit():
    """Against the definition: five folds (scikit-learn's KFold, seed 0), each fold's notes answered
    at the lowest threshold whose notes in the other four folds reach the target, the answered notes
    pooled; the accuracy's interval is Wilson's score interval, computed here from its formula. On
    scores that say less than the in-sample cut suggests, the held-out notes fall short of the
    target the threshold was picked for."""
    from scipy.stats import norm
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(5)
    score = rng.random(300)
    right = rng.random(300) < 0.55 + 0.4 * score  # righter with the score, though never sure
    found = selective_figures(score, right, 0.85, confidence_level=0.9)["held_out"]
    answered = np.zeros(300, dtype=bool)
    thresholds = []
    for fit, held in KFold(5, shuffle=True, random_state=0).split(score):
        reaching = [t for t in set(score[fit]) if right[fit][score[fit] >= t].mean() >= 0.85]
        thresholds.append(min(reaching))
        answered[held] = score[held] >= thresholds[-1]
    n, p = answered.sum(), right[answered].mean()
    z = norm.ppf(0.95)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert found["thresholds"] == pytest.approx(thresholds)
    assert found["accuracy_interval"] == pytest.approx([centre - half, centre + half])
    share = n / 300  # the share answered: each of the 300 notes one trial
    centre = (share + z**2 / 600) / (1 + z**2 / 300)
    half = z / (1 + z**2 / 300) * np.sqrt(share * (1 - share) / 300 + z**2 / (4 * 300**2))
    assert found["coverage_interval"] == pytest.approx([centre - half, centre + half])
    intervals = ("thresholds", "accuracy_interval", "coverage_interval")
    assert {k: v for k, v in found.items() if k not in intervals} == pytest.approx(
        {"folds": 5, "coverage": n / 300, "notes": n, "accuracy": p, "confidence_level": 0.9}
    )
    assert 0 < found["coverage"] < 1 and found["accuracy"] < 0.85  # picked where the sample reached it
    in_sample = selective_figures(score, right, 0.85)["at_accuracy"]
    assert in_sample["accuracy"] >= 0.85 and found["accuracy"] < in_sample["accuracy"]
    three = selective_figures(score, right, 0.85, folds=3)["held_out"]  # EvalConfig.selective_folds
    assert three["folds"] == 3 and len(three["thresholds"]) == 3
    with pytest.raises(ValueError, match="selective_folds must be 2 or more"):
        EvalConfig(selective_folds=1)


def test_the_guaranteed_threshold_is_a_tested_cut_whose_exact_lower_bound_reaches_the_target():
    """Against the definition: a binary search over the cuts between runs of equal scores, at most
    ceil(log2(cuts + 1)) tests, each the one-sided Clopper-Pearson lower bound (the Beta quantile,
    computed here) at confidence 1 - (1 - level) / tests; the threshold returned is the tested cut
    answering the most notes whose bound reaches the target, and no untested one."""
    from scipy.stats import beta

    rng = np.random.default_rng(11)
    score = np.round(rng.random(600), 3)  # runs of equal scores
    right = rng.random(600) < 0.6 + 0.4 * score
    found = selective_figures(score, right, 0.85, confidence_level=0.9)
    guaranteed = found["guaranteed"]
    cuts = np.unique(score)[::-1]  # each cut answers the notes scored at or above it
    tests = int(np.ceil(np.log2(len(cuts) + 1)))

    def bound(threshold: float) -> float:
        answered = right[score >= threshold]
        k, n = int(answered.sum()), len(answered)
        return 0.0 if k == 0 else float(beta.ppf((1 - 0.9) / tests, k, n - k + 1))

    # the search starts where n notes all right could bound the accuracy at the target: 0.85 ** n <= alpha
    enough = np.log((1 - 0.9) / tests) / np.log(0.85)
    first = min(i for i, t in enumerate(cuts) if np.sum(score >= t) >= enough)
    tested, fewest, most, best = [], first, len(cuts) - 1, None
    while fewest <= most:
        cut = (fewest + most) // 2
        tested.append(cut)
        if bound(cuts[cut]) >= 0.85:
            best, fewest = cut, cut + 1
        else:
            most = cut - 1
    assert best is not None and len(tested) <= tests
    threshold = cuts[best]
    assert guaranteed == pytest.approx(
        {
            "threshold": threshold,
            "coverage": float(np.mean(score >= threshold)),
            "notes": int(np.sum(score >= threshold)),
            "accuracy": float(right[score >= threshold].mean()),
            "accuracy_bound": bound(threshold),
            "confidence_level": 0.9,
            "tests": tests,
        }
    )
    # the guarantee's price: fewer notes answered than at the in-sample threshold
    assert 0 < guaranteed["coverage"] < found["at_accuracy"]["coverage"]
    none = selective_figures(score, right, 0.99)["guaranteed"]
    assert none["threshold"] is None and none["coverage"] == 0 and "accuracy_bound" not in none


def test_the_guaranteed_search_starts_where_a_cut_can_reach_the_target():
    """The 56 best-scored notes all right, the 57th wrong, the rest right 80% of the time: only the
    cuts answering 50 to 56 notes bound the accuracy above 90% (nine tests at 95%: all of 50 right
    bound it at 0.0056 ** (1 / 50) = 0.902). A search from the first cut halves down through the
    small ones, whose bound is loose however right they are, and finds none; it starts at 50 notes."""
    rng = np.random.default_rng(4)
    right = np.concatenate([np.ones(56, bool), [False], rng.random(406) < 0.8])
    score = np.linspace(0.99, 0.01, 463)  # distinct: a cut per note
    found = selective_figures(score, right, 0.9)["guaranteed"]
    assert found["tests"] == 9 and found["notes"] == 56 and found["threshold"] == pytest.approx(score[55])
    assert found["accuracy"] == 1 and found["accuracy_bound"] == pytest.approx(((1 - 0.95) / 9) ** (1 / 56))


def test_the_guaranteed_threshold_holds_its_accuracy_on_new_notes_as_often_as_it_says():
    """Validity, by simulation: scores uniform on [0, 1], right with probability 0.5 + 0.5 * score,
    so the notes answered at threshold t are right 0.75 + 0.25 * t of the time, and 85% needs t >=
    0.4. Over 300 draws of 400 validation notes, the guaranteed threshold (95%) falls below 0.4 in
    at most 5% of them; the in-sample threshold, picked where the sample reached 85%, about half
    the time."""
    rng = np.random.default_rng(2)
    short = {"guaranteed": 0, "at_accuracy": 0}
    for _ in range(300):
        score = rng.random(400)
        right = rng.random(400) < 0.5 + 0.5 * score
        found = selective_figures(score, right, 0.85, confidence_level=0.95, folds=2)
        for kind in short:
            threshold = found[kind]["threshold"]
            short[kind] += threshold is not None and threshold < 0.4
    assert short["guaranteed"] <= 0.05 * 300
    assert short["at_accuracy"] > 0.3 * 300


def test_selective_figures_with_no_threshold_reaching_the_target_and_with_one_score():
    """Scores that say nothing: every note is answered at the one threshold, AURC is the error rate;
    a target no cut reaches gives no threshold and coverage 0."""
    flat, right = np.full(4, 1 / 3), np.array([True, False, True, False])
    found = selective_figures(flat, right, 0.9)
    assert found["at_accuracy"] == {"threshold": None, "coverage": 0.0, "notes": 0, "accuracy": None}
    assert found["held_out"] is None  # fewer notes than folds
    held = selective_figures(np.full(10, 0.4), np.arange(10) < 5, 0.9)["held_out"]
    assert held["thresholds"] == [None] * 5 and held["notes"] == 0  # no fold's threshold: none answered
    assert held["accuracy"] is None and held["accuracy_interval"] is None
    assert found["area_under_risk_coverage"] == found["full_coverage_error"] == 0.5
    assert found["curve"] == [
        {"threshold": pytest.approx(1 / 3), "coverage": 1.0, "notes": 4, "accuracy": 0.5}
    ]
    report = {"selective": found, "baseline": {"selective": selective_figures(flat, np.ones(4, bool), 0.9)}}
    table = selective_table(report)
    assert table["model"].tolist() == ["model", "TF-IDF baseline"]
    assert table["accuracy"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="selective_accuracy must lie in"):
        EvalConfig(selective_accuracy=0)


def test_the_baseline_reports_its_top_k_accuracy_over_every_class():
    """A class the training split lacks still has a column (probability 0), so the baseline's top-k
    counts ranks among every class, as the model's do."""
    train = ["heart valve murmur"] * 4 + ["knee joint fracture"] * 4
    test = ["heart murmur", "knee fracture", "skin rash"]
    summary, predictions = fit_baseline(
        train,
        np.array([0] * 4 + [1] * 4),
        test,
        np.array([0, 1, 2]),
        3,
        EvalConfig(baseline_min_df=1, top_k=3),
    )
    assert list(predictions[:2]) == [0, 1]
    # class 2 is never trained on: its probability is 0, so it ranks last for the skin-rash note
    assert summary["top_k_accuracy"] == pytest.approx({"top_1": 2 / 3, "top_2": 2 / 3, "top_3": 1.0})
    assert summary["selective"]["full_coverage_error"] == pytest.approx(1 / 3)
