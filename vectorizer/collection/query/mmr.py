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
    """Positions of the candidates MMR selects, in selection order."""
    if not 0.0 <= diversity <= 1.0:
        raise BadInput("MMR diversity must be between 0.0 and 1.0")
    n = len(vectors)
    if n == 0 or limit <= 0:
        return []
    if n < 2:
        return [0]
    lam = np.float32(1.0 - diversity)
    vectors = vectors.astype(np.float32, copy=False)
    relevance = _core_scores(vectors, dist.prepare_query(query, distance),
                             distance).astype(np.float32)
    sims = similarity_matrix(vectors, distance).astype(np.float32)
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
