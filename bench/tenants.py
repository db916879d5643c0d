"""Tenant-filtered search: payload graphs (`payload_m`) against the alternatives, beside Qdrant.

One process, one data set: `--n` x `--dim` clustered float32 vectors (cosine), each point
in one of `--tenants` tenants (`tenant = "t{id % tenants}"`, a keyword index with
`is_tenant: true`), queries from the same distribution, each filtered to one tenant,
exact top-10 of that tenant by numpy.  Configurations (m / payload_m):

- ours and qdrant-edge-py, `m: 0, payload_m: 16` (Qdrant's multitenancy guide): a graph
  per tenant and none over the collection;
- ours and qdrant-edge-py, `m: 16` (the default): one graph, the tenant filter as allow-list
  (a tenant above 4 / links of the segment gets no extra links, in Qdrant as here);
- ours, `m: 0` without `payload_m`: no graph, every query scores its tenant exactly.

Each is swept over `hnsw_ef`; for each we report recall@10 and queries/s (sequential
single-query calls, in-process), and the best queries/s reaching recall 0.95.  The swept
systems take turns per ef value, so they see the same host load.  Index build times too.

Usage: `python -m bench.tenants [--n 100000] [--dim 128] [--tenants 4] [--queries 200]
[--efs 16,32,64,128] [--markdown PATH]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import exact_top_k, make_points, markdown_table, normalize, recall_at_k
from bench.search import edge_upload

K = 10
TARGET = 0.95
EF_CONSTRUCT = 100
FULL_SCAN_KB = 10_000
CONFIGS = {  # name: (m, payload_m)
    "tenant graphs (m 0, payload_m 16)": (0, 16),
    "main graph (m 16)": (16, None),
    "no graph (m 0)": (0, None),
}


def _ours(path: Path, vectors: np.ndarray, tenants: list[str], m: int,
          payload_m: int | None) -> tuple[Any, float]:
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
        vectors=models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE),
        hnsw_config=models.HnswConfigDiff(m=m, payload_m=payload_m, ef_construct=EF_CONSTRUCT))
    col = Collection.create("tenants", path, build_config(create, None))
    col.update(CreateFieldIndex("tenant", models.KeywordIndexParams(
        type=models.KeywordIndexType.KEYWORD, is_tenant=True)), wait=True)
    for start in range(0, len(vectors), 10_000):
        end = min(start + 10_000, len(vectors))
        col.update(Upsert(PointsBatch(
            ids=list(range(start, end)),
            dense={"": DenseColumn(rows=np.arange(end - start), data=vectors[start:end])},
            payloads=[{"tenant": tenants[i]} for i in range(start, end)])), wait=True)
    started = time.perf_counter()
    while col.optimize():
        pass
    return col, time.perf_counter() - started


def _ours_search(col: Any) -> Any:
    from qdrant_client.http import models

    params: dict[int, Any] = {}
    filters: dict[str, Any] = {}

    def search(q: list[float], ef: int, tenant: str) -> list[int]:
        sp = params.get(ef) or params.setdefault(ef, models.SearchParams(hnsw_ef=ef))
        flt = filters.get(tenant) or filters.setdefault(tenant, models.Filter(must=[
            models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant))]))
        return [h["id"] for h in col.search("", q, flt, K, 0, None, None, False, None, sp)]

    return search


def _edge(path: Path, vectors: np.ndarray, tenants: list[str], m: int,
          payload_m: int | None) -> tuple[Any, float]:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine),
        hnsw_config=qe.HnswIndexConfig(m=m, ef_construct=EF_CONSTRUCT,
                                       full_scan_threshold=FULL_SCAN_KB, payload_m=payload_m)))
    shard.update(qe.UpdateOperation.create_field_index("tenant", qe.KeywordIndexParams(
        is_tenant=True)))
    edge_upload(shard, vectors, lambda i: {"tenant": tenants[i]})
    started = time.perf_counter()
    while shard.optimize():
        pass
    return shard, time.perf_counter() - started


def _edge_search(shard: Any) -> Any:
    import qdrant_edge as qe

    params: dict[int, Any] = {}
    filters: dict[str, Any] = {}

    def search(q: list[float], ef: int, tenant: str) -> list[int]:
        sp = params.get(ef) or params.setdefault(ef, qe.SearchParams(hnsw_ef=ef))
        flt = filters.get(tenant) or filters.setdefault(tenant, qe.Filter(must=[
            qe.FieldCondition(key="tenant", match=qe.MatchValue(tenant))]))
        return [h.id for h in shard.search(qe.SearchRequest(
            query=qe.Query.Nearest(q), limit=K, params=sp, filter=flt))]

    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--efs", default="16,32,64,128")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    efs = [int(e) for e in args.efs.split(",")]

    allv, _ = make_points(args.n + args.queries, args.dim)
    vectors, queries = allv[:args.n], allv[args.n:]
    tenants = [f"t{i % args.tenants}" for i in range(args.n)]
    asked = [f"t{j % args.tenants}" for j in range(args.queries)]
    unit = normalize(vectors)
    truth = np.zeros((args.queries, K), dtype=np.int64)
    for t in range(args.tenants):
        members = np.arange(t, args.n, args.tenants)
        rows = np.arange(t, args.queries, args.tenants)
        truth[rows] = members[exact_top_k(unit[members], normalize(queries[rows]), K)]
    qs = [q.tolist() for q in queries]

    systems: dict[str, Any] = {}
    builds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        for label, (m, payload_m) in CONFIGS.items():
            col, built = _ours(Path(tmp) / f"ours-{m}-{payload_m}", vectors, tenants, m,
                               payload_m)
            systems[f"ours, {label}"], builds[f"ours, {label}"] = _ours_search(col), built
            if payload_m is not None or m:
                shard, built = _edge(Path(tmp) / f"edge-{m}-{payload_m}", vectors, tenants,
                                     m, payload_m)
                systems[f"qdrant-edge, {label}"] = _edge_search(shard)
                builds[f"qdrant-edge, {label}"] = built
            print("built", label, flush=True)
        results: dict[str, list[tuple[int, float, float]]] = {name: [] for name in systems}
        for ef in efs:
            for name, search in systems.items():
                for q, t in zip(qs[:20], asked[:20], strict=True):
                    search(q, ef, t)  # warm-up
                started = time.perf_counter()
                found = [search(q, ef, t) for q, t in zip(qs, asked, strict=True)]
                qps = len(qs) / (time.perf_counter() - started)
                results[name].append((ef, recall_at_k(found, truth), qps))
                print(f"{name:50s} ef={ef:4d} recall={results[name][-1][1]:.3f} "
                      f"qps={qps:,.0f}", flush=True)

    rows = []
    for name, sweep in results.items():
        good = [qps for _ef, recall, qps in sweep if recall >= TARGET]
        best = max(good) if good else None
        rows.append([name, f"{builds[name]:.1f}",
                     " ".join(f"{ef}:{recall:.3f}" for ef, recall, _ in sweep),
                     f"{best:,.0f}" if best else "n/a"])
    table = markdown_table(["system", "build s", "recall@10 per hnsw_ef",
                            f"q/s at recall >= {TARGET}"], rows)
    print(table)
    if args.markdown:
        args.markdown.write_text(
            f"`python -m bench.tenants --n {args.n} --dim {args.dim} --tenants "
            f"{args.tenants} --queries {args.queries}`\n\n{table}\n")


if __name__ == "__main__":
    main()
