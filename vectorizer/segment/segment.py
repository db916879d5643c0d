"""One segment: id tracker, vector storages, payloads and payload field indexes.

Points are addressed inside the segment by dense offsets.  The segment applies
already-validated changes; validation happens in the collection layer before
anything reaches the WAL.
"""

from __future__ import annotations

import copy
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorizer.collection.operations import DenseColumn, PointsBatch
from vectorizer.common import json_path
from vectorizer.common.point_id import PointId
from vectorizer.index.hnsw import HnswIndex
from vectorizer.index.payload.base import FieldIndex
from vectorizer.index.payload.field_indexes import PayloadFieldIndexes
from vectorizer.index.payload_graphs import PayloadGraphs
from vectorizer.segment.vector_storage import (
    DenseVectorStorage,
    MultiVectorStorage,
    SparseVectorStorage,
    VectorStorage,
    new_storage,
)

_MASK64 = (1 << 64) - 1


class CandidateRows:
    """Rows a search may return: a mask with its count, offsets and packed bits.

    The offsets and the packed little-endian bitmap (the graph's allow-list) are
    derived on first use and kept, as the object is cached by the segment.
    """

    __slots__ = ("_bits", "_offsets", "count", "mask", "uses", "vectors", "views")

    def __init__(self, mask: np.ndarray, count: int | None = None) -> None:
        self.mask = mask
        self.count = int(np.count_nonzero(mask)) if count is None else count
        self._offsets: np.ndarray | None = None
        self._bits: np.ndarray | None = None
        self.uses = 0  # searches planned over these rows
        # The rows' stored vectors, contiguous, once a filter is scored exactly again.
        self.vectors: np.ndarray | None = None
        # Per payload graph searched over these rows: its allow-list (`PayloadGraph.view`),
        # held weakly: a cached filter must not keep a replaced graph (and its map) alive.
        self.views: weakref.WeakKeyDictionary[Any, Any] | None = None

    @property
    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            self._offsets = np.flatnonzero(self.mask)
        return self._offsets

    @property
    def bits(self) -> np.ndarray | None:
        """The packed mask, or None when every row is a candidate."""
        if self.count == len(self.mask):
            return None
        if self._bits is None:
            self._bits = np.packbits(self.mask, bitorder="little")
        return self._bits

    @property
    def nbytes(self) -> int:
        vectors = 0 if self.vectors is None else self.vectors.nbytes
        return self.mask.nbytes + 8 * self.count + len(self.mask) // 8 + vectors


# Filtered candidate rows kept per segment (Lucene's per-segment filter cache): repeated
# filters (tenants, categories) skip re-evaluation until the segment changes.
FILTER_CACHE_ENTRIES = 32
FILTER_CACHE_BYTES = 64 << 20


@dataclass
class VectorSpec:
    """How a named vector is stored in segments."""

    kind: str  # "dense" | "sparse" | "multi"
    dim: int = 0
    datatype: str = "float32"
    normalize: bool = False
    on_disk: bool = False  # sealed segments memory-map the vectors instead of holding them

    def new_storage(self) -> VectorStorage:
        return new_storage(self.kind, self.dim, self.datatype, self.normalize, self.on_disk)


class Segment:
    """An appendable segment: points by offset, searched and filtered as a whole."""

    def __init__(self, specs: dict[str, VectorSpec]) -> None:
        self.ids: list[PointId] = []
        self.id_to_offset: dict[PointId, int] = {}
        self.alive = np.zeros(0, dtype=bool)
        self.versions = np.zeros(0, dtype=np.uint64)
        self.payloads: list[dict[str, Any] | None] = []
        self.vectors: dict[str, VectorStorage] = {n: s.new_storage() for n, s in specs.items()}
        self.indexes = PayloadFieldIndexes()
        self.revision = 0
        self._dirty = True
        # A sealed segment takes no new points; the optimizer gives it HNSW graphs.
        self.sealed = False
        self.ann: dict[str, HnswIndex] = {}
        self.payload_graphs: dict[str, PayloadGraphs] = {}  # per vector: graphs per value
        # While an optimizer rebuilds this segment elsewhere it records which offsets
        # changed in place (payload or vector removal) so the rebuild can catch up.
        self.changed: set[int] | None = None
        self.dir_name: str | None = None  # where the shard last flushed this segment
        self.uid = str(uuid.uuid4())  # stable identity, reported by /optimizations
        self._num_ids = np.zeros(0, dtype=np.uint64)  # integer id per offset (0 for UUIDs)
        self._uuid_ids = np.zeros(0, dtype=bool)  # offset holds a UUID id
        self._uuid_hi = np.zeros(0, dtype=np.uint64)  # UUID as two 64-bit halves (0 for ints)
        self._uuid_lo = np.zeros(0, dtype=np.uint64)
        # Bumped by every change to which rows hold a live vector; keys `_live`.
        self.generation = 0
        self._live: dict[str, tuple[int, CandidateRows]] = {}
        # Bumped by every change at all (see `dirty`); keys the filter cache.
        self.revision = 0
        self._filtered: OrderedDict[tuple[str, str], tuple[int, CandidateRows]] = OrderedDict()
        self._filtered_bytes = 0

    @property
    def dirty(self) -> bool:
        """True when the segment changed since it was last flushed."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        if value:  # every change marks the segment dirty: cached filter results go stale
            self.revision += 1
        self._dirty = value

    # ------------------------------------------------------------ SegmentView

    @property
    def num_offsets(self) -> int:
        return len(self.ids)

    def alive_mask(self) -> np.ndarray:
        return self.alive[: len(self.ids)]

    def payload_at(self, offset: int) -> dict[str, Any]:
        return self.payloads[offset] or {}

    def point_id_at(self, offset: int) -> PointId:
        return self.ids[offset]

    def offset_of(self, point_id: PointId) -> int | None:
        return self.id_to_offset.get(point_id)

    def payloads_of(self, point_ids: list[PointId]) -> dict[PointId, dict[str, Any]]:
        """The stored payloads (read-only, `{}` when none) of those of `point_ids` held here."""
        get, payloads = self.id_to_offset.get, self.payloads
        return {pid: payloads[off] or {} for pid in point_ids
                if (off := get(pid)) is not None}

    def live_offsets_of(self, vector_name: str, point_ids: list[PointId]) -> np.ndarray:
        """The sorted offsets of those of `point_ids` that are live and hold `vector_name`."""
        live = self.live_rows(vector_name)
        if live is None or not live.count:
            return np.zeros(0, dtype=np.int64)
        offs = self.offsets_of(point_ids)
        offs = np.sort(offs[offs < len(live.mask)])
        return offs[live.mask[offs]]

    def offsets_of(self, point_ids: list[PointId]) -> np.ndarray:
        """The live offsets of those of `point_ids` (normalised) this segment holds."""
        found = [o for o in map(self.id_to_offset.get, point_ids) if o is not None]
        return np.fromiter(found, dtype=np.int64, count=len(found))

    def vector_present_mask(self, vector_name: str) -> np.ndarray | None:
        storage = self.vectors.get(vector_name)
        if storage is None:
            return None
        return storage.present_mask(len(self.ids))

    def field_index(self, key: str) -> FieldIndex | None:
        return self.indexes.get(key)

    def live_rows(self, vector_name: str) -> CandidateRows | None:
        """The rows searches over `vector_name` may return, cached until the next change."""
        cached = self._live.get(vector_name)
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        present = self.vector_present_mask(vector_name)
        if present is None:
            return None
        rows = CandidateRows(present & self.alive_mask())
        self._live[vector_name] = (self.generation, rows)
        return rows

    def cached_filter_rows(self, key: tuple[str, str]) -> CandidateRows | None:
        """Rows cached under `key` (filter, vector name) by `cache_filter_rows`, if current."""
        entry = self._filtered.get(key)
        if entry is None:
            return None
        if entry[0] != self.revision:
            self._drop_filter_rows(key)
            return None
        self._filtered.move_to_end(key)
        return entry[1]

    def cache_filter_rows(self, key: tuple[str, str], rows: CandidateRows) -> None:
        """Keep `rows` for `key` until the segment changes (least recently used go first)."""
        if key in self._filtered:
            self._drop_filter_rows(key)
        self._filtered[key] = (self.revision, rows)
        self._filtered_bytes += rows.nbytes
        while self._filtered and (len(self._filtered) > FILTER_CACHE_ENTRIES or
                                  self._filtered_bytes > FILTER_CACHE_BYTES):
            self._drop_filter_rows(next(iter(self._filtered)))

    def _drop_filter_rows(self, key: tuple[str, str]) -> None:
        _rev, rows = self._filtered.pop(key)
        self._filtered_bytes -= rows.nbytes

    # ------------------------------------------------------------ bookkeeping

    @property
    def points_count(self) -> int:
        return len(self.id_to_offset)

    def add_vector_storage(self, name: str, spec: VectorSpec) -> None:
        self.generation += 1
        if name not in self.vectors:
            self.vectors[name] = spec.new_storage()
            self.dirty = True

    def drop_vector_storage(self, name: str) -> None:
        self.generation += 1
        self.ann.pop(name, None)
        self.payload_graphs.pop(name, None)
        if self.vectors.pop(name, None) is not None:
            self.dirty = True

    def _allocate(self, point_id: PointId) -> int:
        offset = len(self.ids)
        self.ids.append(point_id)
        self.payloads.append(None)
        if offset >= len(self.alive):
            cap = max(64, 2 * len(self.alive))
            alive = np.zeros(cap, dtype=bool)
            alive[: len(self.alive)] = self.alive
            versions = np.zeros(cap, dtype=np.uint64)
            versions[: len(self.versions)] = self.versions
            self.alive, self.versions = alive, versions
        self.alive[offset] = True
        self.id_to_offset[point_id] = offset
        return offset

    def live_offsets(self, ids: Iterable[PointId]) -> list[int]:
        """Offsets of the ids that exist here (missing ids skipped)."""
        get = self.id_to_offset.get
        return [o for o in (get(i) for i in ids) if o is not None]

    # ------------------------------------------------------------ writes

    def upsert(self, op_num: int, batch: PointsBatch) -> None:
        """Insert or fully replace the points of `batch`."""
        self.generation += 1
        offsets = np.empty(len(batch.ids), dtype=np.int64)
        for pos, pid in enumerate(batch.ids):
            offset = self.id_to_offset.get(pid)
            if offset is None:
                offset = self._allocate(pid)
            else:
                for storage in self.vectors.values():
                    storage.delete(offset)
            offsets[pos] = offset
        self.versions[offsets] = op_num
        self._write_vectors(offsets, batch)
        payloads = batch.payloads
        for pos, offset in enumerate(offsets.tolist()):
            payload = payloads[pos] if payloads is not None else None
            self._set_payload(offset, payload or None)
        self.dirty = True

    def update_vectors(self, op_num: int, batch: PointsBatch) -> None:
        """Replace only the named vectors given in `batch` of existing points."""
        self.generation += 1
        offsets = np.array([self.id_to_offset[pid] for pid in batch.ids], dtype=np.int64)
        self.versions[offsets] = op_num
        self._write_vectors(offsets, batch)
        self.dirty = True

    def _write_vectors(self, offsets: np.ndarray, batch: PointsBatch) -> None:
        for name, column in batch.dense.items():
            storage = self.vectors[name]
            assert isinstance(storage, DenseVectorStorage)
            if len(column.rows):
                storage.set_many(offsets[column.rows], column.data)
        for name, entries in batch.sparse.items():
            sparse = self.vectors[name]
            assert isinstance(sparse, SparseVectorStorage)
            for row, (indices, values) in entries.items():
                sparse.set(int(offsets[row]), indices, values)
        for name, entries in batch.multi.items():
            multi = self.vectors[name]
            assert isinstance(multi, MultiVectorStorage)
            for row, matrix in entries.items():
                multi.set(int(offsets[row]), matrix)

    def _set_payload(self, offset: int, payload: dict[str, Any] | None) -> None:
        if self.changed is not None:
            self.changed.add(offset)
        self.payloads[offset] = payload
        self.indexes.on_payload_set(offset, payload or {})

    def delete(self, op_num: int, offsets: list[int]) -> None:
        self.generation += 1
        for offset in offsets:
            if not self.alive[offset]:
                continue
            self.alive[offset] = False
            self.versions[offset] = op_num
            del self.id_to_offset[self.ids[offset]]
            self.payloads[offset] = None
            self.indexes.on_delete(offset)
            for storage in self.vectors.values():
                storage.delete(offset)
        self.dirty = True

    def set_payload(self, offsets: list[int], payload: dict[str, Any], key: str | None) -> None:
        for offset in offsets:
            current = copy.deepcopy(self.payloads[offset]) if self.payloads[offset] else {}
            if key:
                json_path.set_by_path(current, key, copy.deepcopy(payload))
            else:
                current.update(copy.deepcopy(payload))
            self._set_payload(offset, current)
        self.dirty = True

    def overwrite_payload(self, offsets: list[int], payload: dict[str, Any]) -> None:
        for offset in offsets:
            self._set_payload(offset, copy.deepcopy(payload) or None)
        self.dirty = True

    def delete_payload(self, offsets: list[int], keys: list[str]) -> None:
        for offset in offsets:
            if not self.payloads[offset]:
                continue
            current = copy.deepcopy(self.payloads[offset])
            for key in keys:
                json_path.delete_by_path(current, key)
            self._set_payload(offset, current or None)
        self.dirty = True

    def clear_payload(self, offsets: list[int]) -> None:
        for offset in offsets:
            self._set_payload(offset, None)
        self.dirty = True

    def delete_vectors(self, offsets: list[int], names: list[str]) -> None:
        self.generation += 1
        if self.changed is not None:
            self.changed.update(offsets)
        for name in names:
            storage = self.vectors.get(name)
            if storage is not None:
                for offset in offsets:
                    storage.delete(offset)
        self.dirty = True

    def create_field_index(self, key: str, params: Any) -> None:
        self.indexes.create(key, params)
        index = self.indexes.get(key)
        assert index is not None
        alive = self.alive_mask()
        for offset in np.flatnonzero(alive).tolist():
            payload = self.payloads[offset]
            if payload:
                self.indexes.index_payload(key, offset, payload)
        self.dirty = True

    def drop_field_index(self, key: str) -> None:
        self.indexes.drop(key)
        self.dirty = True

    def vector_bytes(self) -> int:
        """Bytes of dense vectors held (as Qdrant counts for `indexing_threshold`)."""
        total = 0
        for storage in self.vectors.values():
            if isinstance(storage, DenseVectorStorage):
                total += int(storage.present_mask(self.num_offsets).sum()) * storage.dim * 4
        return total

    def copy_batch(self, offsets: list[int]) -> PointsBatch:
        """The points at `offsets` (vectors and payloads) as a batch another segment can take."""
        pos = np.arange(len(offsets), dtype=np.int64)
        offs = np.asarray(offsets, dtype=np.int64)
        # Stored payload dicts are never mutated in place (updates replace them), so
        # the copy can share them.
        batch = PointsBatch(ids=[self.ids[o] for o in offsets],
                            payloads=[self.payloads[o] for o in offsets])
        for name, storage in self.vectors.items():
            if isinstance(storage, DenseVectorStorage):
                has = storage.present_mask(self.num_offsets)[offs]
                batch.dense[name] = DenseColumn(
                    rows=pos[has], data=storage.rows(offs[has]).astype(np.float32))
            elif isinstance(storage, SparseVectorStorage):
                batch.sparse[name] = {i: v for i, o in enumerate(offsets)
                                      if (v := storage.raw(o)) is not None}
            elif isinstance(storage, MultiVectorStorage):
                batch.multi[name] = {i: v for i, o in enumerate(offsets)
                                     if (v := storage.raw(o)) is not None}
        return batch

    # ------------------------------------------------------------ reads

    def id_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(integer id, is-UUID, UUID high half, UUID low half) per offset.

        Ids never change at an offset (offsets are append-only), so the arrays are
        extended for new offsets only.  They let reads order ids with numpy.
        """
        n = len(self.ids)
        done = len(self._num_ids)
        if done < n:
            new_ids = self.ids[done:n]
            count = len(new_ids)
            is_uuid = np.fromiter((isinstance(i, str) for i in new_ids), dtype=bool, count=count)
            nums = np.fromiter((0 if isinstance(i, str) else i for i in new_ids),
                               dtype=np.uint64, count=count)
            values = [uuid.UUID(i).int if isinstance(i, str) else 0 for i in new_ids]
            hi = np.fromiter((v >> 64 for v in values), dtype=np.uint64, count=count)
            lo = np.fromiter((v & _MASK64 for v in values), dtype=np.uint64, count=count)
            self._num_ids = np.concatenate([self._num_ids, nums])
            self._uuid_ids = np.concatenate([self._uuid_ids, is_uuid])
            self._uuid_hi = np.concatenate([self._uuid_hi, hi])
            self._uuid_lo = np.concatenate([self._uuid_lo, lo])
        return self._num_ids, self._uuid_ids, self._uuid_hi, self._uuid_lo

    def vector_of(self, offset: int, name: str) -> Any:
        storage = self.vectors.get(name)
        return None if storage is None else storage.get(offset)

    def vectors_of(self, offset: int, names: Iterable[str] | None) -> dict[str, Any]:
        wanted = self.vectors.keys() if names is None else [n for n in names if n in self.vectors]
        out: dict[str, Any] = {}
        for name in wanted:
            value = self.vectors[name].get(offset)
            if value is not None:
                out[name] = value
        return out
