"""Maximal marginal relevance re-ranking, as Qdrant's `nearest` query with `mmr`.

Relevance and pairwise similarities are the collection's raw scores (cosine and
dot products, negated squared Euclid and Manhattan distances).  The first pick is
the most relevant candidate; each next pick maximises
`lambda * relevance - (1 - lambda) * max similarity to the picks so far`, with
`lambda = 1 - diversity`.  Ties resolve as Qdrant's (an index set with
`swap_remove`, the last maximum wins).  Points keep their original scores.
"""

from __future__ import annotations

import numpy as np

from vectorizer.collection.recommend import _core_scores
from vectorizer.common.errors import BadInput
from vectorizer.index import distance as dist


def _last_argmax(values: np.ndarray) -> int:
    return int(len(values) - 1 - np.argmax(values[::-1]))


def similarity_matrix(vectors: np.ndarray, distance: str) -> np.ndarray:
    """Raw pairwise similarities of (prepared) candidate vectors."""
    if distance in (dist.COSINE, dist.DOT):
        return vectors @ vectors.T
    # Euclid and Manhattan from differences, row by row (the expanded form loses precision)
    return np.stack([_core_scores(vectors, row, distance) for row in vectors])


def mmr_order(vectors: np.ndarray, query: np.ndarray, distance: str, diversity: float,
              limit: int) -> list[int]:
    """Positions of the dense candidates MMR selects, in selection order."""
    if len(vectors) == 0:
        return mmr_select(np.zeros(0, np.float32), np.zeros((0, 0), np.float32), diversity,
                          limit)
    vectors = vectors.astype(np.float32, copy=False)
    relevance = _core_scores(vectors, dist.prepare_query(query, distance), distance)
    return mmr_select(relevance, similarity_matrix(vectors, distance), diversity, limit)


def mmr_select(relevance: np.ndarray, sims: np.ndarray, diversity: float,
               limit: int) -> list[int]:
    """MMR over candidates given their raw relevance to the query and `sims[i, j]`, the
    raw similarity of candidate i (as a query) to candidate j."""
    if not 0.0 <= diversity <= 1.0:
        raise BadInput("MMR diversity must be between 0.0 and 1.0")
    n = len(relevance)
    if n == 0 or limit <= 0:
        return []
    if n < 2:
        return [0]
    lam = np.float32(1.0 - diversity)
    relevance = np.asarray(relevance, dtype=np.float32)
    sims = np.asarray(sims, dtype=np.float32)
    pending = list(range(n))
    first = _last_argmax(relevance)
    pending[first] = pending[-1]
    pending.pop()
    selected = [first]
    best_sim = sims[:, first].copy()
    while len(selected) < limit and pending:
        idx = np.asarray(pending)
        scores = lam * relevance[idx] - (np.float32(1.0) - lam) * best_sim[idx]
        pos = _last_argmax(scores)
        chosen = pending[pos]
        pending[pos] = pending[-1]
        pending.pop()
        selected.append(chosen)
        np.maximum(best_sim, sims[:, chosen], out=best_sim)
    return selected
