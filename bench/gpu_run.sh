#!/usr/bin/env bash
# One device call: carried wheels (this project's transformers/datasets pins), then the training
# throughput benchmark, the model-quality sweep, and the inference benchmark, each bounded in time so
# one slow part cannot take the others' figures with it. Results land in $OUT as each part finishes.
#
# Needs, git-ignored and carried: `make device-data` writes both, then the `device` tool's `run` with
# command `bash bench/gpu_run.sh`, carry [".whl", ".benchdata"], timeout_s 590.
#   .whl/        the venv's transformers, tokenizers, datasets, dill, multiprocess and fsspec as wheels
#                for the device's Python 3.12 (it has torch and accelerate, other versions of these)
#   .benchdata/  mtsamples.csv.gz and all-MiniLM-L6-v2 packed by bench/pack_device_data.py, under the
#                64 MiB a call carries with the working tree (about 15 + 33 MiB)
#
# SMOKE=1 runs the same commands with each script's --smoke (tiny settings, CPU allowed) on this
# machine's Python and packages (PY, default python3), reading BENCHDATA (default .benchdata) and, if
# set, only the quality configurations named in QUALITY_ONLY. tests/bench/test_gpu_run.py does, so a
# change that breaks this call shows in CI rather than in a device session's 15 minutes.
set -uo pipefail
PY=${PY:-python3}
BENCHDATA=${BENCHDATA:-.benchdata}
OUT=${OUT:-/tmp/out}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SMOKE_FLAG=()
if [ -n "${SMOKE:-}" ]; then
  SMOKE_FLAG=(--smoke)
else
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" .whl/*.whl || exit 1
  export PYTHONPATH=$WORK/site
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
gunzip -c "$BENCHDATA/mtsamples.csv.gz" > "$WORK/mtsamples.csv" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"
quiet() { grep --line-buffered -v "it/s]\|examples/s]\|MISSING\|UNEXPECTED\|^Notes\|can be ignored\|newly initialized"; }

timeout "${TRAIN_BENCH_S:-150}" "$PY" bench/train_throughput.py --data "$WORK/mtsamples.csv" \
  --tokenizer "$BENCHDATA/minilm" --out "$OUT/train-throughput.json" --diagnose "$OUT" "${SMOKE_FLAG[@]}" \
  2>&1 | quiet | tee "$OUT/log.txt"

timeout "${QUALITY_S:-340}" "$PY" bench/quality_sweep.py --data "$WORK/mtsamples.csv" --model "$BENCHDATA/minilm" \
  --no-baseline --deadline "${QUALITY_DEADLINE_S:-270}" --out "$OUT/quality.json" "${SMOKE_FLAG[@]}" \
  ${QUALITY_ONLY:+--only "$QUALITY_ONLY"} 2>&1 | quiet | tee -a "$OUT/log.txt"

# Evaluation and endpoint throughput on the GPU: DistilBERT-base shape (random weights), 512 tokens.
timeout "${INFERENCE_S:-75}" "$PY" bench/inference_throughput.py --data "$WORK/mtsamples.csv" \
  --distilbert-tokenizer "$BENCHDATA/minilm" --max-length 512 --rows 939 --reference-rows 200 --clients 16 \
  --seconds 10 --out "$OUT/inference-throughput.json" "${SMOKE_FLAG[@]}" 2>&1 | quiet | tee -a "$OUT/log.txt"
exit 0
