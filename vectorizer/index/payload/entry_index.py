"""Shared machinery of the typed payload field indexes.

Every typed index (keyword, integer, float, bool, datetime, uuid, geo) is built
on `EntryIndex`.  An index stores *entries*; each entry holds the normalised
values of one point (plain index: entry id == segment offset) or of one element
of the nested array of one point (nested index: entry ids are allocated on the
fly and mapped back to `(offset, element)`).  Subclasses only implement the
per-type normalisation, insertion/deletion into their data structure and the
condition matching, answering with entry ids; this module turns those into
point masks (`filter`) or per-element matches (`filter_elements`) and handles
persistence (numpy `.npy` + orjson, never pickle).

`SortedColumn` is the sorted-array structure used by the numeric indexes, with
cheap incremental updates: new entries wait in a small pending buffer and
removed entries in a tombstone set; queries combine the sorted main arrays
(binary search) with a vectorised scan of the pending buffer, and both are
merged into the main arrays once they grow past a fraction of it.
"""

from __future__ import annotations

import gc
import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
from pyroaring import BitMap
from qdrant_client.http import models

from vectorizer.index.payload.base import FieldIndex

Ids = BitMap | np.ndarray  # entry ids answered by a subclass


def bitmap_to_array(bm: BitMap) -> np.ndarray:
    """The members of `bm` as an int64 array."""
    if not bm:
        return np.empty(0, dtype=np.int64)
    return np.frombuffer(bm.to_array(), dtype=np.uint32).astype(np.int64)


def ids_to_array(ids: Ids) -> np.ndarray:
    if isinstance(ids, BitMap):
        return bitmap_to_array(ids)
    return np.asarray(ids, dtype=np.int64)


def nested_path(params: Any, key: str | None = None) -> str | None:
    """The normalised `nested` array path of `params` (without a trailing `[]`), or None."""
    nested = getattr(params, "nested", None)
    if not nested:
        return None
    nested = str(nested)
    if nested.endswith("[]"):
        nested = nested[:-2]
    if key is not None and not key.startswith(nested + "[]"):
        return None
    return nested


def encode_strings(flat: list[str]) -> dict[str, np.ndarray]:
    """Strings as one UTF-8 blob plus lengths (the `_encode` of string-valued indexes)."""
    encoded = [v.encode("utf-8", "surrogatepass") for v in flat]
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    lens = np.asarray([len(b) for b in encoded], dtype=np.int64)
    return {"utf8": blob, "utf8_lens": lens}


def decode_strings(arrays: dict[str, np.ndarray], count: int) -> list[str]:
    """Inverse of `encode_strings`."""
    if count == 0:
        return []
    blob = arrays["utf8"].tobytes()
    out: list[str] = []
    pos = 0
    for ln in arrays["utf8_lens"].tolist():
        out.append(blob[pos:pos + ln].decode("utf-8", "surrogatepass"))
        pos += ln
    return out


class EntryIndex(FieldIndex):
    """A field index over entries; see the module docstring."""

    kind: ClassVar[str] = ""

    def __init__(self, params: Any) -> None:
        self.params = params
        self.nested: bool = bool(getattr(params, "nested", None))
        self._values_of: dict[int, list[Any]] = {}  # entry -> normalised stored values
        self._counts: dict[int, int] = {}  # offset -> number of indexed values (> 0 only)
        self._other = BitMap()  # entries holding a non-null value this index does not store
        # nested bookkeeping
        self._entries_of: dict[int, list[int]] = {}  # offset -> entry ids
        self._entry_offset: list[int] = []  # entry -> offset (-1 once removed)
        self._entry_elem: list[int] = []  # entry -> element index (-1: unknown)
        self._entry_offset_np: np.ndarray | None = None
        self._inexact: set[int] = set()  # nested offsets added without element structure

    # ------------------------------------------------------------ subclass hooks

    def _convert(self, value: Any) -> Any:
        """The stored form of one non-null payload value, or None if this index skips it."""
        raise NotImplementedError

    def _normalize(self, values: list[Any]) -> tuple[list[Any], bool]:
        """(values this index stores, whether some other non-null value was skipped)."""
        stored: list[Any] = []
        other = False
        for v in values:
            if v is None:
                continue
            converted = self._convert(v)
            if converted is None:
                other = True
            else:
                stored.append(converted)
        return stored, other

    @abstractmethod
    def _insert(self, eid: int, values: list[Any]) -> None:
        """Add the normalised `values` of entry `eid` to the data structure."""

    @abstractmethod
    def _delete(self, eid: int, values: list[Any]) -> None:
        """Remove entry `eid` (whose normalised values were `values`)."""

    @abstractmethod
    def _match(self, condition: models.FieldCondition) -> Ids | None:
        """Entry ids matching `condition`, or None when this index cannot answer it."""

    @abstractmethod
    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        """Arrays to persist for the concatenated stored values."""

    @abstractmethod
    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        """Inverse of `_encode`."""

    def _count(self, values: list[Any]) -> int:
        """How many of the stored values count in `values_count` / `points_count`."""
        return len(values)

    def _bulk_insert(self, eids: np.ndarray, lens: np.ndarray,
                     arrays: dict[str, np.ndarray]) -> None:
        """Insert every entry of `self._values_of` at once (used by `load`).

        `eids`/`lens` give the entries in storage order and `arrays` the
        encoded values; subclasses may build their structure from them directly.
        """
        for eid, values in self._values_of.items():
            self._insert(eid, values)

    def _after_load(self) -> None:
        """Hook run once every entry has been inserted by `load`."""

    # ------------------------------------------------------------ FieldIndex

    def add(self, offset: int, values: list[Any]) -> None:
        self.remove(offset)
        if self.nested:
            # the element structure is unknown: point-level answers stay exact,
            # per-element answers are refused until the point is re-indexed per element
            self._inexact.add(offset)
            self._add_entry(offset, -1, values)
        else:
            self._add_values(offset, offset, values)

    def add_elements(self, offset: int, elements: list[list[Any]]) -> None:
        """Index one point of a nested index: `elements[i]` are the values of element `i`."""
        self.remove(offset)
        if not self.nested:
            self._add_values(offset, offset, [v for values in elements for v in values])
            return
        for i, values in enumerate(elements):
            self._add_entry(offset, i, values)

    def _add_entry(self, offset: int, elem: int, values: list[Any]) -> None:
        stored, other = self._normalize(values)
        if not stored and not other:
            return
        eid = len(self._entry_offset)
        self._entry_offset.append(offset)
        self._entry_elem.append(elem)
        self._entry_offset_np = None
        self._entries_of.setdefault(offset, []).append(eid)
        self._store(offset, eid, stored, other)

    def _add_values(self, offset: int, eid: int, values: list[Any]) -> None:
        stored, other = self._normalize(values)
        self._store(offset, eid, stored, other)

    def _store(self, offset: int, eid: int, stored: list[Any], other: bool) -> None:
        if other:
            self._other.add(eid)
        if stored:
            self._values_of[eid] = stored
            self._insert(eid, stored)
            cnt = self._count(stored)
            if cnt:
                self._counts[offset] = self._counts.get(offset, 0) + cnt

    def remove(self, offset: int) -> None:
        self._counts.pop(offset, None)
        if self.nested:
            self._inexact.discard(offset)
            for eid in self._entries_of.pop(offset, ()):
                self._drop_entry(eid)
                self._entry_offset[eid] = -1
            self._entry_offset_np = None
        else:
            self._drop_entry(offset)

    def _drop_entry(self, eid: int) -> None:
        self._other.discard(eid)
        stored = self._values_of.pop(eid, None)
        if stored is not None:
            self._delete(eid, stored)

    def points_count(self) -> int:
        return len(self._counts)

    def values_count(self, offset: int) -> int:
        return self._counts.get(offset, 0)

    def filter(self, condition: models.FieldCondition, n: int) -> np.ndarray | None:
        ids = self._match(condition)
        if ids is None:
            return None
        mask = np.zeros(n, dtype=bool)
        offsets = self._offsets_of(ids_to_array(ids))
        offsets = offsets[(offsets >= 0) & (offsets < n)]
        mask[offsets] = True
        return mask

    def filter_elements(self, condition: models.FieldCondition) -> dict[int, set[int]] | None:
        """For a nested index: offset -> indices of the elements that match `condition`.

        Element `i` is the i-th element of the array found at the `nested` path
        (counting every element, objects or not; when that path fans out over
        several arrays, their elements are numbered one after the other).
        None when the index cannot answer (not nested, unsupported condition,
        or values were added without their element structure).
        """
        if not self.nested or self._inexact:
            return None
        ids = self._match(condition)
        if ids is None:
            return None
        out: dict[int, set[int]] = {}
        for eid in ids_to_array(ids).tolist():
            offset = self._entry_offset[eid]
            if offset >= 0:
                out.setdefault(offset, set()).add(self._entry_elem[eid])
        return out

    def indexed_offsets(self) -> np.ndarray:
        """Offsets holding at least one indexed value, sorted."""
        return np.array(sorted(self._counts), dtype=np.int64)

    # ------------------------------------------------------------ helpers

    def _offsets_of(self, ids: np.ndarray) -> np.ndarray:
        if not self.nested:
            return ids
        if self._entry_offset_np is None:
            self._entry_offset_np = np.asarray(self._entry_offset, dtype=np.int64)
        if len(ids) == 0:
            return ids
        return self._entry_offset_np[ids]

    def _points_within(self, eids: np.ndarray, mask: np.ndarray | None) -> int:
        """How many distinct points (offsets) the entries `eids` cover within `mask`."""
        offsets = np.unique(self._offsets_of(eids))
        offsets = offsets[offsets >= 0]
        if mask is not None:
            offsets = offsets[offsets < len(mask)]
            offsets = offsets[mask[offsets]]
        return len(offsets)

    def _entries_with_values(self) -> BitMap:
        return BitMap(self._values_of.keys())

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        eids = sorted(self._values_of)
        lens = [len(self._values_of[e]) for e in eids]
        flat = [v for e in eids for v in self._values_of[e]]
        np.save(directory / "eids.npy", np.asarray(eids, dtype=np.int64))
        np.save(directory / "lens.npy", np.asarray(lens, dtype=np.int64))
        for name, arr in self._encode(flat).items():
            np.save(directory / f"values_{name}.npy", arr, allow_pickle=False)
        (directory / "other.bin").write_bytes(self._other.serialize())
        meta = {"kind": self.kind, "nested": self.nested, "inexact": sorted(self._inexact)}
        (directory / "meta.json").write_bytes(orjson.dumps(meta))
        if self.nested:
            np.save(directory / "entry_offset.npy", np.asarray(self._entry_offset, dtype=np.int64))
            np.save(directory / "entry_elem.npy", np.asarray(self._entry_elem, dtype=np.int64))

    @classmethod
    def load(cls, directory: Path, params: Any) -> EntryIndex:
        # millions of small lists: keep the cyclic GC from rescanning them all the time
        enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._load(Path(directory), params)
        finally:
            if enabled:
                gc.enable()

    @classmethod
    def _load(cls, directory: Path, params: Any) -> EntryIndex:
        index = cls(params)
        meta = orjson.loads((directory / "meta.json").read_bytes())
        index._inexact = set(meta.get("inexact", []))
        eids = np.load(directory / "eids.npy").tolist()
        lens = np.load(directory / "lens.npy").tolist()
        arrays = {
            p.name[len("values_"):-len(".npy")]: np.load(p, allow_pickle=False)
            for p in directory.glob("values_*.npy")
        }
        flat = index._decode(arrays, int(sum(lens)))
        index._other = BitMap.deserialize((directory / "other.bin").read_bytes())
        entry_offset: list[int] | None = None
        if index.nested:
            entry_offset = np.load(directory / "entry_offset.npy").tolist()
            index._entry_offset = entry_offset
            index._entry_elem = np.load(directory / "entry_elem.npy").tolist()
            for eid, off in enumerate(entry_offset):
                if off >= 0:
                    index._entries_of.setdefault(off, []).append(eid)
        values_of: dict[int, list[Any]]
        if all(ln == 1 for ln in lens):
            values_of = {eid: [v] for eid, v in zip(eids, flat, strict=True)}
        else:
            values_of = {}
            pos = 0
            for eid, ln in zip(eids, lens, strict=True):
                values_of[eid] = flat[pos:pos + ln]
                pos += ln
        index._values_of = values_of
        index._bulk_insert(np.asarray(eids, dtype=np.int64), np.asarray(lens, dtype=np.int64),
                           arrays)
        if entry_offset is None and type(index)._count is EntryIndex._count:
            index._counts = dict(zip(eids, lens, strict=True))
        else:
            counts = index._counts
            for eid, stored in values_of.items():
                cnt = index._count(stored)
                if cnt:
                    offset = eid if entry_offset is None else entry_offset[eid]
                    counts[offset] = counts.get(offset, 0) + cnt
        index._after_load()
        return index


class SortedColumn:
    """(value, entry id) pairs kept sorted by value, with lazy incremental updates."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.vals = np.empty(0, dtype=self.dtype)
        self.ids = np.empty(0, dtype=np.int64)
        self._in_main = BitMap()
        self._pending: dict[int, list[Any]] = {}
        self._removed: set[int] = set()
        self._pending_np: tuple[np.ndarray, np.ndarray] | None = None
        self._removed_np: np.ndarray | None = None
        # readers may merge lazily; keep concurrent readers from racing each other
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.vals) + sum(len(v) for v in self._pending.values())

    def add(self, eid: int, values: list[Any]) -> None:
        if values:
            with self._lock:
                self._pending[eid] = values
                self._pending_np = None

    def remove(self, eid: int) -> None:
        with self._lock:
            if self._pending.pop(eid, None) is not None:
                self._pending_np = None
            if eid in self._in_main:
                self._in_main.discard(eid)
                self._removed.add(eid)
                self._removed_np = None

    def bulk_load(self, vals: np.ndarray, ids: np.ndarray) -> None:
        """Replace the whole column by the pairs (`vals`, `ids`)."""
        with self._lock:
            vals = np.asarray(vals, dtype=self.dtype)
            ids = np.asarray(ids, dtype=np.int64)
            order = np.argsort(vals, kind="stable")
            self.vals, self.ids = vals[order], ids[order]
            self._in_main = BitMap(np.unique(ids).astype(np.uint32))
            self._pending.clear()
            self._removed.clear()
            self._pending_np = None
            self._removed_np = None

    def _pending_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending_np is None:
            vals: list[Any] = []
            ids: list[int] = []
            for eid, values in self._pending.items():
                vals.extend(values)
                ids.extend([eid] * len(values))
            self._pending_np = (
                np.asarray(vals, dtype=self.dtype).reshape(-1),
                np.asarray(ids, dtype=np.int64),
            )
        return self._pending_np

    def merge(self) -> None:
        """Fold the pending buffer and the tombstones into the sorted arrays."""
        with self._lock:
            if not self._pending and not self._removed:
                return
            vals, ids = self.vals, self.ids
            if self._removed:
                keep = ~np.isin(ids, np.fromiter(self._removed, dtype=np.int64))
                vals, ids = vals[keep], ids[keep]
            if self._pending:
                pv, pi = self._pending_arrays()
                vals = np.concatenate([vals, pv])
                ids = np.concatenate([ids, pi])
                self._in_main.update(self._pending.keys())
            order = np.argsort(vals, kind="stable")
            self.vals, self.ids = vals[order], ids[order]
            self._pending.clear()
            self._removed.clear()
            self._pending_np = None
            self._removed_np = None

    def _maybe_merge(self) -> None:
        dirty = len(self._removed) + len(self._pending)
        if dirty and dirty > max(1024, len(self.vals) // 16):
            self.merge()

    def _clean(self, ids: np.ndarray) -> np.ndarray:
        if self._removed and len(ids):
            if self._removed_np is None:
                self._removed_np = np.fromiter(self._removed, dtype=np.int64)
            ids = ids[~np.isin(ids, self._removed_np)]
        return ids

    def select(self, sel_main: slice | np.ndarray, sel_pending: np.ndarray | None) -> np.ndarray:
        parts = [self._clean(self.ids[sel_main])]
        if sel_pending is not None and self._pending:
            parts.append(self._pending_arrays()[1][sel_pending])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def range_ids(self, lo: Any, lo_incl: bool, hi: Any, hi_incl: bool) -> np.ndarray:
        """Entries whose value lies between `lo` and `hi` (None: unbounded)."""
        with self._lock:
            self._maybe_merge()
            start = 0 if lo is None else int(
                np.searchsorted(self.vals, lo, side="left" if lo_incl else "right"))
            stop = len(self.vals) if hi is None else int(
                np.searchsorted(self.vals, hi, side="right" if hi_incl else "left"))
            sel_p = None
            if self._pending:
                pv = self._pending_arrays()[0]
                sel_p = np.ones(len(pv), dtype=bool)
                if lo is not None:
                    sel_p &= (pv >= lo) if lo_incl else (pv > lo)
                if hi is not None:
                    sel_p &= (pv <= hi) if hi_incl else (pv < hi)
            if stop <= start:
                return self.select(slice(0, 0), sel_p)
            return self.select(slice(start, stop), sel_p)

    def eq_ids(self, values: list[Any]) -> np.ndarray:
        """Entries holding one of `values`."""
        with self._lock:
            self._maybe_merge()
            arr = np.asarray(values, dtype=self.dtype)
            left = np.searchsorted(self.vals, arr, side="left")
            right = np.searchsorted(self.vals, arr, side="right")
            bounds = zip(left.tolist(), right.tolist(), strict=True)
            idx = [np.arange(a, b) for a, b in bounds if b > a]
            sel = np.concatenate(idx) if idx else np.empty(0, dtype=np.int64)
            sel_p = None
            if self._pending:
                sel_p = np.isin(self._pending_arrays()[0], arr)
            return self.select(sel, sel_p)

    def not_in_ids(self, values: list[Any]) -> np.ndarray:
        """Entries holding a value outside `values`."""
        with self._lock:
            self._maybe_merge()
            arr = np.asarray(values, dtype=self.dtype)
            sel = ~np.isin(self.vals, arr)
            sel_p = None
            if self._pending:
                sel_p = ~np.isin(self._pending_arrays()[0], arr)
            return self.select(sel, sel_p)

    def sorted_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, entry ids) sorted ascending by value."""
        with self._lock:
            self.merge()
            return self.vals, self.ids
