"""Keyword payload index: an inverted index value -> roaring bitmap of entries.

Answers `MatchValue` (str), `MatchAny` (strs), `MatchExcept` (strs), `MatchPrefix`
(only when the index was created with `prefix: true`, as Qdrant requires) and
`MatchSubstring`.  Conditions whose operands are not strings get None (the
caller scans), because the payload may hold non-string values this index skips.

`MatchExcept` follows Qdrant (and qdrant-client's local mode): a point matches
when it holds at least one non-null value outside the list, whatever its type;
entries holding skipped non-string values are remembered for that purpose.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
from pyroaring import BitMap
from qdrant_client.http import models

from vectorizer.index.payload.entry_index import (
    EntryIndex,
    Ids,
    bitmap_to_array,
    decode_strings,
    encode_strings,
)


class KeywordIndex(EntryIndex):
    """value -> BitMap of entry ids."""

    kind = "keyword"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self._map: dict[str, BitMap] = {}
        self._sorted_keys: list[str] | None = None
        self._all = BitMap()  # entries holding at least one stored value

    # ------------------------------------------------------------ values

    def _convert(self, value: Any) -> str | None:
        """The stored form of a payload value, or None if this index skips it."""
        return value if isinstance(value, str) else None

    def _insert(self, eid: int, values: list[Any]) -> None:
        self._all.add(eid)
        for v in values:
            bm = self._map.get(v)
            if bm is None:
                self._map[v] = bm = BitMap()
                self._sorted_keys = None
            bm.add(eid)

    def _delete(self, eid: int, values: list[Any]) -> None:
        self._all.discard(eid)
        for v in values:
            bm = self._map.get(v)
            if bm is not None:
                bm.discard(eid)
                if not bm:
                    del self._map[v]
                    self._sorted_keys = None

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        return encode_strings(flat)

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        return decode_strings(arrays, count)

    def _bulk_insert(self, eids: np.ndarray, lens: np.ndarray,
                     arrays: dict[str, np.ndarray]) -> None:
        groups: dict[str, list[int]] = {}
        for eid, values in self._values_of.items():
            for v in values:
                groups.setdefault(v, []).append(eid)
        self._map = {v: BitMap(ids) for v, ids in groups.items()}
        self._all = BitMap(self._values_of.keys())
        self._sorted_keys = None

    # ------------------------------------------------------------ matching

    def _query_values(self, values: list[Any]) -> list[str] | None:
        """Condition operands in stored form; None if one cannot be stored by this index."""
        out: list[str] = []
        for v in values:
            c = self._convert(v) if isinstance(v, str) else None
            if c is None:
                return None
            out.append(c)
        return out

    def _union(self, keys: Any) -> BitMap:
        bms = [self._map[k] for k in keys if k in self._map]
        if not bms:
            return BitMap()
        if len(bms) == 1:
            return bms[0].copy()
        return BitMap.union(*bms)

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        match = condition.match
        if match is None or condition.range is not None:
            return None
        if isinstance(match, models.MatchValue):
            q = self._query_values([match.value])
            return None if q is None else self._union(q)
        if isinstance(match, models.MatchAny):
            q = self._query_values(list(match.any))
            return None if q is None else self._union(q)
        if isinstance(match, models.MatchExcept):
            q = self._query_values(list(match.except_))
            if q is None:
                return None
            return self._except(set(q)) | self._other
        if isinstance(match, models.MatchPrefix):
            if not self._prefix_enabled():
                return None
            return self._union(self._prefixed(match.prefix))
        if isinstance(match, models.MatchSubstring):
            sub = match.substring
            return self._union(k for k in self._map if sub in k)
        return None

    def _except(self, excluded: set[str]) -> BitMap:
        """Entries holding at least one stored value outside `excluded`."""
        if len(self._map) <= 64 or len(excluded) * 4 >= len(self._map):
            return self._union(k for k in self._map if k not in excluded)
        # many distinct values: everything, minus the entries whose values are all excluded
        hit = self._union(excluded)
        out = self._all - hit
        for eid in hit:
            if any(v not in excluded for v in self._values_of.get(eid, ())):
                out.add(eid)
        return out

    def _prefix_enabled(self) -> bool:
        return bool(getattr(self.params, "prefix", False))

    def _prefixed(self, prefix: str) -> list[str]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self._map)
        keys = self._sorted_keys
        out: list[str] = []
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            out.append(keys[i])
            i += 1
        return out

    # ------------------------------------------------------------ helpers for facets

    def value_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Number of points within `mask` (all points if None) holding each value."""
        out: dict[str, int] = {}
        if self.nested:
            for value, bm in self._map.items():
                count = self._points_within(bitmap_to_array(bm), mask)
                if count:
                    out[value] = count
            return out
        if mask is None:
            return {value: len(bm) for value, bm in self._map.items() if bm}
        mbm = BitMap(np.flatnonzero(mask).astype(np.uint32))
        for value, bm in self._map.items():
            cnt = bm.intersection_cardinality(mbm)
            if cnt:
                out[value] = cnt
        return out

    def values(self) -> list[str]:
        """Every distinct indexed value, sorted."""
        return sorted(self._map)

    def offsets_with(self, value: Any) -> np.ndarray:
        """Offsets holding `value` (a payload value, converted as the index does)."""
        c = self._convert(value) if isinstance(value, str) else None
        if c is None or c not in self._map:
            return np.empty(0, dtype=np.int64)
        return np.unique(self._offsets_of(bitmap_to_array(self._map[c])))
