"""Formula re-scoring (placeholder until the expression evaluator lands)."""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models

from vectorizer.common.errors import BadInput


def validate(query: models.FormulaQuery) -> None:
    raise BadInput("The `formula` query is not supported yet by this server")


def rescore(col: Any, query: models.FormulaQuery, sources: list[list[dict[str, Any]]],
            shard_key: Any) -> list[dict[str, Any]]:
    raise BadInput("The `formula` query is not supported yet by this server")
