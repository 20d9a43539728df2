"""Which pooling of a frozen encoder carries the specialty: a linear probe on the product's split.

Runs ``scripts/preprocess.py`` on ``--data`` (23-class rule, leak-free split), encodes each distinct
text once with the pretrained encoder (no fine-tuning; bf16 where the CPU has it), and fits the same
balanced logistic regression on three pooled vectors: BERT's pooler output (the first token through
its dense+tanh layer: what ``AutoModelForSequenceClassification`` classifies), the first token's last
hidden state, and the mean of the last hidden states over the real tokens (what ``pooling=mean``
classifies). Macro-F1 on the validation rows, per ``--max-length``. CPU, minutes.

    .venv/bin/python bench/linear_probe.py --data ../shared/data/mtsamples.csv --max-length 128 512
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import preprocess  # noqa: E402
from medtx_common import inference_dtype, resolve_model_path  # noqa: E402
from medtx_config import OFFLINE_MODEL_NAME  # noqa: E402


def embed(texts: list[str], model_path: str, max_length: int, batch_size: int = 64) -> dict[str, np.ndarray]:
    """The three pooled vectors of each text, length-sorted batches, no gradients."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, use_fast=True)
    model = AutoModel.from_pretrained(model_path).eval()
    dtype = inference_dtype("cpu", "auto")
    width = model.config.hidden_size
    out = {name: np.zeros((len(texts), width), np.float32) for name in ("pooler", "first_token", "mean")}
    order = np.argsort([len(t) for t in texts], kind="stable")
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            result = model(**batch)
            hidden = result.last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out["pooler"][idx] = result.pooler_output.float().numpy()
            out["first_token"][idx] = hidden[:, 0].numpy()
            out["mean"][idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return out


def probe(vectors: np.ndarray, labels: np.ndarray, train: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    fitted = LogisticRegression(class_weight="balanced", C=10.0, max_iter=3000).fit(
        unit[train], labels[train]
    )
    return float(f1_score(labels[~train], fitted.predict(unit[~train]), average="macro"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="raw mtsamples CSV")
    parser.add_argument("--model", default=OFFLINE_MODEL_NAME, help="encoder (name or folder)")
    parser.add_argument("--max-length", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--out", type=Path, help="default: bench/results/linear-probe-<date>.json")
    cli = parser.parse_args()

    import pandas as pd

    model_path = resolve_model_path(cli.model)
    with tempfile.TemporaryDirectory() as tmp:
        preprocess.main(
            ["--input", cli.data, "--output-dir", tmp, "--model-name", model_path, "--max-length", "32"]
        )
        rows = pd.read_csv(Path(tmp) / "pre-processed" / "pre-processed.csv", keep_default_na=False)
    distinct = list(dict.fromkeys(rows["text"]))
    where = {text: i for i, text in enumerate(distinct)}
    index = rows["text"].map(where).to_numpy()
    labels, train = rows["label"].to_numpy(), (rows["split"] == "train").to_numpy()
    results = []
    for max_length in cli.max_length:
        started = time.perf_counter()
        pooled = embed(distinct, model_path, max_length)
        seconds = time.perf_counter() - started
        scores = {name: round(probe(vectors[index], labels, train), 4) for name, vectors in pooled.items()}
        results.append({"max_length": max_length, "macro_f1": scores, "encode_seconds": round(seconds, 1)})
        print(json.dumps(results[-1]), flush=True)
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "model": cli.model,
        "rows": {
            "train": int(train.sum()),
            "validation": int((~train).sum()),
            "distinct_texts": len(distinct),
        },
        "probe": "LogisticRegression(class_weight='balanced', C=10) on L2-normalised vectors",
        "results": results,
    }
    out = cli.out or ROOT / "bench" / "results" / f"linear-probe-{summary['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
