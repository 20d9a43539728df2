"""Resolve the expressions of a pipeline definition JSON the way SageMaker does.

A definition refers to values it only knows at run time: ``{"Get": "Parameters.Epochs"}``,
``{"Get": "Execution.PipelineExecutionId"}``, ``{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}``,
``{"Std:Join": {...}}`` and ``{"Std:JsonGet": {...}}`` on a step's property file; condition steps
compare such values. ``Scope`` holds what is known so far and ``resolve`` replaces every expression
inside any JSON value. An expression it does not know is an error, never passed through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SEGMENT = re.compile(r"([A-Za-z0-9_]+)|\[(\d+)\]|\['([^']*)'\]")


class ExpressionError(ValueError):
    """An expression the local runner cannot resolve (unknown name, missing value, bad path)."""


@dataclass
class Scope:
    """Run-time values: parameters, execution variables, step properties and property files."""

    parameters: dict[str, Any] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    #: step name -> the step's properties (as the Describe* response of its job would hold them)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: step name -> property file name -> parsed JSON content
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)


def split_path(path: str) -> list[str | int]:
    """``Outputs['train'].S3Output.S3Uri`` -> ``["Outputs", "train", "S3Output", "S3Uri"]``."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        if not chunk:
            raise ExpressionError(f"empty segment in path {path!r}")
        matched = 0
        for match in _SEGMENT.finditer(chunk):
            if match.start() != matched:
                raise ExpressionError(f"cannot parse path {path!r}")
            name, index, key = match.groups()
            parts.append(name if name is not None else int(index) if index is not None else key)
            matched = match.end()
        if matched != len(chunk):
            raise ExpressionError(f"cannot parse path {path!r}")
    return parts


def walk(value: Any, parts: list[str | int], what: str) -> Any:
    """Follow ``parts`` into dicts/lists; a list of named items is indexed by name too."""
    for part in parts:
        if isinstance(value, dict) and part in value:  # noqa: SIM114 (mypy narrows `part` per branch)
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif isinstance(value, list) and isinstance(part, str):
            named = [v for v in value if isinstance(v, dict) and part in _names(v)]
            if not named:
                raise ExpressionError(f"{what}: no item named {part!r}")
            value = named[0]
        else:
            raise ExpressionError(f"{what}: nothing at {part!r}")
    return value


def _names(item: dict[str, Any]) -> tuple[Any, ...]:
    """What a list item is indexed by: an output's name, a metric's (``FinalMetricDataList``), a name."""
    return item.get("OutputName"), item.get("MetricName"), item.get("Name")


def get(reference: str, scope: Scope) -> Any:
    """Resolve a ``{"Get": reference}``."""
    head, _, rest = reference.partition(".")
    if head == "Parameters":
        if rest not in scope.parameters:
            raise ExpressionError(f"unknown parameter {rest!r}")
        return scope.parameters[rest]
    if head == "Execution":
        if rest not in scope.execution:
            raise ExpressionError(f"unknown execution variable {rest!r}")
        return scope.execution[rest]
    if head == "Steps":
        step, _, path = rest.partition(".")
        if step not in scope.steps:
            raise ExpressionError(f"{reference}: step {step!r} has not run")
        parts = split_path(path)
        if parts[:1] == ["PropertyFiles"]:
            return {"PropertyFile": (step, parts[1])}
        return walk(scope.steps[step], parts, reference)
    raise ExpressionError(f"unsupported reference {reference!r}")


def json_get(spec: dict[str, Any], scope: Scope) -> Any:
    """``Std:JsonGet`` on a property file of a step that has run."""
    ref = resolve(spec["PropertyFile"], scope)
    if not isinstance(ref, dict) or "PropertyFile" not in ref:
        raise ExpressionError("Std:JsonGet needs a PropertyFile reference")
    step, name = ref["PropertyFile"]
    files = scope.property_files.get(step, {})
    if name not in files:
        raise ExpressionError(f"property file {name!r} of step {step!r} was not produced")
    return walk(files[name], split_path(resolve(spec["Path"], scope)), f"{name}:{spec['Path']}")


def resolve(value: Any, scope: Scope) -> Any:
    """Replace every expression inside ``value`` (any JSON value) by what it stands for."""
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return get(value["Get"], scope)
    if set(value) == {"Std:Join"}:
        spec = value["Std:Join"]
        return str(spec["On"]).join(_text(resolve(v, scope)) for v in spec["Values"])
    if set(value) == {"Std:JsonGet"}:
        return json_get(value["Std:JsonGet"], scope)
    unknown = [k for k in value if k.startswith("Std:")]
    if unknown:
        raise ExpressionError(f"unsupported function {unknown[0]!r}")
    return {k: resolve(v, scope) for k, v in value.items()}


def _text(value: Any) -> str:
    """Join renders values as the service does: booleans lower-case, numbers plainly."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


_COMPARE = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def condition_holds(condition: dict[str, Any], scope: Scope) -> bool:
    """Evaluate one entry of a ConditionStep's ``Conditions`` list."""
    kind = condition["Type"]
    if kind in _COMPARE:
        left, right = resolve(condition["LeftValue"], scope), resolve(condition["RightValue"], scope)
        if kind != "Equals":
            left, right = _number(left, kind), _number(right, kind)
        return bool(_COMPARE[kind](left, right))
    if kind == "In":
        return resolve(condition["QueryValue"], scope) in resolve(condition["Values"], scope)
    if kind == "Not":
        return not condition_holds(condition["Condition"], scope)
    if kind == "Or":
        return any(condition_holds(c, scope) for c in condition["Conditions"])
    raise ExpressionError(f"unsupported condition type {kind!r}")


def _number(value: Any, kind: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"{kind} needs numbers, got {value!r}") from exc


def conditions_hold(conditions: list[dict[str, Any]], scope: Scope) -> bool:
    """A ConditionStep passes when all its conditions hold."""
    return all(condition_holds(c, scope) for c in conditions)
