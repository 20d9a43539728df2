"""The model card the RegisterModel step puts on each version (``steps/register.py``).

What the model is for and not for, its risk rating and caveats (``PipelineConfig.model_card``); how it
was trained (the base model, the objective, every hyperparameter, the training job, image and data);
how it did on the held-out split (its figures from ``evaluation.json`` beside the TF-IDF baseline's
and the served model's, the quality gate it passed, its calibration, selective prediction and
behavioural checks) and what it is made of
(the package's lineage).
The execution's figures and names are pipeline variables, spliced into the card's JSON text
(``pipeline.model_card.Splice``). Checked on sagemaker 3.27: ``ModelPackageModelCard``'s content is a
``StrPipeVar``, and ``ModelBuilder.register`` writes the ``Join`` into the definition as ``Std:Join``.
Every ``JsonGet`` reads a path ``scripts/evaluate.py`` always writes (the intervals only when
``bootstrap_resamples`` > 0, a check only when it is in ``behaviour_checks``): a missing path would
fail the RegisterModel step.
"""

from __future__ import annotations

import json
from typing import Any

from sagemaker.core.shapes import ModelPackageModelCard
from sagemaker.core.workflow.functions import Join

from pipeline.config import ContainerConfig
from pipeline.model_card import Splice, check
from steps.common import StepContext, training_image
from steps.evaluate import evaluation_json_uri
from steps.preprocess import output_uri
from steps.quality_gate import figure as reported
from steps.train import hyperparameters

#: The figures of ``evaluation.json`` the card shows, by metric group.
MODEL_FIGURES = ("macro_f1", "accuracy", "macro_precision", "macro_recall", "weighted_f1")
BASELINE_FIGURES = ("macro_f1", "accuracy", "weighted_f1")
#: The training loss the card names, by ``TrainConfig.imbalance``.
LOSS_NAMES = {"weights": "Class-weighted cross-entropy", "logit_adjustment": "Logit-adjusted cross-entropy"}
#: ``evaluation.json``'s ``calibration`` figures the card shows: how far a score reads as a probability
#: as served, and the temperature it is served at (``TrainConfig.calibrate``; 1 without).
CALIBRATION_FIGURES = (
    "expected_calibration_error",
    "overconfidence",
    "log_loss",
    "brier_score",
    "temperature",
)


def extra_inputs(container: ContainerConfig) -> str:
    """The inputs a note gets beside its windows, as the card's training sentence names them:
    ``, with the description as one more input`` (``fields_window``), the section headings
    (``headings_window``), both, or nothing."""
    named = []
    if container.train.fields_window:
        named.append("the " + " and ".join(f.replace("_", " ") for f in container.data.text_fields[:-1]))
    if container.train.headings_window:
        named.append("the section headings")
    if not named:
        return ""
    return f", with {' and '.join(named)} as {'one more input' if len(named) == 1 else 'inputs of their own'}"


def parts(value: Any) -> list[Any]:
    """A ``Join`` as the literal parts and variables it renders (the card's own Join holds no other
    Join); any other value as itself."""
    if not isinstance(value, Join):
        return [value]
    joined: list[Any] = []
    for index, item in enumerate(value.values):
        joined += ([value.on] if index else []) + parts(item)
    return joined


def _figure(card: Splice, evaluate: Any, path: str, name: str, interval: str | None) -> dict[str, Any]:
    metric: dict[str, Any] = {
        "name": name,
        "type": "number",
        "value": card.number(reported(evaluate, path)),
    }
    if interval:  # the evaluation's paired bootstrap interval, to four decimals
        metric["notes"] = card.text("bootstrap interval ", reported(evaluate, f"text.{interval}_interval"))
    return metric


def selective_group(card: Splice, evaluate: Any, accuracy: float, confidence: float) -> dict[str, Any]:
    """Selective prediction (``evaluation.json``'s ``selective``): the share of notes the model answers
    at the lowest score threshold whose answered notes reach ``EvalConfig.selective_accuracy``, the
    share at the one that guarantees it, and the area under the risk-coverage curve, the model's and
    the baseline's. The threshold itself is left
    to the report: it is null when no threshold reaches the accuracy, and the card's figures are
    numbers."""
    answered = (
        f"share of notes answered at the lowest score threshold whose answered notes reach {accuracy:.0%} "
        "accuracy (right: one of the note's specialties; the rest go to review; 0: none does); "
        "evaluation.json's selective.held_out gives the accuracy and share of notes answered at a "
        "threshold fitted on other notes, with their intervals"
    )
    guaranteed = (
        f"share of notes answered at the lowest score threshold whose answered notes reach {accuracy:.0%} "
        f"accuracy with {confidence:.0%} confidence (selection with guaranteed risk: an exact binomial "
        "bound over a binary search's tests; 0: none found)"
    )
    aurc = "error rate of the notes answered, averaged over every share answered (lower is better)"
    return {
        "name": "Selective prediction: notes answered at or above a score threshold",
        "metric_data": [
            {"name": name, "type": "number", "value": card.number(reported(evaluate, path)), "notes": notes}
            for name, path, notes in (
                ("answered_at_target_accuracy", "selective.at_accuracy.coverage", answered),
                ("answered_with_guarantee", "selective.guaranteed.coverage", guaranteed),
                ("area_under_risk_coverage", "selective.area_under_risk_coverage", aurc),
                ("baseline_answered_at_target_accuracy", "baseline.selective.at_accuracy.coverage", answered),
                ("baseline_answered_with_guarantee", "baseline.selective.guaranteed.coverage", guaranteed),
                ("baseline_area_under_risk_coverage", "baseline.selective.area_under_risk_coverage", aurc),
            )
        ],
    }


def behaviour_group(card: Splice, evaluate: Any, checks: tuple[str, ...]) -> list[dict[str, Any]]:
    """The behavioural checks evaluation ran (``EvalConfig.behaviour_checks``): per check, how many of
    the notes it rewrote changed their predicted label, and the macro-F1 change, each a number
    (evaluation always writes both; its ``agreement`` is null when a check altered no note). A
    number of the card is shown as a number; spliced into a note's text it read with every digit
    of the float."""
    if not checks:
        return []

    def found(check: str, key: str) -> Any:
        return reported(evaluate, f"behaviour.{check}.{key}")

    return [
        {
            "name": "Behavioural checks",
            "metric_data": [
                metric
                for check in checks
                for metric in (
                    {
                        "name": f"{check}: notes whose label changed",
                        "type": "number",
                        "value": card.number(found(check, "texts_changed")),
                        "notes": card.text("of the ", found(check, "texts_altered"), " notes it rewrote"),
                    },
                    {
                        "name": f"{check}: macro-F1 change",
                        "type": "number",
                        "value": card.number(found(check, "macro_f1_change")),
                        "notes": "macro-F1 on the validation rows with the check's rewrites, minus without",
                    },
                )
            ],
        }
    ]


def content(ctx: StepContext, card: Splice, preprocess: Any, train: Any, evaluate: Any) -> dict[str, Any]:
    cfg, p = ctx.config, ctx.params
    about = cfg.model_card
    intervals = cfg.container.evaluate.bootstrap_resamples > 0
    level = f"{cfg.container.evaluate.confidence_level:.0%}"
    t = cfg.train

    def figure(path: str, name: str, interval: str | None = None) -> dict[str, Any]:
        return _figure(card, evaluate, path, name, interval if intervals else None)

    smoothing = f", label smoothing {t.label_smoothing:g}" if t.label_smoothing else ""
    overview: dict[str, Any] = {
        "model_artifact": [card.text(train.properties.ModelArtifacts.S3ModelArtifacts)]
    }
    if about.creator:
        overview["model_creator"] = about.creator
    return {
        "model_overview": overview,
        "intended_uses": {
            "purpose_of_model": about.purpose,
            "intended_uses": about.intended_uses,
            "factors_affecting_model_efficiency": about.factors,
            "risk_rating": about.risk_rating,
            "explanations_for_risk_rating": about.risk_explanation,
        },
        "training_details": {
            "objective_function": {
                "function": "Minimize",
                "facet": "Loss",
                "condition": f"{LOSS_NAMES[t.imbalance]}{smoothing}"[:63],
            },
            "training_observations": card.text(
                "Fine-tuned from ",
                p.model_name,
                f" ({t.pooling} pooling) for ",
                p.epochs,
                " epoch(s) at learning rate ",
                p.learning_rate,
                ", batch ",
                p.train_batch_size,
                ", ",
                p.max_length,
                f"-token windows (long notes: {t.long_text}{extra_inputs(ctx.config.container)}), on the "
                "training split of ",
                p.input_data_uri,
                " (data version ",
                p.input_data_version,
                "). The classes with fewer than ",
                p.min_class_samples,
                " notes are removed, and the split keeps each note (its transcription) on one side, so "
                "no note is both trained on and evaluated.",
            ),
            "training_job_details": {
                "training_arn": card.text(train.properties.TrainingJobArn),
                "training_datasets": [card.text(output_uri(preprocess, "train"))],
                "training_environment": {"container_image": [training_image(ctx)]},
                "hyper_parameters": [
                    {"name": name, "value": card.text(value)} for name, value in hyperparameters(ctx).items()
                ],
            },
        },
        "evaluation_details": [
            {
                "name": "Held-out validation split",
                "evaluation_job_arn": card.text(evaluate.properties.ProcessingJobArn),
                "datasets": [card.text(output_uri(preprocess, "eval"))],
                "evaluation_observation": card.text(
                    "Batched inference on the ",
                    reported(evaluate, "validation_rows"),
                    " rows of the validation split, in ",
                    reported(evaluate, "scored_with.arithmetic"),
                    " on ",
                    reported(evaluate, "scored_with.device"),
                    " (torch ",
                    reported(evaluate, "scored_with.torch"),
                    ", transformers ",
                    reported(evaluate, "scored_with.transformers"),
                    "; the endpoint logs what it serves with when it loads the model)."
                    " The TF-IDF + logistic regression baseline is fitted on "
                    "the same training split and scored on the same rows; so is the model the endpoint "
                    "served (macro-F1 0 when none was). "
                    + (
                        f"Intervals: {level} percentile bootstrap over distinct texts, paired. "
                        if intervals
                        else ""
                    )
                    + "The quality gate required macro-F1 >= ",
                    p.min_macro_f1,
                    ", a margin over the baseline >= ",
                    p.min_baseline_margin,
                    " and over the served model >= ",
                    p.min_champion_margin,
                    " (-1: not compared)",
                    *(
                        [
                            ", and every behavioural check to keep the label of >= ",
                            p.min_behaviour_agreement,
                            " of the notes it rewrote (0: not compared)",
                        ]
                        if cfg.container.evaluate.behaviour_checks
                        else []
                    ),
                    ".",
                ),
                "metadata": {"evaluation_report": card.text(*parts(evaluation_json_uri(evaluate)))},
                "metric_groups": [
                    {
                        "name": "Model",
                        "metric_data": [
                            figure(f"multiclass_classification_metrics.{name}.value", name, name)
                            for name in MODEL_FIGURES
                        ],
                    },
                    {
                        "name": "TF-IDF baseline",
                        "metric_data": [figure(f"baseline.{name}", name) for name in BASELINE_FIGURES],
                    },
                    {
                        "name": "Margins",
                        "metric_data": [
                            figure(margin, margin, margin)  # its value, name and interval key
                            for margin in ("macro_f1_minus_baseline", "macro_f1_minus_champion")
                        ],
                    },
                    {
                        "name": "Top-k accuracy: the right specialty among the first k listed",
                        "metric_data": [
                            figure(f"top_k_accuracy.top_{k}", f"top_{k}_accuracy")
                            for k in range(1, cfg.container.evaluate.top_k + 1)
                        ],
                    },
                    {
                        "name": "Calibration of the top score",
                        "metric_data": [figure(f"calibration.{name}", name) for name in CALIBRATION_FIGURES],
                    },
                    selective_group(
                        card,
                        evaluate,
                        cfg.container.evaluate.selective_accuracy,
                        cfg.container.evaluate.confidence_level,
                    ),
                    *behaviour_group(card, evaluate, cfg.container.evaluate.behaviour_checks),
                ],
            }
        ],
        "additional_information": {
            "ethical_considerations": about.ethical_considerations
            + (
                " The behavioural checks (evaluation) say how often a note's predicted specialty changes "
                "when only the patient's gendered words are swapped: it should not."
                if "gender_swap" in cfg.container.evaluate.behaviour_checks
                else ""
            ),
            "caveats_and_recommendations": about.caveats,
        },
    }


def build(
    ctx: StepContext, preprocess: Any, train: Any, evaluate: Any, lineage: dict[str, Any]
) -> ModelPackageModelCard:
    """The ``ModelCard`` of ``CreateModelPackage``; ``lineage`` (the package's
    ``CustomerMetadataProperties``) goes into the card's custom details too."""
    card = Splice()
    document = content(ctx, card, preprocess, train, evaluate)
    document["additional_information"]["custom_details"] = {
        name: card.text(*parts(value)) for name, value in lineage.items()
    }
    check(json.dumps(document))  # the config's texts against the schema, before any execution
    return ModelPackageModelCard(
        model_card_content=Join(on="", values=card.values(document)),
        model_card_status=ctx.config.model_card.status,
    )
