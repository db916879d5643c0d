"""kill -9 during snapshot creation and during recovery, then restart: the old state is intact.

Creation: after the kill no half-written snapshot is listed, every listed one is whole
(its sha256 matches its `.checksum`), and the collection has every acknowledged point.
Recovery: the collection is entirely the old one or entirely the snapshot's, never a mix
or missing, and no staging directory is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.server_process import ServerProcess

DIM = 64
ROUNDS = 6


def _fill(url: str, name: str, count: int, tag: str) -> None:
    http = httpx.Client(base_url=url, timeout=120)
    resp = http.put(f"/collections/{name}", json={"vectors": {"size": DIM, "distance": "Dot"},
                                                  "shard_number": 2})
    assert resp.status_code == 200, resp.text
    rng = np.random.default_rng(len(tag))
    for start in range(0, count, 2000):
        ids = list(range(start, min(start + 2000, count)))
        vectors = rng.random((len(ids), DIM), dtype=np.float32).round(3).tolist()
        resp = http.put(f"/collections/{name}/points", params={"wait": "true"}, json={
            "points": [{"id": i, "vector": v, "payload": {"tag": tag}}
                       for i, v in zip(ids, vectors, strict=True)]})
        assert resp.status_code == 200, resp.text


def _census(url: str, name: str) -> tuple[int, set[str]]:
    http = httpx.Client(base_url=url, timeout=60)
    count = http.post(f"/collections/{name}/points/count", json={"exact": True}).json()[
        "result"]["count"]
    tags = set()
    for tag in ("old", "new"):
        n = http.post(f"/collections/{name}/points/count", json={"exact": True, "filter": {
            "must": [{"key": "tag", "match": {"value": tag}}]}}).json()["result"]["count"]
        if n:
            tags.add(f"{tag}:{n}")
    return count, tags


def _kill_during(server: ServerProcess, request: httpx.Request, delay: float) -> None:
    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.Client(timeout=120).send(request)

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(delay)
    server.kill9()
    thread.join(timeout=30)


def _whole(path: Path) -> bool:
    side = path.with_name(path.name + ".checksum")
    return side.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == \
        side.read_text().strip()


@pytest.mark.timeout(600)
def test_kill9_during_snapshot_creation(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    rng = random.Random(5)
    try:
        _fill(server.url, "c", 60_000, "old")
        directory = tmp_path / "snapshots" / "c"
        for _ in range(ROUNDS):
            _kill_during(server, httpx.Request("POST", f"{server.url}/collections/c/snapshots"),
                         rng.uniform(0.05, 0.8))
            server.start()
            assert _census(server.url, "c") == (60_000, {"old:60000"})
            listed = httpx.get(f"{server.url}/collections/c/snapshots").json()["result"]
            on_disk = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
            assert all(not name.startswith(".") for name in on_disk), on_disk
            for snap in listed:
                assert _whole(directory / snap["name"]), snap
        assert listed, "no snapshot finished in any round; the kills came too early"
        # a snapshot that survived the kills recovers
        location = (directory / listed[-1]["name"]).as_uri()
        resp = httpx.put(f"{server.url}/collections/copy/snapshots/recover",
                         json={"location": location}, timeout=120)
        assert resp.status_code == 200, resp.text
        assert _census(server.url, "copy") == (60_000, {"old:60000"})
    finally:
        server.stop()


@pytest.mark.timeout(600)
def test_kill9_during_recovery(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    rng = random.Random(11)
    try:
        _fill(server.url, "src", 80_000, "new")
        snap = httpx.post(f"{server.url}/collections/src/snapshots", timeout=120).json()[
            "result"]
        location = (tmp_path / "snapshots" / "src" / snap["name"]).as_uri()
        _fill(server.url, "c", 5_000, "old")
        outcomes = set()
        for _ in range(ROUNDS):
            request = httpx.Request("PUT", f"{server.url}/collections/c/snapshots/recover",
                                    json={"location": location})
            _kill_during(server, request, rng.uniform(0.05, 1.5))
            server.start()
            outcome = _census(server.url, "c")
            assert outcome in ((5_000, {"old:5000"}), (80_000, {"new:80000"})), outcome
            outcomes.add(outcome[0])
            leftovers = [p.name for p in (tmp_path / "storage" / "collections").iterdir()
                         if p.name.startswith(".")]
            assert leftovers == []
            if outcome[0] == 80_000:  # back to the old state for the next round
                httpx.delete(f"{server.url}/collections/c").raise_for_status()
                _fill(server.url, "c", 5_000, "old")
        # the collection takes writes after all that
        resp = httpx.put(f"{server.url}/collections/c/points", params={"wait": "true"},
                         json={"points": [{"id": 10**6, "vector": [0.5] * DIM}]})
        assert resp.status_code == 200
        # (on this machine the kills land both before and after the swap: outcomes holds
        # both counts; timing-dependent, so only reported)
        print("recovery outcomes after kill -9:", sorted(outcomes))
    finally:
        server.stop()
