"""Making files on disk durable: fsync a directory (after a rename) or a whole tree."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or file creation inside `path` durable."""
    _fsync_path(str(path))


def fsync_tree(directory: Path) -> None:
    """fsync every file and directory under `directory` (the directory included)."""
    for root, _dirs, names in os.walk(directory):
        for name in names:
            _fsync_path(os.path.join(root, name))
        _fsync_path(root)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
