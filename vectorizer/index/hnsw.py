"""HNSW graphs over a sealed segment's dense vectors, built and searched by faiss.

The graph covers every row of the segment's vector matrix (row = segment
offset).  Deleted points and points without the vector stay in the graph, as in
Qdrant, and are excluded at search time by an allow-list bitmap; so are points
that fail the request's filter.  faiss releases the GIL while it builds and
searches.

The graph is always built from int8 codes of the original vectors (a good graph
at a quarter of float32's memory).  What the search then walks it with depends on
the vector's quantization (see `quantization.py`): the same int8 codes, 4-bit
codes, product-quantized codes, or thermometer bit codes compared by Hamming
distance — the graph's links are moved over to an index holding those codes.
Only Manhattan without bit codes keeps the float vectors (faiss's L1 graphs have
no code storage).  Results from codes are approximate: the caller rescores them
from the original vectors.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import orjson

from vectorizer.common.cpu import hnsw_threads
from vectorizer.index.distance import COSINE, DOT, EUCLID, MANHATTAN
from vectorizer.index.quantization import (
    QuantSpec,
    Rotation,
    ThermometerCodec,
    pq_layout,
    quantize_query,
    training_sample,
)

_METRICS = {COSINE: faiss.METRIC_INNER_PRODUCT, DOT: faiss.METRIC_INNER_PRODUCT,
            EUCLID: faiss.METRIC_L2, MANHATTAN: faiss.METRIC_L1}
INDEX_FILE = "hnsw.faiss"
META_FILE = "hnsw.json"
CODEC_FILE = "hnsw_codec.npz"
class HnswIndex:
    """One faiss HNSW index over rows 0..n-1 of a dense vector matrix, and its codes."""

    def __init__(self, index: faiss.Index | faiss.IndexBinary, distance: str, spec: QuantSpec,
                 codec: ThermometerCodec | None = None) -> None:
        self.index = index
        self.distance = distance
        self.spec = spec
        self.codec = codec
        self.rotation = Rotation(index.d if codec is None else codec.dim) \
            if _rotates(spec, distance) else None
        self._codes: np.ndarray | None = None
        self._plain_params: dict[int, faiss.SearchParametersHNSW] = {}
        self.mapped: Path | None = None  # the saved directory its codes are mapped from

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
    def exact(self) -> bool:
        """True when the graph keeps the vectors themselves (its scores need no rescoring)."""
        return isinstance(self.index, faiss.IndexHNSWFlat)

    def code_bytes(self) -> int:
        """Bytes of vector codes this index keeps in memory."""
        if self.codec is not None:
            return self.size * self.codec.padded_bits // 8
        storage = faiss.downcast_index(self.index.storage)
        if isinstance(storage, faiss.IndexFlat):
            return self.size * self.index.d * 4
        return self.size * int(storage.sa_code_size())

    # ------------------------------------------------------------ build

    @classmethod
    def build(cls, data: np.ndarray, distance: str, m: int, ef_construct: int,
              threads: int = 0, spec: QuantSpec | None = None) -> HnswIndex:
        """Build the graph over `data` and the codes `spec` asks for."""
        spec = spec or QuantSpec()
        faiss.omp_set_num_threads(hnsw_threads(threads))
        m = max(int(m), 2)
        x = np.ascontiguousarray(data, dtype=np.float32)
        if _rotates(spec, distance):
            x = Rotation(x.shape[1]).apply(x)
        dim = x.shape[1]
        metric = _METRICS[distance]
        if distance == MANHATTAN and spec.thermometer is None:
            graph = faiss.IndexHNSWFlat(dim, m, metric)
        else:
            graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, m,
                                      metric if metric != faiss.METRIC_L1 else faiss.METRIC_L2)
            sample = training_sample(x)
            quantile = spec.quantile if spec.kind == "scalar" else None
            if quantile is not None and quantile < 1.0 and len(sample):
                lo, hi = np.quantile(sample, [1.0 - quantile, quantile])
                sample = np.clip(sample, lo, hi)
            graph.train(sample)
        graph.hnsw.efConstruction = max(int(ef_construct), 4)
        graph.add(x)
        codec = None
        index: faiss.Index | faiss.IndexBinary = graph
        if spec.thermometer is not None:
            codec = ThermometerCodec.fit(x, spec.thermometer)
            index = faiss.IndexBinaryHNSW(codec.padded_bits, m)
            _move_graph(graph, index, codec.encode(x), binary=True)
        elif spec.kind == "product" and distance != MANHATTAN:
            subs, nbits = pq_layout(dim, spec.compression, len(x))
            index = faiss.IndexHNSWPQ(dim, subs, m, nbits, metric)
            pq = faiss.downcast_index(index.storage).pq
            pq.cp.max_points_per_centroid = 64
            pq.cp.min_points_per_centroid = 1
            _move_graph(graph, index, x, binary=False)
        elif spec.kind == "turbo" and spec.bits == "bits4" and distance != MANHATTAN:
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_4bit, m, metric)
            _move_graph(graph, index, x, binary=False)
        return cls(index, distance, spec, codec)

    # ------------------------------------------------------------ search

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, ef: int,
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Up to `k` allowed rows per query, best first by the codes, in one faiss call.

        Returns (ids, approximate scores), rows padded with -1 ids.  `allowed` is a
        packed little-endian bitmap of the rows that may be returned (None: all).
        Scores follow Qdrant's conventions; for bit codes they are computed by
        `approximate_scores` only when asked (None here).
        """
        ef = max(int(ef), k)
        selector = None  # kept referenced until faiss is done with it
        if allowed is None:
            params = self._plain_params.get(ef)
            if params is None:  # read-only during a search, so shared by concurrent ones
                params = self._plain_params[ef] = faiss.SearchParametersHNSW(efSearch=ef)
        else:
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(allowed))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        nq = len(queries)
        q = self._rotate(queries)
        ids = np.empty((nq, k), dtype=np.int64)
        if self.codec is not None:
            dists = np.empty((nq, k), dtype=np.int32)
            codes = self.codec.encode(q)
            self.index.search_c(nq, faiss.swig_ptr(codes), k, faiss.swig_ptr(dists),
                                faiss.swig_ptr(ids), params)
            return ids, None
        raw = np.empty((nq, k), dtype=np.float32)
        q = np.ascontiguousarray(q, dtype=np.float32)
        self.index.search_c(nq, faiss.swig_ptr(q), k, faiss.swig_ptr(raw),
                            faiss.swig_ptr(ids), params)
        if self.distance == EUCLID:
            raw = np.sqrt(np.maximum(raw, 0.0))
        return ids, raw

    def approximate_scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Scores of `offsets` from their codes (Qdrant's conventions), without originals.

        Bit codes decode to each level's mean value; the query is compared as
        `query_encoding` says: `scalar8bits` / `scalar4bits` quantize it to that
        many bits, `default` / `binary` to the same bit code as the points.
        """
        q = self._rotate(query).astype(np.float32)
        if self.codec is not None:
            if self._codes is None:
                storage = faiss.downcast_IndexBinary(self.index.storage)
                self._codes = faiss.vector_to_array(storage.xb).reshape(self.size, -1)
            rows = self.codec.decode(self._codes[offsets])
            enc = self.spec.query_encoding
            if enc == "scalar8bits":
                q = quantize_query(q, 8)
            elif enc == "scalar4bits":
                q = quantize_query(q, 4)
            else:
                q = self.codec.decode(self.codec.encode(q[None, :]))[0]
        else:
            storage = faiss.downcast_index(self.index.storage)
            rows = storage.reconstruct_batch(np.ascontiguousarray(offsets, dtype=np.int64))
        if self.distance in (COSINE, DOT):
            return (rows @ q).astype(np.float32)
        diff = rows - q
        if self.distance == EUCLID:
            return np.sqrt(np.einsum("ij,ij->i", diff, diff)).astype(np.float32)
        return np.abs(diff).sum(axis=1).astype(np.float32)

    def _rotate(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32)
        return self.rotation.apply(q) if self.rotation is not None else q

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        if isinstance(self.index, faiss.IndexBinary):
            faiss.write_index_binary(self.index, str(directory / INDEX_FILE))
        else:
            faiss.write_index(self.index, str(directory / INDEX_FILE))
        if self.codec is not None:
            np.savez(directory / CODEC_FILE, **self.codec.arrays())
        (directory / META_FILE).write_bytes(orjson.dumps({
            "spec": self.spec.__dict__, "binary": self.codec is not None}))

    @classmethod
    def load(cls, directory: Path, distance: str, mmap: bool = False) -> HnswIndex | None:
        """The saved index, or None when absent or from an older format (re-indexed).

        With `mmap` (HNSW `on_disk`) the codes stay in the file, memory-mapped read-only
        and paged in by the searches that read them; the links are read into memory."""
        path, meta_path = directory / INDEX_FILE, directory / META_FILE
        if not path.exists() or not meta_path.exists():
            return None
        meta = orjson.loads(meta_path.read_bytes())
        spec = QuantSpec(**meta["spec"])
        flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
        if meta.get("binary"):
            with np.load(directory / CODEC_FILE) as arrays:
                codec = ThermometerCodec.from_arrays(dict(arrays))
            index = cls(faiss.read_index_binary(str(path), flags), distance, spec, codec)
        else:
            index = cls(faiss.read_index(str(path), flags), distance, spec)
        index.mapped = directory if mmap else None
        return index


def _rotates(spec: QuantSpec, distance: str) -> bool:
    """Turbo codes are taken after a rotation, except for Manhattan (which it would change)."""
    return spec.rotated and distance != MANHATTAN


def _move_graph(graph: faiss.Index, target: faiss.Index | faiss.IndexBinary,
                vectors: np.ndarray, binary: bool) -> None:
    """Give `target` the links of `graph` and its own codes of `vectors`."""
    similarity = bool(target.hnsw.is_similarity)  # Hamming and L2 are distances, IP is not
    target.hnsw = graph.hnsw
    target.hnsw.is_similarity = similarity
    if binary:
        storage = faiss.downcast_IndexBinary(target.storage)
    else:
        storage = faiss.downcast_index(target.storage)
        storage.train(training_sample(vectors))
    storage.add(vectors)
    target.ntotal = storage.ntotal
    target.is_trained = True


def uses_inner_product(distance: str) -> bool:
    return distance in (COSINE, DOT)
