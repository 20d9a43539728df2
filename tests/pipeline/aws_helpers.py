"""Constants and helpers of the pipeline tests (imported as ``aws_helpers``)."""

from __future__ import annotations

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/medtx-test"
BUCKET = "medical-transcription-repo"
#: InputDataUri's default key in ``BUCKET`` (the ``aws`` fixture puts a CSV there)
INPUT_KEY = "dataset/dataset.csv"


def flatten(steps: list[dict]) -> dict[str, dict]:
    """Every step by name, condition branches included."""
    found = {}
    for step in steps:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            found.update(flatten(step["Arguments"].get("IfSteps", [])))
            found.update(flatten(step["Arguments"].get("ElseSteps", [])))
    return found


def container_flags(step: dict) -> dict[str, str]:
    """A processing step's ``--flag value`` container arguments, by flag."""
    args = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    return {args[i]: args[i + 1] for i in range(len(args) - 1) if str(args[i]).startswith("--")}


def approver_actions() -> set[str]:
    """The actions the template's ModelApproverPolicy allows."""
    from helpers import load_template

    return policy_actions(load_template()["Resources"]["ModelApproverPolicy"]["Properties"]["PolicyDocument"])


def codebuild_actions() -> set[str]:
    """The actions the template's CodeBuild role allows (its deploy project's scheduled jobs)."""
    from helpers import load_template

    role = load_template()["Resources"]["CodeBuildRole"]["Properties"]
    return set().union(*(policy_actions(policy["PolicyDocument"]) for policy in role["Policies"]))


def policy_actions(policy: dict) -> set[str]:
    """Every action a policy document's statements name."""
    allowed: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        allowed.update([actions] if isinstance(actions, str) else actions)
    return allowed
