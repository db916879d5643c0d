"""Recall@10 of the real server's HNSW search against exact (numpy) nearest neighbours.

Every distance with and without quantization (scalar, product, binary, turbo), with 1% and
10% payload filters, for float16 / uint8 / on-disk vectors, named vectors and per-vector
quantization, after a restart, while the optimizer is running and after it finished.  The
collections use a small `indexing_threshold` so HNSW graphs really get built, and a small
`full_scan_threshold` so searches go through those graphs instead of Qdrant's (and our)
default brute force for segments this small; `indexed_vectors_count == points_count` is
checked once the collection is green.

Ground truth follows Qdrant's conventions: Cosine on normalised vectors and Dot on raw
ones (bigger is better), Euclid and Manhattan distances (smaller is better); a filtered
search is compared with the exact top-10 of the matching subset.  A returned point counts
as a hit when its exact score is at least as good as the 10th best (this equals
|found ∩ truth| / 10 without ties, and does not punish ties of integer vectors).

Searches go through `/points/search` (same `SearchParams` as `query_points`), because the
Query API is not served yet.

The oversampling factors below are not Qdrant's usual 2-4: on 64-dimensional data a correct
quantizer needs more.  They were chosen from a numpy simulation of each quantizer (brute
force over the codes, top `10 * oversampling` rescored exactly) on this data (drawn with
5,000 points; the 4,000 used here only make it easier), where each reaches recall >= 0.97,
most of them 1.0:

    scalar int8 x2 (x1 gives 0.87), product x16 x8, product x64 x16, binary one_bit x40,
    one_and_half_bits / two_bits / one_bit with scalar8bits queries x16,
    turbo bits1 x16, bits2 x8, bits4 x4, bits8 x2.

Without rescoring the same simulation gives recall@10 of about 0.28 for binary one_bit and
0.87 for scalar int8: the bounds of `test_approximate_scores_without_rescoring` are about
half of these, and `test_per_vector_quantization_overrides_collection` tells the two apart.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client, install_qdrant_client_hook
from tests.server_process import ServerProcess

D = models.Distance
N = 4000
DIM = 64
QUERIES = 50
K = 10
MIN_RECALL = 0.95
HNSW_EF = 128
HNSW = models.HnswConfigDiff(m=16, ef_construct=100, full_scan_threshold=10)
# 200 KB: 800 float32 vectors of 64 dimensions; every upsert batch is larger, so every
# sealed segment gets a graph (none stays below the threshold, unindexed)
INDEXING_THRESHOLD_KB = 200
UPSERT_BATCH = 2000

ONE_PERCENT = models.Filter(must=[models.FieldCondition(key="b", range=models.Range(lt=1))])
TEN_PERCENT = models.Filter(must=[models.FieldCondition(key="b", range=models.Range(lt=10))])


# ------------------------------------------------------------------ data and ground truth


@functools.cache
def _dataset(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` points and `QUERIES` queries from the same mixture of 40 Gaussian clusters."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, dim))

    def draw(count: int) -> np.ndarray:
        picked = centers[rng.integers(0, len(centers), count)]
        return (picked + rng.normal(size=(count, dim))).astype(np.float32)

    points, queries = draw(n), draw(QUERIES)
    points.flags.writeable = queries.flags.writeable = False
    return points, queries


@functools.cache
def _uint8_dataset(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered integer vectors in 0..255 (for `Datatype.UINT8`)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(40, 215, size=(40, dim))

    def draw(count: int) -> np.ndarray:
        picked = centers[rng.integers(0, len(centers), count)]
        return np.clip(np.rint(picked + rng.normal(scale=40, size=(count, dim))), 0, 255)

    points, queries = draw(n).astype(np.float32), draw(QUERIES).astype(np.float32)
    points.flags.writeable = queries.flags.writeable = False
    return points, queries


def _exact_keys(points: np.ndarray, queries: np.ndarray, distance: D) -> np.ndarray:
    """(queries, points) sort keys of the exact scores: smaller is better for every distance."""
    x, q = points.astype(np.float64), queries.astype(np.float64)
    if distance == D.COSINE:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        return -(q @ x.T)
    if distance == D.DOT:
        return -(q @ x.T)
    if distance == D.EUCLID:
        return np.stack([np.linalg.norm(x - row, axis=1) for row in q])
    return np.stack([np.abs(x - row).sum(axis=1) for row in q])


def _qdrant_score(key: float, distance: D) -> float:
    """The score Qdrant returns for a sort key of `_exact_keys`."""
    return -key if distance in (D.COSINE, D.DOT) else key


def _payload_mask(n: int, flt: models.Filter | None) -> np.ndarray:
    """Which point ids (0..n-1, payload `b = id % 100`) match one of our range filters."""
    if flt is None:
        return np.ones(n, dtype=bool)
    limit = flt.must[0].range.lt  # type: ignore[index, union-attr]
    return (np.arange(n) % 100) < limit


# ------------------------------------------------------------------ server helpers


@dataclass
class Built:
    """A filled, fully indexed collection and what it was built from."""

    name: str
    points: np.ndarray
    queries: np.ndarray
    info: models.CollectionInfo


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with checked_client(server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def cache() -> dict[str, Built]:
    """Collections built in this module (per xdist worker), shared by tests that can."""
    return {}


def _wait_green(client: QdrantClient, name: str, timeout: float = 120) -> models.CollectionInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"`{name}` never became green: {info}")
        time.sleep(0.1)


def _upsert(client: QdrantClient, name: str, vectors: dict[str, np.ndarray] | np.ndarray,
            start: int = 0) -> None:
    """Upsert ids start.. with payload `b = id % 100`, in batches, each applied before return."""
    named = vectors if isinstance(vectors, dict) else {"": vectors}
    count = len(next(iter(named.values())))
    for lo in range(0, count, UPSERT_BATCH):
        hi = min(lo + UPSERT_BATCH, count)
        points = []
        for i in range(lo, hi):
            pid = start + i
            vec = {k: v[i].tolist() for k, v in named.items()}
            points.append(models.PointStruct(id=pid, vector=vec.get("", vec),
                                             payload={"b": pid % 100}))
        client.upsert(name, points, wait=True)


def _create(client: QdrantClient, vectors_config: models.VectorParams | dict,
            quantization: models.QuantizationConfig | None = None,
            indexing_threshold: int = INDEXING_THRESHOLD_KB) -> str:
    name = f"r_{uuid.uuid4().hex[:10]}"
    optimizers = models.OptimizersConfigDiff(indexing_threshold=indexing_threshold,
                                             default_segment_number=2)
    client.create_collection(name, vectors_config=vectors_config, hnsw_config=HNSW,
                             optimizers_config=optimizers, quantization_config=quantization)
    client.create_payload_index(name, "b", models.PayloadSchemaType.INTEGER, wait=True)
    return name


def _build(client: QdrantClient, distance: D,
           quantization: models.QuantizationConfig | None = None,
           points: np.ndarray | None = None, queries: np.ndarray | None = None,
           indexing_threshold: int = INDEXING_THRESHOLD_KB, **vector_params: object) -> Built:
    """Create, fill and wait for a fully indexed single-vector collection."""
    if points is None or queries is None:
        points, queries = _dataset(N, DIM, 1)
    params = models.VectorParams(size=points.shape[1], distance=distance, **vector_params)
    name = _create(client, params, quantization, indexing_threshold)
    _upsert(client, name, points)
    info = _wait_green(client, name)
    _assert_fully_indexed(info, len(points))
    return Built(name, points, queries, info)


def _cached(cache: dict[str, Built], key: str, client: QdrantClient, distance: D,
            quantization: models.QuantizationConfig | None = None) -> Built:
    if key not in cache:
        cache[key] = _build(client, distance, quantization)
    return cache[key]


def _assert_fully_indexed(info: models.CollectionInfo, points: int, vectors: int = 1) -> None:
    assert info.status == models.CollectionStatus.GREEN, info.status
    assert info.points_count == points, info
    assert info.indexed_vectors_count == points * vectors, (
        f"indexed_vectors_count {info.indexed_vectors_count} != {points * vectors} "
        f"(points_count {info.points_count}, {info.segments_count} segments)")


def _search(http: httpx.Client, name: str, query: np.ndarray, *, using: str | None = None,
            flt: models.Filter | None = None, params: models.SearchParams | None = None,
            ) -> list[dict]:
    """Top-K over `/points/search`; the body mirrors `query_points(..., search_params=...)`."""
    vector = query.tolist() if using is None else {"name": using, "vector": query.tolist()}
    body: dict = {"vector": vector, "limit": K}
    if flt is not None:
        body["filter"] = flt.model_dump(mode="json", exclude_none=True)
    if params is not None:
        body["params"] = params.model_dump(mode="json", exclude_none=True)
    resp = http.post(f"/collections/{name}/points/search", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["result"]


def _params(oversampling: float | None = None, rescore: bool | None = None,
            ignore: bool | None = None) -> models.SearchParams:
    quant = None
    if oversampling is not None or rescore is not None or ignore is not None:
        quant = models.QuantizationSearchParams(ignore=ignore, rescore=rescore,
                                                oversampling=oversampling)
    return models.SearchParams(hnsw_ef=HNSW_EF, quantization=quant)


@dataclass
class Measured:
    recall: float
    hits: list[list[dict]]  # the raw results per query
    score_errors: np.ndarray  # |returned - exact score| / max(1, |exact|) of every hit


def _measure(http: httpx.Client, name: str, points: np.ndarray, queries: np.ndarray,
             distance: D, *, using: str | None = None, flt: models.Filter | None = None,
             params: models.SearchParams | None = None) -> Measured:
    """Recall@K of the server's answers against the exact top-K of the matching points.

    Also checks what holds for any correct answer: K distinct points that match the filter,
    ordered best first by the returned scores.
    """
    keys = _exact_keys(points, queries, distance)
    allowed = _payload_mask(len(points), flt)
    total, errors, answers = 0.0, [], []
    for qi, query in enumerate(queries):
        hits = _search(http, name, query, using=using, flt=flt,
                       params=params or _params())
        answers.append(hits)
        ids = [h["id"] for h in hits]
        assert len(ids) == K, f"query {qi}: {len(ids)} results instead of {K}: {ids}"
        assert len(set(ids)) == K, f"query {qi}: duplicate ids {ids}"
        assert all(allowed[i] for i in ids), f"query {qi}: ids outside the filter {ids}"
        scores = [h["score"] for h in hits]
        bigger_first = distance in (D.COSINE, D.DOT)
        assert scores == sorted(scores, reverse=bigger_first), f"query {qi}: order {scores}"
        kth = np.partition(keys[qi][allowed], K - 1)[K - 1]
        tolerance = 1e-6 * max(1.0, abs(kth))
        total += sum(keys[qi][i] <= kth + tolerance for i in ids) / K
        for h in hits:
            exact = _qdrant_score(keys[qi][h["id"]], distance)
            errors.append(abs(h["score"] - exact) / max(1.0, abs(exact)))
    return Measured(total / len(queries), answers, np.asarray(errors))


def _assert_recall(measured: Measured, what: str, bound: float = MIN_RECALL) -> None:
    assert measured.recall >= bound, f"{what}: recall@{K} {measured.recall:.3f} < {bound}"


def _assert_exact_scores(measured: Measured, what: str) -> None:
    """The returned scores are the original vectors' scores (no quantization error)."""
    worst = float(measured.score_errors.max())
    assert worst < 2e-3, f"{what}: returned scores differ from exact ones by up to {worst}"


# ------------------------------------------------------------------ plain HNSW


ALL_DISTANCES = [D.COSINE, D.DOT, D.EUCLID, D.MANHATTAN]


@pytest.mark.parametrize("distance", ALL_DISTANCES, ids=lambda d: d.value)
def test_recall_every_distance(client: QdrantClient, http: httpx.Client,
                               cache: dict[str, Built], distance: D) -> None:
    built = _cached(cache, f"plain-{distance.value}", client, distance)
    measured = _measure(http, built.name, built.points, built.queries, distance)
    _assert_recall(measured, distance.value)
    _assert_exact_scores(measured, distance.value)


@pytest.mark.parametrize("flt", [ONE_PERCENT, TEN_PERCENT], ids=["1pct", "10pct"])
@pytest.mark.parametrize("distance", ALL_DISTANCES, ids=lambda d: d.value)
def test_recall_with_filter(client: QdrantClient, http: httpx.Client, cache: dict[str, Built],
                            distance: D, flt: models.Filter) -> None:
    built = _cached(cache, f"plain-{distance.value}", client, distance)
    measured = _measure(http, built.name, built.points, built.queries, distance, flt=flt)
    _assert_recall(measured, f"{distance.value} filtered")


# ------------------------------------------------------------------ quantization


def _scalar() -> models.ScalarQuantization:
    return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
        type=models.ScalarType.INT8, quantile=0.99, always_ram=True))


def _product(ratio: models.CompressionRatio) -> models.ProductQuantization:
    return models.ProductQuantization(product=models.ProductQuantizationConfig(
        compression=ratio, always_ram=True))


def _binary(encoding: models.BinaryQuantizationEncoding | None = None,
            query_encoding: models.BinaryQuantizationQueryEncoding | None = None,
            ) -> models.BinaryQuantization:
    return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(
        always_ram=True, encoding=encoding, query_encoding=query_encoding))


def _turbo(bits: models.TurboQuantBitSize) -> models.TurboQuantization:
    return models.TurboQuantization(turbo=models.TurboQuantQuantizationConfig(
        bits=bits, always_ram=True))


ENC = models.BinaryQuantizationEncoding
BITS = models.TurboQuantBitSize

# (id, distance, quantization, oversampling); see the module docstring for the factors
QUANT_CASES = [
    ("scalar-Cosine", D.COSINE, _scalar(), 2.0),
    ("scalar-Euclid", D.EUCLID, _scalar(), 2.0),
    ("scalar-Dot", D.DOT, _scalar(), 2.0),
    ("product_x16-Cosine", D.COSINE, _product(models.CompressionRatio.X16), 8.0),
    ("product_x16-Euclid", D.EUCLID, _product(models.CompressionRatio.X16), 8.0),
    ("product_x64-Cosine", D.COSINE, _product(models.CompressionRatio.X64), 16.0),
    ("binary_one_bit-Cosine", D.COSINE, _binary(ENC.ONE_BIT), 40.0),
    ("binary_one_bit-Euclid", D.EUCLID, _binary(ENC.ONE_BIT), 40.0),
    ("binary_one_and_half_bits-Cosine", D.COSINE, _binary(ENC.ONE_AND_HALF_BITS), 16.0),
    ("binary_two_bits-Cosine", D.COSINE, _binary(ENC.TWO_BITS), 16.0),
    ("binary_one_bit_scalar8bits_query-Cosine", D.COSINE,
     _binary(ENC.ONE_BIT, models.BinaryQuantizationQueryEncoding.SCALAR8BITS), 16.0),
    ("turbo_bits1-Cosine", D.COSINE, _turbo(BITS.BITS1), 16.0),
    ("turbo_bits2-Cosine", D.COSINE, _turbo(BITS.BITS2), 8.0),
    ("turbo_bits2-Euclid", D.EUCLID, _turbo(BITS.BITS2), 8.0),
    ("turbo_bits4-Cosine", D.COSINE, _turbo(BITS.BITS4), 4.0),
    ("turbo_bits8-Cosine", D.COSINE, _turbo(BITS.BITS8), 2.0),
    ("turbo_bits8-Dot", D.DOT, _turbo(BITS.BITS8), 2.0),
]


@pytest.mark.parametrize(("distance", "quantization", "oversampling"),
                         [case[1:] for case in QUANT_CASES], ids=[c[0] for c in QUANT_CASES])
def test_recall_with_quantization(client: QdrantClient, http: httpx.Client,
                                  cache: dict[str, Built], distance: D,
                                  quantization: models.QuantizationConfig,
                                  oversampling: float) -> None:
    key = f"{distance.value}-{quantization.model_dump_json(exclude_none=True)}"
    built = _cached(cache, key, client, distance, quantization)
    assert built.info.config.quantization_config == quantization
    measured = _measure(http, built.name, built.points, built.queries, distance,
                        params=_params(oversampling=oversampling, rescore=True))
    _assert_recall(measured, f"{key} rescored x{oversampling}")
    _assert_exact_scores(measured, "rescored results")


def test_quantization_ignored_reaches_recall(client: QdrantClient, http: httpx.Client,
                                             cache: dict[str, Built]) -> None:
    """`ignore: true` searches the original vectors: no oversampling needed."""
    quantization = _binary(ENC.ONE_BIT)
    key = f"{D.COSINE.value}-{quantization.model_dump_json(exclude_none=True)}"
    built = _cached(cache, key, client, D.COSINE, quantization)
    measured = _measure(http, built.name, built.points, built.queries, D.COSINE,
                        params=_params(ignore=True))
    _assert_recall(measured, "binary one_bit with ignore=true")
    _assert_exact_scores(measured, "ignore=true")


# (id, distance, quantization, recall bound without rescoring)
RAW_CASES = [
    ("binary_one_bit-Cosine", D.COSINE, _binary(ENC.ONE_BIT), 0.15),
    ("scalar-Cosine", D.COSINE, _scalar(), 0.6),
]


@pytest.mark.parametrize(("distance", "quantization", "bound"),
                         [case[1:] for case in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_approximate_scores_without_rescoring(client: QdrantClient, http: httpx.Client,
                                              cache: dict[str, Built], distance: D,
                                              quantization: models.QuantizationConfig,
                                              bound: float) -> None:
    """`rescore: false` answers from the quantized codes: approximate order and scores."""
    key = f"{distance.value}-{quantization.model_dump_json(exclude_none=True)}"
    built = _cached(cache, key, client, distance, quantization)
    measured = _measure(http, built.name, built.points, built.queries, distance,
                        params=_params(rescore=False))
    _assert_recall(measured, f"{key} without rescoring", bound)
    approximate = float(np.mean(measured.score_errors > 1e-4))
    assert approximate >= 0.5, (
        f"{key}: with rescore=false only {approximate:.0%} of the returned scores differ "
        f"from the exact scores (max error {measured.score_errors.max():.2e}); the server "
        f"does not score quantized codes (quantization not applied?)")


# ------------------------------------------------------------------ storage variants


def test_recall_float16(client: QdrantClient, http: httpx.Client) -> None:
    built = _build(client, D.COSINE, datatype=models.Datatype.FLOAT16)
    assert built.info.config.params.vectors.datatype == models.Datatype.FLOAT16
    measured = _measure(http, built.name, built.points, built.queries, D.COSINE)
    _assert_recall(measured, "float16")


def test_recall_uint8(client: QdrantClient, http: httpx.Client) -> None:
    points, queries = _uint8_dataset(N, DIM, 3)
    built = _build(client, D.EUCLID, points=points, queries=queries,
                   indexing_threshold=100, datatype=models.Datatype.UINT8)  # 1 byte a value
    assert built.info.config.params.vectors.datatype == models.Datatype.UINT8
    measured = _measure(http, built.name, points, queries, D.EUCLID)
    _assert_recall(measured, "uint8")
    _assert_exact_scores(measured, "uint8")


def test_recall_on_disk_vectors_with_binary_in_ram(client: QdrantClient,
                                                   http: httpx.Client) -> None:
    built = _build(client, D.COSINE, _binary(), on_disk=True)
    assert built.info.config.params.vectors.on_disk is True
    measured = _measure(http, built.name, built.points, built.queries, D.COSINE,
                        params=_params(oversampling=40.0, rescore=True))
    _assert_recall(measured, "on_disk + binary")
    _assert_exact_scores(measured, "on_disk + binary, rescored from disk")


# ------------------------------------------------------------------ named vectors


def test_recall_named_vectors(client: QdrantClient, http: httpx.Client) -> None:
    """Two named vectors of different distances and sizes, each searched with `using`."""
    image, queries_image = _dataset(N, DIM, 1)
    text, queries_text = _dataset(N, 32, 2)
    name = _create(client, {"image": models.VectorParams(size=DIM, distance=D.COSINE),
                            "text": models.VectorParams(size=32, distance=D.EUCLID)})
    _upsert(client, name, {"image": image, "text": text})
    _assert_fully_indexed(_wait_green(client, name), N, vectors=2)
    for using, points, queries, distance in (("image", image, queries_image, D.COSINE),
                                             ("text", text, queries_text, D.EUCLID)):
        measured = _measure(http, name, points, queries, distance, using=using)
        _assert_recall(measured, using)
        _assert_exact_scores(measured, using)
        filtered = _measure(http, name, points, queries, distance, using=using,
                            flt=TEN_PERCENT)
        _assert_recall(filtered, f"{using} filtered")


def test_per_vector_quantization_overrides_collection(client: QdrantClient,
                                                      http: httpx.Client) -> None:
    """`binary` on one named vector's params wins over the collection's `scalar`."""
    points, queries = _dataset(N, DIM, 1)
    name = _create(client, {
        "own": models.VectorParams(size=DIM, distance=D.COSINE,
                                   quantization_config=_binary(ENC.ONE_BIT)),
        "inherited": models.VectorParams(size=DIM, distance=D.COSINE),
    }, quantization=_scalar())
    _upsert(client, name, {"own": points, "inherited": points})
    info = _wait_green(client, name)
    _assert_fully_indexed(info, N, vectors=2)
    assert info.config.params.vectors["own"].quantization_config == _binary(ENC.ONE_BIT)
    for using, oversampling in (("own", 40.0), ("inherited", 2.0)):
        measured = _measure(http, name, points, queries, D.COSINE, using=using,
                            params=_params(oversampling=oversampling, rescore=True))
        _assert_recall(measured, f"{using} rescored")
    # without rescoring the codes show through: one bit per dimension ranks far worse
    # than int8 (about 0.3 vs 0.87 recall@10 for ideal quantizers on this data)
    own = _measure(http, name, points, queries, D.COSINE, using="own",
                   params=_params(rescore=False))
    inherited = _measure(http, name, points, queries, D.COSINE, using="inherited",
                         params=_params(rescore=False))
    assert own.recall < 0.7 < inherited.recall, (
        f"recall@10 without rescoring: `own` (binary) {own.recall:.3f}, `inherited` "
        f"(scalar) {inherited.recall:.3f}; expected binary < 0.7 < scalar")


# ------------------------------------------------------------------ optimizer and restart


def test_recall_while_optimizing_and_after(client: QdrantClient, http: httpx.Client) -> None:
    """Searches keep recall while segments are sealed, indexed and merged."""
    points, queries = _dataset(20_000, 32, 4)
    # 100 KB segments (800 vectors): 25 graphs to build, then merges down to 2 segments
    name = _create(client, models.VectorParams(size=32, distance=D.COSINE),
                   indexing_threshold=100)
    _upsert(client, name, points)
    assert client.get_collection(name).status != models.CollectionStatus.GREEN, \
        "the optimizer finished before the first search: nothing was tested"
    rounds = 0
    while client.get_collection(name).status != models.CollectionStatus.GREEN:
        rounds += 1
        measured = _measure(http, name, points, queries, D.COSINE)
        _assert_recall(measured, f"while optimizing (round {rounds})")
        filtered = _measure(http, name, points, queries[:10], D.COSINE, flt=TEN_PERCENT)
        _assert_recall(filtered, f"10% filter while optimizing (round {rounds})")
    info = _wait_green(client, name)
    _assert_fully_indexed(info, len(points))
    measured = _measure(http, name, points, queries, D.COSINE)
    _assert_recall(measured, "after optimizing")
    _assert_exact_scores(measured, "after optimizing")
    _assert_recall(_measure(http, name, points, queries, D.COSINE, flt=ONE_PERCENT),
                   "1% filter after optimizing")


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "kill9"])
def test_recall_after_restart(tmp_path: Path, kill: bool) -> None:
    """The graphs are persisted: right after a restart the collection is green and indexed."""
    server = ServerProcess(tmp_path / "storage").start()
    client = QdrantClient(url=server.url, prefer_grpc=False, timeout=120)
    install_qdrant_client_hook(client)
    try:
        with checked_client(server.url, timeout=120) as http:
            built = _build(client, D.EUCLID)
            before = _measure(http, built.name, built.points, built.queries, D.EUCLID)
            server.restart(kill=kill)
            info = client.get_collection(built.name)  # the first request after a restart
            _assert_fully_indexed(info, len(built.points))
            after = _measure(http, built.name, built.points, built.queries, D.EUCLID)
            _assert_recall(after, "after restart")
            _assert_exact_scores(after, "after restart")
            _assert_recall(_measure(http, built.name, built.points, built.queries, D.EUCLID,
                                    flt=ONE_PERCENT), "1% filter after restart")
            # the same graphs answer: the same results as before
            assert [[h["id"] for h in hits] for hits in after.hits] == \
                [[h["id"] for h in hits] for hits in before.hits]
    finally:
        client.close()
        server.stop()
