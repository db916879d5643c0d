"""State after restart: collections, shard keys, aliases, payload indexes, points, vectors."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess


def _fill(client: QdrantClient) -> None:
    client.create_collection(
        "tenants",
        vectors_config={"img": models.VectorParams(size=3, distance=models.Distance.EUCLID,
                                                   datatype=models.Datatype.FLOAT16),
                        "txt": models.VectorParams(size=2, distance=models.Distance.COSINE)},
        sparse_vectors_config={"bm": models.SparseVectorParams()},
        sharding_method=models.ShardingMethod.CUSTOM,
    )
    client.create_shard_key("tenants", "eu")
    client.create_shard_key("tenants", "us", shards_number=2)
    client.create_payload_index("tenants", "city", models.PayloadSchemaType.KEYWORD)
    client.update_collection_aliases([models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name="tenants", alias_name="people"))])
    for key, base in (("eu", 0), ("us", 100)):
        client.upsert("tenants", [
            models.PointStruct(
                id=base + i,
                vector={"img": [i, i + 0.5, -i], "txt": [1, i],
                        "bm": models.SparseVector(indices=[i + 1, 3 * i + 7], values=[0.5, 1])},
                payload={"city": f"{key}-{i % 3}", "i": i})
            for i in range(20)
        ], shard_key_selector=key)
    client.delete("tenants", models.PointIdsList(points=[5, 105]), shard_key_selector=["eu", "us"])


def _check(client: QdrantClient) -> None:
    assert client.count("people").count == 38
    assert client.count("tenants", shard_key_selector="eu").count == 19
    keys = httpx.get(f"{client._client.rest_uri}/collections/tenants/shards").json()["result"]
    assert sorted(k["key"] for k in keys["shard_keys"]) == ["eu", "us"]
    info = client.get_collection("tenants")
    assert info.payload_schema["city"].points == 38
    pts = client.retrieve("tenants", [7, 107], with_vectors=True)
    assert [p.id for p in pts] == [7, 107]
    assert np.allclose(pts[0].vector["img"], [7, 7.5, -7])
    assert pts[0].vector["bm"].indices == [8, 28]
    hits = client.count("tenants", count_filter=models.Filter(must=[models.FieldCondition(
        key="city", match=models.MatchValue(value="us-1"))])).count
    assert hits == 7


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "kill9"])
def test_state_survives_restart(tmp_path: Path, kill: bool) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        client = QdrantClient(url=server.url)
        _fill(client)
        _check(client)
        server.restart(kill=kill)
        if not kill:  # a graceful stop flushes everything and exits cleanly
            assert "Storage flushed, bye" in server.logs(tail=None)
        _check(client)
        server.restart(kill=True)  # a second restart replays nothing twice
        _check(client)
    finally:
        server.stop()


def test_wait_false_writes_applied_in_order(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        http = httpx.Client(base_url=server.url)
        http.put("/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}})
        last = None
        for i in range(50):
            resp = http.put("/collections/c/points", params={"wait": "false"}, json={
                "points": [{"id": 1, "vector": [1, 1], "payload": {"v": i}}]})
            assert resp.json()["result"]["status"] == "acknowledged"
            op = resp.json()["result"]["operation_id"]
            assert last is None or op > last
            last = op
        server.restart()
        got = http.get("/collections/c/points/1").json()["result"]
        assert got["payload"] == {"v": 49}
    finally:
        server.stop()


def _wal_files(storage: Path) -> list[Path]:
    return sorted(storage.rglob("*.wal"))


def test_damaged_wal_tail_truncated_middle_refused(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    server = ServerProcess(storage, env={
        "QDRANT__STORAGE__OPTIMIZERS__FLUSH_INTERVAL_SEC": "3600"}).start()
    http = httpx.Client(base_url=server.url)
    http.put("/collections/w", json={"vectors": {"size": 2, "distance": "Dot"}})
    for i in range(10):
        http.put("/collections/w/points", params={"wait": "true"}, json={
            "points": [{"id": i, "vector": [i, 1], "payload": {"i": i}}]}).raise_for_status()
    server.kill9()
    (wal,) = _wal_files(storage)
    data = wal.read_bytes()
    wal.write_bytes(data[:-5])  # torn tail: the last record (id 9) is cut
    server.start()
    assert http.post("/collections/w/points/count", json={}).json()["result"]["count"] == 9
    assert "torn tail" in server.logs(tail=None)
    server.kill9()
    data = bytearray(wal.read_bytes())
    data[40] ^= 0xFF  # damage an early record; intact records follow
    wal.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="refusing to start"):
        server.start(timeout=15)
