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
server and its transport, not the cost of building requests in Python. The transports
take turns request by request, so both see the same background load (the test machine is
shared, and its load moves figures by more than the transports differ).

The same upserts (into a collection of an in-process table of contents) and queries (on a
copy of the indexed storage opened in this process) also run as direct engine calls,
taking their turns with the transports: the difference is each transport's per-request
overhead.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def alternating(sends: dict[str, tuple[Callable[[bytes], Any], list[bytes]]],
                per: int = 1) -> dict[str, float]:
    """Items per second of each sender, the senders taking turns request by request.

    Taking turns (in alternating order) gives every transport the same share of whatever
    else the machine is doing, which on a shared machine moves more than the transports
    differ.
    """
    totals = dict.fromkeys(sends, 0.0)
    names = list(sends)
    count = min(len(bodies) for _send, bodies in sends.values())
    clock = time.perf_counter
    for i in range(count):
        for name in names if i % 2 == 0 else reversed(names):
            send, bodies = sends[name]
            started = clock()
            send(bodies[i])
            totals[name] += clock() - started
    return {name: count * per / total for name, total in totals.items()}


def wait_green(url: str, name: str) -> float:
    started = time.perf_counter()
    while httpx.get(f"{url}/collections/{name}", timeout=60).json()["result"]["status"] \
            != "green":
        time.sleep(0.5)
    return time.perf_counter() - started


def open_engine(storage: Path) -> Any:
    """A table of contents over `storage`, in this process (no optimizer, no transport)."""
    from vectorizer.settings import load_settings
    from vectorizer.storage.toc import TableOfContents

    return TableOfContents(storage, load_settings(env={}, cwd=storage.parent))


def engine_upserts(toc: Any, dim: int, vectors: np.ndarray,
                   payloads: list[dict[str, Any]]) -> tuple[Callable[[Any], Any], list[Any]]:
    """A sender applying pre-parsed upserts with `wait=true`, and the operations."""
    from qdrant_client.http import models

    from vectorizer.api.rest.points import apply, upsert_op

    toc.create_collection("bench_engine", models.CreateCollection(
        vectors=models.VectorParams(size=dim, distance=models.Distance.COSINE)))
    col = toc.get("bench_engine")
    ops = [upsert_op(orjson.loads(b), col) for b in rest_upserts(vectors, payloads)]
    return (lambda op: apply(col, op, None, True)), ops


def engine_queries(toc: Any, queries: np.ndarray) -> tuple[Callable[[Any], Any], list[Any]]:
    """A sender running parsed queries through the planner, and the queries."""
    from qdrant_client.http import models

    from vectorizer.collection.query import planner

    col = toc.get("bench_rest")
    requests = [models.QueryRequest(query=q.tolist(), limit=K,
                                    params=models.SearchParams(hnsw_ef=EF)) for q in queries]
    return (lambda r: planner.query_points(col, toc.get, r)), requests


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
            engine = open_engine(Path(tmp) / "engine")
            try:
                figures.update(alternating({
                    "rest_upsert": (lambda b: _put(
                        rest, "/collections/bench_rest/points?wait=true", b), rest_bodies),
                    "grpc_upsert": (upsert, grpc_bodies),
                    "engine_upsert": engine_upserts(engine, args.dim, vectors, payloads),
                }, BATCH))
            finally:
                engine.close()
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
            shutil.copytree(Path(tmp) / "storage", Path(tmp) / "engine-search")
            engine = open_engine(Path(tmp) / "engine-search")
            try:
                figures.update(alternating({
                    "rest_query": (lambda b: rest.post("/collections/bench_rest/points/query",
                                                       b), rq),
                    "grpc_query": (query, gq),
                    "rest_search": (lambda b: rest.post(
                        "/collections/bench_rest/points/search", b), rs),
                    "grpc_search": (search, gs),
                    "engine_query": engine_queries(engine, queries)}))
            finally:
                engine.close()
        finally:
            rest.close()
            channel.close()
            server.stop()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs; load average (1, 5, 15 min) at the end: {load}")
    print_table(f"Upsert {args.n} x {args.dim} float32 + payload, batches of {BATCH}, "
                "wait=true, one client", [
                    ("REST PUT /points", figures["rest_upsert"], ""),
                    ("gRPC Points/Upsert", figures["grpc_upsert"], ""),
                    ("engine in-process (Collection.update)", figures["engine_upsert"],
                     "no transport")], "points/s")
    print_table(f"Search top-{K}, hnsw_ef={EF}, {args.queries} queries, one client "
                f"(index built in {figures['build_s']:.0f}s)", [
                    ("REST POST /points/query", figures["rest_query"], ""),
                    ("gRPC Points/Query", figures["grpc_query"], ""),
                    ("REST POST /points/search", figures["rest_search"], ""),
                    ("gRPC Points/Search", figures["grpc_search"], ""),
                    ("engine in-process (planner.query_points)", figures["engine_query"],
                     "no transport")], "queries/s")
    batch_us = 1e6 * BATCH / figures["engine_upsert"]
    query_us = 1e6 / figures["engine_query"]
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
