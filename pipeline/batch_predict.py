"""Score a CSV of transcripts through an endpoint, in batches (``medtx predict``).

A backlog of notes to classify is a CSV; the endpoint takes at most ``InferenceConfig.max_texts``
texts and ``max_payload_bytes`` bytes a request. ``requests`` cuts the rows into requests within both
limits (and the batch size asked for), ``score`` sends each through the serving contract
(``deploy.request_body`` / ``deploy.check_answer``: the same requests the local and the SageMaker
endpoint answer) and ``table`` writes one output row per input row, in input order: a row without
text is kept, with no label and the reason, never dropped. For a model trained on more fields than
the transcription (``DataConfig.text_fields``), ``read_texts`` also takes a column per field and each
request names the fields of each note (``inputs``).
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.deploy import check_answer, request_body
from scripts.medtx_config import NOTE_FIELD, TEXT_FIELDS

#: Output columns, before any ``review`` column and ``top_k`` alternatives.
COLUMNS = ("row", "label", "score", "note")
NO_TEXT = "no text: not sent"
#: The note of a row with text that a stopped run did not score starts with this (``--resume``
#: sends those rows).
NOT_SCORED = "not scored: "


class PredictError(ValueError):
    """Input that cannot be scored (a missing column, a text over the request limit, no rows)."""


class ScoringStoppedError(Exception):
    """The endpoint refused a request midway, or the scoring was interrupted (``error`` is then the
    ``KeyboardInterrupt``): ``found`` holds what was scored."""

    def __init__(self, found: list[dict[str, Any] | None], error: BaseException) -> None:
        super().__init__(str(error) or type(error).__name__)
        self.found, self.error = found, error


def read_texts(
    path: Path, column: str, id_column: str | None = None, fields: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The rows of the CSV (or of the one a gzip file or zip archive holds, as preprocessing reads its
    input) as ``row`` (1-based, as a spreadsheet counts data rows), ``id`` (``id_column``,
    if given), ``text`` (``column``, the transcription; empty when missing) and one column per other
    text field the model reads (``fields``: field -> the CSV column holding it, e.g. ``{"description":
    "summary"}``). Every record is checked first as preprocessing checks the training CSV
    (``check_records``): a stray quote or a broken line would otherwise merge or split rows, and the
    output would no longer be one row per input row."""
    from pipeline.compare import container_module

    fields = dict(fields or {})
    wrong = [f for f in fields if f not in TEXT_FIELDS or f == NOTE_FIELD]
    if wrong:
        others = ", ".join(f for f in TEXT_FIELDS if f != NOTE_FIELD)
        raise PredictError(f"--field {', '.join(wrong)}: the fields beside --column are {others}")
    preprocess = container_module("preprocess", "medtx_preprocess")
    try:  # gzip-compressed, or a zip archive's one CSV, as preprocessing reads its input
        raw, source = preprocess.uncompressed(Path(path).read_bytes(), Path(path))
    except OSError as err:
        raise PredictError(f"cannot read {path}: {err}") from err
    except ValueError as err:  # InputError: an archive of no CSV or several, or a broken one
        raise PredictError(str(err)) from err
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's byte-order mark dropped
    except UnicodeDecodeError as err:
        raise PredictError(f"cannot read {source} as UTF-8 text: {err}") from err
    try:
        preprocess.check_records(text, source)
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except ValueError as err:  # the check's InputError, pandas' ParserError and EmptyDataError
        raise PredictError(f"cannot read {source} as CSV: {err}") from err
    # a column with an empty header (the Kaggle export's index) is '' to name, as the file names it,
    # not pandas' "Unnamed: 0"
    header = next(csv.reader(io.StringIO(text)), [])
    frame.columns = ["" if not str(h).strip() else c for h, c in zip(header, frame.columns, strict=False)]
    for name in (column, id_column, *fields.values()):
        if name is not None and name not in frame.columns:
            columns = ", ".join(str(c) or "''" for c in frame.columns)
            raise PredictError(f"{source} has no column {name!r}; its columns: {columns}")
        if name is not None and list(frame.columns).count(name) > 1:
            raise PredictError(f"{source} has more than one column {name!r}: name another")
    if frame.empty:
        raise PredictError(f"{source} has no rows to score")
    rows = pd.DataFrame({"row": range(1, len(frame) + 1), "text": frame[column].str.strip()})
    if id_column is not None:
        rows.insert(1, "id", frame[id_column])
    for name, source in fields.items():
        rows[name] = frame[source].str.strip()
    return rows


def predictions_path(given: Path) -> Path:
    """Where ``medtx predict`` writes the scored rows by default: ``<stem>-predictions.csv`` beside the
    input, its stem that of the CSV a ``.gz`` file holds (``backlog.csv.gz``: ``backlog``)."""
    stem = Path(given.stem).stem if given.suffix.lower() == ".gz" else given.stem
    return given.with_name(f"{stem}-predictions.csv")


def inputs(rows: pd.DataFrame) -> list[str | dict[str, str]]:
    """What each row sends (``requests``): its text, or, with other text fields (``read_texts``), an
    object naming them and the text as the transcription; ``""`` for a row without text (not sent)."""
    fields = [c for c in rows.columns if c in TEXT_FIELDS]
    if not fields:
        return rows["text"].tolist()
    return [
        {NOTE_FIELD: text, **{f: row[f] for f in fields}} if text else ""
        for text, (_, row) in zip(rows["text"], rows[fields].iterrows(), strict=True)
    ]


def requests(
    texts: Sequence[str | dict[str, str]], batch_size: int, max_texts: int, max_bytes: int, top_k: int
) -> Iterator[tuple[list[int], bytes]]:
    """(positions, request body) of consecutive non-empty texts (``inputs``: strings, or objects
    naming a note's fields): at most ``min(batch_size, max_texts)`` texts and ``max_bytes`` bytes a
    request."""
    size = min(batch_size, max_texts)
    empty = len(request_body([], top_k))
    batch: list[int] = []
    length = empty  # the body's length so far: each text adds its JSON string and a ", " separator
    for position, text in enumerate(texts):
        if not text:
            continue
        added = len(json.dumps(text))  # ASCII: json.dumps escapes the rest (as request_body writes it)
        if empty + added > max_bytes:
            raise PredictError(f"text {position + 1} is longer than one request may be ({max_bytes:,} bytes)")
        if batch and (len(batch) == size or length + 2 + added > max_bytes):
            yield batch, request_body([texts[i] for i in batch], top_k)
            batch, length = [], empty
        length += added + (2 if batch else 0)
        batch.append(position)
    if batch:
        yield batch, request_body([texts[i] for i in batch], top_k)


def score(
    texts: Sequence[str | dict[str, str]],
    send: Callable[[bytes], bytes],
    batch_size: int,
    max_texts: int,
    max_bytes: int,
    top_k: int = 1,
    progress: Callable[[int], None] | None = None,
    concurrency: int = 1,
) -> list[dict[str, Any] | None]:
    """Each text's prediction (``None`` for an empty text), in order; ``send`` posts one request body
    and returns the answer's body (raising on a refusal). Up to ``concurrency`` requests are in flight
    at once (``send`` is then called from that many threads): an endpoint of several instances, or
    one that batches concurrent requests, answers them together. ``progress`` gets each answered
    request's count. A refusal or a wrong answer raises ``ScoringStoppedError`` with what was scored:
    no request is sent after it, and those already in flight are waited for and kept; so does an
    interruption (Ctrl-C), with the ``KeyboardInterrupt`` as its error."""
    found: list[dict[str, Any] | None] = [None] * len(texts)
    failure: list[BaseException] = []

    def ask(positions: list[int], body: bytes) -> tuple[list[int], list[dict[str, Any]]]:
        return positions, check_answer(send(body), len(positions))

    in_flight: set[concurrent.futures.Future] = set()

    def land(done: set[concurrent.futures.Future]) -> None:
        """Keep the answers of ``done`` and take each from ``in_flight`` once kept, so an interruption
        midway leaves the ones not kept yet in flight, for the last ``land`` to keep."""
        for future in done:
            try:
                positions, answer = future.result()
            except Exception as err:
                failure.append(err)
                in_flight.discard(future)
                continue
            for position, prediction in zip(positions, answer, strict=True):
                found[position] = prediction
            in_flight.discard(future)
            if progress:
                progress(len(positions))

    limit = max(1, concurrency)
    with concurrent.futures.ThreadPoolExecutor(limit, thread_name_prefix="medtx-predict") as pool:
        try:
            for positions, body in requests(texts, batch_size, max_texts, max_bytes, top_k):
                if failure:
                    break
                in_flight.add(pool.submit(ask, positions, body))
                if len(in_flight) >= limit:
                    first = concurrent.futures.FIRST_COMPLETED
                    land(concurrent.futures.wait(in_flight, return_when=first)[0])
        except KeyboardInterrupt as interrupted:
            failure.insert(0, interrupted)
        finally:  # what is in flight is answered (or refused) and kept, whatever stopped the loop
            land(concurrent.futures.wait(set(in_flight))[0])
    if failure:
        raise ScoringStoppedError(found, failure[0]) from failure[0]
    return found


def table(
    rows: pd.DataFrame,
    predictions: list[dict[str, Any] | None],
    top_k: int = 1,
    stopped: str = "",
    review_below: float | None = None,
) -> pd.DataFrame:
    """One output row per input row: its row number (and id), label, score and, with ``top_k`` > 1,
    the alternatives as ``label_2``, ``score_2``...; ``note`` says why a row has no label (no text,
    or ``stopped``: the scoring stopped before it). With ``review_below`` (a score threshold, e.g.
    the one evaluation's ``selective`` figures give for a target accuracy), ``review`` is 1 for a row
    scored below it and 0 for one at or above it (empty for a row without a label: its ``note``
    says why)."""
    out = rows[[c for c in ("row", "id") if c in rows.columns]].copy()
    out["label"] = [p["label"] if p else "" for p in predictions]
    out["score"] = [round(float(p["score"]), 6) if p else None for p in predictions]
    if review_below is not None:  # compared with the answer's score, before any rounding
        out["review"] = pd.array(
            [int(float(p["score"]) < review_below) if p else None for p in predictions], dtype="Int64"
        )
    for rank in range(2, top_k + 1):
        out[f"label_{rank}"] = [_alternative(p, rank, "label", "") for p in predictions]
        out[f"score_{rank}"] = [_alternative(p, rank, "score", None) for p in predictions]
    out["note"] = [
        "" if p else (NO_TEXT if not text else f"{NOT_SCORED}{stopped}")
        for p, text in zip(predictions, rows["text"], strict=True)
    ]
    return out


def _alternative(prediction: dict[str, Any] | None, rank: int, field: str, missing: Any) -> Any:
    """The ``rank``-th best of a prediction's ``top_k`` list (the first is the prediction itself)."""
    alternatives = (prediction or {}).get("top_k") or []
    if len(alternatives) < rank:
        return missing
    value = alternatives[rank - 1][field]
    return round(float(value), 6) if field == "score" else value


def stop_record(target: Path) -> Path:
    """Where a stopped run records, beside its output ``target``, what it read (``record_stop``)."""
    return target.with_name(f"{target.name}.resume.json")


def digests(texts: Sequence[str | dict[str, str]]) -> list[str]:
    """A short SHA-256 of each row's input (``inputs``: its text, or the object naming its fields)."""
    return [hashlib.sha256(json.dumps(t, sort_keys=True).encode()).hexdigest()[:16] for t in texts]


def record_stop(target: Path, texts: Sequence[str | dict[str, str]], settings: Mapping[str, Any]) -> None:
    """Beside the output a stopped run wrote (``stop_record``): the ``digests`` of the rows it read
    and the ``settings`` its answers depend on (the endpoint, its model version, the review threshold),
    for ``--resume`` to tell a row whose text changed since and a command that asks something else."""
    record = {"settings": dict(settings), "texts": digests(texts)}
    stop_record(target).write_text(json.dumps(record), encoding="utf-8")


def earlier_output(
    target: Path,
    rows: pd.DataFrame,
    columns: Sequence[str],
    texts: Sequence[str | dict[str, str]],
    settings: Mapping[str, Any],
) -> tuple[pd.DataFrame, list[int], list[int]]:
    """For ``medtx predict --resume``: the output CSV ``target`` that a stopped run of the same CSV and
    options wrote (as text, as written), the positions of its rows to score now, and those of them
    whose input changed since. The rows to score are those noted ``NOT_SCORED`` and those whose input
    (``texts``: this CSV's ``inputs``) is not what the stopped run read (its ``record_stop``): each
    kept row then holds the answer to the text it has now. An output written whole (no row noted,
    no record) leaves none. One that is missing, unreadable, without its record, or written from
    another CSV, with other options (``columns``: what these options write) or other ``settings``
    (the endpoint, its model version, the review threshold) is named."""
    if not target.is_file():
        raise PredictError(f"--resume: there is no {target} to resume (run without --resume first)")
    try:
        earlier = pd.read_csv(target, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as err:
        raise PredictError(f"--resume: cannot read {target} as this command's output: {err}") from err
    if list(earlier.columns) != list(columns):
        raise PredictError(
            f"--resume: {target} has the columns {', '.join(earlier.columns)}; these options write "
            f"{', '.join(columns)}: resume with the options it was written with"
        )
    if len(earlier) != len(rows) or any(
        earlier[c].tolist() != rows[c].astype(str).tolist() for c in ("row", "id") if c in rows.columns
    ):
        raise PredictError(
            f"--resume: {target} has {len(earlier):,} row(s) whose numbers or ids are not this CSV's "
            f"{len(rows):,}: it was written from another CSV"
        )
    stopped = {i for i, note in enumerate(earlier["note"]) if note.startswith(NOT_SCORED)}
    record_path = stop_record(target)
    if not stopped and not record_path.exists():  # an output written whole: nothing left to score
        return earlier, [], []
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        read, asked = list(record["texts"]), dict(record["settings"])
    except FileNotFoundError as err:
        raise PredictError(
            f"--resume: {record_path} is missing: it records the texts the stopped run read, without "
            "which a row changed since cannot be told (run without --resume)"
        ) from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PredictError(f"--resume: cannot read {record_path}: {err} (run without --resume)") from err
    for name, value in settings.items():
        if asked.get(name) != value:
            raise PredictError(
                f"--resume: the stopped run's {name} was {asked.get(name, '(not recorded)')}, this "
                f"command's is {value}: resume with the same, or run without --resume"
            )
    if len(read) != len(rows):
        raise PredictError(
            f"--resume: {record_path} records {len(read):,} rows, not this CSV's {len(rows):,}"
        )
    changed = [i for i, (was, now) in enumerate(zip(read, digests(texts), strict=True)) if was != now]
    return earlier, sorted(stopped.union(changed)), [i for i in changed if i not in stopped]


def fill_in(earlier: pd.DataFrame, fresh: pd.DataFrame, positions: Sequence[int]) -> pd.DataFrame:
    """``earlier`` (``earlier_output``) with its rows at ``positions`` taken from ``fresh`` (a ``table``
    of the same rows and options), written as ``to_csv`` writes them."""
    taken = fresh.iloc[list(positions)]
    out = earlier.copy()
    out.iloc[list(positions)] = taken.astype(object).where(taken.notna(), "").astype(str).to_numpy()
    return out
