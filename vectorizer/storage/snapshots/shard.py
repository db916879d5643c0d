"""Shard snapshots: one shard's files, stored, streamed, or recovered into a live collection.

A shard snapshot carries the collection's metadata (so a recovery can check
that the target collection stores the same vectors) and the shard's state
file and segments.  Recovery swaps the shard directory atomically under the
collection's update lock; the other shards keep serving.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from vectorizer.collection import config as cfg
from vectorizer.common.durable import fsync_tree
from vectorizer.common.errors import BadRequest, NotFound
from vectorizer.shard import snapshot as shard_snapshot
from vectorizer.shard.local_shard import LocalShard
from vectorizer.storage.snapshots import collection as col_snap
from vectorizer.storage.snapshots.archive import (
    CHUNK,
    MANIFEST_NAME,
    ArchiveWriter,
    remove_tree,
    write_archive,
)
from vectorizer.storage.snapshots.fs import exchange_dirs
from vectorizer.storage.snapshots.manifest import CollectionEntry, Manifest
from vectorizer.storage.snapshots.store import SnapshotStore, timestamp

SHARD_DIR = "shard"


def shard_of(toc: Any, name: str, shard_id: int) -> tuple[Any, LocalShard]:
    col = toc.get(name)
    shard = col.shards.get(shard_id)
    if shard is None:
        raise NotFound(f"Shard {shard_id} does not exist")
    return col, shard


def write_shard(writer: ArchiveWriter, toc: Any, col: Any, shard: LocalShard) -> None:
    """The whole shard snapshot archive, manifest last."""
    with col.lock:
        meta = {"config": col.config, "created_at": col.created_at, "shards": [shard.shard_id],
                "shard_keys": {k: [shard.shard_id] for k, ids in col.shard_keys.items()
                               if shard.shard_id in ids}}
        meta = orjson.loads(orjson.dumps(meta))
    with shard_snapshot.pinned_files(shard) as files:
        writer.add_bytes(f"{SHARD_DIR}/shard_state.json", files.state)
        for rel, path in files.files:
            writer.add_file(f"{SHARD_DIR}/{rel}", path)
    entry = CollectionEntry(col.name, SHARD_DIR, meta, col_snap.shard_list(meta))
    manifest = Manifest("shard", toc.peer_id, [entry], list(writer.entries))
    writer.add_bytes(MANIFEST_NAME, manifest.to_bytes(), record=False)


def create_shard_snapshot(toc: Any, store: SnapshotStore, name: str,
                          shard_id: int) -> dict[str, Any]:
    col, shard = shard_of(toc, name, shard_id)
    directory = store.shard_dir(col.name, shard_id)
    snap = store.unique_name(directory,
                             f"{col.name}-shard-{shard_id}-{toc.peer_id}-{timestamp()}")
    with store.writing(directory, snap) as tmp:
        with open(tmp, "wb", buffering=0) as fh:
            checksum = write_archive(fh, lambda writer: write_shard(writer, toc, col, shard))
        return store.publish(tmp, directory, snap, checksum)


class _QueueFile:
    """A write-only file whose bytes go to a bounded queue (a streaming response reads it)."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None],
                 cancelled: threading.Event) -> None:
        self.chunks = chunks
        self.cancelled = cancelled
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        if self.cancelled.is_set():
            raise OSError("the client went away")
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            while not self.cancelled.is_set():
                try:
                    self.chunks.put(bytes(self._buffer), timeout=0.5)
                    break
                except queue.Full:
                    continue
            self._buffer.clear()


def stream_archive(write: Callable[[ArchiveWriter], None]) -> Iterator[bytes]:
    """Run `write` on a producer thread; yield the archive's bytes as they are made."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
    cancelled = threading.Event()

    def produce() -> None:
        try:
            out = _QueueFile(chunks, cancelled)
            write_archive(out, write)  # type: ignore[arg-type]
            out.flush()
            chunks.put(None)
        except BaseException as exc:
            if not cancelled.is_set():
                chunks.put(exc)

    def consume() -> Iterator[bytes]:
        thread = threading.Thread(target=produce, name="snapshot-stream", daemon=True)
        thread.start()
        try:
            while True:
                item = chunks.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()

    return consume()


def stream_shard_snapshot(toc: Any, name: str, shard_id: int) -> Iterator[bytes]:
    """`GET …/shards/{id}/snapshot`: a fresh shard snapshot, produced as it is sent."""
    col, shard = shard_of(toc, name, shard_id)
    return stream_archive(lambda writer: write_shard(writer, toc, col, shard))


def recover_shard_snapshot(toc: Any, name: str, shard_id: int, archive: Any) -> bool:
    """Replace shard `shard_id` of collection `name` with the shard in `archive`."""
    col, _shard = shard_of(toc, name, shard_id)
    staging = col.path / f".tmp-shard-{uuid.uuid4().hex}"
    try:
        manifest, root = col_snap.unpack(archive, staging, "shard")
        if len(manifest.collections) != 1:
            raise BadRequest("Invalid snapshot: a shard snapshot holds one shard")
        entry = manifest.collections[0]
        col_snap.check_compatible(col.config, entry.config, "collection")
        theirs = entry.shards[0].get("key") if entry.shards else None
        mine = col._key_of_shard(shard_id)
        if theirs is not None and mine is not None and theirs != mine:
            raise BadRequest(f"Snapshot is of a shard with shard key {theirs!r}, shard "
                             f"{shard_id} has shard key {mine!r}")
        swap_in_shard(col, shard_id, root / entry.dir)
    finally:
        remove_tree(staging)
    return True


def swap_in_shard(col: Any, shard_id: int, shard_dir: Path) -> None:
    """Put the shard in `shard_dir` in place of shard `shard_id` of `col`: check that it
    loads, make it durable, then exchange the directories under the collection's locks
    (the old shard's files end up in `shard_dir`, for the caller to remove)."""
    try:
        shard_snapshot.validate_shard_dir(shard_dir)
        LocalShard(shard_dir, shard_id, cfg.vector_specs(col.config)).close()
    except Exception as exc:
        raise BadRequest(f"Invalid snapshot: the shard does not load ({exc})") from None
    fsync_tree(shard_dir)
    with col.update_lock, col.lock:
        old = col.shards.get(shard_id)
        if old is None:
            raise NotFound(f"Shard {shard_id} does not exist")
        old.retire()
        exchange_dirs(shard_dir, old.path)
        col.shards[shard_id] = col._open_shard(shard_id)
