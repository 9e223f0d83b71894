"""Bad input: trigger params, rule files and ``BANKING_*`` settings are refused, naming the problem.

Trigger params meet two checks: Airflow's JSON-schema validation of the DAG's ``Param``s when the run
is created, then the generate task. Rule files are read by the score task before it connects, and
settings by generate and banking_schema's task before they connect, so a refusal writes nothing; the
tests check the database stays empty. tests/unit/test_rules.py covers the rule parser case by case.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from banking import tasks
from banking.rules import config
from banking.store import schema
from tests.dags.conftest import AIRFLOW, AirflowRunner, airflow_env
from tests.helpers import DAY, ROOT, SMALL
from tests.pg import TestServer
from tests.reliability.helpers import CONN_ENV, params, set_settings_env

NOON = DAY.replace(hour=12)
WINDOW = (NOON, NOON + timedelta(minutes=1), None)
T0 = "2026-11-20T12:00:00+00:00"


@dataclass(frozen=True)
class BadParams:
    id: str
    conf: dict[str, Any]
    schema_refuses: bool  # Airflow refuses the conf when it creates the run
    problem: str  # what the generate task's message must name


BAD_PARAMS = [
    BadParams("window-string", {"window_minutes": "5"}, True, "window_minutes"),
    BadParams("window-list", {"window_minutes": [5]}, True, "window_minutes"),
    BadParams("window-dict", {"window_minutes": {"minutes": 5}}, True, "window_minutes"),
    BadParams("window-bool", {"window_minutes": True}, True, "window_minutes"),
    BadParams("window-negative", {"window_minutes": -5}, True, "window_minutes"),
    BadParams("window-over-max", {"window_minutes": 1441}, True, "window_minutes"),
    BadParams("window-fraction", {"window_minutes": 1.5}, True, "window_minutes"),
    # JSON Schema counts 2.0 as an integer; the generate task does not.
    BadParams("window-float", {"window_minutes": 2.0}, False, "window_minutes must be an integer"),
    BadParams("window-huge", {"window_minutes": 10**30}, True, "window_minutes"),
    BadParams("rate-empty-string", {"rate_per_minute": ""}, True, "rate_per_minute"),
    BadParams("rate-bool", {"rate_per_minute": False}, True, "rate_per_minute"),
    BadParams("rate-list", {"rate_per_minute": [100]}, True, "rate_per_minute"),
    BadParams("rate-operator-dict", {"rate_per_minute": {"$gt": 0}}, True, "rate_per_minute"),
    BadParams("rate-nan", {"rate_per_minute": math.nan}, True, "rate_per_minute must be between"),
    BadParams("rate-infinity", {"rate_per_minute": math.inf}, True, "rate_per_minute must be between"),
    BadParams("rate-over-max", {"rate_per_minute": 100000.5}, True, "rate_per_minute must be between"),
    BadParams("rate-huge", {"rate_per_minute": 10**30}, True, "rate_per_minute must be between"),
    BadParams("fraud-negative", {"fraud_rate": -0.01}, True, "fraud_rate must be between 0 and 0.5"),
    BadParams("fraud-just-over-half", {"fraud_rate": 0.51}, True, "fraud_rate must be between 0 and 0.5"),
    BadParams("fraud-unicode-text", {"fraud_rate": "五%"}, True, "fraud_rate"),
    BadParams("fraud-fullwidth-digits", {"fraud_rate": "０.１"}, True, "fraud_rate"),
    BadParams("variant-negative", {"variant": -1}, True, "variant must be between"),
    BadParams("variant-fraction", {"variant": 0.5}, True, "variant must be an integer"),
    BadParams("variant-over-int32", {"variant": 2**31}, True, "variant must be between"),
    BadParams("variant-sql-text", {"variant": "0 OR 1=1"}, True, "variant"),
    BadParams(
        "unknown-key-sql", {"rate_per_minute; DROP TABLE banking_data": 1}, False, "unknown trigger param"
    ),
    BadParams("unknown-key-zero-width", {"fraud_rate\u200b": 0.1}, False, "unknown trigger param"),
    BadParams("unknown-key-case", {"Window_Minutes": 5}, False, "unknown trigger param(s) Window_Minutes"),
    BadParams(
        "too-many-rows",
        {"window_minutes": 1000, "rate_per_minute": 2500},
        False,
        "over the 2,000,000 per window",
    ),
]

# Airflow's validation of a run's conf, as the API server does it: the serialized DAG's params.
SCHEMA_PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags["banking_transactions"]))
out = {}
for case_id, conf in json.loads(sys.stdin.read()).items():
    try:
        dag.params.deep_merge(conf).validate()
        out[case_id] = {"refused": False, "message": ""}
    except Exception as exc:
        out[case_id] = {"refused": True, "type": type(exc).__name__, "message": str(exc).splitlines()[0]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def schema_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What Airflow's Param validation says about each bad conf (one subprocess for all)."""
    result = subprocess.run(
        [sys.executable, "-c", SCHEMA_PROBE, str(ROOT / "dags" / "banking_transactions.py")],
        input=json.dumps({c.id: c.conf for c in BAD_PARAMS}),
        env=airflow_env(tmp_path_factory.mktemp("param-probe-home"), None),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in BAD_PARAMS])
def test_airflow_param_validation(case: BadParams, schema_verdicts: dict[str, dict[str, Any]]) -> None:
    verdict = schema_verdicts[case.id]
    assert verdict["refused"] == case.schema_refuses, verdict
    if case.schema_refuses:
        assert verdict["type"] == "ParamValidationError"
        assert f"Invalid input for param {next(iter(case.conf))}" in verdict["message"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in BAD_PARAMS])
def test_generate_refuses_bad_params(case: BadParams, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generate task refuses every bad conf itself, at once (no retries), naming the field."""
    set_settings_env(monkeypatch)
    with pytest.raises(tasks.ParamsError) as refused:
        tasks.generate(params(**case.conf), *WINDOW)
    assert case.problem in str(refused.value)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="^ParamsError: "):
        with tasks.fail_fast():
            tasks.generate(params(**case.conf), *WINDOW)


# -- end to end: real runs with `airflow dags test` (cases not already in tests/dags/test_dag_runs.py)


def nothing_written(conn: psycopg.Connection) -> tuple[int, int, int]:
    return tuple(
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("banking_data", "banking_batches", "banking_staging")
    )


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bad-input-airflow-home")
    subprocess.run(
        [AIRFLOW, "db", "migrate"], env=airflow_env(home, None), check=True, capture_output=True, timeout=300
    )
    return home


@pytest.mark.airflow
@pytest.mark.parametrize(
    "conf, refusal",
    [
        pytest.param('{"variant": -1}', "ParamValidationError", id="schema-variant-negative"),
        pytest.param('{"window_minutes": 2.0}', "ParamsError: window_minutes", id="task-window-float"),
        pytest.param('{"rate_per_minute": NaN}', "ParamValidationError", id="nan-rate"),
    ],
)
def test_a_real_run_refuses_and_writes_nothing(
    conf: str, refusal: str, pg: TestServer, e2e_home: Path, empty_db: tuple[str, psycopg.Connection], db
) -> None:
    name, _ = empty_db
    runner = AirflowRunner(e2e_home, pg.uri(name), name, pg)
    result = runner.dags_test("banking_transactions", T0, conf)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and refusal in output, output[-3000:]
    assert "up_for_retry" not in output, "bad params must fail the run at once, not be retried"
    assert nothing_written(db) == (0, 0, 0)


# -- rule files and settings


@pytest.fixture(scope="module")
def seeded_db(pg: TestServer) -> str:
    """One migrated, seeded database shared by tests that must not write anything to it."""
    name = pg.create_database("banking_bad_input")
    with pg.connect(name) as conn:
        schema.apply_migrations(conn)
        schema.seed_population(conn, SMALL)
    return name


@pytest.fixture
def seeded_env(
    monkeypatch: pytest.MonkeyPatch, pg: TestServer, seeded_db: str, airflow_home: Path
) -> Iterator[str]:
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    set_settings_env(monkeypatch)
    monkeypatch.setenv(CONN_ENV, pg.uri(seeded_db))
    yield seeded_db
    with pg.connect(seeded_db) as conn:
        assert nothing_written(conn) == (0, 0, 0), "a refused input wrote something"


VALID_RULE = {
    "id": "big",
    "type": "high_value",
    "description": "Big payment",
    "score": 70,
    "params": {"min_amount": 5000},
}


def _yaml_rules(rule_lines: str, thresholds: str = "{reject: 60, review: 30}") -> str:
    return f'version: "t"\nthresholds: {thresholds}\nrules:\n{rule_lines}'


_RULE = "  - {id: big, type: high_value, description: Big payment, score: 70, params: {min_amount: 5000}}\n"
# name -> (file name, content, what the message must name)
BAD_RULES: dict[str, tuple[str, str | bytes, str]] = {
    "malformed-yaml": ("r.yaml", "version: [unclosed\n", "malformed YAML"),
    "duplicate-key": ("r.yaml", _yaml_rules(_RULE) + "version: again\n", "duplicate key 'version'"),
    "python-tag": ("r.yaml", '!!python/object/apply:os.system ["touch {marker}"]\n', "malformed YAML"),
    "unknown-top-level-key": (
        "r.yaml",
        _yaml_rules(_RULE) + "enabled: true\n",
        "field 'enabled' is not a known",
    ),
    "no-thresholds": ("r.yaml", 'version: "t"\nrules:\n' + _RULE, "field 'thresholds' must be a mapping"),
    "review-above-reject": ("r.yaml", _yaml_rules(_RULE, "{reject: 40, review: 50}"), "thresholds.review"),
    "unknown-rule-type": ("r.yaml", _yaml_rules(_RULE.replace("high_value", "mind_reader")), "field 'type'"),
    "score-over-100": ("r.yaml", _yaml_rules(_RULE.replace("score: 70", "score: 150")), "field 'score'"),
    "negative-amount": (
        "r.yaml",
        _yaml_rules(_RULE.replace("5000", "-1")),
        "field 'min_amount' must be a number > 0",
    ),
    "velocity-without-limit": (
        "r.yaml",
        _yaml_rules(
            "  - {id: v, type: velocity, description: d, score: 10, params: {key: card, window_minutes: 5}}\n"
        ),
        "field 'max_count'",
    ),
    "odd-hours-empty-range": (
        "r.yaml",
        _yaml_rules(
            "  - {id: o, type: odd_hours, description: d, score: 5, params: {start_hour: 3, end_hour: 3}}\n"
        ),
        "field 'end_hour'",
    ),
    "unknown-category": (
        "r.yaml",
        _yaml_rules(
            "  - {id: c, type: cnp_high_risk_category, description: d, score: 5, params: {categories: [Casinos]}}\n"
        ),
        "unknown value 'Casinos'",
    ),
    "duplicate-rule-id": ("r.yaml", _yaml_rules(_RULE + _RULE), "duplicates the id of rule #1"),
    "no-rules": ("r.yaml", _yaml_rules("  []\n").replace("rules:\n  []", "rules: []"), "field 'rules'"),
    "empty-file": ("r.yaml", "", "must be a mapping"),
    "json-nan": (
        "r.json",
        json.dumps({"version": "t", "thresholds": {"reject": math.nan}, "rules": [VALID_RULE]}),
        "NaN is not allowed",
    ),
    "wrong-extension": ("rules.txt", _yaml_rules(_RULE), "unsupported rule file type '.txt'"),
    "not-utf8": ("r.yaml", b"version: \xff\xfe\n", "cannot read rule file"),
    "missing-file": ("missing.yaml", "", "cannot read rule file"),
    "a-directory": ("dir.yaml", "", "cannot read rule file"),
}


def _write_rules(tmp_path: Path, case: str) -> Path:
    name, content, _ = BAD_RULES[case]
    path = tmp_path / name
    if case == "a-directory":
        path.mkdir()
    elif case != "missing-file":
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{marker}", str(tmp_path / "pwned")), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_bad_rule_file_fails_the_score_task_and_stages_nothing(
    case: str, tmp_path: Path, seeded_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_rules(tmp_path, case)
    problem = BAD_RULES[case][2]
    with pytest.raises(config.RuleConfigError) as refused:
        config.load_rules(path)
    assert str(path) in str(refused.value) and problem in str(refused.value)

    manifest = tasks.generate(params(), *WINDOW)
    monkeypatch.setenv("BANKING_RULES_FILE", str(path))
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="^RuleConfigError: ") as failed:
        with tasks.fail_fast():
            tasks.score(manifest)
    assert problem in str(failed.value)
    assert not (tmp_path / "pwned").exists(), "a YAML tag ran code"


def test_a_yaml_alias_bomb_gets_a_short_message(tmp_path: Path) -> None:
    value = "&b0 [" + ", ".join(["lol"] * 10) + "]"
    for level in range(1, 6):  # 10**6 leaves from a file of a few hundred bytes
        value = f"&b{level} [{value}, " + ", ".join([f"*b{level - 1}"] * 9) + "]"
    path = tmp_path / "bomb.yaml"
    path.write_text(_yaml_rules(_RULE.replace("5000", value)))
    assert path.stat().st_size < 600
    with pytest.raises(config.RuleConfigError, match="aliases .* are not allowed") as refused:
        config.load_rules(path)
    assert len(str(refused.value)) < 2000, f"a {len(str(refused.value)):,}-character error message"


BAD_SETTINGS = [
    ("BANKING_RATE_PER_MINUTE", "abc", "environment variable BANKING_RATE_PER_MINUTE"),
    ("BANKING_RATE_PER_MINUTE", "-5", "rate_per_minute must be between"),
    ("BANKING_RATE_PER_MINUTE", "nan", "rate_per_minute must be between"),
    ("BANKING_RATE_PER_MINUTE", "inf", "rate_per_minute must be between"),
    ("BANKING_FRAUD_RATE", "0,02", "environment variable BANKING_FRAUD_RATE"),
    ("BANKING_FRAUD_RATE", "0.9", "fraud_rate must be between"),
    ("BANKING_SEED", "1.5", "environment variable BANKING_SEED"),
    ("BANKING_SEED", "-1", "seed must be between"),
    ("BANKING_SEED", "42; DROP TABLE accounts", "environment variable BANKING_SEED"),
    ("BANKING_N_ACCOUNTS", "5", "n_accounts must be between"),
    ("BANKING_N_MERCHANTS", "10000000", "n_merchants must be between"),
    ("BANKING_BLACKLIST_RATE", "2", "blacklist_rate must be between"),
    ("BANKING_VARIANT", "x", "environment variable BANKING_VARIANT"),
]


@pytest.fixture(scope="module")
def blank_db(pg: TestServer) -> str:
    return pg.create_database("banking_blank")


@pytest.mark.parametrize("var, value, problem", BAD_SETTINGS, ids=[f"{v}={x}" for v, x, _ in BAD_SETTINGS])
def test_bad_setting_is_refused_before_anything_is_written(
    var: str,
    value: str,
    problem: str,
    seeded_env: str,
    blank_db: str,
    pg: TestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(var, value)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="^ParamsError: ") as generate:
        with tasks.fail_fast():
            tasks.generate(params(), *WINDOW)
    assert problem in str(generate.value)

    # banking_schema's task refuses it before it creates a single table.
    monkeypatch.setenv(CONN_ENV, pg.uri(blank_db))
    with pytest.raises(AirflowFailException, match="^SettingsError: ") as set_up:
        with tasks.fail_fast():
            tasks.set_up_schema(NOON, days_ahead=0)
    assert problem in str(set_up.value)
    with pg.connect(blank_db) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            ).fetchone()[0]
            == 0
        )


def test_an_unrealistically_busy_population_is_warned_about(
    seeded_env: str, task_log: list[logging.LogRecord]
) -> None:
    """Valid settings that make every account pay more than 20 times a day run, with a warning that
    says how many accounts would be realistic."""
    tasks.generate(params(rate_per_minute=1), *WINDOW)  # 300 accounts: 4.8 a day each
    assert not [r for r in task_log if r.levelno >= logging.WARNING]
    tasks.generate(params(rate_per_minute=50), *WINDOW)  # 240 a day each
    warnings = [r.getMessage() for r in task_log if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "240 a day per account" in warnings[0], warnings
    assert "BANKING_N_ACCOUNTS to about 28800" in warnings[0]
