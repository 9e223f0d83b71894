"""The dashboard beside ``make run``: a local Grafana server, else the pinned Grafana image on Docker.

Grafana is provisioned from ``grafana/`` (the data source as the read-only ``banking_dashboard`` login,
the dashboard, the alert rules with the thresholds of the environment), listens on 127.0.0.1
(``BANKING_GRAFANA_PORT``, default 3000) and keeps its data, logs and rendered provisioning in
``.data/grafana``. The generated passwords (Grafana's admin, ``banking_dashboard``) are kept in
``.data/grafana/secrets.json`` (mode 0600) unless ``GRAFANA_ADMIN_PASSWORD`` or
``BANKING_DASHBOARD_PASSWORD`` are set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from scripts import local_secrets

ROOT = Path(__file__).resolve().parents[1]
MISSING_HINT = (
    "dashboard: no Grafana here; install Grafana (grafana-server on PATH, or GRAFANA_HOME) or Docker "
    "and restart make run, or use docker compose (docs/docker.md)"
)
RENDER_ALERTS = ROOT / "docker" / "grafana" / "render-alerts.sh"
COMPOSE_DASHBOARDS = "/etc/grafana/dashboards/banking"  # the path grafana/provisioning names


@dataclass
class Grafana:
    """How to start Grafana here: a local binary (with its home folder) or the Docker image."""

    kind: str  # "local" or "docker"
    command: list[str]
    home: Path | None = None


def find() -> Grafana | None:
    """A local Grafana server (``GRAFANA_HOME``, ``grafana``, ``grafana-server``), else Docker, else None."""
    if home := os.environ.get("GRAFANA_HOME"):
        binary = next((b for b in ("grafana", "grafana-server") if (Path(home) / "bin" / b).exists()), None)
        if binary:
            return _local(Path(home) / "bin" / binary, Path(home))
    for name in ("grafana", "grafana-server"):
        if path := shutil.which(name):
            return _local(Path(path), None)
    if shutil.which("docker") and _docker_answers():
        return Grafana("docker", ["docker"])
    return None


def _local(binary: Path, home: Path | None) -> Grafana:
    """``grafana server`` (Grafana 10+) or the older ``grafana-server``, with its home folder when known."""
    if home is None:
        candidates = [binary.resolve().parent.parent, Path("/usr/share/grafana")]
        home = next((c for c in candidates if (c / "conf" / "defaults.ini").exists()), None)
    command = [str(binary), "server"] if binary.name == "grafana" else [str(binary)]
    if home is not None:
        command += ["--homepath", str(home)]
    return Grafana("local", command, home)


def _docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_image() -> str:
    """The Grafana image docker-compose.yaml pins."""
    found = re.search(r"\$\{GRAFANA_IMAGE:-([^}]+)\}", (ROOT / "docker-compose.yaml").read_text())
    return os.environ.get("GRAFANA_IMAGE") or (found.group(1) if found else "grafana/grafana:12.2.0")


def render_provisioning(target: Path, dashboards: str) -> Path:
    """``grafana/provisioning`` copied to ``target`` with the alert thresholds of the environment and the
    dashboards provider pointed at ``dashboards``."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "grafana" / "provisioning", target)
    for rules in (target / "alerting").glob("*.yaml"):
        rendered = subprocess.run(
            ["sh", str(RENDER_ALERTS), str(rules)], capture_output=True, text=True, check=True
        ).stdout
        rules.write_text(rendered)
    for provider in (target / "dashboards").glob("*.yaml"):
        provider.write_text(provider.read_text().replace(COMPOSE_DASHBOARDS, dashboards))
    return target


@dataclass
class Dashboard:
    """A Grafana ready to start: its command, its environment, what Airflow must know, the line to print."""

    command: list[str]
    env: dict[str, str]
    airflow_env: dict[str, str] = field(default_factory=dict)
    hint: str = ""


def prepare(grafana: Grafana, conninfo: str, folder: Path) -> Dashboard | None:
    """The Grafana of ``grafana`` reading the banking database of ``conninfo`` (a URI or ``key=value``
    string) over TCP; None when the database has no TCP address (a Unix socket only)."""
    db = conninfo_to_dict(conninfo)
    host = db.get("host") or "localhost"
    if host.startswith("/"):
        return None
    names = ["GRAFANA_ADMIN_PASSWORD", "BANKING_DASHBOARD_PASSWORD"]
    values = local_secrets.kept(folder / "secrets.json", names, given=os.environ, nbytes=16)
    port = os.environ.get("BANKING_GRAFANA_PORT", "3000")
    settings = {
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": port,
        "GF_SECURITY_ADMIN_USER": os.environ.get("GRAFANA_ADMIN_USER", "admin"),
        "GF_SECURITY_ADMIN_PASSWORD": values["GRAFANA_ADMIN_PASSWORD"],
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
        # Read by grafana/provisioning/datasources/banking.yaml.
        "BANKING_DB_HOST": host,
        "BANKING_DB_PORT": str(db.get("port") or 5432),
        "BANKING_DB_NAME": db.get("dbname") or "banking",
        "BANKING_DB_SSLMODE": db.get("sslmode") or "disable",
        "BANKING_DB_SSLROOTCERT": db.get("sslrootcert") or "",
        "BANKING_DASHBOARD_PASSWORD": values["BANKING_DASHBOARD_PASSWORD"],
    }
    login = f"{settings['GF_SECURITY_ADMIN_USER']} / {values['GRAFANA_ADMIN_PASSWORD']}"
    hint = f"dashboard: http://127.0.0.1:{port}/d/banking-monitoring  login: {login}"
    airflow_env = {"BANKING_DASHBOARD_PASSWORD": values["BANKING_DASHBOARD_PASSWORD"]}
    if grafana.kind == "docker":
        return Dashboard(_docker_command(settings, folder), dict(os.environ), airflow_env, hint)
    provisioning = render_provisioning(folder / "provisioning", str(ROOT / "grafana" / "dashboards"))
    env = dict(os.environ) | settings
    env.update(
        GF_PATHS_DATA=str(folder / "data"),
        GF_PATHS_LOGS=str(folder / "logs"),
        GF_PATHS_PLUGINS=str(folder / "plugins"),
        GF_PATHS_PROVISIONING=str(provisioning),
        GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=str(ROOT / "grafana" / "dashboards" / "banking.json"),
    )
    return Dashboard(grafana.command, env, airflow_env, hint)


def _docker_command(settings: dict[str, str], folder: Path) -> list[str]:
    """The compose service's container, on the host's network (so 127.0.0.1 is this machine's)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    os.chmod(folder / "data", 0o777)  # the image runs Grafana as its own user
    command = ["docker", "run", "--rm", "--network", "host", "--name", f"banking-grafana-{os.getpid()}"]
    for name, value in settings.items():
        command += ["-e", f"{name}={value}"]
    command += ["-e", f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH={COMPOSE_DASHBOARDS}/banking.json"]
    for source, target in (
        ("grafana/provisioning", "/etc/grafana/banking-provisioning"),
        ("grafana/dashboards", COMPOSE_DASHBOARDS),
        ("docker/grafana", "/opt/banking/grafana"),
    ):
        command += ["-v", f"{ROOT / source}:{target}:ro"]
    command += ["-v", f"{folder / 'data'}:/var/lib/grafana"]
    return [*command, "--entrypoint", "/bin/sh", compose_image(), "/opt/banking/grafana/entrypoint.sh"]
