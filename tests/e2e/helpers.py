"""Shared data and helpers of the end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

from banking.stream.settings import GeneratorSettings

# The small population of the other DAG tests: quick runs, the same shape of data.
POPULATION = {
    "BANKING_SEED": "7",
    "BANKING_N_ACCOUNTS": "300",
    "BANKING_N_MERCHANTS": "120",
    "BANKING_WARM_START_DAYS": "0",
}
SETTINGS = GeneratorSettings(seed=7, n_accounts=300, n_merchants=120)
WORKERS = 2


def publish_screenshot(path: Path) -> None:
    target = os.environ.get("BANKING_E2E_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / path.name).write_bytes(path.read_bytes())
