"""Which shard a point lives in: a stable hash of its id over the candidate shards."""

from __future__ import annotations

import uuid

from vectorizer.common.point_id import PointId

_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a fast, stable, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def point_hash(point_id: PointId) -> int:
    if isinstance(point_id, int):
        return _mix64(point_id)
    value = uuid.UUID(point_id).int
    return _mix64((value >> 64) ^ (value & _MASK64))


def shard_for(point_id: PointId, shard_ids: list[int]) -> int:
    """The shard among `shard_ids` (sorted) that owns `point_id`."""
    if len(shard_ids) == 1:
        return shard_ids[0]
    return shard_ids[point_hash(point_id) % len(shard_ids)]
