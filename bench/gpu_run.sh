#!/usr/bin/env bash
# One device call: carried wheels (the pinned transformers/datasets), then the training and inference
# throughput benchmarks.
# Needs .whl/ (pip download of transformers 5.3.0, tokenizers, datasets, dill, multiprocess, fsspec)
# and .benchdata/ (mtsamples.csv and the offline tokenizer files), both git-ignored and carried.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 bench/train_throughput.py --data .benchdata/mtsamples.csv --tokenizer .benchdata/tokenizer \
  --out "$OUT/train-throughput.json" --diagnose "$OUT" "$@" 2>&1 | grep -v "it/s]\|examples/s]" | tee "$OUT/log.txt"
# Evaluation and endpoint throughput on the GPU: DistilBERT-base shape (random weights), 512 tokens,
# the batch path against the reference's single-row calls, and the local endpoint under load.
python3 bench/inference_throughput.py --data .benchdata/mtsamples.csv --distilbert-tokenizer .benchdata/tokenizer \
  --max-length 512 --rows 939 --reference-rows 200 --clients 16 --seconds 30 \
  --out "$OUT/inference-throughput.json" 2>&1 | grep -v "it/s]" | tee -a "$OUT/log.txt"
