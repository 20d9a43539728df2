"""``medtx predict``: a CSV scored through the serving contract in requests within the endpoint's
limits, one output row per input row (a row without text kept, with its note)."""

from __future__ import annotations

import io
import json
import random
import threading
import time
from typing import Any

import pandas as pd
import pytest
from aws_helpers import REGION

from pipeline.batch_predict import (
    NO_TEXT,
    PredictError,
    ScoringStoppedError,
    inputs,
    read_texts,
    requests,
    score,
    table,
)
from pipeline.capture import BATCH_INFERENCE_PREFIX
from pipeline.deploy import DeployError, request_body

LABELS = ["Cardiology", "Neurology", "Urology"]


def _answer(body: bytes) -> bytes:
    """An endpoint that labels a text by its length, with ``top_k`` alternatives when asked."""
    request = json.loads(body)
    k = request["parameters"]["top_k"]
    answers = []
    for text in request["inputs"]:
        ranked = [LABELS[(len(text) + i) % 3] for i in range(3)]
        best = {"label": ranked[0], "class_id": LABELS.index(ranked[0]), "score": 0.7}
        if k > 1:
            best["top_k"] = [
                {"label": label, "class_id": LABELS.index(label), "score": s}
                for label, s in zip(ranked[:k], (0.7, 0.2, 0.1), strict=False)
            ]
        answers.append(best)
    return json.dumps(answers).encode()


#: The package version the endpoint serves in the tests that score through ``medtx predict``.
SERVED = "arn:aws:sagemaker:us-east-1:123456789012:model-package/medtx-specialty-classifier/3"


def _serving(monkeypatch, served) -> None:
    """``medtx predict``'s registry (``sources.open_registry``): ``served(endpoint)`` says which
    version the endpoint serves (an ARN, or raises as a refused Describe call does)."""
    from pipeline.cli import sources

    def nothing(*args):
        raise AssertionError("only the served version is read")

    opened = sources.Registry(describe=nothing, by_arn=nothing, read=nothing, served=served)
    monkeypatch.setattr(sources, "open_registry", lambda store, sagemaker, region: opened)


def test_requests_stay_within_the_endpoints_limits_and_keep_the_order():
    rng = random.Random(3)
    texts = ["".join(rng.choice('ab é"\n\\') for _ in range(rng.randint(0, 200))) for _ in range(400)]
    for max_bytes in (600, 3000, 1_000_000):
        sent = list(requests(texts, batch_size=16, max_texts=10, max_bytes=max_bytes, top_k=2))
        assert [i for positions, _ in sent for i in positions] == [i for i, t in enumerate(texts) if t]
        for number, (positions, body) in enumerate(sent):
            assert body == request_body([texts[i] for i in positions], 2)
            assert len(body) <= max_bytes and len(positions) <= 10
            if number + 1 < len(sent) and len(positions) < 10:  # closed for bytes: the next would not fit
                following = sent[number + 1][0][0]
                assert len(request_body([texts[i] for i in [*positions, following]], 2)) > max_bytes
    with pytest.raises(PredictError, match=r"text 2 is longer than one request may be \(100 bytes\)"):
        list(requests(["short", "x" * 200], 8, 8, 100, 1))


def test_the_unnamed_index_column_of_a_kaggle_export_is_named_by_its_empty_header(tmp_path):
    """mtsamples.csv's first column, its index, has an empty header: ``--id-column ''`` names it (it was
    taken for no id column and left out, and pandas calls it "Unnamed: 0")."""
    source = tmp_path / "mtsamples.csv"
    source.write_text(",description,transcription\n0,knee,a note\n7,heart,another\n")
    rows = read_texts(source, "transcription", "")
    assert rows["id"].tolist() == ["0", "7"] and rows["text"].tolist() == ["a note", "another"]
    assert "id" not in read_texts(source, "transcription").columns
    (tmp_path / "two.csv").write_text(",,transcription\n0,1,a note\n")
    with pytest.raises(PredictError, match="has more than one column '': name another"):
        read_texts(tmp_path / "two.csv", "transcription", "")
    assert read_texts(tmp_path / "two.csv", "transcription")["text"].tolist() == ["a note"]


def test_every_row_comes_out_in_order_with_its_label_and_alternatives(tmp_path):
    source = tmp_path / "notes.csv"
    source.write_text("\ufeffid,note\na,one\nb,\nc,three three\n")  # as a spreadsheet saves it
    rows = read_texts(source, "note", "id")
    calls = []

    def send(body):
        calls.append(len(json.loads(body)["inputs"]))
        return _answer(body)

    found = score(rows["text"].tolist(), send, batch_size=1, max_texts=256, max_bytes=10_000, top_k=2)
    assert calls == [1, 1] and found[1] is None  # the empty row is not sent
    out = table(rows, found, top_k=2)
    assert list(out.columns) == ["row", "id", "label", "score", "label_2", "score_2", "note"]
    assert out["row"].tolist() == [1, 2, 3] and out["id"].tolist() == ["a", "b", "c"]
    assert out["label"].tolist() == [LABELS[3 % 3], "", LABELS[11 % 3]]
    assert out["label_2"].tolist() == [LABELS[4 % 3], "", LABELS[12 % 3]]
    assert out["note"].tolist() == ["", NO_TEXT, ""]
    with pytest.raises(ScoringStoppedError, match="should be a list of 2 prediction") as stopped:
        score(["a", "b"], lambda body: b"[]", 8, 8, 10_000)
    assert isinstance(stopped.value.error, DeployError) and stopped.value.found == [None, None]


def test_requests_in_flight_at_once_land_in_order():
    """``concurrency``: that many requests are sent at once (the first three meet; sent one after
    another they never would), no more, and every answer lands at its rows; progress counts them all."""
    texts = [f"note {'x' * i}" if i % 7 else "" for i in range(40)]
    met, lock = threading.Barrier(3, timeout=20), threading.Lock()
    calls, now, most = [0], [0], [0]
    counted: list[int] = []

    def send(body):
        with lock:
            calls[0], now[0] = calls[0] + 1, now[0] + 1
            most[0], first = max(most[0], now[0]), calls[0] <= 3
        if first:
            met.wait()
        time.sleep(0.01)
        with lock:
            now[0] -= 1
        return _answer(body)

    found = score(texts, send, 4, 256, 10_000, 2, progress=counted.append, concurrency=3)
    assert not met.broken and most[0] == 3
    assert found == score(texts, _answer, 4, 256, 10_000, 2)  # the serial answers, at the same rows
    assert sum(counted) == sum(1 for t in texts if t)


def test_a_refusal_among_requests_in_flight_stops_the_sending_and_keeps_what_was_answered():
    """The request holding text 9 is refused: the requests in flight beside it are waited for and
    kept, none is sent after the refusal is seen, and the error is the endpoint's."""
    texts = [f"note {i}" for i in range(30)]
    sent = []

    def send(body):
        inputs = json.loads(body)["inputs"]
        sent.extend(inputs)
        time.sleep(0.02 if "note 8" in inputs else 0.005)  # the request beside the refused one is slow
        if "note 9" in inputs:
            raise DeployError("endpoint answered HTTP 400: no")
        return _answer(body)

    with pytest.raises(ScoringStoppedError, match="HTTP 400: no") as stopped:
        score(texts, send, 1, 256, 10_000, concurrency=3)
    found = stopped.value.found
    assert found[9] is None and found[8] is not None  # in flight beside the refusal: answered and kept
    assert all(found[int(t.split()[1])] is not None for t in sent if t != "note 9")
    assert len(sent) <= 12 and all(found[i] is None for i in range(len(texts)) if texts[i] not in sent)


def test_an_interruption_keeps_what_was_answered():
    """Ctrl-C while answers come in (here: in the progress callback, which runs where the
    interruption would arrive): the scoring stops with the ``KeyboardInterrupt`` as its error and
    every answer received before it."""
    texts = [f"note {i}" for i in range(10)]
    counted: list[int] = []

    def progress(n):
        counted.append(n)
        if len(counted) == 2:
            raise KeyboardInterrupt

    with pytest.raises(ScoringStoppedError) as stopped:
        score(texts, _answer, 2, 256, 10_000, progress=progress)
    assert isinstance(stopped.value.error, KeyboardInterrupt) and str(stopped.value) == "KeyboardInterrupt"
    assert [p is not None for p in stopped.value.found] == [True] * 4 + [False] * 6


def test_an_interruption_amid_answers_that_came_in_together_keeps_every_one_of_them(monkeypatch):
    """Three requests in flight answered together (the wait hands all three back at once): a Ctrl-C
    while the first of them is kept still keeps the other two (the interruption stops the sending,
    not the keeping)."""
    import concurrent.futures

    waited = concurrent.futures.wait

    def together(futures, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
        return waited(futures, timeout, concurrent.futures.ALL_COMPLETED)

    monkeypatch.setattr(concurrent.futures, "wait", together)
    texts = [f"note {i}" for i in range(9)]
    counted: list[int] = []

    def progress(n):
        counted.append(n)
        if len(counted) == 1:
            raise KeyboardInterrupt

    with pytest.raises(ScoringStoppedError) as stopped:
        score(texts, _answer, 3, 256, 10_000, progress=progress, concurrency=3)
    assert isinstance(stopped.value.error, KeyboardInterrupt)
    assert all(p is not None for p in stopped.value.found)  # the three requests' nine answers


def test_predict_interrupted_writes_what_was_scored_and_exits_130(tmp_path, monkeypatch):
    from helpers import said
    from typer.testing import CliRunner

    from pipeline import batch_predict
    from pipeline.cli import app

    source = tmp_path / "notes.csv"
    pd.DataFrame({"transcription": ["chest pain", "kidney stone"]}).to_csv(source, index=False)
    first = json.loads(_answer(request_body(["chest pain"])))[0]

    def interrupted(texts, *args, **kwargs):
        raise ScoringStoppedError([first, None], KeyboardInterrupt())

    monkeypatch.setattr(batch_predict, "score", interrupted)
    _serving(monkeypatch, lambda endpoint: SERVED)
    done = CliRunner().invoke(
        app, ["predict", str(source), "--sagemaker", "--region", REGION], env={"COLUMNS": "200"}
    )
    assert done.exit_code == 130 and "interrupted" in said(done) and "with --resume sends them" in said(done)
    kept = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert kept["label"].tolist() == [first["label"], ""]
    assert kept["note"].tolist() == ["", "not scored: interrupted"]


def test_resume_scores_again_a_row_whose_text_changed_and_refuses_another_threshold(tmp_path, monkeypatch):
    """A stopped run records what it read beside its output; ``--resume`` sends the rows left and
    those whose text changed since (named), refuses a command asking another review threshold or
    endpoint, names a missing record, and a whole output's record is removed."""
    from helpers import said
    from typer.testing import CliRunner

    from pipeline import batch_predict
    from pipeline.cli import app

    source = tmp_path / "notes.csv"
    notes = ["chest pain", "kidney stone", "headache", "rash"]
    pd.DataFrame({"transcription": notes}).to_csv(source, index=False)
    sent: list[list[str]] = []

    def answers(texts, stop_after=None):
        asked = [t for t in texts if t]
        sent.append(asked)
        found = [json.loads(_answer(request_body([t])))[0] if t else None for t in texts]
        if stop_after is not None:  # the first ``stop_after`` rows with text answered, then Ctrl-C
            kept = [i for i, t in enumerate(texts) if t][:stop_after]
            raise ScoringStoppedError(
                [f if i in kept else None for i, f in enumerate(found)], KeyboardInterrupt()
            )
        return found

    def refused(endpoint):  # a caller with InvokeEndpoint alone
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, "DescribeEndpoint")

    _serving(monkeypatch, refused)
    monkeypatch.setattr(batch_predict, "score", lambda texts, *a, **k: answers(texts, stop_after=2))
    runner = CliRunner(env={"COLUMNS": "200"})
    asked = ["predict", str(source), "--sagemaker", "--region", REGION, "--review-below", "0.75"]
    stopped = runner.invoke(app, asked)
    record = tmp_path / "notes-predictions.csv.resume.json"
    assert stopped.exit_code == 130 and record.name in said(stopped) and record.is_file()
    assert (
        "cannot read which model version medtx-specialty-classifier serves (An error occurred "
        "(AccessDeniedException) when calling the DescribeEndpoint operation: not authorized): a --resume "
        "of this run cannot tell a redeploy in between"
    ) in said(stopped)

    monkeypatch.setattr(batch_predict, "score", lambda texts, *a, **k: answers(texts))
    other = runner.invoke(
        app, ["predict", str(source), "--sagemaker", "--region", REGION, "--resume", "--review-below", "0.8"]
    )
    assert other.exit_code == 2 and "review threshold was 0.75, this command's is 0.8" in said(other)
    local = runner.invoke(app, [*asked[:2], "--review-below", "0.75", "--resume"])
    assert (
        local.exit_code == 2
        and "(SageMaker), this command's is medtx-specialty-classifier (local)" in said(local)
    )

    edited = ["chest pain, radiating", "kidney stone", "headache", "rash"]  # row 1 was scored: now changed
    pd.DataFrame({"transcription": edited}).to_csv(source, index=False)
    sent.clear()
    resumed = runner.invoke(app, [*asked, "--resume"])
    assert resumed.exit_code == 0, said(resumed)
    assert "1 row(s) changed since the stopped run (rows 1): scored again" in said(resumed)
    assert "3 row(s) scored by medtx-specialty-classifier; " in said(resumed)  # no version read to name
    assert sent == [["chest pain, radiating", "headache", "rash"]]  # row 2 kept as written
    out = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert out["label"].tolist() == [LABELS[len(t) % 3] for t in edited]
    assert not record.exists()  # the output is whole: its record is spent
    again = runner.invoke(app, [*asked, "--resume"])
    assert again.exit_code == 0 and "nothing to resume" in said(again)

    monkeypatch.setattr(batch_predict, "score", lambda texts, *a, **k: answers(texts, stop_after=1))
    assert runner.invoke(app, asked).exit_code == 130
    record.unlink()
    lost = runner.invoke(app, [*asked, "--resume"])
    assert lost.exit_code == 2 and f"{record.name} is missing" in said(lost)


def test_a_run_stopped_before_any_answer_writes_no_output(tmp_path, monkeypatch):
    """The endpoint was not in service (or the name was wrong): the first request refused, nothing
    scored, so there is nothing to keep or resume: no output and no record are written, and an
    earlier run's output at the same place is left as it was and said to be."""
    from helpers import said
    from typer.testing import CliRunner

    from pipeline import batch_predict
    from pipeline.cli import app

    source = tmp_path / "notes.csv"
    pd.DataFrame({"transcription": ["chest pain", "kidney stone"]}).to_csv(source, index=False)
    _serving(monkeypatch, lambda endpoint: None)

    def refused(texts, *args, **kwargs):
        raise ScoringStoppedError([None] * len(texts), DeployError("endpoint not in service"))

    monkeypatch.setattr(batch_predict, "score", refused)
    runner = CliRunner(env={"COLUMNS": "200"})
    asked = ["predict", str(source), "--sagemaker", "--region", REGION]
    failed = runner.invoke(app, asked)
    target = tmp_path / "notes-predictions.csv"
    assert failed.exit_code == 1
    assert "error: endpoint not in service no row was scored, so no output was written" in said(failed)
    assert not target.exists() and not batch_predict.stop_record(target).exists()
    target.write_text("an earlier run's output\n")
    again = runner.invoke(app, asked)
    assert again.exit_code == 1 and f"({target} is an earlier run's, left as it was)" in said(again)
    assert target.read_text() == "an earlier run's output\n"


def test_a_model_trained_on_more_fields_gets_each_note_as_an_object_naming_them(tmp_path):
    """``--field description=summary``: each request names the note's fields (the text as the
    transcription); a row without text is still not sent, and the output keeps only row and id."""
    source = tmp_path / "notes.csv"
    source.write_text('id,summary,note\na,Knee pain.,one\nb,Headache.,\nc,,"three, three"\n')
    rows = read_texts(source, "note", "id", {"description": "summary"})
    sent = inputs(rows)
    assert sent == [
        {"transcription": "one", "description": "Knee pain."},
        "",
        {"transcription": "three, three", "description": ""},
    ]
    bodies = [json.loads(body) for _, body in requests(sent, 8, 8, 10_000, 1)]
    assert bodies == [{"inputs": [sent[0], sent[2]], "parameters": {"top_k": 1}}]
    found = score(sent, _answer, batch_size=8, max_texts=8, max_bytes=10_000)
    assert list(table(rows, found).columns) == ["row", "id", "label", "score", "note"]
    assert inputs(read_texts(source, "note")) == ["one", "", "three, three"]
    with pytest.raises(PredictError, match="has no column 'description'; its columns: id, summary, note"):
        read_texts(source, "note", fields={"description": "description"})
    with pytest.raises(
        PredictError, match="--field keywords: the fields beside --column are description, sample_name"
    ):
        read_texts(source, "note", fields={"keywords": "summary"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("note\nx\n", "has no column 'transcription'; its columns: note"),
        (",,transcription\n1,2,a note\n", "has no column 'id'; its columns: '', '', transcription"),
        ("transcription\n", "has no rows to score"),
        ("", "cannot read .* as CSV"),
        ('id,transcription\n1,"a note\n2,another\n', r"unreadable CSV in the record starting on line 2"),
        ("id,transcription\n1,a note\n2,broken, line\n", r"1 row\(s\) without the header's 2 fields: row 2"),
    ],
)
def test_a_csv_that_cannot_be_scored_is_named(tmp_path, text, message):
    source = tmp_path / "notes.csv"
    source.write_text(text)
    with pytest.raises(PredictError, match=message):
        read_texts(source, "transcription", "id" if text.startswith(",,") else None)
    (tmp_path / "latin.csv").write_bytes("transcription\nnote caf\xe9\n".encode("latin-1"))
    with pytest.raises(PredictError, match="as UTF-8 text"):
        read_texts(tmp_path / "latin.csv", "transcription")


def test_a_compressed_csv_is_read_as_the_csv_it_holds(tmp_path):
    """As preprocessing reads its input: a .csv.gz, or a zip archive's one CSV (Kaggle's
    archive.zip); errors name the archive's member, and the output is named after the CSV."""
    import gzip
    import zipfile

    from pipeline.batch_predict import predictions_path

    text = "id,transcription\n1,first note\n2,second note\n"
    plain = tmp_path / "notes.csv"
    plain.write_text(text)
    packed = tmp_path / "notes.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("mtsamples.csv", text)
    expected = read_texts(plain, "transcription", "id")
    for given in (packed, archive):
        pd.testing.assert_frame_equal(read_texts(given, "transcription", "id"), expected)
    with pytest.raises(PredictError, match=r"archive\.zip \(mtsamples\.csv\) has no column 'note'"):
        read_texts(archive, "note")
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.csv", text)
        zipped.writestr("b.csv", text)
    with pytest.raises(PredictError, match=r"archive\.zip: a zip archive must hold exactly one \.csv file"):
        read_texts(archive, "transcription")
    assert [predictions_path(p).name for p in (plain, packed, archive, tmp_path / "x.txt")] == [
        "notes-predictions.csv",
        "notes-predictions.csv",
        "archive-predictions.csv",
        "x-predictions.csv",
    ]


def test_predict_scores_a_csv_through_the_sagemaker_endpoint(tmp_path, monkeypatch):
    """The CLI against a deployed endpoint (botocore's Stubber checks each InvokeEndpoint request):
    the output CSV, the summary, and a refusal ending the command with the endpoint's message."""
    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import ANY, Stubber
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("COLUMNS", "200")
    source = tmp_path / "notes.csv"
    pd.DataFrame({"transcription": ["chest pain", "", "headache and aura", "kidney stone"]}).to_csv(
        source, index=False
    )
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    monkeypatch.setattr(boto3, "client", lambda *a, **k: runtime)
    serving = {"version": SERVED}
    _serving(monkeypatch, lambda endpoint: serving["version"])
    stub = Stubber(runtime)
    for texts in (["chest pain", "headache and aura"], ["kidney stone"]):
        body = request_body(texts)
        answer = _answer(body)
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
            {
                "EndpointName": "medtx-specialty-classifier",
                "ContentType": ANY,
                "Accept": ANY,
                "Body": body,
                "InferenceId": ANY,
            },
        )
    marks = []
    runtime.meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpoint",
        lambda params, **_: marks.append(params["InferenceId"]),
    )
    runner = CliRunner()
    asked = ["predict", str(source), "--sagemaker", "--region", REGION, "--batch-size", "2", "--review-below"]
    with stub:
        done = runner.invoke(app, [*asked, "0.75"])
        stub.assert_no_pending_responses()
    assert done.exit_code == 0, said(done)
    out = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert out["label"].tolist() == [LABELS[10 % 3], "", LABELS[17 % 3], LABELS[12 % 3]]
    assert (
        f"3 row(s) scored by medtx-specialty-classifier ({SERVED}); 3 of them scored below 0.75, marked "
        "for review; "
        "1 row(s) without text kept"
    ) in said(done)
    assert out["review"].tolist() == ["1", "", "1", "1"]  # every answer scored 0.7; no flag without a label
    # each request marked for the endpoint's data capture: the drift check leaves a backlog out
    assert len(set(marks)) == 2 and all(m.startswith(BATCH_INFERENCE_PREFIX) and len(m) <= 64 for m in marks)

    refused = Stubber(runtime)  # the first request answered, the second refused
    first = request_body(["chest pain", "headache and aura"])
    refused.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(_answer(first)), len(_answer(first))),
            "ContentType": "application/json",
        },
    )
    refused.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400)",
        http_status_code=424,
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": '{"error": "inputs must be text"}'},
    )
    with refused:
        failed = runner.invoke(app, [*asked, "0.7"])
    assert failed.exit_code == 1
    assert 'medtx-specialty-classifier answered HTTP 400: {"error": "inputs must be text"}' in said(failed)
    assert "with the 2 row(s) scored; the rest have the note 'not scored: ...'" in said(failed)
    kept = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert kept["label"].tolist() == [LABELS[10 % 3], "", LABELS[17 % 3], ""]
    assert kept["note"].tolist() == ["", NO_TEXT, "", "not scored: the endpoint refused a request"]
    assert kept["review"].tolist() == ["0", "", "0", ""]  # a score at the threshold is answered, not reviewed

    # a redeploy in between: the answers would come from two versions, so --resume is refused
    serving["version"] = SERVED.replace("/3", "/4")
    redeployed = runner.invoke(app, [*asked, "0.7", "--resume"])
    assert redeployed.exit_code == 2
    assert f"the stopped run's model version was {SERVED}, this command's is {SERVED[:-1]}4" in said(
        redeployed
    )
    serving["version"] = SERVED

    # --resume sends the row left, only it, and fills it in; the rows kept stay as written
    left = Stubber(runtime)
    rest = request_body(["kidney stone"])
    left.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(_answer(rest)), len(_answer(rest))),
            "ContentType": "application/json",
        },
        {"EndpointName": ANY, "ContentType": ANY, "Accept": ANY, "Body": rest, "InferenceId": ANY},
    )
    with left:
        resumed = runner.invoke(app, [*asked, "0.7", "--resume"])
        left.assert_no_pending_responses()
    assert resumed.exit_code == 0, said(resumed)
    assert f"1 row(s) scored by medtx-specialty-classifier ({SERVED}); 0 of them scored below 0.7" in said(
        resumed
    )
    assert "(resumed: the other 3 row(s) kept as the earlier run wrote them)" in said(resumed)
    whole = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert whole["label"].tolist() == [LABELS[10 % 3], "", LABELS[17 % 3], LABELS[12 % 3]]
    assert whole["note"].tolist() == ["", NO_TEXT, "", ""] and whole["review"].tolist() == ["0", "", "0", "0"]
    assert whole["score"].tolist() == ["0.7", "", "0.7", "0.7"]
    done_already = runner.invoke(app, [*asked, "0.7", "--resume"])
    assert done_already.exit_code == 0 and "holds no row a stopped run left" in said(done_already)
    other = runner.invoke(app, [*asked, "0.7", "--resume", "--top-k", "2"])
    assert other.exit_code == 2 and "resume with the options it was written with" in said(other)
    (tmp_path / "short.csv").write_text("transcription\nchest pain\n")
    shorter = ["predict", str(tmp_path / "short.csv"), "--out", str(tmp_path / "notes-predictions.csv")]
    wrong = runner.invoke(
        app, [*shorter, "--sagemaker", "--region", REGION, "--review-below", "0.7", "--resume"]
    )
    assert wrong.exit_code == 2 and "it was written from another CSV" in said(wrong)
    nothing = runner.invoke(app, [*shorter[:2], "--sagemaker", "--region", REGION, "--resume"])
    assert (
        nothing.exit_code == 2
        and "there is no" in said(nothing)
        and "run without --resume first" in said(nothing)
    )
    beyond = runner.invoke(app, ["predict", str(source), "--review-below", "1.5", "--sagemaker"])
    assert beyond.exit_code == 2 and "--review-below" in said(beyond)
    missing = runner.invoke(app, ["predict", str(source), "--column", "text", "--sagemaker"])
    assert missing.exit_code == 2 and "has no column 'text'; its columns: transcription" in said(missing)
    over = runner.invoke(app, ["predict", str(source), "--out", str(source), "--sagemaker"])
    assert over.exit_code == 2 and "is the input CSV" in said(over)
    assert len(pd.read_csv(source)) == 4  # untouched
    # an output nowhere to write is said before a row is sent, not as a traceback after the last
    folder = runner.invoke(app, ["predict", str(source), "--out", str(tmp_path), "--sagemaker"])
    assert folder.exit_code == 2 and f"--out {tmp_path}: is a folder: name a file in it" in said(folder)
    (tmp_path / "taken").write_text("a file, not a folder")
    under_file = tmp_path / "taken" / "out.csv"
    lost = runner.invoke(app, ["predict", str(source), "--out", str(under_file), "--sagemaker"])
    assert lost.exit_code == 2 and f"--out {under_file}: cannot make its folder" in said(lost)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["description"], "'description' is not FIELD=COLUMN"),
        (["description=summary", "description=other"], "description is given twice"),
        (["description=missing"], "has no column 'missing'"),
    ],
)
def test_predict_names_a_bad_field_option(tmp_path, given, message):
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app

    source = tmp_path / "notes.csv"
    source.write_text("summary,transcription\nKnee pain.,one\n")
    options = [item for value in given for item in ("--field", value)]
    done = CliRunner().invoke(app, ["predict", str(source), *options], env={"COLUMNS": "200"})
    assert done.exit_code == 2 and message in said(done), said(done)


def test_review_below_served_reads_the_served_versions_threshold(tmp_path, monkeypatch):
    """``--review-below served``: the threshold of the version the endpoint serves, from its
    evaluation; one clear error for an endpoint serving no version, a version without an evaluation,
    an evaluation that predates selective prediction or whose notes reached no threshold, and for
    ``served`` beside a model of the caller's choosing. A number outside 0 to 1 is refused."""
    from helpers import said
    from typer.testing import CliRunner

    from pipeline.cli import app, predict, sources
    from pipeline.local import endpoint

    monkeypatch.setenv("COLUMNS", "200")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/medtx/3"
    evaluations = {
        "predates": {"multiclass_classification_metrics": {}},
        "unreached": {"selective": {"accuracy_target": 0.9, "at_accuracy": {"threshold": None}}},
        "reached": {
            "selective": {
                "accuracy_target": 0.9,
                "at_accuracy": {"threshold": 0.6125, "coverage": 0.52, "notes": 240, "accuracy": 0.9},
                "held_out": {
                    "coverage": 0.5,
                    "coverage_interval": [0.4547, 0.5453],
                    "notes": 231,
                    "accuracy": 0.8918,
                    "accuracy_interval": [0.8456, 0.9254],
                    "confidence_level": 0.95,
                },
                "guaranteed": {
                    "threshold": 0.625,
                    "coverage": 0.31,
                    "notes": 143,
                    "accuracy": 0.958,
                    "accuracy_bound": 0.9021,
                    "confidence_level": 0.95,
                    "tests": 9,
                },
            }
        },
        "unguaranteed": {
            "selective": {
                "accuracy_target": 0.9,
                "at_accuracy": {"threshold": 0.6125},
                "guaranteed": {"threshold": None, "confidence_level": 0.95},
            }
        },
        "before": {"selective": {"accuracy_target": 0.9, "at_accuracy": {"threshold": 0.6125}}},
    }
    state: dict[str, Any] = {"served": arn, "evaluation": "reached"}

    def by_arn(package):
        if state["evaluation"] is None:
            return {"ModelPackageArn": package}
        uri = f"s3://b/{state['evaluation']}/evaluation.json"
        return {"ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": uri}}}}

    opened = sources.Registry(
        describe=lambda group, version: {},
        by_arn=by_arn,
        read=lambda uri: json.dumps(evaluations[uri.split("/")[3]]).encode(),
        served=lambda name: state["served"],
    )
    monkeypatch.setattr(sources, "open_registry", lambda store, sagemaker, region: opened)
    sent = []

    def invoke(store, name, body, inference_id=None):
        sent.append(body)
        if len(sent) > state.get("refuse_after", len(sent)):
            return 500, b'{"error": "busy"}'
        texts = len(json.loads(body)["inputs"])
        answers = [{"label": LABELS[0], "class_id": 0, "score": s} for s in (0.61, 0.62)[:texts]]
        return 200, json.dumps(answers).encode()

    monkeypatch.setattr(endpoint, "invoke", invoke)
    source = tmp_path / "notes.csv"
    source.write_text("transcription\nchest pain\nknee pain\n")
    runner = CliRunner()
    asked = ["predict", str(source), "--store", str(tmp_path / "store"), "--review-below"]
    done = runner.invoke(app, [*asked, "served"])
    assert done.exit_code == 0, said(done)
    assert (
        f"review below 0.6125, the threshold of {arn} for 90% accuracy on its validation notes (52% of "
        "the notes answered at score >= 0.613, held out 89.2% right [95% interval 84.6%-92.5%] on 50% "
        "[45%-55%]; guaranteed (95% confidence): 31% answered at score >= 0.625, their accuracy's bound "
        "90.2%)"
    ) in said(done)
    out = pd.read_csv(tmp_path / "notes-predictions.csv")
    assert out["review"].tolist() == [1, 0] and len(sent) == 1  # 0.61 below 0.6125, 0.62 above
    sure = runner.invoke(app, [*asked, "guaranteed"])
    assert sure.exit_code == 0, said(sure)
    assert f"review below 0.625, the threshold of {arn} for 90% accuracy with 95% confidence (" in said(sure)
    out = pd.read_csv(tmp_path / "notes-predictions.csv")
    assert out["review"].tolist() == [1, 1] and len(sent) == 2  # 0.62 below 0.625 too

    def refused(kind="served", **changes):
        state.update(changes)
        found = runner.invoke(app, [*asked, kind])
        state.update(served=arn, evaluation="reached")
        assert found.exit_code == 1 and len(sent) == 2  # nothing sent
        return said(found)

    assert "endpoint medtx-specialty-classifier serves no model version of a registry" in refused(served=None)
    assert f"--review-below served: {arn} records no evaluation" in refused(evaluation=None)
    assert "gives no review threshold (it predates selective prediction)" in refused(evaluation="predates")
    unreached = refused(evaluation="unreached")
    assert "(no score threshold reached 90% accuracy on its validation notes)" in unreached
    unguaranteed = refused("guaranteed", evaluation="unguaranteed")
    assert (
        "(no score threshold found that reaches 90% accuracy with 95% confidence on its validation notes)"
        in unguaranteed
    )
    assert "gives no review threshold (it predates that threshold)" in refused(
        "guaranteed", evaluation="before"
    )
    for wrong in ("1.5", "-0.1", "half", "nan"):
        found = runner.invoke(app, [*asked, wrong])
        assert (
            found.exit_code == 2
            and "--review-below takes a score from 0 to 1, served or guaranteed" in said(found)
        )
    for kind in predict.SERVED_THRESHOLDS:
        chosen = runner.invoke(app, [*asked, kind, "--batch-transform", "--model-name", "m"])
        assert chosen.exit_code == 2 and f"--review-below {kind} reads the endpoint's model version" in said(
            chosen
        )
    assert len(sent) == 2
    # a stopped run records the version it read the threshold from: a redeploy before --resume is
    # refused even where the new version's threshold is the same (the first row answered, the second
    # refused)
    one = ["--batch-size", "1", "--review-below", "served"]
    state["refuse_after"] = len(sent) + 1
    assert runner.invoke(app, [*asked[:-1], *one]).exit_code == 1 and len(sent) == 4
    state.update(refuse_after=len(sent) + 1, served=arn.replace("/3", "/4"))
    redeployed = runner.invoke(app, [*asked[:-1], *one, "--resume"])
    assert redeployed.exit_code == 2, said(redeployed)
    assert f"the stopped run's model version was {arn}, this command's is {arn[:-1]}4" in said(redeployed)
    state["served"] = arn
    resumed = runner.invoke(app, [*asked[:-1], *one, "--resume"])
    assert resumed.exit_code == 0 and len(sent) == 5, said(resumed)  # the second row only
