"""Per-name vector storage inside a segment: dense, sparse and multi-vectors by offset.

Dense vectors live in one growable matrix at the configured datatype
(float32, float16 or uint8); sparse and multi-vectors in per-offset arrays.
Every storage keeps a presence mask so a point may lack a named vector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    if array.shape[0] >= capacity:
        return array
    new_cap = max(capacity, array.shape[0] * 2, 64)
    grown = np.zeros((new_cap, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


class DenseVectorStorage:
    """A matrix of dense vectors indexed by segment offset."""

    kind = "dense"

    def __init__(self, dim: int, datatype: str = "float32", normalize: bool = False) -> None:
        self.dim = dim
        self.datatype = datatype
        self.normalize = normalize and datatype != "uint8"
        self.data = np.zeros((0, dim), dtype=_DTYPES[datatype])
        self.present = np.zeros(0, dtype=bool)

    def ensure_capacity(self, n: int) -> None:
        self.data = _grow(self.data, n)
        self.present = _grow(self.present, n)

    def prepare(self, matrix: np.ndarray) -> np.ndarray:
        """Convert float32 input to what is stored (normalised for cosine, cast to datatype)."""
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            matrix = matrix / norms
        if self.datatype == "uint8":
            return np.clip(matrix, 0, 255).astype(np.uint8)
        return matrix.astype(_DTYPES[self.datatype], copy=False)

    def set_many(self, offsets: np.ndarray, matrix: np.ndarray) -> None:
        self.ensure_capacity(int(offsets.max()) + 1 if len(offsets) else 0)
        self.data[offsets] = self.prepare(matrix)
        self.present[offsets] = True

    def delete(self, offset: int) -> None:
        if offset < len(self.present):
            self.present[offset] = False

    def get(self, offset: int) -> list[float] | None:
        if offset >= len(self.present) or not self.present[offset]:
            return None
        return self.data[offset].astype(np.float32).tolist()

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
        self.data = np.load(directory / "dense.npy", allow_pickle=False)
        self.present = np.load(directory / "present.npy", allow_pickle=False)


class SparseVectorStorage:
    """Sparse vectors (sorted indices, values) by offset."""

    kind = "sparse"

    def __init__(self) -> None:
        self.vectors: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def set(self, offset: int, indices: np.ndarray, values: np.ndarray) -> None:
        self.vectors[offset] = (indices, values)

    def delete(self, offset: int) -> None:
        self.vectors.pop(offset, None)

    def get(self, offset: int) -> dict[str, list] | None:
        vec = self.vectors.get(offset)
        if vec is None:
            return None
        return {"indices": vec[0].tolist(), "values": vec[1].tolist()}

    def has(self, offset: int) -> bool:
        return offset in self.vectors

    def present_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        if self.vectors:
            offs = np.fromiter(self.vectors.keys(), dtype=np.int64)
            mask[offs[offs < n]] = True
        return mask

    def save(self, directory: Path, n: int) -> None:
        offsets = sorted(o for o in self.vectors if o < n)
        lengths = np.array([len(self.vectors[o][0]) for o in offsets], dtype=np.int64)
        idx = [self.vectors[o][0] for o in offsets]
        val = [self.vectors[o][1] for o in offsets]
        np.save(directory / "offsets.npy", np.array(offsets, dtype=np.int64))
        np.save(directory / "lengths.npy", lengths)
        np.save(directory / "indices.npy",
                np.concatenate(idx) if idx else np.zeros(0, np.uint32))
        np.save(directory / "values.npy",
                np.concatenate(val) if val else np.zeros(0, np.float32))

    def load(self, directory: Path) -> None:
        offsets = np.load(directory / "offsets.npy")
        lengths = np.load(directory / "lengths.npy")
        indices = np.load(directory / "indices.npy")
        values = np.load(directory / "values.npy")
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        self.vectors = {
            int(o): (indices[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]])
            for i, o in enumerate(offsets)
        }


class MultiVectorStorage:
    """Multi-vectors (a matrix of sub-vectors per point) by offset."""

    kind = "multi"

    def __init__(self, dim: int, datatype: str = "float32", normalize: bool = False) -> None:
        self.dim = dim
        self.datatype = datatype
        self.normalize = normalize and datatype != "uint8"
        self.vectors: dict[int, np.ndarray] = {}

    def set(self, offset: int, matrix: np.ndarray) -> None:
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            matrix = matrix / norms
        if self.datatype == "uint8":
            matrix = np.clip(matrix, 0, 255).astype(np.uint8)
        else:
            matrix = matrix.astype(_DTYPES[self.datatype], copy=False)
        self.vectors[offset] = matrix

    def delete(self, offset: int) -> None:
        self.vectors.pop(offset, None)

    def get(self, offset: int) -> list[list[float]] | None:
        vec = self.vectors.get(offset)
        return None if vec is None else vec.astype(np.float32).tolist()

    def raw(self, offset: int) -> np.ndarray | None:
        """The stored matrix as float32 (for copying a point to another segment)."""
        vec = self.vectors.get(offset)
        return None if vec is None else vec.astype(np.float32)

    def has(self, offset: int) -> bool:
        return offset in self.vectors

    def present_mask(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        if self.vectors:
            offs = np.fromiter(self.vectors.keys(), dtype=np.int64)
            mask[offs[offs < n]] = True
        return mask

    def save(self, directory: Path, n: int) -> None:
        offsets = sorted(o for o in self.vectors if o < n)
        counts = np.array([self.vectors[o].shape[0] for o in offsets], dtype=np.int64)
        mats = [self.vectors[o] for o in offsets]
        np.save(directory / "offsets.npy", np.array(offsets, dtype=np.int64))
        np.save(directory / "counts.npy", counts)
        np.save(directory / "data.npy",
                np.concatenate(mats) if mats else np.zeros((0, self.dim), _DTYPES[self.datatype]))

    def load(self, directory: Path) -> None:
        offsets = np.load(directory / "offsets.npy")
        counts = np.load(directory / "counts.npy")
        data = np.load(directory / "data.npy")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        self.vectors = {int(o): data[bounds[i] : bounds[i + 1]] for i, o in enumerate(offsets)}


VectorStorage = DenseVectorStorage | SparseVectorStorage | MultiVectorStorage


def storage_meta(storage: VectorStorage) -> dict:
    """Just enough to rebuild an empty storage of the same shape before `load`."""
    if isinstance(storage, SparseVectorStorage):
        return {"kind": "sparse"}
    return {"kind": storage.kind, "dim": storage.dim, "datatype": storage.datatype,
            "normalize": storage.normalize}


def storage_from_meta(meta: dict) -> VectorStorage:
    if meta["kind"] == "sparse":
        return SparseVectorStorage()
    cls = DenseVectorStorage if meta["kind"] == "dense" else MultiVectorStorage
    return cls(meta["dim"], meta["datatype"], meta["normalize"])


__all__ = [
    "DenseVectorStorage",
    "MultiVectorStorage",
    "SparseVectorStorage",
    "VectorStorage",
    "storage_from_meta",
    "storage_meta",
]
