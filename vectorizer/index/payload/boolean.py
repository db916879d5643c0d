"""Bool payload index: two roaring bitmaps, entries holding `true` and `false`.

Answers `MatchValue`, `MatchAny` and `MatchExcept` with bool operands; any other
operand type gets None (the caller scans), since Qdrant keeps bools distinct
from integers and the payload may hold non-bool values this index skips.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyroaring import BitMap
from qdrant_client.http import models

from vectorizer.index.payload.entry_index import EntryIndex, Ids


class BoolIndex(EntryIndex):
    """`true` / `false` -> BitMap of entry ids."""

    kind = "bool"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self._true = BitMap()
        self._false = BitMap()

    def _convert(self, value: Any) -> bool | None:
        return value if isinstance(value, bool) else None

    def _insert(self, eid: int, values: list[Any]) -> None:
        for v in values:
            (self._true if v else self._false).add(eid)

    def _delete(self, eid: int, values: list[Any]) -> None:
        self._true.discard(eid)
        self._false.discard(eid)

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        return {"b": np.asarray(flat, dtype=bool)}

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        return [bool(v) for v in arrays["b"].tolist()] if "b" in arrays else []

    def _of(self, values: list[Any]) -> BitMap:
        out = BitMap()
        if True in values:
            out |= self._true
        if False in values:
            out |= self._false
        return out

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        match = condition.match
        if match is None or condition.range is not None:
            return None
        if isinstance(match, models.MatchValue):
            ops = [match.value]
        elif isinstance(match, models.MatchAny):
            ops = list(match.any)
        elif isinstance(match, models.MatchExcept):
            ops = list(match.except_)
        else:
            return None
        if not all(isinstance(v, bool) for v in ops):
            return None
        if isinstance(match, models.MatchExcept):
            rest = [v for v in (True, False) if v not in ops]
            return self._of(rest) | self._other
        return self._of(ops)

    def value_counts(self, mask: np.ndarray | None = None) -> dict[bool, int]:
        """Number of points within `mask` (all if None) holding `true` / `false`."""
        out: dict[bool, int] = {}
        for value, bm in ((True, self._true), (False, self._false)):
            count = self._points_within(np.asarray(bm.to_array(), dtype=np.int64), mask)
            if count:
                out[value] = count
        return out
