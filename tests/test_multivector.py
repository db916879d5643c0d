"""Multi-vectors (MaxSim) in the Query API vs `qdrant_client` local mode.

Named multi-vectors of every distance: nearest, recommend (3 strategies), discover,
context, MMR and prefetch/fusion with a dense vector, with filters, offsets and
thresholds, must give local mode's ids, order and scores.  Errors answer as Qdrant
does and change nothing; multi-vectors survive a restart.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.oracle import both
from tests.oracle import same as same_within
from tests.server_process import ServerProcess

N = 300
DIM = 6
DISTANCES = [models.Distance.COSINE, models.Distance.DOT, models.Distance.EUCLID,
             models.Distance.MANHATTAN]
NAMES = [d.value.lower() for d in DISTANCES]
FLT = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)


def _config() -> dict:
    out = {n: models.VectorParams(size=DIM, distance=d, multivector_config=MAXSIM)
           for n, d in zip(NAMES, DISTANCES, strict=True)}
    out["d"] = models.VectorParams(size=DIM, distance=models.Distance.DOT)
    return out


def _multi(rng: np.random.Generator) -> list[list[float]]:
    return rng.normal(size=(int(rng.integers(1, 5)), DIM)).round(3).tolist()


def _points(seed: int = 4) -> list[models.PointStruct]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(N):
        vector = {"d": rng.normal(size=DIM).round(3).tolist()}
        if i % 9:
            vector.update({n: _multi(rng) for n in NAMES})
        points.append(models.PointStruct(id=i, vector=vector, payload={"g": i % 3}))
    return points


@pytest.fixture(scope="module")
def setup(client: QdrantClient) -> Iterator[tuple[QdrantClient, str]]:
    points = _points()
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=_config())
    oracle.upsert("o", points)
    name = f"multi_{uuid.uuid4().hex[:6]}"
    client.create_collection(name, vectors_config=_config(), shard_number=2)
    client.upsert(name, points)
    for qc, coll in ((client, name), (oracle, "o")):
        qc.delete(coll, models.PointIdsList(points=[1, 2]))
    yield oracle, name
    oracle.close()


same = functools.partial(same_within, tol=1e-3)


def _query(i: int) -> list[list[float]]:
    return [*_multi(np.random.default_rng(50 + i)), [0.5] * DIM]


@pytest.mark.parametrize("using", NAMES)
@pytest.mark.parametrize("case", ["plain", "filter", "offset", "threshold"])
def test_nearest_matches_local_mode(setup, client, using, case) -> None:
    oracle, name = setup
    kwargs: dict = {"query": _query(1), "using": using, "limit": 12, "with_payload": True}
    if case == "filter":
        kwargs["query_filter"] = FLT
    if case == "offset":
        kwargs["offset"] = 3
    if case == "threshold":
        full = oracle.query_points("o", **kwargs).points
        kwargs["score_threshold"] = (full[5].score + full[6].score) / 2
    got, want = both(client, oracle, name, **kwargs)
    same(got, want)
    if case == "threshold":
        assert len(got) == 6


@pytest.mark.parametrize("using", NAMES)
def test_nearest_by_id_with_vectors(setup, client, using) -> None:
    oracle, name = setup
    got, want = both(client, oracle, name, query=10, using=using, limit=5,
                     with_vectors=[using])
    same(got, want)
    for mine, theirs in zip(got, want, strict=True):
        assert np.allclose(mine.vector[using], theirs.vector[using], atol=1e-5)


@pytest.mark.parametrize("using", NAMES)
@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_recommend_matches_local_mode(setup, client, using, strategy) -> None:
    oracle, name = setup
    query = models.RecommendQuery(recommend=models.RecommendInput(
        positive=[11, _query(2)], negative=[12], strategy=strategy))
    got, want = both(client, oracle, name, query=query, using=using, limit=10,
                     query_filter=FLT)
    same(got, want)


@pytest.mark.parametrize("using", NAMES)
@pytest.mark.parametrize("kind", ["discover", "context"])
def test_discover_and_context_match_local_mode(setup, client, using, kind) -> None:
    oracle, name = setup
    pairs = [models.ContextPair(positive=13, negative=14),
             models.ContextPair(positive=_query(3), negative=15)]
    query = models.DiscoverQuery(discover=models.DiscoverInput(target=16, context=pairs)) \
        if kind == "discover" else models.ContextQuery(context=pairs)
    got, want = both(client, oracle, name, query=query, using=using, limit=10)
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-4)
    scores = [round(p.score, 4) for p in want]
    for mine, theirs in zip(got, want, strict=True):
        if scores.count(round(theirs.score, 4)) == 1:
            assert mine.id == theirs.id


@pytest.mark.parametrize("using", ["cosine", "euclid"])
def test_mmr_matches_local_mode(setup, client, using) -> None:
    oracle, name = setup
    query = models.NearestQuery(nearest=_query(4), mmr=models.Mmr(diversity=0.5,
                                                                  candidates_limit=25))
    got, want = both(client, oracle, name, query=query, using=using, limit=7)
    same(got, want)


def test_prefetch_and_fusion_with_dense(setup, client) -> None:
    oracle, name = setup
    dense = [0.2, 0.1, -0.3, 0.5, 0.0, 1.0]
    got, want = both(client, oracle, name,
                     prefetch=models.Prefetch(query=dense, using="d", limit=60),
                     query=_query(5), using="cosine", limit=10)
    same(got, want)
    got, want = both(client, oracle, name,
                     prefetch=models.Prefetch(query=_query(6), using="euclid", limit=60,
                                              filter=FLT),
                     query=dense, using="d", limit=10)
    same(got, want)
    got, want = both(client, oracle, name, prefetch=[
        models.Prefetch(query=_query(7), using="dot", limit=30),
        models.Prefetch(query=dense, using="d", limit=30)],
        query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10)
    same(got, want)


def test_errors_answer_as_qdrant_and_change_nothing(setup, server, client) -> None:
    from tests.openapi_check import checked_client

    _oracle, name = setup
    http = checked_client(server.url)
    before = client.count(name).count
    url = f"/collections/{name}/points/query"
    cases = [
        ({"query": [[1.0] * 3], "using": "dot"}, "Vector dimension error: expected dim: 6"),
        ({"query": [1.0] * DIM, "using": "dot"}, "multi-vector"),
        ({"query": [[1.0] * DIM], "using": "nope"}, "Not existing vector name error: nope"),
        ({"prefetch": {"query": [[1.0] * DIM], "using": "missing"}, "query": [[1.0] * DIM],
          "using": "dot"}, "Not existing vector name error: missing"),
        ({"query": {"indices": [1], "values": [1.0]}, "using": "dot"}, "multi-vector"),
    ]
    for body, message in cases:
        resp = http.post(url, json=body)
        assert resp.status_code in (400, 404, 422), (body, resp.text)
        assert message in resp.json()["status"]["error"], (body, resp.text)
    assert client.count(name).count == before


def test_multivectors_survive_restart(tmp_path: Path) -> None:
    points = _points(seed=8)[:120]
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=_config())
    oracle.upsert("o", points)
    server = ServerProcess(tmp_path / "storage").start()
    try:
        client = QdrantClient(url=server.url, timeout=60)
        client.create_collection("c", vectors_config=_config())
        client.upsert("c", points)

        def check() -> None:
            for using in NAMES:
                got = client.query_points("c", query=_query(1), using=using, limit=8).points
                want = oracle.query_points("o", query=_query(1), using=using, limit=8).points
                same(got, want)

        check()
        server.restart(kill=False)
        check()
        server.restart(kill=True)
        check()
    finally:
        server.stop()
        oracle.close()
