"""The model card the RegisterModel step puts on each version: its Join renders, when the execution's
values are known, to a card that passes the model card schema and holds the evaluation's figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aws_helpers import REGION, ROLE, flatten

from pipeline.config import PipelineConfig
from pipeline.local.expressions import Scope, resolve
from pipeline.model_card import ModelCardError, Splice, check, summary
from scripts.evaluate import (
    bootstrap_figures,
    evaluation_report,
    figures_text,
    note_outcomes,
    selective_figures,
    tempered_calibration,
    top_k_accuracy,
)
from scripts.medtx_behaviour import invariance, lowest_agreement, perturb
from scripts.medtx_config import BEHAVIOUR_CHECKS, EvalConfig

LABELS = ["Cardiology", "Neurology", "Urology"]
TRAIN_ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/huggingface-abc"
EVALUATE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/medtx-evaluate-abc"
ARCHIVE = "s3://bucket/models/huggingface-abc/output/model.tar.gz"


def _report(bootstrap: bool) -> dict:
    """An ``evaluation.json`` as ``scripts/evaluate.py`` writes it: the paths the card reads."""
    import pandas as pd

    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 3, size=60)
    y_pred = np.where(rng.random(60) < 0.7, y_true, (y_true + 1) % 3)
    texts = [f"note {i // 2}" for i in range(60)]
    table = pd.DataFrame({"target": y_true, "pred": y_pred, "text": texts})
    baseline = {
        "macro_f1": 0.41,
        "accuracy": 0.5,
        "weighted_f1": 0.45,
        "selective": selective_figures(
            *note_outcomes(rng.dirichlet(np.ones(3), size=60), y_true, texts), 0.9
        ),
    }
    resamples = EvalConfig(bootstrap_resamples=50)
    spread = (
        bootstrap_figures(y_true, y_pred, texts, 3, resamples, baseline_pred=y_true) if bootstrap else None
    )
    report = evaluation_report(table, LABELS, baseline, spread)
    # the behavioural checks as evaluation writes them: these notes have no gendered word (nothing
    # altered: agreement null), and typos move every third altered note
    after = np.where(np.arange(60) % 6 == 0, (y_pred + 1) % 3, y_pred)
    probs = np.full((60, 3), 0.15)
    probs[np.arange(60), y_pred] = 0.7
    report["calibration"] = tempered_calibration(probs, y_true, texts, 10, 1.5)
    report["top_k_accuracy"] = top_k_accuracy(probs, y_true, EvalConfig().top_k)
    report["selective"] = selective_figures(
        *note_outcomes(probs, y_true, texts), EvalConfig().selective_accuracy
    )
    report["behaviour"] = {
        name: invariance(name, texts, perturb(name, texts, 0.05), y_true, y_pred, after, LABELS)
        for name in BEHAVIOUR_CHECKS
    }
    report["scored_with"] = {
        "device": "cpu",
        "arithmetic": "float32",
        "torch": "2.9.0",
        "transformers": "5.3.0",
    }
    report["behaviour_agreement"] = lowest_agreement(report["behaviour"])
    report["text"] = figures_text(report)
    return report


def _render(definition: dict, report: dict) -> tuple[dict, dict]:
    """The RegisterModel step's card with the execution's values filled in, as the service does."""
    steps = flatten(definition["Steps"])

    def outputs(name: str) -> dict:
        found = steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        return {
            "Outputs": [
                {
                    "OutputName": o["OutputName"],
                    "S3Output": {"S3Uri": f"s3://bucket/{name}/{o['OutputName']}"},
                }
                for o in found
            ]
        }

    scope = Scope(
        parameters={p["Name"]: p["DefaultValue"] for p in definition["Parameters"]},
        execution={"PipelineExecutionId": "exec123"},
        steps={
            "Preprocess": {"ProcessingOutputConfig": outputs("Preprocess")},
            "Train": {"TrainingJobArn": TRAIN_ARN, "ModelArtifacts": {"S3ModelArtifacts": ARCHIVE}},
            "Evaluate": {"ProcessingJobArn": EVALUATE_ARN, "ProcessingOutputConfig": outputs("Evaluate")},
        },
        property_files={"Evaluate": {"EvaluationReport": report}},
    )
    card = resolve(steps["RegisterModel"]["Arguments"]["ModelCard"], scope)
    return card, check(card["ModelCardContent"])


def _metrics(document: dict) -> dict[tuple[str, str], dict]:
    (evaluation,) = document["evaluation_details"]
    return {(g["name"], m["name"]): m for g in evaluation["metric_groups"] for m in g["metric_data"]}


def test_the_card_renders_to_a_valid_card_with_the_runs_figures(built):
    _, definition = built
    report = _report(bootstrap=True)
    card, document = _render(definition, report)
    assert card["ModelCardStatus"] == PipelineConfig().model_card.status == "PendingReview"
    register = flatten(definition["Steps"])["RegisterModel"]["Arguments"]
    assert (register["Domain"], register["Task"]) == ("NATURAL_LANGUAGE_PROCESSING", "CLASSIFICATION")
    metrics = _metrics(document)
    figures = report["multiclass_classification_metrics"]
    for name in ("macro_f1", "accuracy", "macro_precision", "macro_recall", "weighted_f1"):
        metric = metrics[("Model", name)]
        assert metric["value"] == pytest.approx(figures[name]["value"]) and metric["type"] == "number"
        low, high = report["bootstrap"]["interval"][name]
        assert metric["notes"] == f"bootstrap interval {low:.4f} to {high:.4f}"  # not every digit
    assert metrics[("TF-IDF baseline", "macro_f1")]["value"] == 0.41
    assert metrics[("Margins", "macro_f1_minus_baseline")]["value"] == pytest.approx(
        report["macro_f1_minus_baseline"]
    )
    low, high = report["bootstrap"]["interval"]["macro_f1_minus_baseline"]
    assert metrics[("Margins", "macro_f1_minus_baseline")]["notes"] == (
        f"bootstrap interval {low:+.4f} to {high:+.4f}"  # a difference: signed
    )
    assert metrics[("Margins", "macro_f1_minus_champion")]["value"] == pytest.approx(
        figures["macro_f1"]["value"]
    )
    for name, value in report["calibration"].items():
        if name not in ("bins", "without_temperature", "held_out"):
            assert metrics[("Calibration of the top score", name)]["value"] == pytest.approx(value)
    group = "Top-k accuracy: the right specialty among the first k listed"
    assert [name for g, name in metrics if g == group] == [f"top_{k}_accuracy" for k in range(1, 6)]
    for name, value in report["top_k_accuracy"].items():
        assert metrics[(group, f"{name}_accuracy")]["value"] == pytest.approx(value)
    assert metrics[(group, "top_3_accuracy")]["value"] == 1  # three classes: every one listed
    group = "Selective prediction: notes answered at or above a score threshold"
    for side, prefix in ((report["selective"], ""), (report["baseline"]["selective"], "baseline_")):
        answered = metrics[(group, f"{prefix}answered_at_target_accuracy")]
        assert answered["value"] == pytest.approx(side["at_accuracy"]["coverage"])
        assert "reach 90% accuracy" in answered["notes"]
        guaranteed = metrics[(group, f"{prefix}answered_with_guarantee")]
        assert guaranteed["value"] == pytest.approx(side["guaranteed"]["coverage"])
        assert "reach 90% accuracy with 95% confidence" in guaranteed["notes"]
        aurc = metrics[(group, f"{prefix}area_under_risk_coverage")]["value"]
        assert aurc == pytest.approx(side["area_under_risk_coverage"])
    assert report["baseline"]["selective"]["at_accuracy"]["coverage"] == 0  # a null threshold: still a card
    for name, found in report["behaviour"].items():  # counts always, so a null agreement cannot break it
        metric = metrics[("Behavioural checks", f"{name}: notes whose label changed")]
        assert metric["value"] == found["texts_changed"]
        assert metric["notes"] == f"of the {found['texts_altered']} notes it rewrote"
        change = metrics[("Behavioural checks", f"{name}: macro-F1 change")]
        assert change["value"] == pytest.approx(found["macro_f1_change"])
    assert report["behaviour"]["gender_swap"]["agreement"] is None
    (evaluation,) = document["evaluation_details"]
    assert evaluation["evaluation_job_arn"] == EVALUATE_ARN
    assert evaluation["datasets"] == ["s3://bucket/Preprocess/eval"]
    assert evaluation["metadata"]["evaluation_report"] == "s3://bucket/Evaluate/evaluation/evaluation.json"
    assert (
        f"the {report['validation_rows']} rows of the validation split, in float32 on cpu (torch 2.9.0, "
        "transformers 5.3.0; the endpoint logs" in evaluation["evaluation_observation"]
    )
    assert "MinMacroF1" not in evaluation["evaluation_observation"]  # the value, not the name
    assert evaluation["evaluation_observation"].endswith(
        " (-1: not compared), and every behavioural check to keep the label of >= 0.0 of the notes it "
        "rewrote (0: not compared)."
    )
    training = document["training_details"]
    jobs = training["training_job_details"]
    assert jobs["training_arn"] == TRAIN_ARN and jobs["training_datasets"] == ["s3://bucket/Preprocess/train"]
    assert "huggingface-pytorch-training" in jobs["training_environment"]["container_image"][0]
    hyper = {h["name"]: h["value"] for h in jobs["hyper_parameters"]}
    assert all(isinstance(value, str) for value in hyper.values())
    train_args = flatten(definition["Steps"])["Train"]["Arguments"]["HyperParameters"]
    assert set(hyper) == set(train_args) and hyper["model-name"] == PipelineConfig().train.model_name
    assert training["objective_function"] == {
        "function": "Minimize",
        "facet": "Loss",
        "condition": "Class-weighted cross-entropy",
    }
    assert f"Fine-tuned from {PipelineConfig().train.model_name} " in training["training_observations"]
    assert document["model_overview"] == {"model_artifact": [ARCHIVE]}  # no creator configured
    uses = document["intended_uses"]
    assert uses["risk_rating"] == "Medium" and uses["purpose_of_model"] == PipelineConfig().model_card.purpose
    ethics = document["additional_information"]["ethical_considerations"]
    assert ethics.startswith(PipelineConfig().model_card.ethical_considerations)
    assert ethics.endswith("when only the patient's gendered words are swapped: it should not.")
    custom = document["additional_information"]["custom_details"]
    assert (
        custom["PipelineExecutionId"] == "exec123"
        and custom["BaseModel"] == PipelineConfig().train.model_name
    )
    assert summary(card).startswith("model card: PendingReview, risk rating Medium, 1 evaluation(s)")


def test_without_resampling_the_card_reads_no_interval(aws):
    """``bootstrap_resamples=0``: evaluation.json holds no intervals, and a JsonGet on a missing path
    would fail the RegisterModel step."""
    from pipeline import get_pipeline

    config = PipelineConfig().replace(
        evaluate__bootstrap_resamples="0",
        model_card__creator="ML platform team",
        model_card__risk_rating="High",
        train__imbalance="logit_adjustment",
        train__long_text="chunks",
        train__headings_window="true",
        evaluate__top_k="3",
    )
    definition = json.loads(get_pipeline(region=REGION, role=ROLE, config=config).definition())
    content = json.dumps(flatten(definition["Steps"])["RegisterModel"]["Arguments"]["ModelCard"])
    assert "bootstrap" not in content and "behaviour.typos" in content
    _, document = _render(definition, _report(bootstrap=False))
    with_notes = {"Behavioural checks", "Selective prediction: notes answered at or above a score threshold"}
    assert all("bootstrap" not in m.get("notes", "") for m in _metrics(document).values())
    assert all("notes" not in m for (group, _), m in _metrics(document).items() if group not in with_notes)
    assert document["model_overview"]["model_creator"] == "ML platform team"
    assert document["intended_uses"]["risk_rating"] == "High"
    # the loss and encoding the config trains with, and as many top-k figures as the evaluation reports
    assert document["training_details"]["objective_function"]["condition"] == "Logit-adjusted cross-entropy"
    assert "(long notes: chunks, with the section headings as one more input)" in json.dumps(document)
    hyper = flatten(definition["Steps"])["Train"]["Arguments"]["HyperParameters"]
    assert hyper["imbalance"] == "logit_adjustment"
    group = "Top-k accuracy: the right specialty among the first k listed"
    assert [name for g, name in _metrics(document) if g == group] == [
        "top_1_accuracy",
        "top_2_accuracy",
        "top_3_accuracy",
    ]


def test_without_behaviour_checks_the_card_reads_none(aws):
    from pipeline import get_pipeline

    unchecked = PipelineConfig().replace(evaluate__behaviour_checks="")
    definition = json.loads(get_pipeline(region=REGION, role=ROLE, config=unchecked).definition())
    content = json.dumps(flatten(definition["Steps"])["RegisterModel"]["Arguments"]["ModelCard"])
    assert "behaviour" not in content and "gendered words" not in content
    assert "behavioural check to keep" not in content
    report = _report(bootstrap=True)
    del report["behaviour"]  # evaluation ran none: a JsonGet there would fail the step
    _, document = _render(definition, report)
    assert not any(group == "Behavioural checks" for group, _ in _metrics(document))


def test_splice_renders_numbers_bare_and_texts_inside_strings():
    card = Splice()
    number, text = {"Get": "Parameters.n"}, {"Get": "Parameters.t"}
    document = {"value": card.number(number), "text": card.text("at ", text, "!"), "plain": 'a "q"'}
    values = card.values(document)
    assert values == ['{"value":', number, ',"text":"at ', text, '!","plain":"a \\"q\\""}']
    joined = resolve(
        {"Std:Join": {"On": "", "Values": values}}, Scope(parameters={"n": 0.25, "t": "s3://b/k"})
    )
    assert json.loads(joined) == {"value": 0.25, "text": "at s3://b/k!", "plain": 'a "q"'}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"model_package_details": {}}', "holds no model_package_details"),
        ('{"model_overview": {"model_description": "x"}}', "holds no model_overview.model_description"),
        ('{"intended_uses": {"risk_rating": "Severe"}}', "intended_uses.risk_rating"),
        ('{"intended_uses": {"purpose_of_model": "' + "x" * 2049 + '"}}', "purpose_of_model"),
        (
            json.dumps(
                {"evaluation_details": [{"name": "e", "metric_groups": [{"name": "g", "metric_data": [{}]}]}]}
            ),
            "metric_data.0.SimpleMetric.name: Field required",
        ),
        (
            '{"additional_information": {"caveats_and_recommendations": "' + "x" * 100_001 + '"}}',
            "at most 100,000",
        ),
    ],
)
def test_a_bad_card_is_named(content, message):
    with pytest.raises(ModelCardError, match=message):
        check(content)


def test_card_settings_are_checked_when_the_config_is_made():
    with pytest.raises(ValueError, match="risk_rating must be one of High, Medium, Low, Unknown"):
        PipelineConfig().replace(model_card__risk_rating="Severe")
    with pytest.raises(ValueError, match="status must be one of Draft, PendingReview"):
        PipelineConfig().replace(model_card__status="Done")
    with pytest.raises(ValueError, match="unknown model_card setting"):
        PipelineConfig().replace(model_card__colour="red")
    assert PipelineConfig().replace(model_card__status="Draft").model_card.status == "Draft"


def test_a_card_text_over_the_schemas_limit_is_named_when_the_definition_is_built(aws):
    from pipeline import get_pipeline

    config = PipelineConfig().replace(model_card__purpose="x" * 2049)
    with pytest.raises(
        ModelCardError, match=r"intended_uses\.purpose_of_model: String should have at most 2048"
    ):
        get_pipeline(region=REGION, role=ROLE, config=config).definition()


def test_the_dashboard_says_why_an_execution_has_no_card():
    from pipeline.dashboard import card_html

    assert "No version was registered by this execution" in card_html(None)
    shown = card_html(
        {
            "ModelCardStatus": "Draft",
            "ModelCardContent": json.dumps({"intended_uses": {"purpose_of_model": "a < b"}}),
        }
    )
    assert "Status Draft, risk rating not stated" in shown and "<td>a &lt; b</td>" in shown


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({}, ""),
        ({"train__headings_window": "true"}, ", with the section headings as one more input"),
        ({"train__fields_window": "true"}, ", with the description as one more input"),
        (
            {"train__fields_window": "true", "train__headings_window": "true"},
            ", with the description and the section headings as inputs of their own",
        ),
    ],
)
def test_the_card_names_the_inputs_a_note_gets_beside_its_windows(settings, phrase):
    from steps.model_card import extra_inputs

    config = PipelineConfig().replace(
        train__long_text="chunks", data__text_fields="description,transcription", **settings
    )
    assert extra_inputs(config.container) == phrase
