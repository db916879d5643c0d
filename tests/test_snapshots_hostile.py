"""Hostile snapshot input: every attack is refused with a clear 4xx, the collection it aimed
at is intact, and nothing is written outside the storage and snapshot directories.

Each test lists the files under the test's base directory (storage, snapshots, the
targets the attacks aim at) before and after, and checks the attack's own target.
"""

from __future__ import annotations

import http.client
import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess
from tests.test_snapshots import download, snapshots_dir, upload

NAME = "victim"


def _listing(root: Path) -> dict[str, int]:
    """Every file and link under `root` (logs aside) with its size."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            path = Path(dirpath, name)
            if path.suffix == ".log" and path.parent == root:
                continue
            rel = str(path.relative_to(root))
            out[rel] = path.lstat().st_size if not path.is_dir() else -1
    return out


@pytest.fixture(scope="module")
def victim(server: ServerProcess, client: QdrantClient, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[Path, int]]:
    """The collection under attack and a valid snapshot archive of it."""
    client.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance="Dot"))
    client.upsert(NAME, [models.PointStruct(id=i, vector=[i, 1, 2, 3], payload={"i": i})
                         for i in range(50)])
    snap = client.create_snapshot(NAME)
    assert snap is not None
    archive = download(server.url, f"/collections/{NAME}/snapshots/{snap.name}",
                       tmp_path_factory.mktemp("valid") / "valid.snapshot")
    yield archive, 50


@pytest.fixture
def unchanged(server: ServerProcess, client: QdrantClient, victim: tuple[Path, int],
              ) -> Iterator[Path]:
    """Asserts after the test that the filesystem and the victim are as before."""
    base = server.storage.parent
    before = _listing(base)
    outside = base.parent / f"outside-{uuid.uuid4().hex}"
    yield outside
    assert _listing(base) == before
    assert not outside.exists()
    assert client.count(NAME).count == victim[1]


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]


def _write(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]],
           fmt: int = tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _raw(server: ServerProcess, method: str, path: str) -> tuple[int, str]:
    """Send `path` exactly as written (no client-side dot-segment normalization)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("content-type") or ""
    finally:
        conn.close()


def _refused(server: ServerProcess, archive: Path, expect: str) -> None:
    resp = upload(server.url, f"/collections/{NAME}/snapshots/upload", archive)
    assert 400 <= resp.status_code < 500, resp.text
    assert expect in resp.json()["status"]["error"], resp.text


@pytest.mark.parametrize("bad", [
    "..", "../victim", "..%2F..%2Fraft_state.json", "%2e%2e", "%2e%2e%2fstorage",
    "%252e%252e%252fsecret", ".hidden", "a..b.snapshot", "x%00y", "%2Fetc%2Fpasswd",
    "/etc/passwd", "..%5c..%5cwindows", "C:%5cx",
])
def test_bad_snapshot_names(server: ServerProcess, bad: str, unchanged: Path) -> None:
    for prefix in ("", "/qdrant"):
        path = f"{prefix}/collections/{NAME}/snapshots/{bad}"
        for method in ("GET", "DELETE"):
            status, kind = _raw(server, method, path)
            assert status in (400, 404), (method, bad, status)
            assert kind.startswith("application/json")


def test_traversal_through_the_collection_name(server: ServerProcess, unchanged: Path) -> None:
    for bad in ("..", "%2e%2e", "..%2f..", "%2E%2E"):
        assert _raw(server, "GET", f"/collections/{bad}/snapshots/raft_state.json")[0] in (
            400, 404)
        assert _raw(server, "POST", f"/collections/{bad}/snapshots")[0] in (400, 404)


def test_file_locations_outside_the_snapshots_directory(
        server: ServerProcess, victim: tuple[Path, int], unchanged: Path) -> None:
    snaps = snapshots_dir(server)
    link = snaps / NAME / "link-out.snapshot"
    link.symlink_to(victim[0])  # a symlink inside pointing outside
    try:
        for location in (
            "file:///etc/passwd",
            victim[0].as_uri(),
            f"file://{snaps}/../storage/raft_state.json",
            f"file://{snaps}/%2e%2e/storage/raft_state.json",
            link.as_uri(),
            f"file://evil.example.com{snaps}/x.snapshot",
            "ftp://example.com/x.snapshot",
            "gopher://127.0.0.1:6379/_SET",
        ):
            resp = httpx.put(f"{server.url}/collections/{NAME}/snapshots/recover",
                             json={"location": location})
            assert resp.status_code in (400, 403, 422), (location, resp.text)
    finally:
        link.unlink()


def test_absolute_member(server: ServerProcess, tmp_path: Path, unchanged: Path) -> None:
    _refused(server, _write(tmp_path / "a.snapshot", [_file(str(unchanged), b"pwned")]),
             "absolute member path")


def test_dot_dot_members(server: ServerProcess, tmp_path: Path, unchanged: Path) -> None:
    for name in ("../../../" + unchanged.name, "collection/../../" + unchanged.name,
                 "./../x", "collection/./x", "a//b"):
        _refused(server, _write(tmp_path / "d.snapshot", [_file(name, b"pwned")]),
                 "Invalid snapshot archive")


@pytest.mark.parametrize("kind,label", [
    (tarfile.SYMTYPE, "symlink"), (tarfile.LNKTYPE, "hard link"), (tarfile.CHRTYPE, "char device"),
    (tarfile.BLKTYPE, "block device"), (tarfile.FIFOTYPE, "fifo"),
])
def test_links_and_devices(server: ServerProcess, tmp_path: Path, unchanged: Path,
                           kind: bytes, label: str) -> None:
    members = [_special("collection/escape", kind, str(unchanged)),
               _file("collection/escape/owned", b"pwned")]
    if kind == tarfile.LNKTYPE:
        members = [_special("collection/escape", kind, "/etc/passwd")]
    _refused(server, _write(tmp_path / "l.snapshot", members), "is not a regular file")


def test_colliding_member_names(server: ServerProcess, tmp_path: Path, unchanged: Path) -> None:
    twice = [_file("collection/a", b"one"), _file("collection/a", b"two")]
    _refused(server, _write(tmp_path / "c1.snapshot", twice), "appears twice")
    nested = [_file("collection/a", b"file"), _file("collection/a/b", b"under a file")]
    _refused(server, _write(tmp_path / "c2.snapshot", nested), "collides")
    manifest_twice = [_file("manifest.json", b"{}"), _file("manifest.json", b"{}")]
    _refused(server, _write(tmp_path / "c3.snapshot", manifest_twice), "appears twice")


def test_manifest_that_lies_about_sizes(server: ServerProcess, victim: tuple[Path, int],
                                        tmp_path: Path, unchanged: Path) -> None:
    members = _members(victim[0])
    manifest = orjson.loads(members[-1][1])
    manifest["files"][0]["size"] += 1000
    lied = orjson.dumps(manifest)
    info = tarfile.TarInfo("manifest.json")
    info.size = len(lied)
    members[-1] = (info, lied)
    _refused(server, _write(tmp_path / "m.snapshot", members), "the manifest says")
    # a manifest that hides a file, and one that lists a file the archive lacks
    manifest = orjson.loads(members[-1][1])
    manifest["files"][0]["size"] -= 1000
    hidden = dict(manifest, files=manifest["files"][1:])
    members[-1] = (_file("manifest.json", orjson.dumps(hidden)))
    _refused(server, _write(tmp_path / "m2.snapshot", members), "not listed in the manifest")
    extra = dict(manifest, files=[*manifest["files"], {"path": "collection/ghost", "size": 1,
                                                        "crc32": "00000000"}])
    members[-1] = (_file("manifest.json", orjson.dumps(extra)))
    _refused(server, _write(tmp_path / "m3.snapshot", members), "missing from the archive")


def test_zip_bomb_sized_members(server: ServerProcess, tmp_path: Path, unchanged: Path) -> None:
    # a header declaring 8 GB of data in a tiny archive
    info = tarfile.TarInfo("collection/huge")
    info.size = 8 << 30
    header = info.tobuf(tarfile.PAX_FORMAT)
    bomb = tmp_path / "bomb.snapshot"
    bomb.write_bytes(header + b"\0" * 4096)
    _refused(server, bomb, "more than the archive holds")
    # compressed archives (where a small file inflates to anything) are not read at all
    gz = tmp_path / "bomb.tar.gz"
    with tarfile.open(gz, "w:gz") as tar:
        zeros = tarfile.TarInfo("collection/zeros")
        zeros.size = 64 << 20
        tar.addfile(zeros, io.BytesIO(bytes(zeros.size)))
    assert gz.stat().st_size < 1 << 20
    _refused(server, gz, "not an uncompressed tar")
    # sparse members (GNU sparse map: holes expand on extraction)
    sparse = tarfile.TarInfo("collection/sparse")
    sparse.type = tarfile.GNUTYPE_SPARSE
    sparse.size = 0
    _refused(server, _write(tmp_path / "s.snapshot", [(sparse, None)], tarfile.GNU_FORMAT),
             "Invalid snapshot archive")


def test_wrong_kind_and_foreign_manifest(server: ServerProcess, tmp_path: Path,
                                         unchanged: Path) -> None:
    _refused(server, _write(tmp_path / "n.snapshot", [_file("collection/x", b"1")]),
             "has no manifest.json")
    fake = {"format": "vectorizer-snapshot", "version": 99, "kind": "collection"}
    _refused(server, _write(tmp_path / "v.snapshot", [_file("manifest.json", orjson.dumps(fake))]),
             "version 99")


def test_no_multipart_file(server: ServerProcess, unchanged: Path) -> None:
    resp = httpx.post(f"{server.url}/collections/{NAME}/snapshots/upload",
                      files={"other": ("x", b"abc")})
    assert resp.status_code == 400
    resp = httpx.post(f"{server.url}/collections/{NAME}/snapshots/upload", content=b"raw")
    assert resp.status_code == 400


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_large_upload_streams_through_disk(server: ServerProcess, tmp_path: Path,
                                           unchanged: Path) -> None:
    """A 768 MB upload (a tar whose one member is 768 MB of zeros, stored sparsely here) goes
    to disk in pieces: the server's peak memory grows by far less than the upload."""
    size = 768 << 20
    info = tarfile.TarInfo("collection/big")
    info.size = size
    archive = tmp_path / "large.snapshot"
    with open(archive, "wb") as fh:
        fh.write(info.tobuf(tarfile.PAX_FORMAT))
        fh.seek(size, os.SEEK_CUR)
        fh.write(bytes(2 * tarfile.BLOCKSIZE))
    assert server.proc is not None
    before = _peak_rss_mb(server.proc.pid)
    _refused(server, archive, "has no manifest.json")  # read whole, unpacked, then refused
    grown = _peak_rss_mb(server.proc.pid) - before
    print(f"peak RSS growth during a {size >> 20} MB upload: {grown:.0f} MB")
    assert grown < 128, f"peak RSS grew by {grown:.0f} MB for a {size >> 20} MB upload"
