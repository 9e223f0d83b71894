"""``make run`` as a terminal runs it: the UI on 127.0.0.1 only, the password on the terminal only, Grafana
started beside it, and Ctrl-C (SIGINT to the whole foreground process group) leaves no process behind
within 15 s.

No Grafana server can be installed on the machines these tests run on: a stand-in ``grafana-server``
on PATH records the arguments, environment and provisioning folder it was started with.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from scripts.airflow_env import ROOT
from scripts.measure_run import alive, descendants, postgres_pids
from scripts.run import ui_answers

from tests.run.project import project_env

pytestmark = pytest.mark.airflow

STOP_WITHIN = 15
STAND_IN = """#!{python}
# A stand-in grafana-server: records how it was started, then waits to be stopped.
import json, os, pathlib, signal, sys
folder = pathlib.Path(os.environ["GF_PATHS_PROVISIONING"])
files = {{str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.yaml")}}
record = {{"argv": sys.argv, "env": dict(os.environ), "provisioning": files, "pid": os.getpid()}}
pathlib.Path({record!r}).write_text(json.dumps(record))
while True:
    signal.pause()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listeners(port: int) -> set[str]:
    """The local addresses in LISTEN state on ``port``, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


class MakeRun:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.output = tmp / "terminal.txt"
        self.grafana_record = tmp / "grafana-record.json"
        stand_in = tmp / "bin" / "grafana-server"
        stand_in.parent.mkdir()
        stand_in.write_text(STAND_IN.format(python=sys.executable, record=str(self.grafana_record)))
        stand_in.chmod(0o755)
        self.grafana_port = free_port()
        env = project_env(
            tmp,
            AIRFLOW__API__PORT=str(self.port),
            BANKING_GRAFANA_PORT=str(self.grafana_port),
            PATH=f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}",
        )
        env.pop("GRAFANA_HOME", None)
        with self.output.open("wb") as out:
            # A process group of its own, as a terminal gives its foreground job.
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.home = tmp / "airflow-home"
        self.pgdata = tmp / "data" / "postgres"

    def wait_ui(self, timeout: float = 400) -> float:
        started = time.monotonic()
        while not ui_answers(str(self.port)):
            assert self.process.poll() is None, self.terminal()
            assert time.monotonic() - started < timeout, self.terminal()
            time.sleep(0.5)
        return time.monotonic() - started

    def grafana(self, timeout: float = 30) -> dict:
        """What the stand-in Grafana recorded when make run started it."""
        deadline = time.monotonic() + timeout
        while not self.grafana_record.exists():
            assert time.monotonic() < deadline, self.terminal()
            time.sleep(0.5)
        return json.loads(self.grafana_record.read_text())

    def terminal(self) -> str:
        return self.output.read_text(errors="replace")

    def ctrl_c(self) -> set[int]:
        """SIGINT to the whole process group; returns what is still running after STOP_WITHIN seconds."""
        everything = descendants(self.process.pid) | postgres_pids(self.pgdata)
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_WITHIN
        while alive(everything) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = alive(everything)
        self.process.wait(timeout=5)
        return left

    def kill(self) -> None:
        for pid in alive(descendants(self.process.pid) | postgres_pids(self.pgdata)):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    run = MakeRun(tmp_path_factory.mktemp("make-run"))
    try:
        run.wait_ui()
        yield run
    finally:
        if run.process.poll() is None:
            run.kill()


def test_the_api_server_listens_only_on_127_0_0_1_by_default(make_run: MakeRun) -> None:
    assert listeners(make_run.port) == {"127.0.0.1"}


def test_the_password_is_shown_on_the_terminal_and_in_no_log_file(make_run: MakeRun) -> None:
    deadline = time.monotonic() + 30
    while (found := re.search(r"login: admin / (\S+)", make_run.terminal())) is None:
        assert time.monotonic() < deadline, make_run.terminal()
        time.sleep(0.5)
    password = found.group(1)
    logs = [p for p in make_run.home.rglob("*.log") if p.is_file()]
    assert logs, "the components log to files under the home"
    assert [p for p in logs if password in p.read_text(errors="replace")] == []
    assert make_run.terminal().count(password) == 1


def test_grafana_is_started_on_127_0_0_1_provisioned_from_the_checkout(make_run: MakeRun) -> None:
    record = make_run.grafana()
    env, data = record["env"], make_run.tmp / "data" / "grafana"
    assert record["argv"][1:] == [] or record["argv"][1] == "--homepath"
    assert (env["GF_SERVER_HTTP_ADDR"], env["GF_SERVER_HTTP_PORT"]) == (
        "127.0.0.1",
        str(make_run.grafana_port),
    )
    for name in ("GF_PATHS_DATA", "GF_PATHS_LOGS", "GF_PATHS_PROVISIONING"):
        assert Path(env[name]).is_relative_to(data), name
    provisioning, source = record["provisioning"], ROOT / "grafana" / "provisioning"
    assert provisioning["datasources/banking.yaml"] == (source / "datasources" / "banking.yaml").read_text()
    assert f"path: {ROOT / 'grafana' / 'dashboards'}\n" in provisioning["dashboards/banking.yaml"]
    assert "alerting/banking.yaml" in provisioning
    assert Path(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]).is_file()
    assert f"http://127.0.0.1:{make_run.grafana_port}/d/banking-monitoring" in make_run.terminal()
    # The data source's settings reach the embedded PostgreSQL over TCP as the read-only login.
    assert env["BANKING_DB_HOST"] == "127.0.0.1" and env["BANKING_DB_SSLMODE"] == "disable"
    dsn = (
        f"host=127.0.0.1 port={env['BANKING_DB_PORT']} dbname={env['BANKING_DB_NAME']} "
        f"user=banking_dashboard password={env['BANKING_DASHBOARD_PASSWORD']}"
    )
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT count(*) FROM banking_data").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM banking_data")
    with pytest.raises(psycopg.OperationalError):  # no login over TCP without a password
        psycopg.connect(f"host=127.0.0.1 port={env['BANKING_DB_PORT']} dbname=banking user=postgres").close()


def test_ctrl_c_stops_everything_within_15_s(make_run: MakeRun) -> None:
    started = descendants(make_run.process.pid)
    grafana = make_run.grafana()["pid"]
    assert grafana in started and postgres_pids(make_run.pgdata)
    assert len(started) >= 5  # make, run.py, three Airflow components, Grafana
    left = make_run.ctrl_c()
    assert left == set(), f"still running after {STOP_WITHIN} s: {left}\n{make_run.terminal()[-2000:]}"
    assert not (make_run.pgdata / "postmaster.pid").exists()
