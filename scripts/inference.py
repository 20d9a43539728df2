"""Endpoint handler for the Hugging Face inference DLC (``model_fn/input_fn/predict_fn/output_fn``).

Request: ``application/json`` with ``{"inputs": "one note"}`` or ``{"inputs": ["note", ...]}`` and
optionally ``{"parameters": {"top_k": 3}}``. A note is its transcription; a model trained on more
fields (``DataConfig.text_fields``, e.g. the description) also takes an object per note naming them,
``{"inputs": [{"description": "...", "transcription": "..."}]}`` (a field left out is empty, as a
missing CSV value was in training; a plain string is the transcription alone). Response: one object
per note, in input order: ``{"label": name, "class_id": id, "score": p}`` (plus ``top_k``
alternatives when asked). Notes are encoded as the model was trained and scored in batches.

Bad requests (malformed JSON, wrong content type, unknown fields, empty or oversized input) raise
``ClientError`` with an HTTP status (400, 413, 415); the serving layer answers with it instead of crashing.
The handler never logs request text or predictions, only counts.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from medtx_common import (
    InputError,
    join_fields,
    load_classifier,
    predict_proba,
    ranked_classes,
    scoring_stack,
)
from medtx_config import NOTE_FIELD, InferenceConfig

LOG = logging.getLogger("medtx.inference")
#: The pipeline's settings, from the model's environment (``MEDTX_INFERENCE_*``); defaults without it.
CONFIG = InferenceConfig.from_environment(os.environ)
JSON = "application/json"
#: What a request body and its ``parameters`` may hold; anything else is refused by name, so a
#: misspelt or misplaced option (``{"inputs": ..., "top_k": 3}``) is not silently ignored.
REQUEST_FIELDS = frozenset({"inputs", "parameters"})
REQUEST_PARAMETERS = frozenset({"top_k"})
#: The text fields of the loaded model (its ``tokenization.json``), set by ``model_fn``: ``input_fn``
#: joins each request's fields in this order, before any batching.
MODEL_TEXT_FIELDS: tuple[str, ...] = (NOTE_FIELD,)


class ClientError(InputError):
    """A bad request; ``status_code`` is the HTTP status to answer with."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    global MODEL_TEXT_FIELDS
    classifier = load_classifier(model_dir, precision=CONFIG.precision)
    MODEL_TEXT_FIELDS = classifier["encoding"].text_fields
    stack = scoring_stack(classifier)
    LOG.info(
        "loaded model with %d labels on %s in %s (torch %s, transformers %s)",
        len(classifier["labels"]),
        *(stack[key] for key in ("device", "arithmetic", "torch", "transformers")),
    )
    return classifier


def parse_request(
    body: bytes | str,
    content_type: str | None,
    cfg: InferenceConfig = CONFIG,
    text_fields: tuple[str, ...] = (NOTE_FIELD,),
) -> dict[str, Any]:
    """Validate a request body; returns ``{"texts": [...], "top_k": int, "single": bool}``, each text
    the note's ``text_fields`` joined as preprocessing joined them (``model_texts``)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise ClientError(f"content type must be {JSON}, got {content_type or 'none'!r}", 415)
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > cfg.max_payload_bytes:
        raise ClientError(f"payload is {len(raw)} bytes; the limit is {cfg.max_payload_bytes}", 413)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(f"body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise ClientError('body must be a JSON object with an "inputs" field')
    unknown = sorted(set(payload) - REQUEST_FIELDS)
    if unknown:
        raise ClientError(
            f'unknown field(s) {", ".join(map(json.dumps, unknown))}; the body takes "inputs" and '
            '"parameters" (e.g. {"inputs": "...", "parameters": {"top_k": 3}})'
        )
    inputs = payload["inputs"]
    single = isinstance(inputs, str | dict)
    notes = [inputs] if single else inputs
    if not isinstance(notes, list) or not all(isinstance(t, str | dict) for t in notes):
        raise ClientError('"inputs" must be a string, an object of text fields, or a list of them')
    if not notes:
        raise ClientError('"inputs" is empty')
    if len(notes) > cfg.max_texts:
        raise ClientError(f'"inputs" has {len(notes)} texts; the limit is {cfg.max_texts}', 413)
    texts = model_texts(notes, text_fields)
    parameters = payload.get("parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise ClientError('"parameters" must be an object')
    unknown = sorted(set(parameters) - REQUEST_PARAMETERS)
    if unknown:
        raise ClientError(
            f'unknown parameter(s) {", ".join(map(json.dumps, unknown))}; "parameters" takes '
            + ", ".join(map(json.dumps, sorted(REQUEST_PARAMETERS)))
        )
    top_k = parameters.get("top_k", 1)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= cfg.max_top_k:
        raise ClientError(f'"parameters.top_k" must be an integer from 1 to {cfg.max_top_k}')
    return {"texts": texts, "top_k": top_k, "single": single}


def model_texts(notes: list[str | dict[str, Any]], text_fields: tuple[str, ...]) -> list[str]:
    """Each note as the model text preprocessing built (``join_fields`` over ``text_fields``): a
    string is the transcription, other fields empty; an object names its fields, each a string, those
    left out empty. A field the model was not trained on, a note without text, or a string for a model
    that does not read the transcription is refused, naming the position."""
    texts, blank = [], []
    for position, note in enumerate(notes):
        if isinstance(note, str):
            if NOTE_FIELD not in text_fields:
                raise ClientError(
                    f'"inputs"[{position}] is a string, read as the {NOTE_FIELD}; this model reads '
                    f"{', '.join(text_fields)}: send an object naming them"
                )
            note = {NOTE_FIELD: note}
        unknown = sorted(set(note) - set(text_fields))
        if unknown:
            raise ClientError(
                f'"inputs"[{position}] names field(s) {", ".join(map(json.dumps, unknown))}; this model '
                f"reads {', '.join(map(json.dumps, text_fields))}"
            )
        wrong = sorted(k for k, v in note.items() if not isinstance(v, str))
        if wrong:
            raise ClientError(
                f'"inputs"[{position}] field(s) {", ".join(map(json.dumps, wrong))} must be strings'
            )
        if not any(v.strip() for v in note.values()):
            blank.append(position)
        texts.append(join_fields([note.get(f, "") for f in text_fields]))
    if blank:
        raise ClientError(f'"inputs" has empty text at position(s) {blank[:10]}')
    return texts


def input_fn(input_data: bytes | str, content_type: str, context: Any = None) -> dict[str, Any]:
    return parse_request(input_data, content_type, text_fields=MODEL_TEXT_FIELDS)


def predict_fn(data: dict[str, Any], classifier: dict[str, Any], context: Any = None) -> list[dict[str, Any]]:
    probs = predict_proba(classifier, data["texts"], CONFIG.batch_size)
    labels = classifier["labels"]
    results = []
    for row, ranked in zip(probs, ranked_classes(probs)[:, : data["top_k"]], strict=True):
        best = int(ranked[0])
        result: dict[str, Any] = {"label": labels[best], "class_id": best, "score": float(row[best])}
        if data["top_k"] > 1:
            result["top_k"] = [
                {"label": labels[int(i)], "class_id": int(i), "score": float(row[i])} for i in ranked
            ]
        results.append(result)
    LOG.info("scored %d text(s)", len(results))
    return results


def output_fn(prediction: list[dict[str, Any]], accept: str | None = JSON, context: Any = None) -> str:
    media_type = (accept or JSON).split(";")[0].strip().lower()
    if media_type not in (JSON, "*/*"):
        raise ClientError(f"accept must be {JSON}, got {accept!r}", 406)
    return json.dumps(prediction)
