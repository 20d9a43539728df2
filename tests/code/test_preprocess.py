"""Cleaning rule, leak-free split, class weights and input errors of scripts/preprocess.py."""

from __future__ import annotations

import gzip
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import kaggle_frame

from medtx_common import InputError
from medtx_config import DataConfig
from preprocess import (
    DataReport,
    build_text,
    class_weights,
    clean,
    grouped_split,
    read_raw_csv,
    select_classes,
    split_frame,
    split_key,
)


def _rows(spec: dict[str, int]) -> list[tuple[str, str]]:
    return [(label, f"{label} note number {i}") for label, n in spec.items() for i in range(n)]


def test_read_raw_csv_names_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(",description,transcription\n0,a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv: missing column\(s\) medical_specialty, sample_name"):
        read_raw_csv(path)
    path.write_text("a,b\n1,2\n", encoding="utf-8")  # the file's own columns, not the index it is given
    with pytest.raises(InputError, match=r"missing column\(s\) description, .*; found a, b$"):
        read_raw_csv(path)


def test_read_raw_csv_rejects_non_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(
        ",description,medical_specialty,sample_name,transcription\n0,caf\xe9,A,s,t\n".encode("latin-1")
    )
    with pytest.raises(InputError, match=r"latin\.csv: not UTF-8"):
        read_raw_csv(path)


def test_read_raw_csv_rejects_unparseable(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('a,b\n"unterminated,1\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.csv: unreadable CSV"):
        read_raw_csv(path)


HEADER = ",description,medical_specialty,sample_name,transcription,keywords\n"


def test_read_raw_csv_names_rows_without_the_headers_fields(tmp_path):
    """pandas pads a short row with empty fields; it is a broken line, not an empty transcription."""
    path = tmp_path / "ragged.csv"
    good = '0,d,Surgery,s,"a note, with a comma\nand a line break",k\n'
    path.write_text(HEADER + good + "1,d,Surgery,s\n\n2,d,Surgery,s,t,k,extra\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_raw_csv(path)
    assert str(caught.value) == (
        f"{path}: 2 row(s) without the header's 6 fields: row 2 (line 4) has 4; row 3 (line 6) has 7 "
        "(a broken quote or line break?)"
    )


def test_read_raw_csv_names_a_stray_quote(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(HEADER + '0,d,Surgery,s,"a note" ends here,k\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"quote\.csv: unreadable CSV in the record starting on line 2"):
        read_raw_csv(path)


@pytest.mark.parametrize(("sep", "named"), [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")])
def test_read_raw_csv_names_another_separator(tmp_path, sep, named):
    path = tmp_path / "export.csv"
    path.write_text(HEADER.replace(",", sep) + sep.join(["0", "d", "Surgery", "s", "t, u", "k"]) + "\n")
    with pytest.raises(InputError) as caught:
        read_raw_csv(path)
    assert str(caught.value).startswith(f"{path}: the header is one field split by {named} (")
    assert str(caught.value).endswith("the file must be comma-separated: re-save it as CSV with commas")


def test_read_raw_csv_takes_a_one_column_header_without_other_separators(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("transcription\na note\n")
    with pytest.raises(InputError, match=r"missing column\(s\) description, medical_specialty"):
        read_raw_csv(path)


def test_read_raw_csv_ignores_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER[1:].encode() + b"d,Surgery,s,t,k\n")
    frame = read_raw_csv(path)
    assert frame.loc[0, "description"] == "d" and frame.loc[0, "row_id"] == "0"


def test_read_raw_csv_missing_file_and_ambiguous_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_raw_csv(tmp_path / "nope.csv")
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    with pytest.raises(InputError, match="expected exactly one file"):
        read_raw_csv(tmp_path)


def test_read_raw_csv_reads_the_csv_a_gzip_file_or_zip_archive_holds(tmp_path):
    """Kaggle's download of mtsamples is a zip archive of the CSV: read as the CSV, whatever the
    compressed file is called (a local run stores --data under the pipeline's input key), and
    found in a folder (SageMaker's processing input) by either name."""
    csv_path = tmp_path / "plain.csv"
    kaggle_frame(_rows({"Surgery": 3, "Urology": 2})).to_csv(csv_path)
    plain = read_raw_csv(csv_path)
    gz = tmp_path / "gz" / "mtsamples.csv.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))
    zipped = tmp_path / "zip" / "archive.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/", "")
        archive.writestr("__MACOSX/data/._mtsamples.csv", b"\x00\x05")
        archive.writestr("data/mtsamples.csv", csv_path.read_bytes())
    renamed = tmp_path / "dataset.csv"
    renamed.write_bytes(zipped.read_bytes())
    for given, source in [
        (gz, str(gz)),
        (gz.parent, str(gz)),
        (zipped.parent, f"{zipped} (data/mtsamples.csv)"),
        (renamed, f"{renamed} (data/mtsamples.csv)"),
    ]:
        frame = read_raw_csv(given)
        pd.testing.assert_frame_equal(frame, plain)
        assert frame.attrs["source"] == source


def test_read_raw_csv_names_a_compressed_file_it_cannot_read(tmp_path):
    header = HEADER.encode()
    cases = {
        "two.zip": (
            {"a.csv": header, "b/c.CSV": header},
            "a zip archive must hold exactly one .csv file; it holds a.csv, b/c.CSV",
        ),
        "none.zip": (
            {"notes.txt": b"x"},
            "a zip archive must hold exactly one .csv file; it holds notes.txt",
        ),
    }
    for name, (members, told) in cases.items():
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for member, body in members.items():
                archive.writestr(member, body)
        with pytest.raises(InputError) as caught:
            read_raw_csv(path)
        assert str(caught.value) == f"{path}: {told}"
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(InputError, match=r"broken\.zip: an unreadable zip archive \("):
        read_raw_csv(broken_zip)
    broken_gz = tmp_path / "broken.csv.gz"
    broken_gz.write_bytes(gzip.compress(header * 50)[:-30])  # cut short
    with pytest.raises(InputError, match=r"broken\.csv\.gz: a broken gzip file \("):
        read_raw_csv(broken_gz)
    latin = tmp_path / "latin.zip"  # what the CSV inside gets wrong is named by the archive and member
    with zipfile.ZipFile(latin, "w") as archive:
        archive.writestr("mtsamples.csv", header + "0,caf\xe9,A,s,t,k\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.zip \(mtsamples\.csv\): not UTF-8"):
        read_raw_csv(latin)


def test_a_model_that_loads_nothing_here_is_one_input_error(tmp_path):
    """A typo in ModelName (or a hub id without the hub) ended the first step with transformers'
    chained tracebacks; it is one error naming the model and what loads offline."""
    from medtx_common import OFFLINE_MODEL_ID, load_tokenizer

    with pytest.raises(InputError, match=r"model 'no-such-org/no-such-model' cannot be loaded here: ") as err:
        load_tokenizer("no-such-org/no-such-model")
    assert f"(offline: a model folder, or the shipped {OFFLINE_MODEL_ID})" in str(err.value)
    with pytest.raises(InputError, match="cannot be loaded here"):
        load_tokenizer(str(tmp_path / "no-such-folder"))
    assert load_tokenizer(OFFLINE_MODEL_ID).is_fast  # the shipped copy


def test_read_raw_csv_keeps_kaggle_index_as_row_id(write_csv):
    frame = read_raw_csv(write_csv(kaggle_frame([("A", "x"), ("B", "y")])))
    assert frame["row_id"].tolist() == ["0", "1"]


def test_build_text_refuses_keywords():
    frame = kaggle_frame([("A", "text")])
    with pytest.raises(InputError, match="keywords leak the label"):
        build_text(frame, ["transcription", "keywords"])


def test_build_text_joins_fields_and_collapses_whitespace():
    frame = kaggle_frame([("A", "  chest   pain \n")])
    assert build_text(frame, ["description", "transcription"]).tolist() == ["desc 0 | chest pain"]


@pytest.mark.parametrize(
    ("min_samples", "num_classes", "expected"),
    [(3, None, ["A", "B", "C"]), (3, 2, ["A", "B"]), (4, None, ["A", "B"]), (1, None, ["A", "B", "C", "D"])],
)
def test_select_classes(min_samples, num_classes, expected):
    counts = pd.Series({"A": 5, "B": 4, "C": 3, "D": 1})
    cfg = DataConfig(min_class_samples=min_samples, num_classes=num_classes)
    assert select_classes(counts, cfg) == expected


def test_select_classes_fewer_than_asked_is_an_error():
    counts = pd.Series({"A": 50, "B": 40, "C": 3})
    with pytest.raises(InputError, match="only 2 classes have >= 30 rows, 23 asked for"):
        select_classes(counts, DataConfig())


def test_clean_counts_every_dropped_row():
    rows = _rows({"A": 4, "B": 4, "Rare": 1})
    rows += [("A", "   "), ("A", "A note number 0"), ("B", "A note number 1"), ("Surgery", "A note number 2")]
    report = DataReport()
    df = clean(kaggle_frame(rows), DataConfig(min_class_samples=2, num_classes=None), report)
    assert report.rows_in == 13
    assert report.dropped == {
        "empty_transcription": 1,
        "empty_label": 0,
        "class_below_rule": 2,  # Rare and the single Surgery row
        "duplicate_text_and_label": 1,
    }
    assert report.rows_out == len(df) == 13 - 4
    assert report.conflicting_texts == 1 and report.conflicting_rows == 2
    assert sorted(df["label_name"].unique()) == ["A", "B"]
    assert df.loc[df["label_name"] == "B", "label"].unique().tolist() == [1]


def test_split_keeps_texts_that_differ_only_in_case_spacing_or_scrape_commas_together():
    """The model reads ``HISTORY:, Knee pain.`` and ``history: knee pain.`` alike: never one in training and
    the other in validation. Such a text's validation rows join its training rows; no other row moves."""
    rows = _rows({"A": 12, "B": 12})
    twins = ["HISTORY:, Knee pain.,EXAM:, Swelling.", "history: knee  pain. EXAM: , swelling."]
    rows += [("A", twins[0]), ("B", twins[1]), ("A", "A note number 0 ")]
    cfg = DataConfig(min_class_samples=2, num_classes=None)
    found = set()
    for seed in range(8):
        report = DataReport()
        df = split_frame(clean(kaggle_frame(rows), cfg, report), replace(cfg, split_seed=seed), report)
        key = df["text"].map(split_key)
        assert not set(key[df.split == "train"]) & set(key[df.split == "validation"])
        assert report.split["validation_rows"] == (df.split == "validation").sum()
        found.add(report.split["near_duplicate_rows_moved_to_train"])
        assert (df.split == "validation").sum() + report.split["near_duplicate_rows_moved_to_train"] == sum(
            grouped_split(df["label"].to_numpy(), df["text"], cfg.validation_fraction, seed)
        )
    assert found - {0}  # some seed split a pair, and the pair was joined


def test_every_choice_of_text_fields_keeps_the_same_rows_and_split():
    """A note is its transcription. With the description in front, a note filed under two labels with
    two descriptions is two model texts, and a note repeated under one label with another description
    is still a repeat: the rows kept and the split are those of the transcription alone, and no note
    is on both sides."""
    shared = [(label, f"shared note {i}") for i in range(12) for label in ("A", "B")]
    rows = [*shared, ("A", "shared note 0"), ("B", "shared note 5"), *_rows({"A": 12, "B": 12})]
    plain = DataConfig(min_class_samples=2, num_classes=None)
    for seed in range(6):
        splits = {}
        for fields in (
            ("transcription",),
            ("description", "transcription"),
            ("sample_name", "transcription"),
        ):
            cfg = replace(plain, text_fields=fields, split_seed=seed)
            report = DataReport()
            df = split_frame(clean(kaggle_frame(rows), cfg, report), cfg, report)
            assert report.dropped["duplicate_text_and_label"] == 2 and report.conflicting_texts == 12
            sides = df.groupby("transcription")["split"].nunique()
            assert (sides == 1).all(), sides[sides > 1].index.tolist()
            splits[fields] = df[["transcription", "label_name", "split"]].to_dict("list")
        assert len({str(v) for v in splits.values()}) == 1, seed
        assert df["text"].nunique() == len(df)  # every row's sample name differs


def test_clean_can_drop_document_types_first():
    rows = _rows({"Surgery": 5, "Neurology": 3, "Urology": 3})
    report = DataReport()
    df = clean(
        kaggle_frame(rows),
        DataConfig(min_class_samples=3, num_classes=None, drop_document_types=True),
        report,
    )
    assert set(df["label_name"]) == {"Neurology", "Urology"}
    assert report.dropped["document_type_label"] == 5


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_grouped_split_never_shares_a_text(seed):
    rng = np.random.default_rng(seed)
    texts = [f"text {i}" for i in rng.integers(0, 60, size=300)]
    labels = np.array([int(t.split()[1]) % 4 for t in texts])
    is_val = grouped_split(labels, texts, 0.2, seed)
    train_texts = {t for t, v in zip(texts, is_val, strict=True) if not v}
    val_texts = {t for t, v in zip(texts, is_val, strict=True) if v}
    assert not train_texts & val_texts
    assert 0.1 < is_val.mean() < 0.3
    assert set(labels[is_val]) == set(labels)  # stratified: every class on the validation side


def test_grouped_split_is_seeded():
    texts = [f"t{i % 50}" for i in range(200)]
    labels = np.array([i % 5 for i in range(200)])
    first = grouped_split(labels, texts, 0.2, 7)
    assert (first == grouped_split(labels, texts, 0.2, 7)).all()


def test_split_frame_reports_class_too_small():
    rows = [*_rows({"A": 10, "B": 10}), ("C", "only text"), ("C", "only text ")]
    report = DataReport()
    df = clean(kaggle_frame(rows), DataConfig(min_class_samples=1, num_classes=None), report)
    with pytest.raises(InputError, match=r"too small to split.*C \(1\)"):
        split_frame(df, DataConfig(min_class_samples=1, num_classes=None), report)


def test_class_weights_are_balanced():
    labels = np.array([0, 0, 0, 1])
    assert class_weights(labels, 2) == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])
    with pytest.raises(InputError, match=r"label id\(s\) \[2\] have no training rows"):
        class_weights(labels, 3)
