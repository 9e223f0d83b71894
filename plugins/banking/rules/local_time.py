"""Local wall-clock time of rows in their home country's timezone (the odd_hours rule)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from banking import countries as geo

_US_PER_S = 1_000_000
_I64 = np.int64

Zone = ZoneInfo | timezone


def home_zone(code: str) -> Zone:
    """The timezone of a home country; UTC for an unknown code rather than failing the batch."""
    try:
        return geo.country(code).zone
    except KeyError:
        return timezone.utc


def _utc_offset(zone: Zone, t_s: int) -> int:
    delta = datetime.fromtimestamp(t_s, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


@lru_cache(maxsize=1 << 16)
def _hour_offset(zone: Zone, hour: int) -> int | None:
    """The UTC offset (s) of zone during UTC hour ``hour`` since the epoch; None when it changes inside."""
    start = hour * 3600
    first, last = _utc_offset(zone, start), _utc_offset(zone, start + 3599)
    return first if first == last else None


def local_seconds(t_us: np.ndarray, home: np.ndarray, zones: list[Zone]) -> np.ndarray:
    """Seconds since the epoch of the local wall-clock time in each row's home zone."""
    t_s = t_us // _US_PER_S
    hour = t_s // 3600
    first_hour = int(hour[0]) if len(hour) else 0
    n_codes = len(zones)
    cell = (hour - first_hour) * n_codes + home  # (hour, home country)
    size = (int(hour[-1]) - first_hour + 1) * n_codes if len(hour) else 0
    if size <= 1 << 24:
        used = np.zeros(size, bool)
        used[cell] = True
        cells = np.flatnonzero(used)
    else:
        cells = np.unique(cell)
    offsets = np.zeros(len(cells), _I64)
    varies = np.zeros(len(cells), bool)
    for j, c in enumerate(cells.tolist()):
        offset = _hour_offset(zones[c % n_codes], first_hour + c // n_codes)
        if offset is None:
            varies[j] = True
        else:
            offsets[j] = offset
    at = np.searchsorted(cells, cell)
    local = t_s + offsets[at]
    for i in np.flatnonzero(varies[at]).tolist():  # rows in an hour with a UTC offset change
        local[i] = int(t_s[i]) + _utc_offset(zones[home[i]], int(t_s[i]))
    return local
