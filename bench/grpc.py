"""gRPC vs REST on one server: upsert points/s and search queries/s, one client, same data.

Usage: `python -m bench.grpc [--n 100000] [--dim 128] [--queries 2000]`.

One real server process (this checkout) serves both transports. The same 100k x 128
points (with payloads, batches of 256, `wait=true`) are upserted into one collection
over REST and into another over gRPC (`qdrant.Points/Upsert`); the REST collection is
then indexed (HNSW m=16, ef_construct=100) and the same queries (top-10, hnsw_ef=64)
are sent over REST (`POST /points/query`) and over gRPC (`qdrant.Points/Query`, and
`/points/search` vs `Points/Search`), sequentially from one client.

Both clients send pre-serialized requests (REST: orjson bytes on a keep-alive stdlib
HTTP/1.1 connection; gRPC: protobuf bytes on one channel), so the figures measure the
server and its transport, not the cost of building requests in Python. Each phase runs
twice, interleaved, and the better round counts.

Then the server is stopped and its storage opened in this process: the same upserts and
queries as direct engine calls give the in-process time per request, and the difference
is each transport's per-request overhead.
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

import grpc
import httpx
import numpy as np
import orjson
from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import RestToGrpc

from bench.common import KeepAliveClient, make_points, print_table
from tests.server_process import ServerProcess

BATCH = 256
K = 10
EF = 64
M, EF_CONSTRUCT = 16, 100


def _put(client: KeepAliveClient, path: str, body: bytes) -> bytes:
    client.conn.request("PUT", path, body=body, headers=client.headers)
    resp = client.conn.getresponse()
    data = resp.read()
    if resp.status >= 400:
        raise RuntimeError(f"PUT {path}: HTTP {resp.status}: {data[:300]!r}")
    return data


def rest_upserts(vectors: np.ndarray, payloads: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({"points": [{"id": i, "vector": vectors[i], "payload": payloads[i]}
                                     for i in range(s, min(s + BATCH, len(vectors)))]},
                         option=orjson.OPT_SERIALIZE_NUMPY)
            for s in range(0, len(vectors), BATCH)]


def grpc_upserts(name: str, vectors: np.ndarray, payloads: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for s in range(0, len(vectors), BATCH):
        points = [pb.PointStruct(
            id=pb.PointId(num=i),
            vectors=pb.Vectors(vector=pb.Vector(dense=pb.DenseVector(data=vectors[i].tolist()))),
            payload=RestToGrpc.convert_payload(payloads[i]))
            for i in range(s, min(s + BATCH, len(vectors)))]
        out.append(pb.UpsertPoints(collection_name=name, wait=True,
                                   points=points).SerializeToString())
    return out


def rest_queries(queries: np.ndarray, key: str) -> list[bytes]:
    return [orjson.dumps({key: q, "limit": K, "params": {"hnsw_ef": EF}},
                         option=orjson.OPT_SERIALIZE_NUMPY) for q in queries]


def grpc_queries(name: str, queries: np.ndarray) -> list[bytes]:
    return [pb.QueryPoints(collection_name=name, limit=K, params=pb.SearchParams(hnsw_ef=EF),
                           query=pb.Query(nearest=pb.VectorInput(dense=pb.DenseVector(
                               data=q.tolist())))).SerializeToString() for q in queries]


def grpc_searches(name: str, queries: np.ndarray) -> list[bytes]:
    return [pb.SearchPoints(collection_name=name, vector=q.tolist(), limit=K,
                            params=pb.SearchParams(hnsw_ef=EF)).SerializeToString()
            for q in queries]


def _ids_rest(raw: bytes) -> list[int]:
    result = orjson.loads(raw)["result"]
    return [p["id"] for p in (result["points"] if isinstance(result, dict) else result)]


def _rate(send: Callable[[bytes], Any], bodies: list[bytes], per: int = 1) -> float:
    """Items per second sending `bodies` one after another (`per` items in each)."""
    started = time.perf_counter()
    for body in bodies:
        send(body)
    return len(bodies) * per / (time.perf_counter() - started)


def wait_green(url: str, name: str) -> float:
    started = time.perf_counter()
    while httpx.get(f"{url}/collections/{name}", timeout=60).json()["result"]["status"] \
            != "green":
        time.sleep(0.5)
    return time.perf_counter() - started


def engine_figures(storage: Path, vectors: np.ndarray, payloads: list[dict[str, Any]],
                   queries: np.ndarray) -> dict[str, float]:
    """Seconds per upsert batch and per query as direct engine calls in this process."""
    from qdrant_client.http import models

    from vectorizer.api.rest.points import apply, upsert_op
    from vectorizer.collection.query import planner
    from vectorizer.settings import load_settings
    from vectorizer.storage.toc import TableOfContents

    toc = TableOfContents(storage, load_settings(env={}, cwd=storage.parent))
    try:
        col = toc.get("bench_rest")
        requests = [models.QueryRequest(query=q.tolist(), limit=K,
                                        params=models.SearchParams(hnsw_ef=EF))
                    for q in queries]
        for r in requests[:50]:
            planner.query_points(col, toc.get, r)
        started = time.perf_counter()
        for r in requests:
            planner.query_points(col, toc.get, r)
        per_query = (time.perf_counter() - started) / len(requests)
        toc.create_collection("bench_engine", models.CreateCollection(
            vectors=models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE)))
        target = toc.get("bench_engine")
        bodies = [orjson.loads(b) for b in rest_upserts(vectors, payloads)]
        ops = [upsert_op(b, target) for b in bodies]
        started = time.perf_counter()
        for op in ops:
            apply(target, op, None, True)
        per_batch = (time.perf_counter() - started) / len(ops)
    finally:
        toc.close()
    return {"query_s": per_query, "upsert_batch_s": per_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    vectors, payloads = make_points(args.n, args.dim)
    rng = np.random.default_rng(7)
    queries = (vectors[rng.integers(0, args.n, args.queries)]
               + 0.1 * rng.normal(size=(args.queries, args.dim))).astype(np.float32)
    print("[bench] serializing requests ...", file=sys.stderr, flush=True)
    rest_bodies = rest_upserts(vectors, payloads)
    grpc_bodies = grpc_upserts("bench_grpc", vectors, payloads)
    half = len(rest_bodies) // 2
    root = str(Path(__file__).resolve().parent.parent)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "storage", env={"PYTHONPATH": os.pathsep.join(
            filter(None, [root, os.environ.get("PYTHONPATH")]))}).start()
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=[
            ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
        rest = KeepAliveClient(server.url)
        try:
            upsert = channel.unary_unary("/qdrant.Points/Upsert",
                                         response_deserializer=pb.PointsOperationResponse.FromString)
            query = channel.unary_unary("/qdrant.Points/Query",
                                        response_deserializer=pb.QueryResponse.FromString)
            search = channel.unary_unary("/qdrant.Points/Search",
                                         response_deserializer=pb.SearchResponse.FromString)
            for name in ("bench_rest", "bench_grpc"):
                httpx.put(f"{server.url}/collections/{name}", json={
                    "vectors": {"size": args.dim, "distance": "Cosine"},
                    "hnsw_config": {"m": M, "ef_construct": EF_CONSTRUCT}}).raise_for_status()
            print("[bench] upserting ...", file=sys.stderr, flush=True)
            # two interleaved rounds: each transport's first and second half of the batches
            rounds: dict[str, list[float]] = {"rest": [], "grpc": []}
            for part in (slice(0, half), slice(half, None)):
                rest.close()  # a fresh keep-alive connection per phase (uvicorn drops idle ones)
                rest = KeepAliveClient(server.url)
                rounds["rest"].append(_rate(
                    lambda b, rest=rest: _put(rest, "/collections/bench_rest/points?wait=true", b),
                    rest_bodies[part], BATCH))
                rounds["grpc"].append(_rate(upsert, grpc_bodies[part], BATCH))
            figures["rest_upsert"] = max(rounds["rest"])
            figures["grpc_upsert"] = max(rounds["grpc"])
            count = httpx.post(f"{server.url}/collections/bench_grpc/points/count",
                               json={}).json()["result"]["count"]
            assert count == args.n, count
            httpx.delete(f"{server.url}/collections/bench_grpc").raise_for_status()
            print("[bench] indexing ...", file=sys.stderr, flush=True)
            figures["build_s"] = wait_green(server.url, "bench_rest")
            rq, rs = rest_queries(queries, "query"), rest_queries(queries, "vector")
            gq, gs = grpc_queries("bench_rest", queries), grpc_searches("bench_rest", queries)
            rest.close()
            rest = KeepAliveClient(server.url)
            # same answers over both transports
            for i in range(20):
                ids_rest = _ids_rest(rest.post("/collections/bench_rest/points/query", rq[i]))
                ids_grpc = [p.id.num for p in query(gq[i]).result]
                assert ids_rest == ids_grpc, (ids_rest, ids_grpc)
            print("[bench] searching ...", file=sys.stderr, flush=True)
            rounds = {"rest_query": [], "grpc_query": [], "rest_search": [], "grpc_search": []}
            for _ in range(2):
                rest.close()
                rest = KeepAliveClient(server.url)
                rounds["rest_query"].append(_rate(
                    lambda b, rest=rest: rest.post("/collections/bench_rest/points/query", b), rq))
                rounds["grpc_query"].append(_rate(query, gq))
                rounds["rest_search"].append(_rate(
                    lambda b, rest=rest: rest.post("/collections/bench_rest/points/search", b), rs))
                rounds["grpc_search"].append(_rate(search, gs))
            figures.update({k: max(v) for k, v in rounds.items()})
        finally:
            rest.close()
            channel.close()
            server.stop()
        print("[bench] engine in-process ...", file=sys.stderr, flush=True)
        engine = engine_figures(Path(tmp) / "storage", vectors, payloads, queries)

    print_table(f"Upsert {args.n} x {args.dim} float32 + payload, batches of {BATCH}, "
                "wait=true, one client", [
                    ("REST PUT /points", figures["rest_upsert"], ""),
                    ("gRPC Points/Upsert", figures["grpc_upsert"], ""),
                    ("engine in-process (Collection.update)", BATCH / engine["upsert_batch_s"],
                     "no transport")], "points/s")
    print_table(f"Search top-{K}, hnsw_ef={EF}, {args.queries} queries, one client "
                f"(index built in {figures['build_s']:.0f}s)", [
                    ("REST POST /points/query", figures["rest_query"], ""),
                    ("gRPC Points/Query", figures["grpc_query"], ""),
                    ("REST POST /points/search", figures["rest_search"], ""),
                    ("gRPC Points/Search", figures["grpc_search"], ""),
                    ("engine in-process (planner.query_points)", 1 / engine["query_s"],
                     "no transport")], "queries/s")
    batch_us = 1e6 * engine["upsert_batch_s"]
    query_us = 1e6 * engine["query_s"]
    print("\nPer-request overhead over the in-process engine call (microseconds):")
    print(f"  upsert batch of {BATCH}:  REST {1e6 * BATCH / figures['rest_upsert'] - batch_us:,.0f}"
          f"   gRPC {1e6 * BATCH / figures['grpc_upsert'] - batch_us:,.0f}"
          f"   (engine {batch_us:,.0f})")
    print(f"  query:                REST {1e6 / figures['rest_query'] - query_us:,.0f}"
          f"   gRPC {1e6 / figures['grpc_query'] - query_us:,.0f}   (engine {query_us:,.0f})")
    print(f"\nRatios gRPC/REST: upsert {figures['grpc_upsert'] / figures['rest_upsert']:.2f}x, "
          f"query {figures['grpc_query'] / figures['rest_query']:.2f}x, "
          f"search {figures['grpc_search'] / figures['rest_search']:.2f}x")


if __name__ == "__main__":
    main()
