"""Secrets that ``make run`` generates once and keeps in a JSON file only its user can read."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path


def kept(
    path: Path, names: Iterable[str], given: Mapping[str, str] | None = None, nbytes: int = 32
) -> dict[str, str]:
    """``{name: secret}`` from ``given`` when set there, else from ``path``, else generated and saved (0600)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    given = given or {}
    values = {name: given.get(name) or saved.get(name) or secrets.token_urlsafe(nbytes) for name in names}
    if any(saved.get(name) != value for name, value in values.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(saved | values))
    return values
