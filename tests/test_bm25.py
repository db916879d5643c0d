"""Server-side BM25 inference (`Document` with `model: "qdrant/bm25"`).

Documents upserted and queried through the official client (with `cloud_inference`
so the client leaves inference to the server) and over plain HTTP become the sparse
vectors Qdrant's BM25 defines; searches then match local mode run on those same
sparse vectors with the IDF modifier.  Other models answer a clear error and
change nothing.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.openapi_check import checked_client
from vectorizer.index.bm25 import Bm25, murmur3_32, token_id

TEXTS = [
    "The time traveller explores time and space",
    "A journey to the centre of the earth",
    "Travelling through space: a guide for time travellers",
    "Cooking pasta at home",
    "The history of space exploration and travel",
    "Earth, wind and fire",
    "Time flies like an arrow; fruit flies like a banana",
    "Gardening for beginners: growing tomatoes",
]


def test_murmur3_and_token_ids() -> None:
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"", 1) == 0x514E28B7
    assert murmur3_32(b"hello") == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723
    # |i32| of the hash: values past 2^31 fold to their two's-complement magnitude
    h = murmur3_32(b"time")
    assert token_id("time") == (h if h < 2**31 else 2**32 - h)


def test_document_weights_follow_bm25_formula() -> None:
    dims, values = Bm25().doc_embed("The travellers are travelling through time, time!")
    # stopwords (the, are, through) dropped, english Snowball stems travel(l)ers/-ing
    k, b, avg, doc_len = 1.2, 0.75, 256.0, 4
    tf2 = 2 * (k + 1) / (2 + k * (1 - b + b * doc_len / avg))
    assert sorted(dims.tolist()) == sorted([token_id("travel"), token_id("time")])
    assert np.allclose(values, [tf2, tf2])
    dims, values = Bm25({"k": 2.0, "b": 0.0, "avg_len": 5}).doc_embed("time time space")
    assert dict(zip(dims.tolist(), values.tolist(), strict=True)) == pytest.approx({
        token_id("time"): 2 * 3.0 / (2 + 2.0), token_id("space"): 3.0 / (1 + 2.0)})


def test_tokenizer_options() -> None:
    plain = Bm25({"language": "none"})
    assert plain.search_embed("The Travellers")[0].tolist() == sorted(
        [token_id("the"), token_id("travellers")])
    assert Bm25({"lowercase": False, "language": "none"}).search_embed("The")[0].tolist() == [
        token_id("The")]
    assert Bm25({"stemmer": {"type": "snowball", "language": "english"},
                 "stopwords": {"custom": ["time"]}}).search_embed("the time travellers")[
        0].tolist() == sorted([token_id("the"), token_id("travel")])
    assert Bm25({"tokenizer": "whitespace", "language": "none"}).search_embed(
        "space: time")[0].tolist() == sorted([token_id("space:"), token_id("time")])
    assert Bm25({"min_token_len": 5, "language": "none"}).search_embed("a time travel")[
        0].tolist() == [token_id("travel")]
    assert Bm25({"ascii_folding": True, "language": "none"}).search_embed("Miéville")[
        0].tolist() == [token_id("mieville")]
    dims, values = Bm25().search_embed("time travel time")
    assert len(dims) == 2 and values.tolist() == [1.0, 1.0]


@pytest.fixture(scope="module")
def bm25_setup(server, client):
    inference = QdrantClient(url=server.url, cloud_inference=True, timeout=60)
    name = f"bm25_{uuid.uuid4().hex[:6]}"
    sparse = {"text": models.SparseVectorParams(modifier=models.Modifier.IDF)}
    dense = {"d": models.VectorParams(size=2, distance=models.Distance.DOT)}
    inference.create_collection(name, vectors_config=dense, sparse_vectors_config=sparse)
    inference.upsert(name, [models.PointStruct(
        id=i, vector={"d": [1.0, float(i)], "text": models.Document(
            text=t, model="qdrant/bm25" if i % 2 else "Qdrant/bm25")},
        payload={"i": i}) for i, t in enumerate(TEXTS)])
    oracle = QdrantClient(":memory:")
    oracle.create_collection("o", vectors_config=dense, sparse_vectors_config=sparse)
    model = Bm25()
    points = []
    for i, t in enumerate(TEXTS):
        dims, values = model.doc_embed(t)
        points.append(models.PointStruct(id=i, vector={"d": [1.0, float(i)], "text":
                      models.SparseVector(indices=dims.tolist(), values=values.tolist())},
                      payload={"i": i}))
    oracle.upsert("o", points)
    yield inference, oracle, name
    inference.close()
    oracle.close()


def test_upserted_documents_are_bm25_vectors(bm25_setup) -> None:
    inference, _oracle, name = bm25_setup
    stored = inference.retrieve(name, [0], with_vectors=["text"])[0].vector["text"]
    dims, values = Bm25().doc_embed(TEXTS[0])
    assert stored.indices == dims.tolist()
    assert np.allclose(stored.values, values)


@pytest.mark.parametrize("text", ["time travel", "space exploration", "earth wind", "flies"])
def test_document_query_matches_local_mode_with_idf(bm25_setup, text) -> None:
    inference, oracle, name = bm25_setup
    got = inference.query_points(name, query=models.Document(text=text, model="qdrant/bm25"),
                                 using="text", limit=5).points
    dims, values = Bm25().search_embed(text)
    want = oracle.query_points("o", query=models.SparseVector(
        indices=dims.tolist(), values=values.tolist()), using="text", limit=5).points
    assert got
    assert [p.id for p in got] == [p.id for p in want]
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-5)
    # a hand-computed BM25 score for the best hit: idf over the 8 documents
    n = len(TEXTS)
    model = Bm25()
    best = dict(zip(*[a.tolist() for a in model.doc_embed(TEXTS[got[0].id])], strict=True))
    docs = [set(model.doc_embed(t)[0].tolist()) for t in TEXTS]
    score = 0.0
    for dim in dims.tolist():
        df = sum(dim in d for d in docs)
        score += math.log(1 + (n - df + 0.5) / (df + 0.5)) * best.get(dim, 0.0)
    assert got[0].score == pytest.approx(score, rel=1e-5)


def test_hybrid_document_prefetch_rrf(bm25_setup) -> None:
    inference, oracle, name = bm25_setup
    dims, values = Bm25().search_embed("time space")
    sparse = models.SparseVector(indices=dims.tolist(), values=values.tolist())
    kwargs = dict(query=models.FusionQuery(fusion=models.Fusion.RRF), limit=6)
    got = inference.query_points(name, prefetch=[
        models.Prefetch(query=models.Document(text="time space", model="qdrant/bm25"),
                        using="text", limit=5),
        models.Prefetch(query=[0.5, 1.0], using="d", limit=5)], **kwargs).points
    want = oracle.query_points("o", prefetch=[
        models.Prefetch(query=sparse, using="text", limit=5),
        models.Prefetch(query=[0.5, 1.0], using="d", limit=5)], **kwargs).points
    assert np.allclose([p.score for p in got], [p.score for p in want])
    assert sorted(p.id for p in got) == sorted(p.id for p in want)


def test_plain_http_document_with_options(bm25_setup, server) -> None:
    _inference, _oracle, name = bm25_setup
    http = checked_client(server.url)
    doc = {"text": "Cooking pasta", "model": "qdrant/bm25",
           "options": {"avg_len": 5.0, "k": 1.5, "b": 0.5, "language": "none"}}
    resp = http.put(f"/collections/{name}/points?wait=true", json={"points": [
        {"id": 100, "vector": {"d": [0.0, 0.0], "text": doc}}]})
    assert resp.status_code == 200, resp.text
    got = http.post(f"/collections/{name}/points", json={
        "ids": [100], "with_vector": ["text"]}).json()["result"][0]["vector"]["text"]
    dims, values = Bm25(doc["options"]).doc_embed(doc["text"])
    assert got["indices"] == dims.tolist()
    assert np.allclose(got["values"], values)
    resp = http.post(f"/collections/{name}/points/query", json={
        "query": {"text": "pasta", "model": "qdrant/bm25"}, "using": "text", "limit": 3})
    assert resp.status_code == 200, resp.text
    assert 100 in [p["id"] for p in resp.json()["result"]["points"]]
    http.post(f"/collections/{name}/points/delete?wait=true", json={"points": [100]})


def test_other_models_answer_clear_errors_and_change_nothing(bm25_setup, server) -> None:
    inference, _oracle, name = bm25_setup
    http = checked_client(server.url)
    before = inference.count(name).count
    cases = [
        ("put", f"/collections/{name}/points?wait=true", {"points": [{"id": 200, "vector": {
            "text": {"text": "hello", "model": "sentence-transformers/all-minilm-l6-v2"}}}]},
         "sentence-transformers/all-minilm-l6-v2"),
        ("put", f"/collections/{name}/points?wait=true", {"points": [{"id": 201, "vector": {
            "d": {"text": "hello", "model": "qdrant/bm25"}}}]}, "produces sparse vectors"),
        ("post", f"/collections/{name}/points/query", {
            "query": {"text": "hello", "model": "bert"}, "using": "text"}, "`bert`"),
        ("post", f"/collections/{name}/points/query", {
            "query": {"text": "hello", "model": "qdrant/bm25"}, "using": "d"},
         "produces sparse vectors"),
    ]
    for method, url, body, message in cases:
        resp = getattr(http, method)(url, json=body)
        assert resp.status_code == 400, resp.text
        assert message in resp.json()["status"]["error"], resp.text
    assert inference.count(name).count == before
