"""The interface every payload field index implements.

A field index belongs to one segment and maps that segment's dense internal
offsets (0..n-1) to the values found under one payload key.  Offsets are the
only identity an index knows; the segment owns the mapping to point ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client.http import models


class FieldIndex(ABC):
    """One payload index over one key path inside one segment.

    `params` is the Qdrant schema for this field, always normalised to the
    params object (e.g. `KeywordIndexParams`), even when the user sent a bare
    type name such as `"keyword"`.
    """

    params: Any

    @abstractmethod
    def add(self, offset: int, values: list[Any]) -> None:
        """Index `values` (already extracted and flattened from the payload) for `offset`.

        Values of the wrong type for this index are skipped, as Qdrant does.
        Calling `add` for an offset that is already indexed replaces its values.
        """

    @abstractmethod
    def remove(self, offset: int) -> None:
        """Forget every value of `offset` (point deleted or payload changed)."""

    @abstractmethod
    def filter(self, condition: models.FieldCondition, n: int) -> np.ndarray | None:
        """Answer `condition` as a bool mask of length `n`, or None if this index cannot.

        None means the caller must fall back to scanning payloads.
        """

    @abstractmethod
    def points_count(self) -> int:
        """Number of offsets holding at least one indexed value (for `payload_schema`)."""

    @abstractmethod
    def values_count(self, offset: int) -> int:
        """Number of indexed values of `offset`."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the index into `directory` (which exists and is empty)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, params: Any) -> FieldIndex:
        """Read an index written by `save`."""
