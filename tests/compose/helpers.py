"""Reading the compose file and .env.example the way Docker Compose does, without a Docker engine."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ENV_LINE = re.compile(r"^#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=")


def load_script(relative: str) -> ModuleType:
    """A Python file of the repository as a module, by path (``docker/`` would clash with the docker SDK)."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MissingVariable(ValueError):
    """A required variable (``${VAR:?message}``) is unset: compose stops with the message."""


@cache
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@cache
def compose() -> dict[str, Any]:
    """docker-compose.yaml as YAML, with merge keys (``<<: *anchor``) resolved and nothing interpolated.

    Cached: callers must not change it."""
    return yaml.safe_load(compose_text())


def strings(node: Any) -> list[str]:
    """Every string value in a parsed YAML document (compose interpolates values, not comments)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def variables(document: Any) -> dict[str, list[tuple[str, str]]]:
    """Each variable the document's values interpolate, with its (operator, argument) uses."""
    found: dict[str, list[tuple[str, str]]] = {}
    for text in strings(document):
        for match in _VARIABLE.finditer(text):
            name = match[1] or match[4]
            if name:  # not $$, compose's escape for a literal $
                found.setdefault(name, []).append((match[2] or "", match[3] or ""))
    return found


def resolve(node: Any, environ: Mapping[str, str]) -> Any:
    """A parsed document with compose's interpolation applied to every string value."""
    if isinstance(node, dict):
        return {key: resolve(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, environ) for value in node]
    return interpolate(node, environ) if isinstance(node, str) else node


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with compose's interpolation applied for ``environ`` (no nested defaults)."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, argument = match[1] or match[4], match[2], match[3] or ""
        value = environ.get(name)
        unset = value is None or (operator and operator.startswith(":") and value == "")
        if operator in (":-", "-") and unset:
            return argument
        if operator in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {argument}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def env_example_names() -> set[str]:
    """Variables that .env.example documents, set or commented out (``# NAME=...``)."""
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            names.add(match[1])
    return names
