# The two set-up commands of the README: `make run` and `make test`.
# Python: the first of 3.11, 3.12, 3.13, 3.10 found on PATH or in pyenv (scripts/find_python.sh), or PYTHON=.
PYTHON ?= $(shell scripts/find_python.sh)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The venv's Python version once it exists, else PYTHON's; it picks the pinned constraints:
# constraints.txt for 3.11 (also the Docker image's), constraints-py3.10.txt, -py3.12.txt, -py3.13.txt.
PYVER := $(shell $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) \
	-c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
CONSTRAINTS := $(if $(filter 3.11,$(PYVER)),constraints.txt,constraints-py$(PYVER).txt)

.PHONY: setup run airflow test smoke lint bench soak downtime clean e2e-deps e2e

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c $(CONSTRAINTS)
	touch $(STAMP)

constraints-py.txt:
	@echo "No Python 3.10, 3.11, 3.12 or 3.13 found (PYTHON=$(PYTHON)): install one, or run make PYTHON=/path/to/python3.x"; exit 1

constraints-py%.txt:
	@echo "Python $* is not supported: Airflow 3.3 and this project need 3.10, 3.11, 3.12 or 3.13 (make PYTHON=...)"; exit 1

## Run the pipeline on its schedule: embedded PostgreSQL (unless AIRFLOW_CONN_BANKING_DB is set) + Airflow standalone.
run: setup
	$(BIN)/python scripts/run.py

## Any Airflow CLI command in make run's environment (the same as ./airflow), e.g.
## make airflow ARGS="dags test banking_transactions 2026-11-20T12:00:00+00:00"
airflow: setup
	$(BIN)/python scripts/airflow_cli.py $(ARGS)

## The whole test suite, against a real PostgreSQL and real DAG runs.
test: setup lint e2e-deps
	$(BIN)/python -m pytest

## CI's check of another Python: install in its own venv, the DAG integrity tests and one real DAG run.
## make smoke PYTHON=python3.12 VENV=.venv-py3.12
smoke: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/dags/test_dag_integrity.py \
		tests/dags/test_dag_runs.py::test_schema_then_transactions_then_retention

## Only the end-to-end tests: Airflow on Celery workers through its REST API and UI (tests/e2e).
## BANKING_E2E_SCREENSHOT_DIR=docs/img make e2e refreshes the README's screenshots.
e2e: setup e2e-deps
	$(BIN)/python -m pytest -m e2e tests/e2e

## What the end-to-end tests need from Debian, installed when missing: chromium for the browser test,
## and redis-server when no Redis answers on 127.0.0.1:6379 (the tests then start their own).
e2e-deps:
	@pkgs=""; [ -x /usr/bin/chromium ] || pkgs="chromium"; \
	if ! command -v redis-server >/dev/null && \
		! python3 -c 'import socket; socket.create_connection(("127.0.0.1", 6379), 2)' 2>/dev/null; then \
		pkgs="$$pkgs redis-server"; fi; \
	if [ -n "$$pkgs" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; \
		else echo "make e2e-deps: run 'apt-get install $$pkgs' as root"; exit 1; fi; \
		echo "make e2e-deps: apt-get install $$pkgs"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$SUDO apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	fi

## Throughput, dashboard latency, freshness, population, steady-state and capacity figures (docs/performance.md).
bench: setup
	$(BIN)/python scripts/bench.py

## 500+ consecutive one-minute windows through the DAG's task code (see docs/reliability.md).
soak: setup
	$(BIN)/python scripts/soak.py

## Stop the Celery stack's scheduler for 5 minutes, start it again, check every missed minute is loaded once.
downtime: setup e2e-deps
	$(BIN)/python scripts/downtime.py --down 300

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff check --select AIR,F dags plugins
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .venv-py3.* .pytest_cache .ruff_cache
