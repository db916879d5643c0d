"""The universal Query API (`/points/query`, `/query/batch`, `/query/groups`) vs local mode.

Every request runs against the server and against `QdrantClient(":memory:")` on
the same data (below the indexing threshold, so both are exact): ids, order and
scores must agree.  Error cases answer as Qdrant does and change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client
from tests.oracle import both, same

DIM = 8
N = 500
DISTANCES = [models.Distance.COSINE, models.Distance.DOT, models.Distance.EUCLID,
             models.Distance.MANHATTAN]
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")


def _payload(i: int, rng: np.random.Generator) -> dict:
    out = {"g": i % 5, "f": float(rng.random()), "kw": ["a", "b", "c"][i % 3],
           "n": int(rng.integers(0, 1000)),
           "loc": {"lat": float(rng.uniform(40, 60)), "lon": float(rng.uniform(-5, 25))},
           "ts": f"2024-0{1 + i % 9}-{10 + i % 18}T{i % 24:02d}:30:00Z"}
    if i % 2:
        out["opt"] = float(rng.normal())
    return out


@pytest.fixture(scope="module")
def setup(client: QdrantClient) -> Iterator[tuple[QdrantClient, str, np.ndarray]]:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    config = {d.value: models.VectorParams(size=DIM, distance=d) for d in DISTANCES}
    points = [models.PointStruct(id=i, vector={d.value: vectors[i].tolist() for d in DISTANCES},
                                 payload=_payload(i, rng)) for i in range(N)]
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=config)
    oracle.upsert("o", points)
    name = f"query_{uuid.uuid4().hex[:6]}"
    client.create_collection(name, vectors_config=config, shard_number=2)
    client.upsert(name, points)
    for coll, qc in ((name, client), ("o", oracle)):
        qc.create_payload_index(coll, "n", models.PayloadSchemaType.INTEGER)
    yield oracle, name, vectors
    oracle.close()


FLT = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])


@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
@pytest.mark.parametrize("case", ["plain", "filter", "offset", "threshold"])
def test_nearest_matches_local_mode(setup, client, distance, case) -> None:
    oracle, name, vectors = setup
    kwargs: dict = {"query": (vectors[3] * 0.7 + 0.2).tolist(), "using": distance.value,
                    "limit": 12, "with_payload": True}
    if case == "filter":
        kwargs["query_filter"] = FLT
    if case == "offset":
        kwargs["offset"] = 5
    if case == "threshold":
        full = oracle.query_points("o", **kwargs).points
        kwargs["score_threshold"] = (full[5].score + full[6].score) / 2
    got, want = both(client, oracle, name, **kwargs)
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]
    if case == "threshold":
        assert len(got) == 6


def test_nearest_by_point_id_excludes_it(setup, client) -> None:
    oracle, name, _vectors = setup
    for query in (7, models.NearestQuery(nearest=7)):
        got, want = both(client, oracle, name, query=query, using="Dot", limit=5)
        same(got, want)
        assert 7 not in [p.id for p in got]


def test_with_vectors_and_payload_selectors(setup, client) -> None:
    oracle, name, vectors = setup
    kwargs = {"query": vectors[1].tolist(), "using": "Euclid", "limit": 3,
              "with_payload": ["g"], "with_vectors": ["Dot"]}
    got, want = both(client, oracle, name, **kwargs)
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]
    for mine, theirs in zip(got, want, strict=True):
        assert np.allclose(mine.vector["Dot"], theirs.vector["Dot"], atol=1e-6)
        assert set(mine.vector) == {"Dot"}


PREFETCH_SHAPES = {
    "one_level": lambda v: dict(
        prefetch=[models.Prefetch(query=v[10].tolist(), using="Dot", limit=40)],
        query=v[11].tolist(), using="Cosine", limit=10),
    "two_sources": lambda v: dict(
        prefetch=[models.Prefetch(query=v[10].tolist(), using="Dot", limit=30),
                  models.Prefetch(query=v[12].tolist(), using="Euclid", limit=30,
                                  filter=models.Filter(must=[models.FieldCondition(
                                      key="kw", match=models.MatchValue(value="a"))]))],
        query=v[11].tolist(), using="Manhattan", limit=10, offset=2),
    "three_levels": lambda v: dict(
        prefetch=models.Prefetch(
            prefetch=[models.Prefetch(query=v[20].tolist(), using="Dot", limit=100),
                      models.Prefetch(query=v[21].tolist(), using="Cosine", limit=80)],
            query=v[22].tolist(), using="Euclid", limit=50, score_threshold=4.0),
        query=v[23].tolist(), using="Cosine", limit=8, query_filter=FLT),
}


@pytest.mark.parametrize("shape", list(PREFETCH_SHAPES))
def test_prefetch_rescoring_matches_local_mode(setup, client, shape) -> None:
    oracle, name, vectors = setup
    got, want = both(client, oracle, name, **PREFETCH_SHAPES[shape](vectors),
                     with_payload=True)
    assert got
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]


FUSIONS = {
    "rrf": models.FusionQuery(fusion=models.Fusion.RRF),
    "dbsf": models.FusionQuery(fusion=models.Fusion.DBSF),
    "rrf_k": models.RrfQuery(rrf=models.Rrf(k=60)),
    "rrf_weights": models.RrfQuery(rrf=models.Rrf(k=5, weights=[3.0, 1.0])),
}


@pytest.mark.parametrize("fusion", list(FUSIONS))
@pytest.mark.parametrize("page", ["first", "offset+threshold"])
def test_fusion_matches_local_mode(setup, client, fusion, page) -> None:
    oracle, name, vectors = setup
    kwargs: dict = {"prefetch": [
        models.Prefetch(query=vectors[30].tolist(), using="Dot", limit=25),
        models.Prefetch(query=vectors[31].tolist(), using="Euclid", limit=25,
                        filter=models.Filter(must=[models.FieldCondition(
                            key="f", range=models.Range(gte=0.3))]))],
        "query": FUSIONS[fusion], "limit": 10, "with_payload": True}
    if page != "first":
        full = oracle.query_points("o", **{**kwargs, "limit": 30}).points
        kwargs["offset"] = 3
        kwargs["score_threshold"] = (full[12].score + full[13].score) / 2
    got, want = both(client, oracle, name, **kwargs)
    assert got
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-5)
    # rank fusion ties (a point at the same rank in each source) may order either way
    assert sorted(map(str, [p.id for p in got])) == sorted(map(str, [p.id for p in want]))
    assert [p.payload for p in sorted(got, key=lambda p: p.id)] == [
        p.payload for p in sorted(want, key=lambda p: p.id)]


def test_fusion_nested_in_prefetch(setup, client) -> None:
    oracle, name, vectors = setup
    inner = models.Prefetch(prefetch=[
        models.Prefetch(query=vectors[40].tolist(), using="Dot", limit=50),
        models.Prefetch(query=vectors[41].tolist(), using="Cosine", limit=50)],
        query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=30)
    got, want = both(client, oracle, name, prefetch=inner, query=vectors[42].tolist(),
                     using="Manhattan", limit=10)
    same(got, want)


def test_query_without_query_scrolls_by_id(setup, client) -> None:
    oracle, name, _vectors = setup
    got, want = both(client, oracle, name, query_filter=FLT, limit=7, offset=3,
                     with_payload=True)
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]
    assert all(p.score == 1.0 for p in got)


def test_order_by_and_sample(setup, client) -> None:
    oracle, name, vectors = setup
    for direction in (models.Direction.ASC, models.Direction.DESC):
        query = models.OrderByQuery(order_by=models.OrderBy(key="n", direction=direction))
        got, want = both(client, oracle, name, query=query, query_filter=FLT, limit=9)
        assert [p.order_value for p in got] == [p.order_value for p in want]
        assert all(p.score == 1.0 for p in got)
    # order_by as a rescoring stage over a prefetch
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        query=vectors[50].tolist(), using="Dot", limit=40), query=models.OrderByQuery(
        order_by="n"), limit=10)
    assert [p.order_value for p in got] == [p.order_value for p in want]
    sample = client.query_points(name, query=models.SampleQuery(sample=models.Sample.RANDOM),
                                 query_filter=FLT, limit=20, with_payload=True).points
    assert len(sample) == 20 and len({p.id for p in sample}) == 20
    assert all(p.payload["g"] != 1 for p in sample)
    other = client.query_points(name, query=models.SampleQuery(sample=models.Sample.RANDOM),
                                limit=20).points
    assert [p.id for p in other] != [p.id for p in sample]
    few = client.query_points(name, prefetch=models.Prefetch(
        query=vectors[50].tolist(), using="Dot", limit=5), query=models.SampleQuery(
        sample=models.Sample.RANDOM), limit=10).points
    near = client.query_points(name, query=vectors[50].tolist(), using="Dot", limit=5).points
    assert sorted(p.id for p in few) == sorted(p.id for p in near)


def test_batch_equals_single_queries(setup, client) -> None:
    oracle, name, vectors = setup
    shared = models.Prefetch(query=vectors[60].tolist(), using="Dot", limit=30)
    requests = [
        models.QueryRequest(query=vectors[61].tolist(), using="Dot", limit=5),
        models.QueryRequest(query=vectors[62].tolist(), using="Dot", limit=5, offset=2,
                            with_payload=True),
        models.QueryRequest(prefetch=[shared, shared], query=models.FusionQuery(
            fusion=models.Fusion.RRF), limit=6),
        models.QueryRequest(prefetch=shared, query=vectors[63].tolist(), using="Cosine",
                            limit=4, filter=FLT),
        models.QueryRequest(query=vectors[61].tolist(), using="Euclid", limit=3),
    ]
    got = client.query_batch_points(name, requests)
    want = oracle.query_batch_points("o", requests)
    assert len(got) == len(requests)
    for mine, theirs in zip(got, want, strict=True):
        same(mine.points, theirs.points)


def test_default_unnamed_vector_and_lookup_from(setup, client) -> None:
    oracle, name, vectors = setup
    plain = f"plain_{uuid.uuid4().hex[:6]}"
    client.create_collection(plain, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    oracle.create_collection(plain, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    pts = [models.PointStruct(id=i, vector=vectors[i].tolist()) for i in range(100)]
    client.upsert(plain, pts)
    oracle.upsert(plain, pts)
    got = client.query_points(plain, query=vectors[5].tolist(), limit=5).points
    want = oracle.query_points(plain, query=vectors[5].tolist(), limit=5).points
    same(got, want)
    # an id looked up in another collection's named vector: not excluded from the results
    lookup = models.LookupLocation(collection=name, vector="Dot")
    got = client.query_points(plain, query=5, lookup_from=lookup, limit=5).points
    want = oracle.query_points(plain, query=5, lookup_from=models.LookupLocation(
        collection="o", vector="Dot"), limit=5).points
    same(got, want)
    assert got[0].id == 5 or 5 in [p.id for p in got]


def test_query_groups_matches_local_mode(setup, client) -> None:
    oracle, name, vectors = setup
    for group_size in (1, 3):
        kwargs = dict(group_by="kw", query=vectors[70].tolist(), using="Cosine", limit=3,
                      group_size=group_size, with_payload=["g"])
        got = client.query_points_groups(name, **kwargs).groups
        want = oracle.query_points_groups("o", **kwargs).groups
        assert [g.id for g in got] == [g.id for g in want]
        for mine, theirs in zip(got, want, strict=True):
            same(mine.hits, theirs.hits)
            assert [h.payload for h in mine.hits] == [h.payload for h in theirs.hits]
    lookup = f"lk_{uuid.uuid4().hex[:6]}"
    client.create_collection(lookup, vectors_config={})
    client.upsert(lookup, [models.PointStruct(id=g, vector={}, payload={"name": f"g{g}"})
                           for g in range(5)])
    prefetch = models.Prefetch(query=vectors[71].tolist(), using="Dot", limit=N)
    kwargs = dict(group_by="g", prefetch=prefetch, query=vectors[72].tolist(),
                  using="Euclid", limit=4, group_size=2)
    got = client.query_points_groups(name, **kwargs, with_lookup=lookup).groups
    want = oracle.query_points_groups("o", **kwargs).groups
    assert [[h.id for h in g.hits] for g in got] == [[h.id for h in g.hits] for g in want]
    assert all(g.lookup.payload == {"name": f"g{g.id}"} for g in got)


def test_errors_answer_as_qdrant_and_change_nothing(setup, server, client) -> None:
    _oracle, name, vectors = setup
    http = checked_client(server.url)
    before = client.count(name).count
    url = f"/collections/{name}/points/query"
    v = vectors[0].tolist()
    cases = [
        ({"query": v, "using": "nope"}, "Not existing vector name error: nope"),
        ({"query": v[:3], "using": "Dot"}, "Vector dimension error: expected dim: 8, got 3"),
        ({"prefetch": {"query": v, "using": "missing"}, "query": v, "using": "Dot"},
         "Not existing vector name error: missing"),
        ({"prefetch": {"query": v, "using": "Dot"}}, "cannot have prefetches without a query"),
        ({"query": {"fusion": "rrf"}}, "cannot apply Fusion without prefetches"),
        ({"prefetch": [{"query": v, "using": "Dot"}], "query": {"rrf": {"weights": [1, 2]}}},
         "Number of weights in RRF should match number of pre-fetches"),
        ({"query": {"indices": [1], "values": [1.0]}, "using": "Dot"},
         "Conversion between sparse and regular vectors failed"),
        ({"query": [[1.0] * DIM, [2.0] * DIM], "using": "Dot"},
         "Conversion between multi and regular vectors failed"),
        ({"query": {"nearest": 123456}, "using": "Dot"}, "No point with id 123456 found"),
    ]
    for body, message in cases:
        resp = http.post(url, json=body)
        assert resp.status_code in (400, 404), (body, resp.text)
        assert message in resp.json()["status"]["error"], (body, resp.text)
    resp = http.post(f"/collections/{name}/points/query/batch", json={"searches": [
        {"query": v, "using": "Dot"}, {"query": v, "using": "nope"}]})
    assert resp.status_code == 400
    resp = http.post("/collections/no_such_collection/points/query", json={"query": v})
    assert resp.status_code == 404
    assert client.count(name).count == before


def test_served_under_qdrant_prefix(setup, server) -> None:
    _oracle, name, vectors = setup
    http = checked_client(server.url)
    body = {"query": vectors[0].tolist(), "using": "Dot", "limit": 3}
    a = http.post(f"/collections/{name}/points/query", json=body).json()["result"]
    b = http.post(f"/qdrant/collections/{name}/points/query", json=body).json()["result"]
    assert [p["id"] for p in a["points"]] == [p["id"] for p in b["points"]]


STRATEGIES = [models.RecommendStrategy.AVERAGE_VECTOR, models.RecommendStrategy.BEST_SCORE,
              models.RecommendStrategy.SUM_SCORES]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=[s.value for s in STRATEGIES])
@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_recommend_query_matches_local_mode(setup, client, distance, strategy) -> None:
    oracle, name, vectors = setup
    query = models.RecommendQuery(recommend=models.RecommendInput(
        positive=[3, 17, (vectors[40] + 0.5).tolist()], negative=[5, (-vectors[9]).tolist()],
        strategy=strategy))
    got, want = both(client, oracle, name, query=query, using=distance.value,
                     query_filter=FLT, limit=8, offset=2)
    same(got, want)
    assert not {3, 17, 5} & {p.id for p in got}
    # as a prefetch leaf and as a rescoring stage
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        query=query, using=distance.value, limit=30), query=vectors[1].tolist(),
        using="Dot", limit=6)
    same(got, want)
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        query=vectors[1].tolist(), using="Dot", limit=60), query=query,
        using=distance.value, limit=6)
    same(got, want)


@pytest.mark.parametrize("kind", ["discover", "context"])
@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_discover_and_context_match_local_mode(setup, client, distance, kind) -> None:
    oracle, name, vectors = setup
    pairs = [models.ContextPair(positive=11, negative=12),
             models.ContextPair(positive=(vectors[20] + 0.2).tolist(), negative=21)]
    if kind == "discover":
        query = models.DiscoverQuery(discover=models.DiscoverInput(target=4, context=pairs))
    else:
        query = models.ContextQuery(context=pairs)
    got, want = both(client, oracle, name, query=query, using=distance.value, limit=10)
    # context scores tie a lot: ids are compared where scores differ (discover)
    same(got, want, ids=kind == "discover", tol=1e-5)
    assert not {4, 11, 12, 21} & {p.id for p in got}


@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
def test_relevance_feedback_matches_local_mode(setup, client, distance) -> None:
    oracle, name, vectors = setup
    query = models.RelevanceFeedbackQuery(relevance_feedback=models.RelevanceFeedbackInput(
        target=vectors[80].tolist(),
        feedback=[models.FeedbackItem(example=81, score=0.9),
                  models.FeedbackItem(example=82, score=0.1),
                  models.FeedbackItem(example=(vectors[83] * 0.5).tolist(), score=0.5)],
        strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(
            a=1.0, b=1.5, c=0.7))))
    got, want = both(client, oracle, name, query=query, using=distance.value, limit=10,
                     query_filter=FLT)
    same(got, want, tol=1e-3)
    assert not {81, 82} & {p.id for p in got}


@pytest.mark.parametrize("distance", DISTANCES, ids=[d.value for d in DISTANCES])
@pytest.mark.parametrize("diversity", [0.0, 0.5, 1.0])
def test_mmr_matches_local_mode(setup, client, distance, diversity) -> None:
    oracle, name, vectors = setup
    query = models.NearestQuery(nearest=(vectors[90] - 0.8 * vectors[92]).tolist(), mmr=models.Mmr(
        diversity=diversity, candidates_limit=40))
    got, want = both(client, oracle, name, query=query, using=distance.value, limit=10,
                     offset=1, with_payload=True)
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]
    # MMR over prefetched candidates
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        query=vectors[91].tolist(), using="Dot", limit=60), query=query,
        using=distance.value, limit=8)
    same(got, want)


def test_recommend_lookup_from_other_collection(setup, client) -> None:
    oracle, name, vectors = setup
    other = f"other_{uuid.uuid4().hex[:6]}"
    config = {"Dot": models.VectorParams(size=DIM, distance=models.Distance.DOT)}
    for qc, coll in ((client, other), (oracle, other)):
        qc.create_collection(coll, vectors_config=config)
        qc.upsert(coll, [models.PointStruct(id=1, vector={"Dot": vectors[7].tolist()})])
    query = models.RecommendQuery(recommend=models.RecommendInput(positive=[1]))
    got = client.query_points(name, query=query, using="Dot", limit=4,
                              lookup_from=models.LookupLocation(collection=other)).points
    want = oracle.query_points("o", query=query, using="Dot", limit=4,
                               lookup_from=models.LookupLocation(collection=other)).points
    same(got, want)
    assert 7 in [p.id for p in got]  # id 1 names a point of `other`: nothing is excluded


E = models  # formula expressions
FORMULAS = {
    "score_plus_payload": E.SumExpression(sum=["$score", E.MultExpression(mult=[0.5, "f"])]),
    "two_prefetch_scores": E.SumExpression(sum=["$score[0]", E.MultExpression(
        mult=[2.0, "$score[1]"])]),
    "condition": E.SumExpression(sum=["$score", E.MultExpression(mult=[0.3, E.FieldCondition(
        key="kw", match=E.MatchValue(value="a"))]), E.Filter(must_not=[E.FieldCondition(
            key="g", range=E.Range(gte=3))])]),
    "div_by_zero_default": E.DivExpression(div=E.DivParams(left="$score", right="g",
                                                           by_zero_default=-1.0)),
    "math": E.SumExpression(sum=[
        E.MaxExpression(max=["$score", "f", -3.0]), E.MinExpression(min=["f", 0.2]),
        E.NegExpression(neg=E.AbsExpression(abs="$score")),
        E.SqrtExpression(sqrt=E.AbsExpression(abs="$score")),
        E.PowExpression(pow=E.PowParams(base="f", exponent=2.5)),
        E.ExpExpression(exp="f"), E.Log10Expression(log10=E.SumExpression(sum=["n", 1.0])),
        E.LnExpression(ln=E.SumExpression(sum=["n", 1.0])),
        E.AcoshExpression(acosh=E.SumExpression(sum=["f", 1.0]))]),
    "defaults": E.SumExpression(sum=["$score", "opt", "missing", "$score[1]"]),
    "geo_decays": E.SumExpression(sum=[
        E.GaussDecayExpression(gauss_decay=E.DecayParamsExpression(x=E.GeoDistance(
            geo_distance=E.GeoDistanceParams(origin=E.GeoPoint(lat=52.5, lon=13.4),
                                             to="loc")), scale=500_000)),
        E.LinDecayExpression(lin_decay=E.DecayParamsExpression(x="f", target=0.5, scale=0.4,
                                                               midpoint=0.3)),
        E.ExpDecayExpression(exp_decay=E.DecayParamsExpression(x="n", target=500.0,
                                                               scale=200.0))]),
    "datetime": E.ExpDecayExpression(exp_decay=E.DecayParamsExpression(
        x=E.DatetimeKeyExpression(datetime_key="ts"),
        target=E.DatetimeExpression(datetime="2024-05-01T00:00:00Z"), scale=86400.0 * 60)),
}
DEFAULTS = {"missing": 0.25, "$score[1]": -0.5, "opt": 0.0}


@pytest.mark.parametrize("name_", list(FORMULAS))
def test_formula_matches_local_mode(setup, client, name_) -> None:
    oracle, name, vectors = setup
    query = models.FormulaQuery(formula=FORMULAS[name_], defaults=DEFAULTS)
    prefetch = [models.Prefetch(query=vectors[100].tolist(), using="Cosine", limit=40),
                models.Prefetch(query=vectors[101].tolist(), using="Dot", limit=30)]
    got, want = both(client, oracle, name, prefetch=prefetch, query=query, limit=15,
                     with_payload=True)
    assert len(got) == 15
    same(got, want, tol=1e-4)
    assert [p.payload for p in got] == [p.payload for p in want]
    # a threshold and an offset, and the formula below a nearest re-scoring
    cut = (want[8].score + want[9].score) / 2
    got, want = both(client, oracle, name, prefetch=prefetch, query=query, limit=5, offset=3,
                     score_threshold=cut)
    same(got, want, tol=1e-4)
    got, want = both(client, oracle, name, prefetch=models.Prefetch(
        prefetch=prefetch, query=query, limit=20), query=vectors[102].tolist(),
        using="Euclid", limit=6)
    same(got, want)


def test_formula_errors_answer_as_qdrant(setup, server, client) -> None:
    _oracle, name, vectors = setup
    http = checked_client(server.url)
    url = f"/collections/{name}/points/query"
    prefetch = {"query": vectors[0].tolist(), "using": "Dot", "limit": 20}
    cases = [
        ({"sum": ["$score", "missing"]}, None,
         "Expected number value for missing in the payload and/or in the formula defaults. "
         "Error: No value found in a payload nor defaults"),
        ({"sum": ["$score", "kw"]}, None,
         "Expected number value for kw in the payload and/or in the formula defaults. "
         "Error: Value is not a number"),
        ({"div": {"left": 1.0, "right": 0.0}}, None,
         "The expression 1/0 = inf produced a non-finite number"),
        ({"sqrt": -4.0}, None, "The expression √-4 = NaN produced a non-finite number"),
        ({"ln": 0.0}, None, "The expression ln(0) = -inf produced a non-finite number"),
        ({"sum": ["$score[x]"]}, None, "Invalid score pattern: $score[x]"),
        ({"geo_distance": {"origin": {"lat": 1.0, "lon": 2.0}, "to": "nope"}}, None,
         "Expected geo point value for nope"),
        ({"exp_decay": {"x": "f", "midpoint": 1.5}}, None,
         "Decay midpoint should be in the range (0.0, 1.0), got 1.5"),
    ]
    for formula, defaults, message in cases:
        body = {"prefetch": prefetch, "query": {"formula": formula}}
        if defaults is not None:
            body["query"]["defaults"] = defaults
        resp = http.post(url, json=body)
        assert resp.status_code == 400, (formula, resp.text)
        assert message in resp.json()["status"]["error"], (formula, resp.text)
    # a zero factor stops a product before its failing factor, as in Qdrant
    ok = http.post(url, json={"prefetch": prefetch, "query": {"formula": {"mult": [
        0.0, {"div": {"left": 1.0, "right": 0.0}}]}}})
    assert ok.status_code == 200 and all(p["score"] == 0.0 for p in ok.json()["result"][
        "points"])
    resp = http.post(url, json={"query": {"formula": {"sum": ["$score"]}}})
    assert resp.status_code == 400
    assert "cannot apply Formula without prefetches" in resp.json()["status"]["error"]
