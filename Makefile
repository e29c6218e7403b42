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

.PHONY: demo test test-fast test-loaded test-min docs lint clean device-wheels \
  wheel slurm

$(VENV)/installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/installed
	$(PY) -m benchmarks.main \
	  --config=benchmarks/cifar100/configs/quick.py --workdir=$(WORKDIR)

# ruff, and pylint's duplicate-code check (six or more like lines in two
# places; its settings are in pyproject.toml). `pre-commit install` runs the
# same on each commit (.pre-commit-config.yaml).
LINTED := optax_plp benchmarks tests docs conftest.py
lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pylint $(LINTED)

# One worker per core and two more (conftest.py); each test file runs whole on
# one worker, so a file's tests share their trained runs (session fixtures);
# the runs several files use are trained once for all workers
# (tests/conftest.py). Files are handed out slowest first (conftest.py's
# order, which xdist would otherwise replace by each file's number of tests).
PYTEST := $(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

test: lint
	$(PYTEST)

# The library's own tests (tests/library/ and the docstrings' examples).
test-fast: $(VENV)/installed
	$(PY) -m pytest -q -n auto tests/library optax_plp

# The documentation site (Sphinx, MyST; the notebooks with their stored outputs),
# warnings as errors, in a light venv of its own (the docs extra: no
# TensorFlow); it needs no network. Open docs/_build/html/index.html.
DOCS_VENV := .venv-docs
$(DOCS_VENV)/installed: pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(DOCS_VENV)/installed
	$(DOCS_VENV)/bin/python -m sphinx -W --keep-going -q -b html docs \
	  docs/_build/html

# The library's tests at the minimum versions pyproject.toml declares, in a
# venv of their own holding nothing else (no flax, orbax or TensorFlow).
MIN_VENV := .venv-min
test-min:
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet \
	  $$($(PYTHON) tests/support/minimum_versions.py) chex pytest pytest-xdist
	$(MIN_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(MIN_VENV)/bin/python -m pytest -q -n auto tests/library optax_plp

# The whole suite while busy loops keep every core busy (a machine at least
# 2x slower): no test may depend on how fast the machine is.
test-loaded: lint
	$(PY) -m tests.support.under_load $(PYTEST)

# The pure-Python wheels `python -m benchmarks.tools.device_check` and
# `benchmarks.tools.paper_scale` need beyond the accelerator image's packages, for
# the device tool to carry (see its README).
device-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: \
	  --python-version 3.12 -d .whl ml-collections==1.1.0 tabulate==0.9.0

# A single-node SLURM's packages (Debian's; as root), which the study engine's
# SLURM tests start (tests/support/single_node_slurm.py); without them those
# tests skip, except under CI.
SLURM_PACKAGES := slurmctld slurmd slurm-client munge
slurm:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_PACKAGES)

# The library's wheel, in dist/: `pip install dist/optax_plp-*.whl` anywhere.
wheel:
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) $(MIN_VENV) $(DOCS_VENV)
