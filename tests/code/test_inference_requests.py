"""Request validation of the endpoint handler: every bad request is a client error with a status."""

from __future__ import annotations

import json

import pytest

from inference import ClientError, output_fn, parse_request
from medtx_config import InferenceConfig

JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{bad json", JSON, 400, "not valid UTF-8 JSON"),
        (b"\xff\xfe", JSON, 400, "not valid UTF-8 JSON"),
        (b'["no", "object"]', JSON, 400, 'JSON object with an "inputs" field'),
        (b'{"text": "x"}', JSON, 400, '"inputs" field'),
        (b'{"inputs": 5}', JSON, 400, "a string, an object of text fields, or a list of them"),
        (b'{"inputs": ["ok", 3]}', JSON, 400, "a string, an object of text fields, or a list of them"),
        (b'{"inputs": []}', JSON, 400, "is empty"),
        (b'{"inputs": ["ok", "  "]}', JSON, 400, r"empty text at position\(s\) \[1\]"),
        (b'{"inputs": "x", "parameters": {"top_k": 0}}', JSON, 400, "top_k"),
        (b'{"inputs": "x", "parameters": {"top_k": true}}', JSON, 400, "top_k"),
        (b'{"inputs": "x", "parameters": []}', JSON, 400, "must be an object"),
        (b'{"inputs": "x", "top_k": 3}', JSON, 400, r'field\(s\) "top_k"; .*"parameters": \{"top_k": 3\}'),
        (b'{"inputs": "x", "parameters": {"topk": 3, "k": 1}}', JSON, 400, r'parameter\(s\) "k", "topk"'),
        (b'{"inputs": "x"}', "text/csv", 415, "content type must be application/json"),
        (b'{"inputs": "x"}', None, 415, "got 'none'"),
    ],
)
def test_bad_requests_are_client_errors(body, content_type, status, message):
    with pytest.raises(ClientError, match=message) as info:
        parse_request(body, content_type)
    assert info.value.status_code == status


def test_oversized_payload_and_too_many_texts_are_413():
    cfg = InferenceConfig(max_payload_bytes=100, max_texts=2)
    with pytest.raises(ClientError) as big:
        parse_request(json.dumps({"inputs": "x" * 200}), JSON, cfg)
    assert big.value.status_code == 413
    with pytest.raises(ClientError) as many:
        parse_request(json.dumps({"inputs": ["a", "b", "c"]}), JSON, cfg)
    assert many.value.status_code == 413


def test_single_text_and_list_and_charset():
    one = parse_request('{"inputs": "chest pain"}', "application/json; charset=utf-8")
    assert one == {"texts": ["chest pain"], "top_k": 1, "single": True}
    many = parse_request(b'{"inputs": ["a", "b"], "parameters": {"top_k": 3}}', JSON)
    assert many["texts"] == ["a", "b"] and many["top_k"] == 3 and not many["single"]


def test_output_fn_refuses_other_accept_types():
    assert json.loads(output_fn([{"label": "A"}], "application/json")) == [{"label": "A"}]
    with pytest.raises(ClientError) as info:
        output_fn([], "text/csv")
    assert info.value.status_code == 406


def test_endpoint_settings_come_from_the_model_environment():
    """The pipeline writes ``InferenceConfig`` into the model's environment; the handler reads it back
    and refuses what it cannot read, by name, instead of serving with defaults."""
    given = InferenceConfig(max_texts=8, max_top_k=2, precision="fp32")
    assert InferenceConfig.from_environment({**given.environment(), "PATH": "/bin"}) == given
    assert InferenceConfig.from_environment({}) == InferenceConfig()
    with pytest.raises(ValueError, match="MEDTX_INFERENCE_MAX_TEXTS='many' is not a whole number"):
        InferenceConfig.from_environment({"MEDTX_INFERENCE_MAX_TEXTS": "many"})
    with pytest.raises(ValueError, match="unknown endpoint settings MEDTX_INFERENCE_MAXTEXTS"):
        InferenceConfig.from_environment({"MEDTX_INFERENCE_MAXTEXTS": "8"})
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16; got 'int8'"):
        InferenceConfig.from_environment({"MEDTX_INFERENCE_PRECISION": "int8"})
    with pytest.raises(ValueError, match="max_top_k must be at least 1"):
        InferenceConfig(max_top_k=0)


DESCRIBED = ("description", "transcription")


def test_a_note_is_its_transcription_or_an_object_of_the_models_text_fields():
    """Each note becomes the text preprocessing built from its CSV row (``join_fields``): a string is
    the transcription alone, an object names its fields, one left out is empty as a missing CSV value
    was."""
    parsed = parse_request(
        json.dumps(
            {
                "inputs": [
                    {"description": "Knee sprain.", "transcription": "HISTORY:  Knee   pain."},
                    {"transcription": "note only"},
                    "a plain note",
                    {"description": "a | b", "transcription": "x"},
                ]
            }
        ),
        JSON,
        text_fields=DESCRIBED,
    )
    assert parsed["texts"] == [
        "Knee sprain. | HISTORY: Knee pain.",
        " | note only",
        " | a plain note",
        "a / b | x",
    ]
    one = parse_request(json.dumps({"inputs": {"transcription": " chest  pain "}}), JSON)
    assert one == {"texts": ["chest pain"], "top_k": 1, "single": True}


@pytest.mark.parametrize(
    ("inputs", "text_fields", "message"),
    [
        ([{"transcription": "x", "keywords": "k"}], DESCRIBED, r'"inputs"\[0\] names field\(s\) "keywords"'),
        (
            [{"description": "d"}],
            ("transcription",),
            r'names field\(s\) "description"; this model reads "transcription"',
        ),
        (
            ["ok", {"transcription": 3}],
            DESCRIBED,
            r'"inputs"\[1\] field\(s\) "transcription" must be strings',
        ),
        (["ok", {"description": " ", "transcription": ""}], DESCRIBED, r"empty text at position\(s\) \[1\]"),
        (["a note"], ("description",), r'"inputs"\[0\] is a string, read as the transcription'),
    ],
)
def test_a_field_the_model_was_not_trained_on_is_refused_by_position(inputs, text_fields, message):
    with pytest.raises(ClientError, match=message) as info:
        parse_request(json.dumps({"inputs": inputs}), JSON, text_fields=text_fields)
    assert info.value.status_code == 400
