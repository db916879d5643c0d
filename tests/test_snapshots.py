"""Collection snapshots through the official client and plain HTTP: create, list, download,
delete, recover from `file://` and by upload, checksums, replacement and config checks.

Round trips fill a collection with named dense vectors, a multivector, a sparse vector,
payloads and payload indexes (and, separately, custom shard keys), snapshot it, drop it,
bring it back and compare every point, the payload schema and dense search results.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

import httpx
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess

DIM = 8


def fill_rich(client: QdrantClient, name: str, count: int = 300, seed: int = 7) -> None:
    """A collection with every kind of vector, payloads and payload indexes."""
    rng = random.Random(seed)
    client.create_collection(
        name,
        vectors_config={
            "dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
            "multi": models.VectorParams(
                size=4, distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM)),
        },
        sparse_vectors_config={"sp": models.SparseVectorParams()},
        shard_number=2,
    )
    client.create_payload_index(name, "tag", models.PayloadSchemaType.KEYWORD)
    client.create_payload_index(name, "n", models.PayloadSchemaType.INTEGER)
    points = []
    for i in range(count):
        points.append(models.PointStruct(
            id=i if i % 3 else f"00000000-0000-0000-0000-{i:012d}",
            vector={
                "dense": [rng.random() for _ in range(DIM)],
                "multi": [[rng.random() for _ in range(4)] for _ in range(1 + i % 3)],
                "sp": models.SparseVector(indices=[i % 50, 60 + i % 7],
                                          values=[rng.random(), rng.random()]),
            },
            payload={"tag": f"t{i % 5}", "n": i, "nested": {"x": [i, i + 1]}},
        ))
    if points:
        client.upsert(name, points, wait=True)
    client.delete(name, models.PointIdsList(points=[1, 2, 4]), wait=True)


def everything(client: QdrantClient, name: str) -> dict[Any, Any]:
    """Every point with payload and vectors, by id."""
    out: dict[Any, Any] = {}
    offset = None
    while True:
        page, offset = client.scroll(name, limit=256, offset=offset, with_payload=True,
                                     with_vectors=True)
        for rec in page:
            out[rec.id] = (rec.payload, _rounded(rec.vector), rec.shard_key)
        if offset is None:
            return out


def _rounded(vector: Any) -> Any:
    if isinstance(vector, dict):
        return {k: _rounded(v) for k, v in vector.items()}
    if isinstance(vector, list):
        return [_rounded(v) for v in vector]
    if isinstance(vector, float):
        return round(vector, 5)
    if isinstance(vector, models.SparseVector):
        return (vector.indices, [round(v, 5) for v in vector.values])
    return vector


def searches(client: QdrantClient, name: str, using: str | None = "dense") -> list[Any]:
    rng = random.Random(99)
    out = []
    for _ in range(5):
        res = client.query_points(name, query=[rng.random() for _ in range(DIM)], using=using,
                                  limit=10, with_payload=False)
        out.append([(p.id, round(p.score, 5)) for p in res.points])
    res = client.query_points(name, query=[rng.random() for _ in range(DIM)], using=using,
                              query_filter=models.Filter(must=[models.FieldCondition(
                                  key="tag", match=models.MatchValue(value="t1"))]), limit=5)
    out.append([p.id for p in res.points])
    return out


def state(client: QdrantClient, name: str, using: str | None = "dense") -> dict[str, Any]:
    info = client.get_collection(name)
    schema = {k: (v.data_type, v.points) for k, v in (info.payload_schema or {}).items()}
    return {"points": everything(client, name), "count": info.points_count,
            "schema": schema, "search": searches(client, name, using),
            "vectors": info.config.params.vectors,
            "sparse": info.config.params.sparse_vectors}


def download(url: str, path: str, target: Path) -> Path:
    """Stream a snapshot from the server to `target`."""
    with httpx.stream("GET", url + path, timeout=60) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"] == "application/octet-stream"
        with open(target, "wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
    return target


def upload(url: str, path: str, archive: Path, **params: str) -> httpx.Response:
    with open(archive, "rb") as fh:
        return httpx.post(url + path, params=params, timeout=120,
                          files={"snapshot": (archive.name, fh, "application/octet-stream")})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshots_dir(server: ServerProcess) -> Path:
    return server.storage.parent / "snapshots"


# ------------------------------------------------------------------------------ round trips


def test_create_list_download_delete(server: ServerProcess, client: QdrantClient,
                                     collection_name: str, tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=50)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    assert snap.name.startswith(f"{collection_name}-") and snap.name.endswith(".snapshot")
    listed = client.list_snapshots(collection_name)
    assert [s.name for s in listed] == [snap.name]
    assert listed[0].size == snap.size and listed[0].checksum == snap.checksum
    on_disk = snapshots_dir(server) / collection_name / snap.name
    assert on_disk.stat().st_size == snap.size
    assert (on_disk.parent / (snap.name + ".checksum")).read_text().strip() == snap.checksum
    got = download(server.url, f"/collections/{collection_name}/snapshots/{snap.name}",
                   tmp_path / "a.snapshot")
    assert sha256(got) == snap.checksum
    got = download(server.url, f"/qdrant/collections/{collection_name}/snapshots/{snap.name}",
                   tmp_path / "b.snapshot")
    assert sha256(got) == snap.checksum
    assert client.delete_snapshot(collection_name, snap.name) is True
    assert client.list_snapshots(collection_name) == []
    assert not on_disk.exists()
    resp = httpx.get(f"{server.url}/collections/{collection_name}/snapshots/{snap.name}")
    assert resp.status_code == 404
    resp = httpx.get(f"{server.url}/collections/missing_{collection_name}/snapshots")
    assert resp.status_code == 404


def test_round_trip_by_upload(server: ServerProcess, client: QdrantClient,
                              collection_name: str, tmp_path: Path) -> None:
    fill_rich(client, collection_name)
    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=collection_name,
                                        alias_name=f"{collection_name}_alias"))])
    before = state(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    archive = download(server.url, f"/collections/{collection_name}/snapshots/{snap.name}",
                       tmp_path / "mine.snapshot")
    client.delete_collection(collection_name)
    resp = upload(server.url, f"/collections/{collection_name}/snapshots/upload", archive,
                  priority="snapshot", checksum=snap.checksum)
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"] is True
    assert state(client, collection_name) == before
    # the upload is kept among the collection's snapshots, as Qdrant keeps it
    assert "mine.snapshot" in [s.name for s in client.list_snapshots(collection_name)]
    # the recovered collection takes writes
    client.upsert(collection_name, [models.PointStruct(id=10_000, vector={"dense": [1.0] * DIM})])
    assert client.count(collection_name).count == before["count"] + 1


def test_round_trip_by_file_url_replaces_current_state(
        server: ServerProcess, client: QdrantClient, collection_name: str) -> None:
    fill_rich(client, collection_name)
    before = state(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    # change the collection after the snapshot: recovery must bring back the snapshot's state
    client.delete(collection_name, models.PointIdsList(points=list(range(5, 200))))
    client.set_payload(collection_name, {"tag": "changed"}, points=[250])
    client.delete_payload_index(collection_name, "n")
    location = (snapshots_dir(server) / collection_name / snap.name).as_uri()
    assert client.recover_snapshot(collection_name, location, checksum=snap.checksum,
                                   priority=models.SnapshotPriority.SNAPSHOT) is True
    assert state(client, collection_name) == before


def test_recover_creates_a_new_collection_under_another_name(
        server: ServerProcess, client: QdrantClient, collection_name: str) -> None:
    fill_rich(client, collection_name, count=80)
    before = state(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    location = (snapshots_dir(server) / collection_name / snap.name).as_uri()
    copy_name = f"{collection_name}_copy"
    assert client.recover_snapshot(copy_name, location) is True
    assert state(client, copy_name) == before
    assert state(client, collection_name) == before


def test_shard_keys_round_trip(server: ServerProcess, client: QdrantClient,
                               collection_name: str, tmp_path: Path) -> None:
    client.create_collection(collection_name,
                             vectors_config=models.VectorParams(size=4, distance="Euclid"),
                             sharding_method=models.ShardingMethod.CUSTOM)
    for key in ("red", "blue"):
        client.create_shard_key(collection_name, key)
    for i, key in enumerate(("red", "blue")):
        client.upsert(collection_name, [models.PointStruct(
            id=i * 100 + j, vector=[j, i, 1.0, 2.0], payload={"k": key}) for j in range(40)],
            shard_key_selector=key)
    before = everything(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    archive = download(server.url, f"/collections/{collection_name}/snapshots/{snap.name}",
                       tmp_path / "keys.snapshot")
    client.delete_collection(collection_name)
    assert upload(server.url, f"/collections/{collection_name}/snapshots/upload",
                  archive).status_code == 200
    assert everything(client, collection_name) == before
    keys = client.http.distributed_api.list_shard_keys(collection_name).result
    assert sorted(k.key for k in keys.shard_keys) == ["blue", "red"]
    assert client.count(collection_name, shard_key_selector="red").count == 40


def test_snapshot_while_writing_loses_nothing(server: ServerProcess, client: QdrantClient,
                                              collection_name: str) -> None:
    """Writes acknowledged before the snapshot started are in it; later ones are not lost."""
    import threading

    client.create_collection(collection_name,
                             vectors_config=models.VectorParams(size=4, distance="Dot"),
                             shard_number=3)
    acked: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        http = httpx.Client(base_url=server.url, timeout=30)
        i = 0
        while not stop.is_set():
            ids = list(range(i, i + 20))
            resp = http.put(f"/collections/{collection_name}/points", params={"wait": "true"},
                            json={"points": [{"id": p, "vector": [p, 1, 2, 3]} for p in ids]})
            assert resp.status_code == 200
            acked.extend(ids)
            i += 20

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.3)
    before_snapshot = set(acked)
    snap = client.create_snapshot(collection_name)
    time.sleep(0.2)
    stop.set()
    thread.join()
    assert snap is not None
    total = client.count(collection_name).count
    assert total == len(acked)  # writes during creation are not lost
    location = (snapshots_dir(server) / collection_name / snap.name).as_uri()
    copy_name = f"{collection_name}_copy"
    client.recover_snapshot(copy_name, location)
    restored = {p.id for p in client.scroll(copy_name, limit=100_000)[0]}
    assert before_snapshot <= restored
    assert restored <= set(acked)
    # each upsert batch lands in each shard whole: restored ids are whole batches per shard
    assert len(restored) >= len(before_snapshot)


def test_wait_false_answers_202(server: ServerProcess, client: QdrantClient,
                                collection_name: str) -> None:
    fill_rich(client, collection_name, count=20)
    resp = httpx.post(f"{server.url}/collections/{collection_name}/snapshots",
                      params={"wait": "false"})
    assert resp.status_code == 202
    assert resp.json()["status"] == "accepted"
    deadline = time.monotonic() + 30
    while not client.list_snapshots(collection_name):
        assert time.monotonic() < deadline
        time.sleep(0.1)


# ------------------------------------------------------------------------------ refusals


def test_checksums(server: ServerProcess, client: QdrantClient, collection_name: str,
                   tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=30)
    before = state(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    location = (snapshots_dir(server) / collection_name / snap.name).as_uri()
    url = f"{server.url}/collections/{collection_name}/snapshots/recover"
    resp = httpx.put(url, json={"location": location, "checksum": "abc"})
    assert resp.status_code == 422
    assert "invalid_sha256_hash" in resp.json()["status"]["error"]
    wrong = "0" * 64
    resp = httpx.put(url, json={"location": location, "checksum": wrong})
    assert resp.status_code == 400
    assert resp.json()["status"]["error"] == \
        f"Checksum mismatch: expected {snap.checksum}, actual {wrong}"
    archive = download(server.url, f"/collections/{collection_name}/snapshots/{snap.name}",
                       tmp_path / "c.snapshot")
    resp = upload(server.url, f"/collections/{collection_name}/snapshots/upload", archive,
                  checksum=wrong)
    assert resp.status_code == 400
    assert "Checksum mismatch" in resp.json()["status"]["error"]
    resp = upload(server.url, f"/collections/{collection_name}/snapshots/upload", archive,
                  checksum="zz")
    assert resp.status_code == 422
    assert "invalid_sha256_hash" in resp.json()["status"]["error"]
    assert state(client, collection_name) == before


def test_different_vector_config_is_refused(server: ServerProcess, client: QdrantClient,
                                            collection_name: str) -> None:
    fill_rich(client, collection_name, count=30)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    other = f"{collection_name}_other"
    client.create_collection(other, vectors_config=models.VectorParams(size=3, distance="Dot"))
    client.upsert(other, [models.PointStruct(id=1, vector=[1.0, 2.0, 3.0])])
    location = (snapshots_dir(server) / collection_name / snap.name).as_uri()
    resp = httpx.put(f"{server.url}/collections/{other}/snapshots/recover",
                     json={"location": location})
    assert resp.status_code == 400
    assert "not compatible" in resp.json()["status"]["error"]
    assert client.count(other).count == 1
    assert client.get_collection(other).config.params.vectors.size == 3


def test_truncated_and_corrupted_archives_leave_the_collection_intact(
        server: ServerProcess, client: QdrantClient, collection_name: str,
        tmp_path: Path) -> None:
    fill_rich(client, collection_name, count=60)
    before = state(client, collection_name)
    snap = client.create_snapshot(collection_name)
    assert snap is not None
    data = (snapshots_dir(server) / collection_name / snap.name).read_bytes()
    truncated = tmp_path / "truncated.snapshot"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside some member's data: its sha256 no longer matches
    corrupted = tmp_path / "corrupted.snapshot"
    corrupted.write_bytes(bytes(flipped))
    garbage = tmp_path / "garbage.snapshot"
    garbage.write_bytes(b"definitely not a tar file" * 100)
    for archive in (truncated, corrupted, garbage):
        resp = upload(server.url, f"/collections/{collection_name}/snapshots/upload", archive)
        assert 400 <= resp.status_code < 500, resp.text
        assert "Invalid snapshot" in resp.json()["status"]["error"]
    assert state(client, collection_name) == before
    leftovers = [p.name for p in (server.storage / "collections").iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_snapshots_survive_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "storage").start()
    try:
        client = QdrantClient(url=server.url, timeout=60)
        fill_rich(client, "kept", count=40)
        before = state(client, "kept")
        snap = client.create_snapshot("kept")
        server.restart()
        client = QdrantClient(url=server.url, timeout=60)
        listed = client.list_snapshots("kept")
        assert [(s.name, s.size, s.checksum) for s in listed] == \
            [(snap.name, snap.size, snap.checksum)]
        client.delete_collection("kept")
        location = (tmp_path / "snapshots" / "kept" / snap.name).as_uri()
        client.recover_snapshot("kept", location)
        assert state(client, "kept") == before
    finally:
        server.stop()


def test_snapshots_path_and_temp_path_are_honoured(tmp_path: Path) -> None:
    snaps, temp = tmp_path / "elsewhere" / "snaps", tmp_path / "scratch"
    server = ServerProcess(tmp_path / "storage", env={
        "QDRANT__STORAGE__SNAPSHOTS_PATH": str(snaps),
        "QDRANT__STORAGE__TEMP_PATH": str(temp)}).start()
    try:
        client = QdrantClient(url=server.url, timeout=60)
        fill_rich(client, "here", count=10)
        snap = client.create_snapshot("here")
        assert snap is not None
        assert (snaps / "here" / snap.name).is_file()
        assert temp.is_dir()
        archive = download(server.url, f"/collections/here/snapshots/{snap.name}",
                           tmp_path / "here.snapshot")
        assert upload(server.url, "/collections/there/snapshots/upload",
                      archive).status_code == 200
        assert client.count("there").count == client.count("here").count
        assert list(temp.iterdir()) == []
    finally:
        server.stop()


def test_searches_run_while_snapshots_are_created(server: ServerProcess, client: QdrantClient,
                                                 collection_name: str) -> None:
    import threading

    import numpy as np

    client.create_collection(collection_name,
                             vectors_config=models.VectorParams(size=32, distance="Cosine"))
    rng = np.random.default_rng(3)
    for start in range(0, 40_000, 5_000):
        client.upsert(collection_name, models.Batch(
            ids=list(range(start, start + 5_000)),
            vectors=rng.random((5_000, 32), dtype=np.float32).tolist()))
    latencies: list[float] = []
    creating = threading.Event()
    done = threading.Event()

    def searcher() -> None:
        http = httpx.Client(base_url=server.url, timeout=30)
        while not done.is_set():
            t = time.perf_counter()
            resp = http.post(f"/collections/{collection_name}/points/query",
                             json={"query": rng.random(32).tolist(), "limit": 5})
            assert resp.status_code == 200
            if creating.is_set():
                latencies.append(time.perf_counter() - t)

    thread = threading.Thread(target=searcher)
    thread.start()
    creating.set()
    for _ in range(3):
        assert client.create_snapshot(collection_name) is not None
    done.set()
    thread.join()
    assert latencies, "no search completed while snapshots were being created"
    print(f"{len(latencies)} searches during 3 snapshot creations, "
          f"max {max(latencies) * 1000:.0f} ms")
