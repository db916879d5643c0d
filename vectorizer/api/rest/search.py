"""REST handlers for the classic search endpoints: search, recommend, discover (each with
`/batch`), search and recommend groups, and the distance matrix.

Served even though Qdrant's newest spec hides most of them (their schemas are in the
1.18 spec): much existing Qdrant code still calls them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import endpoint, json_body, parse_model, query_int, run_within
from vectorizer.api.rest.points import collection_of
from vectorizer.api.rest.reads import body_selectors
from vectorizer.collection.collection import Collection, DenseSearch
from vectorizer.collection.config import DEFAULT_VECTOR
from vectorizer.collection.groups import attach_lookup, group_hits
from vectorizer.collection.payload_selector import payload_selector
from vectorizer.collection.query.vector_kinds import resolve_kind
from vectorizer.collection.recommend import discover, recommend
from vectorizer.common.errors import BadInput


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


class _RecommendFields(BaseModel):
    """Fields shared by the legacy recommend requests (1.18 spec)."""

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


class RecommendRequest(_RecommendFields):
    """The legacy `RecommendRequest` of the 1.18 spec."""

    limit: int = Field(ge=1)
    offset: int | None = Field(default=None, ge=0)


class RecommendRequestBatch(BaseModel):
    """`{"searches": [RecommendRequest, …]}` (1.18 spec)."""

    searches: list[RecommendRequest]


def _lookup(toc: Any, request: Any) -> tuple[Collection | None, str | None]:
    """The `lookup_from` collection and vector name of a request, if it has one."""
    where = request.lookup_from
    return (toc.get(where.collection), where.vector) if where else (None, None)


def _recommend_page(toc: Any, col: Collection, raw: dict[str, Any],
                    request: RecommendRequest | RecommendGroupsRequest, limit: int, offset: int,
                    with_payload: Any, with_vectors: Any) -> list[dict[str, Any]]:
    lookup, lookup_vector = _lookup(toc, request)
    return recommend(
        col, lookup, lookup_vector, request.using or DEFAULT_VECTOR, request.positive,
        request.negative, request.strategy.value if request.strategy else None,
        request.filter, limit, offset, request.score_threshold, with_payload, with_vectors,
        raw.get("shard_key"), request.params)


def run_recommend(toc: Any, col: Collection, raw: dict[str, Any], request: RecommendRequest,
                  ) -> list[dict[str, Any]]:
    with_payload, with_vectors = body_selectors(raw, False)
    return _recommend_page(toc, col, raw, request, request.limit, request.offset or 0,
                           with_payload, with_vectors)


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
    with_payload, with_vectors = body_selectors(raw, False)
    lookup, lookup_vector = _lookup(toc, request)
    pairs = [(p.positive, p.negative) for p in request.context or []]
    return discover(col, lookup, lookup_vector, request.using or DEFAULT_VECTOR,
                    request.target, pairs, request.filter, request.limit,
                    request.offset or 0, with_payload, with_vectors, raw.get("shard_key"))


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


class RecommendGroupsRequest(_GroupsFields, _RecommendFields):
    """The legacy `RecommendGroupsRequest` (1.18 spec)."""


def run_groups(toc: Any, col: Collection, raw: dict[str, Any],
               request: SearchGroupsRequest | RecommendGroupsRequest) -> dict[str, Any]:
    select_payload, with_vectors = body_selectors(raw, False)
    full = payload_selector(True)

    def fetch(n: int) -> list[dict[str, Any]]:
        if isinstance(request, SearchGroupsRequest):
            return _search_page(col, raw, request, n, 0, full, with_vectors)
        return _recommend_page(toc, col, raw, request, n, 0, full, with_vectors)

    groups = group_hits(fetch, request.group_by, request.limit, request.group_size,
                        select_payload)
    if request.with_lookup is not None:
        spec = request.with_lookup
        if isinstance(spec, str):
            spec = WithLookup(collection=spec)
        target = toc.get(spec.collection)
        raw_lookup = raw["with_lookup"] if isinstance(raw["with_lookup"], dict) else {}
        lookup_payload, lookup_vectors = body_selectors(
            {"with_payload": raw_lookup.get("with_payload", True),
             "with_vector": raw_lookup.get("with_vectors", False)}, True)
        attach_lookup(groups, target, lookup_payload, lookup_vectors)
    return {"groups": groups}


def _named_query(vector: Any) -> tuple[str, list[float]]:
    if isinstance(vector, list):
        return DEFAULT_VECTOR, vector
    if isinstance(vector, NamedVector):
        return vector.name, vector.vector
    raise BadInput(f"Vector `{vector.name}` is sparse")


def _search_page(col: Collection, raw: dict[str, Any],
                 request: SearchRequest | SearchGroupsRequest, limit: int, offset: int,
                 with_payload: Any, with_vectors: Any) -> list[dict[str, Any]]:
    if isinstance(request.vector, NamedSparseVector):
        name = request.vector.name
        if col.vector_kind(name) != "sparse":
            raise BadInput(f"Conversion between sparse and regular vectors failed: vector "
                           f"`{name}` is not sparse")
        other, _exclude = resolve_kind(col, "sparse", name, request.vector.vector, col, name,
                                       request.params)
        return col.search_sparse(name, other.sparse, request.filter, limit, offset,
                                 request.score_threshold, with_payload, with_vectors,
                                 raw.get("shard_key"))
    name, query = _named_query(request.vector)
    return col.search(name, query, request.filter, limit, offset, request.score_threshold,
                      with_payload, with_vectors, raw.get("shard_key"), request.params)


def run_search(toc: Any, col: Collection, raw: dict[str, Any], request: SearchRequest,
               ) -> list[dict[str, Any]]:
    with_payload, with_vectors = body_selectors(raw, False)
    return _search_page(col, raw, request, request.limit, request.offset or 0, with_payload,
                        with_vectors)


Runner = Callable[[Any, Collection, dict[str, Any], Any], Any]


def _single(model: type[BaseModel], runner: Runner) -> Callable[[Request], Awaitable[Any]]:
    """A handler parsing one request of `model` and answering with `runner`."""

    @endpoint
    async def handler(request: Request) -> Any:
        raw = await json_body(request)
        parsed = parse_model(model, raw)
        return await run_within(request, model.__name__.replace("Request", ""), runner,
                                request.app.state.toc, collection_of(request), raw, parsed)

    return handler


def run_search_batch(toc: Any, col: Collection, raw: dict[str, Any],
                     request: SearchRequestBatch) -> list[list[dict[str, Any]]]:
    """`/points/search/batch`: searches sharing vector name, filter, shard key and params
    run together in one pass over the segments (`Collection.search_many`)."""
    groups: dict[str, list[int]] = {}
    answers: list[Any] = [None] * len(request.searches)
    for i, (raw_one, one) in enumerate(zip(raw["searches"], request.searches, strict=True)):
        if isinstance(one.vector, NamedSparseVector):  # one sparse search each
            with_payload, with_vectors = body_selectors(raw_one, False)
            answers[i] = _search_page(col, raw_one, one, one.limit, one.offset or 0,
                                      with_payload, with_vectors)
            continue
        name, _query = _named_query(one.vector)
        key = orjson.dumps([name, raw_one.get("filter"), raw_one.get("shard_key"),
                            raw_one.get("params")], option=orjson.OPT_SORT_KEYS).decode()
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        first = request.searches[members[0]]
        name, _query = _named_query(first.vector)
        batch = []
        for i in members:
            one = request.searches[i]
            with_payload, with_vectors = body_selectors(raw["searches"][i], False)
            batch.append(DenseSearch(_named_query(one.vector)[1], one.limit, one.offset or 0,
                                     one.score_threshold, with_payload, with_vectors))
        pages = col.search_many(name, first.filter, raw["searches"][members[0]].get("shard_key"),
                                first.params, batch)
        for i, page in zip(members, pages, strict=True):
            answers[i] = page
    return answers


def _batch(model: type[BaseModel], runner: Runner) -> Callable[[Request], Awaitable[Any]]:
    """A handler for `{"searches": [...]}` bodies: `runner` on each, answers in order."""

    @endpoint
    async def handler(request: Request) -> Any:
        raw = await json_body(request)
        parsed = parse_model(model, raw)
        toc, col = request.app.state.toc, collection_of(request)
        seconds = query_int(request, "timeout")
        stop_at = time.monotonic() + seconds if seconds and seconds > 0 else None

        def answer_all() -> list[Any]:
            out = []
            for raw_one, one in zip(raw["searches"], parsed.searches, strict=True):
                if stop_at is not None and time.monotonic() > stop_at:
                    break  # timed out: the request has been answered, stop working
                out.append(runner(toc, col, raw_one, one))
            return out

        return await run_within(request, model.__name__.replace("Request", ""), answer_all)

    return handler


def _matrix(col: Collection, raw: dict[str, Any]) -> tuple[list, list]:
    model = parse_model(models.SearchMatrixRequest, raw)
    return col.distance_matrix(model.using or DEFAULT_VECTOR, model.filter,
                               10 if model.sample is None else model.sample,
                               3 if model.limit is None else model.limit, raw.get("shard_key"))


def matrix_pairs_result(col: Collection, raw: dict[str, Any]) -> dict[str, Any]:
    """`/points/search/matrix/pairs` for a parsed JSON body."""
    ids, rows = _matrix(col, raw)
    return {"pairs": [{"a": ids[i], "b": ids[j], "score": score}
                      for i, row in enumerate(rows) for j, score in row]}


def matrix_offsets_result(col: Collection, raw: dict[str, Any]) -> dict[str, Any]:
    """`/points/search/matrix/offsets` for a parsed JSON body."""
    ids, rows = _matrix(col, raw)
    flat = [(i, j, score) for i, row in enumerate(rows) for j, score in row]
    return {"offsets_row": [i for i, _j, _s in flat], "offsets_col": [j for _i, j, _s in flat],
            "scores": [sc for _i, _j, sc in flat], "ids": ids}


@endpoint
async def matrix_pairs(request: Request) -> Any:
    raw = await json_body(request, required=False) or {}
    return await run_within(request, "SearchMatrixPairs", matrix_pairs_result,
                            collection_of(request), raw)


@endpoint
async def matrix_offsets(request: Request) -> Any:
    raw = await json_body(request, required=False) or {}
    return await run_within(request, "SearchMatrixOffsets", matrix_offsets_result,
                            collection_of(request), raw)


P = "/collections/{collection_name}/points"
ROUTES = [
    Route(P + "/search", _single(SearchRequest, run_search), methods=["POST"]),
    Route(P + "/search/batch", _single(SearchRequestBatch, run_search_batch),
          methods=["POST"]),
    Route(P + "/search/groups", _single(SearchGroupsRequest, run_groups), methods=["POST"]),
    Route(P + "/recommend", _single(RecommendRequest, run_recommend), methods=["POST"]),
    Route(P + "/recommend/batch", _batch(RecommendRequestBatch, run_recommend),
          methods=["POST"]),
    Route(P + "/recommend/groups", _single(RecommendGroupsRequest, run_groups),
          methods=["POST"]),
    Route(P + "/discover", _single(DiscoverRequest, run_discover), methods=["POST"]),
    Route(P + "/discover/batch", _batch(DiscoverRequestBatch, run_discover), methods=["POST"]),
    Route(P + "/search/matrix/pairs", matrix_pairs, methods=["POST"]),
    Route(P + "/search/matrix/offsets", matrix_offsets, methods=["POST"]),
]
