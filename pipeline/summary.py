"""Print what a local run of the container scripts produced, and ask the endpoint handler once.

``python -m pipeline.summary RUN_DIR`` reads ``RUN_DIR/evaluation/evaluation.json``, shows the
transformer against the TF-IDF baseline, then loads ``RUN_DIR/model`` through ``scripts/inference.py``
(the endpoint's own handler) and classifies a sample note.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SAMPLE_NOTE = (
    "Colonoscopy performed to the cecum. A sessile polyp was removed from the sigmoid colon; "
    "mild gastritis on esophagogastroduodenoscopy."
)


def main(run_dir: str) -> None:
    console = Console()
    run = Path(run_dir)
    report = json.loads((run / "evaluation" / "evaluation.json").read_text())
    metrics = report["multiclass_classification_metrics"]
    baseline = report.get("baseline", {})
    table = Table(
        title=f"Held-out evaluation ({report['validation_rows']} rows, {len(report['labels'])} classes)"
    )
    table.add_column("figure")
    table.add_column("transformer", justify="right")
    table.add_column("TF-IDF baseline", justify="right")
    for name in ("macro_f1", "accuracy", "macro_precision", "macro_recall", "weighted_f1"):
        table.add_row(name, f"{metrics[name]['value']:.4f}", f"{baseline.get(name, float('nan')):.4f}")
    console.print(table)

    sys.path.insert(0, str(SCRIPTS))
    import inference

    handler = inference.model_fn(str(run / "model"))
    request = json.dumps({"inputs": [SAMPLE_NOTE], "parameters": {"top_k": 3}})
    answer = inference.output_fn(
        inference.predict_fn(inference.input_fn(request, "application/json"), handler), "application/json"
    )
    console.print("Endpoint handler, one sample note ->", json.loads(answer)[0])
    console.print(f"Outputs: {run.resolve()} (preprocess/, model/, evaluation/)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/local")
