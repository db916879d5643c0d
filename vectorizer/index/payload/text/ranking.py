"""BM25 ranking over a scoring text index (the Query API's `text` query), with numpy.

Statistics are the collection's: documents are the entries holding at least one
token (whatever the request's filter), their lengths rounded as Qdrant stores them;
a term's IDF is ln(1 + (N - n + 0.5) / (n + 0.5)).  A document scores the sum over
the distinct query tokens of `idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len /
avg_len))`; a nested index keeps the best element of each point.
"""

from __future__ import annotations

import numpy as np

from vectorizer.index.payload.text.index import TextIndex


def corpus_stats(index: TextIndex, tokens: list[str]) -> tuple[int, int, np.ndarray]:
    """(documents, their total length, documents holding each token) of one index."""
    arrays = index.bm25_arrays()
    lengths = arrays.lengths
    df = np.zeros(len(tokens), dtype=np.int64)
    for i, tok in enumerate(tokens):  # one posting range per query token
        slot = arrays.vocab.get(tok)
        if slot is not None:
            df[i] = arrays.starts[slot + 1] - arrays.starts[slot]
    return int(np.count_nonzero(lengths)), int(lengths.sum()), df


def scores(index: TextIndex, tokens: list[str], idf: np.ndarray, avg_len: float,
           k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(point offsets, float32 BM25 scores) of the documents holding a query token."""
    arrays = index.bm25_arrays()
    parts, weights = [], []
    for tok, w in zip(tokens, idf.tolist(), strict=True):
        slot = arrays.vocab.get(tok)
        if slot is None:
            continue
        lo, hi = arrays.starts[slot], arrays.starts[slot + 1]
        eids, tf = arrays.entries[lo:hi], arrays.tfs[lo:hi]
        norm = k1 * (1.0 - b + b * arrays.lengths[eids] / avg_len)
        parts.append(eids)
        weights.append(w * tf * (k1 + 1.0) / (tf + norm))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    eids = np.concatenate(parts)
    sums = np.bincount(eids, weights=np.concatenate(weights))
    hit = np.zeros(len(sums), dtype=bool)
    hit[eids] = True
    entries = np.flatnonzero(hit)
    values = sums[entries]
    if not index.nested:
        return entries, values.astype(np.float32)
    owners = np.asarray([index.entry_offset(int(e)) for e in entries], dtype=np.int64)
    keep = owners >= 0
    owners, values = owners[keep], values[keep]
    best = np.full(int(owners.max()) + 1 if len(owners) else 0, -np.inf)
    np.maximum.at(best, owners, values)
    offsets = np.unique(owners)
    return offsets, best[offsets].astype(np.float32)
