"""`/points/recommend` and `/recommend/batch` for every strategy and distance, vs local mode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client

DIM = 8
N = 400
DISTANCES = [models.Distance.COSINE, models.Distance.DOT, models.Distance.EUCLID,
             models.Distance.MANHATTAN]
STRATEGIES = [models.RecommendStrategy.AVERAGE_VECTOR, models.RecommendStrategy.BEST_SCORE,
              models.RecommendStrategy.SUM_SCORES]


@pytest.fixture(scope="module")
def setup(client: QdrantClient) -> Iterator[tuple[QdrantClient, str, np.ndarray]]:
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    config = {d.value: models.VectorParams(size=DIM, distance=d) for d in DISTANCES}
    points = [models.PointStruct(id=i, vector={d.value: vectors[i].tolist() for d in DISTANCES},
                                 payload={"g": i % 4}) for i in range(N)]
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=config)
    oracle.upsert("o", points)
    name = f"rec_{uuid.uuid4().hex[:6]}"
    client.create_collection(name, vectors_config=config, shard_number=2)
    client.upsert(name, points)
    yield oracle, name, vectors
    oracle.close()


@pytest.mark.parametrize("strategy", STRATEGIES, ids=[s.value for s in STRATEGIES])
@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_recommend_matches_local_mode(setup, server, distance, strategy) -> None:
    oracle, name, vectors = setup
    positive = [3, 17, (vectors[40] + 0.5).tolist()]
    negative = [5, (vectors[9] * -1).tolist()]
    flt = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(
        value=2))])
    want = oracle.query_points("o", query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=positive, negative=negative, strategy=strategy)), using=distance.value,
        query_filter=flt, limit=8, offset=2).points
    http = checked_client(server.url)
    got = http.post(f"/collections/{name}/points/recommend", json={
        "positive": positive, "negative": negative, "strategy": strategy.value,
        "using": distance.value, "filter": flt.model_dump(exclude_none=True), "limit": 8,
        "offset": 2}).json()["result"]
    assert [h["id"] for h in got] == [p.id for p in want]
    assert np.allclose([h["score"] for h in got], [p.score for p in want], rtol=1e-4,
                       atol=1e-4)
    assert not {3, 17, 5} & {h["id"] for h in got}


def test_recommend_batch_lookup_and_errors(setup, server, client: QdrantClient) -> None:
    oracle, name, vectors = setup
    other = f"lookup_{uuid.uuid4().hex[:6]}"
    client.create_collection(other, vectors_config={"Dot": models.VectorParams(
        size=DIM, distance=models.Distance.DOT)})
    client.upsert(other, [models.PointStruct(id=1, vector={"Dot": vectors[7].tolist()})])
    http = checked_client(server.url)
    got = http.post(f"/collections/{name}/points/recommend/batch", json={"searches": [
        {"positive": [1], "using": "Dot", "limit": 3,
         "lookup_from": {"collection": other, "vector": "Dot"}},
        {"positive": [7], "using": "Dot", "limit": 3},
    ]}).json()["result"]
    # id 1 of the other collection holds vectors[7]: same query, but id 7 is not excluded
    want = oracle.query_points("o", query=vectors[7].tolist(), using="Dot", limit=4).points
    assert [h["id"] for h in got[0]] == [p.id for p in want[:3]]
    assert [h["id"] for h in got[1]] == [p.id for p in want if p.id != 7][:3]
    resp = http.post(f"/collections/{name}/points/recommend",
                     json={"positive": [123456], "using": "Dot", "limit": 3})
    assert resp.status_code == 404
    resp = http.post(f"/collections/{name}/points/recommend",
                     json={"negative": [1], "using": "Dot", "limit": 3})
    assert resp.status_code == 400


@pytest.mark.parametrize("with_target", [True, False], ids=["discover", "context"])
@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_discover_matches_local_mode(setup, server, distance, with_target) -> None:
    oracle, name, vectors = setup
    pairs = [(11, 12), ((vectors[20] + 0.2).tolist(), 21), (30, (vectors[31] * 0.5).tolist())]
    context = [models.ContextPair(positive=p, negative=n) for p, n in pairs]
    if with_target:
        query = models.DiscoverQuery(discover=models.DiscoverInput(target=4, context=context))
    else:
        query = models.ContextQuery(context=context)
    want = oracle.query_points("o", query=query, using=distance.value, limit=10).points
    body = {"context": [{"positive": p, "negative": n} for p, n in pairs],
            "using": distance.value, "limit": 10}
    if with_target:
        body["target"] = 4
    http = checked_client(server.url)
    got = http.post(f"/collections/{name}/points/discover", json=body).json()["result"]
    assert np.allclose([h["score"] for h in got], [p.score for p in want], rtol=1e-4,
                       atol=1e-5)
    if with_target:  # context-only scores tie a lot; ids are compared where scores differ
        assert [h["id"] for h in got] == [p.id for p in want]
    batch = http.post(f"/collections/{name}/points/discover/batch",
                      json={"searches": [body, body]}).json()["result"]
    assert [h["id"] for h in batch[1]] == [h["id"] for h in got]


@pytest.mark.parametrize("group_size", [1, 3])
def test_search_and_recommend_groups(setup, server, client: QdrantClient,
                                     group_size: int) -> None:
    oracle, name, vectors = setup
    http = checked_client(server.url)
    # regroup by a multi-valued field: each point is in two groups
    for coll in (name,):
        client.set_payload(coll, {"tags": ["x", "y"]}, points=list(range(0, N, 3)))
    oracle.set_payload("o", {"tags": ["x", "y"]}, points=list(range(0, N, 3)))
    lookup = f"groups_{uuid.uuid4().hex[:6]}"
    client.create_collection(lookup, vectors_config={})
    client.upsert(lookup, [models.PointStruct(id=g, vector={}, payload={"name": f"g{g}"})
                           for g in range(4)])
    query = vectors[50].tolist()
    for key in ("g", "tags"):
        want = oracle.query_points_groups("o", group_by=key, query=query, using="Euclid",
                                          limit=3, group_size=group_size).groups
        got = http.post(f"/collections/{name}/points/search/groups", json={
            "vector": {"name": "Euclid", "vector": query}, "group_by": key, "limit": 3,
            "group_size": group_size, "with_payload": ["g"],
            "with_lookup": {"collection": lookup, "with_payload": True}}).json()["result"]
        assert [g["id"] for g in got["groups"]] == [g.id for g in want]
        for mine, theirs in zip(got["groups"], want, strict=True):
            assert [h["id"] for h in mine["hits"]] == [h.id for h in theirs.hits]
            assert all(set(h["payload"]) <= {"g"} for h in mine["hits"])
            if key == "g":
                assert mine["lookup"]["payload"] == {"name": f"g{mine['id']}"}
    want = oracle.query_points_groups("o", group_by="g", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[1, 2], negative=[3])), using="Dot",
        limit=2, group_size=group_size).groups
    got = http.post(f"/collections/{name}/points/recommend/groups", json={
        "positive": [1, 2], "negative": [3], "using": "Dot", "group_by": "g", "limit": 2,
        "group_size": group_size}).json()["result"]
    assert [[h["id"] for h in g["hits"]] for g in got["groups"]] == [
        [h.id for h in g.hits] for g in want]


def test_distance_matrix_pairs_and_offsets(setup, server, client: QdrantClient) -> None:
    oracle, name, _vectors = setup
    flt = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    # sample >= matching points: the sample is every matching point, so the answer is exact
    want = oracle.search_matrix_pairs("o", query_filter=flt, sample=200, limit=3,
                                      using="Euclid").pairs
    got = client.search_matrix_pairs(name, query_filter=flt, sample=200, limit=3,
                                     using="Euclid").pairs
    assert [(p.a, p.b) for p in got] == [(p.a, p.b) for p in want]
    assert np.allclose([p.score for p in got], [p.score for p in want], rtol=1e-4)
    offsets = client.search_matrix_offsets(name, query_filter=flt, sample=200, limit=3,
                                           using="Euclid")
    assert offsets.ids == sorted({p.a for p in want})
    assert [(offsets.ids[r], offsets.ids[c]) for r, c in zip(
        offsets.offsets_row, offsets.offsets_col, strict=True)] == [(p.a, p.b) for p in want]
    small = client.search_matrix_pairs(name, sample=5, limit=2, using="Dot").pairs
    assert len(small) == 10 and len({p.a for p in small}) == 5
