"""Snapshot tar archives: streamed writing with checksums, and extraction that trusts nothing.

`ArchiveWriter` streams files into an uncompressed tar, hashing every member
(sha256, recorded in the manifest) and the archive itself (the `.checksum`
file) as the bytes pass: one read of the data, no second pass.

`safe_extract` unpacks an archive into a fresh directory and refuses anything
but plain files and directories with clean relative names: absolute or `..`
members, links of any kind, devices, fifos, sparse members, duplicate or
colliding names, and members larger than the space they may take.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import queue
import shutil
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vectorizer.common.errors import BadRequest

CHUNK = 1 << 20
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20
_MAX_NAME = 1024


class _ThreadedSha256:
    """sha256 of a byte stream computed on another thread (hashlib releases the GIL)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            self._hash.update(chunk)

    def update(self, data: bytes) -> None:
        self._queue.put(bytes(data))

    def hexdigest(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._hash.hexdigest()


class HashingWriter:
    """A write-only file object that hashes what goes through it and counts the bytes."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.size = 0
        self._hash = _ThreadedSha256()
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.size += len(data)
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= CHUNK:
            self._flush_hash()
        return len(data)

    def _flush_hash(self) -> None:
        if self._pending:
            self._hash.update(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.target.flush()

    def hexdigest(self) -> str:
        self._flush_hash()
        return self._hash.hexdigest()


class _HashingReader:
    """Wraps a source file: tarfile reads through it, we hash what it reads."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.hash.update(data)
        self.size += len(data)
        return data


@dataclass
class FileEntry:
    """One archived file as the manifest lists it."""

    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


class ArchiveWriter:
    """Streams members into an uncompressed tar on `target`, recording a FileEntry for each."""

    def __init__(self, target: IO[bytes]) -> None:
        self.out = HashingWriter(target)
        self.tar = tarfile.open(fileobj=self.out, mode="w|", format=tarfile.PAX_FORMAT,  # noqa: SIM115
                                bufsize=CHUNK)
        self.entries: list[FileEntry] = []
        self._now = int(time.time())

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        info.mtime = self._now
        return info

    def add_file(self, arcname: str, path: Path) -> FileEntry:
        """Stream the file at `path` in as `arcname`; its size is fixed when we start reading."""
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            reader = _HashingReader(fh)
            self.tar.addfile(self._info(arcname, size), reader)  # type: ignore[arg-type]
        if reader.size != size:
            raise OSError(f"{path} changed size while being archived")
        entry = FileEntry(arcname, size, reader.hash.hexdigest())
        self.entries.append(entry)
        return entry

    def add_bytes(self, arcname: str, data: bytes, record: bool = True) -> None:
        """Add an in-memory member (listed in the manifest unless `record` is False)."""
        import io

        self.tar.addfile(self._info(arcname, len(data)), io.BytesIO(data))
        if record:
            self.entries.append(FileEntry(arcname, len(data), hashlib.sha256(data).hexdigest()))

    def close(self) -> str:
        """End the archive; return its sha256."""
        self.tar.close()
        self.out.flush()
        return self.out.hexdigest()


# ------------------------------------------------------------------------------ extraction


class UnsafeArchive(BadRequest):
    """An archive refused before anything of it was trusted (400)."""


def check_member_name(name: str) -> str:
    """The member's clean relative path, or UnsafeArchive."""
    if not name or len(name) > _MAX_NAME or "\x00" in name or "\\" in name:
        raise UnsafeArchive(f"Invalid snapshot archive: unsafe member name {name!r}")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"Invalid snapshot archive: absolute member path {name!r}")
    stripped = name[2:] if name.startswith("./") else name
    stripped = stripped.rstrip("/")
    parts = stripped.split("/")
    if not stripped or any(p in {"", ".", ".."} for p in parts):
        raise UnsafeArchive(f"Invalid snapshot archive: member path {name!r} escapes the "
                            "archive or is not normalized")
    if posixpath.normpath(stripped) != stripped:
        raise UnsafeArchive(f"Invalid snapshot archive: member path {name!r} is not normalized")
    return stripped


@dataclass
class Extracted:
    """What `safe_extract` wrote: regular files with their size and sha256, and the manifest."""

    files: dict[str, FileEntry]
    manifest: bytes | None


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def safe_extract(archive: Path, dest: Path, reserve_bytes: int = 64 << 20) -> Extracted:
    """Unpack `archive` (an uncompressed tar) into the empty directory `dest`.

    Members are written with O_EXCL|O_NOFOLLOW inside `dest` only; nothing else
    is created.  The total written may not exceed the archive's own size (a
    plain tar cannot hold more than it is long) nor the free space less
    `reserve_bytes`.  The manifest member is read into memory, not written.
    """
    budget = min(archive.stat().st_size, max(free_bytes(dest) - reserve_bytes, 0))
    written = 0
    files: dict[str, FileEntry] = {}
    dirs: set[str] = set()
    manifest: bytes | None = None
    try:
        tar = tarfile.open(archive, mode="r:")  # noqa: SIM115 - closed by `with tar` below
    except (tarfile.TarError, OSError) as exc:
        raise UnsafeArchive(f"Invalid snapshot archive: not an uncompressed tar file ({exc})") \
            from None
    with tar:
        try:
            for member in tar:
                name = check_member_name(member.name)
                if member.isdir():
                    if name in files:
                        raise UnsafeArchive(f"Invalid snapshot archive: member {name!r} "
                                            "collides with another member")
                    dirs.add(name)
                    continue
                if not member.isreg() or member.issparse() or member.type not in (
                        tarfile.REGTYPE, tarfile.AREGTYPE):
                    raise UnsafeArchive(
                        f"Invalid snapshot archive: member {name!r} is not a regular file "
                        "(links, devices, fifos and sparse files are refused)")
                if name in files or name in dirs or (name == MANIFEST_NAME and manifest):
                    raise UnsafeArchive(f"Invalid snapshot archive: member {name!r} "
                                        "appears twice")
                parents = name.split("/")[:-1]
                for i in range(1, len(parents) + 1):
                    if "/".join(parents[:i]) in files:
                        raise UnsafeArchive(f"Invalid snapshot archive: member {name!r} "
                                            "collides with another member")
                if name == MANIFEST_NAME:
                    if member.size > MAX_MANIFEST_BYTES:
                        raise UnsafeArchive("Invalid snapshot archive: manifest too large")
                    source = tar.extractfile(member)
                    assert source is not None
                    manifest = source.read(member.size)
                    if len(manifest) != member.size:
                        raise UnsafeArchive("Invalid snapshot archive: truncated manifest")
                    continue
                if written + member.size > budget:
                    raise UnsafeArchive(
                        f"Invalid snapshot archive: member {name!r} declares {member.size} "
                        "bytes, more than the archive holds or the disk can take")
                files[name] = _write_member(tar, member, dest, name)
                written += member.size
                for i in range(1, len(parents) + 1):
                    dirs.add("/".join(parents[:i]))
        except (tarfile.TarError, EOFError) as exc:
            raise UnsafeArchive(f"Invalid snapshot archive: {exc}") from None
    return Extracted(files, manifest)


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path,
                  name: str) -> FileEntry:
    target = dest.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None
    digest = hashlib.sha256()
    remaining = member.size
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        while remaining:
            chunk = source.read(min(CHUNK, remaining))
            if not chunk:
                raise UnsafeArchive(f"Invalid snapshot archive: member {name!r} is truncated")
            digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    return FileEntry(name, member.size, digest.hexdigest())


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_tree(directory: Path) -> None:
    """fsync every file and directory under `directory`."""
    for root, _dirs, names in os.walk(directory):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
