"""The dashboard JSON and the provisioning files are what Grafana expects, and the committed files are
exactly what grafana/build_dashboard.py produces."""

from __future__ import annotations

import json
import os
import re
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from banking.store.schema import LOGIN_ROLES
from grafana import build_dashboard as bd
from tests.compose.helpers import ROOT, compose, env_example_names

GRAFANA = ROOT / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "banking.yaml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "banking.yaml"
RENDER_ALERTS = ROOT / "docker" / "grafana" / "render-alerts.sh"
PREPARE_PROVISIONING = ROOT / "docker" / "grafana" / "prepare-provisioning.sh"
WEBHOOK = GRAFANA / "notifications" / "webhook.yaml"
# Grafana's built-in visualizations (no plugin to install).
BUILT_IN_PANELS = {
    "alertlist", "annolist", "barchart", "bargauge", "candlestick", "canvas", "dashlist", "datagrid",
    "flamegraph", "gauge", "geomap", "heatmap", "histogram", "logs", "news", "nodeGraph", "piechart",
    "row", "stat", "state-timeline", "status-history", "table", "text", "timeseries", "traces",
    "trend", "xychart",
}  # fmt: skip
ORIGINAL_PANELS = {
    "Rejected Transactions": "stat",
    "Approved Transactions": "stat",
    "Total Approved Amount": "stat",
    "Total Rejected Amount": "stat",
    "Transaction Types": "piechart",
    "Rules Triggered": "barchart",
    "Blacklisted Account Transactions": "barchart",
}
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$__env\{([A-Za-z_][A-Za-z0-9_]*)\}")


def built_dashboard() -> dict[str, Any]:
    """The dashboard JSON as Grafana reads it; the committed file is the same (test below)."""
    return json.loads(bd.render_dashboard())


def built_alerting() -> dict[str, Any]:
    """The alert rule file as Grafana reads it; the committed file is the same (test below)."""
    return yaml.safe_load(bd.render_alerting())


def datasource() -> dict[str, Any]:
    (source,) = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    return source


def grafana_service() -> dict[str, Any]:
    return compose()["services"]["grafana"]


# --- one source of truth -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [bd.DASHBOARD_FILE, bd.ALERTING_FILE], ids=lambda p: p.name)
def test_committed_files_are_what_the_builder_writes(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == bd.outputs()[path], (
        f"{path} is stale: run `python grafana/build_dashboard.py`"
    )


def test_builder_check_mode_finds_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bd, "DASHBOARD_FILE", tmp_path / "dashboards" / "banking.json")
    monkeypatch.setattr(bd, "ALERTING_FILE", tmp_path / "alerting" / "banking.yaml")
    assert bd.main(["--check"]) == 1  # missing files
    assert bd.main([]) == 0 and bd.main(["--check"]) == 0
    bd.DASHBOARD_FILE.write_text(bd.DASHBOARD_FILE.read_text().replace('"1m"', '"5m"'))
    assert bd.main(["--check"]) == 1
    assert bd.main([]) == 0 and bd.main(["--check"]) == 0


# --- the dashboard -------------------------------------------------------------------------------


def test_dashboard_settings() -> None:
    board = built_dashboard()
    assert board["uid"] == "banking-monitoring" and board["title"]
    assert board.get("id") is None  # provisioned dashboards get their id from Grafana
    assert board["time"] == {"from": "now-1h", "to": "now"} and board["refresh"] == "1m"
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["templating"] == {"list": []}


def test_dashboard_is_code_like_its_provider() -> None:
    """The provider refuses saves from the UI, so the dashboard offers no edit mode to lose work in."""
    (provider,) = yaml.safe_load(DASHBOARD_PROVIDERS.read_text(encoding="utf-8"))["providers"]
    assert provider["allowUiUpdates"] is False and built_dashboard()["editable"] is False


def test_precision_and_recall_have_one_format_everywhere() -> None:
    """Every precision or recall column, on any panel: a fraction shown as a percentage, one decimal."""
    formats = {}
    for panel in built_dashboard()["panels"]:
        for override in panel["fieldConfig"]["overrides"]:
            name = override["matcher"]["options"]
            if re.search(r"(precision|recall)$", name):
                formats[(panel["title"], name)] = {p["id"]: p["value"] for p in override["properties"]}
    panels = {"Rule precision and recall (injected fraud)", "Backtest: live vs candidate (latest)"}
    assert {title for title, _ in formats} == panels and len(formats) == 6
    assert len({json.dumps(f, sort_keys=True) for f in formats.values()}) == 1
    assert next(iter(formats.values()))["unit"] == "percentunit"
    assert all("round(" not in p.sql for p in bd.PANELS if p.title in panels), "fractions, rounded on screen"


def test_panels_are_valid_and_on_the_grid() -> None:
    panels = built_dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    assert len({p["title"] for p in panels}) == len(panels)
    for p in panels:
        assert p["type"] in BUILT_IN_PANELS, p["title"]
        g = p["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]

    def cells(p: dict[str, Any]) -> set[tuple[int, int]]:
        g = p["gridPos"]
        return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}

    for a, b in combinations(panels, 2):
        assert not cells(a) & cells(b), f"{a['title']} overlaps {b['title']}"


def test_every_panel_queries_the_provisioned_data_source() -> None:
    source = datasource()
    reference = {"type": source["type"], "uid": source["uid"]}
    for p in built_dashboard()["panels"]:
        assert p["datasource"] == reference, p["title"]
        assert len(p["targets"]) == 1, p["title"]
        (target,) = p["targets"]
        assert target["datasource"] == reference and target["refId"] == "A"
        assert target["rawQuery"] is True and target["editorMode"] == "code"
        assert target["rawSql"].strip() and target["format"] in ("table", "time_series")
        assert (target["format"] == "time_series") == (p["type"] == "timeseries"), p["title"]


def test_the_original_seven_panels_keep_their_visualizations() -> None:
    types = {p["title"]: p["type"] for p in built_dashboard()["panels"]}
    assert {title: types.get(title) for title in ORIGINAL_PANELS} == ORIGINAL_PANELS


def test_queries_honour_the_time_range_and_read_rollups() -> None:
    """Only "Last load age" (measured from now) and the backtest table (a backtest has its own range)
    ignore the range; the rollup panels read through the functions of migrations 0008 and 0011, which
    take the range (days for its whole days, hours for its other whole hours, minutes or rows at its
    edges); only "Latest rejected transactions" lists rows of banking_data, through its partial index."""
    panels = {p.title: p for p in bd.PANELS}
    through_functions = re.compile(
        r"\bbanking_(stats|rule_hits|blacklisted)_between\(\$__timeFrom\(\), \$__timeTo\(\)"
    )
    ranged = {t for t, p in panels.items() if "$__timeFilter(" in p.sql or through_functions.search(p.sql)}
    assert set(panels) - ranged == {"Last load age", "Backtest: live vs candidate (latest)"}
    rollups = {t for t, p in panels.items() if p.source == bd.ROLLUP}
    for title in rollups:
        sql = panels[title].sql
        assert through_functions.search(sql) and "$__timeFilter(" not in sql, title
        assert not re.search(r"\bbanking_(minute|hour|day)_\w+", sql), (
            f"{title} reads a rollup table directly"
        )
    assert "Blacklisted Account Transactions" in rollups
    raw = {t for t, p in panels.items() if re.search(r"\bbanking_data\b", p.sql)}
    assert raw == {t for t, p in panels.items() if p.source == bd.RAW} == {"Latest rejected transactions"}
    assert "decision = 'Rejected'" in panels["Latest rejected transactions"].sql
    assert all("banking_batches" in p.sql for p in panels.values() if p.source == bd.AUDIT)


def test_time_series_of_the_rollups_follow_grafanas_interval() -> None:
    """They group by $__interval, hand it to the rollup function (whole-hour buckets read hours) and
    pin the interval with "Max data points" and a "Min interval" of one minute (the data's grain)."""
    board = {p["title"]: p for p in built_dashboard()["panels"]}
    series = [p for p in bd.PANELS if p.type == "timeseries" and p.source == bd.ROLLUP]
    assert len(series) == 3
    for panel in series:
        assert "$__timeGroupAlias(period_start, $__interval)" in panel.sql, panel.title
        assert "$__timeTo(), $__interval_ms)" in panel.sql and "/ $__interval_ms" in panel.sql, panel.title
        assert board[panel.title]["maxDataPoints"] == bd.TIME_SERIES_MAX_DATA_POINTS
        assert board[panel.title]["interval"] == bd.MIN_INTERVAL == "1m"
    assert all(p["interval"] == "1m" for p in board.values())
    assert {t for t, p in board.items() if "maxDataPoints" in p} == {p.title for p in series}


def test_docs_describe_every_panel_and_alert() -> None:
    docs = (ROOT / "docs" / "dashboard.md").read_text(encoding="utf-8")
    missing = [p.title for p in bd.PANELS if p.title not in docs]
    missing += [r.title for r in bd.ALERT_RULES if r.title not in docs]
    assert not missing, f"docs/dashboard.md does not describe {missing}"


# --- the data source and the dashboard provider --------------------------------------------------


def test_datasource_provisioning() -> None:
    document = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    source = datasource()
    assert source["type"] == "grafana-postgresql-datasource" and source["uid"] == bd.DATASOURCE_UID
    assert "database" not in source, "Grafana reads the database from jsonData.database"
    json_data = source["jsonData"]
    assert json_data["database"] == "${BANKING_DB_NAME}"
    assert json_data["sslmode"] == "${BANKING_DB_SSLMODE}"
    assert json_data["timescaledb"] is False and isinstance(json_data["postgresVersion"], int)
    # The read-only login role banking_schema creates, with the password from the environment.
    assert (source["user"], "banking_reader") == LOGIN_ROLES["BANKING_DASHBOARD_PASSWORD"]
    assert source["secureJsonData"] == {"password": "$__env{BANKING_DASHBOARD_PASSWORD}"}
    assert "password" not in source and "password" not in json_data


def test_grafana_gets_every_variable_its_provisioning_reads() -> None:
    environment = grafana_service()["environment"]
    values = json.dumps(  # values, not comments
        [yaml.safe_load(path.read_text(encoding="utf-8")) for path in (DATASOURCES, WEBHOOK)]
    )
    used = {a or b for a, b in ENV_REFERENCE.findall(values)}
    used |= {r.env_var for r in bd.ALERT_RULES}
    assert "BANKING_ALERT_WEBHOOK_URL" in used and used <= set(environment)
    assert used <= env_example_names()


def test_dashboard_provider_points_at_the_mounted_dashboards() -> None:
    document = yaml.safe_load(DASHBOARD_PROVIDERS.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file" and provider["folder"] == bd.FOLDER
    mounts = dict(
        reversed(volume.split(":")[:2]) for volume in grafana_service()["volumes"] if volume.startswith("./")
    )
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    home = grafana_service()["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{bd.DASHBOARD_FILE.name}"


# --- the alert rules -----------------------------------------------------------------------------


def test_alert_rules_file_format() -> None:
    document = built_alerting()
    assert document["apiVersion"] == 1
    (group,) = document["groups"]
    assert group["orgId"] == 1 and group["name"] and group["folder"] == bd.FOLDER
    assert re.fullmatch(r"\d+[smh]", group["interval"])
    uids = [rule["uid"] for rule in group["rules"]]
    assert len(uids) == len(set(uids)) == len(bd.ALERT_RULES) >= 1
    for rule in group["rules"]:
        for key in ("uid", "title", "condition", "data", "noDataState", "execErrState", "for"):
            assert rule[key], (rule["uid"], key)
        assert rule["noDataState"] in ("NoData", "Alerting", "OK", "KeepLast")
        assert rule["execErrState"] in ("Error", "Alerting", "OK", "KeepLast")
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["annotations"]["summary"] and rule["labels"]
        query, *expressions = rule["data"]
        assert query["refId"] == "A" and query["datasourceUid"] == bd.DATASOURCE_UID
        assert query["relativeTimeRange"]["from"] > query["relativeTimeRange"]["to"] == 0
        model = query["model"]
        assert model["rawSql"].strip() and model["format"] == "table" and model["rawQuery"] is True
        assert model["datasource"] == {"type": datasource()["type"], "uid": datasource()["uid"]}
        seen = {"A"}
        for step in expressions:
            assert step["datasourceUid"] == "__expr__" and step["model"]["refId"] == step["refId"]
            assert step["model"]["type"] in ("reduce", "threshold", "math")
            assert step["model"]["expression"] in seen, "an expression reads an earlier step"
            seen.add(step["refId"])
        assert rule["condition"] == expressions[-1]["refId"]
        (condition,) = expressions[-1]["model"]["conditions"]
        assert condition["evaluator"]["type"] == "gt"
        assert all(isinstance(v, int | float) for v in condition["evaluator"]["params"])


def test_alert_thresholds_come_from_the_environment() -> None:
    text = bd.ALERTING_FILE.read_text(encoding="utf-8")
    rules = {rule["uid"]: rule for rule in built_alerting()["groups"][0]["rules"]}
    documented = env_example_names()
    for rule in bd.ALERT_RULES:
        assert re.search(rf"^\s+- {rule.threshold:g}  # env {rule.env_var}$", text, re.MULTILINE), rule.uid
        params = rules[rule.uid]["data"][-1]["model"]["conditions"][0]["evaluator"]["params"]
        assert params == [rule.threshold]
        assert rule.env_var in documented


def render_alerts(**environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKING_ALERT_")} | environ
    return subprocess.run(
        ["sh", str(RENDER_ALERTS), str(bd.ALERTING_FILE)], env=env, capture_output=True, text=True, timeout=30
    )


def test_render_alerts_writes_thresholds_from_the_environment() -> None:
    unchanged = render_alerts()
    assert unchanged.returncode == 0 and unchanged.stdout == bd.ALERTING_FILE.read_text(encoding="utf-8")
    rendered = render_alerts(BANKING_ALERT_REJECTION_RATE="0.25", BANKING_ALERT_MAX_LOAD_AGE_SECONDS="")
    assert rendered.returncode == 0, rendered.stderr
    rules = {r["uid"]: r for r in yaml.safe_load(rendered.stdout)["groups"][0]["rules"]}
    thresholds = {
        uid: r["data"][-1]["model"]["conditions"][0]["evaluator"]["params"] for uid, r in rules.items()
    }
    assert thresholds["banking-rejection-rate"] == [0.25]
    assert thresholds["banking-pipeline-stalled"] == [300]  # empty: the default stays
    assert rules["banking-rejection-rate"]["data"][0] == built_alerting()["groups"][0]["rules"][0]["data"][0]


@pytest.mark.parametrize("value", ["abc", "-1", "0.1.2", "1e3", "0.1; rm -rf /"])
def test_render_alerts_refuses_what_is_not_a_number(value: str) -> None:
    result = render_alerts(BANKING_ALERT_REJECTION_RATE=value)
    assert result.returncode != 0 and "BANKING_ALERT_REJECTION_RATE" in result.stderr


# --- where alerts go: the webhook contact point, off unless its URL is set -------------------------


def prepare_provisioning(dst: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKING_ALERT_")} | environ
    return subprocess.run(
        ["sh", str(PREPARE_PROVISIONING), str(GRAFANA / "provisioning"), str(WEBHOOK.parent), str(dst)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def provisioned_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_webhook_contact_point_and_policy() -> None:
    document = yaml.safe_load(WEBHOOK.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    (point,) = document["contactPoints"]
    (receiver,) = point["receivers"]
    assert point["orgId"] == 1 and receiver["type"] == "webhook" and receiver["uid"]
    assert receiver["settings"] == {"url": "${BANKING_ALERT_WEBHOOK_URL}", "httpMethod": "POST"}
    (policy,) = document["policies"]
    assert policy["orgId"] == 1 and policy["receiver"] == point["name"]
    assert {"alertname", "grafana_folder"} <= set(policy["group_by"])
    for key in ("group_wait", "group_interval", "repeat_interval"):
        assert re.fullmatch(r"\d+[smh]", policy[key]), key
    # Grafana would refuse to start on a webhook without a URL: nothing it always loads names one.
    always = json.dumps([yaml.safe_load(p.read_text()) for p in (GRAFANA / "provisioning").rglob("*.yaml")])
    assert "BANKING_ALERT_WEBHOOK_URL" not in always and "contactPoints" not in always


def test_no_webhook_url_provisions_no_contact_point(tmp_path: Path) -> None:
    for environ in ({}, {"BANKING_ALERT_WEBHOOK_URL": ""}):
        dst = tmp_path / f"unset-{len(environ)}"
        result = prepare_provisioning(dst, **environ)
        assert result.returncode == 0, result.stderr
        assert provisioned_files(dst) == provisioned_files(GRAFANA / "provisioning")


def test_webhook_url_adds_the_contact_point_and_policy(tmp_path: Path) -> None:
    url = "https://hooks.example.com/services/T0/B0/secret-token"
    result = prepare_provisioning(tmp_path, BANKING_ALERT_WEBHOOK_URL=url, BANKING_ALERT_REJECTION_RATE="0.2")
    assert result.returncode == 0, result.stderr
    files = provisioned_files(tmp_path)
    expected = provisioned_files(GRAFANA / "provisioning")
    assert set(files) == set(expected) | {"alerting/banking-notifications.yaml"}
    assert files["alerting/banking-notifications.yaml"] == WEBHOOK.read_text()
    assert url not in "".join(files.values()), "Grafana reads the URL from its environment"
    assert files["alerting/banking.yaml"] == render_alerts(BANKING_ALERT_REJECTION_RATE="0.2").stdout


@pytest.mark.parametrize("url", ["hooks.example.com/s3cret", "ftp://example.com/s3cret", "http://"])
def test_a_webhook_url_that_is_not_http_stops_the_start(tmp_path: Path, url: str) -> None:
    result = prepare_provisioning(tmp_path, BANKING_ALERT_WEBHOOK_URL=url)
    assert result.returncode != 0 and "BANKING_ALERT_WEBHOOK_URL" in result.stderr
    assert "s3cret" not in result.stderr, "the URL may carry a token: not printed"


def test_compose_entrypoint_prepares_from_the_mounted_folders() -> None:
    mounts = dict(volume.split(":")[:2] for volume in grafana_service()["volumes"] if volume.startswith("./"))
    entrypoint = (ROOT / "docker" / "grafana" / "entrypoint.sh").read_text()
    call = re.search(r'prepare-provisioning\.sh" \\\s+(\S+) (\S+) "\$dst"', entrypoint)
    assert call, "entrypoint.sh runs prepare-provisioning.sh"
    assert (mounts["./grafana/provisioning"], mounts["./grafana/notifications"]) == (call[1], call[2])
    assert mounts["./docker/grafana"] == "/opt/banking/grafana"
