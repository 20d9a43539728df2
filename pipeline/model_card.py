"""The model card of a registered version: JSON text with pipeline variables spliced in, and its check.

``CreateModelPackage`` takes a ``ModelCard`` (``ModelCardContent``: a JSON string in SageMaker's
model package model card schema, and ``ModelCardStatus``); Studio's Model Registry shows it beside
the version. The card's figures and names (the evaluation's macro-F1, the training job, the data) are
known only when the RegisterModel step runs, so the card goes into the definition as one ``Join`` of
JSON text and pipeline variables: ``Splice`` builds it (``steps/model_card.py`` says what the card
holds). ``check`` reads a card back against the SDK's model card schema (the local runner checks each
card it registers) and ``summary`` gives the line ``medtx models show`` prints.

This module imports no SDK at load time: the CLI uses it.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The sections a model package's card may hold (the package's own card has no
#: ``model_package_details``, and its overview only the creator and the artifact).
SECTIONS = (
    "model_overview",
    "intended_uses",
    "business_details",
    "training_details",
    "evaluation_details",
    "additional_information",
)
OVERVIEW_FIELDS = ("model_creator", "model_artifact")
#: ``ModelCardContent`` is at most this long (the CreateModelPackage API's limit).
MAX_CONTENT = 100_000

_TOKEN = re.compile(r'"@medtx-number-(\d+)@"|@medtx-text-(\d+)@')


class ModelCardError(ValueError):
    """A model card that is not JSON or does not follow the model card schema."""


class Splice:
    """A JSON document with pipeline variables in it.

    While the document is built, ``number(variable)`` stands for a JSON number and ``text(...)`` for
    a string made of literal parts and variables; ``values(document)`` then gives the values of the
    ``Join`` (on ``""``) that renders the document when the step runs. A text variable's value goes
    into a JSON string as it is, so it must hold no ``"`` or ``\\`` (parameters, S3 URIs and ARNs
    do not); the local runner's ``check`` of the rendered card names one that does.
    """

    def __init__(self) -> None:
        self.variables: list[Any] = []

    def _token(self, variable: Any, kind: str) -> str:
        self.variables.append(variable)
        return f"@medtx-{kind}-{len(self.variables) - 1}@"

    def number(self, variable: Any) -> str:
        return self._token(variable, "number")

    def text(self, *parts: Any) -> str:
        return "".join(p if isinstance(p, str) else self._token(p, "text") for p in parts)

    def values(self, document: dict[str, Any]) -> list[Any]:
        rendered = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        values: list[Any] = []
        start = 0
        for match in _TOKEN.finditer(rendered):
            values += [rendered[start : match.start()], self.variables[int(match.group(1) or match.group(2))]]
            start = match.end()
        values.append(rendered[start:])
        return [v for v in values if v != ""]


def check(content: str) -> dict[str, Any]:
    """The card's document, after checking it is JSON, holds only a model package card's sections
    and passes the SDK's model card schema (``sagemaker.core.shapes.model_card_shapes``)."""
    from pydantic import ValidationError
    from sagemaker.core.shapes.model_card_shapes import ModelCardContent

    if len(content) > MAX_CONTENT:
        raise ModelCardError(f"the model card is {len(content):,} characters; at most {MAX_CONTENT:,}")
    try:
        document = json.loads(content)
    except json.JSONDecodeError as err:
        raise ModelCardError(
            f"the model card is not JSON ({err}): {content[max(0, err.pos - 40) : err.pos + 40]!r}"
        ) from err
    if not isinstance(document, dict):
        raise ModelCardError("the model card is not a JSON object")
    unknown = sorted(set(document) - set(SECTIONS)) + [
        f"model_overview.{name}"
        for name in sorted(set(document.get("model_overview", {})) - set(OVERVIEW_FIELDS))
    ]
    if unknown:
        raise ModelCardError(f"a model package's card holds no {', '.join(unknown)}")
    try:
        ModelCardContent.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ModelCardError(f"the model card's {where}: {first['msg']}") from err
    return document


def summary(card: dict[str, Any] | None) -> str:
    """One line on a package's card (``ModelCard`` as DescribeModelPackage gives it)."""
    if not card or not card.get("ModelCardContent"):
        return "model card: none"
    try:
        document = json.loads(card["ModelCardContent"])
    except json.JSONDecodeError:
        return f"model card: {card.get('ModelCardStatus', '?')}, its content is not JSON"
    risk = document.get("intended_uses", {}).get("risk_rating", "not stated")
    evaluations = len(document.get("evaluation_details", []))
    return (
        f"model card: {card.get('ModelCardStatus', '?')}, risk rating {risk}, {evaluations} evaluation(s) "
        "(medtx models show --card prints it)"
    )
