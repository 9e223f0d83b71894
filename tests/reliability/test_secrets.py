"""Secrets: nothing git would commit holds a credential, ``.env`` is ignored, ``.env.example`` is complete.

Scanned: every tracked file plus untracked files that are not ignored (what the next commit could
take). Allowed: obvious placeholders (``CHANGE_ME``, ``password``, ``<...>``, ``${...}``) and, under
``tests/``, literals marked as test-only (they contain ``test``), used against throw-away servers.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from banking import db, tasks
from banking.store import schema
from banking.stream import settings
from tests.helpers import ROOT

PLACEHOLDER = re.compile(
    r"(?i)^(change_?me|changeme|password|passwd|secret|pass|pw|x+|\*+|\.\.\.|<[^>]*>|\{[^}]*\}|"
    r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%s|%\([a-z_]+\)s|none|null|unset)$"
)
# A reference to a secret kept elsewhere: ${VAR}, $__env{VAR}, <description>, a file path, a psql
# :'variable', code (calls, braces), or the name of a variable ("airflow_password").
REFERENCE = re.compile(r"(?i)^[$<:/]|[(){}]|^[a-z_]*(password|secret|token)[a-z_]*$")
# Built from pieces so that this file does not match its own patterns.
_BEGIN = "-----BEGIN "
PATTERNS = {
    "private key": re.compile(_BEGIN + r"(?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})\b"),
    "password in a URI": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@"),
    "credential literal": re.compile(
        r"(?i)\b[a-z0-9_]*(?:password|passwd|secret|token|api_?key)[a-z0-9_]*['\"]?\s*[:=]\s*['\"]([^'\"\s]{4,})['\"]"
    ),
    "credential assignment": re.compile(
        r"(?im)^\s*(?:export\s+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*\s*[=:]\s*([^\s#'\"]+)"
    ),
}
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".gz", ".zip", ".whl", ".woff", ".woff2"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    value: str


def allowed(path: str, value: str) -> bool:
    if PLACEHOLDER.match(value) or REFERENCE.search(value) or "EXAMPLE" in value:
        return True
    return path.startswith("tests/") and "test" in value.lower()


def scan_text(path: str, text: str) -> list[Finding]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in PATTERNS.items():
            if kind == "credential assignment" and path.endswith(".py"):
                continue  # Python assigns variables, not literals; "credential literal" covers it
            for match in pattern.finditer(line):
                value = match.group(1) if pattern.groups else match.group(0)
                if not allowed(path, value):
                    found.append(Finding(path, number, kind, value[:12] + "..."))
    return found


def committable_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({p for p in out.split("\0") if p and (ROOT / p).is_file()})


def test_the_scanner_catches_planted_secrets() -> None:
    """The patterns work: each planted credential is found, each placeholder is not."""
    planted = "\n".join(
        [
            _BEGIN + "RSA PRIVATE KEY-----",
            "aws_access_key_id = " + "AKIA" + "Q7XK2M4P9R3T5V8W",
            "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "0123456789",
            "AIRFLOW_CONN_BANKING_DB=postgresql://banking:" + "s3cr3t-Pa55" + "@db:5432/banking",
            'DB_PASSWORD = "' + "hunter2hunter2" + '"',
            "BANKING_PIPELINE_PASSWORD=" + "correct-horse",
        ]
    )
    kinds = {f.kind for f in scan_text("docker/.env.prod", planted)}
    assert kinds == set(PATTERNS)
    harmless = "\n".join(
        [
            "AIRFLOW_CONN_BANKING_DB=postgresql://banking_pipeline:CHANGE_ME@db.example.com:5432/banking",
            "# BANKING_PIPELINE_PASSWORD=",
            "postgresql://user:password@host:5432/banking",
            "password = environ.get(env_var)",
            'password: "${BANKING_PIPELINE_PASSWORD}"',
        ]
    )
    assert scan_text("docs/x.md", harmless) == []
    assert scan_text("tests/x.py", 'PW = {"password": "test-only-secret"}') == []
    assert scan_text("plugins/x.py", 'PW = {"password": "test-only-secret"}') != []


def test_no_committable_file_holds_a_credential() -> None:
    files = committable_files()
    assert "plugins/banking/db.py" in files and "tests/reliability/test_secrets.py" in files
    findings = []
    for path in files:
        if Path(path).suffix.lower() in BINARY_SUFFIXES:
            continue
        data = (ROOT / path).read_bytes()
        if b"\0" in data[:4096]:
            continue
        findings += scan_text(path, data.decode("utf-8", errors="replace"))
    assert findings == []


def test_env_file_is_ignored_and_never_tracked() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored"
    tracked = subprocess.run(["git", "ls-files", "--", ".env"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""


NAME = re.compile(r"\b((?:BANKING|AIRFLOW_CONN)_[A-Z0-9_]*[A-Z0-9])\b")


def variables_the_code_reads() -> set[str]:
    """Every BANKING_* / AIRFLOW_CONN_* name in plugins/, scripts/ and dags/, plus the computed ones."""
    names: set[str] = set()
    for folder in ("plugins", "scripts", "dags"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(NAME.findall(path.read_text(encoding="utf-8")))
    names |= {settings.ENV_PREFIX + field.upper() for field in settings.SPECS}  # settings.from_env
    names |= set(schema.LOGIN_ROLES)  # schema.ensure_login_roles
    names |= {tasks.RULES_FILE_ENV, f"AIRFLOW_CONN_{db.DEFAULT_CONN_ID.upper()}"}
    return names


def test_env_example_documents_every_variable_the_code_reads() -> None:
    names = variables_the_code_reads()
    assert {"AIRFLOW_CONN_BANKING_DB", "BANKING_RATE_PER_MINUTE", "BANKING_PIPELINE_PASSWORD"} <= names
    documented = set(NAME.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    assert sorted(names - documented) == []


@pytest.mark.parametrize("path", [".env.example"])
def test_env_example_has_no_real_values_for_secrets(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert scan_text(path, text) == []
    for line in text.splitlines():
        if re.match(r"^\s*[A-Z0-9_]*(PASSWORD|SECRET|TOKEN)[A-Z0-9_]*\s*=", line):
            pytest.fail(f"{path}: secret variables must stay commented out: {line}")
