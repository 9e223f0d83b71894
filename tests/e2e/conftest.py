"""The Celery stack of the end-to-end tests: started once per session, stopped even when a test fails.

``scripts/e2e_stack.py`` starts PostgreSQL databases, a Redis broker, ``airflow db migrate`` and then the
api-server, scheduler, dag-processor and two ``airflow celery worker`` processes, each in its own
process group; the fixture runs ``banking_schema`` through the REST API before the tests.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.e2e_stack import Stack

from tests.e2e.helpers import POPULATION, WORKERS


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@pytest.fixture(scope="session")
def celery_stack() -> Iterator[Stack]:
    # A SIGTERM to pytest (a CI time-out) still runs the teardown below, which stops every process group.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    try:
        with Stack(
            workers=WORKERS,
            concurrency=1,
            banking_env=POPULATION,
            # A PostgreSQL server of your own (else 127.0.0.1:5432, else an embedded one) and Redis URL.
            dsn=os.environ.get("BANKING_E2E_DSN") or os.environ.get("BANKING_TEST_DSN"),
            redis_url=os.environ.get("BANKING_E2E_REDIS_URL"),
            keep_dir=bool(os.environ.get("BANKING_E2E_KEEP")),  # keep the logs
        ) as stack:
            stack.run_dag("banking_schema", timeout=240)
            print(f"\ne2e stack ready in {time.monotonic() - started:.0f}s at {stack.base_url}")
            yield stack
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser test saves its screenshots; ``BANKING_E2E_SCREENSHOT_DIR`` gets copies."""
    return tmp_path_factory.mktemp("screenshots")
