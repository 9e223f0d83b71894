"""The generated dashboard type-checks against ``@grafana/schema`` of the Grafana version the compose
stack pins, and the check does catch what that version does not accept (tests/grafana/schema_check.py).
The first run installs the pinned npm packages into .data/npm/; later runs reuse them. One ``tsc`` run
checks the dashboard and the broken copies below."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from grafana import build_dashboard as bd
from tests.grafana import schema_check

Board = dict[str, Any]


def board() -> Board:
    """The dashboard as Grafana reads it; the committed file is the same (test_provisioning.py)."""
    return json.loads(bd.render_dashboard())


def first_panel(dashboard: Board, panel_type: str) -> Board:
    return next(p for p in dashboard["panels"] if p["type"] == panel_type)


def _old_footer(dashboard: Board) -> None:
    """The table footer where Grafana kept it before 12.2 (options.footer), as the builder wrote it."""
    first_panel(dashboard, "table")["options"]["footer"] = {"show": False, "reducer": ["sum"]}


def _unknown_override(dashboard: Board) -> None:
    override = {
        "matcher": {"id": "byName", "options": "x"},
        "properties": [{"id": "custom.nonsense", "value": 1}],
    }
    first_panel(dashboard, "table")["fieldConfig"]["overrides"].append(override)


# A broken copy of the dashboard per case, and the error tsc must report for it.
BROKEN: dict[str, tuple[Callable[[Board], object], str]] = {
    "old_table_footer": (
        _old_footer,
        "TS2353: Object literal may only specify known properties, and '\"footer\"'",
    ),
    "bad_value": (lambda b: first_panel(b, "table")["options"].update(cellHeight="huge"), "TS2322"),
    "missing_option": (lambda b: first_panel(b, "stat")["options"].pop("reduceOptions"), "'reduceOptions'"),
    "unknown_override": (_unknown_override, "'\"nonsense\"' does not exist"),
    "unknown_dashboard_key": (lambda b: b.update(editabel=True), "'\"editabel\"' does not exist"),
}


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    boards = {"generated": board()}
    for name, (change, _) in BROKEN.items():
        boards[name] = copy.deepcopy(boards["generated"])
        change(boards[name])
    return schema_check.typecheck(boards, tmp_path_factory.mktemp("schema-types"))


def test_the_schema_package_is_the_pinned_grafana_version() -> None:
    """A Grafana upgrade in docker-compose.yaml must bump the types it is checked against."""
    packages = schema_check.pinned_packages()
    assert packages[schema_check.SCHEMA_PACKAGE] == schema_check.pinned_grafana_version()
    lock = json.loads((schema_check.PACKAGE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    for name, version in packages.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def test_the_dashboard_type_checks(errors: dict[str, list[str]]) -> None:
    assert errors["generated"] == []
    source = schema_check.render(board(), schema_check.install())
    checked = {int(i) for i in re.findall(r"^export const panel_(\d+): PanelCheck<", source, re.MULTILINE)}
    assert checked == {p["id"] for p in board()["panels"]}, (
        "every panel is checked against its plugin's types"
    )


@pytest.mark.parametrize("case", BROKEN)
def test_the_check_rejects_what_grafana_does_not_define(errors: dict[str, list[str]], case: str) -> None:
    expected = BROKEN[case][1]
    assert errors[case], f"{case}: tsc accepted it"
    assert any(expected in line for line in errors[case]), errors[case]
