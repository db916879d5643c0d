"""Snapshot tar archives: streamed writing with checksums, and extraction that trusts nothing.

`ArchiveWriter` streams files into an uncompressed tar, checksumming every
member (crc32, recorded in the manifest: a cheap integrity check) and hashing
the archive itself (sha256, the `.checksum` file, as Qdrant keeps it) as the
bytes pass: one read of the data, no second pass.

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
import zlib
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

    def write(self, data: bytes | memoryview) -> int:
        self._hash.update(data)  # (a copy: the caller may reuse its buffer)
        view = memoryview(data)
        while view:
            written = self.target.write(view)
            view = view[written if written is not None else len(view):]
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.target.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass
class FileEntry:
    """One archived file as the manifest lists it."""

    path: str
    size: int
    crc32: str  # 8 hex digits

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "crc32": self.crc32}


def crc32_hex(value: int) -> str:
    return f"{value & 0xFFFFFFFF:08x}"


class ArchiveWriter:
    """Streams members into an uncompressed POSIX (pax) tar on `target`.

    Headers come from `tarfile.TarInfo.tobuf`; file data is copied in 1 MB
    blocks through one reused buffer, checksummed for the manifest (crc32 per
    file) and hashed for the `.checksum` (sha256 of the archive, on another thread).
    """

    def __init__(self, target: IO[bytes]) -> None:
        self.out = HashingWriter(target)
        self.entries: list[FileEntry] = []
        self._now = int(time.time())
        self._buffer = bytearray(CHUNK)

    def _header(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        info.mtime = self._now
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % tarfile.BLOCKSIZE:
            self.out.write(bytes(tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))

    def add_file(self, arcname: str, path: Path) -> FileEntry:
        """Stream the file at `path` in as `arcname`; its size is fixed when we start reading."""
        crc = 0
        view = memoryview(self._buffer)
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            self._header(arcname, size)
            remaining = size
            while remaining:
                got = fh.readinto(view[:min(CHUNK, remaining)])
                if not got:
                    raise OSError(f"{path} shrank while being archived")
                chunk = view[:got]
                crc = zlib.crc32(chunk, crc)
                self.out.write(chunk)
                remaining -= got
        self._pad(size)
        entry = FileEntry(arcname, size, crc32_hex(crc))
        self.entries.append(entry)
        return entry

    def add_bytes(self, arcname: str, data: bytes, record: bool = True) -> None:
        """Add an in-memory member (listed in the manifest unless `record` is False)."""
        self._header(arcname, len(data))
        self.out.write(data)
        self._pad(len(data))
        if record:
            self.entries.append(FileEntry(arcname, len(data), crc32_hex(zlib.crc32(data))))

    def close(self) -> str:
        """End the archive (two zero blocks, padded to a tar record); return its sha256."""
        end = self.out.size + 2 * tarfile.BLOCKSIZE
        self.out.write(bytes(2 * tarfile.BLOCKSIZE + (-end) % tarfile.RECORDSIZE))
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
    """What `safe_extract` wrote: regular files with their size and crc32, and the manifest."""

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
    crc = 0
    remaining = member.size
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        while remaining:
            chunk = source.read(min(CHUNK, remaining))
            if not chunk:
                raise UnsafeArchive(f"Invalid snapshot archive: member {name!r} is truncated")
            crc = zlib.crc32(chunk, crc)
            out.write(chunk)
            remaining -= len(chunk)
    return FileEntry(name, member.size, crc32_hex(crc))


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
