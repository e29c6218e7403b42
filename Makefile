# `make demo` runs the main job, `make test` runs the whole test suite; both
# create .venv and install the project into it first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdir/quick

# Where the caller has not set TFDS_DATA_DIR, use the project's shared copy of
# CIFAR-100 if there is one; elsewhere TFDS downloads the data.
SHARED_TFDS := $(abspath ../shared/tensorflow_datasets)
ifneq ($(wildcard $(SHARED_TFDS)),)
export TFDS_DATA_DIR ?= $(SHARED_TFDS)
endif

.PHONY: demo test lint clean

$(VENV)/installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/installed
	$(PY) -m benchmarks.cifar100.main \
	  --config=benchmarks/cifar100/configs/quick.py --workdir=$(WORKDIR)

lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# One worker per core; each test file runs whole on one worker, so a file's
# tests share their trained runs (session fixtures) within the worker.
test: lint
	$(PY) -m pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV)
