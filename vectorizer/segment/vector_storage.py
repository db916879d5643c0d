"""Per-name vector storage inside a segment: dense, sparse and multi-vectors by offset.

Dense vectors live in one growable matrix at the configured datatype
(float32, float16 or uint8); sparse vectors (`index/sparse.py`) and multi-vectors
(`index/multivector.py`) in columnar arrays.
Every storage keeps a presence mask so a point may lack a named vector.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

from vectorizer.index import distance as dist
from vectorizer.index.multivector import MultiVectorStorage
from vectorizer.index.quantization import TurboCodec
from vectorizer.index.sparse import SparseVectorStorage, grow

_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


class DenseVectorStorage:
    """A matrix of dense vectors indexed by segment offset."""

    kind = "dense"
    rows_are_vectors = True  # `data` rows are the vectors themselves (not codes)

    def __init__(self, dim: int, datatype: str = "float32", normalize: bool = False,
                 on_disk: bool = False) -> None:
        self.dim = dim
        self.datatype = datatype
        self.normalize = normalize and datatype != "uint8"
        # Sealed segments of an `on_disk` vector read their matrix through a memory map.
        self.on_disk = on_disk
        self._fd: int | None = None  # the mapped file, for `rows`
        self._file_offset = 0
        self.data = np.zeros((0, dim), dtype=_DTYPES[datatype])
        self.present = np.zeros(0, dtype=bool)

    def ensure_capacity(self, n: int) -> None:
        self.data = grow(self.data, n)
        self.present = grow(self.present, n)

    def prepare(self, matrix: np.ndarray) -> np.ndarray:
        """Convert float32 input to what is stored (normalised for cosine, cast to datatype)."""
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            matrix = matrix / norms
        if self.datatype == "uint8":
            return np.clip(matrix, 0, 255).astype(np.uint8)
        return matrix.astype(_DTYPES.get(self.datatype, np.float32), copy=False)

    def set_many(self, offsets: np.ndarray, matrix: np.ndarray) -> None:
        self.ensure_capacity(int(offsets.max()) + 1 if len(offsets) else 0)
        self.data[offsets] = self.prepare(matrix)
        self.present[offsets] = True

    def delete(self, offset: int) -> None:
        if offset < len(self.present):
            self.present[offset] = False

    def get(self, offset: int) -> list[float] | None:
        if not self.has(offset):
            return None
        return self.rows(np.array([offset]))[0].astype(np.float32).tolist()

    def has(self, offset: int) -> bool:
        return offset < len(self.present) and bool(self.present[offset])

    def present_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        m = min(n, len(self.present))
        mask[:m] = self.present[:m]
        return mask

    def save(self, directory: Path, n: int) -> None:
        np.save(directory / "dense.npy", self.data[:n], allow_pickle=False)
        np.save(directory / "present.npy", self.present[:n], allow_pickle=False)

    def load(self, directory: Path) -> None:
        """Read the saved matrix: memory-mapped read-only when `on_disk`, else into RAM."""
        if self.on_disk:
            self.data = np.load(directory / "dense.npy", mmap_mode="r", allow_pickle=False)
            self._close_file()
            self._fd = os.open(directory / "dense.npy", os.O_RDONLY)
            self._file_offset = int(self.data.offset)  # type: ignore[attr-defined]
            mapping = getattr(self.data, "_mmap", None)
            if mapping is not None:  # point reads: no read-ahead around each touched page
                mapping.madvise(mmap.MADV_RANDOM)
        else:
            self.data = np.load(directory / "dense.npy", allow_pickle=False)
        self.present = np.load(directory / "present.npy", allow_pickle=False)

    def rows(self, offsets: np.ndarray) -> np.ndarray:
        """The stored rows at `offsets` (for rescoring a few candidates).

        A memory-mapped matrix is read with `pread`, so the rows pass through the
        kernel's page cache without becoming resident in this process.
        """
        if self._fd is None or len(offsets) > 4096:
            return self.data[offsets]
        row_bytes = self.dim * self.data.dtype.itemsize
        order = np.argsort(offsets, kind="stable")
        chunks = [os.pread(self._fd, row_bytes, self._file_offset + int(o) * row_bytes)
                  for o in offsets[order].tolist()]
        out = np.empty((len(offsets), self.dim), dtype=self.data.dtype)
        out[order] = np.frombuffer(b"".join(chunks), dtype=self.data.dtype).reshape(
            len(offsets), self.dim)
        return out

    def plain_rows(self) -> np.ndarray | None:
        """The float32 matrix when it is held in RAM (rows index it directly), else None."""
        if self._fd is None and self.rows_are_vectors and self.data.dtype == np.float32:
            return self.data
        return None

    def matrix(self, n: int) -> np.ndarray:
        """Rows 0..n-1 as numbers (float32, float16 or uint8), for building an index."""
        return self.data[:n]

    def scores(self, offsets: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
        """Qdrant scores of the rows at `offsets` against a prepared query."""
        return dist.scores(self.data, offsets, query, distance)

    def scores_many(self, offsets: np.ndarray, queries: np.ndarray, distance: str,
                    ) -> np.ndarray:
        """(queries by rows) scores: one matrix product per block for Cosine and Dot; the
        distances query by query, computed from differences as a single search does."""
        if self.rows_are_vectors and distance in (dist.COSINE, dist.DOT):
            return dist.dot_scores_many(self.data, offsets, queries)
        out = np.empty((len(queries), len(offsets)), dtype=np.float32)
        for i, query in enumerate(queries):
            out[i] = self.scores(offsets, query, distance)
        return out

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self._close_file()

    def load_into_memory(self) -> None:
        """Hold the matrix in RAM (a segment that takes writes), not through a map."""
        self.data = np.array(self.data)
        self._close_file()

    def release_pages(self) -> None:
        """Drop the memory map's pages from this process (the kernel's cache keeps them)."""
        mapping = getattr(self.data, "_mmap", None)
        if mapping is not None:
            mapping.madvise(mmap.MADV_DONTNEED)


class TurboVectorStorage(DenseVectorStorage):
    """A dense vector kept only as turbo codes (`turbo4`, `turbo8`, `turbo16` datatypes).

    `data` holds the codes and `scales` one float per row; reads decode them, so
    returned vectors (and scores) are the codes' approximation, as in Qdrant.
    """

    rows_are_vectors = False

    def __init__(self, dim: int, datatype: str, normalize: bool = False) -> None:
        self.codec = TurboCodec(dim, datatype)
        super().__init__(dim, "float32", normalize, on_disk=False)
        self.datatype = datatype
        self.data = np.zeros((0, self.codec.width), dtype=self.codec.code_dtype)
        self.scales = np.zeros(0, dtype=np.float32)

    def ensure_capacity(self, n: int) -> None:
        super().ensure_capacity(n)
        self.scales = grow(self.scales, n)

    def set_many(self, offsets: np.ndarray, matrix: np.ndarray) -> None:
        self.ensure_capacity(int(offsets.max()) + 1 if len(offsets) else 0)
        codes, scales = self.codec.encode(self.prepare(matrix))
        self.data[offsets] = codes
        self.scales[offsets] = scales
        self.present[offsets] = True

    def rows(self, offsets: np.ndarray) -> np.ndarray:
        return self.codec.decode(self.data[offsets], self.scales[offsets])

    def matrix(self, n: int) -> np.ndarray:
        return np.concatenate([self.rows(np.arange(s, min(s + 65_536, n)))
                               for s in range(0, n, 65_536)]) if n else \
            np.zeros((0, self.dim), dtype=np.float32)

    def scores(self, offsets: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
        # The rotation keeps dot products and Euclidean distances but not L1 ones:
        # Manhattan compares fully decoded rows, the others rotated ones.
        manhattan = distance == dist.MANHATTAN
        q = query if manhattan else self.codec.rotation.apply(query)
        out = np.empty(len(offsets), dtype=np.float32)
        for s in range(0, len(offsets), 65_536):
            rows = offsets[s:s + 65_536]
            block = self.rows(rows) if manhattan else \
                self.codec.decode_rotated(self.data[rows], self.scales[rows])
            out[s:s + len(rows)] = dist.scores(block, None, q, distance)
        return out

    def save(self, directory: Path, n: int) -> None:
        super().save(directory, n)
        np.save(directory / "scales.npy", self.scales[:n], allow_pickle=False)

    def load(self, directory: Path) -> None:
        super().load(directory)
        self.scales = np.load(directory / "scales.npy", allow_pickle=False)


VectorStorage = DenseVectorStorage | SparseVectorStorage | MultiVectorStorage  # turbo: a dense


def storage_meta(storage: VectorStorage) -> dict:
    """Just enough to rebuild an empty storage of the same shape before `load`."""
    if isinstance(storage, SparseVectorStorage):
        return {"kind": "sparse", "on_disk": True} if storage.on_disk else {"kind": "sparse"}
    meta = {"kind": storage.kind, "dim": storage.dim, "datatype": storage.datatype,
            "normalize": storage.normalize}
    if isinstance(storage, DenseVectorStorage) and storage.on_disk:
        meta["on_disk"] = True
    return meta


def new_storage(kind: str, dim: int = 0, datatype: str = "float32", normalize: bool = False,
                on_disk: bool = False) -> VectorStorage:
    """An empty storage for a vector of `kind` ("dense", "sparse" or "multi")."""
    if kind == "sparse":
        return SparseVectorStorage(on_disk)
    if kind == "multi":
        return MultiVectorStorage(dim, datatype, normalize)
    if datatype.startswith("turbo"):
        return TurboVectorStorage(dim, datatype, normalize)
    return DenseVectorStorage(dim, datatype, normalize, on_disk)


def storage_from_meta(meta: dict) -> VectorStorage:
    return new_storage(meta["kind"], meta.get("dim", 0), meta.get("datatype", "float32"),
                       meta.get("normalize", False), bool(meta.get("on_disk")))

__all__ = [
    "DenseVectorStorage",
    "MultiVectorStorage",
    "SparseVectorStorage",
    "TurboVectorStorage",
    "VectorStorage",
    "new_storage",
    "storage_from_meta",
    "storage_meta",
]
