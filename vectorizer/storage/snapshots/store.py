"""Where snapshots live: `snapshots_path` laid out as Qdrant lays it out, with `.checksum` files.

```
snapshots_path/
  full-snapshot-2026-01-01-00-00-00.snapshot           full storage snapshots
  full-snapshot-2026-01-01-00-00-00.snapshot.checksum  sha256 (hex) of the archive
  {collection}/{collection}-{peer}-{time}.snapshot      collection snapshots
  {collection}/shards/{shard_id}/…snapshot              shard snapshots
```

A snapshot is written to a hidden temporary file beside its final name,
fsynced, then renamed into place, so a listed snapshot is always complete.
Names coming from requests are checked before they touch a path.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vectorizer.common.durable import fsync_dir
from vectorizer.common.errors import BadRequest, NotFound

SUFFIX = ".snapshot"
CHECKSUM_SUFFIX = ".checksum"
_TMP_MARK = ".tmp-"
_BAD_CHARS = re.compile(r"[/\\\x00-\x1f]")


def check_snapshot_name(name: str) -> str:
    """A snapshot file name that cannot leave its directory, or a 400."""
    if not name or len(name) > 255 or name.startswith(".") or ".." in name or \
            _BAD_CHARS.search(name) or name.endswith(CHECKSUM_SUFFIX):
        raise BadRequest(f"Invalid snapshot name `{name}`: it must be a plain file name "
                         "without `..`, `/`, `\\` or a leading `.`")
    return name


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S")


class SnapshotStore:
    """The snapshot directories of one node, and the temporary directory for recoveries."""

    def __init__(self, snapshots_path: Path, temp_path: Path) -> None:
        self.root = snapshots_path.absolute()
        self.temp = temp_path.absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.temp.mkdir(parents=True, exist_ok=True)
        self._clean_leftovers()

    def _clean_leftovers(self) -> None:
        """Remove temporary files of snapshots that were being written when we stopped."""
        for root, _dirs, names in os.walk(self.root):
            for name in names:
                if name.startswith(".") and _TMP_MARK in name:
                    Path(root, name).unlink(missing_ok=True)
        for child in self.temp.iterdir():
            if child.name.startswith("upload-") or child.name.startswith("download-"):
                child.unlink(missing_ok=True)

    # ------------------------------------------------------------ directories

    def collection_dir(self, collection: str) -> Path:
        return self.root / collection

    def shard_dir(self, collection: str, shard_id: int) -> Path:
        return self.root / collection / "shards" / str(shard_id)

    def full_dir(self) -> Path:
        return self.root

    # ------------------------------------------------------------ listing

    def list(self, directory: Path) -> list[dict[str, Any]]:
        """SnapshotDescription of every snapshot in `directory`, by name."""
        if not directory.is_dir():
            return []
        out = []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.name.endswith(SUFFIX) or \
                    not entry.is_file(follow_symlinks=False):
                continue
            out.append(self.describe(Path(entry.path)))
        return out

    def describe(self, path: Path) -> dict[str, Any]:
        stat = path.stat()
        created = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return {"name": path.name, "creation_time": created, "size": stat.st_size,
                "checksum": self.read_checksum(path)}

    @staticmethod
    def read_checksum(path: Path) -> str | None:
        side = path.with_name(path.name + CHECKSUM_SUFFIX)
        try:
            value = side.read_text().split()[0].strip().lower()
        except (OSError, IndexError):
            return None
        return value if re.fullmatch(r"[0-9a-f]{64}", value) else None

    def resolve(self, directory: Path, name: str) -> Path:
        """The snapshot file `name` in `directory`, or 404 / 400."""
        path = directory / check_snapshot_name(name)
        if path.parent != directory or not path.is_file() or path.is_symlink():
            raise NotFound(f"Snapshot {name} not found")
        return path

    def delete(self, directory: Path, name: str) -> bool:
        path = self.resolve(directory, name)
        path.unlink()
        path.with_name(path.name + CHECKSUM_SUFFIX).unlink(missing_ok=True)
        fsync_dir(directory)
        return True

    def contains(self, path: Path) -> bool:
        """True if `path` (resolved, symlinks followed) is a file inside `snapshots_path`."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        return real.is_relative_to(self.root.resolve()) and real.is_file()

    # ------------------------------------------------------------ writing

    def unique_name(self, directory: Path, stem: str) -> str:
        name = f"{stem}{SUFFIX}"
        n = 1
        while (directory / name).exists():
            n += 1
            name = f"{stem}-{n}{SUFFIX}"
        return name

    @contextmanager
    def writing(self, directory: Path, name: str) -> Iterator[Path]:
        """A temporary path beside `directory/name`; removed unless `publish` moved it."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}{_TMP_MARK}{uuid.uuid4().hex}"
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def publish(self, tmp: Path, directory: Path, name: str, checksum: str) -> dict[str, Any]:
        """fsync `tmp`, move it to `directory/name` with its `.checksum`; describe it."""
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        final = directory / check_snapshot_name(name)
        side = final.with_name(final.name + CHECKSUM_SUFFIX)
        side_tmp = directory / f".{side.name}{_TMP_MARK}{uuid.uuid4().hex}"
        side_tmp.write_text(checksum)
        tmp.replace(final)
        side_tmp.replace(side)
        fsync_dir(directory)
        return self.describe(final)

    @contextmanager
    def temp_file(self, prefix: str) -> Iterator[Path]:
        """A temporary file under `temp_path` (downloads, uploads), removed afterwards."""
        path = self.temp / f"{prefix}-{uuid.uuid4().hex}"
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def adopt(self, path: Path, directory: Path, name: str, checksum: str) -> dict[str, Any]:
        """Move a finished file (an upload) into `directory` as snapshot `name`."""
        import shutil

        with self.writing(directory, name) as tmp:
            try:
                os.replace(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            return self.publish(tmp, directory, name, checksum)
