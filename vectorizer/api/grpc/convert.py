"""Protobuf ⟷ REST conversions that `qdrant_client.conversions` lacks, plus fast paths.

Requests: a protobuf request becomes the JSON body the REST handler would
receive (`GrpcToRest` for the sub-messages, dumped as JSON), so the same
parsing and engine functions run for both transports. Responses: the REST
result (plain JSON-shaped data) becomes a REST model and then protobuf with
`RestToGrpc`; the hot shapes (points, scored points, update results) are
converted directly, field for field, without the pydantic round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import orjson
import pydantic
from google.protobuf.message import Message
from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc, json_to_value
from qdrant_client.http import models

from vectorizer.api.rest.envelope import dumps, parse_model
from vectorizer.collection.config import DEFAULT_VECTOR
from vectorizer.collection.operations import DenseColumn, PointsBatch
from vectorizer.common.errors import FormatError
from vectorizer.common.point_id import normalize_point_id

M = TypeVar("M", bound=pydantic.BaseModel)

# ---------------------------------------------------------------- generic helpers


def wire(result: Any) -> Any:
    """`result` exactly as REST serializes it (numpy, models and enums made plain JSON)."""
    return orjson.loads(dumps(result))


def as_model(model: type[M], result: Any) -> M:
    """A REST result as the qdrant-client model of its response schema."""
    return model.model_validate(wire(result))


def dump(value: Any) -> Any:
    """A converted REST model (or list/dict of them) as JSON data, unset fields left out."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value


def as_request(model: type[M], converted: pydantic.BaseModel) -> M:
    """A converted request model re-read from its JSON, exactly as REST reads its body.

    (Converters set every field, unset ones to None; a REST body just leaves them out,
    and the engine merges only what a request sets.)
    """
    return parse_model(model, dump(converted))


def optional(msg: Message, field: str, convert: Callable[[Any], Any] | None = None) -> Any:
    """`convert(msg.field)` if the (optional or message) field is set, else None."""
    if not msg.HasField(field):
        return None
    value = getattr(msg, field)
    return convert(value) if convert is not None else value


def invalid(message: str) -> FormatError:
    """A malformed protobuf request: INVALID_ARGUMENT, worded like REST's body errors."""
    return FormatError(f"Format error in gRPC request: {message}")


def guarded(convert: Callable[..., Any], *args: Any) -> Any:
    """Run a qdrant-client converter; its ValueError (malformed oneof) becomes a 400."""
    try:
        return convert(*args)
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid(str(exc)) from None


# ---------------------------------------------------------------- request pieces


def point_id(pid: pb.PointId) -> int | str:
    kind = pid.WhichOneof("point_id_options")
    if kind == "num":
        return pid.num
    if kind == "uuid":
        return pid.uuid
    raise invalid("point id is empty")


def filter_json(msg: Message, field: str = "filter") -> Any:
    return dump(guarded(GrpcToRest.convert_filter, getattr(msg, field))) \
        if msg.HasField(field) else None


def shard_key_json(msg: Message, field: str = "shard_key_selector") -> Any:
    return dump(guarded(GrpcToRest.convert_shard_key_selector, getattr(msg, field))) \
        if msg.HasField(field) else None


def with_payload_json(msg: Message, field: str = "with_payload") -> Any:
    return dump(guarded(GrpcToRest.convert_with_payload_selector, getattr(msg, field))) \
        if msg.HasField(field) else None


def with_vectors_json(msg: Message, field: str = "with_vectors") -> Any:
    return dump(guarded(GrpcToRest.convert_with_vectors_selector, getattr(msg, field))) \
        if msg.HasField(field) else None


def params_json(msg: Message, field: str = "params") -> Any:
    return dump(guarded(GrpcToRest.convert_search_params, getattr(msg, field))) \
        if msg.HasField(field) else None


def vector_json(vec: pb.Vector) -> Any:
    """One vector value of a point as REST JSON (dense list fast; others via GrpcToRest)."""
    kind = vec.WhichOneof("vector")
    if kind == "dense":
        return vec.dense.data[:]
    if kind is None and not vec.HasField("indices") and not vec.vectors_count:
        return list(vec.data)  # the deprecated flat form
    return dump(guarded(GrpcToRest.convert_vector, vec))


def vectors_json(vectors: pb.Vectors) -> Any:
    kind = vectors.WhichOneof("vectors_options")
    if kind == "vector":
        return vector_json(vectors.vector)
    if kind == "vectors":
        return {name: vector_json(v) for name, v in vectors.vectors.vectors.items()}
    raise invalid("vectors are empty")


def payload_json(payload: Any) -> dict[str, Any]:
    return GrpcToRest.convert_payload(payload)


def point_json(point: pb.PointStruct) -> dict[str, Any]:
    """A `PointStruct` as an element of the REST upsert body's `points`."""
    out: dict[str, Any] = {"id": point_id(point.id)}
    if point.HasField("vectors"):
        out["vector"] = vectors_json(point.vectors)
    if point.payload:
        out["payload"] = payload_json(point.payload)
    return out


def dense_points_batch(points: Any, specs: dict[str, Any]) -> PointsBatch | None:
    """Fast path of upsert parsing: points whose vectors are all dense and well-formed.

    The vectors' packed float32 bytes go straight into one matrix per vector name, with
    no per-point Python lists. Anything else — sparse or multi vectors, unknown names,
    wrong dimensions, non-finite values, bad ids — returns None, and the caller parses
    the REST body instead, so errors are REST's, word for word.
    """
    if not points:
        return None
    spec = specs.get(DEFAULT_VECTOR)
    if spec is not None and spec.kind == "dense":
        batch = _unnamed_dense_batch(points, spec.dim)
        if batch is not None:
            return batch
    ids: list[Any] = []
    rows: dict[str, list[int]] = {}
    chunks: dict[str, list[bytes]] = {}
    payloads: list[dict[str, Any] | None] = []
    for row, point in enumerate(points):
        kind = point.id.WhichOneof("point_id_options")
        if kind == "num":
            ids.append(point.id.num)
        elif kind == "uuid":
            try:
                ids.append(normalize_point_id(point.id.uuid))
            except ValueError:
                return None
        else:
            return None
        vectors = point.vectors
        which = vectors.WhichOneof("vectors_options")
        if which == "vector":
            items: Any = ((DEFAULT_VECTOR, vectors.vector),)
        elif which == "vectors":
            items = vectors.vectors.vectors.items()
        else:
            return None
        for name, vec in items:
            spec = specs.get(name)
            if spec is None or spec.kind != "dense" or vec.WhichOneof("vector") != "dense" \
                    or len(vec.dense.data) != spec.dim:
                return None
            raw = vec.dense.SerializeToString()  # tag, length, then the packed floats
            chunks.setdefault(name, []).append(raw[len(raw) - 4 * spec.dim:])
            rows.setdefault(name, []).append(row)
        payloads.append(payload_json(point.payload) if point.payload else None)
    columns = {}
    for name, parts in chunks.items():
        matrix = np.frombuffer(b"".join(parts), dtype="<f4").reshape(-1, specs[name].dim)
        if not np.isfinite(matrix).all():
            return None
        columns[name] = DenseColumn(rows=np.asarray(rows[name], dtype=np.int64),
                                    data=matrix.astype(np.float32))
    return PointsBatch(ids=ids, dense=columns, payloads=payloads)


def _unnamed_dense_batch(points: Any, dim: int) -> PointsBatch | None:
    """`dense_points_batch` when every point has one unnamed dense vector (the common
    upload): one chain of attribute reads per point, and the packed floats of all points
    checked and cut out of their serialized `DenseVector`s at once."""
    header = b"\x0a" + _varint(4 * dim)  # field 1 (packed floats), length
    width = len(header) + 4 * dim
    ids: list[Any] = []
    raws: list[bytes] = []
    payloads: list[dict[str, Any] | None] = []
    for point in points:
        pid = point.id
        if pid.WhichOneof("point_id_options") != "num":
            return None  # uuids: the general path normalises them
        ids.append(pid.num)
        raws.append(point.vectors.vector.dense.SerializeToString())  # b"" unless dense
        payload = point.payload
        payloads.append(payload_json(payload) if payload else None)
    packed = b"".join(raws)
    if len(packed) != width * len(raws):
        return None
    table = np.frombuffer(packed, dtype=np.uint8).reshape(len(raws), width)
    if not (table[:, :len(header)] == np.frombuffer(header, dtype=np.uint8)).all():
        return None
    matrix = table[:, len(header):].copy().view("<f4").astype(np.float32, copy=False)
    if not np.isfinite(matrix).all():
        return None
    column = DenseColumn(rows=np.arange(len(ids), dtype=np.int64), data=matrix)
    return PointsBatch(ids=ids, dense={DEFAULT_VECTOR: column}, payloads=payloads)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def point_vectors_json(point: pb.PointVectors) -> dict[str, Any]:
    """A `PointVectors` as an element of the REST update-vectors body's `points`."""
    return {"id": point_id(point.id), "vector": vectors_json(point.vectors)}


def selector_json(selector: pb.PointsSelector) -> dict[str, Any]:
    """A `PointsSelector` as the `points` / `filter` keys of a REST body."""
    kind = selector.WhichOneof("points_selector_one_of")
    if kind == "points":
        return {"points": [point_id(p) for p in selector.points.ids]}
    if kind == "filter":
        return {"filter": dump(guarded(GrpcToRest.convert_filter, selector.filter))}
    raise invalid("points selector is empty")


def update_mode_json(msg: Message) -> Any:
    return dump(GrpcToRest.convert_update_mode(msg.update_mode)) \
        if msg.HasField("update_mode") else None


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without the keys whose value is None (absent, as in a REST body)."""
    return {k: v for k, v in body.items() if v is not None}


# ---------------------------------------------------------------- collection requests


def create_collection(req: pb.CreateCollection) -> models.CreateCollection:
    """`CreateCollection` → the REST `CreateCollection` body (qdrant-client has no converter)."""
    G = GrpcToRest
    return as_request(models.CreateCollection, guarded(lambda: models.CreateCollection(
        vectors=optional(req, "vectors_config", G.convert_vectors_config),
        shard_number=optional(req, "shard_number"),
        sharding_method=optional(req, "sharding_method", G.convert_sharding_method),
        replication_factor=optional(req, "replication_factor"),
        write_consistency_factor=optional(req, "write_consistency_factor"),
        on_disk_payload=optional(req, "on_disk_payload"),
        payload=optional(req, "payload", G.convert_payload_storage_params),
        id_tracker=optional(req, "id_tracker", G.convert_id_tracker_params),
        hnsw_config=optional(req, "hnsw_config", G.convert_hnsw_config_diff),
        wal_config=optional(req, "wal_config", G.convert_wal_config_diff),
        optimizers_config=optional(req, "optimizers_config", G.convert_optimizers_config_diff),
        quantization_config=optional(req, "quantization_config",
                                     G.convert_quantization_config),
        sparse_vectors=optional(req, "sparse_vectors_config", G.convert_sparse_vector_config),
        strict_mode_config=optional(req, "strict_mode_config", G.convert_strict_mode_config),
        metadata=G.convert_payload(req.metadata) if req.metadata else None,
    )))


def update_collection(req: pb.UpdateCollection) -> models.UpdateCollection:
    update = guarded(GrpcToRest.convert_update_collection, req)
    if req.metadata and update.metadata is None:
        update.metadata = GrpcToRest.convert_payload(req.metadata)
    return as_request(models.UpdateCollection, update)


# ---------------------------------------------------------------- responses


def point_id_pb(pid: Any) -> pb.PointId:
    return pb.PointId(num=pid) if isinstance(pid, int) else pb.PointId(uuid=str(pid))


def _dense_out(values: Any) -> pb.VectorOutput:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if values and isinstance(values[0], list | np.ndarray):
        return pb.VectorOutput(multi_dense=pb.MultiDenseVector(
            vectors=[pb.DenseVector(data=list(row)) for row in values]))
    return pb.VectorOutput(dense=pb.DenseVector(data=values))


def _vector_out(value: Any) -> pb.VectorOutput:
    if isinstance(value, dict):  # sparse
        return pb.VectorOutput(sparse=pb.SparseVector(
            indices=list(value["indices"]), values=list(value["values"])))
    if hasattr(value, "indices") and hasattr(value, "values") and not isinstance(value, list):
        return pb.VectorOutput(sparse=pb.SparseVector(
            indices=list(value.indices), values=list(value.values)))
    return _dense_out(value)


def vectors_out(vector: Any) -> pb.VectorsOutput:
    """A point's `vector` as REST returns it (list, or name → value) as `VectorsOutput`."""
    if isinstance(vector, dict):
        return pb.VectorsOutput(vectors=pb.NamedVectorsOutput(
            vectors={name: _vector_out(v) for name, v in vector.items()}))
    return pb.VectorsOutput(vector=_dense_out(vector))


def payload_out(payload: dict[str, Any]) -> dict[str, pb.Value]:
    return {key: json_to_value(value) for key, value in payload.items()}


def _point_fields(hit: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments shared by `ScoredPoint` and `RetrievedPoint`."""
    fields: dict[str, Any] = {"id": point_id_pb(hit["id"])}
    payload = hit.get("payload")
    if payload:
        try:
            fields["payload"] = payload_out(payload)
        except (TypeError, ValueError):  # values JSON knows but json_to_value does not
            fields["payload"] = payload_out(wire(payload))
    vector = hit.get("vector")
    if vector is not None:
        fields["vectors"] = vectors_out(vector)
    shard_key = hit.get("shard_key")
    if shard_key is not None:
        fields["shard_key"] = RestToGrpc.convert_shard_key(shard_key)
    order_value = hit.get("order_value")
    if order_value is not None:
        fields["order_value"] = RestToGrpc.convert_order_value(order_value)
    return fields


def scored_point(hit: dict[str, Any]) -> pb.ScoredPoint:
    """An engine hit (`{"id", "score", "version", "payload", "vector", …}`) as `ScoredPoint`."""
    score, version = float(hit["score"]), int(hit.get("version") or 0)
    if hit.get("payload") or hit.get("vector") is not None or hit.get("shard_key") is not None \
            or hit.get("order_value") is not None:
        return pb.ScoredPoint(score=score, version=version, **_point_fields(hit))
    pid = hit["id"]  # the common bare hit: id and score only
    return pb.ScoredPoint(id=pb.PointId(num=pid) if type(pid) is int else pb.PointId(
        uuid=str(pid)), score=score, version=version)


def retrieved_point(record: dict[str, Any]) -> pb.RetrievedPoint:
    """An engine record (`{"id", "payload", "vector", …}`) as `RetrievedPoint`."""
    return pb.RetrievedPoint(**_point_fields(record))


def update_result(result: dict[str, Any]) -> pb.UpdateResult:
    """`{"operation_id", "status"}` as `UpdateResult`."""
    status = (pb.UpdateStatus.Completed if result["status"] == "completed"
              else pb.UpdateStatus.Acknowledged)
    return pb.UpdateResult(operation_id=result["operation_id"], status=status)


def groups_result(result: dict[str, Any]) -> pb.GroupsResult:
    """`{"groups": [{"id", "hits", "lookup"?}]}` as `GroupsResult`."""
    groups = []
    for group in result["groups"]:
        msg = pb.PointGroup(id=RestToGrpc.convert_group_id(group["id"]),
                            hits=[scored_point(h) for h in group["hits"]])
        if group.get("lookup") is not None:
            msg.lookup.CopyFrom(retrieved_point(group["lookup"]))
        groups.append(msg)
    return pb.GroupsResult(groups=groups)


# ---------------------------------------------------------------- point requests


def field_schema_json(req: pb.CreateFieldIndexCollection) -> Any:
    """`field_index_params` (with their type) or the bare `field_type`, as REST's field_schema."""
    if req.HasField("field_index_params"):
        return dump(guarded(GrpcToRest.convert_payload_schema_params, req.field_index_params))
    if req.HasField("field_type"):
        return pb.FieldType.Name(req.field_type).removeprefix("FieldType").lower()
    return None


def example_json(example: pb.VectorExample) -> Any:
    """A recommend/discover example: a point id or a vector."""
    kind = example.WhichOneof("example")
    if kind == "id":
        return point_id(example.id)
    if kind == "vector":
        return vector_json(example.vector)
    raise invalid("example is empty")


def with_lookup_json(msg: Message) -> Any:
    if not msg.HasField("with_lookup"):
        return None
    lookup = msg.with_lookup
    return compact({"collection": lookup.collection,
                    "with_payload": with_payload_json(lookup),
                    "with_vectors": with_vectors_json(lookup)})


def lookup_from_json(msg: Message) -> Any:
    if not msg.HasField("lookup_from"):
        return None
    where = msg.lookup_from
    return compact({"collection": where.collection_name,
                    "vector": where.vector_name if where.HasField("vector_name") else None,
                    "shard_key": shard_key_json(where)})


def search_json(req: pb.SearchPoints | pb.SearchPointGroups) -> dict[str, Any]:
    """The REST body of a search (or search-groups) request."""
    vector: Any = list(req.vector)
    if req.HasField("sparse_indices"):
        vector = {"name": req.vector_name if req.HasField("vector_name") else "",
                  "vector": {"indices": list(req.sparse_indices.data), "values": vector}}
    elif req.HasField("vector_name"):
        vector = {"name": req.vector_name, "vector": vector}
    return compact({
        "vector": vector, "filter": filter_json(req), "params": params_json(req),
        "limit": req.limit, "with_payload": with_payload_json(req),
        "with_vector": with_vectors_json(req),
        "score_threshold": optional(req, "score_threshold"),
        "offset": optional(req, "offset") if "offset" in req.DESCRIPTOR.fields_by_name else None,
        "shard_key": shard_key_json(req),
    })


def _groups_json(req: Message) -> dict[str, Any]:
    return compact({"group_by": req.group_by, "group_size": req.group_size,
                    "with_lookup": with_lookup_json(req)})


def search_groups_json(req: pb.SearchPointGroups) -> dict[str, Any]:
    return {**search_json(req), **_groups_json(req)}


def recommend_json(req: pb.RecommendPoints | pb.RecommendPointGroups) -> dict[str, Any]:
    """The REST body of a recommend (or recommend-groups) request."""
    strategy = optional(req, "strategy", GrpcToRest.convert_recommend_strategy)
    return compact({
        "positive": [point_id(p) for p in req.positive]
                    + [vector_json(v) for v in req.positive_vectors],
        "negative": [point_id(p) for p in req.negative]
                    + [vector_json(v) for v in req.negative_vectors],
        "strategy": dump(strategy), "filter": filter_json(req), "params": params_json(req),
        "limit": req.limit, "with_payload": with_payload_json(req),
        "with_vector": with_vectors_json(req),
        "score_threshold": optional(req, "score_threshold"),
        "offset": optional(req, "offset") if "offset" in req.DESCRIPTOR.fields_by_name else None,
        "using": optional(req, "using"), "lookup_from": lookup_from_json(req),
        "shard_key": shard_key_json(req),
    })


def recommend_groups_json(req: pb.RecommendPointGroups) -> dict[str, Any]:
    return {**recommend_json(req), **_groups_json(req)}


def discover_json(req: pb.DiscoverPoints) -> dict[str, Any]:
    """The REST body of a discover request."""
    target = example_json(req.target.single) if req.HasField("target") else None
    return compact({
        "target": target,
        "context": [{"positive": example_json(p.positive), "negative": example_json(p.negative)}
                    for p in req.context],
        "filter": filter_json(req), "params": params_json(req), "limit": req.limit,
        "offset": optional(req, "offset"), "with_payload": with_payload_json(req),
        "with_vector": with_vectors_json(req), "using": optional(req, "using"),
        "lookup_from": lookup_from_json(req), "shard_key": shard_key_json(req),
    })


def query_json(query: pb.Query) -> Any:
    """A `Query` as REST's `query` value (a dense vector or an id directly; others converted)."""
    if query.WhichOneof("variant") == "nearest":
        nearest = query.nearest
        kind = nearest.WhichOneof("variant")
        if kind == "dense":
            return nearest.dense.data[:]
        if kind == "id":
            return point_id(nearest.id)
    return dump(guarded(GrpcToRest.convert_query, query))


def query_body(req: pb.QueryPoints | pb.QueryPointGroups) -> dict[str, Any]:
    """The REST body of a query (or query-groups) request."""
    return compact({
        "prefetch": [dump(guarded(GrpcToRest.convert_prefetch_query, p))
                     for p in req.prefetch] or None,
        "query": query_json(req.query) if req.HasField("query") else None,
        "using": optional(req, "using"), "filter": filter_json(req),
        "params": params_json(req), "score_threshold": optional(req, "score_threshold"),
        "limit": optional(req, "limit"),
        "offset": optional(req, "offset") if "offset" in req.DESCRIPTOR.fields_by_name else None,
        "with_vector": with_vectors_json(req), "with_payload": with_payload_json(req),
        "lookup_from": optional(req, "lookup_from", lambda where: dump(
            guarded(GrpcToRest.convert_lookup_location, where))),
        "shard_key": shard_key_json(req),
    })


def query_request(req: pb.QueryPoints) -> models.QueryRequest:
    """`QueryPoints` → REST `QueryRequest`, parsed from its JSON body as REST parses it."""
    return parse_model(models.QueryRequest, query_body(req))


def query_groups_request(req: pb.QueryPointGroups) -> models.QueryGroupsRequest:
    """`QueryPointGroups` → REST `QueryGroupsRequest` (qdrant-client has no converter)."""
    body = {**query_body(req), "group_by": req.group_by,
            "group_size": optional(req, "group_size"),
            "with_lookup": optional(req, "with_lookup", lambda w: dump(
                guarded(GrpcToRest.convert_with_lookup, w)))}
    return parse_model(models.QueryGroupsRequest, compact(body))


def selector_of(msg: Message, field: str) -> dict[str, Any]:
    return selector_json(getattr(msg, field)) if msg.HasField(field) else {}


def batch_operation_json(op: pb.PointsUpdateOperation) -> dict[str, Any]:
    """One `PointsUpdateOperation` as an element of the REST batch body's `operations`."""
    kind = op.WhichOneof("operation")
    val = getattr(op, kind) if kind else None
    if kind == "upsert":
        inner = {"points": [point_json(p) for p in val.points],
                 "update_filter": filter_json(val, "update_filter"),
                 "update_mode": update_mode_json(val)}
    elif kind in ("delete_deprecated", "clear_payload_deprecated"):
        return {kind.removesuffix("_deprecated"): selector_json(val)}
    elif kind in ("delete_points", "clear_payload"):
        inner = selector_of(val, "points")
        kind = "delete" if kind == "delete_points" else kind
    elif kind in ("set_payload", "overwrite_payload"):
        inner = {"payload": payload_json(val.payload), **selector_of(val, "points_selector"),
                 "key": optional(val, "key")}
    elif kind == "delete_payload":
        inner = {"keys": list(val.keys), **selector_of(val, "points_selector")}
    elif kind == "update_vectors":
        inner = {"points": [point_vectors_json(p) for p in val.points],
                 "update_filter": filter_json(val, "update_filter")}
    elif kind == "delete_vectors":
        inner = {"vector": list(val.vectors.names), **selector_of(val, "points_selector")}
    else:
        raise invalid("update operation is empty")
    inner["shard_key"] = shard_key_json(val)
    return {kind: compact(inner)}
