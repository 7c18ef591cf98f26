# DeepRule — `make run` builds everything on the demo world, `make test` runs the tests.
# Each target creates .venv and installs the project on first use (a no-op afterwards).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home
export DEEPRULE_DATA_HOME ?= $(CURDIR)/data
export MLFLOW_TRACKING_URI ?= sqlite:///$(DEEPRULE_DATA_HOME)/mlflow.db

.PHONY: install run ui test test-slow test-all lint bench mlflow validate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU wheel here; anything else pulls CUDA.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m pipelines.cli run

ui: install
	$(VENV)/bin/dagster dev -w workspace.yaml

validate: install
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

test: install
	$(PY) -m pytest -q -m "not slow"

test-slow: install  # pytest exits 5 when no test is marked slow: not a failure
	$(PY) -u -m pytest -v -m slow || [ $$? -eq 5 ]

test-all: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) benchmarks/run_all.py

mlflow: install
	$(VENV)/bin/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --port 5000

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
