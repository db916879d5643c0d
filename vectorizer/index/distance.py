"""Qdrant's distances and score conventions for dense vectors, vectorised with numpy.

Cosine and Dot are similarities (bigger is better; cosine vectors are stored
normalised, so cosine is a dot product).  Euclid and Manhattan are reported as
distances (smaller is better), and `score_threshold` applies in that direction.
"""

from __future__ import annotations

import numpy as np

COSINE, DOT, EUCLID, MANHATTAN = "Cosine", "Dot", "Euclid", "Manhattan"

# Rows scored per block: bounds the float32 temporaries of float16/uint8 storages.
_BLOCK = 65_536


def higher_is_better(distance: str) -> bool:
    return distance in (COSINE, DOT)


def prepare_query(query: np.ndarray, distance: str) -> np.ndarray:
    """The query as it is compared with stored vectors (cosine queries are normalised)."""
    query = np.asarray(query, dtype=np.float32)
    if distance == COSINE:
        norm = float(np.linalg.norm(query))
        if norm > 0:
            query = query / norm
    return query


def _block_scores(block: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
    block = block.astype(np.float32, copy=False)
    if distance in (COSINE, DOT):
        return block @ query
    diff = block - query
    if distance == EUCLID:
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return np.abs(diff).sum(axis=1)


def scores(data: np.ndarray, rows: np.ndarray | None, query: np.ndarray,
           distance: str) -> np.ndarray:
    """Scores of `data[rows]` (all rows when `rows` is None) against a prepared query."""
    n = data.shape[0] if rows is None else len(rows)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        end = min(start + _BLOCK, n)
        block = data[start:end] if rows is None else data[rows[start:end]]
        out[start:end] = _block_scores(block, query, distance)
    return out


def dot_scores_many(data: np.ndarray, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(queries by rows) dot products with `data[rows]`: one matrix product per block."""
    out = np.empty((len(queries), len(rows)), dtype=np.float32)
    q = np.asarray(queries, dtype=np.float32)
    for start in range(0, len(rows), _BLOCK):
        block = data[rows[start:start + _BLOCK]].astype(np.float32, copy=False)
        out[:, start:start + len(block)] = q @ block.T
    return out


def top_k(values: np.ndarray, k: int, distance: str) -> np.ndarray:
    """Positions of the best `k` values, best first (ties keep their original order)."""
    if k <= 0 or not len(values):
        return np.zeros(0, dtype=np.int64)
    keys = -values if higher_is_better(distance) else values
    if len(keys) > k:
        part = np.argpartition(keys, k - 1)[:k]
        return part[np.argsort(keys[part], kind="stable")]
    return np.argsort(keys, kind="stable")


def passes_threshold(values: np.ndarray, threshold: float | None, distance: str) -> np.ndarray:
    """Mask of scores that meet Qdrant's `score_threshold` (>= for similarities, <= else)."""
    if threshold is None:
        return np.ones(len(values), dtype=bool)
    if higher_is_better(distance):
        return values >= threshold
    return values <= threshold
