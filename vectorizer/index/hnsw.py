"""HNSW graphs over a sealed segment's dense vectors, built and searched by faiss.

The graph covers every row of the segment's vector matrix (row = segment
offset).  Deleted points and points without the vector stay in the graph, as in
Qdrant, and are excluded at search time by an allow-list bitmap; so are points
that fail the request's filter.  faiss releases the GIL while it builds and
searches.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from vectorizer.index.distance import COSINE, DOT, EUCLID

_METRICS = {COSINE: faiss.METRIC_INNER_PRODUCT, DOT: faiss.METRIC_INNER_PRODUCT,
            EUCLID: faiss.METRIC_L2}
INDEX_FILE = "hnsw.faiss"


class HnswIndex:
    """One faiss `IndexHNSWFlat` over rows 0..n-1 of a dense vector matrix."""

    def __init__(self, index: faiss.Index, distance: str) -> None:
        self.index = index
        self.distance = distance

    @property
    def m(self) -> int:
        """The graph's links per node (faiss keeps 2*m on layer 0, m above)."""
        return int(self.index.hnsw.nb_neighbors(1))

    @property
    def ef_construct(self) -> int:
        return int(self.index.hnsw.efConstruction)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def quantized(self) -> bool:
        """True when the graph stores int8 scalar-quantized codes instead of the vectors."""
        return isinstance(self.index, faiss.IndexHNSWSQ)

    @classmethod
    def build(cls, data: np.ndarray, distance: str, m: int, ef_construct: int,
              threads: int = 0, scalar_quantile: float | None = None) -> HnswIndex:
        """Build the graph; with `scalar_quantile` it keeps int8 codes (Qdrant's scalar
        quantization), trained on values clipped to that quantile range."""
        metric = _METRICS.get(distance, faiss.METRIC_L1)
        data = np.ascontiguousarray(data, dtype=np.float32)
        if scalar_quantile is not None:
            index = faiss.IndexHNSWSQ(data.shape[1], faiss.ScalarQuantizer.QT_8bit,
                                      max(int(m), 2), metric)
            lo, hi = np.quantile(data, [1.0 - scalar_quantile, scalar_quantile]) \
                if len(data) and scalar_quantile < 1.0 else (None, None)
            index.train(data if lo is None else np.clip(data, lo, hi))
        else:
            index = faiss.IndexHNSWFlat(data.shape[1], max(int(m), 2), metric)
        index.hnsw.efConstruction = max(int(ef_construct), 4)
        # Qdrant's `max_indexing_threads: 0` is "auto": leave one CPU for requests.
        faiss.omp_set_num_threads(threads if threads > 0 else max(1, (os.cpu_count() or 1) - 1))
        index.add(data)
        return cls(index, distance)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray, ef: int,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, Qdrant scores) of up to `k` allowed rows, best first."""
        n = self.size
        allow = allowed[:n]
        if len(allow) < n:
            allow = np.concatenate([allow, np.zeros(n - len(allow), dtype=bool)])
        bits = np.packbits(allow, bitorder="little")
        selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(int(ef), k))
        dists, ids = self.index.search(np.ascontiguousarray(query[None, :], dtype=np.float32),
                                       k, params=params)
        keep = ids[0] >= 0
        offsets, raw = ids[0][keep].astype(np.int64), dists[0][keep]
        if self.distance == EUCLID:
            raw = np.sqrt(np.maximum(raw, 0.0))
        return offsets, raw.astype(np.float32)

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / INDEX_FILE))

    @classmethod
    def load(cls, directory: Path, distance: str) -> HnswIndex | None:
        path = directory / INDEX_FILE
        if not path.exists():
            return None
        return cls(faiss.read_index(str(path)), distance)


def uses_inner_product(distance: str) -> bool:
    return distance in (COSINE, DOT)
