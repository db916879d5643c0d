"""Recovery at start-up, before serving: Qdrant's `--snapshot PATH:NAME` and
`--storage-snapshot PATH` (with `--force-snapshot` to replace what exists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vectorizer.common.errors import AlreadyExists, BadRequest
from vectorizer.storage.snapshots.collection import recover_snapshot
from vectorizer.storage.snapshots.full import recover_full_snapshot


def recover_at_startup(settings: Any, collection_snapshots: list[str],
                       storage_snapshot: str | None, force: bool) -> list[str]:
    """Recover the given snapshots into the configured storage; return the collections."""
    from vectorizer.storage.toc import TableOfContents

    storage_path = Path(getattr(getattr(settings, "storage", None), "storage_path", None)
                        or "./storage")
    toc = TableOfContents(storage_path, settings)
    recovered: list[str] = []
    try:
        if storage_snapshot:
            path = Path(storage_snapshot)
            if not path.is_file():
                raise BadRequest(f"storage snapshot {path} is not a file")
            recovered += recover_full_snapshot(toc, path, force)
        for spec in collection_snapshots:
            location, sep, name = spec.rpartition(":")
            if not sep or not location or not name:
                raise BadRequest(f"--snapshot expects PATH:COLLECTION, got {spec!r}")
            if not Path(location).is_file():
                raise BadRequest(f"collection snapshot {location} is not a file")
            if toc.exists(name) and not force:
                raise AlreadyExists(f"Collection `{name}` already exists; use "
                                    "--force-snapshot to replace it")
            recover_snapshot(toc, name, Path(location))
            recovered.append(name)
    finally:
        toc.close()
    return recovered
