# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run airflow test lint bench soak clean e2e-deps e2e

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

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

## Throughput, dashboard latency and freshness figures (see docs/performance.md).
bench: setup
	$(BIN)/python scripts/bench.py

## 500+ consecutive one-minute windows through the DAG's task code (see docs/reliability.md).
soak: setup
	$(BIN)/python scripts/soak.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff check --select AIR,F dags plugins
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
