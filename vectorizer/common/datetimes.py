"""Payload datetimes as Qdrant reads them: RFC 3339 and the looser forms it accepts.

One parser serves the filter evaluator and the datetime payload index, so both
agree on what is a datetime.  Naive values are UTC.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS_PER_DAY = 86_400_000_000


_FAST_DT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?"
)
# Every accepted format starts with `%Y-%m-%d`; anything else is rejected without strptime.
_DT_PREFIX = re.compile(r"\s*\d{4}-\d{1,2}-[ \d]")

# The formats Qdrant core accepts (lib/segment/src/types.rs), as strptime patterns.
_DT_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f %z",
    "%Y-%m-%d %H:%M:%S.%f %z",
    "%Y-%m-%dT%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def _normalize_dt(text: str) -> str:
    text = text.lstrip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + "+00:00"
    elif text.endswith("z"):
        text = text[:-1] + "Z"
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot > 7:  # keep microseconds, drop finer digits
            text = text[: dot + 7] + text[end:]
    return text


def _strptime_any(text: str) -> datetime | None:
    for fmt in _DT_FORMATS:
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt
    return None


def parse_datetime(text: str) -> datetime | None:
    """Parse a payload datetime string leniently, as Qdrant does; naive means UTC."""
    m = _FAST_DT.fullmatch(text)
    if m is not None:
        try:
            y, mo, d, hh, mi, ss, frac, tz = m.groups()
            tzinfo: timezone = UTC
            if tz is not None and tz != "Z":
                sign = -1 if tz[0] == "-" else 1
                off_h, off_m = int(tz[1:3]), int(tz[4:6])
                if off_m < 60:
                    tzinfo = timezone(sign * timedelta(hours=off_h, minutes=off_m))
                else:
                    raise ValueError(tz)
            micro = int(frac.ljust(6, "0")) if frac else 0
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0),
                            micro, tzinfo=tzinfo)
        except ValueError:
            pass  # let the slow path decide
    if _DT_PREFIX.match(text) is None:
        return None
    text = _normalize_dt(text)
    dt = _strptime_any(text)
    if dt is not None:
        return dt
    tail = text[-3:]
    if len(tail) == 3 and tail[0] in "+-" and tail[1:].isdigit():
        return _strptime_any(text + ":00")
    return None


def to_micros(dt: datetime | date) -> int:
    """Microseconds since the Unix epoch; naive datetimes and plain dates are UTC."""
    if not isinstance(dt, datetime):
        dt = datetime.combine(dt, datetime.min.time())
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return delta.days * _MICROS_PER_DAY + delta.seconds * 1_000_000 + delta.microseconds


@functools.lru_cache(maxsize=65536)
def datetime_micros(text: str) -> int | None:
    """Microseconds since the epoch of a payload datetime string, or None if it is not one."""
    dt = parse_datetime(text)
    return None if dt is None else to_micros(dt)
