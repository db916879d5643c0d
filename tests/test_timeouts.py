"""The `timeout` query parameter of the read endpoints: past it, Qdrant's timeout error."""

from __future__ import annotations

import httpx
import numpy as np
from qdrant_client import QdrantClient, models


def test_timeout_parameter_bounds_reads(server, client: QdrantClient,
                                        collection_name: str) -> None:
    client.create_collection(collection_name, vectors_config=models.VectorParams(
        size=64, distance=models.Distance.COSINE))
    vectors = np.random.default_rng(3).normal(size=(20_000, 64)).astype(np.float32)
    for start in range(0, len(vectors), 5_000):
        client.upsert(collection_name, points=models.Batch(
            ids=list(range(start, start + 5_000)),
            vectors=vectors[start:start + 5_000].tolist()), wait=True)

    # a generous timeout changes nothing: same answer as without one
    query = vectors[7].tolist()
    plain = client.query_points(collection_name, query=query, limit=5)
    bounded = client.query_points(collection_name, query=query, limit=5, timeout=30)
    assert [p.id for p in bounded.points] == [p.id for p in plain.points]

    # thousands of exact best_score recommendations cannot finish within one second
    searches = [{"positive": [i, i + 1, i + 2], "negative": [i + 3], "limit": 10,
                 "strategy": "best_score"} for i in range(0, 12_000, 4)]
    resp = httpx.post(f"{server.url}/collections/{collection_name}/points/recommend/batch",
                      params={"timeout": 1}, json={"searches": searches}, timeout=120)
    assert resp.status_code == 408, resp.text
    assert resp.json()["status"]["error"] == \
        "Timeout: Operation 'RecommendBatch' timed out after 1 seconds"

    # the collection keeps answering and holds every point
    assert client.count(collection_name).count == 20_000
    again = client.query_points(collection_name, query=query, limit=5)
    assert [p.id for p in again.points] == [p.id for p in plain.points]
