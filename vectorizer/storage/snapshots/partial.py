"""Partial shard snapshots: send only the segments a replica lacks, and apply them.

Segment directories are immutable once written and named by a fresh uuid, so a
segment directory of the same name holds the same files on both sides.  The
manifest (`GET …/snapshot/partial/manifest`) lists a shard's segment
directories and their files (`file_versions`: path → size, as Qdrant's
manifest maps paths to versions).  `POST …/snapshot/partial/create` with a
replica's manifest streams an archive holding the shard state and only the
segment directories the replica does not have; `POST …/snapshot/partial/recover`
applies such an archive: segments it carries come from the archive, the
others are hard-linked from the local shard, and the result is swapped in as
a whole shard is.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from vectorizer.common.errors import BadRequest, VectorizerError
from vectorizer.shard import snapshot as shard_snapshot
from vectorizer.shard.local_shard import STATE_FILE
from vectorizer.storage.snapshots import collection as col_snap
from vectorizer.storage.snapshots.archive import (
    MANIFEST_NAME,
    ArchiveWriter,
    remove_tree,
)
from vectorizer.storage.snapshots.manifest import CollectionEntry, Manifest
from vectorizer.storage.snapshots.shard import (
    SHARD_DIR,
    shard_of,
    stream_archive,
    swap_in_shard,
)


class EmptyPartialSnapshot(VectorizerError):
    """The replica already has every segment (Qdrant answers 304)."""

    status_code = 304
    prefix = ""
    grpc_code = "ALREADY_EXISTS"


def segment_manifest(files: shard_snapshot.ShardFiles) -> dict[str, Any]:
    """Qdrant-shaped manifest: {segment: {segment_id, segment_version, file_versions}}."""
    state = orjson.loads(files.state)
    out: dict[str, Any] = {}
    for name in state["segments"]:
        out[name] = {"segment_id": name, "segment_version": files.op_num, "file_versions": {}}
    prefix_len = len("segments/")
    for rel, path in files.files:
        seg, _, inner = rel[prefix_len:].partition("/")
        out[seg]["file_versions"][inner] = path.stat().st_size
    return out


def get_manifest(toc: Any, name: str, shard_id: int) -> dict[str, Any]:
    _col, shard = shard_of(toc, name, shard_id)
    with shard_snapshot.pinned_files(shard) as files:
        return segment_manifest(files)


def _theirs(manifest: Any) -> set[str]:
    if not isinstance(manifest, dict):
        raise BadRequest("Invalid partial snapshot manifest: expected a JSON object of "
                         "segments")
    return {str(k) for k in manifest}


def create_partial(toc: Any, name: str, shard_id: int, manifest: Any) -> Iterator[bytes]:
    """Stream a partial snapshot holding the segments `manifest` lacks (or 304)."""
    have = _theirs(manifest)
    col, shard = shard_of(toc, name, shard_id)
    with shard_snapshot.pinned_files(shard) as probe:
        mine = set(orjson.loads(probe.state)["segments"])
    if mine == have:
        raise EmptyPartialSnapshot(f"Partial snapshot for shard {shard_id} contains no "
                                   "changes")

    def write(writer: ArchiveWriter) -> None:
        with col.lock:
            meta = orjson.loads(orjson.dumps({
                "config": col.config, "created_at": col.created_at, "shards": [shard_id],
                "shard_keys": {k: [shard_id] for k, ids in col.shard_keys.items()
                               if shard_id in ids}}))
        with shard_snapshot.pinned_files(shard) as files:
            writer.add_bytes(f"{SHARD_DIR}/{STATE_FILE}", files.state)
            for rel, path in files.files:
                if rel.split("/")[1] not in have:
                    writer.add_file(f"{SHARD_DIR}/{rel}", path)
        entry = CollectionEntry(col.name, SHARD_DIR, dict(meta, partial=True),
                                col_snap.shard_list(meta))
        out = Manifest("shard", toc.peer_id, [entry], list(writer.entries))
        writer.add_bytes(MANIFEST_NAME, out.to_bytes(), record=False)

    return stream_archive(write)


def recover_partial(toc: Any, name: str, shard_id: int, archive: Path) -> bool:
    """Apply a partial snapshot to the local shard, atomically."""
    col, shard = shard_of(toc, name, shard_id)
    staging = col.path / f".tmp-shard-{uuid.uuid4().hex}"
    try:
        manifest, root = col_snap.unpack(archive, staging, "shard")
        entry = manifest.collections[0]
        col_snap.check_compatible(col.config, entry.config, "collection")
        new_dir = root / entry.dir
        state = orjson.loads((new_dir / STATE_FILE).read_bytes())
        with shard_snapshot.pinned_files(shard) as local:
            local_dirs = set(orjson.loads(local.state)["segments"])
            for seg in state["segments"]:
                target = new_dir / "segments" / str(seg)
                if target.exists():
                    continue
                if seg not in local_dirs:
                    raise BadRequest(f"Partial snapshot needs segment {seg}, which this shard "
                                     "does not have: recover a full shard snapshot instead")
                _link_tree(shard.path / "segments" / seg, target)
            swap_in_shard(col, shard_id, new_dir)
    finally:
        remove_tree(staging)
    return True


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link (or copy, across filesystems) the files of `source` into `target`."""
    for dirpath, _dirs, names in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for filename in names:
            src, dst = Path(dirpath, filename), target / rel / filename
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
