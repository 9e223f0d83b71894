#!/usr/bin/env bash
# The compose stack's one-shot set-up (service airflow-init), run before any other Airflow service
# starts. Idempotent: it runs on every `docker compose up` and changes only what is missing.
#   1. migrates Airflow's metadata database;
#   2. writes the simple auth manager's login for AIRFLOW_ADMIN_USERNAME / AIRFLOW_ADMIN_PASSWORD;
#   3. serialises the DAGs, runs banking_schema once (migrations, login roles such as
#      banking_dashboard for Grafana, population, partitions) and unpauses the banking DAGs.
set -euo pipefail

say() { printf '\033[1;36m[airflow-init]\033[0m %s\n' "$*"; }

: "${AIRFLOW_ADMIN_USERNAME:?AIRFLOW_ADMIN_USERNAME must be set}"
: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD must be set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?the passwords file must be configured}"
: "${AIRFLOW_CONN_BANKING_DB:?AIRFLOW_CONN_BANKING_DB must be set}"

say "migrating Airflow's metadata database"
airflow db migrate

say "writing the login of '${AIRFLOW_ADMIN_USERNAME}' to ${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
tmp = path.with_suffix(".tmp")
tmp.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USERNAME"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
tmp.chmod(0o600)
tmp.replace(path)
PY

say "serialising the DAGs"
airflow dags reserialize

say "running banking_schema once: migrations, login roles, population, partitions"
airflow dags test banking_schema

say "unpausing the banking DAGs (on every start, as make run does)"
airflow dags unpause --treat-dag-id-as-regex --yes '^banking_(transactions|schema|retention)$'
say "done: banking_transactions loads a window every minute"
