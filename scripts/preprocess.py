"""Preprocess: raw Kaggle-layout mtsamples CSV -> tokenized, leak-free train/validation sets.

Runs as a SageMaker ProcessingStep and as plain Python (``python scripts/preprocess.py --help``).

Policy, in order (every removed row is counted in ``report/data-report.json``):

1. Labels and texts are stripped (whitespace collapsed). Rows with an empty transcription or an
   empty label are dropped.
2. Optionally the document-type labels (Surgery, Discharge Summary, ...) are dropped.
3. Class rule: keep classes with at least ``min_class_samples`` rows, counted on the rows left after
   steps 1-2 and before duplicate handling (the reference design's counting: on mtsamples 23
   classes, 4,694 rows). ``num_classes`` must be met; extra classes beyond it keep the largest.
4. Duplicates: repeated (transcription, label) pairs are dropped, the first row kept (with the
   description or sample name among ``text_fields``, whatever those say). The same note filed under
   several labels is *kept once per label*: these are genuine multi-label notes (a note filed under
   Surgery and Orthopedic), and choosing one label would invent information the data lacks.
5. Split: ``StratifiedGroupKFold`` grouped by transcription, so no transcription appears on both
   sides (all of a note's labels land on the same side; with ``text_fields`` that add the description
   or sample name, all of its rows whatever those say), stratified as far as grouping allows, seeded.

The model text joins ``text_fields`` in order (``join_fields``: ``description | transcription``);
the endpoint joins a request's fields the same way. With ``fields_window`` the fields before the
transcription are one model input of their own rather than the start of the first window
(``encode_texts``). ``keywords`` is never used as an input: it spells out the label.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import shutil
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtx_common import (
    CLASS_WEIGHTS_FILE,
    DATA_REPORT_FILE,
    LOG,
    PREPROCESSED_CSV,
    VALIDATION_CSV,
    InputError,
    TextEncoding,
    clean_text,
    drop_line_break_commas,
    encode_texts,
    join_fields,
    load_tokenizer,
    parse_bool,
    resolve_file,
    run_cli,
    save_label_map,
    setup_logging,
    write_json,
)
from medtx_config import (
    DOCUMENT_TYPE_LABELS,
    INPUT_PATTERNS,
    LONG_TEXT_MODES,
    TEXT_FIELDS,
    DataConfig,
    TrainConfig,
    text_fields_problem,
)

LABEL_COLUMN = "medical_specialty"
REQUIRED_COLUMNS = ("description", LABEL_COLUMN, "sample_name", "transcription")


@dataclass
class DataReport:
    """Counts of what happened to the rows, written as ``data-report.json``."""

    input_file: str = ""
    #: What identifies the input's contents (``--input-version``: the pipeline's ``InputDataVersion``,
    #: a digest of the objects ``medtx start`` found); ``unversioned`` when the starter named none.
    input_version: str = "unversioned"
    rows_in: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_classes: dict[str, int] = field(default_factory=dict)
    class_counts_raw: dict[str, int] = field(default_factory=dict)
    class_counts_kept: dict[str, int] = field(default_factory=dict)
    duplicate_rows_dropped: int = 0
    conflicting_texts: int = 0
    conflicting_rows: int = 0
    distinct_texts: int = 0
    rows_out: int = 0
    split: dict[str, Any] = field(default_factory=dict)
    #: How texts were tokenized, and the model inputs per split (more than rows with ``chunks``).
    encoding: dict[str, Any] = field(default_factory=dict)
    model_inputs: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, count: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + int(count)


GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def read_raw_csv(given: str | Path) -> pd.DataFrame:
    """Read a Kaggle-layout CSV, or a gzip file or zip archive holding one; one clear ``InputError``
    for anything unreadable or incomplete."""
    path = resolve_file(given, *INPUT_PATTERNS)
    raw, source = uncompressed(path.read_bytes(), path)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a spreadsheet's byte-order mark
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); "
            "re-save the file as UTF-8"
        ) from exc
    check_records(text, source)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{source}: unreadable CSV ({str(exc).strip()})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns if not str(c).startswith("Unnamed")]
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(found)}")
    first = str(frame.columns[0])
    if first == "" or first.startswith("Unnamed"):
        frame = frame.rename(columns={frame.columns[0]: "row_id"})
    else:
        frame.insert(0, "row_id", [str(i) for i in range(len(frame))])
    if frame.empty:
        raise InputError(f"{source}: no data rows")
    frame.attrs["source"] = source
    return frame


def uncompressed(raw: bytes, path: Path) -> tuple[bytes, str]:
    """The CSV's bytes: ``raw`` itself, or what the gzip file or zip archive ``raw`` is holds (told by
    its first bytes, not its name: a local run stores ``--data`` under the pipeline's input key); and
    how errors name the CSV: ``path``, or ``path (member)`` for a zip archive's."""
    if raw.startswith(GZIP_MAGIC):
        try:
            return gzip.decompress(raw), str(path)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: a broken gzip file ({exc})") from exc
    if not raw.startswith(ZIP_MAGIC):
        return raw, str(path)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            files = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
            csvs = [n for n in files if n.lower().endswith(".csv")]
            if len(csvs) != 1:
                raise InputError(
                    f"{path}: a zip archive must hold exactly one .csv file; it holds "
                    f"{', '.join(files) or 'no files'}"
                )
            return archive.read(csvs[0]), f"{path} ({csvs[0]})"
    # an encrypted member raises RuntimeError, a compression method zipfile lacks NotImplementedError
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
        raise InputError(f"{path}: an unreadable zip archive ({exc})") from exc


def check_records(text: str, path: str | Path, shown: int = 5) -> None:
    """One ``InputError`` when a record of the CSV does not have the header's number of fields or a
    quote is stray or left open: pandas pads a short row with empty fields (it would reach the data
    report as an "empty transcription", not as the broken line it is) and reads a stray quote into
    the text."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    uneven: list[str] = []
    count = row = 0
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(
                f"{path}: unreadable CSV in the record starting on line {start} ({exc}): "
                "a stray or unclosed quote?"
            ) from exc
        if header is None:
            header = record
            check_delimiter(header, path)
        elif record:  # a blank line is no record, for pandas too
            row += 1
            if len(record) != len(header):
                count += 1
                if len(uneven) < shown:
                    uneven.append(f"row {row} (line {start}) has {len(record)}")
    if count:
        more = f", and {count - len(uneven)} more" if count > len(uneven) else ""
        raise InputError(
            f"{path}: {count} row(s) without the header's {len(header or [])} fields: "
            f"{'; '.join(uneven)}{more} (a broken quote or line break?)"
        )


#: Separators a spreadsheet may save a "CSV" with instead of the comma this reads.
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}


def check_delimiter(header: list[str], path: str | Path) -> None:
    """One ``InputError`` when the header is a single field that another separator would split into
    several (a spreadsheet's ``;``-separated export): every row would otherwise be reported as
    having the wrong number of fields."""
    if len(header) != 1:
        return
    counts = {sep: header[0].count(sep) for sep in OTHER_DELIMITERS}
    sep = max(counts, key=counts.__getitem__)
    if counts[sep]:
        raise InputError(
            f"{path}: the header is one field split by {OTHER_DELIMITERS[sep]} ({header[0][:80]!r}); "
            "the file must be comma-separated: re-save it as CSV with commas"
        )


def build_text(frame: pd.DataFrame, text_fields: Sequence[str]) -> pd.Series:
    """Join the configured fields into the model input (``join_fields``: the endpoint joins a
    request's fields the same way); refuses leaky or unknown fields."""
    problem = text_fields_problem(list(text_fields))
    if problem:
        raise InputError(problem)
    columns = [frame[f].tolist() for f in text_fields]
    return pd.Series([join_fields(values) for values in zip(*columns, strict=True)], index=frame.index)


def select_classes(counts: pd.Series, cfg: DataConfig) -> list[str]:
    """Apply the class rule to per-class row counts; returns kept labels, largest first."""
    eligible = counts[counts >= cfg.min_class_samples].sort_index()
    eligible = eligible.sort_values(ascending=False, kind="stable")
    if cfg.num_classes is not None:
        if len(eligible) < cfg.num_classes:
            raise InputError(
                f"only {len(eligible)} classes have >= {cfg.min_class_samples} rows, "
                f"{cfg.num_classes} asked for; lower --min-class-samples or --num-classes (in the "
                "pipeline: --param MinClassSamples=N, --set data__num_classes=N, or none for every "
                "class with enough rows)"
            )
        eligible = eligible.iloc[: cfg.num_classes]
    if len(eligible) < 2:
        raise InputError(
            f"{len(eligible)} class(es) have >= {cfg.min_class_samples} rows; at least 2 are needed"
        )
    return list(eligible.index)


def clean(frame: pd.DataFrame, cfg: DataConfig, report: DataReport) -> pd.DataFrame:
    """Steps 1-4 of the module policy. Returns rows with ``label``, ``label_name`` and ``text``."""
    report.rows_in = len(frame)
    df = frame.copy()
    df[LABEL_COLUMN] = df[LABEL_COLUMN].map(clean_text)
    df["text"] = build_text(df, cfg.text_fields)
    df["transcription"] = df["transcription"].map(clean_text)
    report.class_counts_raw = df[LABEL_COLUMN].value_counts().sort_index().astype(int).to_dict()

    empty_text = df["transcription"] == ""
    report.drop("empty_transcription", empty_text.sum())
    df = df[~empty_text]
    empty_label = df[LABEL_COLUMN] == ""
    report.drop("empty_label", empty_label.sum())
    df = df[~empty_label]

    if cfg.drop_document_types:
        doc_type = df[LABEL_COLUMN].isin(DOCUMENT_TYPE_LABELS)
        report.drop("document_type_label", doc_type.sum())
        df = df[~doc_type]

    counts = df[LABEL_COLUMN].value_counts()
    kept = select_classes(counts, cfg)
    rare = ~df[LABEL_COLUMN].isin(kept)
    report.drop("class_below_rule", rare.sum())
    report.dropped_classes = counts[~counts.index.isin(kept)].sort_index().astype(int).to_dict()
    df = df[~rare]

    # A note is its transcription: with text_fields that add the description or sample name, the same
    # note and label under another description is still a repeat (the first row's fields are kept),
    # so every choice of fields keeps the same rows and, grouped by transcription, the same split.
    duplicated = df.duplicated(subset=["transcription", LABEL_COLUMN], keep="first")
    report.duplicate_rows_dropped = int(duplicated.sum())
    report.drop("duplicate_text_and_label", duplicated.sum())
    df = df[~duplicated]

    labels_per_text = df.groupby("transcription")[LABEL_COLUMN].transform("nunique")
    report.conflicting_rows = int((labels_per_text > 1).sum())
    report.conflicting_texts = int(df.loc[labels_per_text > 1, "transcription"].nunique())
    report.distinct_texts = int(df["text"].nunique())

    label_names = sorted(kept)
    df = df.assign(label_name=df[LABEL_COLUMN], label=df[LABEL_COLUMN].map(label_names.index))
    report.class_counts_kept = df["label_name"].value_counts().sort_index().astype(int).to_dict()
    report.rows_out = len(df)
    return df.reset_index(drop=True)


def grouped_split(
    labels: np.ndarray, groups: Sequence[str], validation_fraction: float, seed: int
) -> np.ndarray:
    """Boolean mask of validation rows: no group on both sides, stratified by label, seeded."""
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0.0 < validation_fraction < 0.5:
        raise InputError(f"validation fraction must be in (0, 0.5), got {validation_fraction}")
    n_splits = max(2, round(1.0 / validation_fraction))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, val_idx = next(splitter.split(np.zeros(len(labels)), labels, groups=list(groups)))
    mask = np.zeros(len(labels), dtype=bool)
    mask[val_idx] = True
    return mask


def split_key(text: str) -> str:
    """What must not be on both sides of the split: the text without case, whitespace and the
    scrape's line-break commas (``CHIEF COMPLAINT: ,`` and ``CHIEF COMPLAINT:,`` are one text)."""
    return drop_line_break_commas(text).lower().replace(" ", "")  # whitespace is single spaces by then


def split_frame(df: pd.DataFrame, cfg: DataConfig, report: DataReport) -> pd.DataFrame:
    """Add a ``split`` column (train/validation); a class that cannot be on both sides is an error."""
    # The groups are the transcriptions, not the model input: with ``text_fields`` that put the
    # description (or sample name) in front, one note filed with two descriptions is two texts, and
    # grouping by text could put it on both sides. With the transcription alone the two are the same.
    notes = df["transcription"]
    texts_per_class = notes.groupby(df["label_name"]).nunique()
    too_small = texts_per_class[texts_per_class < 2]
    if not too_small.empty:
        raise InputError(
            "class(es) too small to split (fewer than 2 distinct transcriptions): "
            + ", ".join(f"{k} ({v})" for k, v in too_small.items())
        )
    is_val = grouped_split(df["label"].to_numpy(), notes, cfg.validation_fraction, cfg.split_seed)
    # Notes a model reads alike (they differ in case, spacing or the scrape's line-break commas) are
    # one group too; the splitter's groups stay the exact transcriptions, so the split of every other
    # row does not depend on this, and such a note's validation rows join its training rows.
    key = notes.map(split_key)
    straddling = key.isin(set(key[is_val]) & set(key[~is_val]))
    moved = int((straddling & is_val).sum())
    is_val = is_val & ~straddling.to_numpy()
    df = df.assign(split=np.where(is_val, "validation", "train"))
    sides = df.groupby("label_name")["split"].nunique()
    one_sided = sides[sides < 2]
    if not one_sided.empty:
        raise InputError(
            "class(es) too small to split into train and validation: "
            + ", ".join(one_sided.index)
            + "; add data, raise --min-class-samples or lower --validation-fraction"
        )
    shared = set(key[is_val]) & set(key[~is_val])
    assert not shared, "grouped split put a transcription on both sides"  # guaranteed above
    report.split = {
        "method": f"StratifiedGroupKFold(n_splits={max(2, round(1 / cfg.validation_fraction))}, "
        f"shuffle=True, random_state={cfg.split_seed}), first fold, grouped by transcription; validation "
        "rows whose transcription differs from a training one only in case, spacing or line-break commas "
        "moved to train",
        "near_duplicate_rows_moved_to_train": moved,
        "train_rows": int((~is_val).sum()),
        "validation_rows": int(is_val.sum()),
        "train_texts": int(df.loc[~is_val, "text"].nunique()),
        "validation_texts": int(df.loc[is_val, "text"].nunique()),
        "texts_on_both_sides": len(shared),  # 0: asserted above
        "validation_counts": df.loc[is_val, "label_name"].value_counts().sort_index().astype(int).to_dict(),
    }
    return df


def class_weights(labels: np.ndarray, num_labels: int) -> list[float]:
    """``compute_class_weight('balanced')`` over the full label set, in label-id order."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(num_labels)
    missing = sorted(int(c) for c in set(classes) - set(np.unique(labels)))
    if missing:
        raise InputError(f"label id(s) {missing} have no training rows; cannot weight them")
    return [float(w) for w in compute_class_weight("balanced", classes=classes, y=labels)]


def tokenize_split(df: pd.DataFrame, tokenizer: Any, encoding: TextEncoding):
    """Tokenize without padding (the training collator pads each batch to its own longest row).

    One dataset row per model input: with ``long_text=chunks`` a long note gives several rows, each
    with the note's label and its row position in ``doc``.
    """
    from datasets import Dataset

    encoded = encode_texts(tokenizer, df["text"].tolist(), encoding)
    labels = df["label"].astype(int).to_numpy()
    encoded["labels"] = [int(labels[d]) for d in encoded["doc"]]
    return Dataset.from_dict(encoded)


def write_outputs(
    df: pd.DataFrame, report: DataReport, output_dir: Path, model_name: str, encoding: TextEncoding
) -> None:
    """Write the datasets, label map, class weights, EDA and validation CSVs, and the report."""
    label_names = sorted(df["label_name"].unique())
    train = df[df["split"] == "train"]
    val = df[df["split"] == "validation"]
    tokenizer = load_tokenizer(model_name)
    report.encoding = asdict(encoding)
    for name, part in (("train", train), ("test", val)):
        folder = output_dir / name
        dataset = tokenize_split(part, tokenizer, encoding)
        dataset.save_to_disk(str(folder))
        save_label_map(folder, label_names)
        encoding.save(folder)
        report.model_inputs[name] = len(dataset)
    write_json(
        output_dir / "train" / CLASS_WEIGHTS_FILE,
        {"labels": label_names, "weights": class_weights(train["label"].to_numpy(), len(label_names))},
    )

    eda = df.assign(text_words=df["text"].str.split().str.len())[
        ["row_id", "description", "sample_name", "label_name", "label", "text", "text_words", "split"]
    ].rename(columns={"label_name": LABEL_COLUMN})
    (output_dir / "pre-processed").mkdir(parents=True, exist_ok=True)
    eda.to_csv(output_dir / "pre-processed" / PREPROCESSED_CSV, index=False)

    (output_dir / "eval").mkdir(parents=True, exist_ok=True)
    val[["row_id", "text", "label", "label_name"]].rename(
        columns={"label": "target", "label_name": "target_label"}
    ).to_csv(output_dir / "eval" / VALIDATION_CSV, index=False)

    write_json(output_dir / "report" / DATA_REPORT_FILE, report.__dict__)


def publish(output_dir: Path, publish_dir: Path) -> None:
    """Copy what dashboards and later runs read to the reference design's stable layout:
    ``train/``, ``test/``, ``pre-processed/pre-processed.csv``, ``pre-processed/eval/validation.csv``."""
    for name in ("train", "test"):
        shutil.copytree(output_dir / name, publish_dir / name, dirs_exist_ok=True)
    (publish_dir / "pre-processed" / "eval").mkdir(parents=True, exist_ok=True)
    shutil.copy2(
        output_dir / "pre-processed" / PREPROCESSED_CSV, publish_dir / "pre-processed" / PREPROCESSED_CSV
    )
    shutil.copy2(
        output_dir / "eval" / VALIDATION_CSV, publish_dir / "pre-processed" / "eval" / VALIDATION_CSV
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    data, train = DataConfig(), TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input",
        default=os.environ.get("MEDTX_INPUT", "/opt/ml/processing/input/data"),
        help="raw CSV, or a folder holding exactly one CSV",
    )
    parser.add_argument(
        "--input-version",
        default="unversioned",
        help="what identifies the input's contents (recorded in the data report; in the step's cache key)",
    )
    parser.add_argument(
        "--output-dir",
        default="/opt/ml/processing/output",
        help="writes train/, test/, pre-processed/, eval/ and report/ here",
    )
    parser.add_argument(
        "--publish-dir", default="", help="also copy the dashboard-facing files here (stable S3 keys)"
    )
    parser.add_argument("--model-name", default=train.model_name, help="tokenizer: hub id or folder")
    parser.add_argument("--max-length", type=int, default=train.max_length, help="tokens per model input")
    parser.add_argument(
        "--long-text",
        default=train.long_text,
        choices=LONG_TEXT_MODES,
        help="how notes longer than --max-length become model input",
    )
    parser.add_argument(
        "--head-tokens", type=int, default=train.head_tokens, help="head_tail: tokens from the start"
    )
    parser.add_argument(
        "--chunk-stride", type=int, default=train.chunk_stride, help="chunks: tokens shared by neighbours"
    )
    parser.add_argument("--max-chunks", type=int, default=train.max_chunks, help="chunks: windows per note")
    parser.add_argument(
        "--drop-line-break-commas",
        type=parse_bool,
        default=train.drop_line_break_commas,
        help="drop the commas the scrape left where the notes had line breaks (true/false)",
    )
    parser.add_argument(
        "--headings-window",
        type=parse_bool,
        default=train.headings_window,
        help="chunks: one more model input per note listing its section headings (true/false)",
    )
    parser.add_argument(
        "--fields-window",
        type=parse_bool,
        default=train.fields_window,
        help="chunks: the text fields before the transcription as one model input of their own (true/false)",
    )
    parser.add_argument("--min-class-samples", type=int, default=data.min_class_samples)
    parser.add_argument(
        "--num-classes", type=int, default=data.num_classes, help="0 keeps every class that passes"
    )
    parser.add_argument(
        "--drop-document-types",
        default=str(data.drop_document_types).lower(),
        choices=["true", "false"],
        help="drop Surgery, Discharge Summary and the other document-type labels first",
    )
    parser.add_argument("--validation-fraction", type=float, default=data.validation_fraction)
    parser.add_argument("--split-seed", type=int, default=data.split_seed)
    parser.add_argument(
        "--text-fields",
        default=",".join(data.text_fields),
        help=f"comma-separated, among {', '.join(TEXT_FIELDS)}",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> DataConfig:
    try:
        return DataConfig(
            min_class_samples=args.min_class_samples,
            num_classes=args.num_classes or None,
            drop_document_types=args.drop_document_types == "true",
            validation_fraction=args.validation_fraction,
            split_seed=args.split_seed,
            text_fields=tuple(f.strip() for f in args.text_fields.split(",") if f.strip()),
        )
    except ValueError as err:
        raise InputError(f"--text-fields: {err}") from err


def main(argv: Sequence[str] | None = None) -> DataReport:
    setup_logging()
    args = parse_args(argv)
    cfg = config_from_args(args)
    encoding = TextEncoding.from_config(args, cfg.text_fields)  # checked before any work
    frame = read_raw_csv(args.input)
    report = DataReport(input_file=frame.attrs["source"], input_version=args.input_version)
    df = split_frame(clean(frame, cfg, report), cfg, report)
    write_outputs(df, report, Path(args.output_dir), args.model_name, encoding)
    if args.publish_dir:
        publish(Path(args.output_dir), Path(args.publish_dir))
    LOG.info(
        "rows in %d, out %d (%d classes); dropped %s; %d texts with conflicting labels kept per label; "
        "train %d / validation %d rows, no transcription on both sides; model inputs %s (%s)",
        report.rows_in,
        report.rows_out,
        len(report.class_counts_kept),
        report.dropped,
        report.conflicting_texts,
        report.split["train_rows"],
        report.split["validation_rows"],
        report.model_inputs,
        report.encoding["long_text"],
    )
    return report


if __name__ == "__main__":
    run_cli(main)
