"""Full storage snapshots: every collection and alias of the node in one archive.

Each collection is captured as a collection snapshot captures it (under its own
update lock, one collection after another, as Qdrant does) and stored under
`collections/{i}/` of the archive; the manifest lists the collections by name
and the aliases.  Recovery happens at start-up (`--storage-snapshot`), as in
Qdrant: each collection is swapped in atomically, then the aliases are set.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from vectorizer.common.errors import AlreadyExists
from vectorizer.storage.snapshots import collection as col_snap
from vectorizer.storage.snapshots.archive import MANIFEST_NAME, ArchiveWriter, remove_tree
from vectorizer.storage.snapshots.manifest import Manifest
from vectorizer.storage.snapshots.store import SnapshotStore, timestamp

log = logging.getLogger(__name__)


def create_full_snapshot(toc: Any, store: SnapshotStore) -> dict[str, Any]:
    """`POST /snapshots`: every collection and alias, published under `snapshots_path`."""
    directory = store.full_dir()
    name = store.unique_name(directory, f"full-snapshot-{timestamp()}")
    with toc.lock:
        collections = [toc.collections[n] for n in sorted(toc.collections)]
        aliases = dict(toc.aliases)
    with ExitStack() as stack, store.writing(directory, name) as tmp:
        captured = [(col, *stack.enter_context(col_snap.pinned_collection(col)))
                    for col in collections]
        with open(tmp, "wb", buffering=0) as fh:
            writer = ArchiveWriter(fh)
            entries = [col_snap.write_collection(writer, f"collections/{i}", col.name, meta,
                                                 shards)
                       for i, (col, meta, shards) in enumerate(captured)]
            names = {e.name for e in entries}
            aliases = {a: t for a, t in aliases.items() if t in names}
            manifest = Manifest("full", toc.peer_id, entries, list(writer.entries), aliases)
            writer.add_bytes(MANIFEST_NAME, manifest.to_bytes(), record=False)
            checksum = writer.close()
        return store.publish(tmp, directory, name, checksum)


def recover_full_snapshot(toc: Any, archive: Path, force: bool) -> list[str]:
    """Bring back every collection and alias of a full snapshot; return the collection names.

    Without `force`, a collection or alias that already exists stops the recovery
    before anything is changed.
    """
    staging = toc.collections_path / f".tmp-recover-{uuid.uuid4().hex}"
    try:
        manifest, root = col_snap.unpack(archive, staging, "full")
        names = [entry.name for entry in manifest.collections]
        if not force:
            clash = [n for n in names if toc.exists(n)] + \
                [a for a in manifest.aliases if a in toc.aliases]
            if clash:
                raise AlreadyExists(f"`{clash[0]}` already exists; recover with "
                                    "--force-snapshot to replace it")
        for entry in manifest.collections:
            with toc.lock:
                if entry.name in toc.aliases:
                    del toc.aliases[entry.name]
                    toc._save_aliases()
            col_dir = col_snap.prepare_collection_dir(root, entry, entry.name)
            toc.install_collection(entry.name, col_dir)
            log.info("Recovered collection %s from full snapshot %s", entry.name, archive)
        with toc.lock:
            aliases = dict(toc.aliases)
            aliases.update(manifest.aliases)
            toc.aliases = {a: t for a, t in aliases.items() if a not in toc.collections}
            toc._save_aliases()
        return names
    finally:
        remove_tree(staging)
