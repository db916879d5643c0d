"""Sparse vectors of one segment: columnar entries plus an inverted index, scored with numpy.

Every stored (point offset, dimension, value) triple is an *entry* in three growable
arrays; a point's entries are contiguous (`start`, `length` per offset) and a
replaced or deleted vector only clears its entries' `live` flags.  The inverted
index is the entries sorted by dimension: per dimension a contiguous slice of point
offsets and values (its posting list), built lazily over a prefix of the entries;
entries appended since are scanned directly (a small unsorted tail), and the index
is rebuilt, compacting dead entries, once the tail or the dead share grows.  A
search adds each query dimension's posting slice into one float32 accumulator over
the segment (exact dot products in float32, as Qdrant's sparse search computes them):
a nearest search returns only points sharing a dimension with the query.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_TAIL_MIN = 8_192  # entries tolerated outside the inverted index before a rebuild
COLUMN_MIN_POSTINGS = 4_096  # shorter posting lists never get a dense column


def grow(array: np.ndarray, capacity: int) -> np.ndarray:
    """`array`, or a zero-padded copy with room for `capacity` rows (at least doubled)."""
    if array.shape[0] >= capacity:
        return array
    grown = np.zeros((max(capacity, 2 * array.shape[0], 64), *array.shape[1:]),
                     dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


def ragged_layout(offsets: np.ndarray, lengths: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, present) per offset of rows stored back to back in `offsets` order,
    `lengths[i]` rows for `offsets[i]` (as saved by the variable-length storages)."""
    size = int(offsets.max()) + 1 if len(offsets) else 0
    start = np.zeros(size, dtype=np.int64)
    length = np.zeros(size, dtype=np.int64)
    present = np.zeros(size, dtype=bool)
    start[offsets] = np.cumsum(lengths) - lengths
    length[offsets] = lengths
    present[offsets] = True
    return start, length, present


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
        self.post_off = np.zeros(0, dtype=np.int32)  # their point offsets ...
        self.post_val = np.zeros(0, dtype=np.float32)  # ... and values (contiguous postings)
        self.dead_indexed = 0  # dead entries inside the index (their postings need masking)
        self.term_min = np.zeros(0, dtype=np.float32)  # smallest value of each posting
        # Dimensions held by many points also get a dense column (value per offset, 0 for
        # points without it): adding a column beats scattering a long posting list.
        self.columns: dict[int, np.ndarray] = {}  # position in `terms` -> column
        self.column_dims = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------ writes

    def _reserve_offsets(self, n: int) -> None:
        self.start = grow(self.start, n)
        self.length = grow(self.length, n)
        self.present = grow(self.present, n)

    def _reserve_entries(self, n: int) -> None:
        if len(self.e_idx) < n:
            self.e_off = grow(np.array(self.e_off), n)
            self.e_idx = grow(np.array(self.e_idx), n)
            self.e_val = grow(np.array(self.e_val), n)
            self.e_live = grow(self.e_live, n)

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
            if s < self.indexed:  # a point's entries are all inside the index or all after
                self.dead_indexed += n
                if self.columns:
                    dims = self.e_idx[s:s + n].astype(np.int64)
                    for dim in dims[np.isin(dims, self.column_dims)].tolist():
                        self.columns[int(np.searchsorted(self.terms, dim))][offset] = 0.0
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
        self.post_off = self.e_off[:n][order].astype(np.int32)
        self.post_val = np.asarray(self.e_val[:n][order], dtype=np.float32)
        self.indexed = n
        self.dead_indexed = n - int(np.count_nonzero(self.e_live[:n]))
        self._posting_minima()
        self._build_columns()

    def _build_columns(self) -> None:
        """Dense columns of the dimensions held by at least 1/16 of the points."""
        size = int(self.e_off[:self.n_entries].max()) + 1 if self.n_entries else 0
        lengths = np.diff(self.term_start)
        big = np.flatnonzero(lengths >= max(COLUMN_MIN_POSTINGS,
                                            int(np.count_nonzero(self.present)) // 16))
        self.columns = {}
        for pos in big.tolist():
            lo, hi = int(self.term_start[pos]), int(self.term_start[pos + 1])
            live = self.e_live[self.post[lo:hi]]
            column = np.zeros(size, dtype=np.float32)
            column[self.post_off[lo:hi][live]] = self.post_val[lo:hi][live]
            self.columns[pos] = column
        self.column_dims = self.terms[big].astype(np.int64)

    def _posting_minima(self) -> None:
        starts = self.term_start[:-1]
        self.term_min = np.minimum.reduceat(self.post_val, starts) if len(starts) else \
            np.zeros(0, dtype=np.float32)

    def _term_ranges(self, q_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions in `q_idx`, posting starts, posting ends) of the query's indexed dims."""
        if not len(self.terms):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        pos = np.searchsorted(self.terms, q_idx)
        pos_c = np.minimum(pos, len(self.terms) - 1)
        found = np.flatnonzero((pos < len(self.terms)) & (self.terms[pos_c] == q_idx))
        return found, self.term_start[pos[found]], self.term_start[pos[found] + 1]

    def _term_positions(self, dims: np.ndarray) -> list[int]:
        return np.searchsorted(self.terms, dims).tolist()

    def _tail(self, q_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(live entry numbers, their position in `q_idx`) of unindexed entries on the
        query's dimensions (a scan of the tail)."""
        if self.indexed >= self.n_entries:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        tail_dims = self.e_idx[self.indexed:self.n_entries].astype(np.int64)
        hit = np.flatnonzero(np.isin(tail_dims, q_idx))
        ent = hit + self.indexed
        live = self.e_live[ent]
        return ent[live], np.searchsorted(q_idx, tail_dims[hit][live])

    def doc_freq(self, q_idx: np.ndarray, corpus: np.ndarray | None = None) -> np.ndarray:
        """How many stored vectors hold each dimension of the sorted `q_idx` (posting
        lengths, less dead entries, plus the tail's); with `corpus` (a mask over offsets)
        only those of the corpus count."""
        self._ensure_index()
        df = np.zeros(len(q_idx), dtype=np.int64)
        found, starts, ends = self._term_ranges(q_idx)
        if corpus is not None:
            for slot, lo, hi in zip(found.tolist(), starts.tolist(), ends.tolist(),
                                    strict=True):
                keep = corpus[self.post_off[lo:hi]]
                if self.dead_indexed:
                    keep &= self.e_live[self.post[lo:hi]]
                df[slot] = int(np.count_nonzero(keep))
            ent, slots = self._tail(q_idx)
            slots = slots[corpus[self.e_off[ent]]]
            return df + np.bincount(slots, minlength=len(q_idx))
        if self.dead_indexed:
            for slot, lo, hi in zip(found.tolist(), starts.tolist(), ends.tolist(),
                                    strict=True):  # one count per query dimension
                df[slot] = int(np.count_nonzero(self.e_live[self.post[lo:hi]]))
        else:
            df[found] = ends - starts
        _ent, slots = self._tail(q_idx)
        return df + np.bincount(slots, minlength=len(q_idx))

    def search(self, q_idx: np.ndarray, q_val: np.ndarray, n: int,
               candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, float32 dot products) of the points sharing a dimension with the
        sorted query, among `candidates` (a mask over offsets; None: all).

        Each query dimension adds its posting list (a contiguous slice of offsets and
        values) into one accumulator over the segment's offsets."""
        self._ensure_index()
        acc = np.zeros(n, dtype=np.float32)
        found, starts, ends = self._term_ranges(q_idx)
        ent, slots = self._tail(q_idx)
        # With positive weights on both sides a point overlaps the query iff its sum is
        # positive; otherwise overlaps are tracked explicitly (a sum may be 0 or less).
        positive = bool(np.all(q_val > 0)) and bool(np.all(self.term_min[found] > 0)) and \
            bool(np.all(self.e_val[ent] > 0))
        hit = None if positive else np.zeros(n, dtype=bool)
        positions = self._term_positions(q_idx[found]) if self.columns and positive else None
        for i, (slot, lo, hi) in enumerate(zip(found.tolist(), starts.tolist(), ends.tolist(),
                                               strict=True)):
            column = None if positions is None else self.columns.get(positions[i])
            if column is not None:
                m = min(len(column), n)
                acc[:m] += column[:m] * np.float32(q_val[slot])
                continue
            docs, vals = self.post_off[lo:hi], self.post_val[lo:hi]
            if self.dead_indexed:
                live = self.e_live[self.post[lo:hi]]
                docs, vals = docs[live], vals[live]
            # same dtypes on both sides keep `np.add.at` on its fast path
            np.add.at(acc, docs, vals * np.float32(q_val[slot]))
            if hit is not None:
                hit[docs] = True
        if len(ent):
            docs = self.e_off[ent]
            np.add.at(acc, docs, (self.e_val[ent] * q_val[slots]).astype(np.float32))
            if hit is not None:
                hit[docs] = True
        mask = acc > 0 if hit is None else hit
        if candidates is not None:
            mask &= candidates[:n]
        offs = np.flatnonzero(mask)
        return offs, acc[offs]

    def score_offsets(self, q_idx: np.ndarray, q_val: np.ndarray, offsets: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Dot products of the vectors at `offsets` with the sorted query (0 without
        overlap) and whether they overlap, reading the points' own entries (the plain
        search Qdrant runs under `full_scan_threshold`)."""
        inside = offsets < len(self.present)
        safe = np.where(inside, offsets, 0)
        lengths = np.where(inside & self.present[safe], self.length[safe], 0)
        ent = ranges(self.start[safe], lengths)
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
        np.save(directory / "inv_off.npy", np.repeat(offsets, lengths)[order].astype(np.int32))
        np.save(directory / "inv_val.npy", np.ascontiguousarray(self.e_val[ent][order]))

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
        self.start, self.length, self.present = ragged_layout(offsets, lengths)
        if (directory / "inv_off.npy").exists():
            self.terms = np.load(directory / "inv_terms.npy")
            self.term_start = np.load(directory / "inv_starts.npy")
            self.post = np.load(directory / "inv_post.npy", mmap_mode=mode)
            self.post_off = np.load(directory / "inv_off.npy", mmap_mode=mode)
            self.post_val = np.load(directory / "inv_val.npy", mmap_mode=mode)
            self.indexed = self.n_entries
            self.dead_indexed = 0
            self._posting_minima()
            self._build_columns()
        else:  # saved before the index was persisted
            self.indexed = 0
            self._build_index()


def best_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` highest scores, best first, equal scores in position order
    (one selection pass, then a sort of the `k` chosen)."""
    n = len(scores)
    if k <= 0 or not n:
        return np.zeros(0, dtype=np.int64)
    if n > k:
        kth = np.partition(scores, n - k)[n - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)[: k - len(above)]
        chosen = np.concatenate([above, tied])
    else:
        chosen = np.arange(n)
    return chosen[np.lexsort((chosen, -scores[chosen]))]
