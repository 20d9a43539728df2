"""Constants and builders shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CSV = ROOT / "pipeline" / "data" / "mtsamples-synthetic.csv"
REAL_CSV = ROOT.parent / "shared" / "data" / "mtsamples.csv"
OFFLINE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEMPLATE = ROOT / "infra" / "template.yaml"

T = TypeVar("T")


def present(found: T | None) -> T:
    """``found`` (a record, a regular expression's match), which the test expects to be there."""
    assert found is not None
    return found


def said(result) -> str:
    """A CLI result's output as one line: rich's line breaks, boxes and table rules become spaces."""
    return re.sub(r"[\s│┃╭╮╰╯─━┏┓┗┛┡┩└┘]+", " ", result.output)


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


def load_template() -> dict:
    """infra/template.yaml with CloudFormation's short tags (``!Sub``, ``!Ref``...) kept as
    ``{"Fn::X": value}``."""
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        value = (
            loader.construct_scalar(node)
            if isinstance(node, yaml.ScalarNode)
            else loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
        )
        return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", tag)
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
