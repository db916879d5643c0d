"""The query planner in-process: identical sub-requests run once, nearest leaves sharing
vector, filter and params run as one `search_many` pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.collection.collection import Collection
from vectorizer.collection.config import build_config
from vectorizer.collection.operations import DenseColumn, PointsBatch, Upsert
from vectorizer.collection.query import planner


def _collection(path: Path) -> Collection:
    create = models.CreateCollection(vectors={
        "a": models.VectorParams(size=4, distance=models.Distance.DOT),
        "b": models.VectorParams(size=4, distance=models.Distance.COSINE)})
    col = Collection.create("c", path / "c", build_config(create, None))
    data = np.random.default_rng(3).normal(size=(200, 4)).astype(np.float32)
    col.update(Upsert(PointsBatch(ids=list(range(200)), dense={
        "a": DenseColumn(rows=np.arange(200), data=data),
        "b": DenseColumn(rows=np.arange(200), data=data[::-1].copy())},
        payloads=[{"g": i % 3} for i in range(200)])), wait=True)
    return col


def test_identical_subrequests_run_once_and_leaves_are_batched(tmp_path: Path,
                                                               monkeypatch: Any) -> None:
    col = _collection(tmp_path)
    calls: list[tuple[str, int]] = []
    original = col.search_many

    def counting(name: str, flt: Any, shard_key: Any, params: Any, requests: list) -> list:
        calls.append((name, len(requests)))
        return original(name, flt, shard_key, params, requests)

    monkeypatch.setattr(col, "search_many", counting)
    shared = models.Prefetch(query=[1.0, 0.0, 0.0, 0.0], using="a", limit=20)
    other = models.Prefetch(query=[0.0, 1.0, 0.0, 0.0], using="a", limit=20)
    requests = [
        models.QueryRequest(prefetch=[shared, other, shared],
                            query=models.FusionQuery(fusion=models.Fusion.RRF), limit=5),
        models.QueryRequest(prefetch=shared, query=[0.0, 0.0, 1.0, 0.0], using="b", limit=5),
        models.QueryRequest(query=[0.0, 1.0, 0.0, 0.0], using="a", limit=20),
    ]
    pages = planner.query_batch(col, lambda name: col, requests)
    # one pass over vector `a` with the two distinct prefetch queries and the root leaf;
    # the nearest re-scoring over `b` scores its candidates from their rows, no search
    assert calls == [("a", 3)]
    assert [len(p) for p in pages] == [5, 5, 20]
    # ... and ranks them as a search restricted to them would
    candidates = [h["id"] for h in planner.query_points(col, lambda name: col, models.QueryRequest(
        query=[1.0, 0.0, 0.0, 0.0], using="a", limit=20))]
    restricted = col.search("b", [0.0, 0.0, 1.0, 0.0], models.Filter(must=[
        models.HasIdCondition(has_id=candidates)]), 5, 0, None, None, False)
    assert [(h["id"], h["score"]) for h in pages[1]] == \
        [(h["id"], h["score"]) for h in restricted]
    alone = planner.query_points(col, lambda name: col, requests[0])
    assert [h["id"] for h in alone] == [h["id"] for h in pages[0]]
    col.close()
