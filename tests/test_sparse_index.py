"""The sparse inverted index (`vectorizer/index/sparse.py`) against brute-force dot products.

Large enough for every path: posting lists, dense columns of common dimensions, the
unindexed tail, deletions and rewrites after the index is built, candidate masks,
compaction, and save/load (in RAM and memory-mapped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorizer.index.sparse import SparseVectorStorage, best_k, sort_query

N, DIMS = 20_000, 400


def _vector(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    common = rng.choice(4, size=int(rng.integers(0, 3)), replace=False)  # in ~1/3 of points
    rare = rng.choice(np.arange(4, DIMS), size=int(rng.integers(1, 6)), replace=False)
    idx = np.unique(np.concatenate([common, rare])).astype(np.uint32)
    return idx, (rng.random(len(idx)) + 0.05).astype(np.float32)


def _brute(vectors: dict[int, tuple[np.ndarray, np.ndarray]], q_idx: np.ndarray,
           q_val: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.zeros(n)
    hit = np.zeros(n, dtype=bool)
    weights = dict(zip(q_idx.tolist(), q_val.tolist(), strict=True))
    for off, (idx, val) in vectors.items():
        for i, v in zip(idx.tolist(), val.tolist(), strict=True):
            if i in weights:
                scores[off] += v * weights[i]
                hit[off] = True
    offs = np.flatnonzero(hit)
    return offs, scores[offs]


def _check(storage: SparseVectorStorage, vectors: dict, rng: np.random.Generator,
           n: int, candidates: np.ndarray | None = None) -> None:
    for _ in range(5):
        q_idx, q_val = sort_query(np.concatenate([[0, 1], rng.choice(DIMS, 3)]),
                                  rng.random(5) + 0.1)
        want_offs, want = _brute(vectors, q_idx, q_val, n)
        if candidates is not None:
            keep = candidates[want_offs]
            want_offs, want = want_offs[keep], want[keep]
        offs, got = storage.search(q_idx, q_val, n, candidates)
        assert offs.tolist() == want_offs.tolist()
        assert np.allclose(got, want, rtol=1e-5)
        top = best_k(got, 10)
        assert np.allclose(got[top], np.sort(want)[::-1][:10], rtol=1e-5)
        scores, overlap = storage.score_offsets(q_idx, q_val, np.arange(n))
        all_offs, all_scores = _brute(vectors, q_idx, q_val, n)
        assert np.flatnonzero(overlap).tolist() == all_offs.tolist()
        assert np.allclose(scores[all_offs], all_scores, rtol=1e-5)
        df = storage.doc_freq(q_idx)
        assert df.tolist() == [sum(int(d in v[0]) for v in vectors.values())
                               for d in q_idx.tolist()]


@pytest.mark.parametrize("on_disk", [False, True])
def test_index_matches_brute_force(tmp_path: Path, on_disk: bool) -> None:
    rng = np.random.default_rng(3)
    storage = SparseVectorStorage(on_disk=on_disk)
    vectors = {}
    for off in range(N):
        vectors[off] = _vector(rng)
        storage.set(off, *vectors[off])
    _check(storage, vectors, rng, N)
    assert storage.columns, "common dimensions get dense columns"
    # deletions and rewrites after the build, then new points in the tail
    for off in rng.choice(N, 3000, replace=False).tolist():
        if off % 2:
            storage.delete(off)
            del vectors[off]
        else:
            vectors[off] = _vector(rng)
            storage.set(off, *vectors[off])
    for off in range(N, N + 2000):
        vectors[off] = _vector(rng)
        storage.set(off, *vectors[off])
    n = N + 2000
    _check(storage, vectors, rng, n)
    mask = rng.random(n) < 0.3
    _check(storage, vectors, rng, n, mask)
    storage.save(tmp_path, n)
    loaded = SparseVectorStorage(on_disk=on_disk)
    loaded.load(tmp_path)
    _check(loaded, vectors, rng, n)
    assert loaded.get(7) == storage.get(7)
    # heavy deletion compacts the entries; everything still agrees
    for off in list(vectors)[::2]:
        loaded.delete(off)
        del vectors[off]
    _check(loaded, vectors, rng, n)
