"""CheckQuality step: a ConditionStep on ``evaluation.json``; a FailStep says what missed what.

Passes when macro-F1 >= ``MinMacroF1``, macro-F1 minus the TF-IDF baseline's macro-F1 >=
``MinBaselineMargin``, and macro-F1 minus the served model's on the same rows >= ``MinChampionMargin``
(the defaults -1 switch both comparisons off; with nothing served the champion's macro-F1 is 0), and
the lowest share of rewritten notes that kept their label over the behavioural checks >=
``MinBehaviourAgreement`` (default 0: off). With ``baseline_margin_from=interval_low`` each margin is
the low end of its difference's paired bootstrap interval instead of the difference itself: the model
must be ahead with that confidence.
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
BASELINE_F1 = "baseline.macro_f1"
CHAMPION_F1 = "champion.macro_f1"
#: ``medtx_behaviour.lowest_agreement``: always a number, and the name of its check (or "").
BEHAVIOUR_AGREEMENT = "behaviour_agreement.value"
BEHAVIOUR_CHECK = "behaviour_agreement.check"


def margin_path(against: str, source: str) -> str:
    """Where ``evaluation.json`` holds the margin over ``against`` (``baseline``, ``champion``) that
    the gate compares, by ``PipelineConfig.baseline_margin_from``: the held-out difference itself, or
    the low end of its paired bootstrap interval."""
    difference = f"macro_f1_minus_{against}"
    return difference if source == "estimate" else f"bootstrap.interval.{difference}[0]"


def margin_text_path(against: str, source: str) -> str:
    """``margin_path``'s figure as the failure message names it: ``evaluation.json``'s ``text``."""
    difference = f"macro_f1_minus_{against}"
    return f"text.{difference}" if source == "estimate" else f"text.{difference}_low"


def figure(evaluate: Any, path: str) -> JsonGet:
    """The value at ``path`` of the Evaluate step's ``evaluation.json`` (its property file), read when
    the step that holds it runs (the gate; the model card)."""
    return JsonGet(step_name=evaluate.name, property_file=REPORT, json_path=path)


def build(ctx: StepContext, evaluate: Any, if_steps: list) -> ConditionStep:
    p = ctx.params
    macro_f1 = figure(evaluate, MACRO_F1)
    source = ctx.config.baseline_margin_from
    margin = figure(evaluate, margin_path("baseline", source))
    champion_margin = figure(evaluate, margin_path("champion", source))
    agreement = figure(evaluate, BEHAVIOUR_AGREEMENT)
    reached = " (margin reached: " if source == "estimate" else " (low end of the margin's interval: "
    fail = FailStep(
        name=FAIL_NAME,
        description="Stop the execution, naming each figure and the threshold it missed.",
        # the figures as evaluation.json's text gives them (four decimals), not every digit of a float
        error_message=Join(
            on="",
            values=[
                "Quality gate failed: macro-F1 ",
                figure(evaluate, "text.macro_f1"),
                " must be >= MinMacroF1 ",
                p.min_macro_f1,
                " and exceed the TF-IDF baseline macro-F1 ",
                figure(evaluate, "text.baseline_macro_f1"),
                " by >= MinBaselineMargin ",
                p.min_baseline_margin,
                reached,
                figure(evaluate, margin_text_path("baseline", source)),
                "), and exceed the served model's macro-F1 on the same rows ",
                figure(evaluate, "text.champion_macro_f1"),
                " by >= MinChampionMargin ",
                p.min_champion_margin,
                reached,
                figure(evaluate, margin_text_path("champion", source)),
                "), and every behavioural check must keep at least MinBehaviourAgreement ",
                p.min_behaviour_agreement,
                " of the notes it rewrote at their label (lowest: ",
                figure(evaluate, "text.behaviour_agreement"),
                " ",
                figure(evaluate, BEHAVIOUR_CHECK),
                ")",
            ],
        ),
    )
    return ConditionStep(
        name=NAME,
        description=(
            "Register only when macro-F1 >= MinMacroF1 and its margins over the TF-IDF baseline and the "
            "served model reach MinBaselineMargin and MinChampionMargin (-1: that comparison is off), and "
            "every behavioural check keeps MinBehaviourAgreement of its rewritten notes' labels (0: off)."
        ),
        conditions=[
            ConditionGreaterThanOrEqualTo(left=macro_f1, right=p.min_macro_f1),
            ConditionGreaterThanOrEqualTo(left=margin, right=p.min_baseline_margin),
            ConditionGreaterThanOrEqualTo(left=champion_margin, right=p.min_champion_margin),
            ConditionGreaterThanOrEqualTo(left=agreement, right=p.min_behaviour_agreement),
        ],
        if_steps=if_steps,
        else_steps=[fail],
    )
