"""Quantization, on-disk vectors and turbo datatypes as a user sees them over REST."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.openapi_check import checked_client
from tests.server_process import ServerProcess

DIM = 32
N = 2000


def _wait_indexed(http: httpx.Client, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    info: dict = {}
    while time.monotonic() < deadline:
        info = http.get(f"/collections/{name}").json()["result"]
        if info["status"] == "green" and info["indexed_vectors_count"] == info["points_count"]:
            return info
        time.sleep(0.2)
    raise AssertionError(f"collection never finished indexing: {info}")


def _create_filled(http: httpx.Client, name: str, vectors_config: dict, seed: int,
                   **extra: object) -> np.ndarray:
    """A collection whose graphs get built and searched even at this size, with N random
    vectors upserted; returns them."""
    http.put(f"/collections/{name}", json={
        "vectors": vectors_config,
        "optimizers_config": {"indexing_threshold": 10, "default_segment_number": 1},
        "hnsw_config": {"full_scan_threshold": 1}, **extra}).raise_for_status()
    vectors = np.random.default_rng(seed).normal(size=(N, DIM)).astype(np.float32)
    _fill(http, name, vectors)
    return vectors


def _fill(http: httpx.Client, name: str, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), 1000):
        points = [{"id": i, "vector": vectors[i].tolist()}
                  for i in range(start, min(start + 1000, len(vectors)))]
        http.put(f"/collections/{name}/points", params={"wait": "true"},
                 json={"points": points}).raise_for_status()


def _search(http: httpx.Client, name: str, query: list[float], **params) -> list[dict]:
    resp = http.post(f"/collections/{name}/points/search", json={
        "vector": query, "limit": 10, "params": {"hnsw_ef": 128, **params}})
    assert resp.status_code == 200, resp.text
    return resp.json()["result"]


def _exact_cosine(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit @ (query / np.linalg.norm(query))


def test_server_defaults_and_on_disk_vectors_are_memory_mapped(tmp_path: Path) -> None:
    """`storage.collection.quantization` and `vectors.on_disk` apply to new collections; the
    sealed segment's vectors are then read through a memory map, before and after restart."""
    server = ServerProcess(tmp_path / "storage", env={
        "QDRANT__STORAGE__COLLECTION__QUANTIZATION": '{"binary": {"always_ram": true}}',
        "QDRANT__STORAGE__COLLECTION__VECTORS__ON_DISK": "true"}).start()
    try:
        http = checked_client(server.url, timeout=60)
        vectors = _create_filled(http, "d", {"size": DIM, "distance": "Cosine"}, seed=1)
        info = _wait_indexed(http, "d")
        assert info["config"]["quantization_config"] == {
            "binary": {"always_ram": True}} or info["config"]["quantization_config"][
            "binary"]["always_ram"] is True
        assert info["config"]["params"]["vectors"]["on_disk"] is True
        for restart in (False, True):
            if restart:
                server.restart()
                http = checked_client(server.url, timeout=60)
                assert http.get("/collections/d").json()["result"]["status"] == "green"
            deadline = time.monotonic() + 15  # the next flush maps the sealed segment's file
            while "dense.npy" not in Path(f"/proc/{server.proc.pid}/maps").read_text():
                assert time.monotonic() < deadline, "sealed on_disk vectors are not mapped"
                time.sleep(0.2)
            query = vectors[7] + 0.01
            got = _search(http, "d", query.tolist(),
                          quantization={"rescore": True, "oversampling": 4.0})
            exact = _exact_cosine(vectors, query)
            assert got[0]["id"] == 7
            assert [h["score"] for h in got] == pytest.approx(
                exact[[h["id"] for h in got]].tolist(), abs=1e-5)
    finally:
        server.stop()


def test_rescore_false_returns_code_scores_and_patch_reindexes(tmp_path: Path) -> None:
    """Without rescoring, scores come from the codes (not exact); changing the quantization
    with PATCH re-indexes (a `config_mismatch` optimization) and changes those scores."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        vectors = _create_filled(http, "q", {"size": DIM, "distance": "Cosine"}, seed=2,
                                 quantization_config={"binary": {"encoding": "two_bits"}})
        _wait_indexed(http, "q")
        query = vectors[3] + 0.05
        exact = _exact_cosine(vectors, query)
        rescored = _search(http, "q", query.tolist(), quantization={"oversampling": 3.0})
        assert [h["score"] for h in rescored] == pytest.approx(
            exact[[h["id"] for h in rescored]].tolist(), abs=1e-5)
        binary = _search(http, "q", query.tolist(), quantization={"rescore": False})
        assert len(binary) == 10
        errors = [abs(h["score"] - exact[h["id"]]) for h in binary]
        assert max(errors) > 1e-3, "rescore=false must return the codes' approximate scores"

        http.patch("/collections/q", json={
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99}},
        }).raise_for_status()
        _wait_indexed(http, "q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            report = http.get("/collections/q/optimizations",
                              params={"with": "completed"}).json()["result"]
            if any(c["optimizer"] == "config_mismatch" for c in report.get("completed", [])):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no re-index after PATCH: {report}")
        scalar = _search(http, "q", query.tolist(), quantization={"rescore": False})
        scalar_errors = [abs(h["score"] - exact[h["id"]]) for h in scalar]
        assert max(scalar_errors) < max(errors)  # int8 codes are closer than two bits
    finally:
        server.stop()


@pytest.mark.parametrize("datatype,tolerance", [("turbo4", 0.25), ("turbo8", 0.02),
                                                ("turbo16", 1e-3)])
def test_turbo_datatypes_store_codes_and_search(tmp_path: Path, datatype: str,
                                                tolerance: float) -> None:
    """turbo4/8/16 keep only codes: vectors read back approximately, search finds the
    nearest points before and after the graph is built, and after a restart."""
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = checked_client(server.url, timeout=60)
        vectors = _create_filled(http, "t", {"size": DIM, "distance": "Euclid",
                                             "datatype": datatype}, seed=3)
        for phase in ("indexed", "restarted"):
            if phase == "restarted":
                server.restart()
                http = checked_client(server.url, timeout=60)
            _wait_indexed(http, "t")
            point = http.get("/collections/t/points/11").json()["result"]
            stored = np.array(point["vector"], dtype=np.float32)
            assert np.abs(stored - vectors[11]).max() < tolerance * np.abs(vectors[11]).max()
            got = _search(http, "t", (vectors[11] + 0.001).tolist())
            assert got[0]["id"] == 11
            truth = np.argsort(np.linalg.norm(vectors - vectors[11], axis=1))[:10]
            assert len({h["id"] for h in got} & set(truth.tolist())) >= 8
    finally:
        server.stop()
