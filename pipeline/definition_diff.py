"""What differs between the definition SageMaker runs and the one this checkout builds (``medtx diff``).

An execution started from Studio, the schedule or ``medtx start`` runs the definition last upserted,
not the checkout's: a change to ``steps/``, the config or the scripts reaches SageMaker only with the
next ``medtx upsert`` (or push). ``differences`` names, in lines a person reads, each parameter added,
removed or given another default, each step added or removed, and each changed value of a step
(condition steps compared without their branches, whose steps are compared one by one), found with
DeepDiff.
"""

from __future__ import annotations

import json
from typing import Any

#: How many changed values of one step are listed (the rest are counted).
MOST_PER_STEP = 8
#: Longest value shown; longer ones are cut.
WIDTH = 70


def steps_by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every step, condition branches included, by name; a condition without its branches' steps
    (their names only), so a change inside a branch is the changed step's, not the condition's."""
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step.get("Type") == "Condition":
            arguments = dict(step.get("Arguments", {}))
            for branch in ("IfSteps", "ElseSteps"):
                found.update(steps_by_name(arguments.get(branch, [])))
                arguments[branch] = [s.get("Name") for s in arguments.get(branch, [])]
            step = {**step, "Arguments": arguments}
        found[step["Name"]] = step
    return found


def _shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def _changed(old: Any, new: Any) -> str:
    """``old -> new``; two long strings (a Join's JSON text) shown around where they first differ."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > WIDTH:
        start = next(
            (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
        )
        start = max(0, start - WIDTH // 3)
        cut = slice(start, start + WIDTH - 10)
        return f"{'...' if start else ''}{old[cut]!r}... -> {'...' if start else ''}{new[cut]!r}..."
    return f"{_shown(old)} -> {_shown(new)}"


def _step_changes(name: str, deployed: dict[str, Any], built: dict[str, Any]) -> list[str]:
    from deepdiff import DeepDiff

    diff = DeepDiff(deployed, built, verbose_level=2)
    changes: list[str] = []
    for path, change in {**diff.get("values_changed", {}), **diff.get("type_changes", {})}.items():
        changes.append(f"{path.removeprefix('root')}: {_changed(change['old_value'], change['new_value'])}")
    for kind, verb in (
        ("dictionary_item_added", "added"),
        ("iterable_item_added", "added"),
        ("dictionary_item_removed", "removed"),
        ("iterable_item_removed", "removed"),
    ):
        for path, value in diff.get(kind, {}).items():
            changes.append(f"{path.removeprefix('root')}: {verb} {_shown(value)}")
    changes.sort()
    shown = [f"step {name}: {change}" for change in changes[:MOST_PER_STEP]]
    if len(changes) > MOST_PER_STEP:
        shown.append(f"step {name}: and {len(changes) - MOST_PER_STEP} more changes")
    return shown


def differences(deployed: dict[str, Any], built: dict[str, Any]) -> list[str]:
    """Each difference from the deployed definition to the built one; empty when they are the same."""
    lines: list[str] = []
    old = {p["Name"]: p for p in deployed.get("Parameters", [])}
    new = {p["Name"]: p for p in built.get("Parameters", [])}
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"parameter {name}: added (default {_shown(new[name].get('DefaultValue'))})")
        elif name not in new:
            lines.append(f"parameter {name}: removed")
        elif old[name] != new[name]:
            before, after = old[name].get("DefaultValue"), new[name].get("DefaultValue")
            what = f"default {_shown(before)} -> {_shown(after)}" if before != after else "type changed"
            lines.append(f"parameter {name}: {what}")
    old_steps, new_steps = steps_by_name(deployed.get("Steps", [])), steps_by_name(built.get("Steps", []))
    for name in sorted(set(old_steps) - set(new_steps)):
        lines.append(f"step {name}: removed")
    for name in sorted(set(new_steps) - set(old_steps)):
        lines.append(f"step {name}: added ({new_steps[name].get('Type')})")
    for name in [n for n in new_steps if n in old_steps]:
        lines += _step_changes(name, old_steps[name], new_steps[name])
    rest = {k: v for k, v in deployed.items() if k not in ("Parameters", "Steps")}
    if rest != {k: v for k, v in built.items() if k not in ("Parameters", "Steps")}:
        lines.append("the definition's other fields (version, metadata, configuration) differ")
    return lines
