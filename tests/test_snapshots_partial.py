"""Partial shard snapshots: a replica brought up to date with only the segments it lacks.

A replica collection is seeded from the source's shard snapshot (so it shares the source's
immutable segment directories); the source then changes; the replica's manifest goes to the
source's `partial/create`, and the archive that comes back, smaller than a full shard
snapshot, is applied with `partial/recover`.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import httpx
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess
from tests.test_snapshots import download, everything, upload

CONFIG = {"vectors": {"size": 16, "distance": "Euclid"},
          # seal a segment every ~300 points, never merge them
          "optimizers_config": {"indexing_threshold": 20, "default_segment_number": 64}}


def _settled(url: str, name: str) -> None:
    """Wait until the optimizer is done (it rewrites segments it indexes)."""
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/collections/{name}").json()["result"]["status"] != "green":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _create(url: str, name: str) -> None:
    httpx.put(f"{url}/collections/{name}", json=CONFIG).raise_for_status()


def _points(client: QdrantClient, name: str, ids: range) -> None:
    client.upsert(name, [models.PointStruct(id=i, vector=[float(i % 97)] * 16,
                                            payload={"i": i}) for i in ids])


def test_partial_snapshot_brings_a_replica_up_to_date(
        server: ServerProcess, client: QdrantClient, collection_name: str,
        tmp_path: Path) -> None:
    source, replica = collection_name, f"{collection_name}_replica"
    base = server.url
    _create(base, source)
    for start in range(0, 3000, 300):
        _points(client, source, range(start, start + 300))
    _settled(base, source)
    full = download(base, f"/collections/{source}/shards/0/snapshot", tmp_path / "full.tar")
    _create(base, replica)
    assert upload(base, f"/collections/{replica}/shards/0/snapshots/upload",
                  full).status_code == 200
    assert everything(client, replica) == everything(client, source)

    # the source moves on: new points, changed payloads, deletions
    _points(client, source, range(3000, 3400))
    client.set_payload(source, {"changed": True}, points=[3100, 3200])
    client.delete(source, models.PointIdsList(points=[3001, 3002]))
    _settled(base, source)

    manifest = httpx.get(f"{base}/collections/{replica}/shards/0/snapshot/partial/manifest"
                         ).json()["result"]
    assert manifest and all(set(seg) >= {"segment_id", "file_versions"}
                            for seg in manifest.values())
    resp = httpx.post(f"{base}/collections/{source}/shards/0/snapshot/partial/create",
                      json=manifest, timeout=60)
    assert resp.status_code == 200
    partial = tmp_path / "partial.tar"
    partial.write_bytes(resp.content)
    assert partial.stat().st_size < full.stat().st_size / 2
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        sent = {m.name.split("/")[2] for m in tar if m.name.startswith("shard/segments/")}
    assert sent and not sent & set(manifest)  # only segments the replica lacks

    resp = upload(base, f"/collections/{replica}/shards/0/snapshot/partial/recover", partial)
    assert resp.status_code == 200, resp.text
    assert everything(client, replica) == everything(client, source)
    assert client.retrieve(replica, [3100])[0].payload == {"i": 3100, "changed": True}
    # the replica takes writes afterwards
    _points(client, replica, range(9000, 9010))
    assert client.count(replica).count == client.count(source).count + 10


def test_partial_snapshot_edge_cases(server: ServerProcess, client: QdrantClient,
                                     collection_name: str, tmp_path: Path) -> None:
    base = server.url
    _create(base, collection_name)
    _points(client, collection_name, range(500))
    _settled(base, collection_name)
    manifest = httpx.get(f"{base}/collections/{collection_name}/shards/0/snapshot/partial/"
                         "manifest").json()["result"]
    # nothing differs: 304, as Qdrant answers an empty partial snapshot
    resp = httpx.post(f"{base}/collections/{collection_name}/shards/0/snapshot/partial/create",
                      json=manifest)
    assert resp.status_code == 304
    # a partial snapshot needing segments this shard never had is refused
    other = f"{collection_name}_fresh"
    _create(base, other)
    resp = httpx.post(f"{base}/collections/{collection_name}/shards/0/snapshot/partial/create",
                      json={"not-a-segment-we-have": {"segment_id": "x", "file_versions": {}}})
    assert resp.status_code == 200
    partial = tmp_path / "p.tar"
    partial.write_bytes(resp.content)
    # (everything is in it, so it applies anywhere compatible)
    assert upload(base, f"/collections/{other}/shards/0/snapshot/partial/recover",
                  partial).status_code == 200
    assert client.count(other).count == 500
    resp = httpx.post(f"{base}/collections/{collection_name}/shards/0/snapshot/partial/create",
                      json=["bad"])
    assert resp.status_code == 400
    resp = httpx.get(f"{base}/collections/{collection_name}/shards/5/snapshot/partial/manifest")
    assert resp.status_code == 404
