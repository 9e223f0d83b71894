"""DagBag integrity: the DAGs import cleanly, are well formed, and parse fast without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dags.conftest import PARSE_TIMES, airflow_env
from tests.dags.helpers import OUTLETS
from tests.helpers import ROOT

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
EXPECTED = {"banking_transactions", "banking_schema", "banking_retention", "banking_backtest"}
# Triggered by hand only (schedule=None, so NullTimetable); every scheduled DAG uses data intervals.
MANUAL = {"banking_backtest"}

PROBE = """
import json, sys, time
from airflow.models.dagbag import DagBag
path = sys.argv[1]
started = time.perf_counter()
bag = DagBag(dag_folder=path)
seconds = time.perf_counter() - started
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(dag.tags),
        "owners": sorted({t.owner for t in dag.tasks}),
        "retries": sorted({t.retries for t in dag.tasks}),
        "timetable": type(dag.timetable).__name__,
        "max_active_runs": dag.max_active_runs,
        "params": sorted(dag.params.keys()),
        "schemas": {k: dag.params.get_param(k).schema for k in dag.params},
        "multiple_outputs": sorted({bool(getattr(t, "multiple_outputs", False)) for t in dag.tasks}),
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        "defaults": {k: dag.params.get_param(k).value for k in dag.params
                     if dag.params.get_param(k).has_value},
        "doc_md": bool(dag.doc_md),
        "outlets": {t.task_id: sorted(a.name for a in t.outlets) for t in dag.tasks},
        "uris": sorted({a.uri for t in dag.tasks for a in t.outlets}),
    }
# Of the package, only the standard-library modules that hold the Params' bounds, the Assets and the
# maintenance DAGs' arguments (airflow.sdk and pendulum) may load.
light = {"banking", "banking.stream", "banking.stream.settings", "banking.backtest", "banking.backtest.bounds",
         "banking.assets", "banking.dag_args"}
heavy = sorted(m for m in sys.modules if m in ("faker", "psycopg", "numpy")
               or (m.split(".")[0] == "banking" and m not in light))
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags,
                  "seconds": seconds, "heavy": heavy}))
"""


def parse(path: Path, tmp_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        env=airflow_env(tmp_path, None),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    home = tmp_path_factory.mktemp("parse-home")
    out = {}
    for path in DAG_FILES:
        started = time.perf_counter()
        out[path.name] = parse(path, home)
        out[path.name]["wall"] = time.perf_counter() - started
        PARSE_TIMES[path.name] = out[path.name]["seconds"]
    return out


def test_no_import_errors(parsed: dict[str, dict]) -> None:
    for name, result in parsed.items():
        assert result["errors"] == {}, name


def test_the_four_dags_are_there(parsed: dict[str, dict]) -> None:
    found = {dag_id for result in parsed.values() for dag_id in result["dags"]}
    assert found == EXPECTED


def test_every_dag_has_tags_owner_retries_and_docs(parsed: dict[str, dict]) -> None:
    for result in parsed.values():
        for dag_id, dag in result["dags"].items():
            assert "banking" in dag["tags"], dag_id
            assert dag["owners"] == ["banking"], dag_id
            assert min(dag["retries"]) >= 1, dag_id
            assert dag["doc_md"], dag_id
            timetable = "NullTimetable" if dag_id in MANUAL else "CronDataIntervalTimetable"
            assert dag["timetable"] == timetable, dag_id
            assert dag["max_active_runs"] == 1, dag_id


def test_each_task_pushes_one_xcom_and_states_its_dependencies(parsed: dict[str, dict]) -> None:
    """No task returns a dict as several XComs (TaskFlow's multiple_outputs); the load waits for the
    score task, whose staged scores it reads, without taking its result as an unused argument."""
    for result in parsed.values():
        for dag_id, dag in result["dags"].items():
            assert dag["multiple_outputs"] == [False], dag_id
    upstream = parsed["banking_transactions.py"]["dags"]["banking_transactions"]["upstream"]
    assert upstream == {"generate": [], "score": ["generate"], "load": ["generate", "score"]}


def test_each_task_declares_the_tables_it_writes_as_assets(parsed: dict[str, dict]) -> None:
    """The Assets view tells the data flow: each task names the tables it writes (or deletes from) as
    outlets, each Asset named after its table, with a URI in the Postgres provider's normal form."""
    dags = {dag_id: dag for result in parsed.values() for dag_id, dag in result["dags"].items()}
    assert {dag_id: dag["outlets"] for dag_id, dag in dags.items()} == OUTLETS
    for dag_id, dag in dags.items():
        names = {name for outlets in dag["outlets"].values() for name in outlets}
        assert dag["uris"] == sorted(f"postgres://banking_db:5432/banking/public/{n}" for n in names), dag_id


def test_trigger_form_params(parsed: dict[str, dict]) -> None:
    params = parsed["banking_transactions.py"]["dags"]["banking_transactions"]["params"]
    assert params == ["fraud_rate", "rate_per_minute", "variant", "window_minutes"]
    assert parsed["banking_retention.py"]["dags"]["banking_retention"]["params"] == [
        "dry_run",
        "retention_days",
    ]


def test_dag_files_import_nothing_heavy_at_top_level(parsed: dict[str, dict]) -> None:
    """Database drivers, Faker, NumPy and the pipeline load inside tasks, not when the file is parsed:
    the DAG files read only the settings' and the backtest's bounds, which need the standard library."""
    for name, result in parsed.items():
        assert result["heavy"] == [], name


def test_the_trigger_form_bounds_are_the_settings_bounds(parsed: dict[str, dict]) -> None:
    """The Params are built from settings.SPECS and MAX_WINDOW_MINUTES, the bounds the tasks check."""
    from banking.backtest.bounds import BACKTEST_ID_PATTERN, DEFAULT_CHUNK_MINUTES, MAX_CHUNK_MINUTES
    from banking.stream.settings import MAX_WINDOW_MINUTES, SPECS, STREAM_FIELDS

    schemas = parsed["banking_transactions.py"]["dags"]["banking_transactions"]["schemas"]
    assert (schemas["window_minutes"]["minimum"], schemas["window_minutes"]["maximum"]) == (
        1,
        MAX_WINDOW_MINUTES,
    )
    for name in STREAM_FIELDS:
        spec = SPECS[name]
        assert (schemas[name]["minimum"], schemas[name]["maximum"]) == (spec.low, spec.high), name
        assert schemas[name]["type"] == ["null", "number" if spec.kind is float else "integer"], name
        assert ("not" in schemas[name]) == (spec.kind is float), name  # NaN is refused where numbers go
    backtest = parsed["banking_backtest.py"]["dags"]["banking_backtest"]["schemas"]
    assert backtest["backtest_id"]["pattern"] == BACKTEST_ID_PATTERN
    assert backtest["chunk_minutes"]["maximum"] == MAX_CHUNK_MINUTES
    assert (
        parsed["banking_backtest.py"]["dags"]["banking_backtest"]["defaults"]["chunk_minutes"]
        == DEFAULT_CHUNK_MINUTES
    )


PLUGINS_PROBE = """
import json, sys
from pathlib import Path
from airflow._shared.plugins_manager import plugins_manager
from airflow.configuration import conf

plugins, errors = plugins_manager._load_plugins_from_plugin_directory(
    plugins_folder=conf.get("core", "plugins_folder"), load_examples=False
)
stems = sorted(p.stem for p in Path(conf.get("core", "plugins_folder"), "banking").glob("*.py"))
print(json.dumps({"plugins": sorted(p.name for p in plugins), "errors": list(errors), "reimported": [s for s in stems if s in sys.modules]}))
"""


def test_the_banking_package_is_not_loaded_as_airflow_plugins(tmp_path: Path) -> None:
    """plugins/.airflowignore keeps Airflow from importing each file of the package again as a
    top-level module (``settings``, ``db``, ``tasks``, ...) in every Airflow process: the one plugin
    is the api-server's trigger guard (plugins/banking_trigger_guard.py)."""
    env = airflow_env(tmp_path, None)
    result = subprocess.run(
        [sys.executable, "-c", PLUGINS_PROBE], env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"plugins": ["banking_trigger_guard"], "errors": [], "reimported": []}
