"""Query API benchmark: hybrid dense + BM25 search, prefetch/fusion overhead, REST vs local mode.

Data: `--n` documents (default 100,000), each a 128-d dense vector (clustered) and a short
synthetic text (10-40 words drawn from a Zipf-distributed vocabulary of 20,000 words).
The server gets the texts as `Document`s with `model: "qdrant/bm25"` (server-side BM25
inference, sparse vector `bm25` with `modifier: idf`); local mode, which has no BM25
without fastembed, gets the same sparse vectors precomputed with `vectorizer.index.bm25`.

Shapes, each timed as sequential single queries from one keep-alive client (stdlib
`http.client`, see `bench.common.KeepAliveClient`), on the same data in both systems:

- `dense`: one nearest dense search, limit 100 (`dense_1000`: limit 1000, the formula's
  leaf);
- `bm25`: one nearest BM25 search (a `Document` query), limit 100;
- `hybrid_rrf`: the issue's hybrid query: a dense prefetch of 100 and a BM25 prefetch of
  100 fused with rrf, limit 10;
- `tree3`: a 3-level tree (dense + BM25 prefetches of 100 -> dense re-score to 50 ->
  BM25 re-score to 10);
- `formula`: a formula re-rank (score + payload decay) over 1,000 dense candidates.

Reported: queries/s per system and shape, the ratio, and the server's prefetch/fusion
overhead: time(shape) / sum(time(the leaf searches it contains)) - 1 (target <= 30%).

Usage: `python -m bench.query [--n 100000] [--queries 300] [--local-queries 5] [--quick]`.
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
import orjson

from bench.common import KeepAliveClient, make_points

VOCAB = 20_000


def make_texts(n: int, seed: int = 7) -> list[str]:
    """Synthetic documents: Zipf-distributed words (a few very common, a long tail)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}x" for i in range(VOCAB)]
    ranks = np.minimum(rng.zipf(1.3, size=n * 40), VOCAB) - 1
    lengths = rng.integers(10, 41, size=n)
    out, pos = [], 0
    for length in lengths.tolist():
        out.append(" ".join(words[r] for r in ranks[pos:pos + length].tolist()))
        pos += length
    return out


def make_query_texts(count: int, seed: int = 8) -> list[str]:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=(count, 3)), VOCAB) - 1
    return [" ".join(f"w{r}x" for r in row) for row in ranks.tolist()]


def shapes(queries: np.ndarray, texts: list[str], sparse: bool,
           ) -> dict[str, Callable[[int], dict[str, Any]]]:
    """Request bodies per shape for the i-th query; `sparse`: BM25 as precomputed sparse
    vectors (local mode) instead of `Document`s (the server)."""
    from vectorizer.index.bm25 import Bm25

    model = Bm25()

    def q(i: int, shift: int = 0) -> list[float]:
        return queries[(i + shift) % len(queries)].tolist()

    def t(i: int) -> Any:
        text = texts[i % len(texts)]
        if sparse:
            dims, values = model.search_embed(text)
            return {"indices": dims.tolist(), "values": values.tolist()}
        return {"text": text, "model": "qdrant/bm25"}

    return {
        "dense": lambda i: {"query": q(i), "using": "dense", "limit": 100},
        "dense_1000": lambda i: {"query": q(i), "using": "dense", "limit": 1000},
        "bm25": lambda i: {"query": t(i), "using": "bm25", "limit": 100},
        "hybrid_rrf": lambda i: {"prefetch": [
            {"query": q(i), "using": "dense", "limit": 100},
            {"query": t(i), "using": "bm25", "limit": 100}],
            "query": {"fusion": "rrf"}, "limit": 10},
        "tree3": lambda i: {"prefetch": {"prefetch": [
            {"query": q(i), "using": "dense", "limit": 100},
            {"query": t(i), "using": "bm25", "limit": 100}],
            "query": q(i, 2), "using": "dense", "limit": 50},
            "query": t(i + 1), "using": "bm25", "limit": 10},
        "formula": lambda i: {"prefetch": {"query": q(i), "using": "dense", "limit": 1000},
                              "query": {"formula": {"sum": ["$score", {"exp_decay": {
                                  "x": "price", "target": 50.0, "scale": 20.0}}]}},
                              "limit": 10},
    }


# The leaf searches each shape contains, for the overhead figure.
LEAVES = {"dense": ("dense",), "dense_1000": ("dense_1000",), "bm25": ("bm25",),
          "hybrid_rrf": ("dense", "bm25"),
          "tree3": ("dense", "bm25"), "formula": ("dense_1000",)}

CONFIG = {"vectors": {"dense": {"size": 128, "distance": "Cosine"}},
          "sparse_vectors": {"bm25": {"modifier": "idf"}}}


def run_rest(workdir: Path, vectors: np.ndarray, payloads: list[dict], texts: list[str],
             queries: np.ndarray, query_texts: list[str]) -> dict[str, float]:
    import httpx

    from tests.server_process import ServerProcess

    root = str(Path(__file__).resolve().parent.parent)
    server = ServerProcess(workdir / "storage", env={"PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")]))}).start()
    try:
        http = httpx.Client(base_url=server.url, timeout=600)
        config = {**CONFIG, "vectors": {"dense": {"size": vectors.shape[1],
                                                  "distance": "Cosine"}}}
        http.put("/collections/bench", json=config).raise_for_status()
        http.put("/collections/bench/index", params={"wait": "true"}, json={
            "field_name": "price", "field_schema": "float"}).raise_for_status()
        started = time.perf_counter()
        for start in range(0, len(vectors), 1000):
            part = range(start, min(start + 1000, len(vectors)))
            body = orjson.dumps({"points": [
                {"id": i, "vector": {"dense": vectors[i].tolist(), "bm25": {
                    "text": texts[i], "model": "qdrant/bm25"}}, "payload": payloads[i]}
                for i in part]}, option=orjson.OPT_SERIALIZE_NUMPY)
            http.put("/collections/bench/points", params={"wait": "true"}, content=body,
                     headers={"content-type": "application/json"}).raise_for_status()
        print(f"server: upserted {len(vectors)} documents (BM25 inference on the server) in "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
        while http.get("/collections/bench").json()["result"]["status"] != "green":
            time.sleep(1.0)  # HNSW built: searches measure the steady state
        client = KeepAliveClient(server.url)
        out = {}
        for name, body_of in shapes(queries, query_texts, sparse=False).items():
            bodies = [orjson.dumps(body_of(i)) for i in range(len(queries))]
            for body in bodies[:10]:  # warm-up
                client.post("/collections/bench/points/query", body)
            started = time.perf_counter()
            for body in bodies:
                client.post("/collections/bench/points/query", body)
            out[name] = len(bodies) / (time.perf_counter() - started)
        client.close()
        return out
    finally:
        server.stop()


def run_local(vectors: np.ndarray, payloads: list[dict], texts: list[str],
              queries: np.ndarray, query_texts: list[str]) -> dict[str, float]:
    from qdrant_client import QdrantClient, models

    from vectorizer.index.bm25 import Bm25

    model = Bm25()
    qc = QdrantClient(":memory:")
    qc.create_collection("bench", vectors_config={"dense": models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE)}, sparse_vectors_config={
        "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)})
    points = []
    for i in range(len(vectors)):
        dims, values = model.doc_embed(texts[i])
        points.append(models.PointStruct(id=i, payload=payloads[i], vector={
            "dense": vectors[i].tolist(),
            "bm25": models.SparseVector(indices=dims.tolist(), values=values.tolist())}))
    qc.upsert("bench", points)
    out = {}
    for name, body in shapes(queries, query_texts, sparse=True).items():
        started = time.perf_counter()
        for i in range(len(queries)):
            qc.query_batch_points("bench", [models.QueryRequest(**body(i))])
        out[name] = len(queries) / (time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--local-queries", type=int, default=5)
    parser.add_argument("--no-local", action="store_true", help="skip local mode")
    parser.add_argument("--quick", action="store_true", help="2,000 points, 50 queries")
    args = parser.parse_args()
    if args.quick:
        args.n, args.queries, args.local_queries = 2_000, 50, 10
    vectors, payloads = make_points(args.n, args.dim)
    texts = make_texts(args.n)
    queries = vectors[np.random.default_rng(1).choice(args.n, args.queries, replace=False)]
    queries = (queries + 0.05 * np.random.default_rng(2).normal(size=queries.shape)).astype(
        np.float32)
    query_texts = make_query_texts(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        rest = run_rest(Path(tmp), vectors, payloads, texts, queries, query_texts)
    local = None if args.no_local else run_local(
        vectors, payloads, texts, queries[:args.local_queries], query_texts)
    print(f"{'shape':<12} {'rest q/s':>10} {'local q/s':>10} {'ratio':>8} {'overhead':>9}")
    for name in rest:
        leaves_time = sum(1.0 / rest[leaf] for leaf in LEAVES[name])
        overhead = (1.0 / rest[name]) / leaves_time - 1.0
        local_qps = f"{local[name]:>10.2f}" if local else f"{'-':>10}"
        ratio = f"{rest[name] / local[name]:>7.0f}x" if local else f"{'-':>8}"
        print(f"{name:<12} {rest[name]:>10.1f} {local_qps} {ratio} {overhead:>8.0%}")


if __name__ == "__main__":
    main()
