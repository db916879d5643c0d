"""The manifest inside every snapshot archive: what it is, and what each file must hold.

```json
{"format": "vectorizer-snapshot", "version": 1, "kind": "collection",
 "created_at": "2026-01-01T00:00:00Z", "peer_id": 1,
 "collections": [{"name": "books", "dir": "collections/0",
                  "config": {...}, "shards": [{"id": 0, "key": null}]}],
 "aliases": {"alias": "books"},
 "files": [{"path": "collections/0/0/segments/…/meta.json", "size": 1, "crc32": "…"}]}
```

`kind` is `collection`, `shard` (one collection entry with one shard) or
`full` (every collection, and the aliases).  The manifest is the archive's
last member, so file checksums (crc32) are computed while the files stream in;
the archive as a whole is covered by the sha256 in its `.checksum` file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from vectorizer.common.errors import BadRequest
from vectorizer.storage.snapshots.archive import Extracted, FileEntry, check_member_name

FORMAT = "vectorizer-snapshot"
VERSION = 1
KINDS = ("collection", "shard", "full")


@dataclass
class CollectionEntry:
    """One collection in a snapshot: where its files are in the archive, and its metadata."""

    name: str
    dir: str
    meta: dict[str, Any]  # collection.json: config, created_at, shards, shard_keys
    shards: list[dict[str, Any]]  # [{"id": 0, "key": null}, ...]

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dir": self.dir, "meta": self.meta, "shards": self.shards}


@dataclass
class Manifest:
    """The parsed manifest of a snapshot archive."""

    kind: str
    peer_id: int
    collections: list[CollectionEntry]
    files: list[FileEntry]
    aliases: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"))

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "format": FORMAT, "version": VERSION, "kind": self.kind,
            "created_at": self.created_at, "peer_id": self.peer_id,
            "collections": [c.to_json() for c in self.collections],
            "aliases": self.aliases,
            "files": [f.to_json() for f in self.files],
        }, option=orjson.OPT_INDENT_2)


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Invalid snapshot: {message}")


def parse_manifest(raw: bytes | None) -> Manifest:
    """Parse and shape-check a manifest; anything unexpected is a 400."""
    if raw is None:
        raise _bad("the archive has no manifest.json (is it a Vectorizer snapshot?)")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"manifest.json is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad("manifest.json is not a Vectorizer snapshot manifest")
    if data.get("version") != VERSION:
        raise _bad(f"snapshot format version {data.get('version')!r} is not supported "
                   f"(this server reads version {VERSION})")
    kind = data.get("kind")
    if kind not in KINDS:
        raise _bad(f"unknown snapshot kind {kind!r}")
    try:
        collections = [CollectionEntry(str(c["name"]), check_member_name(str(c["dir"])),
                                       dict(c["meta"]), list(c["shards"]))
                       for c in data.get("collections", [])]
        files = [FileEntry(check_member_name(str(f["path"])), int(f["size"]), str(f["crc32"]))
                 for f in data.get("files", [])]
        aliases = {str(k): str(v) for k, v in (data.get("aliases") or {}).items()}
        for col in collections:
            if not isinstance(col.meta.get("config"), dict) or \
                    not isinstance(col.meta.get("shards"), list):
                raise ValueError(f"collection {col.name!r} has no config or shard list")
            for shard in col.shards:
                int(shard["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"malformed manifest.json ({exc})") from None
    return Manifest(kind, int(data.get("peer_id") or 0), collections, files, aliases,
                    str(data.get("created_at") or ""))


def verify_files(manifest: Manifest, extracted: Extracted) -> None:
    """Every listed file is there with its size and crc32, and nothing else is."""
    listed = {f.path: f for f in manifest.files}
    if len(listed) != len(manifest.files):
        raise _bad("manifest.json lists a file twice")
    missing = sorted(set(listed) - set(extracted.files))
    extra = sorted(set(extracted.files) - set(listed))
    if missing:
        raise _bad(f"file {missing[0]!r} listed in the manifest is missing from the archive")
    if extra:
        raise _bad(f"file {extra[0]!r} in the archive is not listed in the manifest")
    for path, want in listed.items():
        got = extracted.files[path]
        if got.size != want.size:
            raise _bad(f"file {path!r} holds {got.size} bytes, the manifest says {want.size}")
        if got.crc32 != want.crc32:
            raise _bad(f"file {path!r} is corrupted (crc32 {got.crc32} does not match the "
                       f"manifest's {want.crc32})")
