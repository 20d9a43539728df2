"""Training throughput: the reference design's configuration against this project's, in one run.

Both configurations run ``scripts/train.py``'s own code (``build_trainer`` + ``Trainer.train``) on the
mtsamples training split produced by ``scripts/preprocess.py`` at 512 tokens, with DistilBERT-base's
shape (random weights: no hub access is needed, and speed does not depend on the weights):

- ``reference``: fp32, eager attention, every row padded to 512, no loader workers (the reference
  design's setup);
- ``project``: the defaults of ``train.py`` on a GPU (bf16, SDPA, dynamic padding to a multiple of 64,
  length grouping on precomputed lengths, pinned memory with asynchronous copies, loader workers, no
  per-step host-GPU synchronisation);
- ``upper_bound``: the same model, optimizer, loss and batches as ``project``, with every batch
  already on the GPU and no Trainer: what the arithmetic alone allows.

Prints samples/s, ``project / reference`` and ``project / upper_bound``, and writes them as JSON.
DistilBERT's uncased WordPiece vocabulary is BERT's, so the offline MiniLM tokenizer yields the same
token ids ``distilbert-base-uncased`` would.

    python bench/train_throughput.py --data mtsamples.csv --tokenizer DIR --out results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification  # noqa: E402

import preprocess  # noqa: E402
import train  # noqa: E402
from medtx_common import resolve_model_path  # noqa: E402


def build_random_distilbert(tokenizer_dir: str, num_labels: int, out: Path, smoke: bool = False) -> Path:
    """DistilBERT-base's shape with random weights; ``smoke``: 2 narrow layers (same code, seconds on CPU)."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer_dir))
    torch.manual_seed(0)
    shape = {"n_layers": 2, "dim": 128, "hidden_dim": 512, "n_heads": 2} if smoke else {}
    model = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=tokenizer.vocab_size, num_labels=num_labels, **shape)
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


MAX_LENGTH = "512"


def trainer_args(data: Path, model: Path, work: Path, steps: int, batch: int, extra: list[str]) -> list[str]:
    return [
        "--train-dir", str(data / "train"), "--test-dir", str(work / "no-eval"),
        "--model-dir", str(work / "model"), "--output-data-dir", str(work / "out"),
        "--checkpoint-dir", str(work / "ckpt"), "--model-name", str(model),
        "--max-length", MAX_LENGTH, "--max-steps", str(steps), "--train-batch-size", str(batch),
        "--logging-steps", "50", "--disable-tqdm", "true", *extra,
    ]  # fmt: skip


def run_trainer(argv: list[str]) -> dict[str, float]:
    args = train.parse_args(argv)
    trainer = train.build_trainer(args)
    result = trainer.train()
    return {
        "samples_per_second": result.metrics["train_samples_per_second"],
        "runtime_s": result.metrics["train_runtime"],
        "steps": result.global_step,
    }


def loader_only(argv: list[str], batches: int) -> dict[str, float]:
    """How fast the Trainer's own data loader yields batches, with no model work at all."""
    trainer = train.build_trainer(train.parse_args(argv))
    loader = trainer.get_train_dataloader()
    started, seen, samples = time.perf_counter(), 0, 0
    while seen < batches:
        for batch in loader:
            seen += 1
            samples += batch["labels"].shape[0]
            if seen == batches:
                break
    elapsed = time.perf_counter() - started
    return {"samples_per_second": samples / elapsed, "runtime_s": elapsed, "steps": seen}


def profile_trainer(argv: list[str], out: Path) -> dict[str, float]:
    """``run_trainer`` under cProfile; the top functions by own time go to ``out``."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    result = run_trainer(argv)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(35)
    out.write_text(text.getvalue())
    return result


def upper_bound(argv: list[str], warmup: int, steps: int) -> dict[str, float]:
    """The project's batches, model, loss and fused AdamW, batches pre-loaded on the GPU."""
    args = train.parse_args(argv)
    trainer = train.build_trainer(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batches = []
    for batch in trainer.get_train_dataloader():
        batches.append({k: v.to(device) for k, v in batch.items()})
        if len(batches) == warmup + steps:
            break
    model = trainer.model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, fused=device.type == "cuda")
    weights = trainer.class_weights.to(device)

    def step(batch: dict[str, torch.Tensor]) -> None:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(**inputs).logits
        loss = train.weighted_cross_entropy(logits, batch["labels"], weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for batch in batches[:warmup]:
        step(batch)
    sync()
    started = time.perf_counter()
    samples = 0
    for batch in batches[warmup:]:
        step(batch)
        samples += batch["labels"].shape[0]
    sync()
    elapsed = time.perf_counter() - started
    return {"samples_per_second": samples / elapsed, "runtime_s": elapsed, "steps": len(batches) - warmup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="raw Kaggle-layout mtsamples CSV")
    parser.add_argument("--tokenizer", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--reference-steps", type=int, default=30)
    parser.add_argument("--project-steps", type=int, default=240)
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed run before each measurement")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--compile", action="store_true", help="also measure the project with torch.compile")
    parser.add_argument("--out", type=Path, default=Path("train-throughput.json"))
    parser.add_argument("--diagnose", type=Path, default=None, help="also run variants; profile to this dir")
    parser.add_argument("--smoke", action="store_true", help="tiny steps, CPU allowed (checks the code)")
    cli = parser.parse_args()
    if cli.smoke:
        global MAX_LENGTH
        MAX_LENGTH = "32"
        cli.batch_size, cli.reference_steps, cli.project_steps, cli.workers, cli.warmup_steps = 4, 2, 7, 0, 1
    elif not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU (use --smoke to check the code on CPU)")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = preprocess.main(
            ["--input", cli.data, "--output-dir", str(work / "data"), "--model-name", cli.tokenizer,
             "--max-length", "512"]
        )  # fmt: skip
        model = build_random_distilbert(
            cli.tokenizer, len(report.class_counts_kept), work / "distilbert", cli.smoke
        )
        base = lambda steps, extra, name: trainer_args(  # noqa: E731
            work / "data", model, work / name, steps, cli.batch_size, extra
        )
        reference_flags = [
            "--precision", "fp32", "--attn-implementation", "eager", "--pad-to-max-length", "true",
            "--group-by-length", "false", "--dataloader-workers", "0",
        ]  # fmt: skip
        project_flags = ["--dataloader-workers", str(cli.workers)]
        results: dict[str, dict[str, Any]] = {}  # figures, or an error

        def measure(name: str, steps: int, flags: list[str]) -> dict[str, float]:
            """A short untimed run first, so one-time CUDA and kernel set-up is not billed to it."""
            run_trainer(base(cli.warmup_steps, flags, f"{name}-warmup"))
            return run_trainer(base(steps, flags, name))

        results["reference"] = measure("reference", cli.reference_steps, reference_flags)
        results["project"] = measure("project", cli.project_steps, project_flags)
        warmup, timed = (2, 5) if cli.smoke else (5, 60)
        results["upper_bound"] = upper_bound(base(cli.project_steps, project_flags, "upper"), warmup, timed)
        if cli.diagnose:
            cli.diagnose.mkdir(parents=True, exist_ok=True)
            steps = cli.project_steps
            results["loader_only"] = loader_only(base(steps, project_flags, "loader"), steps)
            no_grouping = [*project_flags, "--group-by-length", "false"]
            results["project_no_grouping"] = measure("nogroup", steps, no_grouping)
            pad8 = [*project_flags, "--pad-to-multiple-of", "8"]
            results["project_pad_to_8"] = measure("pad8", steps, pad8)
            results["project_profiled"] = profile_trainer(
                base(steps, project_flags, "profiled"), cli.diagnose / "trainer-profile.txt"
            )
        if cli.compile:
            try:
                results["project_compiled"] = run_trainer(
                    base(cli.project_steps, [*project_flags, "--torch-compile", "true"], "compiled")
                )
            except Exception as exc:  # record, do not lose the other figures
                results["project_compiled"] = {"error": repr(exc)[:500]}

    project = results["project"]["samples_per_second"]
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU smoke run)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "train_rows": report.split["train_rows"],
        "batch_size": cli.batch_size,
        "results": results,
        "speedup_vs_reference": project / results["reference"]["samples_per_second"],
        "share_of_upper_bound": project / results["upper_bound"]["samples_per_second"],
    }
    cli.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(
        f"project {project:,.0f} samples/s = {summary['speedup_vs_reference']:.2f}x reference, "
        f"{summary['share_of_upper_bound']:.0%} of upper bound"
    )


if __name__ == "__main__":
    main()
