"""Qdrant's quantization settings and the codecs behind them.

`QuantSpec` reads a named vector's effective `quantization_config` (its own, or
the collection's) into what the optimizer builds beside its HNSW graph:

- none / scalar: int8 codes (faiss's ScalarQuantizer); scalar clips the training
  values to the `quantile` range, as Qdrant does;
- product: PQ codes of about `float32 bytes / compression` bytes per vector;
- binary: thermometer bit codes compared by Hamming distance — `one_bit` (one
  threshold per dimension), `two_bits` (two), `one_and_half_bits` (two on even
  dimensions, one on odd);
- turbo: a seeded random rotation that spreads every vector's energy evenly over
  the dimensions, then 8-bit or 4-bit scalar codes (`bits8`, `bits4`) or
  thermometer codes (`bits2`, `bits1_5`, `bits1`).

Codes are approximations: the search takes more candidates than asked
(`oversampling`) and rescores them from the original vectors unless told not to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_COMPRESSION = {"x4": 4, "x8": 8, "x16": 16, "x32": 32, "x64": 64}
# Turbo bit sizes served by thermometer codes, as the binary encoding of the same width.
_TURBO_THERMOMETER = {"bits2": "two_bits", "bits1_5": "one_and_half_bits", "bits1": "one_bit"}
_SAMPLE = 20_000  # rows used to fit thresholds and codebooks
ROTATION_SEED = 0x5EED_7B0


@dataclass(frozen=True)
class QuantSpec:
    """What a sealed segment stores to traverse its graph, from `quantization_config`."""

    kind: str = "none"  # none | scalar | product | binary | turbo
    quantile: float | None = None
    compression: int = 0
    encoding: str = "one_bit"
    query_encoding: str = "default"
    bits: str = "bits4"

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> QuantSpec:
        if not isinstance(config, dict):
            return cls()
        if isinstance(config.get("scalar"), dict):
            quantile = config["scalar"].get("quantile")
            return cls(kind="scalar", quantile=float(0.99 if quantile is None else quantile))
        if isinstance(config.get("product"), dict):
            ratio = config["product"].get("compression") or "x4"
            return cls(kind="product", compression=_COMPRESSION.get(str(ratio), 4))
        if isinstance(config.get("binary"), dict):
            binary = config["binary"]
            return cls(kind="binary", encoding=binary.get("encoding") or "one_bit",
                       query_encoding=binary.get("query_encoding") or "default")
        if isinstance(config.get("turbo"), dict):
            return cls(kind="turbo", bits=config["turbo"].get("bits") or "bits4")
        return cls()

    @property
    def key(self) -> str:
        """Identifies the codes a graph was built with; a change means re-indexing."""
        return "|".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))

    @property
    def thermometer(self) -> str | None:
        """The thermometer encoding this spec stores, if its codes are bits."""
        if self.kind == "binary":
            return self.encoding
        if self.kind == "turbo":
            return _TURBO_THERMOMETER.get(self.bits)
        return None

    @property
    def rotated(self) -> bool:
        return self.kind == "turbo"


class ThermometerCodec:
    """Bit codes in which each dimension's level is a run of ones (a thermometer).

    A dimension with L levels takes L-1 bits; the Hamming distance between two
    codes is then the sum over dimensions of their level differences.  Thresholds
    are quantiles of the data, and each level decodes to the mean of the values
    that fell in it.
    """

    def __init__(self, bit_dims: np.ndarray, thresholds: np.ndarray, centers: np.ndarray,
                 ) -> None:
        self.bit_dims = bit_dims  # dimension of each bit (sorted)
        self.thresholds = thresholds  # threshold of each bit
        self.centers = centers  # (dim, 3): decoded value per level
        self.dim = centers.shape[0]
        self.bits = len(bit_dims)
        self.padded_bits = max(8, -(-self.bits // 8) * 8)

    @classmethod
    def fit(cls, data: np.ndarray, encoding: str) -> ThermometerCodec:
        dim = data.shape[1]
        sample = _sample(data).astype(np.float32)
        if encoding == "two_bits":
            levels = np.full(dim, 3)
        elif encoding == "one_and_half_bits":
            levels = np.where(np.arange(dim) % 2 == 0, 3, 2)
        else:
            levels = np.full(dim, 2)
        bit_dims, thresholds = [], []
        centers = np.zeros((dim, 3), dtype=np.float32)
        for j in range(dim):
            col = sample[:, j]
            cuts = np.quantile(col, np.arange(1, levels[j]) / levels[j]) if len(col) else \
                np.zeros(levels[j] - 1)
            bit_dims.extend([j] * len(cuts))
            thresholds.extend(cuts.tolist())
            level = (col[:, None] > cuts[None, :]).sum(axis=1) if len(col) else col
            for lv in range(levels[j]):
                inside = col[level == lv]
                centers[j, lv] = inside.mean() if len(inside) else \
                    cuts[min(lv, len(cuts) - 1)]
        return cls(np.asarray(bit_dims, dtype=np.int64),
                   np.asarray(thresholds, dtype=np.float32), centers)

    def encode(self, data: np.ndarray) -> np.ndarray:
        """Packed codes, `padded_bits / 8` bytes per row."""
        bits = np.zeros((len(data), self.padded_bits), dtype=bool)
        bits[:, : self.bits] = data[:, self.bit_dims] > self.thresholds
        return np.packbits(bits, axis=1)

    def levels(self, codes: np.ndarray) -> np.ndarray:
        bits = np.unpackbits(codes, axis=1)[:, : self.bits].astype(np.int8)
        out = np.zeros((len(codes), self.dim), dtype=np.int8)
        np.add.at(out, (slice(None), self.bit_dims), bits)
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Each dimension's level mapped back to its mean value (float32)."""
        return self.centers[np.arange(self.dim), self.levels(codes)]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"bit_dims": self.bit_dims, "thresholds": self.thresholds,
                "centers": self.centers}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ThermometerCodec:
        return cls(arrays["bit_dims"], arrays["thresholds"], arrays["centers"])


class Rotation:
    """A seeded random orthogonal map (block-diagonal after a permutation).

    It preserves dot products and Euclidean distances, and makes coordinates
    look alike, so per-dimension codes lose less.  Blocks of at most 1,024
    dimensions keep it cheap for very wide vectors.
    """

    BLOCK = 1024

    def __init__(self, dim: int, seed: int = ROTATION_SEED) -> None:
        rng = np.random.default_rng(seed + dim)
        self.perm = rng.permutation(dim)
        self.blocks = []
        for start in range(0, dim, self.BLOCK):
            size = min(self.BLOCK, dim - start)
            q, r = np.linalg.qr(rng.normal(size=(size, size)))
            q *= np.sign(np.diag(r))  # a uniformly random rotation
            self.blocks.append((start, start + size, q.T.astype(np.float32)))

    def invert(self, data: np.ndarray) -> np.ndarray:
        """The inverse map: rotated rows back to the original coordinates."""
        y = np.atleast_2d(np.asarray(data, dtype=np.float32))
        x = np.empty_like(y)
        for start, end, qt in self.blocks:
            x[:, start:end] = y[:, start:end] @ qt.T
        out = np.empty_like(x)
        out[:, self.perm] = x
        return out

    def apply(self, data: np.ndarray) -> np.ndarray:
        x = np.asarray(data, dtype=np.float32)
        squeeze = x.ndim == 1
        x = np.atleast_2d(x)[:, self.perm]
        out = np.empty_like(x)
        for start, end, qt in self.blocks:
            out[:, start:end] = x[:, start:end] @ qt
        return out[0] if squeeze else out


def quantize_query(query: np.ndarray, bits: int) -> np.ndarray:
    """The query rounded to `2**bits` uniform levels over its own range."""
    lo, hi = float(query.min()), float(query.max())
    if hi <= lo:
        return query.astype(np.float32)
    steps = (1 << bits) - 1
    scale = (hi - lo) / steps
    return (np.round((query - lo) / scale) * scale + lo).astype(np.float32)


def pq_layout(dim: int, compression: int, n: int) -> tuple[int, int]:
    """(sub-quantizers, bits each) giving about `dim * 4 / compression` bytes per vector."""
    budget = max(1, dim * 4 // max(compression, 1))
    subs = max(d for d in range(1, dim + 1) if dim % d == 0 and d <= budget)
    nbits = int(min(8, max(1, np.floor(np.log2(max(n, 2))) - 2)))
    return subs, nbits


def _sample(data: np.ndarray) -> np.ndarray:
    if len(data) <= _SAMPLE:
        return np.asarray(data)
    rows = np.random.default_rng(7).choice(len(data), _SAMPLE, replace=False)
    return np.asarray(data[np.sort(rows)])


def training_sample(data: np.ndarray) -> np.ndarray:
    """At most 20,000 rows of `data` (seeded), as float32, to train codebooks on."""
    return _sample(data).astype(np.float32)


def _lloyd_max_gaussian(levels: int) -> np.ndarray:
    """Reconstruction levels minimising the squared error for a standard normal value."""
    grid = np.linspace(-5.0, 5.0, 20_001)
    weight = np.exp(-grid**2 / 2)
    centers = np.quantile(np.random.default_rng(0).normal(size=200_000),
                          (np.arange(levels) + 0.5) / levels)
    for _ in range(200):
        cuts = (centers[1:] + centers[:-1]) / 2
        bucket = np.searchsorted(cuts, grid)
        sums = np.bincount(bucket, weights=weight * grid, minlength=levels)
        mass = np.bincount(bucket, weights=weight, minlength=levels)
        centers = np.where(mass > 0, sums / np.maximum(mass, 1e-30), centers)
    return centers.astype(np.float32)


class TurboCodec:
    """Qdrant's turbo datatypes: vectors stored only as rotated low-bit codes.

    After the rotation every coordinate behaves like a normal value of the
    vector's scale.  `turbo4` maps each to the nearest of 16 Lloyd-Max levels
    (two per byte) with a per-vector scale that restores the vector's norm;
    `turbo8` and `turbo16` round to signed 8- and 16-bit integers of a per-vector
    scale.  Scores are computed in the rotated space, which keeps dot products
    and Euclidean distances.
    """

    def __init__(self, dim: int, datatype: str) -> None:
        self.dim = dim
        self.bits = {"turbo4": 4, "turbo8": 8, "turbo16": 16}[datatype]
        self.rotation = Rotation(dim)
        if self.bits == 4:
            self.levels = _lloyd_max_gaussian(16)
            self.cuts = (self.levels[1:] + self.levels[:-1]) / 2
            self.code_dtype: type = np.uint8
            self.width = (dim + 1) // 2
        else:
            self.code_dtype = np.int8 if self.bits == 8 else np.int16
            self.width = dim

    def encode(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(codes, per-row scales) of float rows."""
        y = self.rotation.apply(np.atleast_2d(data))
        if self.bits == 4:
            norms = np.linalg.norm(y, axis=1)
            unit = y * (np.sqrt(self.dim) / np.maximum(norms, 1e-30))[:, None]
            idx = np.searchsorted(self.cuts, unit).astype(np.uint8)
            decoded_norm = np.linalg.norm(self.levels[idx], axis=1)
            scales = norms / np.maximum(decoded_norm, 1e-30)
            if self.dim % 2:
                idx = np.concatenate([idx, np.zeros((len(idx), 1), np.uint8)], axis=1)
            codes = (idx[:, 0::2] | (idx[:, 1::2] << 4)).astype(np.uint8)
            return codes, scales.astype(np.float32)
        top = (1 << (self.bits - 1)) - 1
        scales = np.abs(y).max(axis=1) / top
        codes = np.round(y / np.maximum(scales, 1e-30)[:, None])
        return codes.astype(self.code_dtype), scales.astype(np.float32)

    def decode_rotated(self, codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Rows in the rotated space (float32)."""
        if self.bits == 4:
            idx = np.empty((len(codes), codes.shape[1] * 2), dtype=np.uint8)
            idx[:, 0::2] = codes & 0x0F
            idx[:, 1::2] = codes >> 4
            return self.levels[idx[:, : self.dim]] * scales[:, None]
        return codes.astype(np.float32) * scales[:, None]

    def decode(self, codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Rows in the original space (float32)."""
        return self.rotation.invert(self.decode_rotated(codes, scales))
