"""Update operations as the engine applies them and as the WAL stores them.

The REST and gRPC edges turn requests into these; shards log them, then apply
them to segments.  Dense vectors travel as one numpy matrix per vector name so
that a large upsert never builds a Python object per point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from qdrant_client.http import models

from vectorizer.common.point_id import PointId
from vectorizer.index.payload.field_indexes import PARAMS_BY_TYPE

SparseValue = tuple[np.ndarray, np.ndarray]  # (indices uint32 sorted, values float32)


@dataclass
class DenseColumn:
    """Dense vectors of one name for the points of a batch that carry it."""

    rows: np.ndarray  # int64 positions in the batch
    data: np.ndarray  # (len(rows), dim) float32

    def take(self, positions: np.ndarray) -> DenseColumn:
        """The sub-column for batch positions `positions` (renumbered from 0)."""
        keep = np.isin(self.rows, positions)
        remap = {int(p): i for i, p in enumerate(positions)}
        rows = np.fromiter((remap[int(r)] for r in self.rows[keep]), dtype=np.int64)
        return DenseColumn(rows=rows, data=self.data[keep])


@dataclass
class PointsBatch:
    """Points with their vectors (columnar) and payloads."""

    ids: list[PointId]
    dense: dict[str, DenseColumn] = field(default_factory=dict)
    sparse: dict[str, dict[int, SparseValue]] = field(default_factory=dict)
    multi: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    payloads: list[dict[str, Any] | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def vector_names(self) -> set[str]:
        return set(self.dense) | set(self.sparse) | set(self.multi)

    def subset(self, positions: list[int]) -> PointsBatch:
        """The points at `positions`, in that order (used to split a batch by shard)."""
        if len(positions) == len(self.ids):
            return self
        pos = np.asarray(positions, dtype=np.int64)
        remap = {p: i for i, p in enumerate(positions)}
        return PointsBatch(
            ids=[self.ids[p] for p in positions],
            dense={n: c.take(pos) for n, c in self.dense.items()},
            sparse={
                n: {remap[r]: v for r, v in col.items() if r in remap}
                for n, col in self.sparse.items()
            },
            multi={
                n: {remap[r]: v for r, v in col.items() if r in remap}
                for n, col in self.multi.items()
            },
            payloads=None if self.payloads is None else [self.payloads[p] for p in positions],
        )


@dataclass
class PointSelection:
    """Which points an operation touches: explicit ids or a filter."""

    ids: list[PointId] | None = None
    filter: models.Filter | None = None


@dataclass
class Upsert:
    points: PointsBatch
    update_filter: models.Filter | None = None
    mode: str = "upsert"  # "upsert" | "insert_only" | "update_only"


@dataclass
class DeletePoints:
    selection: PointSelection


@dataclass
class SetPayload:
    payload: dict[str, Any]
    selection: PointSelection
    key: str | None = None


@dataclass
class OverwritePayload:
    payload: dict[str, Any]
    selection: PointSelection


@dataclass
class DeletePayload:
    keys: list[str]
    selection: PointSelection


@dataclass
class ClearPayload:
    selection: PointSelection


@dataclass
class UpdateVectors:
    points: PointsBatch
    update_filter: models.Filter | None = None


@dataclass
class DeleteVectors:
    selection: PointSelection
    vector_names: list[str]


@dataclass
class CreateFieldIndex:
    field_name: str
    field_schema: Any  # PayloadSchemaType or one of the *IndexParams models


@dataclass
class DeleteFieldIndex:
    field_name: str


Operation = (
    Upsert
    | DeletePoints
    | SetPayload
    | OverwritePayload
    | DeletePayload
    | ClearPayload
    | UpdateVectors
    | DeleteVectors
    | CreateFieldIndex
    | DeleteFieldIndex
)

# ---------------------------------------------------------------- WAL encoding


def _dump_filter(flt: models.Filter | None) -> Any:
    return None if flt is None else flt.model_dump(mode="json", exclude_unset=True)


def _load_filter(data: Any) -> models.Filter | None:
    return None if data is None else models.Filter.model_validate(data)


def _dump_selection(sel: PointSelection) -> dict[str, Any]:
    return {"ids": sel.ids, "filter": _dump_filter(sel.filter)}


def _load_selection(data: dict[str, Any]) -> PointSelection:
    return PointSelection(ids=data["ids"], filter=_load_filter(data["filter"]))


class _Blobs:
    """Raw array bytes that travel after a WAL record's JSON header (no float formatting)."""

    def __init__(self, data: bytes = b"") -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.data = data

    def put(self, array: np.ndarray) -> dict[str, Any]:
        array = np.ascontiguousarray(array)
        ref = {"$blob": [self.size, array.dtype.str, list(array.shape)]}
        raw = array.tobytes()
        self.parts.append(raw)
        self.size += len(raw)
        return ref

    def get(self, ref: Any) -> np.ndarray:
        if not (isinstance(ref, dict) and "$blob" in ref):
            return np.asarray(ref)  # records written before binary blobs
        offset, dtype, shape = ref["$blob"]
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(self.data, dtype=np.dtype(dtype), count=count, offset=offset)
        return array.reshape(shape).copy()


_BINARY_MAGIC = b"VZW2"


def _dump_points(batch: PointsBatch, blobs: _Blobs | None = None) -> dict[str, Any]:
    def arr(a: np.ndarray) -> Any:
        return a if blobs is None else blobs.put(a)

    return {
        "ids": batch.ids,
        "dense": {n: {"rows": arr(c.rows), "data": arr(c.data)} for n, c in batch.dense.items()},
        "sparse": {
            n: [[r, idx, val] for r, (idx, val) in col.items()] for n, col in batch.sparse.items()
        },
        "multi": {n: [[r, m] for r, m in col.items()] for n, col in batch.multi.items()},
        "payloads": batch.payloads,
    }


def _load_points(data: dict[str, Any], blobs: _Blobs | None = None) -> PointsBatch:
    blobs = blobs or _Blobs()
    dense = {}
    for name, col in data["dense"].items():
        rows = blobs.get(col["rows"]).astype(np.int64, copy=False)
        matrix = blobs.get(col["data"]).astype(np.float32, copy=False)
        if matrix.ndim != 2:
            matrix = matrix.reshape(len(rows), -1)
        dense[name] = DenseColumn(rows=rows, data=matrix)
    sparse = {
        n: {
            int(r): (np.asarray(i, dtype=np.uint32), np.asarray(v, dtype=np.float32))
            for r, i, v in col
        }
        for n, col in data["sparse"].items()
    }
    multi = {
        n: {int(r): np.asarray(m, dtype=np.float32) for r, m in col}
        for n, col in data["multi"].items()
    }
    return PointsBatch(
        ids=data["ids"], dense=dense, sparse=sparse, multi=multi, payloads=data["payloads"]
    )


def _schema_dump(schema: Any) -> Any:
    if hasattr(schema, "model_dump"):
        return schema.model_dump(mode="json", exclude_unset=True)
    if hasattr(schema, "value"):
        return schema.value
    return schema


def encode_operation(op: Operation) -> bytes:
    """Serialize an operation for the WAL.

    A JSON header (orjson) followed by the raw bytes of the dense vector arrays, so
    large upserts are not formatted as decimal text.
    """
    blobs = _Blobs()
    match op:
        case Upsert():
            doc = {"op": "upsert", "points": _dump_points(op.points, blobs),
                   "update_filter": _dump_filter(op.update_filter), "mode": op.mode}
        case UpdateVectors():
            doc = {"op": "update_vectors", "points": _dump_points(op.points, blobs),
                   "update_filter": _dump_filter(op.update_filter)}
        case DeletePoints():
            doc = {"op": "delete", "sel": _dump_selection(op.selection)}
        case SetPayload():
            doc = {"op": "set_payload", "payload": op.payload, "key": op.key,
                   "sel": _dump_selection(op.selection)}
        case OverwritePayload():
            doc = {"op": "overwrite_payload", "payload": op.payload,
                   "sel": _dump_selection(op.selection)}
        case DeletePayload():
            doc = {"op": "delete_payload", "keys": op.keys, "sel": _dump_selection(op.selection)}
        case ClearPayload():
            doc = {"op": "clear_payload", "sel": _dump_selection(op.selection)}
        case DeleteVectors():
            doc = {"op": "delete_vectors", "names": op.vector_names,
                   "sel": _dump_selection(op.selection)}
        case CreateFieldIndex():
            doc = {"op": "create_index", "field": op.field_name,
                   "schema": _schema_dump(op.field_schema)}
        case DeleteFieldIndex():
            doc = {"op": "delete_index", "field": op.field_name}
        case _:
            raise TypeError(f"unknown operation {op!r}")
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    return b"".join([_BINARY_MAGIC, len(header).to_bytes(4, "little"), header, *blobs.parts])


def decode_operation(raw: bytes) -> Operation:
    """Inverse of `encode_operation` (also reads the older all-JSON records)."""
    if raw[:4] == _BINARY_MAGIC:
        length = int.from_bytes(raw[4:8], "little")
        doc = orjson.loads(raw[8:8 + length])
        blobs = _Blobs(raw[8 + length:])
    else:
        doc, blobs = orjson.loads(raw), _Blobs()
    kind = doc["op"]
    if kind == "upsert":
        return Upsert(_load_points(doc["points"], blobs), _load_filter(doc["update_filter"]),
                      doc.get("mode", "upsert"))
    if kind == "update_vectors":
        return UpdateVectors(_load_points(doc["points"], blobs),
                             _load_filter(doc["update_filter"]))
    if kind == "delete":
        return DeletePoints(_load_selection(doc["sel"]))
    if kind == "set_payload":
        return SetPayload(doc["payload"], _load_selection(doc["sel"]), doc["key"])
    if kind == "overwrite_payload":
        return OverwritePayload(doc["payload"], _load_selection(doc["sel"]))
    if kind == "delete_payload":
        return DeletePayload(doc["keys"], _load_selection(doc["sel"]))
    if kind == "clear_payload":
        return ClearPayload(_load_selection(doc["sel"]))
    if kind == "delete_vectors":
        return DeleteVectors(_load_selection(doc["sel"]), doc["names"])
    if kind == "create_index":
        return CreateFieldIndex(doc["field"], parse_field_schema(doc["schema"]))
    if kind == "delete_index":
        return DeleteFieldIndex(doc["field"])
    raise ValueError(f"unknown WAL operation kind {kind!r}")


def parse_field_schema(data: Any) -> Any:
    """Parse a `field_schema` value (a type name or a params object) into a model."""
    if isinstance(data, str):
        return models.PayloadSchemaType(data)
    if isinstance(data, dict):
        kind = data.get("type")
        cls = PARAMS_BY_TYPE.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ValueError(f"unknown payload index type {kind!r}")
        return cls.model_validate(data)
    if isinstance(data, models.PayloadSchemaType) or hasattr(data, "model_dump"):
        return data
    raise ValueError(f"invalid field_schema {data!r}")
