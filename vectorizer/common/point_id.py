"""Point ids: unsigned 64-bit integers or UUIDs, normalised as Qdrant returns them."""

from __future__ import annotations

import uuid

PointId = int | str
MAX_POINT_ID = 2**64 - 1


def normalize_point_id(value: object) -> PointId:
    """Return the canonical form of a point id or raise ValueError.

    Integers must fit in u64; strings must be UUIDs in any spelling Rust's
    `uuid` crate parses (hyphenated, simple, urn, braced) and come back
    hyphenated lower-case.
    """
    if isinstance(value, bool):
        raise ValueError(f"Unable to parse point id: {value!r}")
    if isinstance(value, int):
        if 0 <= value <= MAX_POINT_ID:
            return value
        raise ValueError(f"Point id {value} is out of range: must be an unsigned 64-bit integer")
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(
                f"Unable to parse UUID: {value}"
            ) from None
    if isinstance(value, uuid.UUID):
        return str(value)
    raise ValueError(f"Unable to parse point id: {value!r}")


def point_id_sort_key(point_id: PointId) -> tuple[int, int | str]:
    """Qdrant orders integer ids before UUIDs, each in natural order."""
    if isinstance(point_id, int):
        return (0, point_id)
    return (1, uuid.UUID(point_id).int)
