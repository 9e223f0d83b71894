"""The embedded PostgreSQL stays quiet at exit: pgserver's exit handler must not log through handlers whose
streams are closed by then (pytest's, Airflow's), which printed ``--- Logging error ---`` after ``make test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scripts.airflow_env import ROOT

SCRIPT = """
import io, logging, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from scripts import embedded_postgres
stream = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(stream))
logging.getLogger().setLevel(logging.INFO)
server, admin = embedded_postgres.start(Path({data!r}))
stream.close()  # like pytest's capture at the end of a session; pgserver stops the server at exit
print("port", admin["port"])
"""


def test_no_logging_error_when_pgserver_stops_at_exit(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # as root, pgserver runs the server as its own OS user
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT), data=str(tmp_path / "pgdata"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["port", "5432"]
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip() == ""  # nor pgserver's XDG_RUNTIME_DIR warning
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()  # and the server was stopped
