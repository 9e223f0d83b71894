"""The tables the DAGs write, as Airflow Assets, so that the UI's Assets view shows which DAG feeds what.

Light at parse time: it imports only ``airflow.sdk``. Each Asset is named after its table; its URI
takes the Postgres provider's form ``postgres://<host>/<database>/<schema>/<table>``, with the
Airflow connection id ``banking_db`` in place of the host (the connection says where the database
runs) and ``banking``, the pipeline's database, in place of the database name.
"""

from __future__ import annotations

from airflow.sdk import Asset

CONN_ID = "banking_db"
DATABASE = "banking"


def table(name: str) -> Asset:
    """The Asset of the pipeline's table ``name`` (in schema public)."""
    return Asset(name=name, uri=f"postgres://{CONN_ID}/{DATABASE}/public/{name}")


TRANSACTIONS = table("banking_data")
AUDIT = table("banking_batches")
STAGING = table("banking_staging")
ROLLUPS = tuple(
    table(f"banking_{period}_{kind}")
    for period, kinds in (
        ("minute", ("stats", "rule_hits")),
        ("hour", ("stats", "rule_hits", "blacklisted")),
        ("day", ("stats", "rule_hits", "blacklisted")),
    )
    for kind in kinds
)
# What a load writes: the rows, their rollups and one audit row per minute.
LOADED = (TRANSACTIONS, *ROLLUPS, AUDIT)
# What banking_schema's set_up writes: the migrations' record and the synthetic population.
SCHEMA = tuple(
    table(name)
    for name in (
        "banking_schema_migrations",
        "banking_population",
        "accounts",
        "cards",
        "merchants",
        "blacklist",
    )
)
BACKTEST = tuple(table(f"banking_backtest_{name}") for name in ("runs", "results", "metrics"))
