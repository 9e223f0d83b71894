"""Type-checks a dashboard JSON model against Grafana's published TypeScript types (``@grafana/schema``).

The dashboard becomes a TypeScript file: the whole model declared as ``Dashboard``, and each panel's
``options``, field defaults and overrides declared as that panel type's ``Options`` and ``FieldConfig``
(``raw/composable/<type>/panelcfg``), with enums read as their JSON values. ``tsc --noEmit --strict``
then rejects an unknown option (an object literal's excess property), a wrong value, or a required
option that is missing. The packages are pinned in ``schema_types/package-lock.json`` and installed
once with ``npm ci`` into ``.data/npm/`` (ignored), keyed by the lock file's hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.compose.helpers import ROOT, compose

PACKAGE_DIR = Path(__file__).resolve().parent / "schema_types"
CACHE_DIR = ROOT / ".data" / "npm"
SCHEMA_PACKAGE = "@grafana/schema"
_PANEL_TYPES = "dist/types/raw/composable/{folder}/panelcfg/x"

# Enums become the literal values JSON carries ("sm", not TableCellHeight.Sm; 1, not BarAlignment.After).
_PRELUDE = """\
type EnumNumber<E> = `${E & number}` extends `${infer N extends number}` ? N : never;
type Json<T> = T extends string
  ? `${T}`
  : T extends number
    ? number extends T ? number : EnumNumber<T>
    : T extends Array<infer U>
      ? Array<Json<U>>
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;
type Field<C> = Omit<FieldConfig, 'custom'> & { custom?: C };
// A panel as its plugin defines it: every option, the field defaults, and each override's properties.
interface PanelCheck<O, C> {
  options: Json<O>;
  defaults: Json<Field<C>>;
  overrides: Array<Json<Partial<Field<Partial<C>>>>>;
}
"""


def pinned_grafana_version() -> str:
    """The Grafana version of the compose stack's image (``grafana/grafana:<version>``)."""
    image = compose()["services"]["grafana"]["image"]
    match = re.search(r"grafana/grafana:(\d+\.\d+\.\d+)\}?$", image)
    assert match, f"no pinned grafana/grafana:<x.y.z> tag in {image!r}"
    return match[1]


def pinned_packages() -> dict[str, str]:
    """The devDependencies of schema_types/package.json: package name to exact version."""
    return json.loads((PACKAGE_DIR / "package.json").read_text(encoding="utf-8"))["devDependencies"]


def install() -> Path:
    """The node_modules folder of the pinned packages, installed by ``npm ci`` on first use."""
    lock = (PACKAGE_DIR / "package-lock.json").read_bytes()
    target = CACHE_DIR / f"schema-types-{hashlib.sha256(lock).hexdigest()[:16]}"
    modules = target / "node_modules"
    if (modules / ".package-lock.json").exists():
        return modules
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="schema-types-", dir=CACHE_DIR))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(PACKAGE_DIR / name, staging / name)
        npm = shutil.which("npm")
        assert npm, "npm is not on PATH: the dashboard type check needs node and npm"
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", str(CACHE_DIR / "cache")],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
        try:
            staging.rename(target)  # atomic: a concurrent run either finds it whole or installs its own
        except OSError:
            if not (modules / ".package-lock.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return modules


def panel_types_module(modules: Path, panel_type: str) -> str:
    """The import path of a panel type's ``Options``/``FieldConfig`` in the installed package."""
    folder = modules / SCHEMA_PACKAGE / _PANEL_TYPES.format(folder=panel_type.replace("-", "").lower())
    found = sorted(folder.glob("*PanelCfg_types.gen.d.ts"))
    assert len(found) == 1, f"{SCHEMA_PACKAGE} has no types for the panel type {panel_type!r} ({folder})"
    return f"{SCHEMA_PACKAGE}/{found[0].relative_to(modules / SCHEMA_PACKAGE).as_posix()}"


def override_fields(override: dict[str, Any]) -> dict[str, Any]:
    """An override's properties as the field config they set (``custom.width`` -> ``{custom: {width}}``)."""
    fields: dict[str, Any] = {}
    for prop in override["properties"]:
        *parents, name = prop["id"].split(".")
        node = fields
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = prop["value"]
    return fields


def render(board: dict[str, Any], modules: Path) -> str:
    """The TypeScript file that declares ``board`` and each of its panels with Grafana's types."""
    panel_types = sorted({p["type"] for p in board["panels"]})
    lines = ["import type { Dashboard, FieldConfig } from '@grafana/schema';"]
    aliases = {t: f"panel_{re.sub(r'[^A-Za-z0-9]', '_', t)}" for t in panel_types}
    lines += [f"import type * as {aliases[t]} from '{panel_types_module(modules, t)}';" for t in panel_types]
    lines += ["", _PRELUDE, f"export const dashboard: Json<Dashboard> = {json.dumps(board, indent=2)};", ""]
    for panel in board["panels"]:
        alias = aliases[panel["type"]]
        custom = (
            f"{alias}.FieldConfig" if _has_field_config(modules, panel["type"]) else "Record<string, never>"
        )
        body = {
            "options": panel["options"],
            "defaults": panel["fieldConfig"]["defaults"],
            "overrides": [override_fields(o) for o in panel["fieldConfig"]["overrides"]],
        }
        lines.append(f"// {panel['title']}")
        lines.append(
            f"export const panel_{panel['id']}: PanelCheck<{alias}.Options, {custom}> = {json.dumps(body, indent=2)};"
        )
    return "\n".join(lines) + "\n"


def _has_field_config(modules: Path, panel_type: str) -> bool:
    declarations = modules / panel_types_module(modules, panel_type)
    return "export interface FieldConfig " in declarations.read_text(encoding="utf-8")


def typecheck(boards: Mapping[str, dict[str, Any]], workdir: Path) -> dict[str, list[str]]:
    """``tsc --noEmit --strict`` on each board, rendered as ``workdir/<name>.ts``, in one run: the
    errors of each (none when it type-checks)."""
    modules = install()
    workdir.mkdir(parents=True, exist_ok=True)
    for name, board in boards.items():
        assert re.fullmatch(r"[a-z0-9_]+", name), name
        (workdir / f"{name}.ts").write_text(render(board, modules), encoding="utf-8")
    shutil.copy(PACKAGE_DIR / "tsconfig.json", workdir / "tsconfig.json")
    link = workdir / "node_modules"
    if not link.exists():
        link.symlink_to(modules, target_is_directory=True)
    node = shutil.which("node")
    assert node, "node is not on PATH: the dashboard type check needs node and npm"
    result = subprocess.run(
        [node, str(modules / "typescript" / "bin" / "tsc"), "--noEmit", "--strict", "--pretty", "false"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors: dict[str, list[str]] = {name: [] for name in boards}
    for line in result.stdout.splitlines():
        match = re.match(r"([a-z0-9_]+)\.ts\(\d+,\d+\): error ", line)
        if match and match[1] in errors:
            errors[match[1]].append(line)
        elif line.strip() and not line.startswith(" "):  # indented lines continue the previous error
            raise AssertionError(f"tsc failed outside the checked files:\n{result.stdout}{result.stderr}")
    assert (result.returncode == 0) == (not any(errors.values())), result.stdout + result.stderr
    return errors
