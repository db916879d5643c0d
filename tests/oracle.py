"""The server against qdrant-client's local mode (the oracle): same data, same request,
same answer.  Test modules load the oracle's copy of their data as collection `o`."""

from __future__ import annotations

from typing import Any

import numpy as np
from qdrant_client import QdrantClient

ORACLE_COLLECTION = "o"


def both(client: QdrantClient, oracle: QdrantClient, name: str, **kwargs: Any,
         ) -> tuple[list, list]:
    """`query_points` on the server's collection `name` and on the oracle's."""
    got = client.query_points(name, **kwargs).points
    want = oracle.query_points(ORACLE_COLLECTION, **kwargs).points
    return got, want


def same(got: list, want: list, tol: float = 1e-4, ids: bool = True) -> None:
    """Same points, order and scores (within float tolerance); `ids=False` compares only
    how many and their scores."""
    if ids:
        assert [p.id for p in got] == [p.id for p in want]
    else:
        assert len(got) == len(want)
    assert np.allclose([p.score for p in got], [p.score for p in want], rtol=tol, atol=tol)


def same_ranking(got: list, want: list, tol: float = 1e-5) -> None:
    """Same scores; ids compared where scores are not tied (local mode orders equal scores
    by descending internal index, Qdrant by id)."""
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=tol)
    scores = [round(p.score, 5) for p in want]
    for mine, theirs in zip(got, want, strict=True):
        if scores.count(round(theirs.score, 5)) == 1:
            assert mine.id == theirs.id
