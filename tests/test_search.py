"""Exact dense search over `/points/search` and `/points/search/batch`, checked against local mode.

Every distance and stored datatype, with filters, offsets, score thresholds and
named vectors: ids and order must equal local mode's `query_points`, scores must
agree within float tolerance.  Responses are validated against the 1.18 spec.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client

DIM = 16
N = 600
DISTANCES = [models.Distance.COSINE, models.Distance.DOT, models.Distance.EUCLID,
             models.Distance.MANHATTAN]


def _data() -> tuple[np.ndarray, list[dict]]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    payloads = [{"g": int(i % 7), "f": float(rng.random())} for i in range(N)]
    return vectors, payloads


@pytest.fixture(scope="module")
def setup(server, client: QdrantClient) -> Iterator[tuple[QdrantClient, str, np.ndarray]]:
    vectors, payloads = _data()
    oracle = QdrantClient(":memory:")
    config = {d.value: models.VectorParams(size=DIM, distance=d) for d in DISTANCES}
    name = f"search_{uuid.uuid4().hex[:6]}"
    oracle.create_collection("o", vectors_config=config)
    client.create_collection(name, vectors_config=config, shard_number=3)
    points = [models.PointStruct(id=i, vector={d.value: vectors[i].tolist() for d in DISTANCES},
                                 payload=payloads[i]) for i in range(N)]
    oracle.upsert("o", points)
    for start in range(0, N, 200):
        client.upsert(name, points[start:start + 200])
    client.delete(name, models.PointIdsList(points=list(range(0, N, 10))))
    oracle.delete("o", models.PointIdsList(points=list(range(0, N, 10))))
    yield oracle, name, vectors
    oracle.close()


CASES = [
    ("plain", None, 0, None),
    ("filter", models.Filter(must=[models.FieldCondition(
        key="g", match=models.MatchAny(any=[1, 3]))]), 0, None),
    ("offset", None, 7, None),
    ("filter+offset", models.Filter(must_not=[models.FieldCondition(
        key="f", range=models.Range(lt=0.5))]), 3, None),
]


@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
@pytest.mark.parametrize("case,flt,offset,_", CASES, ids=[c[0] for c in CASES])
def test_search_matches_local_mode(setup, server, distance, case, flt, offset, _) -> None:
    oracle, name, vectors = setup
    http = checked_client(server.url)
    query = (vectors[5] * 0.9 + 0.1).tolist()
    want = oracle.query_points("o", query=query, using=distance.value, query_filter=flt,
                               limit=10, offset=offset, with_payload=True).points
    body = {"vector": {"name": distance.value, "vector": query}, "limit": 10,
            "offset": offset, "with_payload": True}
    if flt is not None:
        body["filter"] = flt.model_dump(exclude_none=True)
    got = http.post(f"/collections/{name}/points/search", json=body).json()["result"]
    assert [h["id"] for h in got] == [p.id for p in want]
    assert np.allclose([h["score"] for h in got], [p.score for p in want], rtol=1e-4, atol=1e-4)
    assert [h["payload"] for h in got] == [p.payload for p in want]


@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_score_threshold_direction(setup, server, distance) -> None:
    oracle, name, vectors = setup
    query = vectors[11].tolist()
    ref = oracle.query_points("o", query=query, using=distance.value, limit=30).points
    threshold = (ref[12].score + ref[13].score) / 2  # away from float rounding at a boundary
    want = oracle.query_points("o", query=query, using=distance.value, limit=30,
                               score_threshold=threshold).points
    http = checked_client(server.url)
    got = http.post(f"/collections/{name}/points/search", json={
        "vector": {"name": distance.value, "vector": query}, "limit": 30,
        "score_threshold": threshold}).json()["result"]
    assert [h["id"] for h in got] == [p.id for p in want]
    assert 0 < len(got) < 30


def test_search_batch_and_vectors(setup, server) -> None:
    oracle, name, vectors = setup
    http = checked_client(server.url)
    searches = [{"vector": {"name": d.value, "vector": vectors[i].tolist()}, "limit": 4,
                 "with_vector": [d.value]} for i, d in enumerate(DISTANCES, start=1)]
    got = http.post(f"/collections/{name}/points/search/batch",
                    json={"searches": searches}).json()["result"]
    assert len(got) == 4
    for (i, d), hits in zip(enumerate(DISTANCES, start=1), got, strict=True):
        want = oracle.query_points("o", query=vectors[i].tolist(), using=d.value,
                                   limit=4).points
        assert [h["id"] for h in hits] == [p.id for p in want]
        assert set(hits[0]["vector"]) == {d.value}


@pytest.mark.parametrize("datatype", [models.Datatype.FLOAT16, models.Datatype.UINT8])
def test_stored_datatypes(client: QdrantClient, server, collection_name: str, datatype) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.integers(0, 200, size=(100, DIM)).astype(np.float32)
    config = models.VectorParams(size=DIM, distance=models.Distance.EUCLID, datatype=datatype)
    client.create_collection(collection_name, vectors_config=config)
    client.upsert(collection_name, models.Batch(ids=list(range(100)), vectors=vectors.tolist()))
    http = checked_client(server.url)
    got = http.post(f"/collections/{collection_name}/points/search", json={
        "vector": vectors[42].tolist(), "limit": 3}).json()["result"]
    assert got[0]["id"] == 42 and got[0]["score"] == pytest.approx(0.0, abs=1e-3)
    expected = np.sqrt(((vectors - vectors[42]) ** 2).sum(axis=1))
    assert [h["id"] for h in got] == np.argsort(expected, kind="stable")[:3].tolist()


def test_search_batch_distances_are_as_exact_as_single_searches(
        client: QdrantClient, server, collection_name: str) -> None:
    """Searches batched together score large-magnitude vectors as precisely as alone."""
    rng = np.random.default_rng(4)
    vectors = rng.integers(0, 250, size=(300, DIM)).astype(np.float32)
    client.create_collection(collection_name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.EUCLID))
    client.upsert(collection_name, models.Batch(ids=list(range(300)), vectors=vectors.tolist()))
    http = checked_client(server.url)
    searches = [{"vector": (vectors[i] + 0.01).tolist(), "limit": 3} for i in (5, 50, 150)]
    batch = http.post(f"/collections/{collection_name}/points/search/batch",
                      json={"searches": searches}).json()["result"]
    for body, hits in zip(searches, batch, strict=True):
        alone = http.post(f"/collections/{collection_name}/points/search",
                          json=body).json()["result"]
        assert [h["id"] for h in hits] == [h["id"] for h in alone]
        assert [h["score"] for h in hits] == pytest.approx([h["score"] for h in alone],
                                                          abs=1e-4)
        assert hits[0]["score"] == pytest.approx(0.01 * np.sqrt(DIM), abs=1e-3)


def test_search_errors(setup, server) -> None:
    _oracle, name, _vectors = setup
    http = checked_client(server.url)
    resp = http.post(f"/collections/{name}/points/search",
                     json={"vector": {"name": "Dot", "vector": [1.0, 2.0]}, "limit": 3})
    assert resp.status_code == 400
    assert resp.json()["status"]["error"] == (
        "Wrong input: Vector dimension error: expected dim: 16, got 2")
    resp = http.post(f"/collections/{name}/points/search",
                     json={"vector": {"name": "nope", "vector": [1.0] * DIM}, "limit": 3})
    assert resp.status_code == 400
    assert "Not existing vector name error: nope" in resp.json()["status"]["error"]


def test_equal_scores_ordered_by_id_across_the_cut(client: QdrantClient, server,
                                                   collection_name: str) -> None:
    """Runs of equal scores (duplicated vectors) spread over 3 shards: every page, whatever
    its offset, orders them by point id, as Qdrant does (local mode leaves ties in no
    particular order, so it gives the scores and the test the order)."""
    rng = np.random.default_rng(11)
    # small integers: every dot product is exact, whatever the summation order
    base = rng.integers(-3, 4, size=(6, DIM)).astype(np.float32)
    ids = [int(i) for i in rng.permutation(np.arange(1, 121))]
    vectors = {pid: base[k % 6] for k, pid in enumerate(ids)}  # 20 points per vector
    oracle = QdrantClient(":memory:")
    params = models.VectorParams(size=DIM, distance=models.Distance.DOT)
    oracle.create_collection("o", vectors_config=params)
    client.create_collection(collection_name, vectors_config=params, shard_number=3)
    points = [models.PointStruct(id=pid, vector=vectors[pid].tolist()) for pid in ids]
    oracle.upsert("o", points)
    client.upsert(collection_name, points, wait=True)
    query = (base[2] + 1.0).tolist()
    scored = oracle.query_points("o", query=query, limit=len(ids)).points
    ranked = [p.id for p in sorted(scored, key=lambda p: (-round(p.score, 4), p.id))]
    for offset, limit in ((0, 10), (5, 20), (17, 6), (38, 30)):
        want = ranked[offset:offset + limit]
        got = client.query_points(collection_name, query=query, limit=limit,
                                  offset=offset).points
        assert [p.id for p in got] == want, (offset, limit)
        legacy = checked_client(server.url).post(
            f"/collections/{collection_name}/points/search",
            json={"vector": query, "limit": limit, "offset": offset})
        assert [p["id"] for p in legacy.json()["result"]] == want, (offset, limit)
