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
