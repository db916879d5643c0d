"""The snapshot operations the API calls, over one node's storage and snapshot directories."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vectorizer.common.errors import BadRequest
from vectorizer.settings import setting_at
from vectorizer.storage.snapshots import collection as col_snap
from vectorizer.storage.snapshots import full as full_snap
from vectorizer.storage.snapshots import partial as partial_snap
from vectorizer.storage.snapshots import shard as shard_snap
from vectorizer.storage.snapshots.fetch import Allowlist, fetch, verify_checksum
from vectorizer.storage.snapshots.store import SnapshotStore, check_snapshot_name

_RECOVERY_LOCK = threading.Lock()  # one recovery at a time, whichever API asked for it


class SnapshotService:
    """Create, list, download, delete and recover collection, shard and full snapshots."""

    def __init__(self, toc: Any, store: SnapshotStore, allowlist: Allowlist | None) -> None:
        self.toc = toc
        self.store = store
        self.allowlist = allowlist
        self.recovery_lock = _RECOVERY_LOCK

    @classmethod
    def from_settings(cls, toc: Any, settings: Any) -> SnapshotService:
        snapshots = Path(setting_at(settings, "storage.snapshots_path", "./snapshots"))
        temp = setting_at(settings, "storage.temp_path", None)
        temp_path = Path(temp) if temp else toc.storage_path / "snapshots_temp"
        entries = setting_at(settings, "storage.snapshots_config.recovery_url_allowlist", None)
        allowlist = Allowlist.parse(list(entries)) if entries is not None else None
        return cls(toc, SnapshotStore(snapshots, temp_path), allowlist)

    # ------------------------------------------------------------ collection snapshots

    def _collection_dir(self, name: str) -> Path:
        return self.store.collection_dir(self.toc.get(name).name)

    def create(self, name: str) -> dict[str, Any]:
        return col_snap.create_snapshot(self.toc, self.store, name)

    def list(self, name: str) -> list[dict[str, Any]]:
        return self.store.list(self._collection_dir(name))

    def path(self, name: str, snapshot: str) -> Path:
        return self.store.resolve(self._collection_dir(name), snapshot)

    def delete(self, name: str, snapshot: str) -> bool:
        return self.store.delete(self._collection_dir(name), snapshot)

    def recover(self, name: str, location: str, checksum: str | None = None,
                api_key: str | None = None) -> bool:
        with self.recovery_lock, fetch(self.store, location, api_key, self.allowlist,
                                       checksum) as path:
            return col_snap.recover_snapshot(self.toc, name, path)

    def recover_upload(self, name: str, upload: Path, sha256: str, filename: str | None,
                       checksum: str | None) -> bool:
        """Recover from an uploaded archive, then keep it in the collection's snapshots."""
        verify_checksum(sha256, checksum)
        with self.recovery_lock:
            col_snap.recover_snapshot(self.toc, name, upload)
        directory = self.store.collection_dir(name)
        self.store.adopt(upload, directory, _upload_name(filename), sha256)
        return True

    # ------------------------------------------------------------ full storage snapshots

    def create_full(self) -> dict[str, Any]:
        return full_snap.create_full_snapshot(self.toc, self.store)

    def list_full(self) -> list[dict[str, Any]]:
        return self.store.list(self.store.full_dir())

    def full_path(self, snapshot: str) -> Path:
        return self.store.resolve(self.store.full_dir(), snapshot)

    def delete_full(self, snapshot: str) -> bool:
        return self.store.delete(self.store.full_dir(), snapshot)

    # ------------------------------------------------------------ shard snapshots

    def _shard_dir(self, name: str, shard_id: int) -> Path:
        col, _shard = shard_snap.shard_of(self.toc, name, shard_id)
        return self.store.shard_dir(col.name, shard_id)

    def check_shard(self, name: str, shard_id: int) -> None:
        shard_snap.shard_of(self.toc, name, shard_id)

    def create_shard(self, name: str, shard_id: int) -> dict[str, Any]:
        return shard_snap.create_shard_snapshot(self.toc, self.store, name, shard_id)

    def list_shard(self, name: str, shard_id: int) -> list[dict[str, Any]]:
        return self.store.list(self._shard_dir(name, shard_id))

    def shard_path(self, name: str, shard_id: int, snapshot: str) -> Path:
        return self.store.resolve(self._shard_dir(name, shard_id), snapshot)

    def delete_shard(self, name: str, shard_id: int, snapshot: str) -> bool:
        return self.store.delete(self._shard_dir(name, shard_id), snapshot)

    def stream_shard(self, name: str, shard_id: int) -> Iterator[bytes]:
        return shard_snap.stream_shard_snapshot(self.toc, name, shard_id)

    def recover_shard(self, name: str, shard_id: int, location: str,
                      checksum: str | None = None, api_key: str | None = None) -> bool:
        if "://" not in location:  # a snapshot of this shard, by name
            location = self.shard_path(name, shard_id, location).as_uri()
        with self.recovery_lock, fetch(self.store, location, api_key, self.allowlist,
                                       checksum) as path:
            return shard_snap.recover_shard_snapshot(self.toc, name, shard_id, path)

    def recover_shard_upload(self, name: str, shard_id: int, upload: Path, sha256: str,
                             checksum: str | None) -> bool:
        verify_checksum(sha256, checksum)
        with self.recovery_lock:
            return shard_snap.recover_shard_snapshot(self.toc, name, shard_id, upload)

    # ------------------------------------------------------------ partial shard snapshots

    def partial_manifest(self, name: str, shard_id: int) -> dict[str, Any]:
        return partial_snap.get_manifest(self.toc, name, shard_id)

    def create_partial(self, name: str, shard_id: int, manifest: Any) -> Iterator[bytes]:
        return partial_snap.create_partial(self.toc, name, shard_id, manifest)

    def recover_partial_upload(self, name: str, shard_id: int, upload: Path, sha256: str,
                               checksum: str | None) -> bool:
        verify_checksum(sha256, checksum)
        with self.recovery_lock:
            return partial_snap.recover_partial(self.toc, name, shard_id, upload)


def _upload_name(filename: str | None) -> str:
    """The uploaded file's base name if it is a safe snapshot name, else a fresh one."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    try:
        check_snapshot_name(base)
    except BadRequest:
        base = uuid.uuid4().hex
    return base if base.endswith(".snapshot") else base + ".snapshot"

