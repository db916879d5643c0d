"""Ingest benchmark: 100k x 128 float32 points with payloads, batches of 256, wait=true.

Runs, in one process and one run: our server over REST (real subprocess,
WAL fsynced per acknowledged batch), qdrant-client's local mode in-process,
and qdrant-edge-py (Qdrant's engine embedded) in-process.  Prints points/s
and ratios.  Usage: `python -m bench.ingest [--n 100000] [--dim 128]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench.common import make_points, print_table, timed
from tests.server_process import ServerProcess

BATCH = 256


def ingest_rest(url: str, vectors: np.ndarray, payloads: list[dict]) -> None:
    http = httpx.Client(base_url=url, timeout=120)
    dim = vectors.shape[1]
    http.put("/collections/bench", json={"vectors": {"size": dim, "distance": "Cosine"}}
             ).raise_for_status()
    for start in range(0, len(vectors), BATCH):
        end = min(start + BATCH, len(vectors))
        body = orjson.dumps({"points": [
            {"id": i, "vector": vectors[i], "payload": payloads[i]} for i in range(start, end)
        ]}, option=orjson.OPT_SERIALIZE_NUMPY)
        resp = http.put("/collections/bench/points?wait=true", content=body,
                        headers={"content-type": "application/json"})
        resp.raise_for_status()
    count = http.post("/collections/bench/points/count", json={}).json()["result"]["count"]
    assert count == len(vectors), count


def ingest_rest_client(url: str, vectors: np.ndarray, payloads: list[dict]) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(url=url, timeout=120)
    client.create_collection("bench_qc", vectors_config=models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE))
    for start in range(0, len(vectors), BATCH):
        end = min(start + BATCH, len(vectors))
        client.upsert("bench_qc", models.Batch(ids=list(range(start, end)),
                                              vectors=vectors[start:end].tolist(),
                                              payloads=payloads[start:end]), wait=True)


def ingest_local(vectors: np.ndarray, payloads: list[dict]) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection("bench", vectors_config=models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE))
    for start in range(0, len(vectors), BATCH):
        end = min(start + BATCH, len(vectors))
        client.upsert("bench", models.Batch(ids=list(range(start, end)),
                                           vectors=vectors[start:end].tolist(),
                                           payloads=payloads[start:end]))


def ingest_edge(path: Path, vectors: np.ndarray, payloads: list[dict]) -> None:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine)))
    for start in range(0, len(vectors), BATCH):
        end = min(start + BATCH, len(vectors))
        points = [qe.Point(i, vectors[i].tolist(), payloads[i]) for i in range(start, end)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    shard.flush()
    shard.close()


def breakdown(vectors: np.ndarray, payloads: list[dict], tmp: Path) -> list[tuple[str, float]]:
    """Seconds spent per stage of our upsert hot path, run in-process on the same batches."""
    from vectorizer.collection import operations as ops
    from vectorizer.collection.point_input import check_unique_ids, points_from_list
    from vectorizer.segment.segment import VectorSpec
    from vectorizer.shard.local_shard import LocalShard

    bodies = [orjson.dumps({"points": [
        {"id": i, "vector": vectors[i], "payload": payloads[i]}
        for i in range(start, min(start + BATCH, len(vectors)))]},
        option=orjson.OPT_SERIALIZE_NUMPY) for start in range(0, len(vectors), BATCH)]
    specs = {"": VectorSpec(kind="dense", dim=vectors.shape[1], normalize=True)}
    shard = LocalShard(tmp / "shard", 0, specs)
    stages = dict.fromkeys(["json parse", "points -> numpy batch", "encode WAL record",
                            "WAL append + apply", "fsync (wait=true)"], 0.0)
    clock = time.perf_counter
    for raw in bodies:
        t0 = clock()
        body = orjson.loads(raw)
        t1 = clock()
        op = ops.Upsert(check_unique_ids(points_from_list(body["points"], specs)))
        t2 = clock()
        ops.encode_operation(op)
        t3 = clock()
        op_num = shard.submit(op)  # encodes again, appends, applies
        t4 = clock()
        shard.wait_durable(op_num)
        t5 = clock()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3 - (t3 - t2), t5 - t4),
                            strict=True):
            stages[name] += dt
    shard.close()
    return list(stages.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    vectors, payloads = make_points(args.n, args.dim)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "storage").start()
        try:
            secs, _ = timed(lambda: ingest_rest(server.url, vectors, payloads))
            rows.append(("vectorizer REST (orjson client)", args.n / secs, f"{secs:.1f}s"))
            secs, _ = timed(lambda: ingest_rest_client(server.url, vectors, payloads))
            rows.append(("vectorizer REST (qdrant-client)", args.n / secs, f"{secs:.1f}s"))
        finally:
            server.stop()
        secs, _ = timed(lambda: ingest_edge(Path(tmp) / "edge", vectors, payloads))
        rows.append(("qdrant-edge-py in-process", args.n / secs, f"{secs:.1f}s"))
    if not args.skip_local:
        secs, _ = timed(lambda: ingest_local(vectors, payloads))
        rows.append(("qdrant-client local mode in-process", args.n / secs, f"{secs:.1f}s"))
    print_table(f"Ingest {args.n} x {args.dim} float32, batches of {BATCH}, wait=true",
                rows, "points/s")
    with tempfile.TemporaryDirectory() as tmp:
        stages = breakdown(vectors, payloads, Path(tmp))
    total = sum(dt for _n, dt in stages)
    print(f"\nWhere our server-side time goes (in-process, {args.n} points, {total:.2f}s total;"
          " the rest of the REST time is HTTP and the client)")
    for name, dt in stages:
        print(f"  {name:<28}{dt:>8.2f}s {100 * dt / total:>6.1f}%")


if __name__ == "__main__":
    main()
