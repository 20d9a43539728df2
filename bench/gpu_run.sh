#!/usr/bin/env bash
# One device call: carried wheels (this project's transformers/datasets pins), then the training
# throughput benchmark, the model-quality sweep, and the inference benchmark, each bounded in time so
# one slow part cannot take the others' figures with it. Results land in $OUT as each part finishes.
#
# Needs, git-ignored and carried (run beside it: `run` with carry [".whl", ".benchdata"]):
#   .whl/        this project's pins for the device's Python 3.12, from the repository root:
#                python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#                  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#                  --platform manylinux2014_x86_64 -d .whl transformers==5.3.0 tokenizers==0.22.2 \
#                  datasets==4.4.1 dill==0.4.0 multiprocess==0.70.18 fsspec==2025.10.0
#   .benchdata/  .venv/bin/python bench/pack_device_data.py --data ../shared/data/mtsamples.csv
#                (mtsamples.csv.gz and all-MiniLM-L6-v2 packed under the 64 MiB a call carries)
# Add `/.benchdata/` to .git/info/exclude (`/.whl/` is in .gitignore).
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
