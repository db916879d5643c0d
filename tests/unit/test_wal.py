"""The write-ahead log: ordering, group commit, rotation, truncation and damaged files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vectorizer.shard.wal import WalCorruption, WriteAheadLog


def _fill(wal: WriteAheadLog, n: int, size: int = 100) -> list[bytes]:
    payloads = [bytes([i % 251]) * size for i in range(n)]
    for p in payloads:
        wal.append(p)
    wal.sync_until(wal.last_op)
    return payloads


def test_append_read_reopen(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    payloads = _fill(wal, 50)
    assert [p for _o, p in wal.read_from(0)] == payloads
    assert [o for o, _p in wal.read_from(45)] == [46, 47, 48, 49, 50]
    wal.close()
    again = WriteAheadLog(tmp_path)
    assert again.last_op == 50
    assert again.append(b"x") == 51


def test_rotation_and_truncation(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, capacity_bytes=1)  # clamps to 1 MiB files
    payloads = _fill(wal, 40, size=100_000)
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 3
    wal.truncate_until(20)
    assert [o for o, _p in wal.read_from(20)] == list(range(21, 41))
    assert len(sorted(tmp_path.iterdir())) < len(files)
    wal.close()
    reopened = WriteAheadLog(tmp_path)
    assert [p for o, p in reopened.read_from(20)] == payloads[20:]


def test_torn_tail_is_truncated(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    _fill(wal, 10)
    wal.close()
    (path,) = tmp_path.iterdir()
    data = path.read_bytes()
    path.write_bytes(data[:-37])  # the last record is cut in half
    reopened = WriteAheadLog(tmp_path)
    assert reopened.last_op == 9
    assert path.stat().st_size < len(data) - 37 + 1
    assert reopened.append(b"new") == 10
    reopened.sync_until(10)
    assert [o for o, _p in reopened.read_from(0)][-1] == 10


def test_zeroed_tail_is_truncated(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    _fill(wal, 5)
    wal.close()
    (path,) = tmp_path.iterdir()
    with open(path, "ab") as fh:
        fh.write(b"\0" * 4096)
    assert WriteAheadLog(tmp_path).last_op == 5


def test_corruption_before_valid_records_stops(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    _fill(wal, 10)
    wal.close()
    (path,) = tmp_path.iterdir()
    data = bytearray(path.read_bytes())
    data[300] ^= 0xFF  # inside the 3rd record; intact records follow
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruption, match="corrupt"):
        WriteAheadLog(tmp_path)


def test_group_commit_serves_concurrent_writers(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    lock = threading.Lock()

    def writer() -> None:
        for _ in range(200):
            with lock:
                op = wal.append(b"p" * 64)
            wal.sync_until(op)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wal.last_op == 800
    assert [o for o, _p in wal.read_from(0)] == list(range(1, 801))
