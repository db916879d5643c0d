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
# Bytes gathered per block when scoring scattered rows: a gathered block stays in the CPU
# cache for the product that follows, and no large temporary is allocated (and faulted
# in) per request; 10,000 scattered 128-d rows score ~8x faster in 512 KB blocks.
_GATHER_BYTES = 1 << 19


def _gather_rows(data: np.ndarray) -> int:
    return max(64, _GATHER_BYTES // max(1, data.shape[1] * data.dtype.itemsize))


def higher_is_better(distance: str) -> bool:
    return distance in (COSINE, DOT)


def prepare_query(query: np.ndarray, distance: str) -> np.ndarray:
    """The query as it is compared with stored vectors (cosine queries are normalised)."""
    query = np.asarray(query, dtype=np.float32)
    if distance == COSINE:
        norm = float(np.sqrt(query @ query))
        if norm > 0:
            query = query / norm
    return query


def prepare_queries(queries: np.ndarray, distance: str) -> np.ndarray:
    """`prepare_query` for each row of a float32 matrix, in place."""
    if distance == COSINE and len(queries) == 1:
        norm = float(np.sqrt(queries[0] @ queries[0]))
        if norm > 0:
            queries /= norm
    elif distance == COSINE and len(queries):
        norms = np.sqrt(np.einsum("ij,ij->i", queries, queries))
        norms[norms == 0] = 1.0
        queries /= norms[:, None]
    return queries


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
    step = _BLOCK if rows is None else _gather_rows(data)
    if n <= step:
        block = data if rows is None else data[rows]
        return _block_scores(block, query, distance).astype(np.float32, copy=False)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, step):
        end = min(start + step, n)
        block = data[start:end] if rows is None else data[rows[start:end]]
        out[start:end] = _block_scores(block, query, distance)
    return out


def scores_many(block: np.ndarray, queries: np.ndarray, distance: str) -> np.ndarray:
    """(queries by rows) scores of a contiguous block of vectors."""
    if distance in (COSINE, DOT):
        return np.asarray(queries @ block.astype(np.float32, copy=False).T, dtype=np.float32)
    return np.stack([scores(block, None, q, distance) for q in queries]) if len(queries) \
        else np.zeros((0, len(block)), dtype=np.float32)


def dot_scores_many(data: np.ndarray, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(queries by rows) dot products with `data[rows]`: one matrix product per block."""
    out = np.empty((len(queries), len(rows)), dtype=np.float32)
    q = np.asarray(queries, dtype=np.float32)
    step = _gather_rows(data)
    for start in range(0, len(rows), step):
        block = data[rows[start:start + step]].astype(np.float32, copy=False)
        out[:, start:start + len(block)] = q @ block.T
    return out


def top_k(values: np.ndarray, k: int, distance: str) -> np.ndarray:
    """Positions of the best `k` values, best first (ties keep their original order)."""
    if k <= 0 or not len(values):
        return np.zeros(0, dtype=np.int64)
    keys = -values if higher_is_better(distance) else values
    n = len(keys)
    if n <= 4 * k:  # a short list: one sort beats partition + sort
        return np.argsort(keys, kind="stable")[:k]
    if n > 64 * k and n > 4096:
        # The k-th best of a head sample bounds the k-th best of all from above, so the
        # values within that bound are a small superset of the answer (selecting in the
        # whole array is ~4x slower for 10,000 values).
        head = keys[: max(16 * k, 1024)]
        bound = np.partition(head, k - 1)[k - 1]
        within = np.flatnonzero(keys <= bound)
        if len(within) <= n // 4:
            order = np.argsort(keys[within], kind="stable")[:k]
            return within[order]
    part = np.argpartition(keys, k - 1)[:k]
    return part[np.argsort(keys[part], kind="stable")]


def passes_threshold(values: np.ndarray, threshold: float | None, distance: str) -> np.ndarray:
    """Mask of scores that meet Qdrant's `score_threshold` (>= for similarities, <= else)."""
    if threshold is None:
        return np.ones(len(values), dtype=bool)
    if higher_is_better(distance):
        return values >= threshold
    return values <= threshold
