"""`PUT` / `DELETE /collections/{name}/vectors/{vector_name}` (1.18+): named vectors added to
and dropped from a live collection, dense, multi and sparse, through the official client
and plain HTTP; errors answer as Qdrant does and change nothing."""

from __future__ import annotations

import numpy as np
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client


def test_add_and_drop_named_vectors(server, client: QdrantClient, collection_name) -> None:
    name = collection_name
    client.create_collection(name, vectors_config={"a": models.VectorParams(
        size=2, distance=models.Distance.DOT)})
    client.upsert(name, [models.PointStruct(id=i, vector={"a": [1.0, float(i)]})
                         for i in range(20)])
    result = client.create_vector_name(name, "sp", models.SparseVectorNameConfig(
        sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)))
    assert result.status == models.UpdateStatus.COMPLETED
    client.create_vector_name(name, "mv", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=3, distance=models.Distance.COSINE,
                                       multivector_config=models.MultiVectorConfig(
                                           comparator=models.MultiVectorComparator.MAX_SIM))))
    client.create_vector_name(name, "b", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=2, distance=models.Distance.EUCLID)))
    info = client.get_collection(name).config.params
    assert info.sparse_vectors["sp"].modifier == models.Modifier.IDF
    assert info.vectors["mv"].multivector_config.comparator == "max_sim"
    assert info.vectors["b"].size == 2
    # old points lack the new vectors; new writes fill them and every kind is searchable
    client.update_vectors(name, [models.PointVectors(id=i, vector={
        "sp": models.SparseVector(indices=[i % 3, 10], values=[1.0, 0.5]),
        "mv": [[1.0, 0.0, float(i)], [0.0, 1.0, 0.0]], "b": [float(i), 0.0]})
        for i in range(10)])
    hits = client.query_points(name, query=models.SparseVector(indices=[1], values=[1.0]),
                               using="sp", limit=20).points
    assert sorted(p.id for p in hits) == [1, 4, 7]
    hits = client.query_points(name, query=[[0.0, 0.0, 1.0]], using="mv", limit=3).points
    assert [p.id for p in hits] == [9, 8, 7]
    hits = client.query_points(name, query=[3.2, 0.0], using="b", limit=2).points
    assert [p.id for p in hits] == [3, 4]
    # drop them again
    for vector in ("sp", "mv", "b"):
        client.delete_vector_name(name, vector)
    params = client.get_collection(name).config.params
    assert set(params.vectors) == {"a"} and not params.sparse_vectors
    point = client.retrieve(name, [1], with_vectors=True)[0]
    assert set(point.vector) == {"a"}
    http = checked_client(server.url)
    resp = http.post(f"/collections/{name}/points/query", json={
        "query": {"indices": [1], "values": [1.0]}, "using": "sp"})
    assert resp.status_code == 400
    assert "Not existing vector name error: sp" in resp.json()["status"]["error"]
    # a dropped name can be created again, empty
    client.create_vector_name(name, "sp", models.SparseVectorNameConfig(
        sparse=models.SparseVectorConfig()))
    assert client.query_points(name, query=models.SparseVector(indices=[1], values=[1.0]),
                               using="sp").points == []


def test_vector_name_errors_change_nothing(server, client: QdrantClient,
                                           collection_name) -> None:
    name = collection_name
    client.create_collection(name, vectors_config={"a": models.VectorParams(
        size=2, distance=models.Distance.DOT)},
        sparse_vectors_config={"s": models.SparseVectorParams()})
    before = client.get_collection(name).config.params
    http = checked_client(server.url)
    base = f"/collections/{name}/vectors"
    cases = [
        ("put", f"{base}/a", {"dense": {"size": 4, "distance": "Dot"}}, 400, "already exists"),
        ("put", f"{base}/s", {"sparse": {}}, 400, "already exists"),
        ("put", f"{base}/x", {"dense": {"size": 0, "distance": "Dot"}}, 422, ""),
        ("put", f"{base}/x", {"dense": {"size": 4}}, 422, ""),
        ("delete", f"{base}/nope", None, 404, "nope"),
        ("put", "/collections/no_such/vectors/x", {"sparse": {}}, 404, "no_such"),
    ]
    for method, url, body, status, message in cases:
        resp = http.request(method.upper(), url, json=body)
        assert resp.status_code in (status, 400), (url, body, resp.text)
        assert message in resp.json()["status"]["error"], resp.text
    assert client.get_collection(name).config.params == before
    assert np.isfinite(client.count(name).count)
