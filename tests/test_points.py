"""Points over REST: upsert forms, retrieve, payload and vector operations, batch, errors."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse


@pytest.fixture
def coll(client: QdrantClient, collection_name: str) -> str:
    client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
    )
    return collection_name


def test_upsert_retrieve_roundtrip(client: QdrantClient, coll: str) -> None:
    uid = str(uuid.uuid4())
    result = client.upsert(coll, [
        models.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"a": 1}),
        models.PointStruct(id=uid, vector=[0, 3, 0, 4], payload={"b": "x"}),
    ])
    assert result.status == models.UpdateStatus.COMPLETED
    points = client.retrieve(coll, [1, uid, 99], with_vectors=True)
    assert [p.id for p in points] == [1, uid]
    assert points[0].payload == {"a": 1}
    # Cosine vectors are stored normalised, as in Qdrant.
    assert np.allclose(points[1].vector, [0, 0.6, 0, 0.8])
    assert client.count(coll).count == 2


def test_uuid_spellings_normalised(server, coll: str) -> None:
    u = uuid.uuid4()
    body = {"points": [{"id": u.hex, "vector": [1, 2, 3, 4]}]}
    assert httpx.put(f"{server.url}/collections/{coll}/points?wait=true", json=body).is_success
    got = httpx.get(f"{server.url}/collections/{coll}/points/{u}").json()["result"]
    assert got["id"] == str(u)


def test_batch_form_and_operation_ids(client: QdrantClient, coll: str) -> None:
    r1 = client.upsert(coll, models.Batch(ids=[1, 2, 3], vectors=[[1, 1, 1, 1]] * 3,
                                          payloads=[{"n": i} for i in range(3)]))
    r2 = client.upsert(coll, models.Batch(ids=[4], vectors=[[1, 2, 3, 4]]))
    assert r2.operation_id > r1.operation_id
    assert client.count(coll).count == 4
    assert client.retrieve(coll, [3])[0].payload == {"n": 2}


def test_wrong_dimension_refuses_whole_batch(server, client: QdrantClient, coll: str) -> None:
    body = {"points": [{"id": 1, "vector": [1, 2, 3, 4]}, {"id": 2, "vector": [1, 2, 3]}]}
    resp = httpx.put(f"{server.url}/collections/{coll}/points?wait=true", json=body)
    assert resp.status_code == 400
    assert resp.json()["status"]["error"] == (
        "Wrong input: Vector dimension error: expected dim: 4, got 3")
    assert client.count(coll).count == 0


def test_wrong_vector_name(server, coll: str) -> None:
    body = {"points": [{"id": 1, "vector": {"nope": [1, 2, 3, 4]}}]}
    resp = httpx.put(f"{server.url}/collections/{coll}/points?wait=true", json=body)
    assert resp.status_code == 400
    assert "Not existing vector name error: nope" in resp.json()["status"]["error"]


def test_missing_point_404(server, coll: str) -> None:
    resp = httpx.get(f"{server.url}/collections/{coll}/points/42")
    assert resp.status_code == 404
    assert resp.json()["status"]["error"] == "Not found: No point with id 42 found"


def test_payload_operations(client: QdrantClient, coll: str) -> None:
    client.upsert(coll, [models.PointStruct(id=i, vector=[1, 0, 0, i], payload={"k": i})
                         for i in range(1, 6)])
    client.set_payload(coll, {"tag": "x", "k": 100}, points=[1, 2])
    assert client.retrieve(coll, [1])[0].payload == {"k": 100, "tag": "x"}
    client.set_payload(coll, {"deep": 1}, points=[3], key="nested.obj")
    assert client.retrieve(coll, [3])[0].payload == {"k": 3, "nested": {"obj": {"deep": 1}}}
    client.overwrite_payload(coll, {"only": True}, points=[4])
    assert client.retrieve(coll, [4])[0].payload == {"only": True}
    client.delete_payload(coll, ["tag"], points=[1])
    assert client.retrieve(coll, [1])[0].payload == {"k": 100}
    client.clear_payload(coll, points_selector=models.PointIdsList(points=[5]))
    assert client.retrieve(coll, [5])[0].payload == {}
    flt = models.Filter(must=[models.FieldCondition(key="k", match=models.MatchValue(value=2))])
    client.set_payload(coll, {"by_filter": 1}, points=flt)
    assert client.retrieve(coll, [2])[0].payload == {"k": 100, "tag": "x"}  # k is 100 now
    client.set_payload(coll, {"by_filter": 1},
                       points=models.Filter(must=[models.FieldCondition(
                           key="k", match=models.MatchValue(value=3))]))
    assert client.retrieve(coll, [3])[0].payload["by_filter"] == 1


def test_delete_by_ids_and_filter(client: QdrantClient, coll: str) -> None:
    client.upsert(coll, [models.PointStruct(id=i, vector=[1, 1, 1, 1], payload={"g": i % 2})
                         for i in range(10)])
    client.delete(coll, models.PointIdsList(points=[0, 1]))
    assert client.count(coll).count == 8
    client.delete(coll, models.FilterSelector(filter=models.Filter(must=[
        models.FieldCondition(key="g", match=models.MatchValue(value=1))])))
    ids = sorted(p.id for p in client.scroll(coll, limit=100)[0])
    assert ids == [2, 4, 6, 8]


def test_named_vectors_update_and_delete(client: QdrantClient, collection_name: str) -> None:
    client.create_collection(
        collection_name,
        vectors_config={"a": models.VectorParams(size=2, distance="Dot"),
                        "b": models.VectorParams(size=3, distance="Euclid")},
        sparse_vectors_config={"s": models.SparseVectorParams()},
    )
    client.upsert(collection_name, [models.PointStruct(
        id=1, vector={"a": [1, 2], "b": [1, 2, 3],
                      "s": models.SparseVector(indices=[5, 1], values=[0.5, 0.1])})])
    rec = client.retrieve(collection_name, [1], with_vectors=True)[0]
    assert rec.vector["s"].indices == [1, 5]  # stored sorted
    assert rec.vector["s"].values == pytest.approx([0.1, 0.5])
    client.update_vectors(collection_name, [models.PointVectors(id=1, vector={"a": [9, 9]})])
    rec = client.retrieve(collection_name, [1], with_vectors=True)[0]
    assert rec.vector["a"] == [9, 9] and rec.vector["b"] == [1, 2, 3]
    client.delete_vectors(collection_name, ["b"], models.PointIdsList(points=[1]))
    rec = client.retrieve(collection_name, [1], with_vectors=True)[0]
    assert set(rec.vector) == {"a", "s"}
    with pytest.raises(UnexpectedResponse) as exc:
        client.update_vectors(collection_name, [models.PointVectors(id=2, vector={"a": [1, 1]})])
    assert exc.value.status_code == 404


def test_sparse_duplicate_indices_refused(server, collection_name: str,
                                          client: QdrantClient) -> None:
    client.create_collection(collection_name, vectors_config={},
                             sparse_vectors_config={"s": models.SparseVectorParams()})
    body = {"points": [{"id": 1, "vector": {"s": {"indices": [1, 1], "values": [1, 2]}}}]}
    resp = httpx.put(f"{server.url}/collections/{collection_name}/points?wait=true", json=body)
    assert resp.status_code == 422
    assert client.count(collection_name).count == 0


def test_batch_update_in_order(client: QdrantClient, coll: str) -> None:
    results = client.batch_update_points(coll, [
        models.UpsertOperation(upsert=models.PointsList(points=[
            models.PointStruct(id=1, vector=[1, 2, 3, 4], payload={"a": 1}),
            models.PointStruct(id=2, vector=[1, 2, 3, 4])])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"b": 2}, points=[1])),
        models.DeleteOperation(delete=models.PointIdsList(points=[2])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["a"],
                                                                          points=[1])),
    ])
    assert len(results) == 4
    assert [r.operation_id for r in results] == sorted(r.operation_id for r in results)
    assert client.retrieve(coll, [1, 2])[0].payload == {"b": 2}
    assert client.count(coll).count == 1


def test_scroll_pagination_and_selectors(client: QdrantClient, coll: str) -> None:
    client.upsert(coll, [models.PointStruct(id=i, vector=[1, 0, 0, 0],
                                            payload={"a": i, "b": {"c": i, "d": 0}})
                         for i in range(25)])
    seen, offset = [], None
    while True:
        page, offset = client.scroll(coll, limit=7, offset=offset)
        seen.extend(p.id for p in page)
        if offset is None:
            break
    assert seen == list(range(25))
    page, _ = client.scroll(coll, limit=1, with_payload=["b.c"])
    assert page[0].payload == {"b": {"c": 0}}
    page, _ = client.scroll(coll, limit=1,
                            with_payload=models.PayloadSelectorExclude(exclude=["b"]))
    assert page[0].payload == {"a": 0}


def test_wait_false_acknowledged(server, client: QdrantClient, coll: str) -> None:
    body = {"points": [{"id": 7, "vector": [1, 2, 3, 4]}]}
    resp = httpx.put(f"{server.url}/collections/{coll}/points", json=body)
    assert resp.json()["result"]["status"] == "acknowledged"
    assert client.count(coll).count == 1


def test_gzip_request_and_response(server, coll: str) -> None:
    import gzip

    import orjson

    body = orjson.dumps({"points": [{"id": i, "vector": [1, 2, 3, 4], "payload": {"t": "x" * 50}}
                                    for i in range(50)]})
    resp = httpx.put(f"{server.url}/collections/{coll}/points?wait=true",
                     content=gzip.compress(body),
                     headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    resp = httpx.post(f"{server.url}/collections/{coll}/points/scroll",
                      json={"limit": 50, "with_payload": True},
                      headers={"Accept-Encoding": "gzip"})
    assert resp.headers.get("content-encoding") == "gzip"
    assert len(resp.json()["result"]["points"]) == 50


def test_request_size_limit(server, coll: str) -> None:
    big = b'{"points": [' + b" " * (33 * 1024 * 1024) + b"]}"
    resp = httpx.put(f"{server.url}/collections/{coll}/points", content=big)
    assert resp.status_code in (400, 413)
    assert "larger than allowed" in resp.json()["status"]["error"]
