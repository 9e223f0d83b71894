#!/usr/bin/env bash
# Creates the airflow and banking databases and their owners (create-databases.sql) the first time
# the PostgreSQL container initialises its data volume (docker-entrypoint-initdb.d). The passwords
# come from the container's environment; to change them later use ALTER ROLE, or start afresh
# with `docker compose down --volumes`. A subshell, so that it behaves the same when the image's
# entrypoint sources it (as it does when the file lost its executable bit) instead of running it.
(
    set -euo pipefail
    : "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD must be set}"
    : "${BANKING_DB_PASSWORD:?BANKING_DB_PASSWORD must be set}"
    psql --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        --set airflow_password="$AIRFLOW_DB_PASSWORD" \
        --set banking_password="$BANKING_DB_PASSWORD" \
        --file "${BANKING_CREATE_DATABASES_SQL:-/opt/banking/postgres/create-databases.sql}"
)
