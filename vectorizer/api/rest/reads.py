"""REST handlers for point reads: retrieve, get one point, scroll, count, facet."""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import endpoint, json_body, parse_model, run_short
from vectorizer.api.rest.points import collection_of
from vectorizer.collection.collection import Collection
from vectorizer.collection.payload_selector import payload_selector, vector_selector
from vectorizer.common.errors import FormatError, ValidationError, point_not_found
from vectorizer.common.point_id import normalize_point_id


def _point_id(raw: Any) -> Any:
    try:
        return normalize_point_id(raw)
    except ValueError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def body_selectors(body: dict[str, Any], payload_default: bool) -> tuple[Any, Any]:
    """`with_payload` / `with_vector` of a request body as selector functions."""
    raw_payload = body.get("with_payload", payload_default)
    try:
        return (payload_selector(raw_payload),
                vector_selector(body.get("with_vector", body.get("with_vectors", False))))
    except ValueError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def retrieve(col: Collection, body: dict[str, Any]) -> list[dict[str, Any]]:
    """`POST /points` (retrieve by ids) for a parsed JSON body."""
    model = parse_model(models.PointRequest, body)
    ids = [_point_id(i) for i in model.ids]
    with_payload, with_vectors = body_selectors(body, True)
    return col.retrieve(ids, with_payload, with_vectors, body.get("shard_key"))


def _limit(value: int | None) -> int:
    limit = 10 if value is None else value
    if limit < 1:
        raise ValidationError(
            f"Validation error in JSON body: [limit: value {limit} invalid, must be 1 or larger]"
        )
    return limit


def scroll(col: Collection, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /points/scroll` for a parsed JSON body."""
    model = parse_model(models.ScrollRequest, body)
    limit = _limit(model.limit)
    with_payload, with_vectors = body_selectors(body, True)
    if model.order_by is not None:
        order_by = model.order_by
        if isinstance(order_by, str):
            order_by = models.OrderBy(key=order_by)
        points = col.scroll_ordered(model.filter, order_by, limit, with_payload, with_vectors,
                                    model.shard_key)
        return {"points": points, "next_page_offset": None}
    offset = None if model.offset is None else _point_id(model.offset)
    points, next_offset = col.scroll(model.filter, offset, limit, with_payload, with_vectors,
                                     model.shard_key)
    return {"points": points, "next_page_offset": next_offset}


def count(col: Collection, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /points/count` for a parsed JSON body."""
    model = parse_model(models.CountRequest, body)
    return {"count": col.count(model.filter, model.shard_key)}


def facet(col: Collection, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /facet` for a parsed JSON body."""
    model = parse_model(models.FacetRequest, body)
    limit = _limit(model.limit)
    return {"hits": col.facet(model.key, model.filter, limit, model.shard_key)}


@endpoint
async def retrieve_points(request: Request) -> Any:
    return await run_short(request, retrieve, collection_of(request), await json_body(request))


@endpoint
async def get_point(request: Request) -> Any:
    raw = request.path_params["point_id"]
    try:
        pid = normalize_point_id(int(raw)) if raw.isdigit() else normalize_point_id(raw)
    except ValueError as exc:
        raise FormatError(f"Format error in path parameters: {exc}") from None
    col = collection_of(request)
    found = await run_short(request, col.retrieve, [pid], payload_selector(True), True, None)
    if not found:
        raise point_not_found(pid)
    return found[0]


@endpoint
async def scroll_points(request: Request) -> Any:
    body = await json_body(request, required=False) or {}
    return await run_short(request, scroll, collection_of(request), body)


@endpoint
async def count_points(request: Request) -> Any:
    body = await json_body(request, required=False) or {}
    return await run_short(request, count, collection_of(request), body)


@endpoint
async def facet_counts(request: Request) -> Any:
    return await run_short(request, facet, collection_of(request), await json_body(request))


ROUTES = [
    Route("/collections/{collection_name}/points", retrieve_points, methods=["POST"]),
    Route("/collections/{collection_name}/points/scroll", scroll_points, methods=["POST"]),
    Route("/collections/{collection_name}/points/count", count_points, methods=["POST"]),
    Route("/collections/{collection_name}/facet", facet_counts, methods=["POST"]),
    Route("/collections/{collection_name}/points/{point_id}", get_point, methods=["GET"]),
]
