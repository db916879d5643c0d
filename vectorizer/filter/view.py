"""What the filter compiler needs to see of a segment.

`segment.Segment` implements this protocol; tests may use any object that does.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from vectorizer.index.payload.base import FieldIndex

PointId = int | str  # unsigned 64-bit integer, or a UUID in hyphenated lower-case form


class SegmentView(Protocol):
    """Read-only access to one segment's points by dense internal offset."""

    @property
    def num_offsets(self) -> int:
        """Offsets run from 0 to num_offsets-1; some may be deleted."""

    def alive_mask(self) -> np.ndarray:
        """Bool mask of length num_offsets: True where the offset holds a live point."""

    def payload_at(self, offset: int) -> dict[str, Any]:
        """The payload of `offset` ({} when it has none)."""

    def point_id_at(self, offset: int) -> PointId:
        """The external id stored at `offset`."""

    def offset_of(self, point_id: PointId) -> int | None:
        """The live offset holding `point_id`, or None."""

    def offsets_of(self, point_ids: list[PointId]) -> np.ndarray:
        """The live offsets (int64) of those of `point_ids` the segment holds."""

    def vector_present_mask(self, vector_name: str) -> np.ndarray | None:
        """Bool mask of offsets that hold a vector under `vector_name`; None if no such vector."""

    def field_index(self, key: str) -> FieldIndex | None:
        """The payload index on exactly this key path, if one exists."""
