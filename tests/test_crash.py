"""kill -9 during concurrent acknowledged writes, restart, and check nothing acknowledged is lost.

Each writer thread upserts batches of points, sets payloads on what it wrote
and deletes some of it, all with `wait=true`.  After the kill the server must
hold every acknowledged effect, and an unacknowledged batch must be either
fully applied or not at all.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.server_process import ServerProcess
from vectorizer.collection.routing import shard_for

ROUNDS = 20
WRITERS = 4
BATCH = 8
DIM = 8
SHARDS = 2


def _vector(pid: int) -> list[float]:
    rng = np.random.default_rng(pid)
    return rng.random(DIM).astype(np.float32).tolist()


class Ledger:
    """What the writers know was acknowledged, and what was in flight at the kill."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.upserted: dict[int, dict] = {}  # pid -> payload acknowledged
        self.deleted: set[int] = set()
        self.delete_sent: set[int] = set()  # deletes sent; applied or not if unacknowledged
        self.flagged: dict[int, int] = {}
        self.inflight_batches: list[list[int]] = []


def _writer(url: str, wid: int, round_no: int, stop: threading.Event, ledger: Ledger) -> None:
    http = httpx.Client(base_url=url, timeout=10)
    k = 0
    base = (round_no * WRITERS + wid) * 1_000_000
    while not stop.is_set():
        ids = [base + k + j for j in range(BATCH)]
        body = {"points": [{"id": pid, "vector": _vector(pid),
                            "payload": {"w": wid, "k": pid, "r": round_no}} for pid in ids]}
        with ledger.lock:
            ledger.inflight_batches.append(ids)
        try:
            resp = http.put("/collections/crash/points", params={"wait": "true"}, json=body)
        except httpx.HTTPError:
            return
        if resp.status_code != 200:
            return
        with ledger.lock:
            ledger.inflight_batches.remove(ids)
            for pid, point in zip(ids, body["points"], strict=True):
                ledger.upserted[pid] = point["payload"]
        try:
            resp = http.post("/collections/crash/points/payload", params={"wait": "true"},
                             json={"payload": {"flag": k}, "points": ids[:2]})
            if resp.status_code == 200:
                with ledger.lock:
                    for pid in ids[:2]:
                        ledger.flagged[pid] = k
            with ledger.lock:
                ledger.delete_sent.add(ids[-1])
            resp = http.post("/collections/crash/points/delete", params={"wait": "true"},
                             json={"points": [ids[-1]]})
            if resp.status_code == 200:
                with ledger.lock:
                    ledger.deleted.add(ids[-1])
        except httpx.HTTPError:
            return
        k += BATCH


def _verify(url: str, ledger: Ledger) -> int:
    http = httpx.Client(base_url=url, timeout=30)
    wanted = sorted(ledger.upserted)
    found: dict[int, dict] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        resp = http.post("/collections/crash/points",
                         json={"ids": chunk, "with_payload": True, "with_vector": True})
        assert resp.status_code == 200, resp.text
        for rec in resp.json()["result"]:
            found[rec["id"]] = rec
    for pid in wanted:
        if pid in ledger.deleted:
            assert pid not in found, f"acknowledged delete of {pid} lost"
            continue
        if pid in ledger.delete_sent and pid not in found:
            continue  # its delete was in flight at the kill and got applied
        assert pid in found, f"acknowledged upsert of {pid} lost"
        rec = found[pid]
        expected = dict(ledger.upserted[pid])
        for key, value in expected.items():
            assert rec["payload"][key] == value
        if pid in ledger.flagged:
            assert rec["payload"].get("flag") == ledger.flagged[pid], f"set_payload {pid} lost"
        assert np.allclose(rec["vector"], _vector(pid), atol=1e-6)
    for ids in ledger.inflight_batches:
        # Each shard logs its part of a batch atomically (as in Qdrant, shards keep
        # separate WALs): per shard, an unacknowledged part is all there or absent.
        by_shard: dict[int, list[int]] = {}
        for pid in ids:
            by_shard.setdefault(shard_for(pid, list(range(SHARDS))), []).append(pid)
        for part in by_shard.values():
            resp = http.post("/collections/crash/points", json={"ids": part,
                                                                 "with_payload": False})
            present = len(resp.json()["result"])
            assert present in (0, len(part)), f"unacknowledged part half-applied: {present}"
    return len(wanted)


@pytest.mark.timeout(600)
def test_kill9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage",
                           env={"QDRANT__STORAGE__OPTIMIZERS__FLUSH_INTERVAL_SEC": "1"})
    server.start()
    httpx.put(f"{server.url}/collections/crash",
              json={"vectors": {"size": DIM, "distance": "Euclid"}, "shard_number": SHARDS,
                    # seal segments every ~320 points: the optimizer runs during the kills
                    "optimizers_config": {"indexing_threshold": 10}},
              ).raise_for_status()
    ledger = Ledger()
    rng = random.Random(1234)
    total_checked = 0
    try:
        for round_no in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=_writer,
                                        args=(server.url, w, round_no, stop, ledger))
                       for w in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.1, 0.6))
            server.kill9()
            stop.set()
            for t in threads:
                t.join(timeout=15)
            server.start()
            total_checked = _verify(server.url, ledger)
            segments = httpx.get(f"{server.url}/collections/crash").json()["result"][
                "segments_count"]
            with ledger.lock:
                ledger.inflight_batches.clear()
    finally:
        server.stop()
    assert total_checked > ROUNDS * WRITERS  # the writers really wrote
    assert segments > 2 * SHARDS  # segments were sealed (and indexed) along the way
