"""Payload graphs (`payload_m`): Qdrant's multitenancy setup and its extra links per value.

Qdrant's guide for many tenants: `m: 0` (no graph over the whole collection),
`payload_m: 16`, a keyword index with `is_tenant: true`; each tenant then gets a graph
of its own.  Checked against the real server: `indexed_vectors_count` counts the
vectors in tenant graphs (0 without them), searches filtered to a tenant keep their
recall against exact results and return only that tenant, a small tenant (below
`full_scan_threshold`) is scored exactly (identical to local mode), a point moved to
another tenant in place is found there, `enable_hnsw: false` and `payload_m: 0` build
no graphs, and the graphs come back after kill -9.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client
from tests.server_process import ServerProcess

DIM = 16
TENANTS = {**{t: 600 for t in "abcdefghij"}, "tiny": 60}
HNSW = {"m": 0, "payload_m": 16, "ef_construct": 100, "full_scan_threshold": 10}
# full_scan_threshold 10 KB = 160 points of 16 float32 dimensions: "tiny" is scored exactly


def _data() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(5)
    tenants = [t for t, count in TENANTS.items() for _ in range(count)]
    centers = rng.normal(size=(20, DIM))
    vectors = centers[rng.integers(0, 20, len(tenants))] + 0.4 * rng.normal(
        size=(len(tenants), DIM))
    return vectors.astype(np.float32), tenants


def _create(http: httpx.Client, name: str, hnsw: dict, index: dict) -> None:
    http.put(f"/collections/{name}", json={
        "vectors": {"size": DIM, "distance": "Cosine"}, "hnsw_config": hnsw,
        "optimizers_config": {"indexing_threshold": 100, "default_segment_number": 2},
    }).raise_for_status()
    http.put(f"/collections/{name}/index", params={"wait": "true"}, json={
        "field_name": "tenant", "field_schema": index}).raise_for_status()
    vectors, tenants = _data()
    order = np.random.default_rng(6).permutation(len(tenants))  # tenants interleaved
    for chunk in np.array_split(order, 8):
        http.put(f"/collections/{name}/points", params={"wait": "true"}, json={"points": [
            {"id": int(i), "vector": vectors[i].tolist(), "payload": {"tenant": tenants[i]}}
            for i in chunk]}).raise_for_status()


def _wait_green(http: httpx.Client, name: str, timeout: float = 90, segments: int = 3) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = http.get(f"/collections/{name}").json()["result"]
        if info["status"] == "green" and info["segments_count"] <= segments and \
                info["points_count"] == len(_data()[1]):
            time.sleep(1.0)  # the idle tail is merged once writes pause
            again = http.get(f"/collections/{name}").json()["result"]
            if again["status"] == "green" and again["indexed_vectors_count"] == \
                    info["indexed_vectors_count"]:
                return again
        time.sleep(0.2)
    raise AssertionError(f"collection never finished optimizing: {info}")


def _tenant_filter(tenant: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(
        key="tenant", match=models.MatchValue(value=tenant))])


def _recall(client: QdrantClient, name: str, tenant: str, queries: np.ndarray,
            vectors: np.ndarray, tenants: list[str]) -> float:
    members = np.array([i for i, t in enumerate(tenants) if t == tenant])
    normed = vectors[members] / np.linalg.norm(vectors[members], axis=1, keepdims=True)
    hits = 0
    for q in queries:
        found = client.query_points(name, query=q.tolist(), query_filter=_tenant_filter(tenant),
                                    limit=10, search_params=models.SearchParams(hnsw_ef=64),
                                    with_payload=True).points
        assert {p.payload["tenant"] for p in found} == {tenant}
        truth = set(members[np.argsort(-(normed @ (q / np.linalg.norm(q))))[:10]].tolist())
        hits += len(truth & {p.id for p in found})
    return hits / (10 * len(queries))


def test_tenant_graphs_without_a_main_graph(tmp_path: Path) -> None:
    """Qdrant's multitenancy configuration, end to end (see the module docstring)."""
    from qdrant_client.local.qdrant_local import QdrantLocal

    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        _create(http, "mt", HNSW, {"type": "keyword", "is_tenant": True})
        info = _wait_green(http, "mt")
        vectors, tenants = _data()
        big = sum(count for t, count in TENANTS.items() if t != "tiny")
        # every big tenant lies in graphs of its own; the main graph is off (m: 0)
        assert big - 200 <= info["indexed_vectors_count"] <= big, info
        queries = np.random.default_rng(7).normal(size=(20, DIM)).astype(np.float32)
        for tenant in ("a", "c"):
            assert _recall(client, "mt", tenant, queries, vectors, tenants) >= 0.95

        # a tenant below full_scan_threshold is scored exactly: local mode's answer
        local = QdrantLocal(":memory:")
        local.create_collection("mt", vectors_config=models.VectorParams(
            size=DIM, distance=models.Distance.COSINE))
        local.upsert("mt", [models.PointStruct(id=i, vector=vectors[i].tolist(),
                                               payload={"tenant": tenants[i]})
                            for i in range(len(tenants))])
        for q in queries[:5]:
            ours = client.query_points("mt", query=q.tolist(), limit=10,
                                       query_filter=_tenant_filter("tiny")).points
            theirs = local.query_points("mt", query=q.tolist(), limit=10,
                                        query_filter=_tenant_filter("tiny")).points
            assert [p.id for p in ours] == [p.id for p in theirs]
            assert np.allclose([p.score for p in ours], [p.score for p in theirs], atol=1e-5)

        # a point moved to another tenant in place is found there, and no longer in its old one
        moved = next(i for i, t in enumerate(tenants) if t == "a")
        client.set_payload("mt", {"tenant": "b"}, points=[moved], wait=True)
        found = client.query_points("mt", query=vectors[moved].tolist(), limit=3,
                                    query_filter=_tenant_filter("b")).points
        assert found[0].id == moved and found[0].score > 0.9999
        found = client.query_points("mt", query=vectors[moved].tolist(), limit=10,
                                    query_filter=_tenant_filter("a")).points
        assert moved not in {p.id for p in found}
        # a deleted point is gone from its tenant's graph results
        gone = next(i for i, t in enumerate(tenants) if t == "c")
        client.delete("mt", points_selector=[gone], wait=True)
        found = client.query_points("mt", query=vectors[gone].tolist(), limit=10,
                                    query_filter=_tenant_filter("c")).points
        assert gone not in {p.id for p in found} and len(found) == 10

        # kill -9: the graphs are read back, not rebuilt
        before = http.get("/collections/mt").json()["result"]["indexed_vectors_count"]
        builds = server.logs(tail=None).count("payload graphs)")
        server.restart(kill=True)
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        info = http.get("/collections/mt").json()["result"]
        assert info["status"] == "green" and info["indexed_vectors_count"] == before, info
        assert _recall(client, "mt", "d", queries, vectors, tenants) >= 0.95
        assert server.logs(tail=None).count("payload graphs)") == builds  # none built

        # payload_m: 0 drops them; back to 16 builds them again
        http.patch("/collections/mt", json={"hnsw_config": {"payload_m": 0}}).raise_for_status()
        deadline = time.monotonic() + 30
        while http.get("/collections/mt").json()["result"]["indexed_vectors_count"] and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert http.get("/collections/mt").json()["result"]["indexed_vectors_count"] == 0
        assert _recall(client, "mt", "a", queries[:5], vectors, tenants) == 1.0  # exact now
        http.patch("/collections/mt", json={"hnsw_config": {"payload_m": 16}}).raise_for_status()
        deadline = time.monotonic() + 60
        while http.get("/collections/mt").json()["result"]["indexed_vectors_count"] < big - 200 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http.get("/collections/mt").json()["result"]["indexed_vectors_count"] >= big - 200
    finally:
        server.stop()


def test_enable_hnsw_false_builds_no_tenant_graphs(tmp_path: Path) -> None:
    """`enable_hnsw: false` builds none; the index made again without it, after the
    upload, gets its graphs from the optimizer."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        _create(http, "off", HNSW, {"type": "keyword", "is_tenant": True, "enable_hnsw": False})
        info = _wait_green(http, "off")
        assert info["indexed_vectors_count"] == 0, info
        vectors, tenants = _data()
        queries = np.random.default_rng(8).normal(size=(5, DIM)).astype(np.float32)
        assert _recall(client, "off", "b", queries, vectors, tenants) == 1.0  # scored exactly
        # the index made again with graphs, after the upload: the optimizer builds them
        http.delete("/collections/off/index/tenant", params={"wait": "true"}).raise_for_status()
        http.put("/collections/off/index", params={"wait": "true"}, json={
            "field_name": "tenant", "field_schema": {"type": "keyword", "is_tenant": True},
        }).raise_for_status()
        big = sum(count for t, count in TENANTS.items() if t != "tiny")
        deadline = time.monotonic() + 60
        while http.get("/collections/off").json()["result"]["indexed_vectors_count"] < big - 200 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _wait_green(http, "off")["indexed_vectors_count"] >= big - 200
        assert _recall(client, "off", "b", queries, vectors, tenants) >= 0.95
    finally:
        server.stop()


def test_value_graphs_beside_a_main_graph(tmp_path: Path) -> None:
    """With `m > 0` (payload_m unset: m is used) values between full_scan_threshold and
    4 / links of a segment get graphs too; filtered searches keep their recall."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        _create(http, "both", {"m": 16, "ef_construct": 100, "full_scan_threshold": 10},
                {"type": "keyword"})
        info = _wait_green(http, "both")
        assert info["indexed_vectors_count"] == info["points_count"], info
        built = [int(n) for n in re.findall(r"\((\d+) payload graphs\)",
                                             server.logs(tail=None))]
        assert built and max(built) >= 10, built  # every tenant got one in some segment
        vectors, tenants = _data()
        queries = np.random.default_rng(9).normal(size=(20, DIM)).astype(np.float32)
        for tenant in ("b", "d"):
            assert _recall(client, "both", tenant, queries, vectors, tenants) >= 0.95
    finally:
        server.stop()


def test_integer_tenants_across_shards_with_more_conditions(tmp_path: Path) -> None:
    """Integer tenant ids (an integer index: `is_tenant` is for keyword and uuid ones) over
    two shards; a filter requiring the tenant and a range on another field walks the
    tenant's graph with the whole filter as allow-list."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        vectors, tenants = _data()
        http.put("/collections/ints", json={
            "vectors": {"size": DIM, "distance": "Cosine"}, "shard_number": 2,
            "hnsw_config": {**HNSW, "payload_m": 8},
            "optimizers_config": {"indexing_threshold": 100, "default_segment_number": 1},
        }).raise_for_status()
        http.put("/collections/ints/index", params={"wait": "true"}, json={
            "field_name": "tenant", "field_schema": {"type": "integer"},
        }).raise_for_status()
        number = {t: i for i, t in enumerate(TENANTS)}
        for chunk in np.array_split(np.arange(len(tenants)), 6):
            http.put("/collections/ints/points", params={"wait": "true"}, json={"points": [
                {"id": int(i), "vector": vectors[i].tolist(),
                 "payload": {"tenant": number[tenants[i]], "rank": int(i % 10)}}
                for i in chunk]}).raise_for_status()
        info = _wait_green(http, "ints", segments=4)  # per shard: one merged, one appendable
        big = sum(count for t, count in TENANTS.items() if t != "tiny")
        assert big - 200 <= info["indexed_vectors_count"] <= big, info
        members = np.array([i for i, t in enumerate(tenants) if t == "e" and i % 10 < 8])
        normed = vectors[members] / np.linalg.norm(vectors[members], axis=1, keepdims=True)
        flt = models.Filter(must=[
            models.FieldCondition(key="tenant", match=models.MatchValue(value=number["e"])),
            models.FieldCondition(key="rank", range=models.Range(lt=8))])
        hits = 0
        for q in np.random.default_rng(11).normal(size=(20, DIM)).astype(np.float32):
            found = client.query_points("ints", query=q.tolist(), query_filter=flt, limit=10,
                                        with_payload=True).points
            assert all(p.payload["tenant"] == number["e"] and p.payload["rank"] < 8
                       for p in found)
            truth = members[np.argsort(-(normed @ (q / np.linalg.norm(q))))[:10]]
            hits += len(set(truth.tolist()) & {p.id for p in found})
        assert hits / 200 >= 0.95
    finally:
        server.stop()


def _mapped_payload_graphs(pid: int) -> int:
    """How many payload graphs' code files the process has memory-mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return len({line.split()[-1] for line in maps if "/payload_graphs/" in line
                and line.endswith("/hnsw.faiss")})


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_tenant_graphs_on_disk_are_memory_mapped(tmp_path: Path) -> None:
    """HNSW `on_disk` maps the tenant graphs' codes from their saved files, as the main
    graph's: after the build, after kill -9 and restart; a PATCH turning it off reads them
    back; answers stay the same."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        client = QdrantClient(url=server.url, timeout=60)
        _create(http, "od", {**HNSW, "on_disk": True}, {"type": "keyword", "is_tenant": True})
        _wait_green(http, "od")
        deadline = time.monotonic() + 30
        while _mapped_payload_graphs(server.proc.pid) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)  # mapped from the flush that follows the build
        mapped = _mapped_payload_graphs(server.proc.pid)
        assert mapped >= 10, mapped  # every big tenant has a graph in some segment
        vectors, _tenants = _data()
        query = vectors[3].tolist()
        before = client.query_points("od", query=query, limit=10,
                                     query_filter=_tenant_filter("b")).points
        server.restart(kill=True)
        client = QdrantClient(url=server.url, timeout=60)
        http = checked_client(server.url, timeout=60)
        assert _mapped_payload_graphs(server.proc.pid) == mapped
        assert client.query_points("od", query=query, limit=10,
                                   query_filter=_tenant_filter("b")).points == before
        http.patch("/collections/od", json={"hnsw_config": {"on_disk": False}},
                   ).raise_for_status()
        assert _mapped_payload_graphs(server.proc.pid) == 0
        assert client.query_points("od", query=query, limit=10,
                                   query_filter=_tenant_filter("b")).points == before
    finally:
        server.stop()
