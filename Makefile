# DeepRule — `make run` builds everything on the demo world, `make test` runs the tests.
# Each target creates .venv and installs requirements.lock on first use (a no-op afterwards).
# Elsewhere than our machines (no /opt/wheels holding torch 2.13.0+cpu), add PyTorch's CPU index:
#   make install PIP_EXTRA='--extra-index-url https://download.pytorch.org/whl/cpu'
PIP_EXTRA ?=

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home
export DEEPRULE_DATA_HOME ?= $(CURDIR)/data
export MLFLOW_TRACKING_URI ?= sqlite:///$(DEEPRULE_DATA_HOME)/mlflow.db

.PHONY: install lock run ui test test-slow test-all lint bench mlflow validate clean

$(STAMP): requirements.lock pyproject.toml
	@start=$$(date +%s); \
	echo "[install] .venv from requirements.lock (exact versions, sha256-checked)"; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	$(PY) -m pip install -q --require-hashes --no-deps $(PIP_EXTRA) -r requirements.lock && \
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . && \
	$(PY) -m pip check && \
	touch $(STAMP) && echo "[install] done in $$(( $$(date +%s) - start )) s"

install: $(STAMP)

# Regenerate requirements.lock from pyproject.toml's ranges (newest releases that satisfy them).
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra qwen --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --find-links /opt/wheels \
	  -c lock-constraints.txt --no-header -o requirements.lock
	$(PY) -m pipelines.lock_stamp requirements.lock
	@echo "requirements.lock regenerated: review the diff, then 'make install'"

run: install
	@$(call timed,run,$(PY) -m pipelines.cli run)

ui: install
	$(VENV)/bin/dagster dev -w workspace.yaml

validate: install
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

# `timed LABEL COMMAND`: say what runs, then how long it took and how it ended.
timed = echo "[$(1)] $(2)"; start=$$(date +%s); $(2); code=$$?; \
	echo "[$(1)] exit $$code in $$(( $$(date +%s) - start )) s"; exit $$code

test: install
	@$(call timed,test,$(PY) -m pytest -q -m "not slow")

test-slow: install  # pytest exits 5 when no test is marked slow: not a failure
	@$(call timed,test-slow,$(PY) -u -m pytest -v -m slow || [ $$? -eq 5 ])

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
