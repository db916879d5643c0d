"""Shard snapshots: create/list/download/delete, the streamed `GET …/shards/{id}/snapshot`,
recovery by name, `file://`, URL and upload into a live collection, and refusals
(wrong collection, unknown shard)."""

from __future__ import annotations

from pathlib import Path

import httpx
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess
from tests.test_snapshots import download, fill_rich, sha256, state, upload


def test_shard_snapshot_lifecycle(server: ServerProcess, client: QdrantClient,
                                  collection_name: str, tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=100)
    snap = client.create_shard_snapshot(collection_name, 1)
    assert snap is not None
    assert snap.name.startswith(f"{collection_name}-shard-1-")
    assert [s.name for s in client.list_shard_snapshots(collection_name, 1)] == [snap.name]
    assert client.list_shard_snapshots(collection_name, 0) == []
    assert client.list_snapshots(collection_name) == []
    on_disk = (server.storage.parent / "snapshots" / collection_name / "shards" / "1" /
               snap.name)
    assert on_disk.is_file()
    got = download(server.url, f"/collections/{collection_name}/shards/1/snapshots/{snap.name}",
                   tmp_path / "s.snapshot")
    assert sha256(got) == snap.checksum
    assert client.delete_shard_snapshot(collection_name, 1, snap.name) is True
    assert client.list_shard_snapshots(collection_name, 1) == []
    base = f"{server.url}/collections/{collection_name}/shards"
    assert httpx.get(f"{base}/9/snapshots").status_code == 404
    assert httpx.post(f"{base}/9/snapshots").status_code == 404
    assert httpx.get(f"{base}/9/snapshot").status_code == 404
    assert httpx.get(f"{base}/abc/snapshots").status_code == 400


def test_shard_round_trips(server: ServerProcess, client: QdrantClient, collection_name: str,
                           tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=200)
    before = state(client, collection_name)
    snap = client.create_shard_snapshot(collection_name, 0)
    assert snap is not None
    streamed = download(server.url, f"/collections/{collection_name}/shards/0/snapshot",
                        tmp_path / "streamed.snapshot")
    all_ids = list(before["points"])
    # wreck shard 0's points (and some of shard 1's, which must stay wrecked)
    client.delete(collection_name, models.PointIdsList(points=all_ids[:120]))
    after_delete = client.count(collection_name).count

    assert client.recover_shard_snapshot(collection_name, 0, snap.name) is True  # by name
    restored_once = client.count(collection_name).count
    assert restored_once > after_delete
    # shard 1 is untouched by a shard 0 recovery: recovering shard 1's deletion back needs its
    # own snapshot; points of shard 0 are all back
    client.delete(collection_name, models.PointIdsList(points=all_ids[:120]))
    resp = upload(server.url, f"/collections/{collection_name}/shards/0/snapshots/upload",
                  streamed, checksum=sha256(streamed))
    assert resp.status_code == 200, resp.text
    assert client.count(collection_name).count == restored_once


def test_both_shards_back_give_the_same_collection(
        server: ServerProcess, client: QdrantClient, collection_name: str,
        tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=150)
    before = state(client, collection_name)
    archives = {}
    for shard_id in (0, 1):
        snap = client.create_shard_snapshot(collection_name, shard_id)
        assert snap is not None
        archives[shard_id] = download(
            server.url, f"/collections/{collection_name}/shards/{shard_id}/snapshots/{snap.name}",
            tmp_path / f"{shard_id}.snapshot")
    client.delete_collection(collection_name)
    fill_rich(client, collection_name, count=0)
    for shard_id, archive in archives.items():
        location = archive.as_uri() if shard_id == 0 else None
        if location is not None:  # file:// outside the snapshots directory is refused ...
            resp = httpx.put(f"{server.url}/collections/{collection_name}/shards/0/snapshots/"
                             "recover", json={"location": location})
            assert resp.status_code == 403
        resp = upload(server.url,  # ... an upload is fine
                      f"/collections/{collection_name}/shards/{shard_id}/snapshots/upload",
                      archive)
        assert resp.status_code == 200, resp.text
    assert state(client, collection_name) == before


def test_shard_snapshot_into_the_wrong_collection_is_refused(
        server: ServerProcess, client: QdrantClient, collection_name: str,
        tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=20)
    snap = client.create_shard_snapshot(collection_name, 0)
    assert snap is not None
    archive = download(server.url,
                       f"/collections/{collection_name}/shards/0/snapshots/{snap.name}",
                       tmp_path / "x.snapshot")
    other = f"{collection_name}_other"
    client.create_collection(other, vectors_config=models.VectorParams(size=8, distance="Dot"))
    client.upsert(other, [models.PointStruct(id=1, vector=[1.0] * 8)])
    resp = upload(server.url, f"/collections/{other}/shards/0/snapshots/upload", archive)
    assert resp.status_code == 400
    assert "not compatible" in resp.json()["status"]["error"]
    assert client.count(other).count == 1
    # a collection snapshot is not a shard snapshot, and the other way round
    col_snap = client.create_snapshot(collection_name)
    assert col_snap is not None
    col_archive = download(server.url,
                           f"/collections/{collection_name}/snapshots/{col_snap.name}",
                           tmp_path / "c.snapshot")
    resp = upload(server.url, f"/collections/{collection_name}/shards/0/snapshots/upload",
                  col_archive)
    assert resp.status_code == 400 and "not a shard snapshot" in resp.text
    resp = upload(server.url, f"/collections/{collection_name}/snapshots/upload", archive)
    assert resp.status_code == 400 and "not a collection snapshot" in resp.text
