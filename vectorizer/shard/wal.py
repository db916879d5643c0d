"""The shard's write-ahead log: numbered files of checksummed records, group-committed.

Record layout: `<u32 length><u32 crc32><u64 op_num>` then `length` payload
bytes; the crc covers op_num and payload.  Files are named by the op number of
their first record and rotate past `capacity_bytes`.  `sync_until` makes a
record durable; concurrent callers share one fsync (group commit).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from vectorizer.common.durable import fsync_dir

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IIQ")
_SUFFIX = ".wal"


class WalCorruption(Exception):
    """A damaged record before the tail of the log: startup must stop."""


def _crc(op_num: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(op_num.to_bytes(8, "little")))


class WriteAheadLog:
    """Append-only, crash-safe log of one shard's update operations."""

    def __init__(self, directory: Path, capacity_bytes: int = 32 * 1024 * 1024) -> None:
        self.directory = directory
        self.capacity_bytes = max(capacity_bytes, 1024 * 1024)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._files: list[tuple[int, Path]] = []  # (first op_num, path), ascending
        self._fd: int | None = None
        self._size = 0
        self._last_op = 0
        self._written_op = 0
        self._synced_op = 0
        self._recover()

    # ------------------------------------------------------------ recovery

    def _scan_file(self, path: Path, is_last: bool) -> tuple[list[int], int]:
        """Validate a file; return its op numbers and the byte length of its valid prefix."""
        data = path.read_bytes()
        ops: list[int] = []
        pos = 0
        while pos < len(data):
            end_header = pos + _HEADER.size
            if end_header > len(data):
                break  # torn header
            length, crc, op_num = _HEADER.unpack_from(data, pos)
            end = end_header + length
            if end > len(data):
                break  # torn payload
            if _crc(op_num, data[end_header:end]) != crc:
                if is_last and self._nothing_valid_after(data, end):
                    break
                raise WalCorruption(
                    f"WAL file {path} is corrupt at byte {pos} (checksum mismatch) "
                    "and valid records follow; refusing to start to avoid losing data"
                )
            ops.append(op_num)
            pos = end
        if pos < len(data) and not is_last:
            raise WalCorruption(f"WAL file {path} is truncated at byte {pos}")
        return ops, pos

    @staticmethod
    def _nothing_valid_after(data: bytes, pos: int) -> bool:
        """True if no intact record starts at `pos` (so the damage is a torn tail)."""
        if pos + _HEADER.size > len(data):
            return True
        length, crc, op_num = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if end > len(data):
            return True
        return _crc(op_num, data[pos + _HEADER.size : end]) != crc

    def _recover(self) -> None:
        paths = sorted(self.directory.glob(f"*{_SUFFIX}"), key=lambda p: int(p.stem))
        for i, path in enumerate(paths):
            is_last = i == len(paths) - 1
            ops, valid = self._scan_file(path, is_last)
            if is_last and valid < path.stat().st_size:
                log.warning(
                    "WAL %s: torn tail of %d bytes truncated after op %s",
                    path, path.stat().st_size - valid, ops[-1] if ops else "none",
                )
                with open(path, "r+b") as fh:
                    fh.truncate(valid)
                    fh.flush()
                    os.fsync(fh.fileno())
            if not ops and is_last and i > 0:
                path.unlink()
                continue
            self._files.append((int(path.stem), path))
            if ops:
                self._last_op = ops[-1]
        self._written_op = self._synced_op = self._last_op

    # ------------------------------------------------------------ writing

    @property
    def last_op(self) -> int:
        return self._last_op

    def set_floor(self, op_num: int) -> None:
        """Never number new records at or below `op_num` (the flushed state's position)."""
        if op_num > self._last_op:
            self._last_op = self._written_op = self._synced_op = op_num

    def _open_new_file(self, first_op: int) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
        path = self.directory / f"{first_op:020d}{_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self.directory)
        self._files.append((first_op, path))
        self._size = 0

    def append(self, payload: bytes) -> int:
        """Write a record (not yet durable) and return its op number.

        Callers that need ordering hold their own lock around append+apply.
        """
        with self._write_lock:
            op_num = self._last_op + 1
            if self._fd is None:
                if self._files:
                    _first, path = self._files[-1]
                    self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                    self._size = path.stat().st_size
                else:
                    self._open_new_file(op_num)
            if self._size >= self.capacity_bytes:
                self._open_new_file(op_num)
            record = _HEADER.pack(len(payload), _crc(op_num, payload), op_num) + payload
            view = memoryview(record)
            while view:  # os.write may write less than asked
                view = view[os.write(self._fd, view):]  # type: ignore[arg-type]
            self._size += len(record)
            self._last_op = self._written_op = op_num
            return op_num

    def sync_until(self, op_num: int) -> None:
        """Block until every record up to `op_num` is on disk; one fsync serves many callers."""
        if self._synced_op >= op_num:
            return
        with self._sync_lock:
            if self._synced_op >= op_num:
                return
            with self._write_lock:
                target = self._written_op
                fd = os.dup(self._fd) if self._fd is not None else None
            if fd is not None:
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            self._synced_op = max(self._synced_op, target)

    # ------------------------------------------------------------ reading

    def read_from(self, after_op: int) -> Iterator[tuple[int, bytes]]:
        """Yield (op_num, payload) for every record with op_num > after_op, in order."""
        with self._write_lock:
            files = list(self._files)
        for idx, (_first, path) in enumerate(files):
            nxt = files[idx + 1][0] if idx + 1 < len(files) else None
            if nxt is not None and nxt <= after_op + 1:
                continue
            data = path.read_bytes()
            pos = 0
            while pos + _HEADER.size <= len(data):
                length, _crc_value, op_num = _HEADER.unpack_from(data, pos)
                start = pos + _HEADER.size
                end = start + length
                if end > len(data):
                    break
                if op_num > after_op:
                    yield op_num, data[start:end]
                pos = end

    def truncate_until(self, op_num: int) -> None:
        """Drop whole files whose records are all <= op_num (they are flushed)."""
        with self._write_lock:
            keep: list[tuple[int, Path]] = []
            for idx, (first, path) in enumerate(self._files):
                nxt = self._files[idx + 1][0] if idx + 1 < len(self._files) else None
                if nxt is not None and nxt - 1 <= op_num:
                    path.unlink(missing_ok=True)
                else:
                    keep.append((first, path))
            self._files = keep

    def close(self) -> None:
        with self._write_lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            self._synced_op = self._written_op
