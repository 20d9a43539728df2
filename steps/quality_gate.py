"""CheckQuality step: a ConditionStep on ``evaluation.json``; a FailStep says what missed what.

Passes when macro-F1 >= ``MinMacroF1`` and macro-F1 minus the TF-IDF baseline's macro-F1 >=
``MinBaselineMargin`` (the default -1 switches the baseline comparison off). With
``baseline_margin_from=interval_low`` the margin is the low end of the difference's paired bootstrap
interval instead of the difference itself: the model must be ahead with that confidence.
"""

from __future__ import annotations

from typing import Any

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.mlops.workflow import ConditionStep, FailStep

from steps.common import StepContext
from steps.evaluate import REPORT

NAME = "CheckQuality"
FAIL_NAME = "QualityGateFailed"
MACRO_F1 = "multiclass_classification_metrics.macro_f1.value"
#: The margin the gate compares, by ``PipelineConfig.baseline_margin_from``.
BASELINE_MARGIN = {
    "estimate": "macro_f1_minus_baseline",
    "interval_low": "bootstrap.interval.macro_f1_minus_baseline[0]",
}
BASELINE_F1 = "baseline.macro_f1"


def figure(evaluate: Any, path: str) -> JsonGet:
    return JsonGet(step_name=evaluate.name, property_file=REPORT, json_path=path)


def build(ctx: StepContext, evaluate: Any, if_steps: list) -> ConditionStep:
    p = ctx.params
    macro_f1 = figure(evaluate, MACRO_F1)
    source = ctx.config.baseline_margin_from
    margin = figure(evaluate, BASELINE_MARGIN[source])
    fail = FailStep(
        name=FAIL_NAME,
        error_message=Join(
            on=" ",
            values=[
                "Quality gate failed: macro-F1",
                macro_f1,
                "must be >= MinMacroF1",
                p.min_macro_f1,
                "and exceed the TF-IDF baseline macro-F1",
                figure(evaluate, BASELINE_F1),
                "by >= MinBaselineMargin",
                p.min_baseline_margin,
                "(margin reached:" if source == "estimate" else "(low end of the margin's interval:",
                margin,
                ")",
            ],
        ),
    )
    return ConditionStep(
        name=NAME,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=macro_f1, right=p.min_macro_f1),
            ConditionGreaterThanOrEqualTo(left=margin, right=p.min_baseline_margin),
        ],
        if_steps=if_steps,
        else_steps=[fail],
    )
