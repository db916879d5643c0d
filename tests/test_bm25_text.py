"""The `text` query (Qdrant 1.20): BM25 over a payload text index with `scoring`, vs local mode.

Same data, same requests (plain, `k`/`b`, filters with required / excluded terms,
offsets, thresholds, as a prefetch fused with a dense search) give the same ids,
order and scores as `QdrantClient(":memory:")`.  Fields without a scoring index and
invalid parameters answer an error and change nothing.
"""

from __future__ import annotations

import functools
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.oracle import both
from tests.oracle import same as same_within

WORDS = ["time", "travel", "space", "earth", "moon", "star", "light", "dark", "river", "stone",
         "cloud", "fire", "water", "wind", "city", "forest", "road", "bridge", "tower", "song"]
N = 300


def _points() -> list[models.PointStruct]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(N):
        words = rng.choice(WORDS[: 5 + i % 15], size=int(rng.integers(1, 12)))
        payload = {"title": " ".join(words), "g": i % 4}
        if i % 13 == 0:
            payload = {"g": i % 4}  # no text at all
        out.append(models.PointStruct(id=i, vector={"d": rng.normal(size=3).tolist()},
                                      payload=payload))
    return out


@pytest.fixture(scope="module")
def setup(client: QdrantClient):
    oracle = QdrantClient(":memory:")
    name = f"text_{uuid.uuid4().hex[:6]}"
    index = models.TextIndexParams(type=models.TextIndexType.TEXT, scoring=True)
    for qc, coll in ((client, name), (oracle, "o")):
        qc.create_collection(coll, vectors_config={"d": models.VectorParams(
            size=3, distance=models.Distance.DOT)}, shard_number=2 if qc is client else None)
        qc.create_payload_index(coll, "title", index)
        qc.upsert(coll, _points())
        qc.delete(coll, models.PointIdsList(points=[1, 2, 3]))
    client.create_payload_index(name, "g", models.PayloadSchemaType.INTEGER)
    client.create_payload_index(name, "plain", models.TextIndexParams(
        type=models.TextIndexType.TEXT))
    yield oracle, name
    oracle.close()


same = functools.partial(same_within, tol=1e-5)


MUST_MOON = models.Filter(must=[models.FieldCondition(key="title",
                                                      match=models.MatchText(text="moon"))])
NOT_STAR = models.Filter(must_not=[models.FieldCondition(key="title",
                                                         match=models.MatchText(text="star"))])


@pytest.mark.parametrize("case", ["plain", "params", "must", "must_not", "offset", "threshold",
                                  "string"])
def test_text_query_matches_local_mode(setup, client, case) -> None:
    oracle, name = setup
    query: models.TextQuery = models.TextQuery(text=models.TextQueryInput(
        query="time travel in space"))
    kwargs: dict = {"using": "title", "limit": 15, "with_payload": True}
    if case == "params":
        query = models.TextQuery(text=models.TextQueryInput(
            query="earth moon river", scoring=models.TextQueryScoring(
                bm25=models.Bm25Params(k=2.0, b=0.3))))
    if case == "string":
        query = models.TextQuery(text="light dark stone")
    if case == "must":
        kwargs["query_filter"] = MUST_MOON
    if case == "must_not":
        kwargs["query_filter"] = NOT_STAR
    if case == "offset":
        kwargs["offset"] = 5
    if case == "threshold":
        full = oracle.query_points("o", query=query, **kwargs).points
        kwargs["score_threshold"] = (full[4].score + full[5].score) / 2
    got, want = both(client, oracle, name, query=query, **kwargs)
    assert got
    same(got, want)
    assert [p.payload for p in got] == [p.payload for p in want]


def test_text_query_in_prefetch_and_rescoring(setup, client) -> None:
    oracle, name = setup
    text = models.TextQuery(text="star light")
    got, want = both(client, oracle, name, prefetch=[
        models.Prefetch(query=text, using="title", limit=30),
        models.Prefetch(query=[0.1, 0.5, -0.2], using="d", limit=30)],
        query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=10)
    same(got, want)
    got, want = both(client, oracle, name,
                     prefetch=models.Prefetch(query=[0.1, 0.5, -0.2], using="d", limit=80),
                     query=text, using="title", limit=10)
    same(got, want)


def test_text_query_errors_change_nothing(setup, server, client) -> None:
    from tests.openapi_check import checked_client

    _oracle, name = setup
    http = checked_client(server.url)
    before = client.count(name).count
    url = f"/collections/{name}/points/query"
    cases = [
        ({"query": {"text": "time"}, "using": "plain"}, "text index with `scoring`"),
        ({"query": {"text": "time"}, "using": "nope"}, "text index with `scoring`"),
        ({"query": {"text": "time"}}, "needs `using`"),
        ({"query": {"text": {"query": "time", "scoring": {"bm25": {"k": -1}}}},
          "using": "title"}, "BM25 k value -1.0 is invalid"),
        ({"query": {"text": {"query": "time", "scoring": {"bm25": {"b": 2}}}},
          "using": "title"}, "BM25 b value 2.0 is invalid"),
    ]
    for body, message in cases:
        resp = http.post(url, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert message in resp.json()["status"]["error"], (body, resp.text)
    assert client.count(name).count == before
