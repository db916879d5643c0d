"""`qdrant.Points` over gRPC: every RPC runs the same scenario as REST and must give the same
ids, scores, payloads, vectors, counts and errors.

Updates are applied to two collections, one through each transport, which must end up equal;
reads run over both transports on one collection. RPCs the Python client no longer calls
(Search, Recommend, Discover and their batch/group forms) go through the raw stubs and are
compared with the REST endpoints that answer the same request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc

from tests.grpc_helpers import clients, grpc_error, points_key, rest_error, rest_post
from tests.server_process import ServerProcess

DIM = 4
N = 60
COLORS = ["red", "green", "blue"]


def _vector(i: int) -> list[float]:
    return [float((i * 7) % 11) + 0.5, float((i * 3) % 5) - 2.0, float(i % 13) / 3.0 + 0.1,
            1.0 + (i % 4)]


def _payload(i: int) -> dict[str, Any]:
    return {"i": i, "color": COLORS[i % 3], "price": i * 1.5, "tags": [f"t{i % 4}", "all"],
            "nested": {"even": i % 2 == 0, "name": f"n{i}"}, "maybe": None if i % 5 else "x"}


@pytest.fixture(scope="module")
def both(server: ServerProcess) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    rest, over_grpc = clients(server)
    yield rest, over_grpc
    rest.close()
    over_grpc.close()


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> Iterator[pb.PointsStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield pb.PointsStub(channel)


@pytest.fixture(scope="module")
def data(both: tuple[QdrantClient, QdrantClient]) -> str:
    """One collection with N points (a default and a named vector), payload indexes."""
    rest, _ = both
    name = "grpc_reads"
    rest.create_collection(name, vectors_config={
        "": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        "other": models.VectorParams(size=3, distance=models.Distance.DOT)})
    rest.upsert(name, [models.PointStruct(id=i, vector={"": _vector(i), "other": _vector(i)[:3]},
                                          payload=_payload(i)) for i in range(N)], wait=True)
    rest.create_payload_index(name, "color", models.PayloadSchemaType.KEYWORD, wait=True)
    rest.create_payload_index(name, "price", models.PayloadSchemaType.FLOAT, wait=True)
    rest.create_payload_index(name, "i", models.PayloadSchemaType.INTEGER, wait=True)
    return name


def _all(client: QdrantClient, name: str) -> list[tuple[Any, ...]]:
    points, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    return points_key(points)


def _apply_updates(client: QdrantClient, name: str) -> list[Any]:
    """The same update sequence, through one client; returns the update results."""
    client.create_collection(name, vectors_config={
        "a": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        "b": models.VectorParams(size=3, distance=models.Distance.EUCLID)})
    results = [client.upsert(name, [models.PointStruct(
        id=i, vector={"a": _vector(i), "b": _vector(i)[1:]}, payload=_payload(i))
        for i in range(20)], wait=True)]
    results.append(client.upsert(name, models.Batch(
        ids=[100, 101, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"],
        vectors={"a": [_vector(1), _vector(2), _vector(3)], "b": [[1, 2, 3]] * 3},
        payloads=[{"k": 1}, {"k": 2}, {"k": 3}]), wait=True))
    results.append(client.upsert(name, [models.PointStruct(id=0, vector={"a": [9, 9, 9, 9]},
                                                           payload={"cond": True})],
                                 update_filter=models.Filter(must=[models.FieldCondition(
                                     key="i", match=models.MatchValue(value=0))]), wait=True))
    results.append(client.delete(name, models.PointIdsList(points=[1, 2]), wait=True))
    results.append(client.delete(name, models.FilterSelector(filter=models.Filter(must=[
        models.FieldCondition(key="color", match=models.MatchValue(value="blue"))])), wait=True))
    results.append(client.set_payload(name, {"extra": [1, 2, {"x": "y"}]}, points=[3, 4],
                                      wait=True))
    results.append(client.set_payload(name, {"deep": 1}, points=[3], key="nested", wait=True))
    results.append(client.overwrite_payload(name, {"only": "this"}, points=[6], wait=True))
    results.append(client.delete_payload(name, ["price", "tags"], points=[7, 9], wait=True))
    results.append(client.clear_payload(name, models.PointIdsList(points=[10]), wait=True))
    results.append(client.update_vectors(name, [models.PointVectors(
        id=3, vector={"a": [1, 0, 0, 0]})], wait=True))
    results.append(client.delete_vectors(name, ["b"], models.PointIdsList(points=[4]),
                                         wait=True))
    results.append(client.create_payload_index(name, "color", models.PayloadSchemaType.KEYWORD,
                                               wait=True))
    results.append(client.create_payload_index(name, "nested.name", models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True),
                                               wait=True))
    results.append(client.create_payload_index(name, "price", models.PayloadSchemaType.FLOAT,
                                               wait=True))
    results.append(client.delete_payload_index(name, "price", wait=True))
    results.extend(client.batch_update_points(name, [
        models.UpsertOperation(upsert=models.PointsList(points=[models.PointStruct(
            id=200, vector={"a": _vector(5), "b": [0, 0, 1]}, payload={"batch": True})])),
        models.DeleteOperation(delete=models.PointIdsList(points=[5])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"s": 1},
                                                                 points=[200, 11])),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(
            payload={"o": 1}, points=[12])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["i"],
                                                                          points=[13])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[14])),
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[
            models.PointVectors(id=15, vector={"b": [7, 7, 7]})])),
        models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(points=[16],
                                                                          vector=["a"])),
    ], wait=True))
    return results


def test_updates_same_as_rest(both: tuple[QdrantClient, QdrantClient],
                              collection_name: str) -> None:
    rest, over_grpc = both
    rest_results = _apply_updates(rest, collection_name + "_r")
    grpc_results = _apply_updates(over_grpc, collection_name + "_g")
    assert [r.status for r in grpc_results] == [r.status for r in rest_results]
    assert all(r.status == models.UpdateStatus.COMPLETED for r in grpc_results)
    assert _all(over_grpc, collection_name + "_g") == _all(rest, collection_name + "_r")
    assert _all(rest, collection_name + "_g") == _all(rest, collection_name + "_r")
    schema_g = rest.get_collection(collection_name + "_g").payload_schema
    schema_r = rest.get_collection(collection_name + "_r").payload_schema
    assert schema_g == schema_r and set(schema_g) == {"color", "nested.name"}


def test_named_vector_rpcs(both: tuple[QdrantClient, QdrantClient],
                           collection_name: str) -> None:
    rest, over_grpc = both
    over_grpc.create_collection(collection_name, vectors_config={
        "a": models.VectorParams(size=2, distance=models.Distance.DOT)})
    over_grpc.create_vector_name(collection_name, "extra", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=3, distance=models.Distance.EUCLID)))
    vectors = rest.get_collection(collection_name).config.params.vectors
    assert vectors["extra"].size == 3 and vectors["extra"].distance == models.Distance.EUCLID
    over_grpc.delete_vector_name(collection_name, "extra")
    assert set(rest.get_collection(collection_name).config.params.vectors) == {"a"}


def test_update_errors_match_rest(both: tuple[QdrantClient, QdrantClient],
                                  collection_name: str) -> None:
    rest, over_grpc = both
    rest.create_collection(collection_name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    bad = [models.PointStruct(id=1, vector=[1.0, 2.0])]
    status, message = rest_error(lambda: rest.upsert(collection_name, bad))
    code, details = grpc_error(lambda: over_grpc.upsert(collection_name, bad))
    assert (status, code) == (400, grpc.StatusCode.INVALID_ARGUMENT)
    assert details == message
    assert rest.count(collection_name).count == 0  # nothing applied
    code, details = grpc_error(lambda: over_grpc.upsert(collection_name, [
        models.PointStruct(id=1, vector=[1.0] * DIM),
        models.PointStruct(id=2, vector=[1.0, float("nan"), 0.0, 0.0])]))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                               "Format error in JSON body: vectors must contain finite numbers")
    assert rest.count(collection_name).count == 0  # the batch is all or none
    status, message = rest_error(lambda: rest.upsert("missing_" + collection_name, bad))
    code, details = grpc_error(lambda: over_grpc.upsert("missing_" + collection_name, bad))
    assert (status, code, details) == (404, grpc.StatusCode.NOT_FOUND, message)
    status, message = rest_error(lambda: rest.create_payload_index(
        "missing_" + collection_name, "x", models.PayloadSchemaType.KEYWORD))
    code, details = grpc_error(lambda: over_grpc.create_payload_index(
        "missing_" + collection_name, "x", models.PayloadSchemaType.KEYWORD))
    assert (status, code, details) == (404, grpc.StatusCode.NOT_FOUND, message)


# ---------------------------------------------------------------- reads through the client

FLT = models.Filter(must=[models.FieldCondition(key="color", match=models.MatchAny(
    any=["red", "green"]))], must_not=[models.FieldCondition(key="price", range=models.Range(
        gt=60.0))])


def test_retrieve_scroll_count(both: tuple[QdrantClient, QdrantClient], data: str) -> None:
    rest, over_grpc = both
    for kwargs in ({}, {"with_vectors": True}, {"with_vectors": ["other"]},
                   {"with_payload": ["color", "nested"]},
                   {"with_payload": models.PayloadSelectorExclude(exclude=["tags"])},
                   {"with_payload": False}):
        assert points_key(over_grpc.retrieve(data, [3, 1, 999, 2], **kwargs)) == \
            points_key(rest.retrieve(data, [3, 1, 999, 2], **kwargs))
    for kwargs in ({"limit": 7}, {"limit": 5, "offset": 20, "with_vectors": True},
                   {"scroll_filter": FLT, "limit": 100},
                   {"order_by": models.OrderBy(key="price", direction=models.Direction.DESC),
                    "limit": 9}):
        g_points, g_next = over_grpc.scroll(data, **kwargs)
        r_points, r_next = rest.scroll(data, **kwargs)
        assert points_key(g_points) == points_key(r_points)
        assert g_next == r_next
    for flt in (None, FLT):
        assert over_grpc.count(data, count_filter=flt) == rest.count(data, count_filter=flt)
    assert over_grpc.count(data).count == N


def test_facet(both: tuple[QdrantClient, QdrantClient], data: str) -> None:
    rest, over_grpc = both
    for kwargs in ({}, {"facet_filter": FLT}, {"limit": 1}):
        assert over_grpc.facet(data, "color", **kwargs) == rest.facet(data, "color", **kwargs)


def test_query_points(both: tuple[QdrantClient, QdrantClient], data: str) -> None:
    rest, over_grpc = both
    queries: list[dict[str, Any]] = [
        {"query": _vector(3), "limit": 5},
        {"query": _vector(3), "limit": 5, "offset": 3, "with_payload": True,
         "with_vectors": True, "query_filter": FLT},
        {"query": _vector(8)[:3], "using": "other", "limit": 4, "score_threshold": 5.0},
        {"query": 7, "limit": 3},
        {"query": models.RecommendQuery(recommend=models.RecommendInput(
            positive=[1, 2], negative=[_vector(9)])), "limit": 4},
        {"query": models.DiscoverQuery(discover=models.DiscoverInput(
            target=4, context=[models.ContextPair(positive=5, negative=6)])), "limit": 4},
        {"prefetch": [models.Prefetch(query=_vector(1), limit=20),
                      models.Prefetch(query=_vector(2)[:3], using="other", limit=20)],
         "query": models.FusionQuery(fusion=models.Fusion.RRF), "limit": 6},
        {"query": models.OrderByQuery(order_by="price"), "limit": 4},
        {"query": _vector(3), "search_params": models.SearchParams(exact=True), "limit": 2},
    ]
    for kwargs in queries:
        got = over_grpc.query_points(data, **kwargs).points
        assert points_key(got) == points_key(rest.query_points(data, **kwargs).points), kwargs
        assert got
    requests = [models.QueryRequest(query=_vector(i), limit=3, with_payload=True)
                for i in range(3)] + [models.QueryRequest(query=5, limit=2, filter=FLT)]
    got_batch = over_grpc.query_batch_points(data, requests)
    assert [points_key(r.points) for r in got_batch] == \
        [points_key(r.points) for r in rest.query_batch_points(data, requests)]
    for kwargs in ({"group_by": "color", "limit": 3, "group_size": 2},
                   {"group_by": "tags", "limit": 2, "group_size": 3,
                    "with_lookup": models.WithLookup(collection=data, with_payload=["i"])}):
        g = over_grpc.query_points_groups(data, query=_vector(2), **kwargs).groups
        r = rest.query_points_groups(data, query=_vector(2), **kwargs).groups
        assert [(x.id, points_key(x.hits), x.lookup and points_key([x.lookup])) for x in g] == \
            [(x.id, points_key(x.hits), x.lookup and points_key([x.lookup])) for x in r]
        assert g


def test_search_matrix(both: tuple[QdrantClient, QdrantClient], data: str) -> None:
    """The sample is random; a filter matching exactly `sample` points makes it the same set."""
    rest, over_grpc = both
    first8 = models.Filter(must=[models.FieldCondition(key="i", range=models.Range(lt=8))])
    for kwargs in ({"sample": 8, "limit": 3}, {"sample": 8, "limit": 2, "using": "other"}):
        def pairs(result: Any) -> list[tuple[Any, ...]]:
            return sorted((p.a, p.b, round(p.score, 4)) for p in result.pairs)

        def offsets(result: Any) -> list[tuple[Any, ...]]:
            return sorted((result.ids[r], result.ids[c], round(s, 4)) for r, c, s in zip(
                result.offsets_row, result.offsets_col, result.scores, strict=True))

        g = over_grpc.search_matrix_pairs(data, query_filter=first8, **kwargs)
        r = rest.search_matrix_pairs(data, query_filter=first8, **kwargs)
        assert pairs(g) == pairs(r) and len(g.pairs) == 8 * kwargs["limit"]
        g2 = over_grpc.search_matrix_offsets(data, query_filter=first8, **kwargs)
        r2 = rest.search_matrix_offsets(data, query_filter=first8, **kwargs)
        assert offsets(g2) == offsets(r2) == pairs(g)


def test_read_errors_match_rest(both: tuple[QdrantClient, QdrantClient], data: str) -> None:
    rest, over_grpc = both
    for call in (lambda c: c.query_points(data, query=[1.0, 2.0], limit=3),
                 lambda c: c.query_points("missing_x", query=[1.0, 2.0], limit=3),
                 lambda c: c.query_points(data, query=[1.0, 2.0], using="nope", limit=3),
                 lambda c: c.scroll("missing_x"),
                 lambda c: c.count("missing_x"),
                 lambda c: c.facet(data, "color", limit=0)):
        status, message = rest_error(lambda call=call: call(rest))
        code, details = grpc_error(lambda call=call: call(over_grpc))
        assert details == message
        assert code == {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
                        422: grpc.StatusCode.INVALID_ARGUMENT}[status]


# ---------------------------------------------------------------- raw stubs vs REST endpoints


def _rest_points(result: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return points_key([models.ScoredPoint.model_validate(p) for p in result])


def _grpc_points(result: Any) -> list[tuple[Any, ...]]:
    return points_key([GrpcToRest.convert_scored_point(p) for p in result])


def _rest_groups(result: dict[str, Any]) -> list[Any]:
    return [(g["id"], _rest_points(g["hits"]),
             g.get("lookup") and points_key([models.Record.model_validate(g["lookup"])]))
            for g in result["groups"]]


def _grpc_groups(result: Any) -> list[Any]:
    return [(GrpcToRest.convert_group_id(g.id), _grpc_points(g.hits),
             points_key([GrpcToRest.convert_retrieved_point(g.lookup)])
             if g.HasField("lookup") else None) for g in result.groups]


def _flt() -> Any:
    return FLT.model_dump(mode="json", exclude_none=True)


def test_search_rpcs(server: ServerProcess, stub: pb.PointsStub, data: str) -> None:
    cases = [
        ({"vector": _vector(3), "limit": 5},
         pb.SearchPoints(vector=_vector(3), limit=5)),
        ({"vector": _vector(3), "limit": 4, "offset": 2, "with_payload": True,
          "with_vector": True, "filter": _flt(), "score_threshold": 0.5},
         pb.SearchPoints(vector=_vector(3), limit=4, offset=2,
                         with_payload=pb.WithPayloadSelector(enable=True),
                         with_vectors=pb.WithVectorsSelector(enable=True),
                         filter=RestToGrpc.convert_filter(FLT), score_threshold=0.5)),
        ({"vector": {"name": "other", "vector": _vector(5)[:3]}, "limit": 3,
          "with_payload": ["color"]},
         pb.SearchPoints(vector=_vector(5)[:3], vector_name="other", limit=3,
                         with_payload=pb.WithPayloadSelector(
                             include=pb.PayloadIncludeSelector(fields=["color"])))),
    ]
    base = f"/collections/{data}/points"
    for body, request in cases:
        request.collection_name = data
        assert _grpc_points(stub.Search(request).result) == \
            _rest_points(rest_post(server, base + "/search", body))
    batch = stub.SearchBatch(pb.SearchBatchPoints(collection_name=data,
                                                  search_points=[r for _, r in cases]))
    assert [_grpc_points(r.result) for r in batch.result] == \
        [_rest_points(r) for r in rest_post(server, base + "/search/batch",
                                            {"searches": [b for b, _ in cases]})]
    groups = stub.SearchGroups(pb.SearchPointGroups(
        collection_name=data, vector=_vector(1), group_by="color", limit=3, group_size=2,
        with_lookup=pb.WithLookup(collection=data)))
    assert _grpc_groups(groups.result) == _rest_groups(rest_post(
        server, base + "/search/groups", {"vector": _vector(1), "group_by": "color", "limit": 3,
                                          "group_size": 2, "with_lookup": data}))
    assert groups.result.groups


def test_recommend_and_discover_rpcs(server: ServerProcess, stub: pb.PointsStub,
                                     data: str) -> None:
    base = f"/collections/{data}/points"
    cases = [
        ({"positive": [1, 2], "limit": 4},
         pb.RecommendPoints(positive=[pb.PointId(num=1), pb.PointId(num=2)], limit=4)),
        ({"positive": [1], "negative": [_vector(7)], "strategy": "best_score", "limit": 3,
          "filter": _flt(), "with_payload": True},
         pb.RecommendPoints(positive=[pb.PointId(num=1)],
                            negative_vectors=[pb.Vector(dense=pb.DenseVector(data=_vector(7)))],
                            strategy=pb.BestScore, limit=3, filter=RestToGrpc.convert_filter(FLT),
                            with_payload=pb.WithPayloadSelector(enable=True))),
        ({"positive": [3], "using": "other", "limit": 2, "offset": 1},
         pb.RecommendPoints(positive=[pb.PointId(num=3)], using="other", limit=2, offset=1)),
    ]
    for body, request in cases:
        request.collection_name = data
        assert _grpc_points(stub.Recommend(request).result) == \
            _rest_points(rest_post(server, base + "/recommend", body))
    batch = stub.RecommendBatch(pb.RecommendBatchPoints(
        collection_name=data, recommend_points=[r for _, r in cases]))
    assert [_grpc_points(r.result) for r in batch.result] == \
        [_rest_points(r) for r in rest_post(server, base + "/recommend/batch",
                                            {"searches": [b for b, _ in cases]})]
    groups = stub.RecommendGroups(pb.RecommendPointGroups(
        collection_name=data, positive=[pb.PointId(num=4)], group_by="color", limit=2,
        group_size=3))
    assert _grpc_groups(groups.result) == _rest_groups(rest_post(
        server, base + "/recommend/groups", {"positive": [4], "group_by": "color", "limit": 2,
                                             "group_size": 3}))
    example = pb.VectorExample
    discover = [
        ({"target": 4, "context": [{"positive": 5, "negative": 6}], "limit": 4},
         pb.DiscoverPoints(target=pb.TargetVector(single=example(id=pb.PointId(num=4))),
                           context=[pb.ContextExamplePair(
                               positive=example(id=pb.PointId(num=5)),
                               negative=example(id=pb.PointId(num=6)))], limit=4)),
        ({"context": [{"positive": _vector(1), "negative": 9}], "limit": 3, "filter": _flt()},
         pb.DiscoverPoints(context=[pb.ContextExamplePair(
             positive=example(vector=pb.Vector(dense=pb.DenseVector(data=_vector(1)))),
             negative=example(id=pb.PointId(num=9)))], limit=3,
             filter=RestToGrpc.convert_filter(FLT))),
    ]
    for body, request in discover:
        request.collection_name = data
        assert _grpc_points(stub.Discover(request).result) == \
            _rest_points(rest_post(server, base + "/discover", body))
    batch = stub.DiscoverBatch(pb.DiscoverBatchPoints(
        collection_name=data, discover_points=[r for _, r in discover]))
    assert [_grpc_points(r.result) for r in batch.result] == \
        [_rest_points(r) for r in rest_post(server, base + "/discover/batch",
                                            {"searches": [b for b, _ in discover]})]


def test_raw_search_errors(server: ServerProcess, stub: pb.PointsStub, data: str) -> None:
    resp = httpx.post(f"{server.url}/collections/{data}/points/search",
                      json={"vector": [1.0], "limit": 3})
    code, details = grpc_error(lambda: stub.Search(pb.SearchPoints(
        collection_name=data, vector=[1.0], limit=3)))
    assert (resp.status_code, code) == (400, grpc.StatusCode.INVALID_ARGUMENT)
    assert details == resp.json()["status"]["error"]
    code, details = grpc_error(lambda: stub.Search(pb.SearchPoints(
        collection_name=data, vector=[1.0] * DIM, limit=0)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


# ---------------------------------------------------------------- deadlines


def test_timeouts_stop_work(both: tuple[QdrantClient, QdrantClient], stub: pb.PointsStub,
                            collection_name: str) -> None:
    """A batch past its `timeout` answers DEADLINE_EXCEEDED at once, and its remaining
    searches never run; a gRPC deadline does the same."""
    import time

    import numpy as np

    rest, over_grpc = both
    dim, n = 128, 20_000
    over_grpc.create_collection(collection_name, vectors_config=models.VectorParams(
        size=dim, distance=models.Distance.DOT))
    rng = np.random.default_rng(1)
    over_grpc.upload_collection(collection_name, rng.random((n, dim), dtype=np.float32),
                                ids=range(n), batch_size=2000, wait=True)
    one = pb.RecommendPoints(positive=[pb.PointId(num=1)], limit=5,
                             params=pb.SearchParams(exact=True))
    calibrate = pb.RecommendBatchPoints(collection_name=collection_name,
                                        recommend_points=[one] * 20)
    stub.RecommendBatch(calibrate)  # warm up
    started = time.perf_counter()
    stub.RecommendBatch(calibrate)
    per_request = (time.perf_counter() - started) / 20
    many = max(int(8.0 / max(per_request, 1e-5)), 100)  # about 8 s of work
    request = pb.RecommendBatchPoints(collection_name=collection_name,
                                      recommend_points=[one] * many, timeout=1)
    started = time.perf_counter()
    code, details = grpc_error(lambda: stub.RecommendBatch(request))
    elapsed = time.perf_counter() - started
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert details == "Timeout: Operation 'RecommendBatch' timed out after 1 seconds"
    assert elapsed < 2.0
    code, _ = grpc_error(lambda: stub.RecommendBatch(
        pb.RecommendBatchPoints(collection_name=collection_name, recommend_points=[one] * many),
        timeout=0.5))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    # the server is free again right away: the abandoned batches stopped at their deadlines
    started = time.perf_counter()
    assert stub.Recommend(one.__class__(collection_name=collection_name,
                                        positive=[pb.PointId(num=2)], limit=3)).result
    assert time.perf_counter() - started < 1.5
    assert rest.count(collection_name).count == n


# ---------------------------------------------------------------- sparse and multi-vectors


def test_sparse_and_multi_vectors(both: tuple[QdrantClient, QdrantClient], stub: pb.PointsStub,
                                  server: ServerProcess, collection_name: str) -> None:
    """Sparse and multi-vectors take the general parser over gRPC and answer as REST does."""
    rest, over_grpc = both

    def sparse(i: int) -> models.SparseVector:
        return models.SparseVector(indices=[i % 7, 10 + i % 3, 20], values=[1.0 + i, 0.5, 0.25])

    def multi(i: int) -> list[list[float]]:
        return [[float(i), 1.0, 0.0], [0.0, float(i % 3), 1.0]]

    for client, name in ((rest, collection_name + "_r"), (over_grpc, collection_name + "_g")):
        client.create_collection(
            name, vectors_config={"m": models.VectorParams(
                size=3, distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM))},
            sparse_vectors_config={"s": models.SparseVectorParams()})
        client.upsert(name, [models.PointStruct(id=i, vector={"s": sparse(i), "m": multi(i)},
                                                payload={"i": i}) for i in range(20)], wait=True)
    names = collection_name + "_r", collection_name + "_g"
    assert _all(over_grpc, names[1]) == _all(rest, names[0])
    for kwargs in ({"query": sparse(3), "using": "s", "limit": 5},
                   {"query": multi(4), "using": "m", "limit": 4, "with_vectors": True},
                   {"query": 2, "using": "s", "limit": 3}):
        assert points_key(over_grpc.query_points(names[1], **kwargs).points) == \
            points_key(rest.query_points(names[0], **kwargs).points)
    hits = stub.Search(pb.SearchPoints(collection_name=names[1], vector=[1.0, 2.0],
                                       sparse_indices=pb.SparseIndices(data=[3, 20]),
                                       vector_name="s", limit=4))
    assert _grpc_points(hits.result) == _rest_points(rest_post(
        server, f"/collections/{names[0]}/points/search",
        {"vector": {"name": "s", "vector": {"indices": [3, 20], "values": [1.0, 2.0]}},
         "limit": 4}))
