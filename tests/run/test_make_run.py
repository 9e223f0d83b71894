"""``make run`` as a terminal runs it: the UI on 127.0.0.1 only, the password on the terminal only, and
Ctrl-C (SIGINT to the whole foreground process group) leaves no process behind within 15 s."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.airflow_env import ROOT
from scripts.measure_run import alive, descendants, postgres_pids
from scripts.run import ui_answers

from tests.run.project import project_env

pytestmark = pytest.mark.airflow

STOP_WITHIN = 15


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
        env = project_env(tmp, AIRFLOW__API__PORT=str(self.port))
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


def test_ctrl_c_stops_everything_within_15_s(make_run: MakeRun) -> None:
    started = descendants(make_run.process.pid)
    assert len(started) >= 4 and postgres_pids(make_run.pgdata)  # make, run.py, three components, postgres
    left = make_run.ctrl_c()
    assert left == set(), f"still running after {STOP_WITHIN} s: {left}\n{make_run.terminal()[-2000:]}"
    assert not (make_run.pgdata / "postmaster.pid").exists()
