"""Value checks for rule files: each returns the (normalised) value or raises :class:`Bad`
("must be ..., got ..."), which the parser turns into a RuleConfigError naming the rule and field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class Bad(Exception):
    """A value failed a check; carries the problem text (``must be ..., got ...``)."""


Check = Callable[[Any], Any]


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(lo: int | None = None, hi: int | None = None) -> Check:
    if hi is not None:
        desc = f"an integer from {lo} to {hi}"
    elif lo == 1:
        desc = "a positive integer"
    elif lo == 0:
        desc = "a non-negative integer"
    else:
        desc = f"an integer >= {lo}"

    def check(value: Any) -> int:
        if not is_int(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise Bad(f"must be {desc}, got {value!r}")
        return value

    return check


def number(*, gt: float | None = None, ge: float | None = None) -> Check:
    desc = f"a number > {gt:g}" if gt is not None else f"a number >= {ge:g}" if ge is not None else "a number"

    def check(value: Any) -> float:
        ok = (is_int(value) or isinstance(value, float)) and math.isfinite(value)
        if ok and ((gt is not None and value <= gt) or (ge is not None and value < ge)):
            ok = False
        if not ok:
            raise Bad(f"must be {desc}, got {value!r}")
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"must be true or false, got {value!r}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"must be a non-empty string, got {value!r}")
    return value


def choice(options: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Bad(f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return check


def choices(options: tuple[str, ...]) -> Check:
    """A non-empty list of distinct values from ``options``, returned as a tuple."""

    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise Bad(f"must be a non-empty list of {', '.join(options)}, got {value!r}")
        for item in value:
            if not isinstance(item, str) or item not in options:
                raise Bad(f"has unknown value {item!r}; allowed: {', '.join(options)}")
        if len(set(value)) != len(value):
            raise Bad(f"must not repeat values, got {value!r}")
        return tuple(value)

    return check


def rule_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise Bad(f"must match [a-z][a-z0-9_]*, got {value!r}")
    return value


# name -> (check, required); the dataclass supplies defaults for optional ones.
