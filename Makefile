# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench soak clean

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

## The whole test suite, against a real PostgreSQL and real DAG runs.
test: setup lint
	$(BIN)/python -m pytest

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
