"""The local runner's expression resolver, on hand-written expressions and on the real definition."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_helpers import REGION, ROLE, flatten

from pipeline.local.expressions import (
    ExpressionError,
    Scope,
    conditions_hold,
    resolve,
    split_path,
)
from scripts.evaluate import figures_text

STEP_PROPS: dict[str, Any] = {
    "Preprocess": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/executions/x1/preprocess/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/executions/x1/preprocess/test"}},
                {"OutputName": "eval", "S3Output": {"S3Uri": "s3://b/executions/x1/preprocess/eval"}},
            ]
        }
    },
    "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/models/job/output/model.tar.gz"}},
}


def scope(
    macro_f1: float = 0.5, margin: float = 0.02, champion: float = 0.01, agreement: float = 0.9
) -> Scope:
    report = {
        "multiclass_classification_metrics": {"macro_f1": {"value": macro_f1}},
        "macro_f1_minus_baseline": margin,
        "baseline": {"macro_f1": macro_f1 - margin},
        "macro_f1_minus_champion": champion,
        "champion": {"served": True, "macro_f1": macro_f1 - champion},
        "behaviour_agreement": {"value": agreement, "check": "typos"},
    }
    return Scope(
        parameters={
            "Epochs": "3",
            "MinMacroF1": 0.4,
            "MinBaselineMargin": -1.0,
            "MinChampionMargin": -1.0,
            "MinBehaviourAgreement": 0.0,
            "DeployModel": "false",
        },
        execution={"PipelineExecutionId": "x1", "PipelineName": "p"},
        steps={**STEP_PROPS, "Evaluate": {}},
        property_files={"Evaluate": {"EvaluationReport": {**report, "text": figures_text(report)}}},
    )


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("Outputs['train'].S3Output.S3Uri", ["Outputs", "train", "S3Output", "S3Uri"]),
        ("a.b[2].c", ["a", "b", 2, "c"]),
        ("metrics.macro_f1.value", ["metrics", "macro_f1", "value"]),
    ],
)
def test_split_path(path, parts):
    assert split_path(path) == parts


@pytest.mark.parametrize("bad", ["a..b", "a.b]", "a['x"])
def test_split_path_rejects_malformed(bad):
    with pytest.raises(ExpressionError):
        split_path(bad)


def test_resolve_gets_joins_and_nested_values():
    expression = {
        "S3Uri": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        "Name": {
            "Std:Join": {"On": "-", "Values": ["medtx", {"Get": "Execution.PipelineExecutionId"}, 3, True]}
        },
        "List": [{"Get": "Parameters.Epochs"}, "plain"],
    }
    assert resolve(expression, scope()) == {
        "S3Uri": "s3://b/executions/x1/preprocess/train",
        "Name": "medtx-x1-3-true",
        "List": ["3", "plain"],
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Get": "Parameters.Nope"}, "unknown parameter"),
        ({"Get": "Steps.Later.Foo"}, "has not run"),
        ({"Get": "Steps.Train.ModelArtifacts.Missing"}, "nothing at"),
        ({"Get": "Whatever.X"}, "unsupported reference"),
        ({"Std:Select": {}}, "unsupported function"),
    ],
)
def test_unknown_expressions_are_errors(expression, message):
    with pytest.raises(ExpressionError, match=message):
        resolve(expression, scope())


def test_quality_gate_of_the_real_definition(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    conditions = steps["CheckQuality"]["Arguments"]["Conditions"]
    assert conditions_hold(conditions, scope(macro_f1=0.5))
    assert not conditions_hold(conditions, scope(macro_f1=0.3))
    strict = scope(macro_f1=0.5, margin=-0.04)
    strict.parameters["MinBaselineMargin"] = 0.0
    assert not conditions_hold(conditions, strict)
    message = resolve(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"], scope(macro_f1=0.3))
    assert "macro-F1 0.3000 must be >= MinMacroF1 0.4" in message  # four decimals, not a float's every digit
    # a regression against the served model: off by default, then no more than a point worse
    worse = scope(macro_f1=0.5, champion=-0.03)
    assert conditions_hold(conditions, worse)
    worse.parameters["MinChampionMargin"] = -0.01
    assert not conditions_hold(conditions, worse)
    close = scope(macro_f1=0.5, champion=-0.005)
    close.parameters["MinChampionMargin"] = -0.01
    assert conditions_hold(conditions, close)
    message = resolve(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"], worse)
    assert (
        "exceed the served model's macro-F1 on the same rows 0.5300 by >= MinChampionMargin -0.01" in message
    )
    assert "(margin reached: -0.0300), and" in message
    deploy = steps["CheckDeploy"]["Arguments"]["Conditions"]
    assert not conditions_hold(deploy, scope())


def test_quality_gate_on_the_behavioural_checks(built):
    """``MinBehaviourAgreement``: off (0) by default; set, the lowest share of rewritten notes that
    kept their label must reach it, and the failure names that share and its check."""
    _, definition = built
    steps = flatten(definition["Steps"])
    conditions = steps["CheckQuality"]["Arguments"]["Conditions"]
    fragile = scope(agreement=0.8)
    assert conditions_hold(conditions, fragile)
    fragile.parameters["MinBehaviourAgreement"] = 0.9
    assert not conditions_hold(conditions, fragile)
    steady = scope(agreement=0.95)
    steady.parameters["MinBehaviourAgreement"] = 0.9
    assert conditions_hold(conditions, steady)
    message = resolve(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"], fragile)
    assert (
        "keep at least MinBehaviourAgreement 0.9 of the notes it rewrote at their label "
        "(lowest: 0.8000 typos)" in message
    )


def test_quality_gate_on_the_margins_interval_reads_its_low_end(aws):
    """``baseline_margin_from=interval_low``: ahead on the estimate is not enough; the low end of the
    paired bootstrap interval must clear ``MinBaselineMargin``."""
    from pipeline import get_pipeline

    definition = json.loads(
        get_pipeline(region=REGION, role=ROLE, baseline_margin_from="interval_low").definition()
    )
    steps = flatten(definition["Steps"])
    conditions = steps["CheckQuality"]["Arguments"]["Conditions"]

    def gate(low: float, high: float) -> Scope:
        state = scope(macro_f1=0.5, margin=0.03)
        state.parameters["MinBaselineMargin"] = 0.0
        report = state.property_files["Evaluate"]["EvaluationReport"]
        report["bootstrap"] = {
            "interval": {"macro_f1_minus_baseline": [low, high], "macro_f1_minus_champion": [0.0, 0.1]}
        }
        report["text"] = figures_text(report)
        return state

    assert not conditions_hold(conditions, gate(-0.01, 0.07))  # ahead by 0.03, but not surely
    assert conditions_hold(conditions, gate(0.005, 0.06))
    message = resolve(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"], gate(-0.01, 0.07))
    assert "low end of the margin's interval: -0.0100), and" in message
    with pytest.raises(ValueError, match="baseline_margin_from must be one of estimate, interval_low"):
        get_pipeline(region=REGION, role=ROLE, baseline_margin_from="upper")
    with pytest.raises(ValueError, match=r"needs evaluate\.bootstrap_resamples > 0"):
        get_pipeline(
            region=REGION, role=ROLE, baseline_margin_from="interval_low", evaluate__bootstrap_resamples="0"
        )


def test_training_channels_of_the_real_definition_resolve(built):
    _, definition = built
    train = flatten(definition["Steps"])["Train"]["Arguments"]
    channels = resolve(train["InputDataConfig"], scope())
    uris = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels}
    assert uris["train"] == "s3://b/executions/x1/preprocess/train"
    hyper = resolve(
        train["HyperParameters"],
        Scope(parameters={p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}),
    )
    assert hyper["epochs"] == "3" and hyper["model-name"] == "distilbert-base-uncased"


def test_a_training_metric_resolves_as_the_sdk_writes_it(built):
    """``step.properties.FinalMetricDataList['<name>'].Value``: what a condition on a training metric
    reads; the local training job's description holds the list (``jobs.final_metrics``)."""
    pipeline, _ = built
    (train,) = [s for s in pipeline.steps if s.name == "Train"]
    reference = train.properties.FinalMetricDataList["validation:macro_f1"].Value.expr
    assert reference == {"Get": "Steps.Train.FinalMetricDataList['validation:macro_f1'].Value"}
    metrics = [
        {"MetricName": "validation:loss", "Value": 2.2, "Timestamp": "2026-12-04T00:00:00Z"},
        {"MetricName": "validation:macro_f1", "Value": 0.47, "Timestamp": "2026-12-04T00:00:00Z"},
    ]
    steps = {"Train": {**STEP_PROPS["Train"], "FinalMetricDataList": metrics}}
    assert resolve(reference, Scope(steps=steps)) == 0.47
