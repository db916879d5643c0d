"""Where an in-process search's time goes: our engine, the leanest Python around the same
faiss graphs, the bare faiss call, and qdrant-edge-py, taking turns in one process.

Same data as `bench/search.py` (`--n` x `--dim` clustered vectors, cosine, m 16,
ef_construct 100).  Engine and edge each search at the smallest `hnsw_ef` reaching
recall@10 0.95 (from 32 up in steps of 8); the two floors use the engine's graphs at the
engine's ef:

- `engine`: `Collection.search`, what `bench/search.py` times (planner, rescoring,
  page of wire records);
- `lean floor`: the same graphs searched with the least Python that still answers the
  query (the vector to float32, normalised, one faiss call per graph, rescoring from the
  originals, top-k, ids and scores), skipping the planner, filters, checks and pages;
- `faiss call`: only the faiss call on pre-normalised float32 queries;
- `edge`: qdrant-edge-py's `EdgeShard.search`.

Turns of 100 queries, alternating the order, for `--seconds`; reported as microseconds per
query and as edge's time over each (x edge q/s).

Usage: `python -m bench.floor [--n 100000] [--dim 128] [--queries 500] [--seconds 30]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench import search as bs
from bench.common import (
    exact_top_k,
    make_points,
    markdown_table,
    normalize,
    recall_at_k,
    taking_turns,
)

EFS = list(range(32, 257, 8))
BLOCK = 100


def _edge(path: Path, vectors: np.ndarray) -> Any:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine),
        hnsw_config=qe.HnswIndexConfig(m=bs.M, ef_construct=bs.EF_CONSTRUCT,
                                       full_scan_threshold=bs.FULL_SCAN_KB)))
    bs.edge_upload(shard, vectors)
    while shard.optimize():
        pass
    return shard


def _floors(col: Any, ef: int) -> tuple[Any, Any, Any]:
    """(lean search, bare faiss call, query preparation for it) over the engine's graphs."""
    shard = col.shards[0]
    graphs = []
    for plan in shard._plan_dense("", None, bs.K, False, ef, False, None):
        assert plan.ann is not None, "an unindexed segment: the floor needs graphs only"
        graphs.append((plan.segment, plan.storage.plain_rows(), plan.ann.index))
    params = faiss.SearchParametersHNSW(efSearch=ef)
    ptr, wanted = faiss.swig_ptr, 2 * bs.K

    def lean(q: list[float]) -> list[int]:
        qa = np.array(q, dtype=np.float32)
        qa /= np.sqrt(qa @ qa)
        found: list[tuple[float, Any]] = []
        for seg, plain, index in graphs:
            ids = np.empty(wanted, np.int64)
            dists = np.empty(wanted, np.float32)
            index.search_c(1, ptr(qa), wanted, ptr(dists), ptr(ids), params)
            values = plain[ids] @ qa
            best = np.argsort(-values)[:bs.K]
            found.extend(zip(values[best].tolist(), [seg.ids[o] for o in ids[best].tolist()],
                             strict=True))
        found.sort(key=lambda hit: -hit[0])
        return [pid for _score, pid in found[:bs.K]]

    def bare(qa: np.ndarray) -> None:
        for _seg, _plain, index in graphs:
            ids = np.empty(wanted, np.int64)
            dists = np.empty(wanted, np.float32)
            index.search_c(1, ptr(qa), wanted, ptr(dists), ptr(ids), params)

    def prepared(q: list[float]) -> np.ndarray:
        qa = np.array(q, dtype=np.float32)
        return qa / np.float32(np.sqrt(qa @ qa))

    return lean, bare, prepared


def _smallest_ef(search: Any, queries: list[list[float]], truth: np.ndarray) -> tuple[int, float]:
    found = bs.smallest_ef(search, queries, truth, EFS)
    if found is None:
        raise RuntimeError(f"recall {bs.TARGET_RECALL} not reached up to ef {EFS[-1]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    allv, _ = make_points(args.n + args.queries, args.dim)
    vectors, queries = allv[:args.n], allv[args.n:]
    truth = exact_top_k(normalize(vectors), normalize(queries), bs.K)
    qs = [q.tolist() for q in queries]
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        col = bs._engine_built(Path(tmp) / "engine", vectors, {"errors": {}, "notes": []},
                               binary_on_disk=False)
        shard = _edge(Path(tmp) / "edge", vectors)
        engine, edge = bs._engine_search(col), bs._edge_search(shard, EFS)
        engine_ef, engine_recall = _smallest_ef(engine, qs, truth)
        edge_ef, edge_recall = _smallest_ef(edge, qs, truth)
        lean, bare, prepared = _floors(col, engine_ef)
        lean_recall = recall_at_k([lean(q) for q in qs], truth)
        unit = [prepared(q) for q in qs]
        systems = {
            "engine (Collection.search)": (lambda q: engine(q, engine_ef, None), qs),
            "lean floor (same graphs)": (lean, qs),
            "faiss call (same graphs)": (bare, unit),
            "qdrant-edge-py": (lambda q: edge(q, edge_ef, None), qs),
        }
        notes = {"engine (Collection.search)": (engine_ef, engine_recall),
                 "lean floor (same graphs)": (engine_ef, lean_recall),
                 "faiss call (same graphs)": (engine_ef, None),
                 "qdrant-edge-py": (edge_ef, edge_recall)}
        per_query = {name: seconds * 1e6 for name, seconds in
                     taking_turns(systems, args.seconds, BLOCK).items()}
        shard.close()
        col.close()
    names = list(systems)
    edge_us = per_query["qdrant-edge-py"]
    rows = [[name, notes[name][0], "" if notes[name][1] is None else f"{notes[name][1]:.3f}",
             f"{per_query[name]:.1f}", f"{edge_us / per_query[name]:.2f}x"] for name in names]
    print(markdown_table(["system", "hnsw_ef", "recall@10", "us per query", "x edge q/s"],
                         rows))


if __name__ == "__main__":
    main()
