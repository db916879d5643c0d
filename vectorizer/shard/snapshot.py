"""A shard's point-in-time file set for snapshots, and opening a recovered shard directory.

`pinned_files` flushes the shard under its lock (so its files on disk hold
exactly the operations applied so far, and the WAL is not needed), then pins
the segment directories of that flush: later flushes and optimizations write
new directories and leave pinned ones alone until the snapshot has read them.
Segment directories are never modified once written, so the files stay
consistent while writes and searches go on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from vectorizer.shard.local_shard import STATE_FILE, LocalShard

_SEGMENT_DIR = re.compile(r"[0-9A-Za-z_-]{1,128}")


@dataclass
class ShardFiles:
    """What a shard snapshot holds: the state file's bytes and the segment files."""

    shard_id: int
    op_num: int
    state: bytes  # shard_state.json as of the pinned flush
    files: list[tuple[str, Path]]  # (path relative to the shard directory, file on disk)


def capture(shard: LocalShard) -> tuple[ShardFiles, list[str]]:
    """Flush and pin the shard's segments; call with the shard's lock held or not."""
    with shard.lock:
        for seg in shard.segments:
            if seg.dir_name is None:
                seg.dirty = True
        shard.flush()
        dirs = [seg.dir_name for seg in shard.segments]
        assert all(d is not None for d in dirs)
        names: list[str] = [d for d in dirs if d is not None]
        shard.pin(names)
        op_num = shard.flushed_op
    files: list[tuple[str, Path]] = []
    for name in names:
        base = shard.path / "segments" / name
        for root, subdirs, filenames in os.walk(base):
            subdirs.sort()
            for filename in sorted(filenames):
                path = Path(root, filename)
                files.append((path.relative_to(shard.path).as_posix(), path))
    state = orjson.dumps({"op_num": op_num, "segments": names})
    return ShardFiles(shard.shard_id, op_num, state, files), names


@contextmanager
def pinned_files(shard: LocalShard) -> Iterator[ShardFiles]:
    """The shard's files as of now, kept on disk while the caller reads them."""
    files, names = capture(shard)
    try:
        yield files
    finally:
        shard.unpin(names)


def validate_shard_dir(path: Path) -> None:
    """Check a recovered shard directory's state file names existing segment directories."""
    state = orjson.loads((path / STATE_FILE).read_bytes())
    int(state["op_num"])
    for name in state["segments"]:
        if not isinstance(name, str) or not _SEGMENT_DIR.fullmatch(name):
            raise ValueError(f"segment directory name {name!r} in {STATE_FILE} is invalid")
        if not (path / "segments" / name / "meta.json").is_file():
            raise ValueError(f"segment {name} listed in {STATE_FILE} is missing")
