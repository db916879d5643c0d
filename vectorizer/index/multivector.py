"""Multi-vectors of one segment and their MaxSim scoring, vectorised with numpy.

A point's sub-vectors are contiguous rows of one growable matrix (`start`, `count`
per offset).  MaxSim, Qdrant's only multi-vector comparator, scores a point as the
sum over the query's sub-vectors of their best similarity with the point's
sub-vectors: the candidates' rows are gathered in blocks, compared with every
query row by one matrix product (or differences for Euclid / Manhattan), reduced
per point with `np.maximum.reduceat` and summed.  Search is exact: every live
candidate is scored (Qdrant builds HNSW over the sub-vectors of large segments;
exact MaxSim is kept here, see docs/migration.md).

Raw ("core") similarities are what recommendation and discovery combine: dot
products, or negated squared / L1 distances.  A nearest search reports Euclid as
sqrt(|sum|) and Manhattan as |sum|, lower being better, as Qdrant does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vectorizer.index import distance as dist
from vectorizer.index.sparse import grow, ragged_layout, ranges

_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}
_BLOCK_BYTES = 32 << 20  # float32 temporaries per block of gathered rows


def prepare_query(matrix: np.ndarray, distance: str) -> np.ndarray:
    """Query sub-vectors as compared with stored ones (normalised rows for Cosine)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if distance == dist.COSINE:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        matrix = matrix / norms
    return matrix


def core_block(rows: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
    """(query rows x rows) raw similarities (the wide product is the faster BLAS shape)."""
    rows = rows.astype(np.float32, copy=False)
    if distance in (dist.COSINE, dist.DOT):
        return query @ rows.T
    diff = query[:, None, :] - rows[None, :, :]
    if distance == dist.EUCLID:
        return -np.einsum("ijk,ijk->ij", diff, diff)
    return -np.abs(diff).sum(axis=2)


def to_score(core: np.ndarray, distance: str) -> np.ndarray:
    """A nearest search's reported score from the summed raw similarity."""
    if distance == dist.EUCLID:
        return np.sqrt(np.abs(core)).astype(np.float32)
    if distance == dist.MANHATTAN:
        return np.abs(core).astype(np.float32)
    return core.astype(np.float32)


class MultiVectorStorage:
    """Multi-vectors (a matrix of sub-vectors per point) by segment offset."""

    kind = "multi"

    def __init__(self, dim: int, datatype: str = "float32", normalize: bool = False) -> None:
        self.dim = dim
        self.datatype = datatype
        self.normalize = normalize and datatype != "uint8"
        self.dtype = _DTYPES.get(datatype, np.float32)  # turbo types keep float32 here
        self.data = np.zeros((0, dim), dtype=self.dtype)
        self.n_rows = 0
        self.start = np.zeros(0, dtype=np.int64)
        self.count = np.zeros(0, dtype=np.int64)
        self.present = np.zeros(0, dtype=bool)

    def set(self, offset: int, matrix: np.ndarray) -> None:
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            matrix = matrix / norms
        if self.datatype == "uint8":
            matrix = np.clip(matrix, 0, 255)
        n = len(matrix)
        self.data = grow(self.data, self.n_rows + n)
        self.data[self.n_rows:self.n_rows + n] = matrix
        self.start = grow(self.start, offset + 1)
        self.count = grow(self.count, offset + 1)
        self.present = grow(self.present, offset + 1)
        self.start[offset], self.count[offset] = self.n_rows, n
        self.present[offset] = True
        self.n_rows += n

    def delete(self, offset: int) -> None:
        if offset < len(self.present):
            self.present[offset] = False

    def has(self, offset: int) -> bool:
        return offset < len(self.present) and bool(self.present[offset])

    def raw(self, offset: int) -> np.ndarray | None:
        """The stored matrix as float32 (for copying a point to another segment)."""
        if not self.has(offset):
            return None
        s = int(self.start[offset])
        return self.data[s:s + int(self.count[offset])].astype(np.float32)

    def get(self, offset: int) -> list[list[float]] | None:
        vec = self.raw(offset)
        return None if vec is None else vec.tolist()

    def present_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        m = min(n, len(self.present))
        mask[:m] = self.present[:m]
        return mask

    def core_scores(self, offsets: np.ndarray, query: np.ndarray, distance: str,
                    ) -> np.ndarray:
        """Summed MaxSim raw similarity of the points at `offsets` with a prepared query."""
        out = np.empty(len(offsets), dtype=np.float64)
        if not len(offsets):
            return out.astype(np.float32)
        counts = self.count[offsets]
        per_row = max(1, self.dim * len(query) * (4 if distance in (dist.COSINE, dist.DOT)
                                                   else 8))
        budget = max(1, _BLOCK_BYTES // (per_row * 4))
        bounds = np.cumsum(counts)
        first = 0
        while first < len(offsets):
            done = bounds[first - 1] if first else 0
            last = int(np.searchsorted(bounds, done + budget, side="right"))
            last = max(last, first + 1)
            block = offsets[first:last]
            rows = ranges(self.start[block], counts[first:last])
            sims = core_block(self.data[rows], query, distance)
            group = np.cumsum(counts[first:last]) - counts[first:last]
            best = np.maximum.reduceat(sims, group, axis=1)
            out[first:last] = best.sum(axis=0, dtype=np.float64)
            first = last
        return out.astype(np.float32)

    def save(self, directory: Path, n: int) -> None:
        offsets = np.flatnonzero(self.present_mask(n))
        counts = self.count[offsets]
        np.save(directory / "offsets.npy", offsets.astype(np.int64))
        np.save(directory / "counts.npy", counts.astype(np.int64))
        np.save(directory / "data.npy",
                np.ascontiguousarray(self.data[ranges(self.start[offsets], counts)]))

    def load(self, directory: Path) -> None:
        offsets = np.load(directory / "offsets.npy")
        counts = np.load(directory / "counts.npy")
        self.data = np.load(directory / "data.npy").astype(self.dtype, copy=False)
        self.n_rows = len(self.data)
        self.start, self.count, self.present = ragged_layout(offsets, counts)
