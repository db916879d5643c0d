"""Fusion of ranked candidate lists: reciprocal rank fusion and distribution-based score fusion.

Inputs are lists of wire points (`{"id", "score", ...}`), best first; they are not
modified.  Scores are float32 sums as Qdrant computes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vectorizer.common.errors import BadInput

Hit = dict[str, Any]
DEFAULT_RRF_K = 2


def rrf(sources: list[list[Hit]], k: int | None = None,
        weights: list[float] | None = None, limit: int | None = None) -> list[Hit]:
    """Reciprocal rank fusion: each source adds `1 / ((rank + 1) / weight + k - 1)`.

    With `limit`, only the best `limit` fused points are returned."""
    if weights is not None and len(weights) != len(sources):
        raise BadInput("Number of weights in RRF should match number of pre-fetches: got "
                       f"{len(weights)}, expected {len(sources)}")
    k = DEFAULT_RRF_K if k is None else k
    first: dict[Any, int] = {}  # id -> its slot, in first-seen order
    hits: list[Hit] = []
    slots: list[int] = []
    parts: list[np.ndarray] = []
    for i, source in enumerate(sources):
        weight = np.float32(1.0 if weights is None else weights[i])
        ranks = np.arange(1, len(source) + 1, dtype=np.float32)
        parts.append(np.zeros(len(source), dtype=np.float32) if weight <= 0 else
                     np.float32(1.0) / (ranks / weight + np.float32(k) - np.float32(1.0)))
        for hit in source:
            slot = first.get(hit["id"])
            if slot is None:
                slot = first[hit["id"]] = len(hits)
                hits.append(hit)
            slots.append(slot)
    totals = np.zeros(len(hits), dtype=np.float32)
    if slots:  # float32 sums in source order, as Qdrant adds them
        np.add.at(totals, np.asarray(slots), np.concatenate(parts))
    order = np.argsort(-totals, kind="stable")  # ties keep first-seen order
    if limit is not None:
        order = order[:limit]
    scores = totals.tolist()
    return [{**hits[i], "score": scores[i]} for i in order.tolist()]


def dbsf(sources: list[list[Hit]]) -> list[Hit]:
    """Distribution-based score fusion: each source's scores are normalised with its
    mean +- 3 sample standard deviations, then summed per point."""
    fused: dict[Any, Hit] = {}
    for source in sources:
        if not source:
            continue
        scores = np.array([h["score"] for h in source], dtype=np.float64)
        if len(scores) == 1:
            norm = np.array([0.5])
        else:
            std = float(np.std(scores, ddof=1))
            if std == 0:
                norm = np.full(len(scores), 0.5)
            else:
                low = scores.mean() - 3 * std
                norm = (scores - low) / (6 * std)
        for hit, value in zip(source, norm.tolist(), strict=True):
            entry = fused.get(hit["id"])
            if entry is None:
                fused[hit["id"]] = {**hit, "score": value}
            else:
                entry["score"] += value
    return _ranked(fused)


def _ranked(fused: dict[Any, Hit]) -> list[Hit]:
    out = list(fused.values())
    for hit in out:
        hit["score"] = float(hit["score"])
    out.sort(key=lambda h: -h["score"])  # stable: ties keep first-seen order
    return out
