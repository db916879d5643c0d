"""Segments and the optimizer: sealing, HNSW builds, copy-on-write updates, persisted indexes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client
from tests.server_process import ServerProcess

DIM = 16
N = 3000


def _wait_optimized(http: httpx.Client, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = http.get(f"/collections/{name}").json()["result"]
        if info["status"] == "green" and info["indexed_vectors_count"] > 0:
            return info
        time.sleep(0.2)
    raise AssertionError(f"collection never finished optimizing: {info}")


def _search(http: httpx.Client, name: str, query: list[float], **extra) -> list[dict]:
    body = {"vector": query, "limit": 10, **extra}
    resp = http.post(f"/collections/{name}/points/search", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["result"]


def test_idle_appendable_tail_is_merged_and_indexed(tmp_path: Path) -> None:
    """A tail below `indexing_threshold` left after an upload joins the merge optimizer
    once writes pause (as Qdrant merges its appendable segment): every vector ends up in
    a graph and the segment count goes back to default_segment_number."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/t", json={
            "vectors": {"size": DIM, "distance": "Cosine"},
            "optimizers_config": {"indexing_threshold": 20, "default_segment_number": 1},
        }).raise_for_status()
        vectors = np.random.default_rng(9).normal(size=(1000, DIM)).astype(np.float32)
        # 800 points seal into indexed segments; the last 200 (12.5 KB) stay appendable
        for start, end in ((0, 400), (400, 800), (800, 1000)):
            http.put("/collections/t/points", params={"wait": "true"}, json={"points": [
                {"id": i, "vector": vectors[i].tolist()} for i in range(start, end)]},
            ).raise_for_status()
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = http.get("/collections/t").json()["result"]
            if info["status"] == "green" and info["indexed_vectors_count"] == 1000:
                break
            time.sleep(0.2)
        assert info["indexed_vectors_count"] == info["points_count"] == 1000, info
        assert info["segments_count"] <= 2  # the merged segment and an empty appendable one
        assert "rebuilt" in server.logs(tail=None)
        query = vectors[999].tolist()
        hits = _search(http, "t", query, params={"exact": True})
        assert hits[0]["id"] == 999
        assert _search(http, "t", query)[0]["id"] == 999
    finally:
        server.stop()


def test_optimizer_indexes_and_search_keeps_recall(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        # 20 KB of 16-d float32 vectors = 320 points per sealed segment
        http.put("/collections/e", json={
            "vectors": {"size": DIM, "distance": "Euclid"},
            "optimizers_config": {"indexing_threshold": 20},
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 1},
        }).raise_for_status()
        rng = np.random.default_rng(5)
        vectors = rng.normal(size=(N, DIM)).astype(np.float32)
        oracle = QdrantClient(":memory:")
        oracle.create_collection("o", vectors_config=models.VectorParams(
            size=DIM, distance=models.Distance.EUCLID))
        for start in range(0, N, 500):
            points = [{"id": i, "vector": vectors[i].tolist(), "payload": {"g": i % 100}}
                      for i in range(start, start + 500)]
            http.put("/collections/e/points", params={"wait": "true"},
                     json={"points": points}).raise_for_status()
            time.sleep(0.3)  # let the optimizer seal segments as data arrives
        oracle.upload_points("o", [models.PointStruct(id=i, vector=vectors[i].tolist(),
                                                      payload={"g": i % 100})
                                   for i in range(N)])
        info = _wait_optimized(http, "e")
        # ~9 segments were sealed; the merge optimizer brings them down to
        # default_segment_number (one per CPU) plus the appendable segment
        assert info["segments_count"] <= (os.cpu_count() or 1) + 1
        assert "rebuilt" in server.logs(tail=None)
        assert info["points_count"] == N
        assert 0 < info["indexed_vectors_count"] <= N

        hits_total, exact_equal = 0, 0
        for q in range(20):
            query = (vectors[q * 7] + 0.1).tolist()
            want = [p.id for p in oracle.query_points("o", query=query, limit=10).points]
            got = [h["id"] for h in _search(http, "e", query)]
            hits_total += len(set(got) & set(want))
            exact = [h["id"] for h in _search(http, "e", query, params={"exact": True})]
            exact_equal += exact == want
        assert hits_total / 200 >= 0.95  # HNSW recall@10
        assert exact_equal == 20  # `exact` bypasses the graph

        # the optimizations the optimizer ran are reported as Qdrant reports them
        report = http.get("/collections/e/optimizations",
                          params={"with": "completed,queued,idle_segments"})
        assert report.status_code == 200, report.text
        report = report.json()["result"]
        kinds = {r["optimizer"] for r in report["completed"]}
        assert {"indexing", "merge"} <= kinds
        assert all(r["status"] == "done" for r in report["completed"])
        assert report["running"] == [] and report["summary"]["queued_optimizations"] == 0
        assert report["summary"]["idle_segments"] == info["segments_count"]
        assert len(report["completed"]) <= 16

        # 1% selectivity through the graph: the planner widens the beam by the filter's
        # share (or scores the candidates exactly), so recall stays 1.0
        flt = {"must": [{"key": "g", "match": {"value": 42}}]}
        query = vectors[3].tolist()
        want = [p.id for p in oracle.query_points("o", query=query, limit=10, query_filter=(
            models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(
                value=42))]))).points]
        assert [h["id"] for h in _search(http, "e", query, filter=flt)] == want

        # copy-on-write: points in sealed segments change as anywhere else
        http.put("/collections/e/points/vectors", params={"wait": "true"}, json={
            "points": [{"id": 1, "vector": [100.0] * DIM}]}).raise_for_status()
        http.post("/collections/e/points/payload", params={"wait": "true"}, json={
            "payload": {"moved": True}, "points": [1, 2]}).raise_for_status()
        http.put("/collections/e/points", params={"wait": "true"}, json={
            "points": [{"id": 2, "vector": [-100.0] * DIM, "payload": {"g": 7}}]})
        top = _search(http, "e", [100.0] * DIM, with_payload=True)[0]
        assert top["id"] == 1 and top["payload"] == {"g": 1, "moved": True}
        top = _search(http, "e", [-100.0] * DIM, with_payload=True)[0]
        assert top["id"] == 2 and top["payload"] == {"g": 7}
        assert http.post("/collections/e/points/count", json={}).json()["result"]["count"] == N

        # vacuum: deleting most points makes the optimizer rebuild segments without them
        gone = {"must": [{"key": "g", "range": {"lt": 70}}]}
        http.post("/collections/e/points/delete", params={"wait": "true"},
                  json={"filter": gone}).raise_for_status()
        oracle.delete("o", models.FilterSelector(filter=models.Filter(must=[
            models.FieldCondition(key="g", range=models.Range(lt=70))])))
        time.sleep(1)
        _wait_optimized(http, "e")
        assert "rebuilt 1 segment(s)" in server.logs(tail=None)
        left = http.post("/collections/e/points/count", json={}).json()["result"]["count"]
        assert left == oracle.count("o").count
        for q in range(5):
            query = (vectors[q * 11 + 2000] + 0.05).tolist()
            want = [p.id for p in oracle.query_points("o", query=query, limit=10).points]
            exact = [h["id"] for h in _search(http, "e", query, params={"exact": True})]
            assert exact == want

        # the graphs are persisted: right after a restart the collection is indexed
        before = http.get("/collections/e").json()["result"]["indexed_vectors_count"]
        server.restart(kill=False)
        after = http.get("/collections/e").json()["result"]
        assert after["indexed_vectors_count"] == before
        assert http.post("/collections/e/points/count", json={}).json()["result"]["count"] == left
        server.restart(kill=True)
        assert http.post("/collections/e/points/count", json={}).json()["result"]["count"] == left
    finally:
        server.stop()


def test_patch_hnsw_rebuilds_graphs(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/p", json={
            "vectors": {"size": DIM, "distance": "Cosine"},
            "optimizers_config": {"indexing_threshold": 10, "default_segment_number": 8},
            "hnsw_config": {"m": 16, "ef_construct": 32, "full_scan_threshold": 1},
        }).raise_for_status()
        rng = np.random.default_rng(9)
        vectors = rng.normal(size=(800, DIM)).astype(np.float32)
        http.put("/collections/p/points", params={"wait": "true"}, json={"points": [
            {"id": i, "vector": vectors[i].tolist()} for i in range(800)]}).raise_for_status()
        _wait_optimized(http, "p")

        def kinds() -> list[str]:
            report = http.get("/collections/p/optimizations",
                              params={"with": "completed", "completed_limit": 100}).json()
            return [r["optimizer"] for r in report["result"]["completed"]]

        assert "config_mismatch" not in kinds()
        http.patch("/collections/p", json={"hnsw_config": {"m": 8}}).raise_for_status()
        assert http.get("/collections/p").json()["result"]["config"]["hnsw_config"]["m"] == 8
        time.sleep(1)
        _wait_optimized(http, "p")
        assert "config_mismatch" in kinds()
        top = _search(http, "p", vectors[5].tolist())[0]
        assert top["id"] == 5
        http.patch("/collections/p", json={"hnsw_config": {"m": 0}}).raise_for_status()
        deadline = time.monotonic() + 30
        while http.get("/collections/p").json()["result"]["indexed_vectors_count"] > 0:
            assert time.monotonic() < deadline, "graphs were not dropped with m=0"
            time.sleep(0.2)
        assert _search(http, "p", vectors[7].tolist())[0]["id"] == 7
    finally:
        server.stop()


def test_scalar_quantization_with_rescoring(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/q", json={
            "vectors": {"size": DIM, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": 10, "default_segment_number": 1},
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 1},
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99}},
        }).raise_for_status()
        rng = np.random.default_rng(2)
        vectors = rng.normal(size=(1500, DIM)).astype(np.float32)
        http.put("/collections/q/points", params={"wait": "true"}, json={"points": [
            {"id": i, "vector": vectors[i].tolist()} for i in range(1500)]}).raise_for_status()
        info = _wait_optimized(http, "q")
        assert info["config"]["quantization_config"]["scalar"]["type"] == "int8"
        hits, differ = 0, 0
        for _ in range(20):
            query = rng.normal(size=DIM).astype(np.float32)
            exact = vectors @ query
            want = np.argsort(-exact, kind="stable")[:10].tolist()
            rescored = _search(http, "q", query.tolist(),
                               params={"quantization": {"oversampling": 2.0}})
            raw = _search(http, "q", query.tolist(),
                          params={"quantization": {"rescore": False}})
            hits += len({h["id"] for h in rescored} & set(want))
            # rescoring returns the original vectors' scores; without it, the int8 ones
            for h in rescored:
                assert abs(h["score"] - float(exact[h["id"]])) < 1e-3
            differ += sum(abs(h["score"] - float(exact[h["id"]])) > 1e-4 for h in raw)
        assert hits / 200 >= 0.9
        assert differ > 0  # the graph really scores int8 codes
    finally:
        server.stop()


def test_search_batch_shares_one_pass_and_matches_single_searches(tmp_path: Path) -> None:
    """A batch of searches over an indexed and an appendable segment answers each search
    exactly as the same search sent alone: ids, scores, offsets, thresholds, filters."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/b", json={
            "vectors": {"size": DIM, "distance": "Cosine"},
            "optimizers_config": {"indexing_threshold": 20, "default_segment_number": 1},
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 1},
        }).raise_for_status()
        rng = np.random.default_rng(11)
        vectors = rng.normal(size=(N, DIM)).astype(np.float32)
        points = [{"id": i, "vector": vectors[i].tolist(), "payload": {"g": i % 10}}
                  for i in range(N)]
        http.put("/collections/b/points", params={"wait": "true"},
                 json={"points": points}).raise_for_status()
        _wait_optimized(http, "b")
        http.put("/collections/b/points", params={"wait": "true"}, json={"points": [
            {"id": N + i, "vector": rng.normal(size=DIM).tolist(), "payload": {"g": 1}}
            for i in range(50)]}).raise_for_status()  # these stay in the appendable segment
        flt = {"must": [{"key": "g", "match": {"value": 1}}]}
        searches = []
        for q in range(12):
            body: dict = {"vector": rng.normal(size=DIM).tolist(), "limit": 5 + q % 4,
                          "params": {"hnsw_ef": 64}}
            if q % 3 == 1:
                body["filter"] = flt
            if q % 4 == 2:
                body["offset"] = 3
            if q % 5 == 3:
                body["score_threshold"] = 0.3
                body["with_payload"] = True
            searches.append(body)
        batch = http.post("/collections/b/points/search/batch",
                          json={"searches": searches}).json()["result"]
        assert len(batch) == len(searches)
        for body, got in zip(searches, batch, strict=True):
            alone = _search(http, "b", body["vector"], **{k: v for k, v in body.items()
                                                          if k != "vector"})
            assert [h["id"] for h in got] == [h["id"] for h in alone]
            assert [h["score"] for h in got] == pytest.approx([h["score"] for h in alone])
            assert [h.get("payload") for h in got] == [h.get("payload") for h in alone]
            assert len(got) > 0
        bad = http.post("/collections/b/points/search/batch", json={"searches": [
            searches[0], {"vector": [1.0, 2.0], "limit": 3}]})
        assert bad.status_code == 400 and "dimension" in bad.text
    finally:
        server.stop()


def test_segments_sealed_later_keep_the_payload_indexes(tmp_path: Path) -> None:
    """Points written after the appendable segment was sealed are indexed too: the field's
    `payload_schema` count covers every point, before and after a restart."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/p", json={
            "vectors": {"size": DIM, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": 10}}).raise_for_status()
        http.put("/collections/p/index", params={"wait": "true"}, json={
            "field_name": "g", "field_schema": "integer"}).raise_for_status()
        rng = np.random.default_rng(3)
        for start in range(0, N, 500):
            http.put("/collections/p/points", params={"wait": "true"}, json={"points": [
                {"id": i, "vector": rng.normal(size=DIM).tolist(), "payload": {"g": i % 7}}
                for i in range(start, start + 500)]}).raise_for_status()
            time.sleep(0.2)  # segments get sealed between the batches
        _wait_optimized(http, "p")
        for restart in (False, True):
            if restart:
                server.restart()
                http = checked_client(server.url, timeout=60)
            info = http.get("/collections/p").json()["result"]
            assert info["segments_count"] >= 2
            assert info["payload_schema"]["g"]["points"] == N
    finally:
        server.stop()


def test_repeated_filters_see_every_change(tmp_path: Path) -> None:
    """A filter searched again after payload updates, deletes and re-inserts in sealed
    (indexed) segments answers from the current data, never from an earlier result."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/f", json={
            "vectors": {"size": DIM, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": 10},
            "hnsw_config": {"full_scan_threshold": 1}}).raise_for_status()
        http.put("/collections/f/index", params={"wait": "true"}, json={
            "field_name": "g", "field_schema": "keyword"}).raise_for_status()
        rng = np.random.default_rng(11)
        vectors = rng.normal(size=(N, DIM)).astype(np.float32)
        for start in range(0, N, 500):
            http.put("/collections/f/points", params={"wait": "true"}, json={"points": [
                {"id": i, "vector": vectors[i].tolist(), "payload": {"g": "a" if i % 10 else "b"}}
                for i in range(start, start + 500)]}).raise_for_status()
            time.sleep(0.2)
        _wait_optimized(http, "f")
        flt_b = {"must": [{"key": "g", "match": {"value": "b"}}]}
        query = vectors[7].tolist()  # point 7 is in group "a"

        def ids(flt: dict, **extra) -> list[int]:
            return [h["id"] for h in _search(http, "f", query, filter=flt, limit=20, **extra)]

        def count(flt: dict) -> int:
            return http.post("/collections/f/points/count", json={
                "filter": flt, "exact": True}).json()["result"]["count"]

        for exact in (False, True):  # through the graph's allow-list and exactly
            params = {"params": {"exact": exact}}
            before = ids(flt_b, **params)
            assert 7 not in before and all(i % 10 == 0 for i in before)
            assert count(flt_b) == N // 10
            http.post("/collections/f/points/payload", params={"wait": "true"}, json={
                "payload": {"g": "b"}, "points": [7]}).raise_for_status()
            assert ids(flt_b, **params)[0] == 7  # the query is point 7's own vector
            assert count(flt_b) == N // 10 + 1
            http.post("/collections/f/points/delete", params={"wait": "true"}, json={
                "points": [7]}).raise_for_status()
            assert 7 not in ids(flt_b, **params)
            assert count(flt_b) == N // 10
            http.put("/collections/f/points", params={"wait": "true"}, json={"points": [
                {"id": 7, "vector": vectors[7].tolist(), "payload": {"g": "a"}}]},
            ).raise_for_status()
            assert ids(flt_b, **params) == before
        # New vectors for a matching point: repeated exact searches score the new ones.
        for _ in range(3):
            assert ids(flt_b, params={"exact": True})[0] != 10
        http.put("/collections/f/points/vectors", params={"wait": "true"}, json={
            "points": [{"id": 10, "vector": (vectors[7] * 3).tolist()}]}).raise_for_status()
        hits = _search(http, "f", query, filter=flt_b, limit=3, params={"exact": True})
        assert hits[0]["id"] == 10
        assert hits[0]["score"] == pytest.approx(3 * float(vectors[7] @ vectors[7]), rel=1e-4)
    finally:
        server.stop()


def _nice_tids(pid: int, nice: int) -> list[int]:
    """The threads of process `pid` running at `nice` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        if int(fields[16]) == nice:
            out.append(int(task.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("budget", "builders"), [(None, 3), (1, 1)])
def test_optimizer_builds_at_low_priority_within_the_cpu_budget(
        tmp_path: Path, budget: int | None, builders: int) -> None:
    """As Qdrant: the optimizer and its graph-building threads run at nice 10, requests at
    nice 0; a build uses the CPU budget (`optimizer_cpu_budget`; automatic: all but one
    of 4 CPUs) at most."""
    env = {"QDRANT_NUM_CPUS": "4"}
    if budget is not None:
        env["QDRANT__STORAGE__PERFORMANCE__OPTIMIZER_CPU_BUDGET"] = str(budget)
    server = ServerProcess(tmp_path / "storage", env=env).start()
    try:
        pid = server.proc.pid
        assert pid in _nice_tids(pid, 0)  # the main thread serves requests at normal priority
        http = checked_client(server.url, timeout=60)
        http.put("/collections/p", json={
            "vectors": {"size": DIM, "distance": "Dot"},
            "optimizers_config": {"indexing_threshold": 20, "default_segment_number": 1},
        }).raise_for_status()
        vectors = np.random.default_rng(3).normal(size=(1000, DIM)).astype(np.float32)
        http.put("/collections/p/points", params={"wait": "true"}, json={"points": [
            {"id": i, "vector": vectors[i].tolist()} for i in range(1000)]}).raise_for_status()
        info = _wait_optimized(http, "p")
        assert info["indexed_vectors_count"] >= 320
        # the optimizer thread and the worker threads its builds started (faiss's OpenMP
        # pool: one per CPU of the budget beyond the optimizer's own)
        assert len(_nice_tids(pid, 10)) == builders
        hits = _search(http, "p", vectors[7].tolist())
        assert hits[0]["id"] == 7 or hits[0]["score"] >= float(vectors[7] @ vectors[7]) - 1e-3
    finally:
        server.stop()


def _mapped_graphs(pid: int) -> set[str]:
    """Saved graph files (`.../vectors/<i>/hnsw.faiss`) memory-mapped by process `pid`, as
    `<vector index>`; the other segment files are not counted."""
    out = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split()[-1]
        if path.endswith("/hnsw.faiss") and "(deleted)" not in line:
            out.add(Path(path).parent.name)
    return out


def _wait_mapped(pid: int, expected: set[str], timeout: float = 30) -> None:
    """Until the mapped graphs are `expected` (the build's flush follows its swap-in)."""
    deadline = time.monotonic() + timeout
    while _mapped_graphs(pid) != expected:
        assert time.monotonic() < deadline, (_mapped_graphs(pid), expected)
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_hnsw_on_disk_graphs_are_memory_mapped(tmp_path: Path) -> None:
    """`hnsw_config.on_disk` (per vector here) keeps that vector's graph codes in their
    saved file, memory-mapped, after the build and after kill -9 and restart; the other vector's
    graph stays in memory; searches answer the same; a PATCH turning it off reads it back."""
    server = ServerProcess(tmp_path / "storage").start()
    vectors = np.random.default_rng(11).normal(size=(1200, DIM)).astype(np.float32)
    try:
        http = checked_client(server.url, timeout=60)
        http.put("/collections/g", json={
            "vectors": {"a": {"size": DIM, "distance": "Cosine",
                              "hnsw_config": {"on_disk": True}},
                        "b": {"size": DIM, "distance": "Cosine"}},
            "optimizers_config": {"indexing_threshold": 20, "default_segment_number": 1},
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 1},
        }).raise_for_status()
        http.put("/collections/g/points", params={"wait": "true"}, json={"points": [
            {"id": i, "vector": {"a": vectors[i].tolist(), "b": vectors[i].tolist()}}
            for i in range(len(vectors))]}).raise_for_status()
        info = _wait_optimized(http, "g")
        assert info["indexed_vectors_count"] >= 2 * 320
        _wait_mapped(server.proc.pid, {"0"})  # "a" is the segment's vector 0
        query = vectors[5].tolist()
        before = {name: _search(http, "g", {"name": name, "vector": query},
                                params={"hnsw_ef": 128}) for name in ("a", "b")}
        assert before["a"][0]["id"] == 5
        assert [h["id"] for h in before["a"]] == [h["id"] for h in before["b"]]
        http.close()
        server.restart(kill=True)  # kill -9: the mapped graph was flushed with its segment
        http = checked_client(server.url, timeout=60)
        assert _mapped_graphs(server.proc.pid) == {"0"}
        after = _search(http, "g", {"name": "a", "vector": query}, params={"hnsw_ef": 128})
        assert after == before["a"]
        http.patch("/collections/g", json={"vectors": {"a": {"hnsw_config": {
            "on_disk": False}}}}).raise_for_status()
        assert _mapped_graphs(server.proc.pid) == set()
        assert _search(http, "g", {"name": "a", "vector": query},
                       params={"hnsw_ef": 128}) == before["a"]
    finally:
        server.stop()
