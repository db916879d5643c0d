"""REST handlers for the classic search endpoints: `/points/search` and `/points/search/batch`.

Served even though Qdrant's newest spec hides them (their schemas are in the 1.18
spec): much existing Qdrant code still calls them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import endpoint, json_body, parse_model, run
from vectorizer.api.rest.points import collection_of
from vectorizer.collection.collection import Collection
from vectorizer.collection.config import DEFAULT_VECTOR
from vectorizer.collection.groups import group_hits
from vectorizer.collection.payload_selector import payload_selector, vector_selector
from vectorizer.collection.recommend import discover, recommend
from vectorizer.common.errors import BadInput, FormatError


class NamedVector(BaseModel):
    """`{"name": …, "vector": [...]}` (1.18 spec; qdrant-client 1.20 no longer models it)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    vector: list[float]


class NamedSparseVector(BaseModel):
    """`{"name": …, "vector": {"indices": …, "values": …}}` (1.18 spec)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    vector: models.SparseVector


class SearchRequest(BaseModel):
    """The legacy `SearchRequest` of the 1.18 spec, built from qdrant-client's sub-models."""

    model_config = ConfigDict(extra="forbid")
    shard_key: models.ShardKeySelector | None = None
    vector: list[float] | NamedVector | NamedSparseVector
    filter: models.Filter | None = None
    params: models.SearchParams | None = None
    limit: int = Field(ge=1)
    offset: int | None = Field(default=None, ge=0)
    with_payload: models.WithPayloadInterface | None = None
    with_vector: models.WithVector | None = None
    score_threshold: float | None = None


class SearchRequestBatch(BaseModel):
    """`{"searches": [SearchRequest, …]}` (1.18 spec)."""

    searches: list[SearchRequest]


class LookupLocation(BaseModel):
    """Where recommendation examples given as ids are looked up (1.18 spec)."""

    collection: str
    vector: str | None = None
    shard_key: models.ShardKeySelector | None = None


class RecommendRequest(BaseModel):
    """The legacy `RecommendRequest` of the 1.18 spec."""

    model_config = ConfigDict(extra="forbid")
    shard_key: models.ShardKeySelector | None = None
    positive: list[models.ExtendedPointId | list[float]] = Field(default_factory=list)
    negative: list[models.ExtendedPointId | list[float]] = Field(default_factory=list)
    strategy: models.RecommendStrategy | None = None
    filter: models.Filter | None = None
    params: models.SearchParams | None = None
    limit: int = Field(ge=1)
    offset: int | None = Field(default=None, ge=0)
    with_payload: models.WithPayloadInterface | None = None
    with_vector: models.WithVector | None = None
    score_threshold: float | None = None
    using: str | None = None
    lookup_from: LookupLocation | None = None


class RecommendRequestBatch(BaseModel):
    """`{"searches": [RecommendRequest, …]}` (1.18 spec)."""

    searches: list[RecommendRequest]


def run_recommend(toc: Any, col: Collection, raw: dict[str, Any], request: RecommendRequest,
                  ) -> list[dict[str, Any]]:
    with_payload, with_vectors = _selectors(raw)
    lookup = toc.get(request.lookup_from.collection) if request.lookup_from else None
    return recommend(
        col, lookup, request.lookup_from.vector if request.lookup_from else None,
        request.using or DEFAULT_VECTOR, request.positive, request.negative,
        request.strategy.value if request.strategy else None, request.filter, request.limit,
        request.offset or 0, request.score_threshold, with_payload, with_vectors,
        raw.get("shard_key"), request.params)


class ContextExamplePair(BaseModel):
    """A (positive, negative) pair of examples, ids or vectors (1.18 spec)."""

    positive: models.ExtendedPointId | list[float]
    negative: models.ExtendedPointId | list[float]


class DiscoverRequest(BaseModel):
    """The legacy `DiscoverRequest` of the 1.18 spec."""

    model_config = ConfigDict(extra="forbid")
    shard_key: models.ShardKeySelector | None = None
    target: models.ExtendedPointId | list[float] | None = None
    context: list[ContextExamplePair] | None = None
    filter: models.Filter | None = None
    params: models.SearchParams | None = None
    limit: int = Field(ge=1)
    offset: int | None = Field(default=None, ge=0)
    with_payload: models.WithPayloadInterface | None = None
    with_vector: models.WithVector | None = None
    using: str | None = None
    lookup_from: LookupLocation | None = None


class DiscoverRequestBatch(BaseModel):
    """`{"searches": [DiscoverRequest, …]}` (1.18 spec)."""

    searches: list[DiscoverRequest]


def run_discover(toc: Any, col: Collection, raw: dict[str, Any], request: DiscoverRequest,
                 ) -> list[dict[str, Any]]:
    with_payload, with_vectors = _selectors(raw)
    lookup = toc.get(request.lookup_from.collection) if request.lookup_from else None
    pairs = [(p.positive, p.negative) for p in request.context or []]
    return discover(col, lookup, request.lookup_from.vector if request.lookup_from else None,
                    request.using or DEFAULT_VECTOR, request.target, pairs, request.filter,
                    request.limit, request.offset or 0, with_payload, with_vectors,
                    raw.get("shard_key"))


class WithLookup(BaseModel):
    """`with_lookup` of the groups endpoints: a collection name or this object."""

    collection: str
    with_payload: models.WithPayloadInterface | None = None
    with_vectors: models.WithVector | None = None


class _GroupsFields(BaseModel):
    """Fields shared by the groups requests."""

    group_by: str
    group_size: int = Field(default=1, ge=1)
    limit: int = Field(ge=1)
    with_lookup: str | WithLookup | None = None


class SearchGroupsRequest(_GroupsFields):
    """The legacy `SearchGroupsRequest` (1.18 spec)."""

    model_config = ConfigDict(extra="forbid")
    shard_key: models.ShardKeySelector | None = None
    vector: list[float] | NamedVector | NamedSparseVector
    filter: models.Filter | None = None
    params: models.SearchParams | None = None
    with_payload: models.WithPayloadInterface | None = None
    with_vector: models.WithVector | None = None
    score_threshold: float | None = None


class RecommendGroupsRequest(_GroupsFields):
    """The legacy `RecommendGroupsRequest` (1.18 spec)."""

    model_config = ConfigDict(extra="forbid")
    shard_key: models.ShardKeySelector | None = None
    positive: list[models.ExtendedPointId | list[float]] = Field(default_factory=list)
    negative: list[models.ExtendedPointId | list[float]] = Field(default_factory=list)
    strategy: models.RecommendStrategy | None = None
    filter: models.Filter | None = None
    params: models.SearchParams | None = None
    with_payload: models.WithPayloadInterface | None = None
    with_vector: models.WithVector | None = None
    score_threshold: float | None = None
    using: str | None = None
    lookup_from: LookupLocation | None = None


def run_groups(toc: Any, col: Collection, raw: dict[str, Any],
               request: SearchGroupsRequest | RecommendGroupsRequest) -> dict[str, Any]:
    select_payload, with_vectors = _selectors(raw)
    full = payload_selector(True)
    if isinstance(request, SearchGroupsRequest):
        name, query = _named_query(request.vector)

        def fetch(n: int) -> list[dict[str, Any]]:
            return col.search(name, query, request.filter, n, 0, request.score_threshold, full,
                              with_vectors, raw.get("shard_key"), request.params)
    else:
        lookup_col = toc.get(request.lookup_from.collection) if request.lookup_from else None

        def fetch(n: int) -> list[dict[str, Any]]:
            return recommend(
                col, lookup_col, request.lookup_from.vector if request.lookup_from else None,
                request.using or DEFAULT_VECTOR, request.positive, request.negative,
                request.strategy.value if request.strategy else None, request.filter, n, 0,
                request.score_threshold, full, with_vectors, raw.get("shard_key"),
                request.params)
    groups = group_hits(fetch, request.group_by, request.limit, request.group_size,
                        select_payload)
    if request.with_lookup is not None:
        spec = request.with_lookup
        if isinstance(spec, str):
            spec = WithLookup(collection=spec)
        target = toc.get(spec.collection)
        raw_lookup = raw["with_lookup"] if isinstance(raw["with_lookup"], dict) else {}
        lookup_payload, lookup_vectors = _selectors(
            {"with_payload": raw_lookup.get("with_payload", True),
             "with_vector": raw_lookup.get("with_vectors", False)})
        for group in groups:
            found = target.retrieve([group["id"]], lookup_payload, lookup_vectors)
            group["lookup"] = found[0] if found else None
    return {"groups": groups}


def _selectors(raw: dict[str, Any]) -> tuple[Any, Any]:
    try:
        return (payload_selector(raw.get("with_payload", False)),
                vector_selector(raw.get("with_vector", raw.get("with_vectors", False))))
    except ValueError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def _named_query(vector: Any) -> tuple[str, list[float]]:
    if isinstance(vector, list):
        return DEFAULT_VECTOR, vector
    if isinstance(vector, NamedVector):
        return vector.name, vector.vector
    raise BadInput(f"Vector `{vector.name}` is sparse; sparse search arrives with the "
                   "Query API")


def run_search(col: Collection, raw: dict[str, Any], request: SearchRequest,
               ) -> list[dict[str, Any]]:
    name, query = _named_query(request.vector)
    with_payload, with_vectors = _selectors(raw)
    return col.search(name, query, request.filter, request.limit, request.offset or 0,
                      request.score_threshold, with_payload, with_vectors,
                      raw.get("shard_key"), request.params)


@endpoint
async def search_points(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(SearchRequest, raw)
    return await run(run_search, collection_of(request), raw, model)


@endpoint
async def search_batch(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(SearchRequestBatch, raw)
    col = collection_of(request)

    def all_searches() -> list[list[dict[str, Any]]]:
        return [run_search(col, raw_one, one)
                for raw_one, one in zip(raw["searches"], model.searches, strict=True)]

    return await run(all_searches)


@endpoint
async def recommend_points(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(RecommendRequest, raw)
    return await run(run_recommend, request.app.state.toc, collection_of(request), raw, model)


@endpoint
async def recommend_batch(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(RecommendRequestBatch, raw)
    col, toc = collection_of(request), request.app.state.toc

    def all_requests() -> list[list[dict[str, Any]]]:
        return [run_recommend(toc, col, raw_one, one)
                for raw_one, one in zip(raw["searches"], model.searches, strict=True)]

    return await run(all_requests)


@endpoint
async def discover_points(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(DiscoverRequest, raw)
    return await run(run_discover, request.app.state.toc, collection_of(request), raw, model)


@endpoint
async def discover_batch(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(DiscoverRequestBatch, raw)
    col, toc = collection_of(request), request.app.state.toc

    def all_requests() -> list[list[dict[str, Any]]]:
        return [run_discover(toc, col, raw_one, one)
                for raw_one, one in zip(raw["searches"], model.searches, strict=True)]

    return await run(all_requests)


@endpoint
async def search_groups(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(SearchGroupsRequest, raw)
    return await run(run_groups, request.app.state.toc, collection_of(request), raw, model)


@endpoint
async def recommend_groups(request: Request) -> Any:
    raw = await json_body(request)
    model = parse_model(RecommendGroupsRequest, raw)
    return await run(run_groups, request.app.state.toc, collection_of(request), raw, model)


def _matrix(col: Collection, raw: dict[str, Any]) -> tuple[list, list]:
    model = parse_model(models.SearchMatrixRequest, raw)
    return col.distance_matrix(model.using or DEFAULT_VECTOR, model.filter,
                               10 if model.sample is None else model.sample,
                               3 if model.limit is None else model.limit, raw.get("shard_key"))


@endpoint
async def matrix_pairs(request: Request) -> Any:
    raw = await json_body(request, required=False) or {}
    ids, rows = await run(_matrix, collection_of(request), raw)
    return {"pairs": [{"a": ids[i], "b": ids[j], "score": score}
                      for i, row in enumerate(rows) for j, score in row]}


@endpoint
async def matrix_offsets(request: Request) -> Any:
    raw = await json_body(request, required=False) or {}
    ids, rows = await run(_matrix, collection_of(request), raw)
    flat = [(i, j, score) for i, row in enumerate(rows) for j, score in row]
    return {"offsets_row": [i for i, _j, _s in flat], "offsets_col": [j for _i, j, _s in flat],
            "scores": [sc for _i, _j, sc in flat], "ids": ids}


ROUTES = [
    Route("/collections/{collection_name}/points/search/matrix/pairs", matrix_pairs,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/search/matrix/offsets", matrix_offsets,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/search/groups", search_groups,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/recommend/groups", recommend_groups,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/discover", discover_points, methods=["POST"]),
    Route("/collections/{collection_name}/points/discover/batch", discover_batch,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/recommend", recommend_points,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/recommend/batch", recommend_batch,
          methods=["POST"]),
    Route("/collections/{collection_name}/points/search", search_points, methods=["POST"]),
    Route("/collections/{collection_name}/points/search/batch", search_batch,
          methods=["POST"]),
]
