"""REST handlers of the universal Query API: `/points/query`, `/query/batch`, `/query/groups`.

Each parses qdrant-client's request model and calls one planner function.
"""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import endpoint, json_body, parse_model, run_within
from vectorizer.api.rest.points import collection_of
from vectorizer.collection.query import planner


@endpoint
async def query_points(request: Request) -> Any:
    parsed = parse_model(models.QueryRequest, await json_body(request))
    points = await run_within(request, "Query", planner.query_points, collection_of(request),
                              request.app.state.toc.get, parsed)
    return {"points": points}


@endpoint
async def query_batch(request: Request) -> Any:
    parsed = parse_model(models.QueryRequestBatch, await json_body(request))
    pages = await run_within(request, "QueryBatch", planner.query_batch, collection_of(request),
                             request.app.state.toc.get, parsed.searches)
    return [{"points": points} for points in pages]


@endpoint
async def query_groups(request: Request) -> Any:
    parsed = parse_model(models.QueryGroupsRequest, await json_body(request))
    return await run_within(request, "QueryGroups", planner.query_groups,
                            collection_of(request), request.app.state.toc.get, parsed)


P = "/collections/{collection_name}/points"
ROUTES = [
    Route(P + "/query", query_points, methods=["POST"]),
    Route(P + "/query/batch", query_batch, methods=["POST"]),
    Route(P + "/query/groups", query_groups, methods=["POST"]),
]
