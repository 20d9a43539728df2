"""Constants and builders shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CSV = ROOT / "data" / "mtsamples-synthetic.csv"
REAL_CSV = ROOT.parent / "shared" / "data" / "mtsamples.csv"
OFFLINE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def kaggle_frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """A Kaggle-layout frame from (label, transcription) pairs."""
    return pd.DataFrame(
        {
            "description": [f"desc {i}" for i in range(len(rows))],
            "medical_specialty": [label for label, _ in rows],
            "sample_name": [f"sample {i}" for i in range(len(rows))],
            "transcription": [text for _, text in rows],
            "keywords": [label.lower() for label, _ in rows],
        }
    )
