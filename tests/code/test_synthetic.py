"""The bundled CSV is exactly what the seeded generator writes, and it exercises the cleaning policy."""

from __future__ import annotations

import pandas as pd
from helpers import BUNDLED_CSV

from pipeline import synthetic


def test_bundled_csv_is_reproducible(tmp_path):
    fresh = synthetic.write(tmp_path / "again.csv")
    assert fresh.read_bytes() == BUNDLED_CSV.read_bytes()


def test_bundled_csv_has_mtsamples_shape():
    frame = pd.read_csv(BUNDLED_CSV, index_col=0, keep_default_na=False)
    assert list(frame.columns) == [
        "description",
        "medical_specialty",
        "sample_name",
        "transcription",
        "keywords",
    ]
    counts = frame.loc[frame["transcription"] != "", "medical_specialty"].value_counts()
    assert (counts >= 30).sum() == 23  # the reference rule keeps 23 classes here too
    assert (counts < 30).sum() >= 3  # and drops a rare tail
    populated = frame[frame["transcription"] != ""]
    assert (populated.groupby("transcription")["medical_specialty"].nunique() > 1).any()  # conflicts
    assert populated.duplicated(["transcription", "medical_specialty"]).any()  # exact duplicates
    assert (frame["transcription"] == "").sum() > 0
