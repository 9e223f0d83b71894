"""The README and docs/*.md read like a product: short, no run logs, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
WORD_LIMITS = {"README.md": 1000, "docs/performance.md": 1500, "docs/scaling.md": 1200}
DEFAULT_LIMIT = 1500

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
HEX_WORD = re.compile(r"\b[0-9a-f]{7,40}\b")
FORBIDDEN_PHRASES = ("this session", "slower machine", "issue tracker")
DATED_HEADING = re.compile(r"^#{1,6} .*\b\d{4}-\d{2}-\d{2}\b", re.MULTILINE)
LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def prose(text: str) -> str:
    """The text without its fenced code blocks (examples may hold ids and dated commands)."""
    return FENCE.sub("", text)


def commit_like_words(text: str) -> list[str]:
    """Words of 7 to 40 hex digits with at least one digit and one letter: what a commit hash looks like."""
    return [
        word
        for word in HEX_WORD.findall(prose(text))
        if re.search(r"[0-9]", word) and re.search(r"[a-f]", word)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", prose(path.read_text(encoding="utf-8")), re.MULTILINE)
    return {slug(heading) for heading in headings}


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_the_doc_keeps_to_its_word_limit(path: Path) -> None:
    words = len(path.read_text(encoding="utf-8").split())
    limit = WORD_LIMITS.get(rel(path), DEFAULT_LIMIT)
    assert words <= limit, f"{rel(path)} has {words} words, more than {limit}"


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_the_doc_holds_no_commit_hash(path: Path) -> None:
    assert commit_like_words(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_the_doc_is_no_run_log(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert [phrase for phrase in FORBIDDEN_PHRASES if phrase in text.lower()] == []
    assert DATED_HEADING.findall(prose(text)) == []


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == [], f"{rel(path)} links to what does not exist: {broken}"


def test_the_checks_catch_what_they_look_for() -> None:
    assert commit_like_words("code of commit 2440d20 and `6d9a435`") == ["2440d20", "6d9a435"]
    assert commit_like_words("1000000 rows, deadbeef, banking_data") == []
    assert commit_like_words("```\nid 6f1c2b3a-0000\n```\n") == []
    assert commit_like_words("1. step\n   ```\n   id 6f1c2b3a\n   ```\nthen 6f1c2b3a") == ["6f1c2b3a"]
    assert DATED_HEADING.findall("## The last run, 2026-11-25\n") != []
    assert slug("AWS RDS") == "aws-rds"
    assert slug("`banking_data`: scored transactions") == "banking_data-scored-transactions"
    assert LINK.findall("see [a](docs/a.md#b) and ![i](img/x.png)") == ["docs/a.md#b", "img/x.png"]
