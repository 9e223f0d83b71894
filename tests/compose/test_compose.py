"""docker-compose.yaml, checked without a Docker engine: it parses, every service is health-checked
and waits for what it needs, it mounts only what the repository has, it holds no secret, and every
variable it reads is documented in .env.example."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.compose.helpers import (
    ROOT,
    MissingVariable,
    compose,
    compose_text,
    env_example_names,
    load_script,
    resolve,
    variables,
)

generate_env = load_script("docker/generate_env.py")

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "grafana"}
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|FERNET_KEY|TOKEN)$")
URI_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")
EXACT_REFERENCE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$")


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def generated_env(tmp_path: Path) -> dict[str, str]:
    env_file = tmp_path / ".env"
    generate_env.add_missing(env_file)
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)


def resolved(environ: dict[str, str]) -> dict[str, Any]:
    return resolve(compose(), environ)


def test_the_stack_has_its_services() -> None:
    assert set(services()) == SERVICES
    assert compose()["x-airflow-common"]["image"]  # the shared definition the Airflow services merge


def test_every_service_has_a_healthcheck() -> None:
    """One-shot services may disable theirs: dependants wait for them to exit successfully instead."""
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            assert service.get("restart") == "no", name
            waits = [
                s["depends_on"][name]["condition"]
                for s in services().values()
                if name in s.get("depends_on", {})
            ]
            assert waits and set(waits) == {"service_completed_successfully"}, name
        else:
            test = check["test"]
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2, name
            assert check["interval"] and check["retries"], name


def test_depends_on_targets_exist_and_are_waited_for_properly() -> None:
    for name, service in services().items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services() and target != name, (name, target)
            condition = spec["condition"]
            if services()[target].get("restart") == "no":
                assert condition == "service_completed_successfully", (name, target)
            else:
                assert condition == "service_healthy", (name, target)
                assert not services()[target]["healthcheck"].get("disable"), target
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services()[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert set(services()["grafana"]["depends_on"]) == {"postgres", "airflow-init"}


def test_mounts_exist_in_the_repository() -> None:
    named = set(compose()["volumes"])
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            assert target.startswith("/"), (name, volume)
            if source.startswith("."):
                path = (ROOT / source).resolve()
                assert path.exists() and ROOT in [path, *path.parents], (name, volume)
                assert mode == ["ro"], f"{name}: mount the checkout read-only: {volume}"
            else:
                assert source in named, (name, volume)
    airflow_mounts = set(compose()["x-airflow-common"]["volumes"])
    for folder in ("dags", "plugins", "include"):
        assert f"./{folder}:/opt/airflow/{folder}:ro" in airflow_mounts


def test_no_literal_secrets() -> None:
    def check(where: str, key: str, value: Any) -> None:
        text = str(value)
        if SECRET_KEY.search(key):
            assert EXACT_REFERENCE.match(text), f"{where}: {key} must come from ${{...}}, not {text!r}"
            assert ":-" not in text or text.endswith(":-}"), f"{where}: {key} has a default value"
        for password in URI_PASSWORD.findall(text):
            assert EXACT_REFERENCE.match(password), f"{where}: {key} has a literal password in its URI"

    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            check(name, key, value)
    assert "PASSWORD" in compose_text()  # the checks above did look at passwords


def test_every_variable_is_documented_in_env_example() -> None:
    used = set(variables(compose()))
    assert {"BANKING_DB_PASSWORD", "BANKING_DASHBOARD_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= used
    assert "HOSTNAME" not in used  # $${HOSTNAME} is the container's, escaped from compose
    missing = sorted(used - env_example_names())
    assert not missing, f".env.example does not document {missing}"


def test_required_secrets_are_exactly_what_generate_env_writes() -> None:
    required = {name for name, uses in variables(compose()).items() if any(op == ":?" for op, _ in uses)}
    assert required == set(generate_env.SECRETS)
    for name, uses in variables(compose()).items():
        if name in required:
            assert all(op == ":?" and "generate_env" in message for op, message in uses), name


def test_generate_env_fills_only_what_is_missing(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GRAFANA_ADMIN_PASSWORD=mine\n# AIRFLOW_JWT_SECRET=commented-out\n")
    added = generate_env.add_missing(env_file)
    assert set(added) == set(generate_env.SECRETS) - {"GRAFANA_ADMIN_PASSWORD"}
    assert generate_env.add_missing(env_file) == []
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and line[0] != "#")
    assert values["GRAFANA_ADMIN_PASSWORD"] == "mine"
    assert len(base64.urlsafe_b64decode(values["AIRFLOW_FERNET_KEY"])) == 32
    assert all(
        re.fullmatch(r"[0-9a-f]{16,}", v)
        for k, v in values.items()
        if k.endswith("_PASSWORD") and v != "mine"
    )
    assert env_file.stat().st_mode & 0o077 == 0


def test_compose_interpolates_with_a_generated_env(tmp_path: Path) -> None:
    """The assembled AIRFLOW_CONN_BANKING_DB, parsed as libpq parses it, for the local database and RDS."""
    env = generated_env(tmp_path)
    stack = resolved(env)
    airflow = stack["services"]["airflow-scheduler"]["environment"]
    assert conninfo_to_dict(airflow["AIRFLOW_CONN_BANKING_DB"]) == {
        "host": "postgres",
        "port": "5432",
        "dbname": "banking",
        "user": "banking",
        "password": env["BANKING_DB_PASSWORD"],
        "sslmode": "disable",
        "sslrootcert": "",  # empty: libpq's default, unused with sslmode=disable
    }
    grafana = stack["services"]["grafana"]["environment"]
    assert grafana["BANKING_DASHBOARD_PASSWORD"] == airflow["BANKING_DASHBOARD_PASSWORD"] != ""
    assert (grafana["BANKING_DB_HOST"], grafana["BANKING_DB_SSLMODE"]) == ("postgres", "disable")
    rds = {
        "BANKING_DB_HOST": "db.abc.eu-west-1.rds.amazonaws.com",
        "BANKING_DB_SSLMODE": "verify-full",
        "BANKING_DB_SSLROOTCERT": "/opt/banking/certs/global-bundle.pem",
    }
    stack = resolved(env | rds)
    conn = conninfo_to_dict(stack["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_BANKING_DB"])
    assert (conn["host"], conn["sslmode"], conn["sslrootcert"]) == tuple(rds.values())
    grafana = stack["services"]["grafana"]["environment"]
    assert {k: grafana[k] for k in rds} == rds
    with pytest.raises(MissingVariable, match="generate_env"):
        resolved({k: v for k, v in env.items() if k != "BANKING_DASHBOARD_PASSWORD"})
    postgres = resolved(env)["services"]["postgres"]["command"]
    assert postgres == ["postgres", "-c", "shared_buffers=512MB"]
    bigger = resolved(env | {"POSTGRES_SHARED_BUFFERS": "2GB"})["services"]["postgres"]["command"]
    assert bigger[-1] == "shared_buffers=2GB"


def test_airflow_configuration() -> None:
    common = compose()["x-airflow-common"]
    env = common["environment"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    assert common["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}
    for name in AIRFLOW_SERVICES:
        service = services()[name]
        assert service["image"] == common["image"] and service["environment"]["AIRFLOW_CONN_BANKING_DB"]
    commands = {name: services()[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-worker"] == "celery worker" and commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-init"] == ["bash", "/opt/banking/airflow-init.sh"]
    assert "127.0.0.1:${AIRFLOW_PORT:-8080}:8080" in services()["airflow-apiserver"]["ports"]
    assert "127.0.0.1:${GRAFANA_PORT:-3000}:3000" in services()["grafana"]["ports"]


def test_postgres_creates_separate_databases_and_users() -> None:
    postgres = services()["postgres"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"]}
    init = mounts["/docker-entrypoint-initdb.d/10-banking-databases.sh"]
    assert init == "./docker/postgres/init-databases.sh"
    assert mounts["/opt/banking/postgres"] == "./docker/postgres"
    sql = (ROOT / "docker" / "postgres" / "create-databases.sql").read_text()
    for statement in ("CREATE DATABASE airflow OWNER airflow", "CREATE DATABASE banking OWNER banking"):
        assert statement in sql
    assert "SUPERUSER" not in sql.replace("not SUPERUSER", "")


def test_dockerfile_installs_the_pinned_requirements() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "ARG AIRFLOW_BASE_IMAGE=apache/airflow:3.3.2-python3.11" in dockerfile
    assert re.search(
        r"pip install .*-r /opt/banking/requirements.txt -c /opt/banking/constraints.txt", dockerfile
    )
    assert "apache-airflow==3.3.2" in (ROOT / "requirements.txt").read_text().splitlines()
    assert 'python -c "import airflow.providers.celery.executors.celery_executor"' in dockerfile
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[0 if ignore[0] == "*" else ignore.index("*")] == "*"
    for needed in ("requirements.txt", "constraints.txt", "dags/"):
        assert f"!{needed}" in ignore
    for folder in ("dags", "plugins", "include"):
        assert f"COPY --chown=airflow:0 {folder} /opt/airflow/{folder}" in dockerfile


def test_celery_pin_keeps_the_celery_executor_importable() -> None:
    """celery 5.7.0 removed celery.backends.database.retry, which the Celery provider imports."""
    pins = [
        line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("celery==")
    ]
    assert pins and pins[0] != "celery==5.7.0"


def test_airflow_init_sets_everything_up() -> None:
    script = (ROOT / "docker" / "airflow-init.sh").read_text()
    for step in ("airflow db migrate", "airflow dags reserialize", "airflow dags test banking_schema"):
        assert step in script
    unpaused = re.search(r"airflow dags unpause --treat-dag-id-as-regex --yes '(.+)'", script)
    assert unpaused
    dag_ids = {"banking_transactions", "banking_schema", "banking_retention"}
    assert {d for d in dag_ids | {"banking_other", "xbanking_schema"} if re.search(unpaused[1], d)} == dag_ids
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script
    assert compose()["services"]["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"].startswith("${")


@pytest.mark.parametrize(
    ("shell", "script"),
    [
        ("bash", "docker/airflow-init.sh"),
        ("bash", "docker/postgres/init-databases.sh"),
        ("sh", "docker/grafana/entrypoint.sh"),
        ("sh", "docker/grafana/render-alerts.sh"),
        ("sh", "docker/grafana/prepare-provisioning.sh"),
    ],
)
def test_shell_scripts_parse(shell: str, script: str) -> None:
    result = subprocess.run([shell, "-n", str(ROOT / script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
