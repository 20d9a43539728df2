"""Contracts on the real mtsamples file (skipped when ../shared/data/mtsamples.csv is absent)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import OFFLINE_MODEL, REAL_CSV

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not REAL_CSV.exists(), reason=f"{REAL_CSV} not present"),
]


def test_preprocess_on_mtsamples_keeps_23_classes_without_leaks(tmp_path):
    pytest.importorskip("transformers")
    import preprocess

    report = preprocess.main(
        [
            "--input",
            str(REAL_CSV),
            "--output-dir",
            str(tmp_path),
            "--model-name",
            OFFLINE_MODEL,
            "--max-length",
            "32",
        ]
    )
    assert report.rows_in == 4999
    assert len(report.class_counts_kept) == 23
    assert report.dropped["empty_transcription"] == 33
    assert report.dropped["class_below_rule"] == 4966 - 4694  # the reference rule: 23 classes, 4,694 rows
    assert report.rows_in == report.rows_out + sum(report.dropped.values())
    assert report.conflicting_texts > 1000  # the same note under several labels is common

    eda = pd.read_csv(tmp_path / "pre-processed" / "pre-processed.csv", keep_default_na=False)
    keys = eda["text"].map(preprocess.split_key)  # texts a model reads alike are one text
    assert not set(keys[eda.split == "train"]) & set(keys[eda.split == "validation"])
    # two pairs of notes differ only in spacing and the scrape's commas; the splitter parted them
    assert report.split["near_duplicate_rows_moved_to_train"] == 5
    assert eda.groupby("medical_specialty")["split"].nunique().min() == 2
    written = json.loads((tmp_path / "report" / "data-report.json").read_text())
    assert written["split"]["validation_rows"] == len(eda[eda.split == "validation"])


@pytest.mark.parametrize("max_length", [128, 512])
def test_truncating_the_head_of_each_note_gives_the_whole_notes_input(max_length):
    """``truncated`` tokenizes a long note's head only; on every mtsamples note it gives what the whole
    note gives, with the offline model's tokenizer."""
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from medtx_common import resolve_model_path, truncated

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(OFFLINE_MODEL), use_fast=True)
    notes = pd.read_csv(REAL_CSV)["transcription"].dropna().astype(str).tolist()
    whole = tokenizer(notes, truncation=True, max_length=max_length)
    assert truncated(tokenizer, notes, max_length)["input_ids"] == whole["input_ids"]


@pytest.mark.parametrize(("head", "tail"), [(64, 62), (128, 382)])
def test_the_two_ends_of_each_note_give_the_whole_notes_head_and_tail(head, tail):
    """``head_and_tail`` (``long_text=head_tail``) tokenizes a long note's two ends only; on every
    mtsamples note it gives the whole note's first ``head`` and last ``tail`` tokens."""
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from medtx_common import head_and_tail, resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(OFFLINE_MODEL), use_fast=True)
    notes = pd.read_csv(REAL_CSV)["transcription"].dropna().astype(str).tolist()
    whole = tokenizer(notes, add_special_tokens=False)["input_ids"]
    kept = [p if len(p) <= head + tail else p[:head] + p[len(p) - tail :] for p in whole]
    assert head_and_tail(tokenizer, notes, head, tail) == kept
