"""UUID payload index: a keyword index over UUIDs in hyphenated lower-case form.

Payload strings that parse as UUIDs (any form Qdrant accepts: hyphenated,
simple, braced, urn) are normalised before indexing, and so are the operands
of `MatchValue` / `MatchAny` / `MatchExcept`.  An operand that is not a UUID
makes the index decline (None), so the caller scans the raw payload.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from qdrant_client.http import models

from vectorizer.index.payload.entry_index import Ids
from vectorizer.index.payload.keyword import KeywordIndex

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def normalize_uuid(value: Any) -> str | None:
    """`value` as a hyphenated lower-case UUID string, or None if it is not one."""
    if not isinstance(value, str):
        return None
    if len(value) == 36 and _CANONICAL.match(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class UuidIndex(KeywordIndex):
    """Inverted index over normalised UUID strings."""

    kind = "uuid"

    def _convert(self, value: Any) -> str | None:
        return normalize_uuid(value)

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        match = condition.match
        if isinstance(match, models.MatchValue | models.MatchAny | models.MatchExcept):
            return super()._match(condition)
        return None

    def _prefix_enabled(self) -> bool:
        return False
