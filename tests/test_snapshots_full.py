"""Full storage snapshots: every collection and alias in one archive, recovered at start-up
with `--storage-snapshot` (and collection snapshots with `--snapshot PATH:NAME`), as Qdrant
recovers them."""

from __future__ import annotations

from pathlib import Path

import httpx
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess
from tests.test_snapshots import download, everything, fill_rich, sha256, state


def _keyed(client: QdrantClient, name: str) -> None:
    client.create_collection(name, vectors_config=models.VectorParams(size=4, distance="Dot"),
                             sharding_method=models.ShardingMethod.CUSTOM)
    for key in ("x", 7):
        client.create_shard_key(name, key)
        client.upsert(name, [models.PointStruct(id=j + (0 if key == "x" else 100),
                                                vector=[j, 1, 2, 3], payload={"key": key})
                             for j in range(25)], shard_key_selector=key)


def _storage(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return base / "storage"


def _aliases(client: QdrantClient) -> set[tuple[str, str]]:
    return {(a.alias_name, a.collection_name) for a in client.get_aliases().aliases}


def test_full_snapshot_round_trip(tmp_path: Path) -> None:
    first = ServerProcess(_storage(tmp_path / "one")).start()
    try:
        client = QdrantClient(url=first.url, timeout=60)
        fill_rich(client, "rich", count=150)
        _keyed(client, "keyed")
        client.create_collection("empty", vectors_config=models.VectorParams(size=2,
                                                                              distance="Dot"))
        client.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="rich", alias_name="rich_alias")),
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="keyed", alias_name="keyed_alias")),
        ])
        before = {"rich": state(client, "rich"), "keyed": everything(client, "keyed"),
                  "aliases": _aliases(client)}
        snap = client.create_full_snapshot()
        assert snap is not None and snap.name.startswith("full-snapshot-")
        listed = client.list_full_snapshots()
        assert [(s.name, s.checksum) for s in listed] == [(snap.name, snap.checksum)]
        archive = download(first.url, f"/snapshots/{snap.name}", tmp_path / "full.snapshot")
        assert sha256(archive) == snap.checksum
        # the full snapshot directory is not mixed up with collection snapshot directories
        assert client.list_snapshots("rich") == []
    finally:
        first.stop()

    second = ServerProcess(_storage(tmp_path / "two"),
                           args=["--storage-snapshot", str(archive)]).start()
    try:
        client = QdrantClient(url=second.url, timeout=60)
        assert sorted(c.name for c in client.get_collections().collections) == \
            ["empty", "keyed", "rich"]
        assert state(client, "rich") == before["rich"]
        assert everything(client, "keyed") == before["keyed"]
        assert _aliases(client) == before["aliases"]
        assert client.count("keyed", shard_key_selector=7).count == 25
        assert client.count("rich_alias").count == before["rich"]["count"]
    finally:
        second.stop()

    # over existing storage: refused without --force-snapshot, replaces with it
    refused = ServerProcess(_storage(tmp_path / "two"),
                            args=["--storage-snapshot", str(archive)])
    try:
        refused.start(timeout=20)
        raise AssertionError("start-up should have been refused")
    except RuntimeError as exc:
        assert "--force-snapshot" in str(exc)
    forced = ServerProcess(_storage(tmp_path / "two"),
                           args=["--storage-snapshot", str(archive), "--force-snapshot"]).start()
    try:
        client = QdrantClient(url=forced.url, timeout=60)
        assert state(client, "rich") == before["rich"]
    finally:
        forced.stop()


def test_full_snapshot_list_get_delete(server: ServerProcess, client: QdrantClient,
                                       collection_name: str, tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=20)
    snap = client.create_full_snapshot()
    assert snap is not None
    assert snap.name in [s.name for s in client.list_full_snapshots()]
    resp = httpx.get(f"{server.url}/qdrant/snapshots/{snap.name}")
    assert resp.status_code == 200 and len(resp.content) == snap.size
    assert client.delete_full_snapshot(snap.name) is True
    assert snap.name not in [s.name for s in client.list_full_snapshots()]
    assert httpx.get(f"{server.url}/snapshots/{snap.name}").status_code == 404
    assert httpx.delete(f"{server.url}/snapshots/{snap.name}").status_code == 404
    # a full snapshot is not a collection snapshot
    second = client.create_full_snapshot()
    assert second is not None
    location = (server.storage.parent / "snapshots" / second.name).as_uri()
    resp = httpx.put(f"{server.url}/collections/{collection_name}/snapshots/recover",
                     json={"location": location})
    assert resp.status_code == 400
    assert "not a collection snapshot" in resp.json()["status"]["error"]
    client.delete_full_snapshot(second.name)


def test_collection_snapshot_at_startup(tmp_path: Path) -> None:
    first = ServerProcess(_storage(tmp_path / "one")).start()
    try:
        client = QdrantClient(url=first.url, timeout=60)
        fill_rich(client, "src", count=60)
        before = state(client, "src")
        snap = client.create_snapshot("src")
        assert snap is not None
        archive = download(first.url, f"/collections/src/snapshots/{snap.name}",
                           tmp_path / "src.snapshot")
    finally:
        first.stop()
    second = ServerProcess(_storage(tmp_path / "two"),
                           args=["--snapshot", f"{archive}:restored"]).start()
    try:
        client = QdrantClient(url=second.url, timeout=60)
        assert state(client, "restored") == before
    finally:
        second.stop()
