"""REST handlers for point updates: upsert, delete, payload and vector changes, batches, indexes."""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import (
    endpoint,
    json_body,
    parse_model,
    query_bool,
    run,
    run_short,
)
from vectorizer.collection import operations as ops
from vectorizer.collection.collection import Collection
from vectorizer.collection.point_input import (
    check_unique_ids,
    points_from_batch,
    points_from_list,
)
from vectorizer.common.errors import FormatError
from vectorizer.common.point_id import normalize_point_id


def collection_of(request: Request) -> Collection:
    return request.app.state.toc.get(request.path_params["collection_name"])


def _ids(raw: Any) -> list:
    try:
        return [normalize_point_id(i) for i in raw]
    except ValueError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def _filter(raw: Any) -> models.Filter | None:
    return None if raw is None else parse_model(models.Filter, raw)


def selection(body: dict[str, Any]) -> ops.PointSelection:
    """`points` ids or a `filter` from a selector-shaped body."""
    points, flt = body.get("points"), body.get("filter")
    if points is None and flt is None:
        raise FormatError("Format error in JSON body: expected `points` or `filter`")
    return ops.PointSelection(ids=None if points is None else _ids(points), filter=_filter(flt))


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FormatError("Format error in JSON body: expected a JSON object")
    return body


def upsert_op(body: dict[str, Any], col: Collection) -> ops.Upsert:
    specs = col.vector_specs()
    if "points" in body:
        batch = points_from_list(body["points"], specs)
    elif "batch" in body:
        batch = points_from_batch(body["batch"], specs)
    else:
        raise FormatError("Format error in JSON body: expected `points` or `batch`")
    return upsert_of(batch, body)


def upsert_of(batch: ops.PointsBatch, body: dict[str, Any]) -> ops.Upsert:
    """The upsert of parsed points, with the body's `update_mode` and `update_filter`."""
    mode = body.get("update_mode") or "upsert"
    if mode not in {"upsert", "insert_only", "update_only"}:
        raise FormatError(f"Format error in JSON body: unknown update_mode `{mode}`")
    return ops.Upsert(check_unique_ids(batch), _filter(body.get("update_filter")), mode)


def update_vectors_op(body: dict[str, Any], col: Collection) -> ops.UpdateVectors:
    batch = points_from_list(body.get("points"), col.vector_specs())
    return ops.UpdateVectors(check_unique_ids(batch), _filter(body.get("update_filter")))


def set_payload_op(body: dict[str, Any]) -> ops.SetPayload:
    model = parse_model(models.SetPayload, body)
    return ops.SetPayload(model.payload, selection(body), model.key)


def overwrite_payload_op(body: dict[str, Any]) -> ops.OverwritePayload:
    model = parse_model(models.SetPayload, body)
    return ops.OverwritePayload(model.payload, selection(body))


def delete_payload_op(body: dict[str, Any]) -> ops.DeletePayload:
    model = parse_model(models.DeletePayload, body)
    return ops.DeletePayload(model.keys, selection(body))


def delete_vectors_op(body: dict[str, Any]) -> ops.DeleteVectors:
    model = parse_model(models.DeleteVectors, body)
    return ops.DeleteVectors(selection(body), model.vector)


def apply(col: Collection, op: ops.Operation, shard_key: Any, wait: bool) -> dict[str, Any]:
    """Run one update; its `UpdateResult` (completed once durable when `wait`)."""
    op_id = col.update(op, shard_key, wait)
    return {"operation_id": op_id, "status": "completed" if wait else "acknowledged"}


async def _apply(request: Request, op: ops.Operation, shard_key: Any,
                 short: bool = True) -> dict[str, Any]:
    """Apply `op`; `short`: it takes milliseconds (not a field index build over the whole
    collection), so it may run on the event loop's thread (`run_short`)."""
    col = collection_of(request)
    wait = query_bool(request, "wait", False)
    if not short:
        return await run(apply, col, op, shard_key, wait)
    return await run_short(request, apply, col, op, shard_key, wait)


@endpoint
async def upsert_points(request: Request) -> Any:
    body = _object(await json_body(request))
    op = upsert_op(body, collection_of(request))
    return await _apply(request, op, body.get("shard_key"))


@endpoint
async def delete_points(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, ops.DeletePoints(selection(body)), body.get("shard_key"))


@endpoint
async def update_vectors(request: Request) -> Any:
    body = _object(await json_body(request))
    op = update_vectors_op(body, collection_of(request))
    return await _apply(request, op, body.get("shard_key"))


@endpoint
async def delete_vectors(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, delete_vectors_op(body), body.get("shard_key"))


@endpoint
async def set_payload(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, set_payload_op(body), body.get("shard_key"))


@endpoint
async def overwrite_payload(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, overwrite_payload_op(body), body.get("shard_key"))


@endpoint
async def delete_payload(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, delete_payload_op(body), body.get("shard_key"))


@endpoint
async def clear_payload(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, ops.ClearPayload(selection(body)), body.get("shard_key"))


_BATCH_PARSERS = {
    "upsert": lambda b, c: upsert_op(b, c),
    "delete": lambda b, c: ops.DeletePoints(selection(b)),
    "set_payload": lambda b, c: set_payload_op(b),
    "overwrite_payload": lambda b, c: overwrite_payload_op(b),
    "delete_payload": lambda b, c: delete_payload_op(b),
    "clear_payload": lambda b, c: ops.ClearPayload(selection(b)),
    "update_vectors": lambda b, c: update_vectors_op(b, c),
    "delete_vectors": lambda b, c: delete_vectors_op(b),
}


def batch_ops(body: dict[str, Any], col: Collection) -> list[tuple[ops.Operation, Any]]:
    """The (operation, shard key) pairs of a `points/batch` body, all parsed before any runs."""
    operations = body.get("operations")
    if not isinstance(operations, list):
        raise FormatError("Format error in JSON body: missing field `operations`")
    parsed = []
    for i, item in enumerate(operations):
        if not isinstance(item, dict) or len(item) != 1:
            raise FormatError(f"Format error in JSON body: operations[{i}]: unknown operation")
        (kind, inner), = item.items()
        parser = _BATCH_PARSERS.get(kind)
        if parser is None or not isinstance(inner, dict):
            raise FormatError(f"Format error in JSON body: operations[{i}]: unknown variant "
                              f"`{kind}`")
        parsed.append((parser(inner, col), inner.get("shard_key")))
    return parsed


@endpoint
async def batch_update(request: Request) -> Any:
    body = _object(await json_body(request))
    col = collection_of(request)
    parsed = batch_ops(body, col)
    wait = query_bool(request, "wait", False)
    return [await run_short(request, apply, col, op, shard_key, wait)
            for op, shard_key in parsed]


def create_index_op(body: dict[str, Any]) -> ops.CreateFieldIndex:
    model = parse_model(models.CreateFieldIndex, body)
    if model.field_schema is None:
        raise FormatError("Format error in JSON body: missing field `field_schema`")
    return ops.CreateFieldIndex(model.field_name, ops.parse_field_schema(body["field_schema"]))


@endpoint
async def create_index(request: Request) -> Any:
    body = _object(await json_body(request))
    return await _apply(request, create_index_op(body), None, short=False)


@endpoint
async def delete_index(request: Request) -> Any:
    field = request.path_params["field_name"]
    return await _apply(request, ops.DeleteFieldIndex(field), None, short=False)


ROUTES = [
    Route("/collections/{collection_name}/points", upsert_points, methods=["PUT"]),
    Route("/collections/{collection_name}/points/delete", delete_points, methods=["POST"]),
    Route("/collections/{collection_name}/points/vectors", update_vectors, methods=["PUT"]),
    Route("/collections/{collection_name}/points/vectors/delete", delete_vectors,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/payload", set_payload, methods=["POST"]),
    Route("/collections/{collection_name}/points/payload", overwrite_payload, methods=["PUT"]),
    Route("/collections/{collection_name}/points/payload/delete", delete_payload,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/payload/clear", clear_payload,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/batch", batch_update, methods=["POST"]),
    Route("/collections/{collection_name}/index", create_index, methods=["PUT"]),
    Route("/collections/{collection_name}/index/{field_name:path}", delete_index,
          methods=["DELETE"]),
]
