"""Do two Python environments serve a trained model alike? The endpoint runs on the Hugging Face
inference DLC (transformers 5.5.3, torch 2.6.0 in ``PipelineConfig``) while Evaluate scores on the
training DLC (5.3.0, the venv's pins), so the held-out figures describe what is served only if both
stacks give the same answers. Run ``score`` under each environment on the same model archive and
rows, then ``compare`` the two files:

    .venv/bin/python bench/serving_parity.py score --model MODEL_DIR --data mtsamples.csv --out a.json
    other-venv/bin/python bench/serving_parity.py score --model MODEL_DIR --data mtsamples.csv --out b.json
    python bench/serving_parity.py compare a.json b.json

``score`` sends the transcriptions through ``scripts/inference.py``'s handler (``model_fn``,
``input_fn``, ``predict_fn``, ``output_fn``), as the endpoint does, and records the versions it ran
on. The handler takes its settings from the endpoint's variables: ``MEDTX_INFERENCE_PRECISION=fp32``
(or ``bf16``) fixes the arithmetic, which ``auto`` picks by the CPU (bfloat16 where it is native, as on
this development machine; float32 on ml.m5), so compare runs of one arithmetic. ``compare`` prints
how many top labels agree and the largest difference between the scores of a text's top-k classes,
and exits 1 when a label differs or a score by more than ``--tolerance``. No timing.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
PACKAGES = ("transformers", "torch", "tokenizers", "safetensors")


def score(model: Path, data: Path, rows: int, batch: int, top_k: int) -> dict:
    """The handler's answers for the first ``rows`` non-empty transcriptions of ``data``, in requests
    of ``batch`` texts, with the versions of the stack that gave them."""
    import pandas as pd

    sys.path.insert(0, str(SCRIPTS))
    import inference

    column = pd.read_csv(data, keep_default_na=False)["transcription"].astype(str).str.strip()
    texts = column[column != ""].head(rows).tolist()
    handler = inference.model_fn(str(model))
    answers = []
    for start in range(0, len(texts), batch):
        body = json.dumps({"inputs": texts[start : start + batch], "parameters": {"top_k": top_k}})
        request = inference.input_fn(body, inference.JSON)
        answer = inference.output_fn(inference.predict_fn(request, handler), inference.JSON)
        answers.extend(json.loads(answer))
    versions = {name: metadata.version(name) for name in PACKAGES}
    return {"versions": versions, "python": sys.version.split()[0], "texts": len(texts), "answers": answers}


def compare(first: dict, second: dict) -> dict:
    """Top-label agreement and the largest score difference over each text's top-k classes (a class
    in one answer's top k and not the other's counts with its score against 0)."""
    if first["texts"] != second["texts"]:
        raise SystemExit(f"the files scored different rows: {first['texts']} and {second['texts']} texts")
    same, largest = 0, 0.0
    for one, other in zip(first["answers"], second["answers"], strict=True):
        same += one["label"] == other["label"]
        scores = {item["label"]: item["score"] for item in one["top_k"]}
        others = {item["label"]: item["score"] for item in other["top_k"]}
        largest = max([largest, *(abs(scores.get(k, 0.0) - others.get(k, 0.0)) for k in scores | others)])
    return {
        "versions": [first["versions"], second["versions"]],
        "texts": first["texts"],
        "same_label": same,
        "largest_score_difference": largest,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("score", help="score rows through the endpoint handler in this environment")
    run.add_argument("--model", type=Path, required=True, help="an extracted model.tar.gz")
    run.add_argument("--data", type=Path, required=True, help="a CSV with a transcription column")
    run.add_argument("--rows", type=int, default=200)
    run.add_argument("--batch", type=int, default=16, help="texts per request")
    run.add_argument("--top-k", type=int, default=10)
    run.add_argument("--out", type=Path, required=True)
    check = commands.add_parser("compare", help="compare two score files")
    check.add_argument("files", type=Path, nargs=2)
    check.add_argument("--tolerance", type=float, default=1e-4, help="largest score difference allowed")
    args = parser.parse_args(argv)

    if args.command == "score":
        result = score(args.model, args.data, args.rows, args.batch, args.top_k)
        args.out.write_text(json.dumps(result))
        print(json.dumps({key: result[key] for key in ("versions", "python", "texts")}))
        return 0
    first, second = (json.loads(path.read_text()) for path in args.files)
    result = compare(first, second)
    print(json.dumps(result, indent=2))
    alike = result["same_label"] == result["texts"] and result["largest_score_difference"] <= args.tolerance
    return 0 if alike else 1


if __name__ == "__main__":
    raise SystemExit(main())
