"""Numeric payload indexes: integer, float and datetime, on sorted arrays.

* integer: int64 values (ints only: bools and floats are skipped).  `MatchValue`,
  `MatchAny`, `MatchExcept` of ints when `lookup` is enabled; `Range` when
  `range` is enabled (disabled features answer None so the caller scans).
  Floats found under the key are not indexed values but are kept aside so a
  `Range` still answers exactly what a payload scan would.
* float: float64 values (ints and floats); answers `Range`.
* datetime: int64 microseconds since the Unix epoch (UTC); answers
  `DatetimeRange`.  Payload strings are parsed as Qdrant does: RFC 3339 with or
  without offset (naive means UTC), a space instead of `T`, date only.

All three offer `ordered(mask)` -> (values as float64, offsets) sorted
ascending, for order_by (datetimes as float seconds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.common.datetimes import parse_datetime, to_micros
from vectorizer.index.payload.entry_index import EntryIndex, Ids, SortedColumn

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

def parse_datetime_us(text: Any) -> int | None:
    """A payload value as microseconds since the epoch, or None if it is not a datetime."""
    dt = parse_datetime(text) if isinstance(text, str) else None
    if dt is None:
        return None
    us = to_micros(dt)
    return us if INT64_MIN <= us <= INT64_MAX else None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _SortedIndex(EntryIndex):
    """Base of the numeric indexes: one SortedColumn of stored values."""

    dtype: Any = np.float64

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self._col = SortedColumn(self.dtype)

    def _insert(self, eid: int, values: list[Any]) -> None:
        self._col.add(eid, values)

    def _delete(self, eid: int, values: list[Any]) -> None:
        self._col.remove(eid)

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        return {"v": np.asarray(flat, dtype=self.dtype)}

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        return arrays["v"].tolist() if "v" in arrays else []

    def _bulk_insert(self, eids: np.ndarray, lens: np.ndarray,
                     arrays: dict[str, np.ndarray]) -> None:
        if "v" in arrays:
            self._col.bulk_load(arrays["v"], np.repeat(eids, lens))

    def _scale(self) -> float:
        return 1.0

    def ordered(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(values as float64, offsets) of every indexed value, sorted ascending.

        A point with several values appears once per value; with `mask`, only
        offsets where `mask` is True are kept.
        """
        vals, ids = self._col.sorted_pairs()
        offsets = self._offsets_of(ids)
        fvals = vals.astype(np.float64)
        scale = self._scale()
        if scale != 1.0:
            fvals = fvals / scale
        keep = offsets >= 0
        if mask is not None:
            keep &= offsets < len(mask)
            keep[keep] = mask[offsets[keep]]
        if not keep.all():
            fvals, offsets = fvals[keep], offsets[keep]
        return fvals, offsets


def _float_bounds(rng: models.Range) -> tuple[Any, bool, Any, bool] | None:
    """(lo, lo_incl, hi, hi_incl) of a Range; None if nothing can match (NaN bound)."""
    lo: Any = None
    lo_incl = True
    hi: Any = None
    hi_incl = True
    for bound, incl in ((rng.gt, False), (rng.gte, True)):
        if bound is None:
            continue
        b = float(bound)
        if math.isnan(b):
            return None
        if lo is None or b > lo or (b == lo and not incl):
            lo, lo_incl = b, incl
    for bound, incl in ((rng.lt, False), (rng.lte, True)):
        if bound is None:
            continue
        b = float(bound)
        if math.isnan(b):
            return None
        if hi is None or b < hi or (b == hi and not incl):
            hi, hi_incl = b, incl
    return lo, lo_incl, hi, hi_incl


def _int_bounds(rng: models.Range) -> tuple[int | None, int | None] | None:
    """Inclusive integer bounds equivalent to `rng`; None if no integer can match."""
    lo: int | None = None
    hi: int | None = None
    for bound, strict in ((rng.gt, True), (rng.gte, False)):
        if bound is None:
            continue
        if isinstance(bound, float) and math.isnan(bound):
            return None
        if isinstance(bound, float) and math.isinf(bound):
            if bound > 0:
                return None
            continue
        b = math.floor(bound) + 1 if strict else math.ceil(bound)
        lo = b if lo is None else max(lo, b)
    for bound, strict in ((rng.lt, True), (rng.lte, False)):
        if bound is None:
            continue
        if isinstance(bound, float) and math.isnan(bound):
            return None
        if isinstance(bound, float) and math.isinf(bound):
            if bound < 0:
                return None
            continue
        b = math.ceil(bound) - 1 if strict else math.floor(bound)
        hi = b if hi is None else min(hi, b)
    if (lo is not None and lo > INT64_MAX) or (hi is not None and hi < INT64_MIN):
        return None
    if lo is not None and lo <= INT64_MIN:
        lo = None
    if hi is not None and hi >= INT64_MAX:
        hi = None
    if lo is not None and hi is not None and lo > hi:
        return None
    return lo, hi


class IntegerIndex(_SortedIndex):
    """Sorted int64 values; floats under the key are kept aside for exact ranges."""

    kind = "integer"
    dtype = np.int64

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self._floats = SortedColumn(np.float64)

    def _normalize(self, values: list[Any]) -> tuple[list[Any], bool]:
        stored: list[Any] = []
        other = False
        for v in values:
            if v is None:
                continue
            if _is_int(v) and INT64_MIN <= v <= INT64_MAX:
                stored.append(v)
            else:
                other = True
                if _is_int(v):  # beyond int64: only reachable by ranges, as a float
                    stored.append(float(v))
                elif isinstance(v, float) and not math.isnan(v):
                    stored.append(v)
        return stored, other

    def _count(self, values: list[Any]) -> int:
        return sum(1 for v in values if not isinstance(v, float))

    def _insert(self, eid: int, values: list[Any]) -> None:
        ints = [v for v in values if not isinstance(v, float)]
        floats = [v for v in values if isinstance(v, float)]
        if ints:
            self._col.add(eid, ints)
        if floats:
            self._floats.add(eid, floats)

    def _delete(self, eid: int, values: list[Any]) -> None:
        self._col.remove(eid)
        self._floats.remove(eid)

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        is_float = np.asarray([isinstance(v, float) for v in flat], dtype=bool)
        ints = np.asarray([0 if isinstance(v, float) else v for v in flat], dtype=np.int64)
        floats = np.asarray([v if isinstance(v, float) else 0.0 for v in flat], dtype=np.float64)
        return {"int": ints, "float": floats, "is_float": is_float}

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        if count == 0:
            return []
        ints = arrays["int"].tolist()
        floats = arrays["float"].tolist()
        is_float = arrays["is_float"].tolist()
        return [f if isf else i for i, f, isf in zip(ints, floats, is_float, strict=True)]

    def _bulk_insert(self, eids: np.ndarray, lens: np.ndarray,
                     arrays: dict[str, np.ndarray]) -> None:
        if "is_float" not in arrays:
            return
        ids = np.repeat(eids, lens)
        is_float = arrays["is_float"]
        self._col.bulk_load(arrays["int"][~is_float], ids[~is_float])
        self._floats.bulk_load(arrays["float"][is_float], ids[is_float])

    def _query_ints(self, values: list[Any]) -> list[int] | None:
        if not all(_is_int(v) and INT64_MIN <= v <= INT64_MAX for v in values):
            return None
        return list(values)

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        match, rng = condition.match, condition.range
        if match is not None:
            if getattr(self.params, "lookup", None) is False:
                return None
            if isinstance(match, models.MatchValue):
                q = self._query_ints([match.value])
                return None if q is None else self._col.eq_ids(q)
            if isinstance(match, models.MatchAny):
                q = self._query_ints(list(match.any))
                return None if q is None else self._col.eq_ids(q)
            if isinstance(match, models.MatchExcept):
                q = self._query_ints(list(match.except_))
                if q is None:
                    return None
                ids = self._col.not_in_ids(q)
                if self._other:
                    ids = np.concatenate([ids, np.asarray(self._other.to_array(), np.int64)])
                return ids
            return None
        if isinstance(rng, models.Range):
            if getattr(self.params, "range", None) is False:
                return None
            fb = _float_bounds(rng)
            ib = _int_bounds(rng)
            parts: list[np.ndarray] = []
            if ib is not None:
                parts.append(self._col.range_ids(ib[0], True, ib[1], True))
            if fb is not None and len(self._floats):
                parts.append(self._floats.range_ids(*fb))
            if not parts:
                return np.empty(0, dtype=np.int64)
            return np.concatenate(parts) if len(parts) > 1 else parts[0]
        return None

    def value_counts(self, mask: np.ndarray | None = None) -> dict[int, int]:
        """Number of points within `mask` (all if None) holding each integer value."""
        vals, ids = self._col.sorted_pairs()
        offsets = self._offsets_of(ids)
        keep = offsets >= 0
        if mask is not None:
            keep &= offsets < len(mask)
            keep[keep] = mask[offsets[keep]]
        vals, offsets = vals[keep], offsets[keep]
        if not len(vals):
            return {}
        pairs = np.unique(np.stack([vals, offsets], axis=1), axis=0)
        uniq, counts = np.unique(pairs[:, 0], return_counts=True)
        return dict(zip(uniq.tolist(), counts.tolist(), strict=True))


class FloatIndex(_SortedIndex):
    """Sorted float64 values (ints and floats)."""

    kind = "float"
    dtype = np.float64

    def _convert(self, value: Any) -> float | None:
        if _is_number(value):
            f = float(value)
            if not math.isnan(f):
                return f
        return None

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        rng = condition.range
        if condition.match is None and isinstance(rng, models.Range):
            fb = _float_bounds(rng)
            if fb is None:
                return np.empty(0, dtype=np.int64)
            return self._col.range_ids(*fb)
        return None


class DatetimeIndex(_SortedIndex):
    """Sorted int64 microseconds since the epoch (UTC)."""

    kind = "datetime"
    dtype = np.int64

    def _convert(self, value: Any) -> int | None:
        return parse_datetime_us(value)

    def _scale(self) -> float:
        return 1e6

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        rng = condition.range
        if condition.match is not None or not isinstance(rng, models.DatetimeRange):
            return None
        lo: int | None = None
        hi: int | None = None
        for bound, strict in ((rng.gt, True), (rng.gte, False)):
            if bound is not None:
                b = _bound_us(bound) + (1 if strict else 0)
                lo = b if lo is None else max(lo, b)
        for bound, strict in ((rng.lt, True), (rng.lte, False)):
            if bound is not None:
                b = _bound_us(bound) - (1 if strict else 0)
                hi = b if hi is None else min(hi, b)
        if lo is not None and hi is not None and lo > hi:
            return np.empty(0, dtype=np.int64)
        lo = None if lo is None or lo <= INT64_MIN else min(lo, INT64_MAX)
        hi = None if hi is None or hi >= INT64_MAX else max(hi, INT64_MIN)
        return self._col.range_ids(lo, True, hi, True)


def _bound_us(bound: Any) -> int:
    if isinstance(bound, str):
        dt = parse_datetime(bound)
        if dt is None:
            raise ValueError(f"invalid datetime {bound!r}")
        return to_micros(dt)
    return to_micros(bound)
