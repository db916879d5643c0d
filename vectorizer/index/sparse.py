"""Sparse vectors of one segment: columnar entries plus an inverted index, scored with numpy.

Every stored (point offset, dimension, value) triple is an *entry* in three growable
arrays; a point's entries are contiguous (`start`, `length` per offset) and a
replaced or deleted vector only clears its entries' `live` flags.  The inverted
index is the entries sorted by dimension (posting lists as ranges of one array),
built lazily over a prefix of the entries; entries appended since are scanned
directly (a small unsorted tail), and the index is rebuilt, compacting dead
entries, once the tail or the dead share grows.  Scores are exact dot products
summed with `np.bincount` (float64, reported as float32), as Qdrant's sparse
search: a nearest search returns only points sharing a dimension with the query.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_TAIL_MIN = 8_192  # entries tolerated outside the inverted index before a rebuild


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    if len(array) >= capacity:
        return array
    grown = np.zeros(max(capacity, 2 * len(array), 64), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated `arange(s, s + n)` for each (s, n), without a Python loop."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    rel = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
    return np.repeat(starts.astype(np.int64), lengths) + rel


def sort_query(indices: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A query sorted by dimension, duplicates summed."""
    idx = np.asarray(indices, dtype=np.int64)
    val = np.asarray(values, dtype=np.float64)
    uniq, inverse = np.unique(idx, return_inverse=True)
    return uniq, np.bincount(inverse, weights=val, minlength=len(uniq))


class SparseVectorStorage:
    """Sparse vectors by segment offset, with an inverted index for search."""

    kind = "sparse"

    def __init__(self, on_disk: bool = False) -> None:
        self.on_disk = on_disk  # sealed segments read saved arrays through memory maps
        self.e_off = np.zeros(0, dtype=np.int64)
        self.e_idx = np.zeros(0, dtype=np.uint32)
        self.e_val = np.zeros(0, dtype=np.float32)
        self.e_live = np.zeros(0, dtype=bool)
        self.n_entries = 0
        self.dead = 0
        self.start = np.zeros(0, dtype=np.int64)
        self.length = np.zeros(0, dtype=np.int64)
        self.present = np.zeros(0, dtype=bool)
        # The inverted index over entries [0, indexed): dimension ranges of `post`.
        self.indexed = 0
        self.terms = np.zeros(0, dtype=np.int64)  # distinct dimensions, sorted
        self.term_start = np.zeros(1, dtype=np.int64)  # posting range of terms[i]
        self.post = np.zeros(0, dtype=np.int64)  # entry numbers sorted by dimension

    # ------------------------------------------------------------ writes

    def _reserve_offsets(self, n: int) -> None:
        self.start = _grow(self.start, n)
        self.length = _grow(self.length, n)
        self.present = _grow(self.present, n)

    def _reserve_entries(self, n: int) -> None:
        if len(self.e_idx) < n:
            self.e_off = _grow(np.array(self.e_off), n)
            self.e_idx = _grow(np.array(self.e_idx), n)
            self.e_val = _grow(np.array(self.e_val), n)
            self.e_live = _grow(self.e_live, n)

    def set(self, offset: int, indices: np.ndarray, values: np.ndarray) -> None:
        self.delete(offset)
        self._reserve_offsets(offset + 1)
        n = len(indices)
        pos = self.n_entries
        self._reserve_entries(pos + n)
        self.e_off[pos:pos + n] = offset
        self.e_idx[pos:pos + n] = indices
        self.e_val[pos:pos + n] = values
        self.e_live[pos:pos + n] = True
        self.n_entries = pos + n
        self.start[offset], self.length[offset] = pos, n
        self.present[offset] = True

    def delete(self, offset: int) -> None:
        if offset < len(self.present) and self.present[offset]:
            s, n = int(self.start[offset]), int(self.length[offset])
            self.e_live[s:s + n] = False
            self.dead += n
            self.present[offset] = False

    # ------------------------------------------------------------ reads

    def has(self, offset: int) -> bool:
        return offset < len(self.present) and bool(self.present[offset])

    def raw(self, offset: int) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.has(offset):
            return None
        s, n = int(self.start[offset]), int(self.length[offset])
        return np.array(self.e_idx[s:s + n]), np.array(self.e_val[s:s + n])

    def get(self, offset: int) -> dict[str, list] | None:
        vec = self.raw(offset)
        if vec is None:
            return None
        return {"indices": vec[0].tolist(), "values": vec[1].tolist()}

    def present_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        m = min(n, len(self.present))
        mask[:m] = self.present[:m]
        return mask

    # ------------------------------------------------------------ index

    def _ensure_index(self) -> None:
        tail = self.n_entries - self.indexed
        if self.dead > max(_TAIL_MIN, self.n_entries // 3):
            self._compact()
        elif tail > max(_TAIL_MIN, self.indexed // 4):
            self._build_index()

    def _compact(self) -> None:
        """Drop dead entries (renumbering the rest) and rebuild the index."""
        n = self.n_entries
        keep = self.e_live[:n]
        new_pos = np.cumsum(keep) - 1
        live_offs = np.flatnonzero(self.present)
        self.start[live_offs] = new_pos[self.start[live_offs]]
        self.e_off = np.array(self.e_off[:n][keep])
        self.e_idx = np.array(self.e_idx[:n][keep])
        self.e_val = np.array(self.e_val[:n][keep])
        self.n_entries = len(self.e_off)
        self.e_live = np.ones(self.n_entries, dtype=bool)
        self.dead = 0
        self._build_index()

    def _build_index(self) -> None:
        n = self.n_entries
        order = np.argsort(self.e_idx[:n], kind="stable")
        dims = self.e_idx[:n][order].astype(np.int64)
        self.terms, first = np.unique(dims, return_index=True)
        self.term_start = np.append(first, n).astype(np.int64)
        self.post = order.astype(np.int64)
        self.indexed = n

    def _query_entries(self, q_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry numbers, position of their dimension in `q_idx`) of live entries on the
        query's dimensions: posting ranges of the index plus a scan of the tail."""
        self._ensure_index()
        pos = np.searchsorted(self.terms, q_idx)
        pos_c = np.minimum(pos, max(len(self.terms) - 1, 0))
        found = np.flatnonzero((pos < len(self.terms)) & (self.terms[pos_c] == q_idx)) \
            if len(self.terms) else np.zeros(0, dtype=np.int64)
        starts = self.term_start[pos[found]]
        lengths = self.term_start[pos[found] + 1] - starts
        ent = self.post[ranges(starts, lengths)]
        slot = np.repeat(found, lengths)
        if self.indexed < self.n_entries:
            tail_dims = self.e_idx[self.indexed:self.n_entries].astype(np.int64)
            hit = np.flatnonzero(np.isin(tail_dims, q_idx))
            if len(hit):
                ent = np.concatenate([ent, hit + self.indexed])
                slot = np.concatenate([slot, np.searchsorted(q_idx, tail_dims[hit])])
        live = self.e_live[ent]
        return ent[live], slot[live]

    def doc_freq(self, q_idx: np.ndarray) -> np.ndarray:
        """How many stored vectors hold each dimension of the sorted `q_idx`."""
        _ent, slot = self._query_entries(q_idx)
        return np.bincount(slot, minlength=len(q_idx))

    def search(self, q_idx: np.ndarray, q_val: np.ndarray, n: int,
               candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, float32 dot products) of the points sharing a dimension with the
        sorted query, among `candidates` (a mask over offsets; None: all)."""
        ent, slot = self._query_entries(q_idx)
        docs = self.e_off[ent]
        if candidates is not None:
            keep = candidates[docs]
            docs, ent, slot = docs[keep], ent[keep], slot[keep]
        weights = self.e_val[ent].astype(np.float64) * q_val[slot]
        sums = np.bincount(docs, weights=weights, minlength=n)
        hit = np.zeros(len(sums), dtype=bool)
        hit[docs] = True
        offs = np.flatnonzero(hit)
        return offs, sums[offs].astype(np.float32)

    def score_offsets(self, q_idx: np.ndarray, q_val: np.ndarray, offsets: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Dot products of the vectors at `offsets` with the sorted query (0 without
        overlap) and whether they overlap, reading the points' own entries (the plain
        search Qdrant runs under `full_scan_threshold`)."""
        lengths = self.length[offsets]
        ent = ranges(self.start[offsets], lengths)
        owner = np.repeat(np.arange(len(offsets)), lengths)
        dims = self.e_idx[ent].astype(np.int64)
        pos = np.searchsorted(q_idx, dims)
        pos_c = np.minimum(pos, max(len(q_idx) - 1, 0))
        match = (pos < len(q_idx)) & (q_idx[pos_c] == dims) if len(q_idx) else \
            np.zeros(len(dims), dtype=bool)
        weights = self.e_val[ent][match].astype(np.float64) * q_val[pos_c[match]]
        sums = np.bincount(owner[match], weights=weights, minlength=len(offsets))
        overlap = np.bincount(owner[match], minlength=len(offsets)) > 0
        return sums.astype(np.float32), overlap

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path, n: int) -> None:
        """Live vectors (offset order) and the inverted index over them."""
        offsets = np.flatnonzero(self.present_mask(n))
        lengths = self.length[offsets]
        ent = ranges(self.start[offsets], lengths)
        indices = np.ascontiguousarray(self.e_idx[ent])
        np.save(directory / "offsets.npy", offsets.astype(np.int64))
        np.save(directory / "lengths.npy", lengths.astype(np.int64))
        np.save(directory / "indices.npy", indices)
        np.save(directory / "values.npy", np.ascontiguousarray(self.e_val[ent]))
        order = np.argsort(indices, kind="stable")
        terms, first = np.unique(indices[order].astype(np.int64), return_index=True)
        np.save(directory / "inv_terms.npy", terms)
        np.save(directory / "inv_starts.npy", np.append(first, len(indices)).astype(np.int64))
        np.save(directory / "inv_post.npy", order.astype(np.int64))

    def load(self, directory: Path) -> None:
        mode = "r" if self.on_disk else None
        offsets = np.load(directory / "offsets.npy")
        lengths = np.load(directory / "lengths.npy")
        self.e_idx = np.load(directory / "indices.npy", mmap_mode=mode)
        self.e_val = np.load(directory / "values.npy", mmap_mode=mode)
        self.n_entries = len(self.e_idx)
        self.e_off = np.repeat(offsets, lengths)
        self.e_live = np.ones(self.n_entries, dtype=bool)
        self.dead = 0
        size = int(offsets.max()) + 1 if len(offsets) else 0
        self.start = np.zeros(size, dtype=np.int64)
        self.length = np.zeros(size, dtype=np.int64)
        self.present = np.zeros(size, dtype=bool)
        self.start[offsets] = np.cumsum(lengths) - lengths
        self.length[offsets] = lengths
        self.present[offsets] = True
        if (directory / "inv_post.npy").exists():
            self.terms = np.load(directory / "inv_terms.npy")
            self.term_start = np.load(directory / "inv_starts.npy")
            self.post = np.load(directory / "inv_post.npy", mmap_mode=mode)
            self.indexed = self.n_entries
        else:  # saved before the index was persisted
            self.indexed = 0
            self._build_index()
