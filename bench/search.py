"""Search benchmark: queries/s at recall@10 >= 0.95, index build time, filters and memory.

One run, one data set: `--n` x `--dim` clustered float32 vectors (cosine) with the payload
`b = id % 100` (integer index), `--queries` held-out queries from the same distribution,
exact top-10 ground truth by numpy (unfiltered, `b < 10` = 10% and `b < 1` = 1%).
Every system uses m=16, ef_construct=100 and is swept over `hnsw_ef` with sequential
single-query calls from one thread; for each we report the best queries/s among the ef
values reaching recall@10 >= 0.95.  Systems:

- our server over REST (`POST /points/query`, falling back to `/points/search` when the
  server lacks it): one client with keep-alive, and 4 concurrent clients (threads);
- our engine in-process (`vectorizer.collection.collection.Collection`, no HTTP);
- qdrant-edge-py (Qdrant's engine embedded, in-process);
- raw faiss `IndexHNSWFlat` (inner product over normalised vectors), as an anchor;
- qdrant-client local mode (brute force in Python; a sample of queries);
- our engine with binary quantization and on-disk originals, reopened, for memory (and
  qdrant-edge-py with the same quantization, for its recall on the same data).

Each in-process system runs in its own subprocess (this script with `--worker NAME`) so its
peak RSS (VmHWM) is its own; the server is a separate process, measured from /proc/<pid>.
A system that fails is reported as such; the others still run.

Engine and edge are then reopened together in one more process and timed taking turns of
100 queries, each at the smallest ef reaching the target recall: the engine-vs-edge target
is judged on that paired figure, as separate sweeps minutes apart see different host load.

Usage: `python -m bench.search [--n 100000] [--dim 128] [--queries 500] [--quick]
[--efs 16,24,32,48,64,96,128] [--only rest,engine,edge,faiss,local,bq] [--markdown PATH]`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    KeepAliveClient,
    exact_top_k,
    make_points,
    mapped_rss,
    markdown_table,
    normalize,
    proc_status,
    recall_at_k,
    taking_turns,
)

K = 10
M, EF_CONSTRUCT = 16, 100
FULL_SCAN_KB = 10_000  # Qdrant's default full_scan_threshold (KB), set for edge explicitly
TARGET_RECALL = 0.95
FALLBACK_EF = 64  # filtered runs use the ef reaching TARGET_RECALL unfiltered, else this
DEFAULT_EFS = [16, 24, 32, 40, 48, 56, 64, 96, 128]
FILTERS = [("10%", 10), ("1%", 1)]  # (label, bound): payload b < bound, b = id % 100
WARMUP = 20
MIN_SECONDS = 1.0  # each q/s figure is timed over at least this long
PAIRED_SECONDS = 20.0  # the interleaved engine/edge comparison, both systems together
PAIRED_BLOCK = 100  # queries per turn: one query per turn would time both with cold caches
LOCAL_SAMPLE = 50
REST_CLIENTS = 4
RESULT_MARK = "BENCH-RESULT "
SYSTEMS = ["rest", "engine", "edge", "faiss", "local", "bq"]
LABELS = {
    "rest": "vectorizer REST, 1 client",
    "rest4": f"vectorizer REST, {REST_CLIENTS} clients",
    "engine": "vectorizer engine in-process",
    "edge": "qdrant-edge-py in-process",
    "faiss": "raw faiss IndexHNSWFlat",
    "local": "qdrant-client local mode",
    "bq": "vectorizer engine, BQ + on-disk",
}

SearchFn = Callable[[Any, int, int | None], list[int]]  # (query, ef, filter bound) -> ids
Result = dict[str, Any]


# ---------------------------------------------------------------- shared measurement


def error_text(exc: BaseException) -> str:
    """One line: the exception and where in our code (or the library) it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if "/vectorizer/" in f.filename), None)
    where = where or (frames[-1] if frames else None)
    loc = f" at {Path(where.filename).name}:{where.lineno} ({where.name})" if where else ""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{loc}"[:300]


def load_inputs(workdir: Path, with_vectors: bool = True,
                ) -> tuple[np.ndarray | None, np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    spec = json.loads((workdir / "spec.json").read_text())
    vectors = np.load(workdir / "vectors.npy") if with_vectors else None
    queries = np.load(workdir / "queries.npy")
    with np.load(workdir / "truth.npz") as npz:
        truths = {key: npz[key] for key in npz.files}
    return vectors, queries, truths, spec


def timed_queries(search: SearchFn, queries: list[Any], ef: int, bound: int | None,
                  ) -> tuple[float, list[list[int]]]:
    """(queries/s, ids found per query); the query list is repeated until MIN_SECONDS passed
    (so fast systems are timed over enough calls), recall is taken from the first pass."""
    started = time.perf_counter()
    found = [search(q, ef, bound) for q in queries]
    done = len(queries)
    while time.perf_counter() - started < MIN_SECONDS:
        for q in queries:
            search(q, ef, bound)
        done += len(queries)
    return done / (time.perf_counter() - started), found


def best_at_target(sweep: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sweep point with the most queries/s among those reaching TARGET_RECALL."""
    ok = [p for p in sweep if p["recall"] >= TARGET_RECALL]
    return max(ok, key=lambda p: p["qps"]) if ok else None


def sweep_and_filter(search: SearchFn, queries: list[Any], truths: dict[str, np.ndarray],
                     efs: list[int], result: Result, filtered: bool = True) -> None:
    """Fill result["sweep"] (ef, recall, q/s) and, if `filtered`, result["filtered"]."""
    sweep = result.setdefault("sweep", [])
    try:
        for q in queries[:WARMUP]:
            search(q, efs[0], None)
    except Exception as exc:
        result["errors"]["fatal"] = f"search: {error_text(exc)}"
        traceback.print_exc()
        return
    for ef in efs:
        try:
            qps, found = timed_queries(search, queries, ef, None)
        except Exception as exc:
            result["errors"][f"search ef={ef}"] = error_text(exc)
            traceback.print_exc()
            break
        sweep.append({"ef": ef, "recall": recall_at_k(found, truths["all"]), "qps": qps})
    if not filtered:
        return
    best = best_at_target(sweep)
    ef = best["ef"] if best else FALLBACK_EF
    result["filter_ef_source"] = (f"ef reaching {TARGET_RECALL} unfiltered" if best
                                  else f"fixed ef={FALLBACK_EF} (no ef reached {TARGET_RECALL})")
    out = result.setdefault("filtered", {})
    for label, bound in FILTERS:
        try:
            for q in queries[:WARMUP]:
                search(q, ef, bound)
            qps, found = timed_queries(search, queries, ef, bound)
        except Exception as exc:
            result["errors"][f"filtered {label}"] = error_text(exc)
            traceback.print_exc()
            continue
        out[label] = {"ef": ef, "recall": recall_at_k(found, truths[label]), "qps": qps}


def wait_green(col: Any, timeout: float = 3600.0) -> None:
    """Run the optimizers until none has work and the collection reports green."""
    deadline = time.monotonic() + timeout
    while True:
        while col.optimize():
            pass
        if col.status() == "green":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"collection still {col.status()} after {timeout:.0f}s")
        time.sleep(0.05)


# ---------------------------------------------------------------- workers (subprocesses)


def _engine_collection(path: Path, dim: int, binary_on_disk: bool) -> Any:
    from qdrant_client.http import models

    from vectorizer.collection.collection import Collection
    from vectorizer.collection.config import build_config
    from vectorizer.collection.operations import CreateFieldIndex

    extra: dict[str, Any] = {}
    if binary_on_disk:
        extra["quantization_config"] = models.BinaryQuantization(
            binary=models.BinaryQuantizationConfig(always_ram=True))
    create = models.CreateCollection(
        vectors=models.VectorParams(size=dim, distance=models.Distance.COSINE,
                                    on_disk=True if binary_on_disk else None),
        hnsw_config=models.HnswConfigDiff(m=M, ef_construct=EF_CONSTRUCT), **extra)
    col = Collection.create("bench", path, build_config(create, None))
    col.update(CreateFieldIndex("b", models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER, lookup=True, range=True)), wait=True)
    return col


def _engine_upload(col: Any, vectors: np.ndarray) -> None:
    from vectorizer.collection.operations import DenseColumn, PointsBatch, Upsert

    for start in range(0, len(vectors), 10_000):
        end = min(start + 10_000, len(vectors))
        batch = PointsBatch(ids=list(range(start, end)), dense={"": DenseColumn(
            rows=np.arange(end - start), data=vectors[start:end])},
            payloads=[{"b": i % 100} for i in range(start, end)])
        col.update(Upsert(batch), wait=True)


def _engine_search(col: Any, quantized: bool = False) -> SearchFn:
    from qdrant_client.http import models

    filters = {bound: models.Filter(must=[models.FieldCondition(
        key="b", range=models.Range(lt=bound))]) for _label, bound in FILTERS}
    quant = models.QuantizationSearchParams(rescore=True, oversampling=3.0) if quantized \
        else None
    params = {}

    def search(q: list[float], ef: int, bound: int | None) -> list[int]:
        sp = params.get(ef) or params.setdefault(
            ef, models.SearchParams(hnsw_ef=ef, quantization=quant))
        hits = col.search("", q, None if bound is None else filters[bound], K, 0, None, None,
                          False, None, sp)
        return [h["id"] for h in hits]

    return search


def _segments_of(col: Any) -> int | None:
    try:
        return int(col.info().get("segments_count"))
    except Exception:
        return None


def _engine_built(path: Path, vectors: np.ndarray, result: Result,
                  binary_on_disk: bool) -> Any:
    """Create, upload and index an engine collection, timing upload and build."""
    col = _engine_collection(path, vectors.shape[1], binary_on_disk=binary_on_disk)
    started = time.perf_counter()
    _engine_upload(col, vectors)
    result["upload_s"] = time.perf_counter() - started
    started = time.perf_counter()
    wait_green(col)
    result["build_s"] = time.perf_counter() - started
    result["segments"] = _segments_of(col)
    return col


def worker_engine(workdir: Path, result: Result) -> None:
    import vectorizer

    result["notes"].append(f"engine imported from {Path(vectorizer.__file__).parent}")
    vectors, queries, truths, spec = load_inputs(workdir)
    assert vectors is not None
    result["rss_baseline"] = proc_status()
    col = _engine_built(workdir / "engine", vectors, result, binary_on_disk=False)
    result["rss_after_build"] = proc_status()
    sweep_and_filter(_engine_search(col), [q.tolist() for q in queries], truths, spec["efs"],
                     result)
    col.close()


def worker_bq_build(workdir: Path, result: Result) -> None:
    vectors, _queries, _truths, _spec = load_inputs(workdir)
    assert vectors is not None
    col = _engine_built(workdir / "bq", vectors, result, binary_on_disk=True)
    col.flush()
    col.close()


def worker_bq_query(workdir: Path, result: Result) -> None:
    """Reopen the BQ + on-disk collection in a fresh process, query it, measure memory."""
    from vectorizer.collection.collection import Collection

    _vectors, queries, truths, spec = load_inputs(workdir, with_vectors=False)
    path = workdir / "bq"
    before = proc_status()
    result["rss_baseline"] = before
    started = time.perf_counter()
    col = Collection.open("bench", path)
    result["open_s"] = time.perf_counter() - started
    sweep_and_filter(_engine_search(col, quantized=True), [q.tolist() for q in queries],
                     truths, spec["efs"], result, filtered=False)
    after = proc_status()
    mapped, files = mapped_rss(str(path))
    result["mapped_rss"] = mapped
    result["mapped_files"] = [str(Path(f).relative_to(path)) for f in files]
    result["rss_growth"] = after["VmRSS"] - before["VmRSS"]
    result["anon_growth"] = after.get("RssAnon", 0) - before.get("RssAnon", 0)
    result["quantization_config"] = col.config.get("quantization_config")
    result["vectors_config"] = col.config["params"].get("vectors")
    col.close()


def worker_edge_bq(workdir: Path, result: Result) -> None:
    """qdrant-edge with the same binary quantization, on-disk originals and search params
    as our BQ collection: recall only (is low recall the data's or ours?)."""
    import qdrant_edge as qe

    vectors, queries, truths, spec = load_inputs(workdir)
    assert vectors is not None
    shard = qe.EdgeShard.create(str(workdir / "edge-bq"), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine,
                                    on_disk=True),
        quantization_config=qe.BinaryQuantizationConfig(always_ram=True),
        hnsw_config=qe.HnswIndexConfig(m=M, ef_construct=EF_CONSTRUCT,
                                       full_scan_threshold=FULL_SCAN_KB)))
    edge_upload(shard, vectors)
    while shard.optimize():
        pass
    quant = qe.QuantizationSearchParams(rescore=True, oversampling=3.0)
    qs = [q.tolist() for q in queries]
    sweep = result.setdefault("sweep", [])
    for ef in spec["efs"]:
        sp = qe.SearchParams(hnsw_ef=ef, quantization=quant)
        found = [[h.id for h in shard.search(qe.SearchRequest(
            query=qe.Query.Nearest(q), limit=K, params=sp))] for q in qs]
        sweep.append({"ef": ef, "recall": recall_at_k(found, truths["all"]), "qps": None})
    shard.close()


def worker_edge(workdir: Path, result: Result) -> None:
    import qdrant_edge as qe

    vectors, queries, truths, spec = load_inputs(workdir)
    assert vectors is not None
    result["rss_baseline"] = proc_status()
    shard = qe.EdgeShard.create(str(workdir / "edge"), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine),
        hnsw_config=qe.HnswIndexConfig(m=M, ef_construct=EF_CONSTRUCT,
                                       full_scan_threshold=FULL_SCAN_KB)))
    shard.update(qe.UpdateOperation.create_field_index("b", qe.IntegerIndexParams(
        lookup=True, range=True)))
    started = time.perf_counter()
    edge_upload(shard, vectors, lambda i: {"b": i % 100})
    result["upload_s"] = time.perf_counter() - started
    started = time.perf_counter()
    while shard.optimize():
        pass
    result["build_s"] = time.perf_counter() - started
    try:
        result["segments"] = int(shard.info().segments_count)
    except Exception:  # not in every qdrant-edge-py version
        result["segments"] = None
    result["rss_after_build"] = proc_status()
    sweep_and_filter(_edge_search(shard, spec["efs"]), [q.tolist() for q in queries], truths,
                     spec["efs"], result)
    shard.close()


def edge_upload(shard: Any, vectors: np.ndarray,
                payload: Callable[[int], dict[str, Any]] = lambda _i: {}) -> None:
    """Upsert `vectors` as points 0..n-1 (with `payload(id)`) into a qdrant-edge shard,
    1,000 points per update."""
    import qdrant_edge as qe

    for start in range(0, len(vectors), 1000):
        rows = vectors[start:start + 1000].tolist()
        shard.update(qe.UpdateOperation.upsert_points(
            [qe.Point(start + i, row, payload(start + i)) for i, row in enumerate(rows)]))


def _edge_search(shard: Any, efs: list[int]) -> SearchFn:
    import qdrant_edge as qe

    filters = {bound: qe.Filter(must=[qe.FieldCondition(key="b", range=qe.RangeFloat(lt=bound))])
               for _label, bound in FILTERS}
    params = {ef: qe.SearchParams(hnsw_ef=ef) for ef in efs}

    def search(q: list[float], ef: int, bound: int | None) -> list[int]:
        hits = shard.search(qe.SearchRequest(
            query=qe.Query.Nearest(q), limit=K, params=params[ef],
            filter=None if bound is None else filters[bound]))
        return [h.id for h in hits]

    return search


def smallest_ef(search: SearchFn, queries: list[Any], truth: np.ndarray, efs: list[int],
                ) -> tuple[int, float] | None:
    """(ef, recall) of the smallest of `efs` at which `search` (unfiltered) reaches the
    target recall, or None."""
    for ef in efs:
        recall = recall_at_k([search(q, ef, None) for q in queries], truth)
        if recall >= TARGET_RECALL:
            return ef, recall
    return None


def worker_pair(workdir: Path, result: Result) -> None:
    """Engine and edge reopened in one process, each at the smallest ef reaching the
    target recall, timed taking turns of PAIRED_BLOCK queries (in alternating order) so
    that both see the same background load: separate sweeps run minutes apart on a shared
    machine, whose speed moves by more than the systems differ. (Turns of one query would
    make each system start every query with the other's data in the CPU caches.)"""
    import qdrant_edge as qe

    from vectorizer.collection.collection import Collection

    _vectors, queries, truths, spec = load_inputs(workdir, with_vectors=False)
    qs = [q.tolist() for q in queries]
    col = Collection.open("bench", workdir / "engine")
    shard = qe.EdgeShard.load(str(workdir / "edge"))
    systems = {"engine": _engine_search(col), "edge": _edge_search(shard, spec["efs"])}
    chosen: dict[str, tuple[int, float]] = {}
    for name, search in systems.items():
        for q in qs[:WARMUP]:
            search(q, spec["efs"][0], None)
        found = smallest_ef(search, qs, truths["all"], spec["efs"])
        if found is not None:
            chosen[name] = found
    if len(chosen) == len(systems):
        per_query = taking_turns(
            {name: (functools.partial(search, ef=chosen[name][0], bound=None), qs)
             for name, search in systems.items()}, PAIRED_SECONDS, PAIRED_BLOCK)
        for name in systems:
            ef, recall = chosen[name]
            result[name] = {"ef": ef, "recall": recall, "qps": 1.0 / per_query[name]}
    else:
        result["errors"]["pair"] = f"recall {TARGET_RECALL} not reached by " + ", ".join(
            sorted(set(systems) - set(chosen)))
    shard.close()
    col.close()


def worker_faiss(workdir: Path, result: Result) -> None:
    import faiss

    vectors, queries, truths, spec = load_inputs(workdir)
    assert vectors is not None
    result["rss_baseline"] = proc_status()
    unit = normalize(vectors)
    del vectors
    index = faiss.IndexHNSWFlat(unit.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCT
    result["notes"].append(f"faiss build threads (OpenMP): {faiss.omp_get_max_threads()}")
    result["upload_s"] = None
    started = time.perf_counter()
    index.add(unit)
    result["build_s"] = time.perf_counter() - started
    result["rss_after_build"] = proc_status()
    faiss.omp_set_num_threads(1)  # one query per call: no OpenMP team to spin up
    params = {ef: faiss.SearchParametersHNSW(efSearch=ef) for ef in spec["efs"]}

    def search(q: np.ndarray, ef: int, bound: int | None) -> list[int]:
        _d, ids = index.search(q, K, params=params[ef])
        return ids[0].tolist()

    unit_queries = [row[None, :] for row in normalize(queries)]
    sweep_and_filter(search, unit_queries, truths, spec["efs"], result, filtered=False)


def worker_local(workdir: Path, result: Result) -> None:
    from qdrant_client import QdrantClient, models

    vectors, queries, truths, _spec = load_inputs(workdir)
    assert vectors is not None
    result["rss_baseline"] = proc_status()
    client = QdrantClient(":memory:")
    client.create_collection("b", vectors_config=models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE))
    started = time.perf_counter()
    client.upload_collection("b", vectors=vectors, ids=range(len(vectors)),
                             payload=({"b": i % 100} for i in range(len(vectors))))
    result["upload_s"] = time.perf_counter() - started
    result["build_s"] = None
    sample = [q.tolist() for q in queries[:LOCAL_SAMPLE]]
    started = time.perf_counter()
    found = [[p.id for p in client.query_points("b", query=q, limit=K).points] for q in sample]
    qps = len(sample) / (time.perf_counter() - started)
    result["sweep"] = [{"ef": None, "recall": recall_at_k(found, truths["all"][:len(found)]),
                        "qps": qps}]
    result["notes"].append(f"exact brute force, {len(sample)} queries timed")


WORKERS: dict[str, Callable[[Path, Result], None]] = {
    "engine": worker_engine, "edge": worker_edge, "faiss": worker_faiss,
    "local": worker_local, "bq-build": worker_bq_build, "bq-query": worker_bq_query,
    "edge-bq": worker_edge_bq,
    "pair": worker_pair,
}


def worker_main(name: str, workdir: Path) -> None:
    """Run one system in this (fresh) process; print its result as one JSON line."""
    result: Result = {"system": name, "errors": {}, "notes": []}
    try:
        WORKERS[name](workdir, result)
    except Exception as exc:
        result["errors"]["fatal"] = error_text(exc)
        traceback.print_exc()
    result["rss_end"] = proc_status()
    sys.stdout.flush()
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


def run_worker(name: str, workdir: Path, timeout: float) -> Result:
    """Run `--worker name` in a subprocess; its result, or one describing how it failed."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    print(f"[bench] running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.search", "--worker", name,
                               "--workdir", str(workdir)], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"system": name, "errors": {"fatal": f"timed out after {timeout:.0f}s"},
                "notes": []}
    (workdir / f"{name}.stderr.log").write_text(proc.stderr)
    print(f"[bench] {name} finished in {time.perf_counter() - started:.0f}s "
          f"(exit {proc.returncode})", file=sys.stderr, flush=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            if result["errors"]:
                tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
                print(f"[bench] {name} errors: {result['errors']}\n{tail}", file=sys.stderr)
            return result
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return {"system": name, "notes": [],
            "errors": {"fatal": f"worker exited {proc.returncode}: {tail}"[:400]}}


# ---------------------------------------------------------------- REST (server process)


def run_rest(workdir: Path, vectors: np.ndarray, queries: np.ndarray,
             truths: dict[str, np.ndarray], efs: list[int]) -> Result:
    import httpx
    import orjson

    from tests.server_process import ServerProcess

    result: Result = {"system": "rest", "errors": {}, "notes": []}
    (workdir / "rest").mkdir()
    root = str(Path(__file__).resolve().parent.parent)  # the server imports this checkout
    server = ServerProcess(workdir / "rest" / "storage", env={"PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")]))})
    print("[bench] running rest ...", file=sys.stderr, flush=True)
    try:
        server.start()
    except Exception as exc:
        log = server.logs().strip().splitlines()
        result["errors"]["fatal"] = f"{type(exc).__name__}: server did not start: " + (
            log[-1] if log else "")
        print(server.logs(), file=sys.stderr)
        return result
    assert server.proc is not None
    pid = server.proc.pid
    json_headers = {"content-type": "application/json"}
    http = httpx.Client(base_url=server.url, timeout=600)
    try:
        result["rss_baseline"] = proc_status(pid)
        http.put("/collections/bench", json={
            "vectors": {"size": vectors.shape[1], "distance": "Cosine"},
            "hnsw_config": {"m": M, "ef_construct": EF_CONSTRUCT}}).raise_for_status()
        http.put("/collections/bench/index", params={"wait": "true"}, json={
            "field_name": "b", "field_schema": "integer"}).raise_for_status()
        started = time.perf_counter()
        for start in range(0, len(vectors), 1000):
            end = min(start + 1000, len(vectors))
            body = orjson.dumps({"points": [{"id": i, "vector": vectors[i], "payload": {
                "b": i % 100}} for i in range(start, end)]}, option=orjson.OPT_SERIALIZE_NUMPY)
            http.put("/collections/bench/points", params={"wait": "true"}, content=body,
                     headers=json_headers).raise_for_status()
        result["upload_s"] = time.perf_counter() - started
        started = time.perf_counter()
        while True:
            info = http.get("/collections/bench").json()["result"]
            if info["status"] == "green":
                break
            time.sleep(0.2)
        result["build_s"] = time.perf_counter() - started
        result["segments"] = info.get("segments_count")
        result["notes"].append("index build runs in the server's optimizer thread during and "
                               "after the upload; build time is from the end of upload to green")

        path = "/collections/bench/points/query"
        probe = http.post(path, content=orjson.dumps({"query": queries[0], "limit": K},
                                                     option=orjson.OPT_SERIALIZE_NUMPY),
                          headers=json_headers)
        key = "query"
        if probe.status_code in (404, 405):
            path, key = "/collections/bench/points/search", "vector"
            result["notes"].append(f"POST /points/query answered {probe.status_code}: "
                                   "used /points/search")
        else:
            probe.raise_for_status()
        result["endpoint"] = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]

        def make_search(client: KeepAliveClient | httpx.Client) -> SearchFn:
            def search(q: np.ndarray, ef: int, bound: int | None) -> list[int]:
                body: dict[str, Any] = {key: q, "limit": K, "params": {"hnsw_ef": ef}}
                if bound is not None:
                    body["filter"] = {"must": [{"key": "b", "range": {"lt": bound}}]}
                raw = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
                if isinstance(client, KeepAliveClient):
                    content = client.post(path, raw)
                else:
                    resp = client.post(path, content=raw, headers=json_headers)
                    resp.raise_for_status()
                    content = resp.content
                res = orjson.loads(content)["result"]
                return [p["id"] for p in (res["points"] if isinstance(res, dict) else res)]
            return search

        qlist = list(queries)
        lean = KeepAliveClient(server.url)
        try:
            sweep_and_filter(make_search(lean), qlist, truths, efs, result)
        finally:
            lean.close()
        best = best_at_target(result.get("sweep", []))
        ef = best["ef"] if best else FALLBACK_EF
        # The same searches through httpx (qdrant-client's transport), for comparison.
        result["httpx_qps"], _found = timed_queries(make_search(http), qlist, ef, None)
        try:
            result["concurrent"] = run_rest_concurrent(server.url, make_search, qlist,
                                                       truths["all"], ef)
        except Exception as exc:
            result["errors"][f"{REST_CLIENTS} clients"] = error_text(exc)
        result["rss_end"] = proc_status(pid)
    except Exception as exc:
        result["errors"]["fatal"] = error_text(exc)
        traceback.print_exc()
        with contextlib.suppress(OSError):
            result["rss_end"] = proc_status(pid)
    finally:
        http.close()
        server.stop()
    return result


def run_rest_concurrent(url: str, make_search: Callable[[Any], SearchFn], queries: list[Any],
                        truth: np.ndarray, ef: int) -> dict[str, Any]:
    """REST_CLIENTS threads, each with its own keep-alive client, splitting the queries."""
    chunks = [list(range(i, len(queries), REST_CLIENTS)) for i in range(REST_CLIENTS)]
    found: dict[int, list[int]] = {}
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(REST_CLIENTS + 1)

    def client(rows: list[int]) -> None:
        with contextlib.closing(KeepAliveClient(url)) as http:
            search = make_search(http)
            for i in rows[:5]:
                search(queries[i], ef, None)
            barrier.wait()
            try:
                for i in rows:
                    found[i] = search(queries[i], ef, None)
                done = len(rows)
                while time.perf_counter() - started < MIN_SECONDS:
                    for i in rows:
                        search(queries[i], ef, None)
                    done += len(rows)
                counts.append(done)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(rows,)) for rows in chunks]
    for t in threads:
        t.start()
    started = time.perf_counter() + 3600.0  # set for real once every client is ready
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    order = sorted(found)
    return {"ef": ef, "qps": sum(counts) / elapsed,
            "recall": recall_at_k([found[i] for i in order], truth[order])}


# ---------------------------------------------------------------- report


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MB"


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or not b else f"{a / b:.2f}x"


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _failure(res: Result) -> str | None:
    errors = res.get("errors") or {}
    return errors.get("fatal")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for pkg in ("numpy", "faiss-cpu", "qdrant-edge-py", "qdrant-client"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{pkg} {version(pkg)}")
    return ", ".join(parts)


def build_report(args: argparse.Namespace, res: dict[str, Result], raw_bytes: int,
                 command: str) -> str:
    out: list[str] = []
    budget = 2 * raw_bytes + 300 * 2**20
    out.append(f"Search benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}`\n")
    out.append(f"- data: {args.n:,} x {args.dim} float32 clustered vectors (cosine), "
               f"payload `b = id % 100` (integer index), {args.queries} queries, top-{K}; "
               f"m={M}, ef_construct={EF_CONSTRUCT} everywhere; sequential single-query "
               "calls from one thread unless stated")
    out.append(f"- machine: {machine()}")
    out.append(f"- software: {versions()}")
    threads = ", ".join(f"{var}={os.environ.get(var, 'unset')}" for var in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
    out.append(f"- thread settings: {threads}; load average (1/5/15 min) at start "
               f"{args.load_start}, at end {load_average()}")
    out.append(f"- raw float32 vectors: {_mb(raw_bytes)}; memory budget 2 x raw + 300 MB = "
               f"{_mb(budget)}\n")

    # sweep table
    swept = [s for s in ("engine", "edge", "faiss", "rest", "bq") if res.get(s, {}).get("sweep")]
    efs = sorted({p["ef"] for s in swept for p in res[s]["sweep"]})
    rows = []
    for ef in efs:
        row: list[Any] = [ef]
        for s in swept:
            point = next((p for p in res[s]["sweep"] if p["ef"] == ef), None)
            row.append("-" if point is None else f"{point['recall']:.3f} / {point['qps']:,.0f}")
        rows.append(row)
    out.append("### hnsw_ef sweep: recall@10 / queries/s (unfiltered)\n")
    out.append(markdown_table(["hnsw_ef", *[LABELS[s] for s in swept]], rows) + "\n"
               if swept else "no system completed a sweep\n")

    # summary
    def best(s: str) -> dict[str, Any] | None:
        return best_at_target(res.get(s, {}).get("sweep") or [])

    edge_best = best("edge")
    edge_qps = edge_best["qps"] if edge_best else None
    edge_build = res.get("edge", {}).get("build_s")
    rows = []
    for s in ("engine", "edge", "faiss", "rest", "rest4", "local", "bq"):
        if s == "rest4":
            r = res.get("rest", {})
            conc = r.get("concurrent")
            if conc is None:
                if "rest" in res:
                    err = (r.get("errors") or {}).get(f"{REST_CLIENTS} clients") or \
                        _failure(r) or "no data"
                    rows.append([LABELS[s], "n/a", "n/a", "n/a", "n/a", "", "", "", "",
                                 f"failed: {err}"])
                continue
            rows.append([LABELS[s], conc["ef"], f"{conc['recall']:.3f}", f"{conc['qps']:,.0f}",
                         _ratio(conc["qps"], edge_qps), "", "", "", "",
                         "same server process"])
            continue
        if s not in res:
            continue
        r = res[s]
        fail = _failure(r)
        b = best(s)
        if s == "local":
            p = (r.get("sweep") or [None])[0]
            b = p
        peak = (r.get("rss_end") or {}).get("VmHWM")
        note = ""
        if s == "rest":
            note = (f"server process RSS; endpoint {r.get('endpoint', '?')}; client "
                    "http.client keep-alive")
            if r.get("httpx_qps"):
                note += f" (through httpx: {r['httpx_qps']:,.0f} q/s)"
        if s == "bq":
            note = "reopened collection, rescore, oversampling 3.0; RSS of the query process"
        if s == "local":
            note = "exact brute force"
        if fail:
            note = f"failed: {fail}"
        if b is None and not fail and r.get("sweep"):
            top = max(r["sweep"], key=lambda p: p["recall"])
            note = (f"recall never reached {TARGET_RECALL} (max {top['recall']:.3f} at "
                    f"ef={top['ef']}); " + note)
        rows.append([
            LABELS[s], "n/a" if b is None else ("exact" if b["ef"] is None else b["ef"]),
            "n/a" if b is None else f"{b['recall']:.3f}",
            "n/a" if b is None else f"{b['qps']:,.0f}",
            "n/a" if b is None else _ratio(b["qps"], edge_qps),
            _secs(r.get("upload_s")), _secs(r.get("build_s")),
            _ratio(r.get("build_s"), edge_build) if s in ("engine", "faiss", "rest", "bq")
            else "",
            _mb(peak), note])
    out.append(f"### Summary: best queries/s at recall@10 >= {TARGET_RECALL}\n")
    out.append(markdown_table(
        ["system", "hnsw_ef", "recall@10", "queries/s", "x edge q/s", "upload",
         "index build", "build x edge", "peak RSS", "note"], rows) + "\n")
    notes = [f"- {LABELS[s]}: {note}" for s in ("engine", "edge", "faiss", "rest", "local", "bq")
             for note in (res.get(s, {}).get("notes") or [])]
    notes += [f"- {LABELS[s]}: {res[s]['segments']} segment(s) after optimization"
              for s in ("engine", "edge", "rest", "bq") if res.get(s, {}).get("segments")]
    if notes:
        out.append("Notes:\n\n" + "\n".join(notes) + "\n")

    # engine vs edge, interleaved
    pair = res.get("pair")
    pair_ratio = None
    if pair is not None:
        out.append(f"### Engine vs edge, taking turns of {PAIRED_BLOCK} queries (one process)\n")
        if _failure(pair) or "engine" not in pair or "edge" not in pair:
            out.append(f"not available: {_failure(pair) or pair.get('errors')}\n")
        else:
            pair_ratio = pair["engine"]["qps"] / pair["edge"]["qps"]
            out.append(markdown_table(
                ["system", "hnsw_ef (smallest reaching the recall)", "recall@10", "queries/s",
                 "x edge q/s"],
                [[LABELS[s], pair[s]["ef"], f"{pair[s]['recall']:.3f}",
                  f"{pair[s]['qps']:,.0f}", _ratio(pair[s]["qps"], pair["edge"]["qps"])]
                 for s in ("engine", "edge")]) + "\n")
            out.append(f"Both reopened from the files built above and timed for "
                       f"{PAIRED_SECONDS:.0f} s together, alternating which goes first, so "
                       "the host's load swings hit both alike.\n")

    # filtered
    rows = []
    edge_f = res.get("edge", {}).get("filtered", {})
    for s in ("engine", "edge", "rest"):
        r = res.get(s)
        if r is None:
            continue
        for label, _bound in FILTERS:
            f = (r.get("filtered") or {}).get(label)
            if f is None:
                err = (r.get("errors") or {}).get(f"filtered {label}") or _failure(r) or "no data"
                rows.append([LABELS[s], label, "n/a", "n/a", "n/a", "n/a", f"failed: {err}"])
                continue
            ref = edge_f.get(label, {}).get("qps")
            rows.append([LABELS[s], label, f["ef"], f"{f['recall']:.3f}", f"{f['qps']:,.0f}",
                         _ratio(f["qps"], ref), r.get("filter_ef_source", "")])
    out.append("### Filtered search (payload range `b < 10` = 10%, `b < 1` = 1%)\n")
    out.append(markdown_table(["system", "filter", "hnsw_ef", "recall@10", "queries/s",
                               "x edge q/s", "ef chosen as"], rows) + "\n")

    # memory
    rows = []
    for s in ("engine", "edge", "faiss", "local", "rest"):
        r = res.get(s)
        if r is None or not r.get("rss_end"):
            continue
        base = (r.get("rss_baseline") or {}).get("VmRSS")
        peak = r["rss_end"].get("VmHWM")
        rows.append([LABELS[s] if s != "rest" else "vectorizer server process (REST)",
                     _mb(base), _mb(peak),
                     _mb(None if base is None or peak is None else peak - base),
                     _mb(budget), _yes(None if peak is None else peak <= budget)])
    out.append("### Peak RSS per process (VmHWM), against 2 x raw + 300 MB\n")
    out.append("Each in-process system runs in its own process; \"baseline\" is its RSS "
               "after imports and loading the input vectors, before creating the index.\n")
    out.append(markdown_table(["process", "baseline RSS", "peak RSS", "peak - baseline",
                               "budget", "within budget"], rows) + "\n")

    # binary quantization
    bq = res.get("bq")
    bq_ratio = None
    if bq is not None:
        out.append("### Binary quantization + on-disk originals (our engine, reopened)\n")
        fail = _failure(bq)
        if fail or not bq.get("sweep"):
            out.append(f"not available: {fail or bq.get('errors') or 'no results'}\n")
        else:
            codes = args.n * args.dim // 8
            mapped = bq.get("mapped_rss", 0)
            resident = mapped + codes
            growth = bq.get("rss_growth")
            mmapped = bool(bq.get("mapped_files"))
            if not mmapped:
                resident = max(growth or 0, codes)
            bq_ratio = raw_bytes / resident if resident else None
            b = best_at_target(bq["sweep"]) or max(bq["sweep"], key=lambda p: p["recall"])
            rows = [[
                b["ef"], f"{b['recall']:.3f}", f"{b['qps']:,.0f}",
                f"{mapped / 2**20:,.1f} MB", f"{codes / 2**20:,.1f} MB",
                f"{resident / 2**20:,.1f} MB", _mb(raw_bytes),
                "n/a" if bq_ratio is None else f"{bq_ratio:.1f}x",
                _mb(growth)]]
            out.append(markdown_table(
                ["hnsw_ef", "recall@10", "queries/s", "mmap Rss under collection dir",
                 "binary codes (n x dim/8)", "resident vector memory", "float32 in RAM",
                 "reduction", "process RSS growth (open + queries)"], rows) + "\n")
            plain = {p["ef"]: p["recall"] for p in res.get("engine", {}).get("sweep", [])}
            if plain and all(plain.get(p["ef"]) == p["recall"] for p in bq["sweep"]):
                out.append("Recall at every ef is identical to the float32 engine's: binary "
                           "quantization does not appear to be applied.\n")
            if not mmapped:
                out.append("No file under the collection directory is memory-mapped: the "
                           "originals are not on disk, so resident vector memory is taken as "
                           "the process RSS growth over open + queries.\n")
            else:
                out.append("Mapped files: " + ", ".join(bq["mapped_files"][:10]) + "\n")
            out.append(f"Stored config: vectors `{json.dumps(bq.get('vectors_config'))}`, "
                       f"quantization `{json.dumps(bq.get('quantization_config'))}`.\n")
            edge_bq = res.get("edge-bq") or {}
            if edge_bq.get("sweep"):
                ours = {p["ef"]: p["recall"] for p in bq["sweep"]}
                out.append("Recall@10 by hnsw_ef, ours / qdrant-edge-py with the same binary "
                           "quantization, on-disk originals, rescore and oversampling 3.0: " +
                           ", ".join(f"{p['ef']}: {ours.get(p['ef'], float('nan')):.3f} / "
                                     f"{p['recall']:.3f}" for p in edge_bq["sweep"]) + "\n")
            elif edge_bq:
                out.append(f"qdrant-edge-py with binary quantization: failed: "
                           f"{_failure(edge_bq) or edge_bq.get('errors')}\n")

    # targets
    rows = []
    eng = best("engine")
    ratio = eng["qps"] / edge_qps if eng and edge_qps else None
    measured = (f"separate sweeps: {_num(eng and eng['qps'])} vs {_num(edge_qps)} q/s = "
                f"{_ratio(eng and eng['qps'], edge_qps)}")
    if pair_ratio is not None:
        measured = (f"taking turns: {pair['engine']['qps']:,.0f} vs {pair['edge']['qps']:,.0f}"
                    f" q/s = {pair_ratio:.2f}x; {measured}")
        ratio = pair_ratio
    rows.append([f"engine in-process >= 1.5x edge q/s at recall >= {TARGET_RECALL}",
                 measured, _yes(None if ratio is None else ratio >= 1.5)])
    eb = res.get("engine", {}).get("build_s")
    rows.append(["engine index build <= edge's",
                 f"{_secs(eb)} vs {_secs(edge_build)}",
                 _yes(None if eb is None or edge_build is None else eb <= edge_build)])
    rb = best("rest")
    if rb is not None:
        rest_measured = f"{rb['qps']:,.0f} q/s (ef {rb['ef']}, recall {rb['recall']:.3f})"
    elif res.get("rest", {}).get("sweep"):
        rest_measured = "no ef reached the recall"
    else:
        rest_measured = "failed" if "rest" in res else "not run"
    rows.append([f"REST, 1 client: >= 1,000 q/s at recall >= {TARGET_RECALL}", rest_measured,
                 _yes(None if "rest" not in res else bool(rb and rb["qps"] >= 1000))])
    for label, _bound in FILTERS:
        f = res.get("engine", {}).get("filtered", {}).get(label)
        ref = edge_f.get(label, {}).get("qps")
        ok = None if f is None or ref is None else (f["recall"] >= TARGET_RECALL
                                                   and f["qps"] >= ref)
        rows.append([f"filtered {label}: recall >= {TARGET_RECALL} at >= 1.0x edge q/s",
                     "n/a" if f is None else f"recall {f['recall']:.3f}, {f['qps']:,.0f} vs "
                     f"{_num(ref)} q/s = {_ratio(f['qps'], ref)}", _yes(ok)])
    peak = (res.get("engine", {}).get("rss_end") or {}).get("VmHWM")
    rows.append(["engine RSS <= 2 x raw + 300 MB", f"{_mb(peak)} vs {_mb(budget)}",
                 _yes(None if peak is None else peak <= budget)])
    speak = (res.get("rest", {}).get("rss_end") or {}).get("VmHWM")
    if speak is not None:
        rows.append(["server RSS <= 2 x raw + 300 MB", f"{_mb(speak)} vs {_mb(budget)}",
                     _yes(speak <= budget)])
    bq_best = None if bq is None else best_at_target(bq.get("sweep") or [])
    bq_top = None if bq is None or not bq.get("sweep") else max(bq["sweep"],
                                                                key=lambda p: p["recall"])
    rows.append([f"BQ + on-disk originals: >= 20x less resident vector memory (and recall "
                 f">= {TARGET_RECALL})",
                 "not available" if bq_ratio is None or bq_top is None else
                 f"{bq_ratio:.1f}x; best recall {bq_top['recall']:.3f} (ef {bq_top['ef']})",
                 _yes(None if bq is None else bool(bq_ratio and bq_ratio >= 20 and bq_best))])
    out.append("### Targets\n")
    out.append(markdown_table(["target", "measured", "met"], rows) + "\n")

    errors = [(s, k, v) for s, r in res.items() for k, v in (r.get("errors") or {}).items()]
    if errors:
        out.append("### Errors\n")
        out.extend(f"- {LABELS.get(s, s)}, {k}: `{v}`" for s, k, v in errors)
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="points (default 100000)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=None, help="queries (default 500)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: n=20000, queries=200 unless given")
    parser.add_argument("--efs", default=",".join(map(str, DEFAULT_EFS)),
                        help="hnsw_ef values to sweep, comma-separated")
    parser.add_argument("--only", default=",".join(SYSTEMS),
                        help=f"systems to run, comma-separated, of {','.join(SYSTEMS)}")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per system")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.workdir)
        return
    args.n = args.n or (20_000 if args.quick else 100_000)
    args.queries = args.queries or (200 if args.quick else 500)
    efs = [int(x) for x in args.efs.split(",") if x.strip()]
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {sorted(unknown)}")
    command = "python -m bench.search" + ("" if len(sys.argv) < 2 else " " + " ".join(
        sys.argv[1:]))

    args.load_start = load_average()
    all_vectors, _payloads = make_points(args.n + args.queries, args.dim)
    del _payloads
    vectors, queries = all_vectors[: args.n], all_vectors[args.n:]
    unit, unit_q = normalize(vectors), normalize(queries)
    truths = {"all": exact_top_k(unit, unit_q, K)}
    for label, bound in FILTERS:
        keep = np.flatnonzero(np.arange(args.n) % 100 < bound)
        truths[label] = exact_top_k(unit[keep], unit_q, K, ids=keep)
    del unit, unit_q

    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        workdir = Path(tmp)
        np.save(workdir / "vectors.npy", vectors)
        np.save(workdir / "queries.npy", queries)
        np.savez(workdir / "truth.npz", **truths)
        (workdir / "spec.json").write_text(json.dumps({"efs": efs, "n": args.n,
                                                       "dim": args.dim}))
        for system in SYSTEMS:
            if system not in only:
                continue
            if system == "rest":
                results["rest"] = run_rest(workdir, vectors, queries, truths, efs)
            elif system == "bq":
                built = run_worker("bq-build", workdir, args.timeout)
                if _failure(built):
                    results["bq"] = built
                else:
                    results["bq"] = run_worker("bq-query", workdir, args.timeout)
                    results["edge-bq"] = run_worker("edge-bq", workdir, args.timeout)
                    results["bq"]["build_s"] = built.get("build_s")
                    results["bq"]["upload_s"] = built.get("upload_s")
            else:
                results[system] = run_worker(system, workdir, args.timeout)
        if not _failure(results.get("engine", {"errors": {"fatal": "not run"}})) and \
                not _failure(results.get("edge", {"errors": {"fatal": "not run"}})):
            results["pair"] = run_worker("pair", workdir, args.timeout)
    report = build_report(args, results, vectors.nbytes, command)
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")


if __name__ == "__main__":
    main()
