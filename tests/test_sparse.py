"""Sparse vectors in the Query API (and `/points/search`) vs `qdrant_client` local mode.

A collection with a dense vector, a plain sparse vector and a sparse vector with the
IDF modifier; every query kind over the sparse ones, with filters, offsets and
score thresholds, must give the same ids, order and scores as local mode on the
same data.  Errors answer as Qdrant does and change nothing; sparse data and its
index survive a restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client
from tests.oracle import both, same, same_ranking
from tests.server_process import ServerProcess

N = 400
VOCAB = 60
SPARSE = ["s", "si"]  # plain, IDF modifier
FLT = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])


def _sparse(rng: np.random.Generator) -> models.SparseVector:
    k = int(rng.integers(2, 9))
    idx = rng.choice(VOCAB, size=k, replace=False)
    # a skewed vocabulary: low dimensions are common, so IDF matters
    idx = np.sort(np.minimum(idx, rng.integers(0, VOCAB, size=k)))
    idx = np.unique(idx)
    return models.SparseVector(indices=idx.tolist(),
                               values=np.round(rng.random(len(idx)) + 0.1, 3).tolist())


def _points(seed: int = 3) -> list[models.PointStruct]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(N):
        vector: dict = {"d": rng.normal(size=4).round(3).tolist()}
        if i % 7:  # some points lack the sparse vectors
            vector["s"] = _sparse(rng)
            vector["si"] = _sparse(rng)
        points.append(models.PointStruct(id=i, vector=vector, payload={
            "g": i % 4, "f": float(rng.random())}))
    return points


def _create(qc: QdrantClient, name: str) -> None:
    qc.create_collection(
        name, vectors_config={"d": models.VectorParams(size=4, distance=models.Distance.DOT)},
        sparse_vectors_config={
            "s": models.SparseVectorParams(),
            "si": models.SparseVectorParams(modifier=models.Modifier.IDF,
                                            index=models.SparseIndexParams(
                                                full_scan_threshold=50))})


@pytest.fixture(scope="module")
def setup(client: QdrantClient) -> Iterator[tuple[QdrantClient, str]]:
    points = _points()
    oracle = QdrantClient(":memory:")
    _create(oracle, "o")
    oracle.upsert("o", points)
    name = f"sparse_{uuid.uuid4().hex[:6]}"
    _create(client, name)
    client.upsert(name, points[:200])
    client.upsert(name, points[200:])
    # deletions and rewrites: the index must follow them (and so must IDF statistics)
    for qc, coll in ((client, name), (oracle, "o")):
        qc.delete(coll, models.PointIdsList(points=[3, 4, 5]))
        qc.upsert(coll, [models.PointStruct(id=10, vector={
            "d": [1, 0, 0, 0], "s": models.SparseVector(indices=[1, 2], values=[2.0, 1.0]),
            "si": models.SparseVector(indices=[0, 59], values=[1.0, 3.0])},
            payload={"g": 2, "f": 0.5})])
    yield oracle, name
    oracle.close()


def _query(i: int) -> models.SparseVector:
    return _sparse(np.random.default_rng(100 + i))


@pytest.mark.parametrize("using", SPARSE)
@pytest.mark.parametrize("case", ["plain", "filter", "offset", "threshold"])
def test_nearest_matches_local_mode(setup, client, using, case) -> None:
    oracle, name = setup
    kwargs: dict = {"query": _query(1), "using": using, "limit": 15, "with_payload": True}
    if case == "filter":
        kwargs["query_filter"] = FLT
    if case == "offset":
        kwargs["offset"] = 4
    if case == "threshold":
        full = oracle.query_points("o", **kwargs).points
        kwargs["score_threshold"] = (full[5].score + full[6].score) / 2
    got, want = both(client, oracle, name, **kwargs)
    assert got
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]


@pytest.mark.parametrize("using", SPARSE)
def test_nearest_small_filter_full_scan(setup, client, using) -> None:
    """A filter under `full_scan_threshold` scores candidates from their own vectors."""
    oracle, name = setup
    flt = models.Filter(must=[models.FieldCondition(key="f", range=models.Range(lt=0.1))])
    got, want = both(client, oracle, name, query=_query(2), using=using, limit=10,
                     query_filter=flt)
    same(got, want)


@pytest.mark.parametrize("using", SPARSE)
def test_nearest_by_point_id_and_vectors(setup, client, using) -> None:
    oracle, name = setup
    got, want = both(client, oracle, name, query=11, using=using, limit=6,
                     with_vectors=[using])
    same(got, want)
    assert 11 not in [p.id for p in got]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.vector[using].indices == theirs.vector[using].indices
        assert np.allclose(mine.vector[using].values, theirs.vector[using].values)


STRATEGIES = [models.RecommendStrategy.AVERAGE_VECTOR, models.RecommendStrategy.BEST_SCORE,
              models.RecommendStrategy.SUM_SCORES]


@pytest.mark.parametrize("using", SPARSE)
@pytest.mark.parametrize("strategy", STRATEGIES, ids=[s.value for s in STRATEGIES])
def test_recommend_matches_local_mode(setup, client, using, strategy) -> None:
    oracle, name = setup
    query = models.RecommendQuery(recommend=models.RecommendInput(
        positive=[12, _query(3)], negative=[13], strategy=strategy))
    got, want = both(client, oracle, name, query=query, using=using, limit=10,
                     query_filter=FLT)
    same(got, want)


@pytest.mark.parametrize("using", SPARSE)
@pytest.mark.parametrize("kind", ["discover", "context"])
def test_discover_and_context_match_local_mode(setup, client, using, kind) -> None:
    oracle, name = setup
    pairs = [models.ContextPair(positive=18, negative=15),
             models.ContextPair(positive=_query(4), negative=16)]
    if kind == "discover":
        query = models.DiscoverQuery(discover=models.DiscoverInput(target=17, context=pairs))
    else:
        query = models.ContextQuery(context=pairs)
    got, want = both(client, oracle, name, query=query, using=using, limit=10)
    same_ranking(got, want)


@pytest.mark.parametrize("using", SPARSE)
def test_mmr_matches_local_mode(setup, client, using) -> None:
    oracle, name = setup
    query = models.NearestQuery(nearest=_query(5), mmr=models.Mmr(diversity=0.6,
                                                                  candidates_limit=30))
    got, want = both(client, oracle, name, query=query, using=using, limit=8)
    same(got, want)


def test_hybrid_prefetch_fusion_and_rescoring(setup, client) -> None:
    oracle, name = setup
    dense = [0.3, -0.2, 0.9, 0.1]
    shapes = [
        dict(prefetch=[models.Prefetch(query=_query(6), using="si", limit=40),
                       models.Prefetch(query=dense, using="d", limit=40)],
             query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10),
        dict(prefetch=models.Prefetch(query=_query(7), using="s", limit=50,
                                      filter=FLT),
             query=dense, using="d", limit=10),
        dict(prefetch=models.Prefetch(query=dense, using="d", limit=100),
             query=_query(8), using="si", limit=10, offset=2),
    ]
    for kwargs in shapes:
        got, want = both(client, oracle, name, **kwargs)
        assert got
        same(got, want)
    rrf = dict(prefetch=[models.Prefetch(query=_query(6), using="si", limit=40),
                         models.Prefetch(query=dense, using="d", limit=40)],
               query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10)
    got, want = both(client, oracle, name, **rrf)
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-6)


def test_legacy_search_with_named_sparse_vector(setup, server, client) -> None:
    oracle, name = setup
    http = checked_client(server.url)
    q = _query(9)
    for using in SPARSE:
        body = {"vector": {"name": using, "vector": q.model_dump()}, "limit": 7,
                "filter": FLT.model_dump(exclude_none=True)}
        resp = http.post(f"/collections/{name}/points/search", json=body)
        assert resp.status_code == 200, resp.text
        got = resp.json()["result"]
        want = oracle.query_points("o", query=q, using=using, limit=7, query_filter=FLT).points
        assert [p["id"] for p in got] == [p.id for p in want]
        assert np.allclose([p["score"] for p in got], [p.score for p in want], atol=1e-4)
        batch = http.post(f"/collections/{name}/points/search/batch",
                          json={"searches": [body, body]}).json()["result"]
        assert [[p["id"] for p in page] for page in batch] == [[p["id"] for p in got]] * 2


def test_errors_answer_as_qdrant_and_change_nothing(setup, server, client) -> None:
    _oracle, name = setup
    http = checked_client(server.url)
    before = client.count(name).count
    url = f"/collections/{name}/points/query"
    q = {"indices": [1, 2], "values": [1.0, 0.5]}
    cases = [
        ({"query": q, "using": "nope"}, "Not existing vector name error: nope"),
        ({"prefetch": {"query": q, "using": "missing"}, "query": q, "using": "s"},
         "Not existing vector name error: missing"),
        ({"query": q, "using": "d"}, "Conversion between sparse and regular vectors failed"),
        ({"query": [1.0, 2.0, 3.0, 4.0], "using": "s"},
         "Conversion between sparse and regular vectors failed"),
        ({"query": {"indices": [1, 1], "values": [1.0, 2.0]}, "using": "s"}, "unique"),
        ({"query": {"nearest": 123456}, "using": "s"}, "No point with id 123456 found"),
    ]
    for body, message in cases:
        resp = http.post(url, json=body)
        assert resp.status_code in (400, 404, 422), (body, resp.text)
        assert message in resp.json()["status"]["error"], (body, resp.text)
    assert client.count(name).count == before


def test_sparse_on_disk_and_restart(tmp_path: Path) -> None:
    """Sparse data, deletions and the inverted index survive restarts (graceful and
    kill -9), on disk or in RAM, and searches still match local mode."""
    points = _points(seed=9)
    oracle = QdrantClient(":memory:")
    _create(oracle, "o")
    oracle.upsert("o", points)
    oracle.delete("o", models.PointIdsList(points=[1, 2]))
    server = ServerProcess(tmp_path / "storage").start()
    try:
        client = QdrantClient(url=server.url, timeout=60)
        client.create_collection(
            "c", vectors_config={"d": models.VectorParams(size=4, distance=models.Distance.DOT)},
            sparse_vectors_config={
                "s": models.SparseVectorParams(index=models.SparseIndexParams(on_disk=True)),
                "si": models.SparseVectorParams(modifier=models.Modifier.IDF)})
        client.upsert("c", points)
        client.delete("c", models.PointIdsList(points=[1, 2]))

        def check() -> None:
            for using in SPARSE:
                got = client.query_points("c", query=_query(1), using=using, limit=10).points
                want = oracle.query_points("o", query=_query(1), using=using, limit=10).points
                same(got, want)
            mine = client.retrieve("c", [8], with_vectors=["s"])[0].vector["s"]
            theirs = oracle.retrieve("o", [8], with_vectors=["s"])[0].vector["s"]
            assert mine.indices == theirs.indices
            assert np.allclose(mine.values, theirs.values)

        check()
        server.restart(kill=False)
        check()
        server.restart(kill=True)
        check()
        info = client.get_collection("c")
        assert info.config.params.sparse_vectors["s"].index.on_disk is True
    finally:
        server.stop()
        oracle.close()


def test_sealed_merged_segments_and_restart(tmp_path: Path) -> None:
    """Sparse and multi-vectors moved through sealing, HNSW builds of the dense vector,
    merges and copy-on-write updates still match local mode, before and after restart."""
    maxsim = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    vectors_config = {"d": models.VectorParams(size=4, distance=models.Distance.DOT),
                      "m": models.VectorParams(size=3, distance=models.Distance.EUCLID,
                                               multivector_config=maxsim)}
    sparse_config = {"si": models.SparseVectorParams(modifier=models.Modifier.IDF)}
    rng = np.random.default_rng(21)
    points = [models.PointStruct(id=i, payload={"g": i % 4}, vector={
        "d": rng.normal(size=4).tolist(), "si": _sparse(rng),
        "m": rng.normal(size=(int(rng.integers(1, 4)), 3)).tolist()}) for i in range(600)]
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=vectors_config,
                             sparse_vectors_config=sparse_config)
    server = ServerProcess(tmp_path / "storage").start()
    try:
        client = QdrantClient(url=server.url, timeout=60)
        client.create_collection(
            "c", vectors_config=vectors_config, sparse_vectors_config=sparse_config,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1,
                                                          default_segment_number=1),
            hnsw_config=models.HnswConfigDiff(m=8, ef_construct=32))
        for qc, coll in ((client, "c"), (oracle, "o")):
            for start in range(0, 600, 100):
                qc.upsert(coll, points[start:start + 100])
            # updates of points in sealed segments move them copy-on-write
            qc.update_vectors(coll, [models.PointVectors(id=i, vector={
                "si": models.SparseVector(indices=[1, 2, 3], values=[1.0, 2.0, 0.5])})
                for i in range(0, 60, 3)])
            qc.delete(coll, models.PointIdsList(points=list(range(100, 130))))
        for _ in range(120):
            info = client.get_collection("c")
            if info.status == models.CollectionStatus.GREEN:
                break
            time.sleep(0.5)

        def check() -> None:
            for query, using in ((_query(1), "si"), ([[0.1, 0.2, 0.3], [1.0, 0.0, -1.0]], "m")):
                for flt in (None, FLT):
                    got = client.query_points("c", query=query, using=using, limit=10,
                                              query_filter=flt).points
                    want = oracle.query_points("o", query=query, using=using, limit=10,
                                               query_filter=flt).points
                    same(got, want, tol=1e-3)

        check()
        assert client.get_collection("c").segments_count >= 2  # sealed + appendable
        server.restart(kill=False)
        check()
        server.restart(kill=True)
        check()
    finally:
        server.stop()
        oracle.close()


@pytest.mark.parametrize("using", SPARSE)
def test_paged_recommend_with_threshold(setup, client, using) -> None:
    oracle, name = setup
    rec = models.RecommendQuery(recommend=models.RecommendInput(
        positive=[12, 23], negative=[_query(11)], strategy=models.RecommendStrategy.SUM_SCORES))
    full = oracle.query_points("o", query=rec, using=using, limit=20).points
    threshold = (full[8].score + full[9].score) / 2
    got, want = both(client, oracle, name, query=rec, using=using, limit=6, offset=3,
                     score_threshold=threshold)
    same_ranking(got, want)
    assert len(got) == 6


def test_relevance_feedback_over_sparse(setup, client) -> None:
    """Local mode has no relevance feedback over sparse vectors: checked against the naive
    formula computed here from the stored vectors."""
    oracle, name = setup
    a, b, c = 1.0, 2.0, 0.5
    target = _query(10)
    query = models.RelevanceFeedbackQuery(relevance_feedback=models.RelevanceFeedbackInput(
        target=target, feedback=[models.FeedbackItem(example=20, score=0.9),
                                 models.FeedbackItem(example=22, score=0.1)],
        strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(
            a=a, b=b, c=c))))
    got = client.query_points(name, query=query, using="s", limit=8).points
    records, _ = oracle.scroll("o", limit=1000, with_vectors=["s"])

    def dot(x: models.SparseVector, y: models.SparseVector) -> float:
        weights = dict(zip(y.indices, y.values, strict=True))
        return sum(v * weights.get(i, 0.0) for i, v in zip(x.indices, x.values, strict=True))

    stored = {r.id: r.vector["s"] for r in records if r.vector and "s" in r.vector}
    pos, neg = stored[20], stored[22]
    expected = {pid: a * dot(v, target) + c * (0.9 - 0.1) ** b * (dot(v, pos) - dot(v, neg))
                for pid, v in stored.items() if pid not in (20, 22)}
    best = sorted(expected.values(), reverse=True)[:8]
    assert np.allclose([p.score for p in got], best, atol=1e-4)
    assert all(abs(expected[p.id] - p.score) < 1e-4 for p in got)


def test_groups_and_formula_over_sparse(setup, client) -> None:
    oracle, name = setup
    kwargs = dict(query=_query(12), using="si", group_by="g", limit=3, group_size=2)
    got = client.query_points_groups(name, **kwargs).groups
    want = oracle.query_points_groups("o", **kwargs).groups
    assert [g.id for g in got] == [g.id for g in want]
    assert [[h.id for h in g.hits] for g in got] == [[h.id for h in g.hits] for g in want]
    formula = models.FormulaQuery(formula=models.SumExpression(sum=[
        "$score", models.MultExpression(mult=[0.5, "f"])]))
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        query=_query(13), using="s", limit=30), query=formula, limit=8)
    same(got, want)


@pytest.mark.parametrize("case", ["global", "corpus", "prefetch"])
def test_idf_corpus_search_param(setup, client, case) -> None:
    """The 1.20 `idf` search param: IDF statistics over the points matching a filter."""
    oracle, name = setup
    corpus = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchAny(
        any=[0, 2]))])
    params = models.SearchParams(idf=models.IdfScope.GLOBAL if case == "global" else
                                 models.IdfCorpusParams(corpus=corpus))
    if case == "prefetch":
        kwargs: dict = dict(prefetch=models.Prefetch(query=_query(14), using="si", limit=30,
                                                     params=params),
                            query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10)
    else:
        kwargs = dict(query=_query(14), using="si", limit=10, search_params=params,
                      query_filter=FLT)
    got, want = both(client, oracle, name, **kwargs)
    assert got
    same(got, want)
    if case == "corpus":  # a narrower corpus changes the scores
        plain = oracle.query_points("o", query=_query(14), using="si", limit=10,
                                    query_filter=FLT).points
        assert [p.score for p in plain] != [p.score for p in got]
