#!/usr/bin/env bash
# One device call: carried wheels (the pinned transformers/datasets), then the throughput benchmark.
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
