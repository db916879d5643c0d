"""Search benchmark: queries/s and recall@10 for us and the anchors, in one run.

Same clustered data and queries for: our server over REST (one client, sequential
requests), our engine called in-process (no HTTP), qdrant-edge-py (Qdrant's engine
in-process), raw faiss HNSW with the same m / ef_construct / ef, and qdrant-client
local mode (brute force).  Ground truth is exact numpy search.
Usage: `python -m bench.search [--n 100000] [--dim 128] [--queries 200] [--ef 64]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench.common import make_points, print_table
from tests.server_process import ServerProcess

K = 10
M, EF_CONSTRUCT = 16, 100
# (label, points kept: payload b < bound out of b = id % 100)
FILTERS = [("no filter", None), ("10% filter", 10), ("1% filter", 1)]


def ground_truth(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    dists = (queries**2).sum(1)[:, None] - 2 * queries @ vectors.T + (vectors**2).sum(1)[None]
    return np.argsort(dists, axis=1)[:, :K]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth,
                                                                               strict=True)]))


def run_server(url: str, vectors: np.ndarray, queries: np.ndarray, ef: int,
               ) -> tuple[float, list[list[int]], float]:
    http = httpx.Client(base_url=url, timeout=600)
    http.put("/collections/bench", json={
        "vectors": {"size": vectors.shape[1], "distance": "Euclid"},
        "hnsw_config": {"m": M, "ef_construct": EF_CONSTRUCT}}).raise_for_status()
    for start in range(0, len(vectors), 1000):
        body = orjson.dumps({"points": [{"id": i, "vector": vectors[i]}
                                        for i in range(start, min(start + 1000, len(vectors)))]},
                            option=orjson.OPT_SERIALIZE_NUMPY)
        http.put("/collections/bench/points", params={"wait": "true"}, content=body,
                 headers={"content-type": "application/json"}).raise_for_status()
    started = time.perf_counter()
    while True:
        info = http.get("/collections/bench").json()["result"]
        if info["status"] == "green":
            break
        time.sleep(0.5)
    build = time.perf_counter() - started
    found = []
    started = time.perf_counter()
    for q in queries:
        body = orjson.dumps({"vector": q, "limit": K, "params": {"hnsw_ef": ef}},
                            option=orjson.OPT_SERIALIZE_NUMPY)
        hits = http.post("/collections/bench/points/search", content=body,
                         headers={"content-type": "application/json"}).json()["result"]
        found.append([h["id"] for h in hits])
    return len(queries) / (time.perf_counter() - started), found, build


def run_engine(path: Path, vectors: np.ndarray, queries: np.ndarray, ef: int,
               ) -> tuple[float, list[list[int]]]:
    from qdrant_client.http import models

    from vectorizer.collection.collection import Collection
    from vectorizer.collection.config import build_config
    from vectorizer.collection.operations import (
        CreateFieldIndex,
        DenseColumn,
        PointsBatch,
        Upsert,
    )

    create = models.CreateCollection(
        vectors=models.VectorParams(size=vectors.shape[1], distance=models.Distance.EUCLID),
        hnsw_config=models.HnswConfigDiff(m=M, ef_construct=EF_CONSTRUCT))
    col = Collection.create("bench", path, build_config(create, None))
    col.update(CreateFieldIndex("b", models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER)), wait=False)
    for start in range(0, len(vectors), 10_000):
        end = min(start + 10_000, len(vectors))
        batch = PointsBatch(ids=list(range(start, end)), dense={"": DenseColumn(
            rows=np.arange(end - start), data=vectors[start:end])},
            payloads=[{"b": i % 100} for i in range(start, end)])
        col.update(Upsert(batch), wait=False)
    while col.optimize() or col.status() != "green":
        pass
    params = models.SearchParams(hnsw_ef=ef)
    results = {}
    for label, bound in FILTERS:
        flt = None if bound is None else models.Filter(must=[models.FieldCondition(
            key="b", range=models.Range(lt=bound))])
        found = []
        started = time.perf_counter()
        for q in queries:
            hits = col.search("", q.tolist(), flt, K, 0, None, None, False, None, params)
            found.append([h["id"] for h in hits])
        results[label] = (len(queries) / (time.perf_counter() - started), found)
    col.close()
    return results


def run_edge(path: Path, vectors: np.ndarray, queries: np.ndarray, ef: int,
             ) -> tuple[float, list[list[int]]]:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Euclid),
        hnsw_config=qe.HnswIndexConfig(m=M, ef_construct=EF_CONSTRUCT,
                                       full_scan_threshold=10_000)))
    shard.update(qe.UpdateOperation.create_field_index("b", qe.IntegerIndexParams(
        lookup=True, range=True)))
    for start in range(0, len(vectors), 1000):
        end = min(start + 1000, len(vectors))
        shard.update(qe.UpdateOperation.upsert_points(
            [qe.Point(i, vectors[i].tolist(), {"b": i % 100}) for i in range(start, end)]))
    while shard.optimize():
        pass
    params = qe.SearchParams(hnsw_ef=ef)
    results = {}
    for label, bound in FILTERS:
        flt = None if bound is None else qe.Filter(must=[qe.FieldCondition(
            key="b", range=qe.RangeFloat(lt=bound))])
        found = []
        started = time.perf_counter()
        for q in queries:
            hits = shard.search(qe.SearchRequest(query=qe.Query.Nearest(q.tolist()), limit=K,
                                                 params=params, filter=flt))
            found.append([h.id for h in hits])
        results[label] = (len(queries) / (time.perf_counter() - started), found)
    shard.close()
    return results


def run_faiss(vectors: np.ndarray, queries: np.ndarray, ef: int,
              ) -> tuple[float, list[list[int]]]:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], M)
    index.hnsw.efConstruction = EF_CONSTRUCT
    index.add(vectors)
    index.hnsw.efSearch = ef
    found = []
    started = time.perf_counter()
    for q in queries:
        _d, ids = index.search(q[None, :], K)
        found.append(ids[0].tolist())
    return len(queries) / (time.perf_counter() - started), found


def run_local(vectors: np.ndarray, queries: np.ndarray) -> tuple[float, list[list[int]]]:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection("b", vectors_config=models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.EUCLID))
    client.upload_collection("b", vectors=vectors, ids=range(len(vectors)))
    found = []
    sample = queries[: max(10, len(queries) // 10)]  # brute force in Python: a sample is enough
    started = time.perf_counter()
    for q in sample:
        found.append([p.id for p in client.query_points("b", query=q.tolist(), limit=K).points])
    return len(sample) / (time.perf_counter() - started), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", type=int, default=64)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    vectors, _payloads = make_points(args.n + args.queries, args.dim)
    vectors, queries = vectors[: args.n], vectors[args.n:]
    truth = ground_truth(vectors, queries)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "storage").start()
        try:
            qps, found, build = run_server(server.url, vectors, queries, args.ef)
            rows.append(("vectorizer REST", qps,
                         f"recall@10 {recall(found, truth):.3f}, index ready {build:.0f}s "
                         "after upload"))
        finally:
            server.stop()
        ours = run_engine(Path(tmp) / "engine", vectors, queries, args.ef)
        qps, found = ours["no filter"]
        rows.append(("vectorizer engine in-process", qps, f"recall@10 {recall(found, truth):.3f}"))
        edge = run_edge(Path(tmp) / "edge", vectors, queries, args.ef)
        qps, found = edge["no filter"]
        rows.append(("qdrant-edge-py in-process", qps, f"recall@10 {recall(found, truth):.3f}"))
    qps, found = run_faiss(vectors, queries, args.ef)
    rows.append(("raw faiss HNSW (one index)", qps, f"recall@10 {recall(found, truth):.3f}"))
    if not args.skip_local:
        qps, found = run_local(vectors, queries)
        rows.append(("qdrant-client local mode", qps,
                     f"recall@10 {recall(found, truth[: len(found)]):.3f} (brute force)"))
    print_table(f"Search {args.n} x {args.dim} Euclid, top-{K}, m={M}, ef_construct="
                f"{EF_CONSTRUCT}, hnsw_ef={args.ef}, one client, sequential", rows, "queries/s")
    for label, bound in FILTERS[1:]:
        keep = np.flatnonzero(np.arange(args.n) % 100 < bound)
        sub_truth = keep[ground_truth(vectors[keep], queries)]
        filtered = []
        for system, res in (("vectorizer engine in-process", ours), ("qdrant-edge-py", edge)):
            qps, found = res[label]
            filtered.append((system, qps, f"recall@10 {recall(found, sub_truth):.3f}"))
        print_table(f"Filtered search, {label} (payload range on an integer index)", filtered,
                    "queries/s")


if __name__ == "__main__":
    main()
