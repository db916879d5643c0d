"""One collection: its configuration, its shards, shard keys, update fan-out and read merging."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from qdrant_client.http import models

from vectorizer.collection import config as cfg
from vectorizer.collection import operations as ops
from vectorizer.collection.payload_selector import PayloadFn
from vectorizer.collection.recommend import strategy_scorer
from vectorizer.collection.routing import shard_for
from vectorizer.common.durable import fsync_dir
from vectorizer.common.errors import BadInput, BadRequest, NotFound
from vectorizer.common.point_id import PointId, point_id_sort_key
from vectorizer.filter.compiler import order_values
from vectorizer.index import distance as dist
from vectorizer.index.payload.field_indexes import params_type
from vectorizer.index.quantization import QuantSpec
from vectorizer.shard.local_shard import LocalShard, PointRecord, SegmentHits

log = logging.getLogger(__name__)

ShardKey = str | int
SPARSE_FULL_SCAN_THRESHOLD = 5000  # Qdrant's default for sparse indexes (points)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(data))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


@dataclasses.dataclass
class DenseSearch:
    """One query of a `Collection.search_many` batch, with its own page and selectors."""

    query: list[float]
    limit: int
    offset: int = 0
    threshold: float | None = None
    with_payload: PayloadFn | None = None
    with_vectors: bool | list[str] = False


class Collection:
    """A named set of shards sharing one configuration."""

    def __init__(self, name: str, path: Path, config: dict[str, Any],
                 created_at: str | None = None) -> None:
        self.name = name
        self.path = path
        self.config = config
        self.created_at = created_at or datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.lock = threading.RLock()
        self.update_lock = threading.Lock()  # orders updates across this collection's shards
        self.shards: dict[int, LocalShard] = {}
        self.shard_keys: dict[str, list[int]] = {}  # orjson-encoded key -> shard ids
        self.shard_key_values: dict[str, ShardKey] = {}

    # ------------------------------------------------------------ lifecycle

    @property
    def custom_sharding(self) -> bool:
        return self.config["params"].get("sharding_method") == "custom"

    def _wal_mb(self) -> int:
        return int(self.config.get("wal_config", {}).get("wal_capacity_mb", 32))

    def _open_shard(self, shard_id: int) -> LocalShard:
        shard = LocalShard(self.path / str(shard_id), shard_id, cfg.vector_specs(self.config),
                           self._wal_mb())
        shard.index_config = self._index_config()
        return shard

    def _index_config(self) -> dict[str, Any]:
        """What the shard optimizers need: indexing threshold and HNSW params per vector."""
        hnsw = self.config.get("hnsw_config") or {}
        vectors = {}
        for name, params in cfg.named_dense_params(self.config).items():
            if params.get("multivector_config"):
                continue
            merged = {**hnsw, **(params.get("hnsw_config") or {})}
            quant = params.get("quantization_config") or self.config.get("quantization_config")
            vectors[name] = {"distance": params["distance"], "m": merged.get("m", 16),
                             "quantization": QuantSpec.from_config(quant),
                             "ef_construct": merged.get("ef_construct", 100),
                             "full_scan_threshold": merged.get("full_scan_threshold", 10_000),
                             "max_indexing_threads": merged.get("max_indexing_threads", 0),
                             "payload_m": merged.get("payload_m"),
                             "on_disk": bool(merged.get("on_disk"))}
        opt = self.config.get("optimizer_config") or {}
        threshold = opt.get("indexing_threshold")
        return {"indexing_threshold_kb": 10_000 if threshold is None else threshold,
                "vectors": vectors, "optimizers": opt}

    def refresh_index_config(self) -> None:
        config = self._index_config()
        for shard in self.shards.values():
            shard.index_config = config

    def optimize(self) -> bool:
        """Run one optimizer step on each shard; True if any did work."""
        did = False
        for shard in list(self.shards.values()):
            did = shard.optimize() or did
        return did

    def optimizations(self, include: set[str], completed_limit: int) -> dict[str, Any]:
        """`GET /collections/{name}/optimizations`: progress over all local shards."""
        running, queued, completed, idle = [], [], [], []
        for shard in self.shards.values():
            report = shard.optimizations()
            running += report["running"]
            queued += report["queued"]
            completed += report["completed"]
            idle += report["idle"]
        completed.sort(key=lambda r: r["progress"].get("finished_at") or "", reverse=True)
        out: dict[str, Any] = {
            "summary": {
                "queued_optimizations": len(queued),
                "queued_segments": sum(len(q["segments"]) for q in queued),
                "queued_points": sum(s["points_count"] for q in queued for s in q["segments"]),
                "idle_segments": len(idle),
            },
            "running": running,
        }
        if "queued" in include:
            out["queued"] = queued
        if "completed" in include:
            out["completed"] = completed[:completed_limit]
        if "idle_segments" in include:
            out["idle_segments"] = idle
        return out

    def status(self) -> str:
        """green when optimized, yellow while optimizing or with optimizations pending."""
        busy = any(s.optimizing or s.pending_optimizations() for s in self.shards.values())
        return "yellow" if busy else "green"

    @classmethod
    def create(cls, name: str, path: Path, config: dict[str, Any]) -> Collection:
        """Create the collection's files under `path` (which must not exist yet)."""
        col = cls(name, path, config)
        path.mkdir(parents=True)
        if not col.custom_sharding:
            for shard_id in range(config["params"]["shard_number"]):
                col.shards[shard_id] = col._open_shard(shard_id)
        col.save_meta()
        return col

    @classmethod
    def open(cls, name: str, path: Path) -> Collection:
        meta = orjson.loads((path / "collection.json").read_bytes())
        for child in path.iterdir():  # a shard snapshot recovery that did not finish
            if child.name.startswith(".tmp-"):
                import shutil

                shutil.rmtree(child, ignore_errors=True)
        col = cls(name, path, meta["config"], meta.get("created_at"))
        for key_json, shard_ids in meta.get("shard_keys", {}).items():
            col.shard_keys[key_json] = shard_ids
            col.shard_key_values[key_json] = orjson.loads(key_json)
        for shard_id in meta["shards"]:
            col.shards[shard_id] = col._open_shard(shard_id)
        return col

    def save_meta(self) -> None:
        _write_json_atomic(self.path / "collection.json", {
            "config": self.config,
            "created_at": self.created_at,
            "shards": sorted(self.shards),
            "shard_keys": self.shard_keys,
        })

    def flush(self) -> None:
        for shard in list(self.shards.values()):
            shard.flush()

    def close(self) -> None:
        for shard in list(self.shards.values()):
            shard.close()

    # ------------------------------------------------------------ configuration

    def update_config(self, update: models.UpdateCollection) -> None:
        with self.lock:
            self.config = cfg.apply_update(self.config, update)
            self.save_meta()
            self.refresh_index_config()

    def vector_specs(self) -> dict[str, Any]:
        return cfg.vector_specs(self.config)

    def add_vector(self, name: str, params: dict[str, Any], sparse: bool) -> None:
        with self.lock:
            if name in self.vector_specs():
                raise BadInput(f"Vector with name `{name}` already exists")
            section = "sparse_vectors" if sparse else "vectors"
            if not sparse and "size" in (self.config["params"].get("vectors") or {}):
                raise BadInput("Cannot add a named vector to a collection with an unnamed vector")
            self.config["params"].setdefault(section, {})[name] = params
            spec = cfg.vector_specs(self.config)[name]
            for shard in self.shards.values():
                shard.add_vector(name, spec)
            self.save_meta()
            self.refresh_index_config()

    def drop_vector(self, name: str) -> None:
        with self.lock:
            params = self.config["params"]
            if name in (params.get("sparse_vectors") or {}):
                del params["sparse_vectors"][name]
            elif name and name in (params.get("vectors") or {}) and "size" not in params["vectors"]:
                del params["vectors"][name]
            else:
                raise NotFound(f"Vector with name `{name}` does not exist")
            for shard in self.shards.values():
                shard.drop_vector(name)
            self.save_meta()
            self.refresh_index_config()

    # ------------------------------------------------------------ shard keys

    def _key_json(self, key: ShardKey) -> str:
        return orjson.dumps(key).decode()

    def create_shard_key(self, key: ShardKey, shards_number: int | None) -> bool:
        if not self.custom_sharding:
            raise BadRequest("Shard key can only be created for collections with custom sharding")
        with self.lock:
            key_json = self._key_json(key)
            if key_json in self.shard_keys:
                raise BadRequest(f"Shard key {key} already exists")
            count = shards_number or self.config["params"].get("shard_number", 1)
            first = max(self.shards, default=-1) + 1
            ids = list(range(first, first + count))
            for shard_id in ids:
                self.shards[shard_id] = self._open_shard(shard_id)
            self.shard_keys[key_json] = ids
            self.shard_key_values[key_json] = key
            self.save_meta()
            return True

    def delete_shard_key(self, key: ShardKey) -> bool:
        with self.lock:
            key_json = self._key_json(key)
            if key_json not in self.shard_keys:
                raise NotFound(f"Shard key {key} does not exist")
            for shard_id in self.shard_keys.pop(key_json):
                shard = self.shards.pop(shard_id)
                shard.wal.close()
                import shutil

                shutil.rmtree(shard.path, ignore_errors=True)
            del self.shard_key_values[key_json]
            self.save_meta()
            return True

    def list_shard_keys(self) -> list[ShardKey]:
        return list(self.shard_key_values.values())

    def _key_of_shard(self, shard_id: int) -> ShardKey | None:
        for key_json, ids in self.shard_keys.items():
            if shard_id in ids:
                return self.shard_key_values[key_json]
        return None

    def _selected_keys(self, selector: Any) -> list[str]:
        keys = selector if isinstance(selector, list) else [selector]
        out = []
        for key in keys:
            if isinstance(key, dict):  # {"target": key, "fallback": key}
                key = key.get("target")
            key_json = self._key_json(key)
            if key_json not in self.shard_keys:
                raise BadRequest(f"Shard key {key} not found")
            out.append(key_json)
        return out

    def read_shards(self, selector: Any) -> list[int]:
        """Shards a read covers: the selected keys' shards, or all of them."""
        if selector is None:
            return sorted(self.shards)
        if not self.custom_sharding:
            raise BadRequest("Shard key is not supported for collections with auto sharding")
        return sorted({sid for k in self._selected_keys(selector) for sid in self.shard_keys[k]})

    def write_shards(self, selector: Any) -> list[int]:
        if self.custom_sharding:
            if selector is None:
                raise BadRequest("Shard key not specified")
            keys = self._selected_keys(selector)
            if len(keys) != 1 and not isinstance(selector, list):
                raise BadRequest("Exactly one shard key must be specified")
            return sorted({sid for k in keys for sid in self.shard_keys[k]})
        if selector is not None:
            raise BadRequest("Shard key is not supported for collections with auto sharding")
        return sorted(self.shards)

    # ------------------------------------------------------------ updates

    def _check_vector_names(self, names: list[str]) -> None:
        specs = self.vector_specs()
        for name in names:
            if name not in specs:
                raise BadInput(f"Not existing vector name error: {name}")

    def update(self, op: ops.Operation, shard_key: Any = None, wait: bool = True) -> int:
        """Route `op` to its shards and apply it; return the collection's operation id.

        Sub-operations are checked and applied under the collection's update lock,
        so operation ids (the sum of the shards' WAL positions) strictly increase and
        survive restarts; fsyncs happen after the lock is released (group commit).
        """
        if isinstance(op, ops.DeleteVectors):
            self._check_vector_names(op.vector_names)
        if isinstance(op, ops.CreateFieldIndex | ops.DeleteFieldIndex):
            targets = sorted(self.shards)
        else:
            targets = self.write_shards(shard_key)
        if not targets:
            return self._operation_id()
        parts = self._split(op, targets)
        with self.update_lock:
            if isinstance(op, ops.UpdateVectors):
                for shard_id, sub in parts:
                    self.shards[shard_id].precheck(sub)
            submitted = [(shard_id, self.shards[shard_id].submit(sub)) for shard_id, sub in parts]
            op_id = self._operation_id()
        if wait:
            for shard_id, op_num in submitted:
                self.shards[shard_id].wait_durable(op_num)
        return op_id

    def _operation_id(self) -> int:
        return sum(shard.applied_op for shard in self.shards.values())

    def operation_id(self) -> int:
        """The collection's current operation id (the sum of its shards' WAL positions)."""
        return self._operation_id()

    def _split(self, op: ops.Operation, targets: list[int]) -> list[tuple[int, ops.Operation]]:
        """The sub-operation each target shard gets (points routed by id hash)."""
        if len(targets) == 1:
            return [(targets[0], op)]
        if isinstance(op, ops.Upsert | ops.UpdateVectors):
            by_shard: dict[int, list[int]] = {}
            for pos, pid in enumerate(op.points.ids):
                by_shard.setdefault(shard_for(pid, targets), []).append(pos)
            return [(shard_id, dataclasses.replace(op, points=op.points.subset(positions)))
                    for shard_id, positions in sorted(by_shard.items())]
        if isinstance(op, ops.DeletePoints | ops.SetPayload | ops.OverwritePayload
                      | ops.DeletePayload | ops.ClearPayload | ops.DeleteVectors) and (
                op.selection.ids is not None and not self.custom_sharding):
            by_ids: dict[int, list[PointId]] = {}
            for pid in op.selection.ids:
                by_ids.setdefault(shard_for(pid, targets), []).append(pid)
            return [(shard_id, _with_ids(op, ids)) for shard_id, ids in sorted(by_ids.items())]
        return [(shard_id, op) for shard_id in targets]

    # ------------------------------------------------------------ reads

    def record_to_wire(self, rec: PointRecord, shard_id: int | None = None) -> dict[str, Any]:
        vector: Any = rec.vector
        if vector is not None and set(vector) == {cfg.DEFAULT_VECTOR}:
            vector = vector[cfg.DEFAULT_VECTOR]
        out: dict[str, Any] = {"id": rec.id, "payload": rec.payload, "vector": vector}
        if self.custom_sharding and shard_id is not None:
            out["shard_key"] = self._key_of_shard(shard_id)
        return out

    def retrieve(self, ids: list[PointId], with_payload: PayloadFn | None,
                 with_vectors: bool | list[str], shard_key: Any = None) -> list[dict[str, Any]]:
        if isinstance(with_vectors, list):
            self._check_vector_names(with_vectors)
        found: dict[PointId, dict[str, Any]] = {}
        for shard_id in self.read_shards(shard_key):
            for pid, rec in self.shards[shard_id].retrieve(ids, with_payload,
                                                           with_vectors).items():
                found.setdefault(pid, self.record_to_wire(rec, shard_id))
        out, seen = [], set()
        for pid in ids:
            if pid in found and pid not in seen:
                seen.add(pid)
                out.append(found[pid])
        return out

    def payloads_of(self, ids: list[PointId], shard_key: Any = None,
                    ) -> dict[PointId, dict[str, Any]]:
        """The stored payloads (read-only, `{}` when none) of those of `ids` that exist."""
        found: dict[PointId, dict[str, Any]] = {}
        for shard_id in self.read_shards(shard_key):
            for pid, payload in self.shards[shard_id].payloads_of(ids).items():
                found.setdefault(pid, payload)
        return found

    def search(self, vector_name: str, query: list[float], flt: models.Filter | None,
               limit: int, offset: int, threshold: float | None, with_payload: PayloadFn | None,
               with_vectors: bool | list[str], shard_key: Any = None,
               search_params: models.SearchParams | None = None) -> list[dict[str, Any]]:
        """Nearest dense neighbours of `query` among points matching `flt`.

        Sealed segments are searched through their HNSW graphs (unless `exact`, or
        the filter leaves few candidates); the appendable segment exactly.
        """
        return self.search_many(vector_name, flt, shard_key, search_params, [DenseSearch(
            query, limit, offset, threshold, with_payload, with_vectors)])[0]

    def search_many(self, vector_name: str, flt: models.Filter | None, shard_key: Any,
                    search_params: models.SearchParams | None, requests: list[DenseSearch],
                    ) -> list[list[dict[str, Any]]]:
        """Several `search` calls sharing vector, filter, shard key and params, in one pass.

        Each segment is planned once and its graph searched once for all queries
        (see `LocalShard.search_dense_many`); pages are cut per request.
        """
        params = self.dense_params(vector_name)
        size = params["size"]
        for req in requests:
            if len(req.query) != size:
                raise BadInput(f"Vector dimension error: expected dim: {size}, "
                               f"got {len(req.query)}")
            if isinstance(req.with_vectors, list):
                self._check_vector_names(req.with_vectors)
        if not requests:
            return []
        distance = params["distance"]
        sp = search_params
        queries = dist.prepare_queries(
            np.array([req.query for req in requests], dtype=np.float32).reshape(-1, size),
            distance)
        depth = max(r.limit + r.offset for r in requests)
        found: list[list[tuple[int, SegmentHits]]] = [[] for _ in requests]
        for shard_id in self.read_shards(shard_key):
            per_query = self.shards[shard_id].search_dense_many(
                vector_name, queries, distance, flt, depth,
                exact=bool(sp and sp.exact), ef=(sp and sp.hnsw_ef) or 0,
                indexed_only=bool(sp and sp.indexed_only),
                quantization=sp.quantization if sp else None, acorn=sp.acorn if sp else None)
            for i, chunks in enumerate(per_query):
                found[i].extend((shard_id, chunk) for chunk in chunks)
        pages = []
        for chunks, r in zip(found, requests, strict=True):
            page = self._bare_page(chunks, r) if len(chunks) == 1 else None
            if page is None:
                page = self._wire_page(_best_hits(chunks, r.offset + r.limit, r.threshold,
                                                  distance)[r.offset:],
                                       r.with_payload, r.with_vectors)
            pages.append(page)
        return pages

    def rescore_dense(self, vector_name: str, query: np.ndarray, ids: list[PointId],
                      limit: int, offset: int, threshold: float | None,
                      with_payload: PayloadFn | None, with_vectors: bool | list[str],
                      shard_key: Any = None) -> list[dict[str, Any]]:
        """The page of the points `ids` (prefetched candidates) by their exact scores
        against the dense `query`: what a search filtered to those ids returns."""
        params = self.dense_params(vector_name)
        distance = params["distance"]
        queries = dist.prepare_queries(
            np.array(query, dtype=np.float32).reshape(-1, params["size"]), distance)
        return self._segment_hits_page(
            lambda shard: shard.score_dense_ids(vector_name, ids, queries, distance,
                                                limit + offset)[0],
            distance, limit, offset, threshold, with_payload, with_vectors, shard_key)

    def _bare_page(self, chunks: list[tuple[int, SegmentHits]], req: DenseSearch,
                   ) -> list[dict[str, Any]] | None:
        """The page of a search answered by one segment, without payloads or vectors, built
        straight from its ordered hits; None when the general path is needed (a score
        threshold, selectors, shard keys, or equal scores that ids must order)."""
        if req.threshold is not None or req.with_payload is not None or req.with_vectors or \
                self.custom_sharding:
            return None
        shard_id, (seg, scores, offs) = chunks[0]
        window = scores[:req.offset + req.limit + 1].tolist()
        if len(set(window)) < len(window):
            return None
        cut = slice(req.offset, req.offset + req.limit)
        values, offs = window[cut], offs[cut]
        with self.shards[shard_id].lock:
            ids = seg.ids
            versions = seg.versions[offs].tolist()
            return [{"id": ids[o], "payload": None, "vector": None, "version": v, "score": sc}
                    for o, v, sc in zip(offs.tolist(), versions, values, strict=True)]

    def _scored_page(self, hits: list[tuple[float, int, Any, int]], higher_better: bool,
                     offset: int, limit: int, with_payload: PayloadFn | None,
                     with_vectors: bool | list[str]) -> list[dict[str, Any]]:
        """Order (score, shard, segment, offset) hits across shards and build the wire page."""
        sign = -1.0 if higher_better else 1.0
        hits.sort(key=lambda h: sign * h[0])
        if any(a[0] == b[0] for a, b in itertools.pairwise(hits)):  # equal scores: ids decide
            hits.sort(key=lambda h: (sign * h[0], point_id_sort_key(h[2].ids[h[3]])))
        return self._wire_page(hits[offset:offset + limit], with_payload, with_vectors)

    def _wire_page(self, hits: list[tuple[float, int, Any, int]],
                   with_payload: PayloadFn | None, with_vectors: bool | list[str],
                   ) -> list[dict[str, Any]]:
        """Wire records of ordered (score, shard, segment, offset) hits."""
        shard_ids = {h[1] for h in hits}
        if len(shard_ids) == 1:  # one lock for the page (payloads and vectors change under it)
            with self.shards[shard_ids.pop()].lock:
                return self._wire_records(hits, with_payload, with_vectors)
        out = []
        for hit in hits:
            with self.shards[hit[1]].lock:
                out.extend(self._wire_records([hit], with_payload, with_vectors))
        return out

    def _wire_records(self, hits: list[tuple[float, int, Any, int]],
                      with_payload: PayloadFn | None, with_vectors: bool | list[str],
                      ) -> list[dict[str, Any]]:
        names = None if with_vectors is True else with_vectors
        out = [{
            "id": seg.ids[off],
            "payload": None if with_payload is None else with_payload(seg.payload_at(off)),
            "vector": seg.vectors_of(off, names) if with_vectors else None,
            "version": int(seg.versions[off]),
            "score": score,
        } for score, _shard_id, seg, off in hits]
        if with_vectors:
            for wire in out:
                vector = wire["vector"]
                if vector is not None and len(vector) == 1 and cfg.DEFAULT_VECTOR in vector:
                    wire["vector"] = vector[cfg.DEFAULT_VECTOR]
        if self.custom_sharding:
            for wire, hit in zip(out, hits, strict=True):
                wire["shard_key"] = self._key_of_shard(hit[1])
        return out

    def dense_params(self, vector_name: str) -> dict[str, Any]:
        """The params of a dense, single-vector `vector_name`, or Qdrant's error."""
        params = cfg.named_dense_params(self.config).get(vector_name)
        if params is None or params.get("multivector_config"):
            if vector_name in cfg.sparse_params(self.config) or params is not None:
                raise BadInput(f"Vector `{vector_name}` is not a dense vector; sparse and "
                               "multi-vectors arrive with the Query API")
            raise BadInput(f"Not existing vector name error: {vector_name}")
        return params

    def vector_kind(self, vector_name: str) -> str:
        """"dense", "sparse" or "multi" for an existing vector, else Qdrant's error."""
        if vector_name in cfg.sparse_params(self.config):
            return "sparse"
        params = cfg.named_dense_params(self.config).get(vector_name)
        if params is None:
            raise BadInput(f"Not existing vector name error: {vector_name}")
        return "multi" if params.get("multivector_config") else "dense"

    def vector_params(self, vector_name: str) -> dict[str, Any]:
        """The params of a dense or multi `vector_name` (size, distance, ...)."""
        params = cfg.named_dense_params(self.config).get(vector_name)
        if params is None:
            raise BadInput(f"Not existing vector name error: {vector_name}")
        return params

    def sparse_uses_idf(self, vector_name: str) -> bool:
        params = cfg.sparse_params(self.config).get(vector_name) or {}
        return params.get("modifier") == "idf"

    def sparse_idf(self, vector_name: str, dims: np.ndarray,
                   corpus: models.Filter | None = None) -> np.ndarray:
        """IDF of each sorted dimension over the collection's current points holding the
        sparse vector (those matching `corpus`, the `idf` search param, when given):
        ln(1 + (N - n + 0.5) / (n + 0.5)), as Qdrant's modifier."""
        total, df = 0, np.zeros(len(dims), dtype=np.int64)
        for shard in self.shards.values():
            n, counts = shard.sparse_stats(vector_name, dims, corpus)
            total += n
            df += counts
        return np.log(1.0 + (total - df + 0.5) / (df + 0.5))

    def search_sparse(self, vector_name: str, query: tuple[np.ndarray, np.ndarray],
                      flt: models.Filter | None, limit: int, offset: int,
                      threshold: float | None, with_payload: PayloadFn | None,
                      with_vectors: bool | list[str], shard_key: Any = None,
                      ) -> list[dict[str, Any]]:
        """Points sharing a dimension with a prepared sparse query (sorted, IDF applied),
        by dot product."""
        index = (cfg.sparse_params(self.config).get(vector_name) or {}).get("index") or {}
        full_scan = index.get("full_scan_threshold")
        full_scan = SPARSE_FULL_SCAN_THRESHOLD if full_scan is None else int(full_scan)
        q_idx, q_val = query
        return self._segment_hits_page(
            lambda shard: shard.search_sparse(vector_name, q_idx, q_val, flt, limit + offset,
                                              full_scan),
            dist.DOT, limit, offset, threshold, with_payload, with_vectors, shard_key)

    def rescore_sparse(self, vector_name: str, query: tuple[np.ndarray, np.ndarray],
                       ids: list[PointId], limit: int, offset: int, threshold: float | None,
                       with_payload: PayloadFn | None, with_vectors: bool | list[str],
                       shard_key: Any = None) -> list[dict[str, Any]]:
        """The page of the points `ids` (prefetched candidates) sharing a dimension with a
        prepared sparse query, by dot product: what a search filtered to them returns."""
        q_idx, q_val = query
        return self._segment_hits_page(
            lambda shard: shard.score_sparse_ids(vector_name, ids, q_idx, q_val,
                                                 limit + offset),
            dist.DOT, limit, offset, threshold, with_payload, with_vectors, shard_key)

    def score_candidates_page(self, vector_name: str, scorer: Any, higher_better: bool,
                              flt: models.Filter | None, limit: int, offset: int,
                              threshold: float | None, with_payload: PayloadFn | None,
                              with_vectors: bool | list[str], shard_key: Any = None,
                              ) -> list[dict[str, Any]]:
        """A page of points ranked by `scorer(storage, offsets)` over their sparse or multi
        `vector_name` vectors."""
        return self._segment_hits_page(
            lambda shard: shard.score_candidates(vector_name, scorer, flt, limit + offset,
                                                 higher_better),
            dist.DOT if higher_better else dist.EUCLID, limit, offset, threshold,
            with_payload, with_vectors, shard_key)

    def _segment_hits_page(self, fetch: Any, order: str, limit: int, offset: int,
                           threshold: float | None, with_payload: PayloadFn | None,
                           with_vectors: bool | list[str], shard_key: Any,
                           ) -> list[dict[str, Any]]:
        if isinstance(with_vectors, list):
            self._check_vector_names(with_vectors)
        chunks = [(shard_id, hits) for shard_id in self.read_shards(shard_key)
                  for hits in fetch(self.shards[shard_id])]
        return self._wire_page(_best_hits(chunks, offset + limit, threshold, order)[offset:],
                               with_payload, with_vectors)

    def text_search(self, field: str, query: models.TextQuery, flt: models.Filter | None,
                    limit: int, offset: int, threshold: float | None,
                    with_payload: PayloadFn | None, with_vectors: bool | list[str],
                    shard_key: Any = None) -> list[dict[str, Any]]:
        """The `text` query: BM25 over the text index (with `scoring`) of payload `field`,
        statistics over the whole collection, `k` / `b` from the query."""
        tokenizer = None
        for shard in self.shards.values():
            with shard.lock:
                found = shard.text_indexes(field)
            if found:
                tokenizer = found[0][1]
                break
        if tokenizer is None:
            raise BadInput(f"A text query needs a text index with `scoring` on `{field}`")
        text, k1, b = _text_params(query)
        tokens = list(dict.fromkeys(tokenizer.tokenize_query(text)))
        docs, total, df = 0, 0, np.zeros(len(tokens), dtype=np.int64)
        for shard in self.shards.values():
            n, length, counts = shard.text_stats(field, tokens)
            docs, total, df = docs + n, total + length, df + counts
        if not tokens or not docs:
            return []
        idf = np.log(1.0 + (docs - df + 0.5) / (df + 0.5))
        avg = total / docs
        return self._segment_hits_page(
            lambda shard: shard.text_search(field, tokens, idf, avg, k1, b, flt,
                                            limit + offset),
            dist.DOT, limit, offset, threshold, with_payload, with_vectors, shard_key)

    def example_vectors(self, vector_name: str, ids: list[PointId]) -> dict[PointId, list]:
        """The stored `vector_name` vectors of `ids` (recommendation examples)."""
        self.vector_kind(vector_name)
        found = {}
        for rec in self.retrieve(ids, None, [vector_name]):
            vec = rec["vector"]
            value = vec.get(vector_name) if isinstance(vec, dict) else vec
            if value is not None:
                found[rec["id"]] = value
        for pid in ids:
            if pid not in found:
                raise NotFound(f"No point with id {pid} found")
        return found

    def recommend_exact(self, vector_name: str, strategy: str, positive: list[np.ndarray],
                        negative: list[np.ndarray], flt: models.Filter | None, limit: int,
                        offset: int, threshold: float | None, with_payload: PayloadFn | None,
                        with_vectors: bool | list[str], shard_key: Any = None,
                        ) -> list[dict[str, Any]]:
        """`best_score` / `sum_scores`: every candidate scored against every example."""
        distance = self.dense_params(vector_name)["distance"]
        scorer = strategy_scorer(strategy, positive, negative, distance)
        return self.score_exact_page(vector_name, scorer, flt, limit, offset, threshold,
                                     with_payload, with_vectors, shard_key)

    def score_exact_page(self, vector_name: str, scorer: Any, flt: models.Filter | None,
                         limit: int, offset: int, threshold: float | None,
                         with_payload: PayloadFn | None, with_vectors: bool | list[str],
                         shard_key: Any = None) -> list[dict[str, Any]]:
        """A page of points ranked by `scorer` over their `vector_name` vectors."""
        if isinstance(with_vectors, list):
            self._check_vector_names(with_vectors)
        hits: list[tuple[float, int, Any, int]] = []
        for shard_id in self.read_shards(shard_key):
            for score, seg, off in self.shards[shard_id].score_exact(
                    vector_name, scorer, flt, limit + offset, threshold):
                hits.append((score, shard_id, seg, off))
        return self._scored_page(hits, True, offset, limit, with_payload, with_vectors)

    def distance_matrix(self, vector_name: str, flt: models.Filter | None, sample: int,
                        limit: int, shard_key: Any = None,
                        ) -> tuple[list[PointId], list[list[tuple[int, float]]]]:
        """Qdrant's distance matrix: `sample` random matching points, sorted by id, and for
        each its `limit` nearest others among the sample as (row index, score)."""
        params = self.dense_params(vector_name)
        parts: list[tuple[Any, Any, np.ndarray]] = []  # (segment, vector storage, offsets)
        for shard_id in self.read_shards(shard_key):
            shard = self.shards[shard_id]
            with shard.lock:
                for seg, offs in shard.matching(flt):
                    storage = seg.vectors.get(vector_name)
                    if storage is None or not len(offs):
                        continue
                    parts.append((seg, storage,
                                  offs[storage.present_mask(seg.num_offsets)[offs]]))
        total = sum(len(offs) for _seg, _data, offs in parts)
        chosen = np.arange(total) if total <= sample else np.sort(
            np.random.default_rng().choice(total, size=sample, replace=False))
        candidates: list[tuple[PointId, np.ndarray]] = []
        start = 0
        for seg, storage, offs in parts:  # only the sampled points are read
            picked = offs[chosen[(chosen >= start) & (chosen < start + len(offs))] - start]
            candidates.extend(zip([seg.ids[o] for o in picked.tolist()],
                                  storage.rows(picked).astype(np.float32), strict=True))
            start += len(offs)
        if len(candidates) < 2:
            return [], []
        candidates.sort(key=lambda c: point_id_sort_key(c[0]))
        ids = [c[0] for c in candidates]
        matrix = np.stack([c[1] for c in candidates])
        distance = params["distance"]
        rows = []
        for i in range(len(ids)):
            scores = dist.scores(matrix, None, matrix[i], distance)
            others = np.delete(np.arange(len(ids)), i)
            best = dist.top_k(scores[others], limit, distance)
            rows.append([(int(others[j]), float(scores[others[j]])) for j in best])
        return ids, rows

    def count(self, flt: models.Filter | None, shard_key: Any = None) -> int:
        return sum(self.shards[s].count(flt) for s in self.read_shards(shard_key))

    def scroll(self, flt: models.Filter | None, offset: PointId | None, limit: int,
               with_payload: PayloadFn | None, with_vectors: bool | list[str],
               shard_key: Any = None) -> tuple[list[dict[str, Any]], PointId | None]:
        if isinstance(with_vectors, list):
            self._check_vector_names(with_vectors)
        merged = []
        for shard_id in self.read_shards(shard_key):
            recs = self.shards[shard_id].scroll_by_id(flt, offset, limit + 1, with_payload,
                                                      with_vectors)
            merged.extend((point_id_sort_key(r.id), shard_id, r) for r in recs)
        best = heapq.nsmallest(limit + 1, merged, key=lambda t: t[0])
        next_offset = best[limit][2].id if len(best) > limit else None
        return [self.record_to_wire(r, s) for _k, s, r in best[:limit]], next_offset

    def sample_random(self, flt: models.Filter | None, limit: int,
                      with_payload: PayloadFn | None, with_vectors: bool | list[str],
                      shard_key: Any = None) -> list[dict[str, Any]]:
        """Up to `limit` points matching `flt`, drawn uniformly at random without
        replacement (the Query API's `sample: random`)."""
        if isinstance(with_vectors, list):
            self._check_vector_names(with_vectors)
        parts: list[tuple[int, Any, np.ndarray]] = []
        for shard_id in self.read_shards(shard_key):
            with self.shards[shard_id].lock:
                parts.extend((shard_id, seg, offs)
                             for seg, offs in self.shards[shard_id].matching(flt) if len(offs))
        total = sum(len(offs) for _s, _seg, offs in parts)
        chosen = np.random.default_rng().permutation(total)[:limit] if total > limit \
            else np.random.default_rng().permutation(total)
        starts = np.cumsum([0] + [len(offs) for _s, _seg, offs in parts])
        out = []
        for pick in chosen.tolist():
            part = int(np.searchsorted(starts, pick, side="right")) - 1
            shard_id, seg, offs = parts[part]
            shard = self.shards[shard_id]
            with shard.lock:
                rec = shard._record(seg, int(offs[pick - starts[part]]), with_payload,
                                    with_vectors)
            out.append(self.record_to_wire(rec, shard_id))
        return out

    def scroll_ordered(self, flt: models.Filter | None, order_by: models.OrderBy, limit: int,
                       with_payload: PayloadFn | None, with_vectors: bool | list[str],
                       shard_key: Any = None) -> list[dict[str, Any]]:
        """Scroll sorted by an indexed payload field (no next page offset, as in Qdrant)."""
        params = self._index_params(order_by.key)
        if not _has_range_index(params):
            raise BadRequest(
                f"No range index for `order_by` key: {order_by.key}. Please create one to use "
                "`order_by`. Integer, float, and datetime payloads can have range indexes, see "
                "https://qdrant.tech/documentation/concepts/indexing/#payload-index.")
        is_datetime = _index_type(params) == "datetime"
        desc = order_by.direction == models.Direction.DESC
        start = order_by.start_from
        start_value = None
        if start is not None:
            start_value = _order_start(start)
        rows: list[tuple[float, tuple, int, Any, int]] = []
        for shard_id in self.read_shards(shard_key):
            shard = self.shards[shard_id]
            with shard.lock:
                for seg, offs in shard.matching(flt):
                    mask = np.zeros(seg.num_offsets, dtype=bool)
                    mask[offs] = True
                    values, offsets = order_values(seg, order_by.key, mask)
                    if start_value is not None:
                        keep = values <= start_value if desc else values >= start_value
                        values, offsets = values[keep], offsets[keep]
                    for value, off in zip(values.tolist(), offsets.tolist(), strict=True):
                        rows.append((value, point_id_sort_key(seg.ids[off]), shard_id, seg, off))
        if desc:
            chosen = heapq.nlargest(limit, rows, key=lambda r: (r[0], r[1]))
        else:
            chosen = heapq.nsmallest(limit, rows, key=lambda r: (r[0], r[1]))
        out = []
        for value, _k, shard_id, seg, off in chosen:
            shard = self.shards[shard_id]
            with shard.lock:
                rec = shard._record(seg, off, with_payload, with_vectors)
            wire = self.record_to_wire(rec, shard_id)
            if is_datetime:  # Qdrant reports datetimes as microseconds since the epoch
                wire["order_value"] = round(value * 1e6)
            elif float(value).is_integer() and abs(value) < 2**53:
                wire["order_value"] = int(value)
            else:
                wire["order_value"] = value
            out.append(wire)
        return out

    def facet(self, key: str, flt: models.Filter | None, limit: int,
              shard_key: Any = None) -> list[dict[str, Any]]:
        if not _has_map_index(self._index_params(key)):
            raise BadRequest(
                f"No appropriate index for faceting: `{key}`. Please create one to facet on this "
                "field. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index "
                "to see which payload schemas support Match conditions")
        totals: dict[Any, int] = {}
        for shard_id in self.read_shards(shard_key):
            for value, cnt in self.shards[shard_id].facet(key, flt).items():
                totals[value] = totals.get(value, 0) + cnt
        hits = sorted(totals.items(), key=lambda kv: (-kv[1], _facet_sort(kv[0])))
        return [{"value": v, "count": c} for v, c in hits[:limit]]

    # ------------------------------------------------------------ info

    def points_count(self) -> int:
        return sum(s.points_count() for s in self.shards.values())

    def _index_params(self, key: str) -> Any:
        """The params of the payload index on `key`, or None."""
        for shard in self.shards.values():
            entry = shard.payload_schema().get(key)
            if entry is not None:
                return entry[0]
        return None

    def payload_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        for shard in self.shards.values():
            for key, (params, cnt) in shard.payload_schema().items():
                entry = schema.get(key)
                if entry is None:
                    schema[key] = {"params": params, "points": cnt}
                else:
                    entry["points"] += cnt
        out = {}
        for key, entry in schema.items():
            params = entry["params"]
            data = params.model_dump(mode="json", exclude_none=True) if hasattr(
                params, "model_dump") else {"type": getattr(params, "value", params)}
            info: dict[str, Any] = {"data_type": data["type"], "points": entry["points"]}
            if len(data) > 1:
                info["params"] = data
            out[key] = info
        return out

    def info(self) -> dict[str, Any]:
        points = self.points_count()
        return {
            "status": self.status(),
            "optimizer_status": "ok",
            "indexed_vectors_count": sum(s.indexed_vectors() for s in self.shards.values()),
            "points_count": points,
            "segments_count": sum(len(s.segments) for s in self.shards.values()),
            "config": self.config,
            "payload_schema": self.payload_schema(),
            "update_queue": {"length": 0},
            "created_at": self.created_at,
        }

    def cluster_info(self, peer_id: int) -> dict[str, Any]:
        local = []
        for shard_id, shard in sorted(self.shards.items()):
            entry: dict[str, Any] = {"shard_id": shard_id, "points_count": shard.points_count(),
                                     "state": "Active"}
            key = self._key_of_shard(shard_id)
            if key is not None:
                entry["shard_key"] = key
            local.append(entry)
        return {"peer_id": peer_id, "shard_count": len(self.shards), "local_shards": local,
                "remote_shards": [], "shard_transfers": []}


def _text_params(query: models.TextQuery) -> tuple[str, float, float]:
    """Text, k1 and b of a `text` query, or Qdrant's validation error."""
    if isinstance(query.text, str):
        return query.text, 1.2, 0.75
    bm25 = query.text.scoring.bm25 if query.text.scoring is not None else models.Bm25Params()
    k1 = 1.2 if bm25.k is None else bm25.k
    b = 0.75 if bm25.b is None else bm25.b
    if k1 < 0:
        raise BadInput(f"BM25 k value {k1} is invalid. Must be 0.0 or larger.")
    if not 0 <= b <= 1:
        raise BadInput(f"BM25 b value {b} is invalid. Must be from 0.0 to 1.0.")
    return query.text.query, k1, b


def _with_ids(op: Any, ids: list[PointId]) -> Any:
    import dataclasses

    return dataclasses.replace(op, selection=ops.PointSelection(ids=ids,
                                                                filter=op.selection.filter))


def _order_start(start: Any) -> float:
    if isinstance(start, int | float):
        return float(start)
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(f"invalid start_from {start!r}") from None
    if isinstance(start, datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return start.timestamp()
    raise BadInput(f"invalid start_from {start!r}")


def _facet_sort(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def _index_type(params: Any) -> str | None:
    return None if params is None else params_type(params)


def _has_range_index(params: Any) -> bool:
    kind = _index_type(params)
    if kind == "integer":
        return getattr(params, "range", None) is not False
    return kind in {"float", "datetime"}


def _has_map_index(params: Any) -> bool:
    kind = _index_type(params)
    if kind == "integer":
        return getattr(params, "lookup", None) is not False
    return kind in {"keyword", "bool", "uuid"}


def _best_hits(chunks: list[tuple[int, SegmentHits]], depth: int, threshold: float | None,
               distance: str) -> list[tuple[float, int, Any, int]]:
    """The best `depth` (score, shard, segment, offset) of per-segment hits, in Qdrant's
    order: by score, equal scores by point id; `threshold` drops what misses it."""
    if not chunks:
        return []
    if len(chunks) == 1:  # one segment's hits come ordered already
        shard_id, (seg, scores, offs) = chunks[0]
        if threshold is not None:
            keep = dist.passes_threshold(scores, threshold, distance)
            scores, offs = scores[keep], offs[keep]
        end = _cut_after_ties(scores, depth)
        rows = [(sc, shard_id, seg, off)
                for sc, off in zip(scores[:end].tolist(), offs[:end].tolist(), strict=True)]
    else:
        scores = np.concatenate([c.scores for _s, c in chunks])
        offs = np.concatenate([c.offsets for _s, c in chunks])
        owners = np.repeat(np.arange(len(chunks)), [len(c.scores) for _s, c in chunks])
        if threshold is not None:
            keep = dist.passes_threshold(scores, threshold, distance)
            scores, offs, owners = scores[keep], offs[keep], owners[keep]
        order = dist.top_k(scores, len(scores), distance)
        scores = scores[order]
        order = order[:_cut_after_ties(scores, depth)]
        rows = [(sc, chunks[o][0], chunks[o][1].segment, off)
                for sc, off, o in zip(scores[:len(order)].tolist(), offs[order].tolist(),
                                      owners[order].tolist(), strict=True)]
    if len(rows) > 1 and any(a[0] == b[0] for a, b in itertools.pairwise(rows)):
        _order_ties_by_id(rows, depth)
    return rows[:depth]


def _cut_after_ties(ordered: np.ndarray, depth: int) -> int:
    """How many of the `ordered` scores the best `depth` hits may come from: `depth`, or
    more when the scores tied with the last of them go on past it (ids order a tie)."""
    if len(ordered) <= depth or depth <= 0:
        return min(len(ordered), max(depth, 0))
    past = np.flatnonzero(ordered[depth:] != ordered[depth - 1])
    return depth + (int(past[0]) if len(past) else len(ordered) - depth)


def _order_ties_by_id(rows: list[tuple[float, int, Any, int]], depth: int) -> None:
    """Order each run of equal scores by point id, in place, for the runs that start within
    the first `depth` rows (`rows` are ordered by score; a run may straddle the cut)."""
    scores = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]]).tolist()
    ends = [*starts[1:], len(rows)]
    for start, end in zip(starts, ends, strict=True):
        if start >= depth:
            break
        if end - start > 1:
            rows[start:end] = sorted(rows[start:end],
                                     key=lambda h: point_id_sort_key(h[2].ids[h[3]]))
