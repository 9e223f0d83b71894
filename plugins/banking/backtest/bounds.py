"""The backtest's params and their bounds: the DAG's trigger form and :mod:`spec` both read them.

Standard library only, so that the DAG file can import it when it is parsed.
"""

from __future__ import annotations

from datetime import timedelta

PARAMS = ("backtest_id", "rules_file", "rules_json", "start", "end", "chunk_minutes")
BACKTEST_ID_PATTERN = "^[a-z0-9_-]{1,64}$"
DEFAULT_CHUNK_MINUTES = 60
MAX_CHUNK_MINUTES = 7 * 1440
MAX_RANGE = timedelta(days=366)
