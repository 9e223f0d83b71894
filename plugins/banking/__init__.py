"""Banking transaction monitoring: the domain core that the Airflow DAGs call.

Nothing in this package needs a running Airflow except ``db.hook_connection``.
"""
