"""``medtx schedule``: the EventBridge rule that starts the pipeline for retraining.

One rule per pipeline, ``<pipeline>-retrain`` (the infrastructure stack creates the same rule), whose
target is the pipeline with ``SageMakerPipelineParameters``. ``create`` also updates an existing rule.
"""

from __future__ import annotations

import json
import re
from typing import Any

_EXPRESSION = re.compile(
    r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$"
)


class ScheduleError(ValueError):
    pass


def rule_name(pipeline_name: str) -> str:
    return f"{pipeline_name}-retrain"


def pipeline_arn(region: str, account: str, pipeline_name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:pipeline/{pipeline_name}"


def check_expression(expression: str) -> str:
    """``rate(7 days)`` or a six-field ``cron(...)``, as EventBridge takes them; one clear error otherwise."""
    if not _EXPRESSION.match(expression.strip()):
        raise ScheduleError(
            f"{expression!r} is not an EventBridge schedule: use rate(N days|hours|minutes) "
            "or cron(min hour day-of-month month day-of-week year), e.g. cron(0 3 ? * MON *)"
        )
    return expression.strip()


def put(
    events: Any,
    pipeline_name: str,
    target_arn: str,
    role_arn: str,
    expression: str,
    parameters: list[dict[str, str]],
    enabled: bool = True,
) -> str:
    """Create or update the rule and its target; returns the rule ARN."""
    name = rule_name(pipeline_name)
    arn = events.put_rule(
        Name=name,
        ScheduleExpression=check_expression(expression),
        State="ENABLED" if enabled else "DISABLED",
        Description=f"Scheduled retraining of the SageMaker pipeline {pipeline_name} (medtx schedule)",
    )["RuleArn"]
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "pipeline",
                "Arn": target_arn,
                "RoleArn": role_arn,
                "SageMakerPipelineParameters": {"PipelineParameterList": parameters},
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            }
        ],
    )
    return arn


def _described(events: Any, pipeline_name: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The pipeline's rule name, the rule and its targets; a clear error when there is none."""
    from botocore.exceptions import ClientError

    name = rule_name(pipeline_name)
    try:
        rule = events.describe_rule(Name=name)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            raise ScheduleError(
                f"no retraining schedule {name!r}: create one with `medtx schedule create`"
            ) from err
        raise
    return name, rule, events.list_targets_by_rule(Rule=name)["Targets"]


def show(events: Any, pipeline_name: str) -> dict[str, Any]:
    name, rule, targets = _described(events, pipeline_name)
    parameters = [
        p for t in targets for p in t.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])
    ]
    shown = {
        "Name": name,
        "Arn": rule["Arn"],
        "ScheduleExpression": rule.get("ScheduleExpression"),
        "State": rule["State"],
        "Targets": [t["Arn"] for t in targets],
        "Parameters": {p["Name"]: p["Value"] for p in parameters},
    }
    # the stack's rule starts a build of its deploy project (infra/retrainspec.yml) with these
    builds = [json.loads(t["Input"]) for t in targets if "Input" in t]
    overrides = [v for b in builds for v in b.get("environmentVariablesOverride", [])]
    if builds:
        shown["BuildSpec"] = [b.get("buildspecOverride") for b in builds]
        shown["Environment"] = {v["name"]: v["value"] for v in overrides}
    return shown


def set_state(events: Any, pipeline_name: str, enabled: bool) -> dict[str, Any]:
    name, _, _ = _described(events, pipeline_name)  # a clear error when there is none
    (events.enable_rule if enabled else events.disable_rule)(Name=name)
    return show(events, pipeline_name)


def delete(events: Any, pipeline_name: str) -> None:
    name, _, targets = _described(events, pipeline_name)
    if targets:
        events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name)
