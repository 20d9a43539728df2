"""What the endpoint has been predicting (``medtx endpoint predictions --sagemaker``), from the answers
its data capture wrote (``medtx deploy --capture-percent``), set against what the served version
predicted on its validation rows.

SageMaker writes captured invocations as JSON lines under
``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``; each line's ``captureData.endpointOutput`` holds
the answer (``data``, as JSON or base64 by ``encoding``). This project captures answers only, so the
drift that can be seen is in the predictions: the share of each class in the traffic against its share
among the served version's validation predictions (``model-performance.csv``), summed up as the
population stability index and the total variation distance, and the model's confidence (the top
score) in the traffic against validation. A shift says the notes coming in differ from those the model
was evaluated on, or that the mix of specialties changed; which one, the figures cannot tell.

The traffic has no labels, so its accuracy is estimated from its scores, as confidence-based
performance estimation does (CBPE; NannyML): how often the served version was right on validation at
each top score (an isotonic fit of right/wrong on the score, so each validation score stands for how
often such a score was right, not for what it claims) averaged over the traffic's scores. It holds
while a score is as often right on the traffic as it was on validation: it sees a model growing less
sure of itself, not notes whose specialty moved while the model stays sure.

Where the served version's evaluation gives a review threshold (selective prediction: the lowest
score whose validation notes reached the target accuracy), the share of the traffic scored below it
is the share of notes a person reviews when the model answers the rest, set against validation's.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

VARIANT = "AllTraffic"
#: The hour folder of a capture file's key.
_HOUR = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
#: Laplace smoothing of the shares in the PSI, so a class absent from one side stays finite.
SMOOTHING = 0.5
#: Below this many predictions the shares of 23 classes (and so the PSI) are mostly noise.
FEW = 200
#: The accuracy estimate's interval: its level, and the bootstrap resamples of the validation notes
#: it is read from (``estimate_accuracy``).
ESTIMATE_LEVEL, ESTIMATE_RESAMPLES = 0.95, 200
#: The usual reading of the PSI: below ``STABLE`` stable, above ``MAJOR`` a major shift.
STABLE, MAJOR = 0.1, 0.25
#: CloudWatch namespace of the figures ``endpoint predictions --publish`` puts (dimension EndpointName);
#: the stack's drift alarm reads ``PredictionPSI`` there.
NAMESPACE = "medtx"
#: The checks' history, a stable key in the bucket the answers are captured to (``--publish`` keeps it):
#: a row per check and predicted class, for QuickSight or Athena. A check in the same hour as an
#: earlier one of the same endpoint replaces its rows.
HISTORY_KEY = "monitoring/prediction-drift.csv"
HISTORY_COLUMNS = (
    "checked_at",
    "endpoint",
    "model_package",
    "hours",
    "predictions",
    "psi",
    "total_variation",
    "mean_score",
    "validation_mean_score",
    "estimated_accuracy",
    "estimated_accuracy_low",
    "estimated_accuracy_high",
    "validation_accuracy",
    "review_threshold",
    "review_share",
    "validation_review_share",
    "review_share_low",
    "review_share_high",
    "held_out_review_share_low",
    "held_out_review_share_high",
    "label",
    "traffic",
    "traffic_share",
    "validation_share",
    "difference",
)
#: The columns that differ between a check's rows: one row per predicted class.
CLASS_COLUMNS = HISTORY_COLUMNS[HISTORY_COLUMNS.index("label") :]
#: The review share's intervals (``review_figures``): the traffic's, and the range on held-out notes.
REVIEW_INTERVALS = (
    "review_share_low",
    "review_share_high",
    "held_out_review_share_low",
    "held_out_review_share_high",
)
#: The review share and its threshold (``review_figures``), beside validation's.
REVIEW_SHARE = ("review_threshold", "review_share", "validation_review_share")
#: The review share's columns (``review_figures``).
REVIEW_COLUMNS = (*REVIEW_SHARE, *REVIEW_INTERVALS)
#: The columns each change of the history's layout added, oldest first: the accuracy estimate, its
#: interval, the review share, its intervals.
ADDITIONS = (
    ("estimated_accuracy", "validation_accuracy"),
    ("estimated_accuracy_low", "estimated_accuracy_high"),
    REVIEW_SHARE,
    REVIEW_INTERVALS,
)
#: The columns each earlier layout lacks (all it did not have yet, in ``HISTORY_COLUMNS`` order), oldest
#: layout first. A history in one of them reads as one whose checks had none of those figures (empty),
#: and the next published check (or ``medtx quicksight``) rewrites it in this layout.
ADDED_COLUMNS = tuple(
    tuple(c for c in HISTORY_COLUMNS if any(c in added for added in ADDITIONS[since:]))
    for since in range(len(ADDITIONS))
)
OLDER_LAYOUTS = {tuple(c for c in HISTORY_COLUMNS if c not in added): added for added in ADDED_COLUMNS}


class CaptureError(ValueError):
    pass


def prefix(destination: str, endpoint: str, variant: str = VARIANT) -> tuple[str, str]:
    """(bucket, key prefix) of an endpoint's capture files under the ``DestinationS3Uri``."""
    if not destination.startswith("s3://"):
        raise CaptureError(f"the capture destination must be an s3:// URI; got {destination!r}")
    bucket, _, key = destination.removeprefix("s3://").partition("/")
    return bucket, "/".join(part for part in (key.strip("/"), endpoint, variant) if part) + "/"


#: ``medtx predict`` sends each request with an ``InferenceId`` of this prefix, which data capture keeps
#: (``eventMetadata.inferenceId``): a scored backlog is not the endpoint's traffic, so the drift check
#: leaves those records out (and counts them).
BATCH_INFERENCE_PREFIX = "medtx-predict-"
#: ``medtx deploy`` (and ``deploy --local``, ``endpoint start``) sends its smoke request with an
#: ``InferenceId`` of this prefix: a check of the deployment, not traffic, left out the same way.
SMOKE_INFERENCE_PREFIX = "medtx-smoke-"


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
        record["captureData"]["endpointOutput"]["data"]
    except (ValueError, KeyError, TypeError) as err:
        raise CaptureError(f"not a SageMaker capture record ({err!r}): {line[:120]!r}") from err
    return record


def _inference_id(record: dict[str, Any]) -> str:
    return (record.get("eventMetadata") or {}).get("inferenceId") or ""


def from_batch(record: dict[str, Any]) -> bool:
    """Whether a capture record answers a ``medtx predict`` request."""
    return _inference_id(record).startswith(BATCH_INFERENCE_PREFIX)


def from_smoke(record: dict[str, Any]) -> bool:
    """Whether a capture record answers a deployment's smoke request."""
    return _inference_id(record).startswith(SMOKE_INFERENCE_PREFIX)


def answers_from_line(line: str) -> list[dict[str, Any]]:
    """The predictions of one capture record; ``[]`` for an answer that is not predictions (an error
    the endpoint returned). A line that is not a capture record raises ``CaptureError``."""
    return _answers(_parse(line))


def _answers(record: dict[str, Any]) -> list[dict[str, Any]]:
    output = record["captureData"]["endpointOutput"]
    data = output["data"]
    if output.get("encoding") == "BASE64":
        data = base64.b64decode(data).decode("utf-8", errors="replace")
    try:
        answer = json.loads(data)
    except ValueError:
        return []
    if not isinstance(answer, list):
        return []
    return [
        {"label": item["label"], "score": float(item["score"])}
        for item in answer
        if isinstance(item, dict) and isinstance(item.get("label"), str) and "score" in item
    ]


#: Capture files: their names (keys or paths), ``read(name) -> bytes``, and where they are.
Files = tuple[Iterable[str], Callable[[str], bytes], str]


def s3_files(s3: Any, destination: str, endpoint: str) -> Files:
    """An endpoint's capture files in S3: (their keys, ``read(key)``, where they are)."""
    bucket, key_prefix = prefix(destination, endpoint)

    def keys() -> Iterator[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
        for page in pages:
            yield from (item["Key"] for item in page.get("Contents", []))

    def read(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    return keys(), read, f"s3://{bucket}/{key_prefix}"


def store_files(store: Any, destination: str, endpoint: str) -> Files:
    """The same in a local store (the local endpoint writes SageMaker's layout there)."""
    bucket, key_prefix = prefix(destination, endpoint)
    folder = store.path(f"s3://{bucket}/{key_prefix}")
    paths = (str(path) for path in sorted(folder.rglob("*.jsonl")))  # none when it does not exist
    return paths, lambda path: Path(path).read_bytes(), str(folder)


def read_answers(files: Files, since: datetime) -> dict[str, Any]:
    """Every captured prediction in the files (``s3_files``, ``store_files``) of the hours since
    ``since`` (UTC): a frame of ``label, score``, with how many files and records were read, how
    many records held no prediction and how many answered ``medtx predict`` or a deployment's smoke
    request (both left out)."""
    names, read, location = files
    first_hour = since.astimezone(UTC).strftime("%Y%m%d%H")
    rows: list[dict[str, Any]] = []
    count = records = empty = batch = smoke = 0
    for name in names:
        hour = _HOUR.search(name)
        if not hour or "".join(hour.groups()) < first_hour:
            continue
        count += 1
        for line in filter(None, (text.strip() for text in read(name).decode("utf-8").splitlines())):
            records += 1
            record = _parse(line)
            if from_batch(record):
                batch += 1
                continue
            if from_smoke(record):
                smoke += 1
                continue
            found = _answers(record)
            empty += not found
            rows.extend(found)
    return {
        "answers": pd.DataFrame(rows, columns=["label", "score"]),
        "files": count,
        "records": records,
        "records_without_prediction": empty,
        "batch_records": batch,
        "smoke_records": smoke,
        "location": location,
    }


def no_traffic(read: dict[str, Any], hours: int) -> str:
    """Why a window has no prediction to check (``read_answers``' counts): nothing captured, or
    records the check leaves out or that hold none, each kind counted (a capture tried with ``medtx
    predict`` finds only records it leaves out)."""
    said = f"no captured predictions in the last {hours} h at {read['location']}"
    if not read["records"]:
        return said
    left = []
    if read["batch_records"]:
        left.append(f"{read['batch_records']} from medtx predict")
    if read["smoke_records"]:
        left.append(f"{read['smoke_records']} deploy smoke request(s)")
    kinds = []
    if left:
        kinds.append(
            f"{' and '.join(left)} left out (a scored backlog and a deployment's check are not the "
            "endpoint's traffic)"
        )
    if read["records_without_prediction"]:
        kinds.append(f"{read['records_without_prediction']} holding no prediction")
    return f"{said}: of its {read['records']} record(s), {'; '.join(kinds)}"


def drift(
    answers: pd.DataFrame,
    validation: pd.DataFrame | None,
    review_below: float | None = None,
    review_held_out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The traffic's predicted classes and confidence, beside the served version's validation
    predictions (``model-performance.csv``: ``pred_label``, ``score``) when given, each validation
    text once (a note filed under several specialties is a row per specialty there, and one request
    here); with ``review_below`` too, the review share (``review_figures``, with the evaluation's
    ``review_held_out``: its ``selective.held_out``)."""
    if answers.empty:
        raise CaptureError("no captured predictions in that time")
    traffic = answers["label"].value_counts()
    result: dict[str, Any] = {
        "predictions": len(answers),
        "mean_score": float(answers["score"].mean()),
    }
    if validation is None:
        result["classes"] = [
            {"label": label, "traffic": int(count), "traffic_share": float(count / len(answers))}
            for label, count in traffic.items()
        ]
        return result
    missing = [column for column in ("pred_label", "score", "target_label") if column not in validation]
    if missing:
        raise CaptureError(f"the validation predictions lack the column(s) {', '.join(missing)}")
    result.update(estimate_accuracy(answers["score"].to_numpy(float), validation))
    if "text" in validation:
        validation = validation.drop_duplicates("text")
    expected = validation["pred_label"].value_counts()
    labels = sorted(set(traffic.index) | set(expected.index))
    seen = np.array([traffic.get(label, 0) for label in labels], dtype=float)
    known = np.array([expected.get(label, 0) for label in labels], dtype=float)
    p_traffic = (seen + SMOOTHING) / (seen.sum() + SMOOTHING * len(labels))
    p_known = (known + SMOOTHING) / (known.sum() + SMOOTHING * len(labels))
    classes = [
        {
            "label": label,
            "traffic": int(seen[i]),
            "traffic_share": float(seen[i] / seen.sum()),
            "validation_share": float(known[i] / known.sum()),
            "difference": float(seen[i] / seen.sum() - known[i] / known.sum()),
        }
        for i, label in enumerate(labels)
    ]
    if review_below is not None:
        scores = answers["score"].to_numpy(float)
        result.update(review_figures(scores, validation, review_below, review_held_out))
    result.update(
        validation_texts=len(validation),
        validation_mean_score=float(validation["score"].mean()),
        psi=float(np.sum((p_traffic - p_known) * np.log(p_traffic / p_known))),
        total_variation=float(0.5 * np.abs(seen / seen.sum() - known / known.sum()).sum()),
        classes=sorted(classes, key=lambda c: (-abs(c["difference"]), c["label"])),
    )
    return result


def estimate_accuracy(
    scores: np.ndarray, validation: pd.DataFrame, resamples: int = ESTIMATE_RESAMPLES, seed: int = 0
) -> dict[str, float]:
    """The traffic's accuracy estimated from its top ``scores`` (CBPE, see the module's docstring),
    with an interval, beside the accuracy on ``validation`` (``model-performance.csv``: a row per note
    and specialty, as the evaluation counts accuracy, so a note filed under two specialties is one
    right row and one wrong). How often a score was right is fitted on the validation rows by isotonic
    regression (right more often at a higher score); a traffic score beyond the validation scores
    takes the nearest one's rate.

    The interval (``ESTIMATE_LEVEL``) is where the accuracy of these predictions lies if each score is
    as often right as on validation, allowing for both what the fit does not know and chance: per
    bootstrap resample of the validation notes (a note's rows together), the fit again, and the share
    of the traffic's predictions right when each is right with its fitted rate; the percentiles of
    those shares. Seeded, so one check gives one interval."""
    if validation.empty:
        raise CaptureError("the validation predictions hold no rows")
    score = validation["score"].to_numpy(float)
    right = (validation["pred_label"] == validation["target_label"]).to_numpy(float)
    rates = _right_by_score(score, right).predict(scores)
    rng = np.random.default_rng(seed)
    notes = pd.factorize(validation["text"] if "text" in validation else np.arange(len(validation)))[0]
    rows_of = np.split(np.argsort(notes, kind="stable"), np.cumsum(np.bincount(notes))[:-1])
    shares = np.empty(resamples)
    for i in range(resamples):
        drawn = np.concatenate([rows_of[j] for j in rng.integers(len(rows_of), size=len(rows_of))])
        resampled = _right_by_score(score[drawn], right[drawn]).predict(scores)
        shares[i] = (rng.random(len(scores)) < resampled).mean()
    tail = (1 - ESTIMATE_LEVEL) / 2 * 100
    low, high = np.percentile(shares, [tail, 100 - tail])
    return {
        "estimated_accuracy": float(rates.mean()),
        "estimated_accuracy_low": float(low),
        "estimated_accuracy_high": float(high),
        "validation_accuracy": float(right.mean()),
    }


def review_figures(
    scores: np.ndarray, validation: pd.DataFrame, threshold: float, held_out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The share of the traffic's predictions scored below ``threshold`` (the served version's
    selective-prediction threshold: the lowest score whose validation notes reached the target
    accuracy, ``evaluation.json``'s ``selective.at_accuracy``), the notes a person reviews when the
    model answers the rest, with its Wilson interval at ``ESTIMATE_LEVEL`` (each prediction one
    trial), beside the same share of the validation notes (``validation``: each text once, as the
    traffic sends a note once) and, given the evaluation's ``selective.held_out``, the range that
    share took on notes that did not choose the threshold (one minus the held-out share answered,
    its interval's ends). A larger share in the traffic is more work and, with a lower mean score,
    notes the model is less sure of than it was on validation."""
    from scipy.stats import binomtest

    below = int(np.sum(scores < threshold))
    interval = binomtest(below, len(scores)).proportion_ci(ESTIMATE_LEVEL, method="wilson")
    found: dict[str, Any] = {
        "review_threshold": float(threshold),
        "review_share": below / len(scores),
        "review_share_low": float(interval.low),
        "review_share_high": float(interval.high),
        "validation_review_share": float(np.mean(validation["score"].to_numpy(float) < threshold)),
    }
    if held_out and held_out.get("coverage_interval"):
        fewest, most = held_out["coverage_interval"]
        found.update(held_out_review_share_low=1 - most, held_out_review_share_high=1 - fewest)
    return found


def _right_by_score(score: np.ndarray, right: np.ndarray) -> Any:
    """How often a top score was right, as a non-decreasing function of the score fitted to
    validation rows (scikit-learn's isotonic regression, clipped to the rows' scores)."""
    from sklearn.isotonic import IsotonicRegression

    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    return fitted.fit(score, right)


def reading(result: dict[str, Any]) -> str:
    """The usual reading of the PSI (below 0.1: stable; to 0.25: a moderate shift; above: a major one)."""
    psi = result["psi"]
    if psi < STABLE:
        return f"PSI {psi:.3f}: the predicted classes are distributed as on validation"
    if psi < MAJOR:
        return f"PSI {psi:.3f}: a moderate shift in the predicted classes"
    return f"PSI {psi:.3f}: a major shift in the predicted classes; review the recent notes"


def metric_data(endpoint: str, result: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
    """The figures of ``drift`` as CloudWatch ``MetricData`` (``NAMESPACE``, dimension EndpointName):
    ``CapturedPredictions`` always (0 when the window held none); ``PredictionMeanScore`` when there
    were predictions; ``PredictionPSI``, ``PredictionTotalVariation``, ``PredictionEstimatedAccuracy``
    and the ends of its interval (``...Low``, ``...High``), and ``PredictionReviewShare`` and its
    interval's ends where the served version has a review threshold, only from ``FEW`` predictions on
    and with validation predictions to compare with, so an alarm on them never fires on a handful of
    requests."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint}]
    figures = [("CapturedPredictions", result.get("predictions", 0), "Count")]
    if result.get("predictions"):
        figures.append(("PredictionMeanScore", result["mean_score"], "None"))
    if _shift_figures(result):
        figures += [
            ("PredictionPSI", result["psi"], "None"),
            ("PredictionTotalVariation", result["total_variation"], "None"),
            ("PredictionEstimatedAccuracy", result["estimated_accuracy"], "None"),
            ("PredictionEstimatedAccuracyLow", result["estimated_accuracy_low"], "None"),
            ("PredictionEstimatedAccuracyHigh", result["estimated_accuracy_high"], "None"),
        ]
        if "review_share" in result:
            figures += [
                ("PredictionReviewShare", result["review_share"], "None"),
                ("PredictionReviewShareLow", result["review_share_low"], "None"),
                ("PredictionReviewShareHigh", result["review_share_high"], "None"),
            ]
    return [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": float(value), "Unit": unit}
        for name, value, unit in figures
    ]


def _shift_figures(result: dict[str, Any]) -> bool:
    """Whether the PSI and total variation are figures to publish: compared with validation, from
    ``FEW`` predictions on."""
    return "psi" in result and result["predictions"] >= FEW


def history_rows(result: dict[str, Any], at: datetime) -> pd.DataFrame:
    """One check (``drift``'s result with ``endpoint``, ``model_package``, ``hours``) as rows of the
    history: one per predicted class, or one without a label for a window without predictions."""
    shift = _shift_figures(result)
    check = {
        "checked_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z"),
        "endpoint": result["endpoint"],
        "model_package": result.get("model_package") or "",
        "hours": result["hours"],
        "predictions": result["predictions"],
        "psi": result["psi"] if shift else None,
        "total_variation": result["total_variation"] if shift else None,
        "mean_score": result.get("mean_score"),
        "validation_mean_score": result.get("validation_mean_score"),
        "estimated_accuracy": result.get("estimated_accuracy"),
        "estimated_accuracy_low": result.get("estimated_accuracy_low"),
        "estimated_accuracy_high": result.get("estimated_accuracy_high"),
        "validation_accuracy": result.get("validation_accuracy"),
        **{column: result.get(column) for column in REVIEW_COLUMNS},
    }
    classes = result.get("classes") or [{"label": "", "traffic": 0}]
    rows = [{**check, **{k: c.get(k) for k in CLASS_COLUMNS}} for c in classes]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def parse_history(data: bytes, where: str = "the drift history") -> pd.DataFrame:
    """A history CSV as text columns, refused (``CaptureError``) when it is not one of ours; one in
    an earlier layout (``OLDER_LAYOUTS``) gains the columns it lacks, empty."""
    try:
        kept = pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype=str)
    except ValueError as err:
        raise CaptureError(f"{where} is not a CSV: {err}") from err
    if tuple(kept.columns) in OLDER_LAYOUTS:
        kept = kept.reindex(columns=list(HISTORY_COLUMNS), fill_value="")
    if tuple(kept.columns) != HISTORY_COLUMNS:
        raise CaptureError(
            f"{where} has the columns {', '.join(kept.columns)}; expected {', '.join(HISTORY_COLUMNS)}"
        )
    return kept


def merge_history(previous: bytes | None, rows: pd.DataFrame) -> bytes:
    """The history CSV with ``rows`` in place of any earlier rows of their check hour and endpoint."""
    if previous:
        kept = parse_history(previous)
        check = rows.iloc[0]
        same = (kept["checked_at"] == check["checked_at"]) & (kept["endpoint"] == check["endpoint"])
        kept = kept[~same]
    else:
        kept = pd.DataFrame(columns=list(HISTORY_COLUMNS))
    fresh = pd.read_csv(io.StringIO(rows.to_csv(index=False)), keep_default_na=False, dtype=str)
    merged = pd.concat([kept, fresh], ignore_index=True)
    return merged.sort_values(["checked_at", "endpoint", "label"], kind="stable").to_csv(index=False).encode()


def _s3_history(s3: Any, bucket: str) -> bytes | None:
    """The history at ``HISTORY_KEY`` in ``bucket``; None before the first published check."""
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=HISTORY_KEY)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        return None


def write_history(s3: Any, bucket: str, rows: pd.DataFrame) -> str:
    """Add one check's rows to the history at ``HISTORY_KEY`` in ``bucket``; returns its URI."""
    previous = _s3_history(s3, bucket)
    s3.put_object(Bucket=bucket, Key=HISTORY_KEY, Body=merge_history(previous, rows), ContentType="text/csv")
    return f"s3://{bucket}/{HISTORY_KEY}"


def upgrade_history(s3: Any, bucket: str) -> tuple[str, tuple[str, ...]] | None:
    """Rewrite a history in an earlier layout with the columns it lacks (empty for its checks), as
    the next published check would; returns its URI and those columns when it did. ``medtx
    quicksight`` calls it before it gives the dataset those columns, so the dataset never reads an
    older layout."""
    body = _s3_history(s3, bucket)
    if body is None:
        return None
    added = OLDER_LAYOUTS.get(tuple(pd.read_csv(io.BytesIO(body), nrows=0).columns))
    if added is None:
        return None
    upgraded = parse_history(body).to_csv(index=False).encode()
    s3.put_object(Bucket=bucket, Key=HISTORY_KEY, Body=upgraded, ContentType="text/csv")
    return f"s3://{bucket}/{HISTORY_KEY}", added


def store_history(store: Any, bucket: str, rows: pd.DataFrame) -> str:
    """The same in a local store (``endpoint predictions --publish`` of a local endpoint)."""
    path = store.path(f"s3://{bucket}/{HISTORY_KEY}")
    merged = merge_history(path.read_bytes() if path.is_file() else None, rows)
    return str(store.put_bytes(f"s3://{bucket}/{HISTORY_KEY}", merged))  # never half a history


def read_history(store: Any) -> pd.DataFrame:
    """Every drift history in a local store (any bucket), typed: ``checked_at`` a UTC time, the
    figures numbers (NaN where a check had none); an empty frame when no check was published."""
    frames = [
        _typed_history(parse_history(path.read_bytes(), str(path)), str(path))
        for path in sorted(store.root.glob(f"*/{HISTORY_KEY}"))
        if not path.relative_to(store.root).parts[0].startswith("_")  # the service's records, not a bucket
    ]
    if not frames:
        return _typed_history(pd.DataFrame(columns=list(HISTORY_COLUMNS)), "")
    return pd.concat(frames, ignore_index=True)


def _typed_history(history: pd.DataFrame, where: str) -> pd.DataFrame:
    text = ("endpoint", "model_package", "label")
    try:
        history["checked_at"] = pd.to_datetime(history["checked_at"], utc=True, format="ISO8601")
        for column in (c for c in HISTORY_COLUMNS if c not in text and c != "checked_at"):
            history[column] = pd.to_numeric(history[column].replace("", np.nan)).astype(float)
    except ValueError as err:
        raise CaptureError(f"{where}: {err}") from err
    return history
