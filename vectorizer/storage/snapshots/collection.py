"""Collection snapshots: a consistent archive of a collection, and recovery from one.

Creation holds the collection's update lock while each shard flushes and pins
its segment files (`shard.snapshot.capture`): no update is then half-applied
across shards, and every update acknowledged before the call is in the files.
The lock is released before the (long) archiving, which reads pinned files
while writes and searches continue.

Recovery unpacks the archive into a hidden staging directory under the
collections directory, checks every file against the manifest, opens the
result once as a collection, and only then swaps it in atomically.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson

from vectorizer.collection import config as cfg
from vectorizer.collection.collection import Collection
from vectorizer.common.errors import BadRequest
from vectorizer.shard import snapshot as shard_snapshot
from vectorizer.storage.snapshots.archive import (
    MANIFEST_NAME,
    ArchiveWriter,
    fsync_tree,
    remove_tree,
    safe_extract,
)
from vectorizer.storage.snapshots.manifest import (
    CollectionEntry,
    Manifest,
    parse_manifest,
    verify_files,
)
from vectorizer.storage.snapshots.store import SnapshotStore, timestamp

COLLECTION_DIR = "collection"


@contextmanager
def pinned_collection(col: Collection) -> Iterator[tuple[dict[str, Any],
                                                         list[shard_snapshot.ShardFiles]]]:
    """The collection's metadata and every shard's pinned files, as of one instant."""
    with ExitStack() as stack:
        with col.update_lock:
            with col.lock:
                meta = copy.deepcopy({"config": col.config, "created_at": col.created_at,
                                      "shards": sorted(col.shards),
                                      "shard_keys": col.shard_keys})
                shards = [col.shards[s] for s in sorted(col.shards)]
            captured = [stack.enter_context(shard_snapshot.pinned_files(s)) for s in shards]
        yield meta, captured


def shard_list(col_meta: dict[str, Any]) -> list[dict[str, Any]]:
    keys = {sid: orjson.loads(k) for k, ids in col_meta.get("shard_keys", {}).items()
            for sid in ids}
    return [{"id": sid, "key": keys.get(sid)} for sid in col_meta["shards"]]


def write_collection(writer: ArchiveWriter, directory: str, name: str, meta: dict[str, Any],
                     shards: list[shard_snapshot.ShardFiles]) -> CollectionEntry:
    """Add a collection's metadata and shard files under `directory/` of the archive."""
    writer.add_bytes(f"{directory}/collection.json", orjson.dumps(meta))
    for sf in shards:
        writer.add_bytes(f"{directory}/{sf.shard_id}/shard_state.json", sf.state)
        for rel, path in sf.files:
            writer.add_file(f"{directory}/{sf.shard_id}/{rel}", path)
    return CollectionEntry(name, directory, meta, shard_list(meta))


def create_snapshot(toc: Any, store: SnapshotStore, name: str) -> dict[str, Any]:
    """`POST /collections/{name}/snapshots`: write, publish and describe a new snapshot."""
    col = toc.get(name)
    directory = store.collection_dir(col.name)
    directory.mkdir(parents=True, exist_ok=True)
    snap_name = store.unique_name(directory, f"{col.name}-{toc.peer_id}-{timestamp()}")
    with pinned_collection(col) as (meta, shards), store.writing(directory, snap_name) as tmp:
        with open(tmp, "wb", buffering=0) as fh:
            writer = ArchiveWriter(fh)
            entry = write_collection(writer, COLLECTION_DIR, col.name, meta, shards)
            manifest = Manifest("collection", toc.peer_id, [entry], list(writer.entries))
            writer.add_bytes(MANIFEST_NAME, manifest.to_bytes(), record=False)
            checksum = writer.close()
        return store.publish(tmp, directory, snap_name, checksum)


# ------------------------------------------------------------------------------ recovery


def vectors_signature(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a vector config a snapshot must agree on to replace a collection."""
    dense = {name: {"size": p.get("size"), "distance": p.get("distance"),
                    "multivector": p.get("multivector_config"),
                    "datatype": p.get("datatype") or "float32"}
             for name, p in cfg.named_dense_params(config).items()}
    sparse = sorted(cfg.sparse_params(config))
    return {"vectors": dense, "sparse_vectors": sparse}


def check_compatible(existing: dict[str, Any], snapshot: dict[str, Any], what: str) -> None:
    mine, theirs = vectors_signature(existing), vectors_signature(snapshot)
    if mine != theirs:
        raise BadRequest(
            f"Snapshot is not compatible with the existing {what}: its vectors are "
            f"{orjson.dumps(theirs).decode()}, the {what}'s are {orjson.dumps(mine).decode()}")


def unpack(archive: Path, staging: Path, kind: str) -> tuple[Manifest, Path]:
    """Extract and verify `archive` into `staging/archive`; return its manifest and root."""
    root = staging / "archive"
    root.mkdir(parents=True)
    extracted = safe_extract(archive, root)
    manifest = parse_manifest(extracted.manifest)
    verify_files(manifest, extracted)
    if manifest.kind != kind:
        raise BadRequest(f"Invalid snapshot: this is a {manifest.kind} snapshot, "
                         f"not a {kind} snapshot")
    return manifest, root


def prepare_collection_dir(root: Path, entry: CollectionEntry, name: str) -> Path:
    """Check one unpacked collection and make its directory loadable as `name`."""
    col_dir = root / entry.dir
    meta_path = col_dir / "collection.json"
    if not meta_path.is_file():
        raise BadRequest(f"Invalid snapshot: {entry.dir}/collection.json is missing")
    meta = orjson.loads(meta_path.read_bytes())
    if meta != entry.meta:
        raise BadRequest("Invalid snapshot: collection.json differs from the manifest")
    shard_ids = sorted(int(s) for s in meta["shards"])
    try:
        for sid in shard_ids:
            shard_snapshot.validate_shard_dir(col_dir / str(sid))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"Invalid snapshot: shard files are inconsistent ({exc})") from None
    (col_dir / "name").write_bytes(orjson.dumps(name))
    try:
        Collection.open(name, col_dir).close()
    except Exception as exc:
        raise BadRequest(f"Invalid snapshot: the collection does not load ({exc})") from None
    fsync_tree(col_dir)
    return col_dir


def recover_snapshot(toc: Any, name: str, archive: Path) -> bool:
    """Replace (or create) collection `name` with the snapshot at `archive`, atomically."""
    from vectorizer.storage.toc import validate_collection_name

    validate_collection_name(name)
    staging = toc.collections_path / f".tmp-recover-{uuid.uuid4().hex}"
    try:
        manifest, root = unpack(archive, staging, "collection")
        if len(manifest.collections) != 1:
            raise BadRequest("Invalid snapshot: a collection snapshot holds one collection")
        entry = manifest.collections[0]
        with toc.lock:
            if name in toc.collections:
                check_compatible(toc.collections[name].config, entry.config, "collection")
        col_dir = prepare_collection_dir(root, entry, name)
        toc.install_collection(name, col_dir)
    finally:
        remove_tree(staging)
    return True
