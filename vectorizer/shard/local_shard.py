"""A local shard: its WAL, its segments, and the apply/flush/recover cycle.

Every update is checked against the current state, appended to the WAL, then
applied, all under the shard's lock so WAL order is apply order.  `wait=True`
callers then block in `WriteAheadLog.sync_until`, which group-commits fsyncs.
"""

from __future__ import annotations

import copy
import heapq
import logging
import os
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
from qdrant_client.http import models

from vectorizer.collection import operations as ops
from vectorizer.common.errors import VectorizerError, point_not_found
from vectorizer.common.point_id import PointId, point_id_sort_key
from vectorizer.filter.compiler import facet_counts, filter_mask
from vectorizer.index import distance as dist
from vectorizer.index import payload_graphs
from vectorizer.index.hnsw import HnswIndex
from vectorizer.index.payload.text import ranking
from vectorizer.index.payload.text.index import TextIndex
from vectorizer.index.quantization import QuantSpec
from vectorizer.index.sparse import best_k
from vectorizer.segment.persistence import load_segment, map_on_disk_vectors, save_segment
from vectorizer.segment.segment import CandidateRows, Segment, VectorSpec
from vectorizer.segment.vector_storage import DenseVectorStorage, SparseVectorStorage
from vectorizer.shard.wal import WriteAheadLog, fsync_dir

log = logging.getLogger(__name__)

STATE_FILE = "shard_state.json"
# Longer filters (long `has_id` lists: one-off candidate sets) are not worth caching.
_CACHED_FILTER_CHARS = 4096


@dataclass
class PointRecord:
    """A point as reads return it, before wire formatting."""

    id: PointId
    payload: dict[str, Any] | None
    vector: dict[str, Any] | None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


class ShardClosed(VectorizerError):
    """A write reached a shard that a recovery replaced or a delete removed (503)."""

    status_code = 503
    prefix = "Service unavailable: "
    grpc_code = "UNAVAILABLE"


class DensePlan(NamedTuple):
    """How one segment is searched: exactly over `rows`, or through `ann`."""

    segment: Segment
    storage: DenseVectorStorage
    rows: CandidateRows  # candidate rows
    bits: np.ndarray | None  # the candidates packed as the graph's allow-list; None: all
    ann: HnswIndex | payload_graphs.PayloadGraph | None  # None: score the rows exactly
    ef: int  # the graph's beam width


class SegmentHits(NamedTuple):
    """One segment's best hits for one query: scores best first and their offsets."""

    segment: Segment
    scores: np.ndarray
    offsets: np.ndarray


class LocalShard:
    """One shard stored on this node."""

    def __init__(self, path: Path, shard_id: int, specs: dict[str, VectorSpec],
                 wal_capacity_mb: int = 32) -> None:
        self.path = path
        self.shard_id = shard_id
        self.specs = dict(specs)
        self.lock = threading.RLock()
        path.mkdir(parents=True, exist_ok=True)
        (path / "segments").mkdir(exist_ok=True)
        self.segments: list[Segment] = []
        self.flushed_op = 0
        # Set by the collection: indexing_threshold_kb and per-vector HNSW params/distance.
        self._index_config: dict[str, Any] = {}
        self.running: dict[str, Any] | None = None  # the optimization in progress
        self.completed: list[dict[str, Any]] = []  # finished ones, newest last (bounded)
        self.last_write = 0.0  # time.monotonic() of the last applied update
        self.pinned: dict[str, int] = {}  # segment dirs a snapshot is reading (refcounts)
        self.closed = False  # set when the shard is replaced or dropped: no more writes
        self._load_state()
        self.wal = WriteAheadLog(path / "wal", wal_capacity_mb * 1024 * 1024)
        self.wal.set_floor(self.flushed_op)
        self.applied_op = self.flushed_op
        self._replay()

    @property
    def index_config(self) -> dict[str, Any]:
        """Indexing threshold, optimizer and HNSW params per vector (set by the collection)."""
        return self._index_config

    @index_config.setter
    def index_config(self, config: dict[str, Any]) -> None:
        with self.lock:
            self._index_config = config
            self._map_graphs()

    def _map_graphs(self) -> None:
        """Reopen saved graphs (main and payload graphs) whose `on_disk` setting differs
        from how they are held: memory-mapped from their segment's files, or read into
        memory (call under `lock`)."""
        params = self._index_config.get("vectors", {})
        for seg in self.segments:
            if not seg.sealed or seg.dirty or seg.dir_name is None:
                continue
            for i, name in enumerate(seg.vectors):
                ann = seg.ann.get(name)
                saved = self.path / "segments" / seg.dir_name / "vectors" / str(i)
                # (a segment saved again maps its new files: the old ones are deleted)
                want = saved if params.get(name, {}).get("on_disk") else None
                if ann is not None and ann.mapped != want:
                    reopened = HnswIndex.load(saved, ann.distance, mmap=want is not None)
                    if reopened is not None:
                        seg.ann[name] = reopened
                graphs = seg.payload_graphs.get(name)
                if graphs is not None and graphs.graphs and graphs.mapped != want:
                    again = payload_graphs.PayloadGraphs.load(saved, mmap=want is not None)
                    if again is not None and again.key == graphs.key:
                        seg.payload_graphs[name] = again

    # ------------------------------------------------------------ recovery

    def _load_state(self) -> None:
        state_path = self.path / STATE_FILE
        if state_path.exists():
            state = orjson.loads(state_path.read_bytes())
            self.flushed_op = state["op_num"]
            dirs = state["segments"]
            self.segments = [load_segment(self.path / "segments" / d) for d in dirs]
            for seg, dir_name in zip(self.segments, dirs, strict=True):
                seg.dir_name = dir_name
        live = {seg.dir_name for seg in self.segments}
        for child in (self.path / "segments").iterdir():
            if child.name not in live:
                shutil.rmtree(child, ignore_errors=True)  # leftovers of an interrupted flush
        if not self.segments or self.segments[-1].sealed:
            self.segments.append(self._new_appendable())
        for seg in self.segments:
            for name, spec in self.specs.items():
                seg.add_vector_storage(name, spec)

    def _replay(self) -> None:
        count = 0
        for op_num, raw in self.wal.read_from(self.flushed_op):
            try:
                self._apply(op_num, ops.decode_operation(raw))
            except VectorizerError as exc:
                # The operation was refused when it first ran too (it was logged before
                # applying); skipping it again reproduces the state clients saw.
                log.warning("shard %s: WAL op %d refused on replay: %s", self.path, op_num, exc)
            self.applied_op = op_num
            count += 1
        if count:
            log.info("shard %s: replayed %d WAL records up to op %d",
                     self.path, count, self.applied_op)

    def _new_appendable(self) -> Segment:
        """An empty appendable segment with the shard's payload indexes."""
        segment = Segment(self.specs)
        if self.segments:
            for key, (params, _count) in self.segments[-1].indexes.schema().items():
                segment.create_field_index(key, params)
        return segment

    # ------------------------------------------------------------ updates

    @property
    def appendable(self) -> Segment:
        return self.segments[-1]

    def update(self, op: ops.Operation, wait: bool) -> int:
        """Check, log and apply `op`; with `wait`, return only once it is durable."""
        op_num = self.submit(op)
        if wait:
            self.wait_durable(op_num)
        return op_num

    def submit(self, op: ops.Operation) -> int:
        """Check `op`, append it to the WAL and apply it; return its WAL op number."""
        payload = ops.encode_operation(op)
        with self.lock:
            if self.closed:
                raise ShardClosed(f"Shard {self.shard_id} was replaced or removed; retry")
            self.precheck(op)
            op_num = self.wal.append(payload)
            self._apply(op_num, op)
            self.applied_op = op_num
            self.last_write = time.monotonic()
        return op_num

    def wait_durable(self, op_num: int) -> None:
        """Block until the WAL is fsynced up to `op_num` (group commit)."""
        self.wal.sync_until(op_num)

    def precheck(self, op: ops.Operation) -> None:
        if isinstance(op, ops.UpdateVectors):
            for pid in op.points.ids:
                if self._locate(pid) is None:
                    raise point_not_found(pid)

    def _locate(self, pid: PointId) -> tuple[Segment, int] | None:
        for seg in self.segments:
            off = seg.offset_of(pid)
            if off is not None:
                return seg, off
        return None

    def _select(self, selection: ops.PointSelection) -> list[tuple[Segment, list[int]]]:
        result = []
        for seg in self.segments:
            if selection.ids is not None:
                offsets = seg.live_offsets(selection.ids)
                if selection.filter is not None and offsets:
                    mask = filter_mask(seg, selection.filter)
                    offsets = [o for o in offsets if mask[o]]
            else:
                offsets = np.flatnonzero(filter_mask(seg, selection.filter)).tolist()
            if offsets:
                result.append((seg, offsets))
        return result

    def _apply(self, op_num: int, op: ops.Operation) -> None:
        seg = self.appendable
        match op:
            case ops.Upsert(points=batch, update_filter=flt, mode=mode):
                if flt is not None or mode != "upsert":
                    batch = self._conditional(batch, flt, insert_new=mode != "update_only",
                                              update_existing=mode != "insert_only")
                self._move_to_appendable(op_num, batch.ids, copy=False)
                seg.upsert(op_num, batch)
            case ops.UpdateVectors(points=batch, update_filter=flt):
                if flt is not None:
                    batch = self._conditional(batch, flt, insert_new=False)
                batch = batch.subset([i for i, p in enumerate(batch.ids)
                                      if self._locate(p) is not None])
                self._move_to_appendable(op_num, batch.ids, copy=True)
                seg.update_vectors(op_num, batch)
            case ops.DeletePoints(selection=sel):
                for s, offsets in self._select(sel):
                    s.delete(op_num, offsets)
            case ops.SetPayload(payload=payload, selection=sel, key=key):
                for s, offsets in self._select(sel):
                    s.set_payload(offsets, payload, key)
            case ops.OverwritePayload(payload=payload, selection=sel):
                for s, offsets in self._select(sel):
                    s.overwrite_payload(offsets, payload)
            case ops.DeletePayload(keys=keys, selection=sel):
                for s, offsets in self._select(sel):
                    s.delete_payload(offsets, keys)
            case ops.ClearPayload(selection=sel):
                for s, offsets in self._select(sel):
                    s.clear_payload(offsets)
            case ops.DeleteVectors(selection=sel, vector_names=names):
                for s, offsets in self._select(sel):
                    s.delete_vectors(offsets, names)
            case ops.CreateFieldIndex(field_name=key, field_schema=schema):
                for s in self.segments:
                    s.create_field_index(key, schema)
            case ops.DeleteFieldIndex(field_name=key):
                for s in self.segments:
                    s.drop_field_index(key)

    def _conditional(self, batch: ops.PointsBatch, flt: models.Filter | None,
                     insert_new: bool = True, update_existing: bool = True) -> ops.PointsBatch:
        """Keep new points (if `insert_new`) and existing points that match `flt`."""
        keep = []
        masks: dict[int, np.ndarray] = {}
        for pos, pid in enumerate(batch.ids):
            found = self._locate(pid)
            if found is None:
                if insert_new:
                    keep.append(pos)
                continue
            if not update_existing:
                continue
            if flt is None:
                keep.append(pos)
                continue
            seg, off = found
            mask = masks.get(id(seg))
            if mask is None:
                mask = masks[id(seg)] = filter_mask(seg, flt)
            if mask[off]:
                keep.append(pos)
        return batch.subset(keep)

    def _move_to_appendable(self, op_num: int, ids: list[PointId], copy: bool) -> None:
        """Copy-on-write: points of `ids` living in sealed segments move to the appendable one.

        With `copy` their current vectors and payload come along (a partial update
        follows); without it they are only removed there (a full upsert follows).
        """
        if len(self.segments) == 1:
            return
        target = self.appendable
        for seg in self.segments[:-1]:
            offsets = seg.live_offsets(ids)
            if not offsets:
                continue
            if copy:
                target.upsert(op_num, seg.copy_batch(offsets))
            seg.delete(op_num, offsets)

    # ------------------------------------------------------------ optimizer

    @property
    def optimizing(self) -> bool:
        """True while an optimization (index build, merge, vacuum) runs."""
        return self.running is not None

    def pending_optimizations(self) -> int:
        """How many optimizations this shard is waiting for (seals and index builds)."""
        with self.lock:
            count = len(self._unindexed())
            threshold = self.index_config.get("indexing_threshold_kb") or 0
            if threshold and self.appendable.vector_bytes() >= threshold * 1024:
                count += 1
            if not count and self._merge_candidates(pending=True):
                count += 1
            return count

    def _unindexed(self) -> list[tuple[Segment, str]]:
        """Sealed (segment, vector) pairs whose graphs are missing or built with other params.

        A graph whose `m` / `ef_construct` no longer match the configuration is rebuilt
        (Qdrant's config-mismatch optimizer); with `m: 0` graphs are dropped.  So are
        the payload graphs (`payload_graphs.py`) when `payload_m`, the indexed fields
        or what they depend on change.
        """
        out = []
        for seg in self.segments:
            if not seg.sealed:
                continue
            for name, params in self.index_config.get("vectors", {}).items():
                if name not in seg.vectors or not hasattr(seg.vectors[name], "data"):
                    continue
                if params.get("m", 16) <= 0 and seg.ann.pop(name, None) is not None:
                    seg.dirty = True
                graphs_key = self._graphs_key(seg, name, params)
                graphs = seg.payload_graphs.get(name)
                if graphs_key is None and graphs is not None:
                    seg.payload_graphs.pop(name)
                    seg.dirty = True
                if self._needs_graph(seg, name, params) or \
                        (graphs_key is not None and (graphs is None or graphs.key != graphs_key)):
                    out.append((seg, name))
        return out

    @staticmethod
    def _needs_graph(seg: Segment, name: str, params: dict[str, Any]) -> bool:
        """Whether the segment's main graph of `name` is missing or built with other params."""
        m = params.get("m", 16)
        if m <= 0:
            return False
        ann = seg.ann.get(name)
        spec = params.get("quantization") or QuantSpec()
        return ann is None or ann.m != max(m, 2) or ann.spec.key != spec.key or \
            ann.ef_construct != max(params.get("ef_construct", 100), 4)

    @staticmethod
    def _graphs_key(seg: Segment, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        return payload_graphs.graphs_key(params, payload_graphs.graph_fields(seg.indexes),
                                         seg.vectors[name].dim, params.get("m", 16) > 0)

    def _graph_work(self, seg: Segment, name: str, params: dict[str, Any],
                    ) -> tuple[bool, dict[str, Any] | None, list[tuple[str, Any, np.ndarray]]]:
        """What `_build_graphs` must build for the segment's vector `name`: whether its main
        graph, the payload graphs' key (None: none) and their candidate values (read from
        the segment: under the lock unless the segment is private to the caller)."""
        key = self._graphs_key(seg, name, params)
        blocks = [] if key is None else payload_graphs.candidate_blocks(seg, name, key)
        return self._needs_graph(seg, name, params), key, blocks

    def optimize(self) -> bool:
        """One optimizer step: seal a full appendable segment, or index a sealed one.

        The HNSW build runs without the shard lock (faiss releases the GIL), over
        vectors that no longer change: sealed segments take no writes to vectors,
        updates move points out copy-on-write.  Searches meanwhile score the
        sealed segment exactly.  Returns True if it did something.
        """
        with self.lock:
            if self.closed:
                return False
            threshold = self.index_config.get("indexing_threshold_kb") or 0
            appendable = self.appendable
            if threshold and appendable.points_count and \
                    appendable.vector_bytes() >= threshold * 1024:
                appendable.sealed = True
                appendable.dirty = True
                self.segments.append(self._new_appendable())
            todo = self._unindexed()
            if not todo:
                sources = self._merge_candidates()
                if not sources:
                    return False
                if appendable in sources:  # it stops taking writes before the copy
                    appendable.sealed = True
                    appendable.dirty = True
                    self.segments.append(self._new_appendable())
                return self._rebuild(sources)
            seg, name = todo[0]
            params = self.index_config["vectors"][name]
            data = seg.vectors[name].matrix(seg.num_offsets)
            build_main, graphs_key, blocks = self._graph_work(seg, name, params)
            current = seg.ann.get(name)
            self._track_start("config_mismatch" if name in seg.ann else "indexing", seg.uid,
                              [seg])
        error = None
        try:
            started = time.perf_counter()
            ann, graphs = _build_graphs(data, params, build_main, current, graphs_key,
                                        blocks)
            with self.lock:
                if seg in self.segments:
                    if build_main:
                        seg.ann[name] = ann
                    if graphs is not None:
                        seg.payload_graphs[name] = graphs
                    seg.dirty = True
                storage = seg.vectors.get(name)
                if isinstance(storage, DenseVectorStorage):
                    storage.release_pages()  # the build read every page of a memory map
            # Persist the new graph now, as Qdrant writes optimized segments to disk before
            # they count: a crash after the build does not cost the build.
            self.flush()
            log.info("shard %s: built HNSW for `%s` over %d vectors (%d payload graphs) in "
                     "%.2fs", self.path, name, seg.num_offsets,
                     0 if graphs is None else len(graphs.graphs), time.perf_counter() - started)
        except Exception as exc:
            error = str(exc)
            raise
        finally:
            self._track_end(error)
        return True

    def _track_start(self, optimizer: str, uid: str, segments: list[Segment]) -> None:
        self.running = {
            "uuid": uid, "optimizer": optimizer, "status": "optimizing",
            "segments": [{"uuid": s.uid, "points_count": s.points_count} for s in segments],
            "progress": {"name": optimizer, "started_at": _now_iso()},
            "_started": time.perf_counter(),
        }

    def _track_end(self, error: str | None) -> None:
        record, self.running = self.running, None
        if record is None:
            return
        record["status"] = {"error": error} if error else "done"
        record["progress"]["finished_at"] = _now_iso()
        record["progress"]["duration_sec"] = time.perf_counter() - record.pop("_started")
        self.completed.append(record)
        del self.completed[:-64]

    def optimizations(self) -> dict[str, Any]:
        """Running, queued, completed and idle optimizations of this shard."""
        with self.lock:
            queued = [{"optimizer": "indexing", "segments": [
                {"uuid": seg.uid, "points_count": seg.points_count}]}
                for seg, _name in self._unindexed()]
            merge = self._merge_candidates(pending=True)
            if merge:
                kind = "vacuum" if len(merge) == 1 else "merge"
                queued.append({"optimizer": kind, "segments": [
                    {"uuid": seg.uid, "points_count": seg.points_count} for seg in merge]})
            busy = {s["uuid"] for q in queued for s in q["segments"]}
            if self.running:
                busy |= {s["uuid"] for s in self.running["segments"]}
            idle = [{"uuid": seg.uid, "points_count": seg.points_count}
                    for seg in self.segments if seg.uid not in busy]
            running = []
            if self.running:
                running.append({k: v for k, v in self.running.items() if not k.startswith("_")})
            return {"running": running, "queued": queued, "completed": list(self.completed),
                    "idle": idle}

    def _merge_candidates(self, pending: bool = False) -> list[Segment]:
        """Sealed segments to rebuild as one (call under `lock`).

        Qdrant's two policies: merge the smallest segments (the appendable one included,
        see `_tail_mergeable`) while there are more than `default_segment_number` (0 = one
        per CPU), and vacuum a segment whose deleted share passes `deleted_threshold` once
        it has `vacuum_min_vector_number` points.  `pending`: what is due, whether or not
        it may start now (for the status).
        """
        opt = self.index_config.get("optimizers", {})
        sealed = [seg for seg in self.segments[:-1] if seg.sealed]
        for seg in sealed:
            deleted = seg.num_offsets - seg.points_count
            if seg.num_offsets >= opt.get("vacuum_min_vector_number", 1000) and \
                    deleted > opt.get("deleted_threshold", 0.2) * seg.num_offsets:
                return [seg]
        target = opt.get("default_segment_number") or os.cpu_count() or 1
        pool = sealed + ([self.appendable] if sealed and self._tail_mergeable(pending) else [])
        if len(pool) <= target:
            return []
        max_kb = opt.get("max_segment_size") or 0
        chosen: list[Segment] = []
        total = 0
        for seg in sorted(pool, key=lambda x: x.points_count):
            size = seg.vector_bytes()
            if chosen and max_kb and total + size > max_kb * 1024:
                break
            chosen.append(seg)
            total += size
            if len(pool) - len(chosen) + 1 <= target:
                break
        return chosen if len(chosen) >= 2 else []

    def _tail_mergeable(self, pending: bool = False) -> bool:
        """Whether the appendable segment joins the merge candidates, as in Qdrant's merge
        optimizer (it then seals, and a new appendable segment takes the writes).

        When it holds enough vectors that scoring it exactly costs more than a graph search
        (`_TAIL_MIN_SHARE` of the threshold); the merge itself waits until writes have
        paused for `_TAIL_IDLE_SEC` (an ongoing upload would otherwise rebuild a segment
        after every batch), but counts as `pending` (status yellow) meanwhile.
        """
        tail = self.appendable
        threshold = self.index_config.get("indexing_threshold_kb") or 0
        if not (tail.points_count and threshold and
                tail.vector_bytes() >= _TAIL_MIN_SHARE * threshold * 1024):
            return False
        return pending or time.monotonic() - self.last_write >= _TAIL_IDLE_SEC

    def _rebuild(self, sources: list[Segment]) -> bool:
        """Merge (or vacuum) `sources` into one new indexed segment, off the lock.

        Called with `lock` held; releases it while copying data into the new segment
        and building its graphs, then swaps it in under the lock after replaying
        what changed meanwhile: points deleted or moved out of a source are deleted
        from the new segment, payloads and vector removals made in place are copied
        again, payload indexes created or dropped meanwhile are mirrored.
        """
        snapshot = []
        for src in sources:
            offs = np.flatnonzero(src.alive_mask()).tolist()
            snapshot.append((src, offs, src.copy_batch(offs), src.versions[offs].copy(),
                             dict(src.indexes.schema())))
            src.changed = set()
        merged = Segment(self.specs)
        self._track_start("vacuum" if len(sources) == 1 else "merge", merged.uid, sources)
        self.lock.release()
        try:
            for key, (params, _count) in snapshot[0][4].items():
                merged.create_field_index(key, params)
            for _src, _offs, batch, versions, _schema in snapshot:
                merged.upsert(0, batch)
                merged.versions[[merged.id_to_offset[p] for p in batch.ids]] = versions
            merged.sealed = True
            for name, params in self.index_config.get("vectors", {}).items():
                storage = merged.vectors.get(name)
                if storage is None or not hasattr(storage, "data"):
                    continue
                build_main, graphs_key, blocks = self._graph_work(merged, name, params)
                ann, graphs = _build_graphs(storage.matrix(merged.num_offsets), params,
                                            build_main, None, graphs_key, blocks)
                if ann is not None:
                    merged.ann[name] = ann
                if graphs is not None:
                    merged.payload_graphs[name] = graphs
        except BaseException as exc:
            self.lock.acquire()
            for src in sources:
                src.changed = None
            self._track_end(str(exc) or type(exc).__name__)
            raise
        self.lock.acquire()
        try:
            if any(src not in self.segments for src in sources):
                return True  # the shard changed shape meanwhile (e.g. vector dropped)
            self._catch_up(merged, snapshot)
            first = min(self.segments.index(src) for src in sources)
            rest = [seg for seg in self.segments if all(seg is not src for src in sources)]
            rest.insert(min(first, len(rest) - 1), merged)
            self.segments = rest
            merged.dirty = True
            log.info("shard %s: rebuilt %d segment(s) into one of %d points", self.path,
                     len(sources), merged.points_count)
            self.flush()  # the rebuilt segment is on disk before the optimization ends
        finally:
            for src in sources:
                src.changed = None
            self._track_end(None)
        return True

    def _catch_up(self, merged: Segment, snapshot: list) -> None:
        """Apply to `merged` what happened to its sources during the rebuild."""
        for src, offs, batch, _versions, _schema in snapshot:
            changed = src.changed or set()
            gone = []
            for pid, off in zip(batch.ids, offs, strict=True):
                m_off = merged.id_to_offset[pid]
                if not src.alive[off]:
                    gone.append(m_off)
                elif off in changed:
                    merged._set_payload(m_off, copy.deepcopy(src.payloads[off]))
                    for name, storage in src.vectors.items():
                        if not storage.has(off) and name in merged.vectors:
                            merged.vectors[name].delete(m_off)
                            merged.generation += 1
            merged.delete(0, gone)
        current = self.segments[-1].indexes.schema()
        for key, (params, _count) in current.items():
            if merged.indexes.get(key) is None:
                merged.create_field_index(key, params)
        for key in list(merged.indexes.keys()):
            if key not in current:
                merged.drop_field_index(key)
        for name, spec in self.specs.items():
            merged.add_vector_storage(name, spec)
        for name in list(merged.vectors):
            if name not in self.specs:  # dropped from the collection meanwhile
                merged.drop_vector_storage(name)

    def indexed_vectors(self) -> int:
        """Vectors in a graph: every one of a segment with a main graph, else those in
        its payload graphs (`m: 0`), as Qdrant counts them."""
        with self.lock:
            total = 0
            for seg in self.segments:
                for name, storage in seg.vectors.items():
                    if name in seg.ann:
                        total += int(storage.present_mask(seg.num_offsets).sum())
                    elif name in seg.payload_graphs:
                        total += seg.payload_graphs[name].covered(
                            storage.present_mask(seg.num_offsets))
            return total

    # ------------------------------------------------------------ schema changes

    def add_vector(self, name: str, spec: VectorSpec) -> None:
        with self.lock:
            self.specs[name] = spec
            for seg in self.segments:
                seg.add_vector_storage(name, spec)

    def drop_vector(self, name: str) -> None:
        with self.lock:
            self.specs.pop(name, None)
            for seg in self.segments:
                seg.drop_vector_storage(name)

    # ------------------------------------------------------------ flush

    def flush(self) -> None:
        """Persist dirty segments atomically and drop the WAL they cover."""
        with self.lock:
            if self.closed or (not any(s.dirty for s in self.segments)
                               and self.flushed_op == self.applied_op):
                return
            started = time.perf_counter()
            new_dirs = []
            for seg in self.segments:
                if not seg.dirty and seg.dir_name is not None:
                    new_dirs.append(seg.dir_name)
                    continue
                name = uuid.uuid4().hex
                tmp = self.path / "segments" / f"{name}.tmp"
                save_segment(seg, tmp)
                tmp.rename(self.path / "segments" / name)
                map_on_disk_vectors(seg, self.path / "segments" / name)
                new_dirs.append(name)
            fsync_dir(self.path / "segments")
            op_num = self.applied_op
            _write_atomic(self.path / STATE_FILE,
                          orjson.dumps({"op_num": op_num, "segments": new_dirs}))
            live = set(new_dirs)
            self._remove_unused_segment_dirs(live)
            for seg, dir_name in zip(self.segments, new_dirs, strict=True):
                seg.dirty = False
                seg.dir_name = dir_name
            self._map_graphs()  # `on_disk` graphs now read from their saved files
            self.flushed_op = op_num
            self.wal.truncate_until(op_num)
            log.debug("shard %s flushed up to op %d in %.3fs", self.path, op_num,
                      time.perf_counter() - started)

    def _remove_unused_segment_dirs(self, live: set[str]) -> None:
        for child in (self.path / "segments").iterdir():
            if child.name not in live and child.name not in self.pinned:
                shutil.rmtree(child, ignore_errors=True)  # replaced, merged away, old copy

    def pin(self, dir_names: list[str]) -> None:
        """Keep these segment directories on disk until `unpin` (a snapshot reads them)."""
        with self.lock:
            for name in dir_names:
                self.pinned[name] = self.pinned.get(name, 0) + 1

    def unpin(self, dir_names: list[str]) -> None:
        with self.lock:
            for name in dir_names:
                left = self.pinned.get(name, 0) - 1
                if left > 0:
                    self.pinned[name] = left
                else:
                    self.pinned.pop(name, None)
            if not self.closed:
                self._remove_unused_segment_dirs({s.dir_name for s in self.segments
                                                  if s.dir_name is not None})

    def retire(self) -> None:
        """Stop this shard for good without flushing (its directory is being replaced)."""
        with self.lock:
            self.closed = True
            self.wal.close()

    def close(self) -> None:
        self.flush()
        self.wal.close()

    # ------------------------------------------------------------ reads

    def points_count(self) -> int:
        with self.lock:
            return sum(s.points_count for s in self.segments)

    def _record(self, seg: Segment, off: int, with_payload: Callable[[dict], Any] | None,
                with_vectors: bool | list[str]) -> PointRecord:
        payload = with_payload(seg.payload_at(off)) if with_payload is not None else None
        vector = None
        if with_vectors:
            names = None if with_vectors is True else with_vectors
            vector = seg.vectors_of(off, names)
        return PointRecord(seg.point_id_at(off), payload, vector)

    def payloads_of(self, ids: list[PointId]) -> dict[PointId, dict[str, Any]]:
        """The stored payloads (not copies: read-only) of those of `ids` held here."""
        with self.lock:
            out: dict[PointId, dict[str, Any]] = {}
            for seg in self.segments:  # a live point is in one segment only
                out.update(seg.payloads_of(ids))
            return out

    def retrieve(self, ids: list[PointId], with_payload: Callable[[dict], Any] | None,
                 with_vectors: bool | list[str]) -> dict[PointId, PointRecord]:
        with self.lock:
            out = {}
            for pid in ids:
                found = self._locate(pid)
                if found is not None:
                    out[pid] = self._record(found[0], found[1], with_payload, with_vectors)
            return out

    def matching(self, flt: models.Filter | None) -> list[tuple[Segment, np.ndarray]]:
        """Per segment, the offsets of live points matching `flt` (call under `lock`)."""
        return [(seg, np.flatnonzero(filter_mask(seg, flt))) for seg in self.segments]

    def _plan_dense(self, name: str, flt: models.Filter | None, limit: int, exact: bool,
                    ef: int, indexed_only: bool, acorn: models.AcornSearchParams | None,
                    ) -> list[DensePlan]:
        """How `search_dense_many` searches each segment."""
        ef = ef or int(self.index_config.get("vectors", {}).get(name, {}).get(
            "ef_construct", 100))
        widen = 2.0 if acorn is not None and acorn.enable else 1.0
        max_sel = 0.4 if acorn is None or acorn.max_selectivity is None \
            else acorn.max_selectivity
        # Plan under the lock (masks are a consistent snapshot), search without it, so
        # concurrent searches run in parallel (faiss and BLAS release the GIL).
        plans: list[DensePlan] = []
        key = None if flt is None else flt.model_dump_json(exclude_unset=True)
        with self.lock:
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if storage is None or not hasattr(storage, "data"):
                    continue
                live = seg.live_rows(name)
                if live is None or not live.count:
                    continue
                rows = live if key is None else self._filtered_rows(seg, name, flt, key, live)
                candidates = rows.count
                if not candidates:
                    continue
                small = self._full_scan_cheaper(name, candidates, storage.dim)
                graphs = None if key is None or exact or small else seg.payload_graphs.get(name)
                value_graph = None if graphs is None else graphs.for_filter(flt)
                if value_graph is not None and self._plan_value_graph(
                        plans, seg, storage, rows, value_graph, max(ef, limit), widen, max_sel):
                    continue
                ann = None if exact or small else seg.ann.get(name)
                seg_ef = ef
                if ann is not None and key is not None:
                    # A filter lets only a share of the graph count.  faiss still walks
                    # through filtered-out nodes (they steer, only results are filtered),
                    # so the beam needs widening by share**-0.35 (measured: 100k clustered
                    # vectors, recall@10 >= 0.98 at 10% and 3%), and exact scoring takes
                    # over when the beam would be wider than the candidates.
                    share = candidates / live.count
                    boost = widen if share <= max_sel else 1.0
                    seg_ef = int(np.ceil(boost * max(ef, limit) * max(share, 1e-9) ** -0.35))
                    if seg_ef >= candidates:
                        ann = None
                if ann is None and indexed_only and not small and not exact:
                    continue  # Qdrant's indexed_only: skip large segments without an index
                if ann is None and key is not None and rows.vectors is None and \
                        rows.uses > 1 and _copyable(storage):
                    # A filter scored exactly again: keep its rows' vectors side by side
                    # (a contiguous product instead of a scattered gather each time).
                    rows.vectors = storage.rows(rows.offsets)
                    seg.cache_filter_rows((key, name), rows)  # re-counts its bytes
                plans.append(DensePlan(seg, storage, rows, None if ann is None else rows.bits,
                                       ann, seg_ef))
        return plans

    @staticmethod
    def _plan_value_graph(plans: list[DensePlan], seg: Segment, storage: DenseVectorStorage,
                          rows: CandidateRows, graph: payload_graphs.PayloadGraph, ef: int,
                          widen: float, max_sel: float) -> bool:
        """Plan the search of a filter requiring a value with a payload graph through that
        graph (the filter's rows as its allow-list, widening the beam as for the main
        graph) and its strays exactly; False when the graph would not pay off."""
        if rows.views is None:
            rows.views = weakref.WeakKeyDictionary()
        view = rows.views.get(graph)
        if view is None:
            view = rows.views[graph] = graph.view(rows.mask)
        bits, inside, strays = view
        if not inside:
            return False
        share = inside / graph.size
        boost = widen if share <= max_sel else 1.0
        graph_ef = int(np.ceil(boost * ef * share ** -0.35))
        if graph_ef >= inside:
            return False
        plans.append(DensePlan(seg, storage, rows, bits, graph, graph_ef))
        if strays is not None:
            mask = np.zeros(len(rows.mask), dtype=bool)
            mask[strays] = True
            plans.append(DensePlan(seg, storage, CandidateRows(mask, len(strays)), None, None,
                                   ef))
        return True

    @staticmethod
    def _filtered_rows(seg: Segment, name: str, flt: models.Filter, key: str,
                       live: CandidateRows) -> CandidateRows:
        """Live rows of `name` matching `flt`, from the segment's filter cache when current."""
        # id lists (a rescoring level's candidates) change with every query: caching them
        # would only push out the filters that do repeat
        cacheable = len(key) <= _CACHED_FILTER_CHARS and '"has_id"' not in key
        rows = seg.cached_filter_rows((key, name)) if cacheable else None
        if rows is None:
            rows = CandidateRows(filter_mask(seg, flt) & live.mask)
            if cacheable:
                seg.cache_filter_rows((key, name), rows)
        rows.uses += 1
        return rows

    def search_dense_many(self, name: str, queries: np.ndarray, distance: str,
                          flt: models.Filter | None, limit: int, exact: bool = False,
                          ef: int = 0, indexed_only: bool = False,
                          quantization: models.QuantizationSearchParams | None = None,
                          acorn: models.AcornSearchParams | None = None,
                          ) -> list[list[SegmentHits]]:
        """Per prepared dense query, each segment's top-`limit` hits, best first.

        The queries share everything else, so they take one pass: one plan per
        segment, one faiss call per graph, one matrix product per exactly scored
        segment.  The planner works as Qdrant's: a segment with an HNSW graph is
        searched through it with the filter as an allow-list, unless the filtered
        candidates are few enough (`full_scan_threshold`, in KB of vectors) to score
        exactly.  With a filter the beam is widened as the filter's share of the
        segment falls (so recall holds at low selectivity; twice that with `acorn`
        when the share is under its `max_selectivity`), falling back to exact scoring
        when that would visit more nodes than there are candidates.  Graph results
        come from codes and are rescored from the original vectors (see `_wanted`).
        """
        plans = self._plan_dense(name, flt, limit, exact, ef, indexed_only, acorn)
        found: list[list[SegmentHits]] = [[] for _ in range(len(queries))]
        for seg, storage, rows, bits, ann, seg_ef in plans:
            if ann is not None:
                wanted, rescore = _wanted(ann, limit, seg_ef, quantization)
                ids, approx = ann.search_many(queries, wanted, bits, seg_ef)
                # Float32 rows in RAM under a similarity: rescore with one product each.
                plain = storage.plain_rows() if rescore and dist.higher_is_better(distance) \
                    else None
                for i, query in enumerate(queries):
                    offs = ids[i]
                    near = None if approx is None else approx[i]
                    if len(offs) and offs[-1] < 0:  # faiss pads missing results with -1
                        keep = offs >= 0
                        offs = offs[keep]
                        near = None if near is None else near[keep]
                    if plain is not None:
                        values = plain[offs] @ query
                    else:
                        values = _rescored(ann, storage, query, distance, offs, near, rescore)
                    best = dist.top_k(values, limit, distance)
                    found[i].append(SegmentHits(seg, values[best], offs[best]))
            elif rows.vectors is None and _mostly_candidates(rows, storage):
                # Most rows are candidates: score the whole block in place (a gather would
                # copy it first) and rule the others out by their score.
                n = len(rows.mask)
                matrix = dist.scores_many(storage.plain_rows()[:n], queries, distance)
                if rows.count < n:
                    matrix[:, ~rows.mask] = -np.inf if dist.higher_is_better(distance) \
                        else np.inf
                k = min(limit, rows.count)
                for i in range(len(queries)):
                    best = dist.top_k(matrix[i], k, distance)
                    found[i].append(SegmentHits(seg, matrix[i][best], best))
            else:
                offs = rows.offsets
                matrix = storage.scores_many(offs, queries, distance) if rows.vectors is None \
                    else dist.scores_many(rows.vectors, queries, distance)
                for i in range(len(queries)):
                    best = dist.top_k(matrix[i], limit, distance)
                    found[i].append(SegmentHits(seg, matrix[i][best], offs[best]))
        return found

    def _dense_rows(self, name: str, select: Callable[[Segment, Any], np.ndarray],
                    ) -> list[tuple[Segment, Any, np.ndarray]]:
        """(segment, storage, offsets) per segment holding dense vector `name`, the offsets
        picked by `select(segment, storage)`: planned under the lock, so that the scoring
        runs without it (as `search_dense_many`)."""
        plans = []
        with self.lock:
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if storage is None or not hasattr(storage, "data"):
                    continue
                offs = select(seg, storage)
                if len(offs):
                    plans.append((seg, storage, offs))
        return plans

    def score_dense_ids(self, name: str, ids: list[PointId], queries: np.ndarray,
                        distance: str, limit: int) -> list[list[SegmentHits]]:
        """Per prepared dense query, each segment's top-`limit` of the points `ids` holding
        vector `name`, scored exactly from their rows: the rescoring of prefetched
        candidates, without compiling the ids into a filter mask per segment."""
        plans = self._dense_rows(name, lambda seg, _storage: seg.live_offsets_of(name, ids))
        found: list[list[SegmentHits]] = [[] for _ in range(len(queries))]
        for seg, storage, offs in plans:
            matrix = storage.scores_many(offs, queries, distance)
            for i in range(len(queries)):
                best = dist.top_k(matrix[i], limit, distance)
                found[i].append(SegmentHits(seg, matrix[i][best], offs[best]))
        return found

    def score_exact(self, name: str, scorer: Callable[[np.ndarray], np.ndarray],
                    flt: models.Filter | None, limit: int, threshold: float | None,
                    ) -> list[tuple[float, Segment, int]]:
        """Top-`limit` points by a custom score over their `name` vectors (bigger is better).

        `scorer` maps a float32 block of vectors to their scores; used for the
        recommendation strategies that score against several examples.
        """
        plans = self._dense_rows(name, lambda seg, storage: np.flatnonzero(
            filter_mask(seg, flt) & storage.present_mask(seg.num_offsets)))
        found: list[tuple[float, Segment, int]] = []
        for seg, storage, offs in plans:
            values = np.concatenate([
                scorer(storage.rows(offs[i:i + 65_536]).astype(np.float32, copy=False))
                for i in range(0, len(offs), 65_536)]).astype(np.float32)
            if threshold is not None:
                keep = values >= threshold
                offs, values = offs[keep], values[keep]
            best = dist.top_k(values, limit, dist.DOT)
            found.extend((float(values[i]), seg, int(offs[i])) for i in best)
        return found

    def _candidate_rows(self, seg: Segment, name: str, flt: models.Filter | None,
                        ) -> CandidateRows | None:
        """Live rows of `name` in `seg` matching `flt` (call under `lock`)."""
        live = seg.live_rows(name)
        if live is None or not live.count or flt is None:
            return live
        key = flt.model_dump_json(exclude_unset=True)
        return self._filtered_rows(seg, name, flt, key, live)

    def search_sparse(self, name: str, q_idx: np.ndarray, q_val: np.ndarray,
                      flt: models.Filter | None, limit: int, full_scan_threshold: int,
                      ) -> list[SegmentHits]:
        """Each segment's top-`limit` points by sparse dot product with the query, among
        those sharing a dimension with it.  As Qdrant's sparse search plans: filtered
        candidates fewer than `full_scan_threshold` are scored from their own vectors,
        otherwise the inverted index walks the query's posting lists."""
        found: list[SegmentHits] = []
        with self.lock:  # the index may be rebuilt by a search: one at a time per shard
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if not isinstance(storage, SparseVectorStorage):
                    continue
                rows = self._candidate_rows(seg, name, flt)
                if rows is None or not rows.count:
                    continue
                if flt is not None and rows.count < full_scan_threshold:
                    offs = rows.offsets
                    scores, overlap = storage.score_offsets(q_idx, q_val, offs)
                    offs, scores = offs[overlap], scores[overlap]
                else:
                    offs, scores = storage.search(q_idx, q_val, seg.num_offsets,
                                                  None if flt is None else rows.mask)
                best = best_k(scores, limit)
                found.append(SegmentHits(seg, scores[best], offs[best]))
        return found

    def score_sparse_ids(self, name: str, ids: list[PointId], q_idx: np.ndarray,
                         q_val: np.ndarray, limit: int) -> list[SegmentHits]:
        """Each segment's top-`limit` of the points `ids` sharing a dimension with the
        sorted sparse query, scored from their own vectors (as `search_sparse` scores few
        filtered candidates): the rescoring of prefetched candidates."""
        found: list[SegmentHits] = []
        with self.lock:
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if not isinstance(storage, SparseVectorStorage):
                    continue
                offs = seg.live_offsets_of(name, ids)
                if not len(offs):
                    continue
                scores, overlap = storage.score_offsets(q_idx, q_val, offs)
                offs, scores = offs[overlap], scores[overlap]
                best = best_k(scores, limit)
                found.append(SegmentHits(seg, scores[best], offs[best]))
        return found

    def sparse_stats(self, name: str, dims: np.ndarray, corpus: models.Filter | None = None,
                     ) -> tuple[int, np.ndarray]:
        """(points holding sparse `name`, how many of them hold each of `dims`), among the
        points matching `corpus` when given."""
        total, df = 0, np.zeros(len(dims), dtype=np.int64)
        with self.lock:
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if not isinstance(storage, SparseVectorStorage):
                    continue
                rows = self._candidate_rows(seg, name, corpus)
                total += 0 if rows is None else rows.count
                mask = None if corpus is None or rows is None else rows.mask
                df += storage.doc_freq(dims, mask)
        return total, df

    def score_candidates(self, name: str, scorer: Callable[[Any, np.ndarray], np.ndarray],
                         flt: models.Filter | None, limit: int, higher_better: bool,
                         ) -> list[SegmentHits]:
        """Each segment's top-`limit` points by `scorer(storage, candidate offsets)` over
        their sparse or multi `name` vectors (scored in blocks of candidates)."""
        order = dist.DOT if higher_better else dist.EUCLID
        found: list[SegmentHits] = []
        with self.lock:
            for seg in self.segments:
                storage = seg.vectors.get(name)
                if storage is None:
                    continue
                rows = self._candidate_rows(seg, name, flt)
                if rows is None or not rows.count:
                    continue
                offs = rows.offsets
                scores = np.concatenate([scorer(storage, offs[i:i + 65_536])
                                         for i in range(0, len(offs), 65_536)])
                best = dist.top_k(scores, limit, order)
                found.append(SegmentHits(seg, scores[best], offs[best]))
        return found

    def text_indexes(self, field: str) -> list[tuple[Segment, TextIndex]]:
        """The segments' scoring text indexes on payload `field` (call under `lock`)."""
        out = []
        for seg in self.segments:
            index = seg.indexes.get(field)
            if isinstance(index, TextIndex) and index.scoring:
                out.append((seg, index))
        return out

    def text_stats(self, field: str, tokens: list[str]) -> tuple[int, int, np.ndarray]:
        """(documents, total length, documents per token) of `field`'s text indexes."""
        docs, total, df = 0, 0, np.zeros(len(tokens), dtype=np.int64)
        with self.lock:
            for _seg, index in self.text_indexes(field):
                n, length, counts = ranking.corpus_stats(index, tokens)
                docs, total, df = docs + n, total + length, df + counts
        return docs, total, df

    def text_search(self, field: str, tokens: list[str], idf: np.ndarray, avg_len: float,
                    k1: float, b: float, flt: models.Filter | None, limit: int,
                    ) -> list[SegmentHits]:
        """Each segment's top-`limit` points matching `flt` by BM25 over `field`."""
        found: list[SegmentHits] = []
        with self.lock:
            for seg, index in self.text_indexes(field):
                offs, scores = ranking.scores(index, tokens, idf, avg_len, k1, b)
                keep = filter_mask(seg, flt)[offs]
                offs, scores = offs[keep], scores[keep]
                best = dist.top_k(scores, limit, dist.DOT)
                found.append(SegmentHits(seg, scores[best], offs[best]))
        return found

    def _full_scan_cheaper(self, name: str, candidates: int, dim: int) -> bool:
        params = self.index_config.get("vectors", {}).get(name, {})
        threshold_kb = params.get("full_scan_threshold", 10_000)
        return candidates * dim * 4 < threshold_kb * 1024

    def count(self, flt: models.Filter | None) -> int:
        with self.lock:
            return sum(len(offs) for _seg, offs in self.matching(flt))

    def scroll_by_id(self, flt: models.Filter | None, start: PointId | None, limit: int,
                     with_payload: Callable[[dict], Any] | None,
                     with_vectors: bool | list[str]) -> list[PointRecord]:
        """The first `limit` matching points with id >= start, in id order.

        Ids are ordered with numpy over each segment's matching offsets: integers
        first (argpartition), then UUIDs (as two 64-bit halves), as Qdrant orders them.
        """
        with self.lock:
            start_key = point_id_sort_key(start) if start is not None else None
            hits: list[tuple[tuple[int, int], int, Segment]] = []
            for seg, offs in self.matching(flt):
                if len(offs):
                    hits.extend(_first_ids(seg, offs, start_key, limit))
            best = heapq.nsmallest(limit, hits, key=lambda c: c[0])
            return [self._record(seg, off, with_payload, with_vectors) for _k, off, seg in best]

    def facet(self, key: str, flt: models.Filter | None) -> dict[Any, int]:
        with self.lock:
            total: dict[Any, int] = {}
            for seg, offs in self.matching(flt):
                mask = np.zeros(seg.num_offsets, dtype=bool)
                mask[offs] = True
                for value, cnt in facet_counts(seg, key, mask).items():
                    total[value] = total.get(value, 0) + cnt
            return total

    def payload_schema(self) -> dict[str, tuple[Any, int]]:
        """Indexed fields: params and how many points carry an indexed value."""
        with self.lock:
            out: dict[str, tuple[Any, int]] = {}
            for seg in self.segments:
                for key, (params, cnt) in seg.indexes.schema().items():
                    prev = out.get(key)
                    out[key] = (params, cnt + (prev[1] if prev else 0))
            return out


# An appendable segment merges into sealed ones once writes paused this long and it holds
# this share of `indexing_threshold` (smaller tails are scored exactly in well under 0.1 ms).
_TAIL_IDLE_SEC = 1.0
_TAIL_MIN_SHARE = 0.125


def _build_graphs(data: np.ndarray, params: dict[str, Any], build_main: bool,
                  ann: HnswIndex | None, graphs_key: dict[str, Any] | None,
                  blocks: list[tuple[str, Any, np.ndarray]],
                  ) -> tuple[HnswIndex | None, payload_graphs.PayloadGraphs | None]:
    """The main graph over `data` (built if `build_main`, else `ann`) and the payload
    graphs of `blocks` (None without `graphs_key`)."""
    if build_main:
        ann = HnswIndex.build(data, params["distance"], params.get("m", 16),
                              params.get("ef_construct", 100),
                              params.get("max_indexing_threads", 0), params.get("quantization"))
    graphs = None if graphs_key is None else payload_graphs.build_graphs(
        graphs_key, blocks, data, params, ann)
    return ann, graphs


def _copyable(storage: DenseVectorStorage) -> bool:
    """True when the storage's rows are its vectors, held in RAM (copies cost no I/O and
    do not defeat `on_disk`)."""
    return storage.rows_are_vectors and not storage.on_disk


def _mostly_candidates(rows: CandidateRows, storage: Any) -> bool:
    """Whether scoring every row of a RAM float32 block beats gathering the candidates
    (more than half of the rows are candidates)."""
    return 2 * rows.count > len(rows.mask) and storage.plain_rows() is not None


def _wanted(ann: HnswIndex, limit: int, ef: int,
            quantization: models.QuantizationSearchParams | None) -> tuple[int, bool]:
    """How many candidates to take from a graph, and whether to rescore them.

    The graph walks codes, so it returns more candidates than asked
    (`oversampling`, else twice `limit` or 10 more, within the beam) and they are rescored
    from the original vectors.  Only an explicit quantization with `rescore: false`
    returns the codes' approximate scores instead; a vector without
    quantization is always rescored, as its scores must be exact.  With
    `ignore: true` every candidate of the beam is rescored.
    """
    q = quantization
    if ann.exact:
        return limit, False
    oversampling = max(float(q.oversampling), 1.0) if q and q.oversampling else 1.0
    rescore = ann.spec.kind == "none" or q is None or q.rescore is None or bool(q.rescore) \
        or bool(q.ignore)
    wanted = int(np.ceil(limit * oversampling))
    if rescore:
        # More candidates than asked, for the rescoring to reorder, but from within the
        # beam the search walks anyway (`hnsw_ef`, at least the limit, as Qdrant's): a
        # wider beam would cost more graph work than the search asked for.
        wanted = max(wanted, min(max(2 * limit, limit + 10), max(ef, wanted)))
    if q is not None and q.ignore and ann.spec.kind != "none":
        wanted = max(wanted, ef)  # as if without codes: rescore the whole beam
    return wanted, rescore


def _rescored(ann: HnswIndex, storage: DenseVectorStorage, query: np.ndarray, distance: str,
              offs: np.ndarray, approx: np.ndarray | None, rescore: bool) -> np.ndarray:
    """Final scores of graph candidates: exact from the originals when rescoring."""
    if rescore:
        return dist.scores(storage.rows(offs), None, query, distance)
    if approx is None:
        approx = ann.approximate_scores(query, offs)
    return approx


def _first_ids(seg: Segment, offs: np.ndarray, start_key: tuple[int, Any] | None,
               limit: int) -> list[tuple[tuple[int, int], int, Segment]]:
    """The `limit` smallest ids >= start among `offs` of `seg`, as (sort key, offset, seg)."""
    nums, is_uuid, hi, lo = seg.id_arrays()
    uuid_sel = is_uuid[offs]
    int_offs, uuid_offs = offs[~uuid_sel], offs[uuid_sel]
    if start_key is not None and start_key[0] == 1:
        int_offs = int_offs[:0]  # every integer id sorts before a UUID
        s_hi, s_lo = np.uint64(start_key[1] >> 64), np.uint64(start_key[1] & ((1 << 64) - 1))
        h, lw = hi[uuid_offs], lo[uuid_offs]
        uuid_offs = uuid_offs[(h > s_hi) | ((h == s_hi) & (lw >= s_lo))]
    elif start_key is not None:
        int_offs = int_offs[nums[int_offs] >= np.uint64(start_key[1])]
    out: list[tuple[tuple[int, int], int, Segment]] = []
    if len(int_offs) > limit:
        int_offs = int_offs[np.argpartition(nums[int_offs], limit - 1)[:limit]]
    out.extend(((0, int(nums[o])), int(o), seg) for o in int_offs.tolist())
    if len(out) < limit and len(uuid_offs):
        order = np.lexsort((lo[uuid_offs], hi[uuid_offs]))[: limit - len(out)]
        for o in uuid_offs[order].tolist():
            out.append(((1, (int(hi[o]) << 64) | int(lo[o])), int(o), seg))
    return out


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
