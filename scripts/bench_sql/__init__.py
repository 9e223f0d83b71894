"""The benchmark's own SQL (``make bench``), kept beside it and apart from the product's include/sql.

Code refers to a file by its name without the suffix, for example ``sql("copy_table")``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from banking.db import split_statements

SQL_DIR = Path(__file__).resolve().parent


@cache
def sql(name: str) -> str:
    """The text of ``scripts/bench_sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def sql_statements(name: str) -> list[str]:
    """The statements of a multi-statement benchmark SQL file."""
    return split_statements(sql(name))
