"""Evaluation and endpoint throughput on CPU, in one run.

1. Batch evaluation (``scripts/evaluate.py``'s path: length-sorted batches through ``predict_proba``)
   against the reference design's pattern on the same rows: two single-row calls per row through the
   endpoint contract (``input_fn`` -> ``predict_fn`` -> ``output_fn``, in-process, so the figure for the
   reference leaves out HTTP and is a generous one). The rows are the evaluation step's own: the
   validation side of the product's split of ``--data``. Target: >= 20x rows/s.
2. A load test of the local endpoint (``pipeline.local.endpoint``, the server ``medtx run --local``
   starts): C concurrent clients on 127.0.0.1 send single-text requests for a fixed time, once with
   request batching off and once on; requests/s, p50/p95/p99 latency, and the count of 5xx answers.
3. The local transform job (``pipeline.local.transform``, what ``medtx predict --batch-transform``
   runs without ``--sagemaker``) on the same rows, with one instance and with ``--instances``: rows/s
   from the job's start to its end (its servers' start included) and the ratio. Here the instances
   share this machine's cores, so the ratio says what running them at once buys on it.

    .venv/bin/python bench/inference_throughput.py [--model runs/store/.../model.tar.gz] [--data CSV]

Without ``--model`` it builds a classifier from the offline MiniLM with a 23-class head (random weights:
speed does not depend on them) and the handler the training script ships. Figures are printed and
written to ``bench/results/inference-<date>.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]


def build_model(
    work: Path, max_length: int, distilbert_tokenizer: str | None = None, smoke: bool = False
) -> Path:
    """A model archive as train.py writes it: weights, tokenizer, label map, code/inference.py.

    Default: the offline MiniLM with a 23-class head. With ``distilbert_tokenizer`` (a tokenizer folder
    or the offline model's name): DistilBERT-base's shape with random weights, the SageMaker default's
    size, as ``bench/train_throughput.py`` builds it (for a device run, where no weights are carried).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import train
    from medtx_common import resolve_model_path
    from medtx_config import DOCUMENT_TYPE_LABELS, OFFLINE_MODEL_NAME

    labels = [f"class {i}" for i in range(23 - len(DOCUMENT_TYPE_LABELS))] + list(DOCUMENT_TYPE_LABELS)
    folder = work / "model"
    if distilbert_tokenizer:
        sys.path.insert(0, str(ROOT / "bench"))
        from train_throughput import build_random_distilbert

        build_random_distilbert(distilbert_tokenizer, len(labels), folder, smoke)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        model.config.id2label, model.config.label2id = (
            dict(enumerate(labels)),
            {n: i for i, n in enumerate(labels)},
        )
        model.save_pretrained(folder)
    else:
        path = resolve_model_path(OFFLINE_MODEL_NAME)
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={n: i for i, n in enumerate(labels)},
        )
        model.save_pretrained(folder)
        AutoTokenizer.from_pretrained(path).save_pretrained(folder)
    (folder / "label_map.json").write_text(json.dumps({"id2label": dict(enumerate(labels))}))
    (folder / "training_config.json").write_text(json.dumps({"max_length": max_length, "labels": labels}))
    train.ship_handler(folder)
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in folder.iterdir():
            tar.add(item, arcname=item.name)
    return archive


def validation_texts(data: Path) -> list[str]:
    """The evaluation step's rows: the validation side of the product's split of ``data``, in order.

    On mtsamples that is 939 rows and 465 distinct texts (a note filed under several specialties is
    one row per specialty, all on the same side of the split).
    """
    import preprocess
    from medtx_config import DataConfig

    config, report = DataConfig(), preprocess.DataReport()
    rows = preprocess.split_frame(
        preprocess.clean(preprocess.read_raw_csv(data), config, report), config, report
    )
    return rows.loc[rows["split"] == "validation", "text"].tolist()


def unpack(archive: Path, work: Path) -> Path:
    if archive.is_dir():
        return archive
    target = work / "unpacked"
    target.mkdir(exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def batch_vs_reference(model_dir: Path, texts: list[str], reference_rows: int) -> dict:
    """The evaluation step's path (default precision: bf16 where native) and the same path in fp32,
    against the reference design's pattern in its own arithmetic (fp32)."""
    sys.path.insert(0, str(model_dir / "code"))
    import inference
    from medtx_common import load_classifier, predict_proba
    from medtx_config import EvalConfig

    def batch_rate(classifier: dict) -> float:
        predict_proba(classifier, texts[:8], 8)  # warm-up
        started = time.perf_counter()
        predict_proba(classifier, texts, EvalConfig().batch_size)
        return len(texts) / (time.perf_counter() - started)

    project = load_classifier(model_dir)
    reference = load_classifier(model_dir, device=project["device"], precision="fp32")
    project_rate, fp32_rate = batch_rate(project), batch_rate(reference)

    subset = texts[:reference_rows]
    started = time.perf_counter()
    for text in subset:
        for _ in range(2):  # the reference design asked the endpoint twice per row
            body = json.dumps({"inputs": text})
            inference.output_fn(
                inference.predict_fn(inference.input_fn(body, "application/json"), reference),
                "application/json",
            )
    reference_rate = len(subset) / (time.perf_counter() - started)
    return {
        "device": project["device"],
        "rows": len(texts),
        "distinct_texts": len(set(texts)),
        "batch_precision": "bf16" if project["autocast"] is not None else "fp32",
        "batch_rows_per_s": round(project_rate, 1),
        "batch_fp32_rows_per_s": round(fp32_rate, 1),
        "reference_rows": len(subset),
        "reference_rows_per_s": round(reference_rate, 2),
        "speedup": round(project_rate / reference_rate, 1),
        "speedup_fp32": round(fp32_rate / reference_rate, 1),
    }


def _post(url: str, body: bytes) -> tuple[int, float]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = 599  # connection refused or reset: counted with the 5xx answers
    return status, time.perf_counter() - started


def load_test(
    archive: Path, work: Path, texts: list[str], clients: int, seconds: float, batching: bool
) -> dict:
    from pipeline.local.endpoint import free_port, ping

    port = free_port()
    env = {**os.environ, "MEDTX_ENDPOINT_BATCHING": "on" if batching else "off"}
    folder = work / ("server-batching" if batching else "server")
    log = (work / f"{folder.name}.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.local.endpoint",
            "--model-data",
            str(archive),
            "--workdir",
            str(folder),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not ping(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the endpoint did not start; see {log.name}")
            time.sleep(0.3)
        bodies = [json.dumps({"inputs": t}).encode() for t in texts]
        _post(f"{url}/invocations", bodies[0])  # warm-up
        results: list[tuple[int, float]] = []
        stop = time.monotonic() + seconds

        def client(offset: int) -> list[tuple[int, float]]:
            mine, i = [], offset
            while time.monotonic() < stop:
                mine.append(_post(f"{url}/invocations", bodies[i % len(bodies)]))
                i += clients
            return mine

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            for part in pool.map(client, range(clients)):
                results += part
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    latencies = np.array([r[1] for r in results]) * 1000
    return {
        "batching": batching,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "requests_per_s": round(len(results) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "status_5xx": int(sum(1 for s, _ in results if s >= 500)),
        "status_other_non_200": int(sum(1 for s, _ in results if s != 200 and s < 500)),
    }


def transform_jobs(archive: Path, work: Path, texts: list[str], instances: int, batch_size: int) -> dict:
    """The same rows through a local transform job with one instance, then with ``instances``: the
    requests ``medtx predict --batch-transform`` stages (one file per instance), rows/s per job."""
    from pipeline.batch_transform import stage, transform_request
    from pipeline.config import PipelineConfig
    from pipeline.local import transform
    from pipeline.local.store import Store

    limits = PipelineConfig().container.inference
    store = Store(work / "store")
    jobs = []
    for count in (1, instances):
        staged = stage(texts, batch_size, limits.max_texts, limits.max_payload_bytes, 1, count)
        name = f"bench-{count}"
        for file, body in staged.files.items():
            store.put_bytes(f"s3://bench/{name}/input/{file}", body)
        request = transform_request(
            name,
            "bench",
            f"s3://bench/{name}/input/",
            f"s3://bench/{name}/output",
            "local",
            count,
            6 * 1024**2,
        )
        started = time.perf_counter()
        done = transform.run(store, request, archive)
        elapsed = time.perf_counter() - started
        if done["TransformJobStatus"] != "Completed":
            raise RuntimeError(f"transform job {name}: {done.get('FailureReason')}")
        jobs.append(
            {
                "instances": count,
                "files": len(staged.files),
                "requests": staged.requests,
                "seconds": round(elapsed, 1),
                "rows_per_s": round(len(texts) / elapsed, 1),
            }
        )
    return {
        "rows": len(texts),
        "batch_size": batch_size,
        "jobs": jobs,
        "ratio": round(jobs[1]["rows_per_s"] / jobs[0]["rows_per_s"], 2),
    }


def _machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, {gpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, help="model.tar.gz or model folder (default: built from MiniLM)"
    )
    parser.add_argument("--data", type=Path, default=ROOT / "pipeline" / "data" / "mtsamples-synthetic.csv")
    parser.add_argument("--rows", type=int, default=1000, help="validation rows for the batch path (at most)")
    parser.add_argument("--reference-rows", type=int, default=60, help="rows for the reference pattern")
    parser.add_argument("--max-length", type=int, default=128, help="of the built model")
    parser.add_argument(
        "--distilbert-tokenizer",
        help="build a random-weight DistilBERT-base with this tokenizer (device runs)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--instances", type=int, default=2, help="of the second local transform job")
    parser.add_argument("--transform-batch-size", type=int, default=32, help="texts per transform request")
    parser.add_argument("--seconds", type=float, default=30.0, help="per load-test mode")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / f"inference-{time.strftime('%Y-%m-%d')}.json"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny settings (checks the code)")
    args = parser.parse_args()
    if args.smoke:
        args.max_length, args.rows, args.reference_rows, args.clients, args.seconds = 32, 40, 4, 2, 1.0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    texts = validation_texts(args.data)[: args.rows]
    work = Path(tempfile.mkdtemp(prefix="medtx-bench-"))
    try:
        archive = args.model or build_model(work, args.max_length, args.distilbert_tokenizer, args.smoke)
        model_dir = unpack(archive, work)
        if archive.is_dir():  # the server takes an archive, as an endpoint does
            packed = work / "model.tar.gz"
            with tarfile.open(packed, "w:gz") as tar:
                for item in archive.iterdir():
                    tar.add(item, arcname=item.name)
            archive = packed
        results = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": _machine(),
            "model": "given"
            if args.model
            else "DistilBERT-base shape, random"
            if args.distilbert_tokenizer
            else "MiniLM",
            "max_length": args.max_length,
            "smoke": args.smoke,
            "data": args.data.name,
            "evaluation": batch_vs_reference(model_dir, texts, args.reference_rows),
            "endpoint": [
                load_test(archive, work, texts, args.clients, args.seconds, batching=False),
                load_test(archive, work, texts, args.clients, args.seconds, batching=True),
            ],
            "transform": transform_jobs(archive, work, texts, args.instances, args.transform_batch_size),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    ev = results["evaluation"]
    print(
        f"batch evaluation ({ev['batch_precision']}) {ev['batch_rows_per_s']} rows/s = {ev['speedup']}x "
        f"the reference pattern (target >= 20x); in fp32 {ev['speedup_fp32']}x"
    )
    tj = results["transform"]
    print(
        f"local transform job: {tj['jobs'][1]['instances']} instances {tj['jobs'][1]['rows_per_s']} rows/s, "
        f"one {tj['jobs'][0]['rows_per_s']} rows/s = {tj['ratio']}x"
    )


if __name__ == "__main__":
    main()
