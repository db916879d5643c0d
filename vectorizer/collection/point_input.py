"""Turn upsert / update-vectors bodies (plain JSON data) into validated `PointsBatch`es.

This is the write hot path: dense vectors of a batch become one numpy matrix
per vector name without a Python object per point.  Every check that can fail
runs here, before the WAL sees the operation, so a bad point anywhere refuses
the whole batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vectorizer.collection.config import DEFAULT_VECTOR
from vectorizer.collection.operations import DenseColumn, PointsBatch
from vectorizer.common.errors import BadInput, FormatError, ValidationError
from vectorizer.common.point_id import normalize_point_id
from vectorizer.index import bm25
from vectorizer.segment.segment import VectorSpec


def _format_error(msg: str) -> FormatError:
    return FormatError(f"Format error in JSON body: {msg}")


def _dim_error(expected: int, got: int) -> BadInput:
    return BadInput(f"Vector dimension error: expected dim: {expected}, got {got}")


def _name_error(name: str) -> BadInput:
    return BadInput(f"Not existing vector name error: {name}")


class _Collector:
    """Accumulates per-name vectors of a batch while validating them."""

    def __init__(self, specs: dict[str, VectorSpec]) -> None:
        self.specs = specs
        self.dense_rows: dict[str, list[int]] = {}
        self.dense_data: dict[str, list[Any]] = {}
        self.sparse: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        self.multi: dict[str, dict[int, np.ndarray]] = {}

    def add(self, row: int, name: str, value: Any, path: str) -> None:
        spec = self.specs.get(name)
        if isinstance(value, dict):
            if "indices" in value or "values" in value:
                if spec is None or spec.kind != "sparse":
                    raise _name_error(name)
                self.sparse.setdefault(name, {})[row] = parse_sparse(value, path)
                return
            if "model" in value or "text" in value or "image" in value or "object" in value:
                self.sparse.setdefault(name, {})[row] = embed_document(value, spec, name)
                return
            raise _format_error(f"{path}: unknown vector format")
        if not isinstance(value, list):
            raise _format_error(f"{path}: expected a vector, got {type(value).__name__}")
        if spec is None or spec.kind == "sparse":
            raise _name_error(name)
        if spec.kind == "multi":
            if not value or not all(isinstance(v, list) for v in value):
                raise ValidationError(
                    f"Validation error in JSON body: [{path}: multivector must not be empty]"
                    if not value else f"Format error in JSON body: {path}: expected multivector"
                )
            try:
                matrix = np.asarray(value, dtype=np.float32)
            except (ValueError, TypeError):
                raise BadInput("Multi vectors must have the same dimension") from None
            if matrix.shape[1] != spec.dim:
                raise _dim_error(spec.dim, matrix.shape[1])
            self.multi.setdefault(name, {})[row] = matrix
            return
        if value and isinstance(value[0], list):
            raise _format_error(f"{path}: expected a dense vector, got a multivector")
        self.dense_rows.setdefault(name, []).append(row)
        self.dense_data.setdefault(name, []).append(value)

    def columns(self) -> dict[str, DenseColumn]:
        out = {}
        for name, data in self.dense_data.items():
            dim = self.specs[name].dim
            try:
                matrix = np.asarray(data, dtype=np.float32)
            except (ValueError, TypeError):
                matrix = None
            if matrix is None or matrix.ndim != 2 or matrix.shape[1] != dim:
                for vec in data:
                    if not isinstance(vec, list):
                        raise _format_error("expected a list of numbers")
                    if len(vec) != dim:
                        raise _dim_error(dim, len(vec))
                    for x in vec:
                        if isinstance(x, bool) or not isinstance(x, int | float):
                            raise _format_error(f"invalid type: expected f32, got {x!r}")
                raise _format_error("invalid vector")
            if not np.isfinite(matrix).all():
                raise _format_error("vectors must contain finite numbers")
            out[name] = DenseColumn(rows=np.asarray(self.dense_rows[name], dtype=np.int64),
                                    data=matrix)
        return out


def embed_document(value: dict[str, Any], spec: VectorSpec | None,
                   name: str) -> tuple[np.ndarray, np.ndarray]:
    """Server-side inference of an upserted `Document`: the built-in `qdrant/bm25` model
    turns its text into a sparse vector; any other model or input gets Qdrant's error."""
    if "text" not in value:
        raise bm25.model_error(str(value.get("model")))
    text, model, options = bm25.document_model(value)
    if not bm25.is_bm25(model):
        raise bm25.model_error(model)
    if spec is None:
        raise _name_error(name)
    if spec.kind != "sparse":
        raise BadInput(f"model `{model}` produces sparse vectors, but vector "
                       f"`{name}` is not sparse")
    return bm25.bm25_for(options).doc_embed(text)


def parse_sparse(value: dict[str, Any], path: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a sparse vector and return it sorted by index."""
    indices, values = value.get("indices"), value.get("values")
    if not isinstance(indices, list) or not isinstance(values, list):
        raise _format_error(f"{path}: sparse vector needs `indices` and `values` lists")
    if len(indices) != len(values):
        raise ValidationError(
            f"Validation error in JSON body: [{path}: must be the same length as indices]"
        )
    try:
        idx = np.asarray(indices, dtype=np.int64)
        val = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        raise _format_error(f"{path}: invalid sparse vector") from None
    if len(idx) and (idx.min() < 0 or idx.max() > 2**32 - 1):
        raise _format_error(f"{path}: sparse indices must be u32")
    if len(np.unique(idx)) != len(idx):
        raise ValidationError(
            f"Validation error in JSON body: [{path}.indices: must be unique]"
        )
    order = np.argsort(idx, kind="stable")
    return idx[order].astype(np.uint32), val[order]


def _ids(raw_ids: Any, path: str) -> list:
    if not isinstance(raw_ids, list):
        raise _format_error(f"{path}: expected a list of point ids")
    try:
        return [normalize_point_id(i) for i in raw_ids]
    except ValueError as exc:
        raise _format_error(f"{path}: {exc}") from None


def _check_payload(payload: Any, path: str) -> dict[str, Any] | None:
    if payload is None or isinstance(payload, dict):
        return payload
    raise _format_error(f"{path}: payload must be a JSON object")


def points_from_list(points: Any, specs: dict[str, VectorSpec],
                     require_vectors: bool = True) -> PointsBatch:
    """Parse the `points` array of an upsert (or update-vectors) body."""
    if not isinstance(points, list):
        raise _format_error("points: expected a list")
    collector = _Collector(specs)
    ids = []
    payloads: list[dict[str, Any] | None] = []
    for row, point in enumerate(points):
        if not isinstance(point, dict) or "id" not in point:
            raise _format_error(f"points[{row}]: missing field `id`")
        try:
            ids.append(normalize_point_id(point["id"]))
        except ValueError as exc:
            raise _format_error(f"points[{row}].id: {exc}") from None
        vector = point.get("vector")
        if vector is None:
            if require_vectors:
                raise _format_error(f"points[{row}]: missing field `vector`")
        elif isinstance(vector, dict) and not _is_single_value(vector):
            for name, value in vector.items():
                collector.add(row, name, value, f"points[{row}].vector.{name}")
        else:
            collector.add(row, DEFAULT_VECTOR, vector, f"points[{row}].vector")
        payloads.append(_check_payload(point.get("payload"), f"points[{row}].payload"))
    return PointsBatch(ids=ids, dense=collector.columns(), sparse=collector.sparse,
                       multi=collector.multi, payloads=payloads)


def _is_single_value(vector: dict[str, Any]) -> bool:
    """A dict that is itself one vector value (sparse or inference input), not a name map."""
    if isinstance(vector.get("model"), str):
        return True
    indices, values = vector.get("indices"), vector.get("values")
    return (isinstance(indices, list) and isinstance(values, list)
            and all(not isinstance(x, list | dict) for x in indices))


def points_from_batch(batch: Any, specs: dict[str, VectorSpec]) -> PointsBatch:
    """Parse the columnar `batch` form of an upsert body."""
    if not isinstance(batch, dict):
        raise _format_error("batch: expected an object")
    ids = _ids(batch.get("ids"), "batch.ids")
    n = len(ids)
    vectors = batch.get("vectors")
    collector = _Collector(specs)
    if isinstance(vectors, list):
        if len(vectors) != n:
            raise BadInput(f"Mismatched length of ids and vectors: {n} ids, {len(vectors)} vectors")
        for row, value in enumerate(vectors):
            collector.add(row, DEFAULT_VECTOR, value, f"batch.vectors[{row}]")
    elif isinstance(vectors, dict):
        for name, column in vectors.items():
            if not isinstance(column, list) or len(column) != n:
                raise BadInput(f"Mismatched length of ids and vectors `{name}`")
            for row, value in enumerate(column):
                collector.add(row, name, value, f"batch.vectors.{name}[{row}]")
    elif vectors is not None:
        raise _format_error("batch.vectors: expected a list or an object")
    payloads = batch.get("payloads")
    if payloads is not None:
        if not isinstance(payloads, list) or len(payloads) != n:
            raise BadInput("Mismatched length of ids and payloads")
        payloads = [_check_payload(p, f"batch.payloads[{i}]") for i, p in enumerate(payloads)]
    return PointsBatch(ids=ids, dense=collector.columns(), sparse=collector.sparse,
                       multi=collector.multi, payloads=payloads)


def check_unique_ids(batch: PointsBatch) -> PointsBatch:
    """Qdrant applies duplicate ids in one batch in order: the last occurrence wins."""
    if len(set(batch.ids)) == len(batch.ids):
        return batch
    last: dict[Any, int] = {}
    for pos, pid in enumerate(batch.ids):
        last[pid] = pos
    return batch.subset(sorted(last.values()))
