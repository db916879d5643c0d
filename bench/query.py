"""Query API benchmark (skeleton): prefetch, fusion and formula overhead, REST vs local mode.

Today's version covers what the server serves: dense vectors only.  The issue's hybrid
query (dense prefetch 100 + BM25 sparse prefetch 100, rrf) needs sparse vectors and
server-side BM25; until they land, the "hybrid" shape here fuses two dense prefetches
(two named vectors) with rrf.  Shapes, each timed as sequential single queries from one
client with keep-alive, on the same data in our server and in qdrant-client local mode:

- `leaf`: one nearest search, limit 100 (the unit the overhead is measured against);
- `hybrid_rrf`: two nearest prefetches of 100 fused with rrf, limit 10;
- `tree3`: a 3-level tree (two prefetches of 100 -> nearest re-score to 50 -> nearest
  re-score to 10);
- `formula`: a formula re-rank (score + payload decay) over 1,000 candidates.

Reported: queries/s per system and shape, and the prefetch/fusion overhead of the server
as time(shape) / sum(time(leaf searches it contains)) - 1 (target <= 30%).

Usage: `python -m bench.query [--n 100000] [--dim 128] [--queries 200] [--quick]`.
TODO (next step of issue 4): sparse + BM25 prefetch, 4-client runs, markdown report.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import make_points


def shapes(queries: np.ndarray) -> dict[str, Callable[[int], dict[str, Any]]]:
    """Request bodies (REST JSON) per shape, for the i-th query."""

    def q(i: int, shift: int = 0) -> list[float]:
        return queries[(i + shift) % len(queries)].tolist()

    return {
        "leaf": lambda i: {"query": q(i), "using": "a", "limit": 100},
        "hybrid_rrf": lambda i: {"prefetch": [
            {"query": q(i), "using": "a", "limit": 100},
            {"query": q(i, 1), "using": "b", "limit": 100}],
            "query": {"fusion": "rrf"}, "limit": 10},
        "tree3": lambda i: {"prefetch": {"prefetch": [
            {"query": q(i), "using": "a", "limit": 100},
            {"query": q(i, 1), "using": "b", "limit": 100}],
            "query": q(i, 2), "using": "a", "limit": 50},
            "query": q(i, 3), "using": "b", "limit": 10},
        "formula": lambda i: {"prefetch": {"query": q(i), "using": "a", "limit": 1000},
                              "query": {"formula": {"sum": ["$score", {"exp_decay": {
                                  "x": "price", "target": 50.0, "scale": 20.0}}]}},
                              "limit": 10},
    }


LEAVES = {"leaf": 1, "hybrid_rrf": 2, "tree3": 2, "formula": 1}


def run_rest(workdir: Path, vectors: np.ndarray, payloads: list[dict], queries: np.ndarray,
             ) -> dict[str, float]:
    import httpx

    from tests.server_process import ServerProcess

    root = str(Path(__file__).resolve().parent.parent)
    server = ServerProcess(workdir / "storage", env={"PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")]))}).start()
    try:
        http = httpx.Client(base_url=server.url, timeout=600)
        dim = vectors.shape[1]
        http.put("/collections/bench", json={"vectors": {
            "a": {"size": dim, "distance": "Cosine"},
            "b": {"size": dim, "distance": "Cosine"}}}).raise_for_status()
        http.put("/collections/bench/index", params={"wait": "true"}, json={
            "field_name": "price", "field_schema": "float"}).raise_for_status()
        for start in range(0, len(vectors), 1000):
            part = range(start, min(start + 1000, len(vectors)))
            http.put("/collections/bench/points", params={"wait": "true"}, json={"points": [
                {"id": i, "vector": {"a": vectors[i].tolist(), "b": vectors[-1 - i].tolist()},
                 "payload": payloads[i]} for i in part]}).raise_for_status()
        out = {}
        for name, body in shapes(queries).items():
            started = time.perf_counter()
            for i in range(len(queries)):
                http.post("/collections/bench/points/query", json=body(i)).raise_for_status()
            out[name] = len(queries) / (time.perf_counter() - started)
        return out
    finally:
        server.stop()


def run_local(vectors: np.ndarray, payloads: list[dict], queries: np.ndarray,
              ) -> dict[str, float]:
    from qdrant_client import QdrantClient, models

    qc = QdrantClient(":memory:")
    dim = vectors.shape[1]
    qc.create_collection("bench", vectors_config={
        "a": models.VectorParams(size=dim, distance=models.Distance.COSINE),
        "b": models.VectorParams(size=dim, distance=models.Distance.COSINE)})
    qc.upsert("bench", [models.PointStruct(id=i, vector={"a": vectors[i].tolist(),
                                                         "b": vectors[-1 - i].tolist()},
                                           payload=payloads[i]) for i in range(len(vectors))])
    out = {}
    for name, body in shapes(queries).items():
        started = time.perf_counter()
        for i in range(len(queries)):
            qc.query_batch_points("bench", [models.QueryRequest(**body(i))])
        out[name] = len(queries) / (time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--local-queries", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2,000 points, 50 queries")
    args = parser.parse_args()
    if args.quick:
        args.n, args.queries, args.local_queries = 2_000, 50, 10
    vectors, payloads = make_points(args.n, args.dim)
    queries = vectors[np.random.default_rng(1).choice(args.n, args.queries, replace=False)]
    queries = queries + 0.05 * np.random.default_rng(2).normal(size=queries.shape)
    with tempfile.TemporaryDirectory() as tmp:
        rest = run_rest(Path(tmp), vectors, payloads, queries.astype(np.float32))
    local = run_local(vectors, payloads, queries[:args.local_queries].astype(np.float32))
    print(f"{'shape':<12} {'rest q/s':>10} {'local q/s':>10} {'ratio':>8} {'overhead':>9}")
    for name in rest:
        overhead = (rest["leaf"] / LEAVES[name]) / rest[name] - 1.0
        print(f"{name:<12} {rest[name]:>10.1f} {local[name]:>10.1f} "
              f"{rest[name] / local[name]:>7.1f}x {overhead:>8.0%}", file=sys.stdout)


if __name__ == "__main__":
    main()
