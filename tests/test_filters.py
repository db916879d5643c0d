"""Every filter condition, with and without payload indexes, checked against local mode.

The same random points go into the server (twice: a collection without payload
indexes and a two-shard collection with an index of every type) and into
`qdrant-client`'s local mode in this process.  Every filter must select exactly
the ids local mode selects; counts, facets and `order_by` scrolls likewise.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from qdrant_client import QdrantClient, models

N_POINTS = 400
COLORS = ["red", "green", "blue", "Red", "yellow", "black"]
WORDS = ["alpha", "beta", "gamma", "delta", "vector", "search", "engine", "fast", "Quick", "db"]
UUIDS = [str(uuid.UUID(int=i * 7919 + 11)) for i in range(8)]
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def _payload(rng: random.Random, i: int) -> dict:
    p: dict = {}
    if rng.random() < 0.9:
        p["color"] = rng.choice(COLORS)
    if rng.random() < 0.8:
        p["n"] = rng.randint(-20, 20)
    if rng.random() < 0.8:
        p["price"] = round(rng.uniform(0, 100), 2)
    if rng.random() < 0.7:
        p["flag"] = rng.random() < 0.5
    if rng.random() < 0.7:
        p["loc"] = {"lat": rng.uniform(40, 60), "lon": rng.uniform(-10, 30)}
    if rng.random() < 0.7:
        ts = BASE_TIME + timedelta(hours=rng.randint(0, 24 * 60))
        p["ts"] = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    if rng.random() < 0.6:
        p["uid"] = rng.choice(UUIDS)
    if rng.random() < 0.8:
        p["desc"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    r = rng.random()
    if r < 0.15:
        p["tags"] = []
    elif r < 0.3:
        p["tags"] = None
    elif r < 0.8:
        p["tags"] = rng.sample(COLORS, rng.randint(1, 3))
    if rng.random() < 0.6:
        p["offers"] = [
            {"price": rng.randint(1, 50), "shop": rng.choice(["a", "b", "c"])}
            for _ in range(rng.randint(0, 3))
        ]
    if rng.random() < 0.5:
        p["meta"] = {"level": rng.randint(0, 5), "owner": {"name": rng.choice(["ann", "bob"])}}
    if rng.random() < 0.1:
        p["color"] = None
    return p


def _points() -> list[models.PointStruct]:
    rng = random.Random(1234)
    points = []
    for i in range(N_POINTS):
        pid: int | str = i if i % 5 else str(uuid.UUID(int=i + 1))
        vec = [rng.random() for _ in range(4)]
        points.append(models.PointStruct(id=pid, vector=vec, payload=_payload(rng, i)))
    return points


INDEXES: dict[str, models.PayloadSchemaType | models.TextIndexParams] = {
    "color": models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True,
                                       prefix=True),
    "tags": models.PayloadSchemaType.KEYWORD,
    "n": models.PayloadSchemaType.INTEGER,
    "price": models.FloatIndexParams(type=models.FloatIndexType.FLOAT, is_principal=True,
                                     on_disk=True),
    "flag": models.PayloadSchemaType.BOOL,
    "loc": models.PayloadSchemaType.GEO,
    "ts": models.PayloadSchemaType.DATETIME,
    "uid": models.PayloadSchemaType.UUID,
    "desc": models.TextIndexParams(type=models.TextIndexType.TEXT, phrase_matching=True,
                                   scoring=True),
    # 1.20 `nested`: each object of `offers` is its own entry, for `nested` conditions
    "offers[].price": models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER,
                                                nested="offers"),
    "offers[].shop": models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD,
                                               nested="offers"),
    "meta.level": models.PayloadSchemaType.INTEGER,
}


@pytest.fixture(scope="module")
def setup(client: QdrantClient) -> Iterator[tuple[QdrantClient, list[str]]]:
    points = _points()
    oracle = QdrantClient(":memory:")
    vectors = models.VectorParams(size=4, distance=models.Distance.DOT)
    oracle.create_collection("o", vectors_config=vectors)
    oracle.upsert("o", points)
    plain, indexed = f"plain_{uuid.uuid4().hex[:6]}", f"idx_{uuid.uuid4().hex[:6]}"
    client.create_collection(plain, vectors_config=vectors)
    client.create_collection(indexed, vectors_config=vectors, shard_number=2)
    for name, schema in INDEXES.items():
        client.create_payload_index(indexed, name, field_schema=schema, wait=True)
    for coll in (plain, indexed):
        for start in range(0, len(points), 100):
            client.upsert(coll, points[start:start + 100], wait=True)
    yield oracle, [plain, indexed]
    oracle.close()


def _ids(records) -> list:
    return sorted(records, key=lambda x: (isinstance(x, str), x))


def _fc(key: str, **kwargs) -> models.FieldCondition:
    return models.FieldCondition(key=key, **kwargs)


def _filters() -> list[tuple[str, models.Filter]]:
    F, mv = models.Filter, models.MatchValue
    dt = BASE_TIME + timedelta(days=20)
    polygon = models.GeoPolygon(
        exterior=models.GeoLineString(points=[
            models.GeoPoint(lat=42, lon=-5), models.GeoPoint(lat=42, lon=25),
            models.GeoPoint(lat=58, lon=25), models.GeoPoint(lat=58, lon=-5),
            models.GeoPoint(lat=42, lon=-5)]),
        interiors=[models.GeoLineString(points=[
            models.GeoPoint(lat=45, lon=0), models.GeoPoint(lat=45, lon=10),
            models.GeoPoint(lat=55, lon=10), models.GeoPoint(lat=55, lon=0),
            models.GeoPoint(lat=45, lon=0)])],
    )
    return [
        ("keyword", F(must=[_fc("color", match=mv(value="red"))])),
        ("keyword case", F(must=[_fc("color", match=mv(value="Red"))])),
        ("keyword array", F(must=[_fc("tags", match=mv(value="blue"))])),
        ("int value", F(must=[_fc("n", match=mv(value=3))])),
        ("bool", F(must=[_fc("flag", match=mv(value=True))])),
        ("bool false", F(must=[_fc("flag", match=mv(value=False))])),
        ("any str", F(must=[_fc("color", match=models.MatchAny(any=["red", "blue"]))])),
        ("any int", F(must=[_fc("n", match=models.MatchAny(any=[1, 2, 3, -4]))])),
        ("except str", F(must=[_fc("color", match=models.MatchExcept(**{"except": ["red"]}))])),
        ("except int", F(must=[_fc("n", match=models.MatchExcept(**{"except": [0, 1]}))])),
        ("except array", F(must=[_fc("tags", match=models.MatchExcept(**{"except": ["red"]}))])),
        ("text", F(must=[_fc("desc", match=models.MatchText(text="vector search"))])),
        ("text case", F(must=[_fc("desc", match=models.MatchText(text="quick"))])),
        ("text any", F(must=[_fc("desc", match=models.MatchTextAny(text_any="alpha db"))])),
        ("phrase", F(must=[_fc("desc", match=models.MatchPhrase(phrase="vector search"))])),
        ("prefix", F(must=[_fc("color", match=models.MatchPrefix(prefix="bl"))])),
        ("substring", F(must=[_fc("color", match=models.MatchSubstring(substring="e"))])),
        ("range int", F(must=[_fc("n", range=models.Range(gte=-3, lt=5))])),
        ("range float", F(must=[_fc("price", range=models.Range(gt=20.5, lte=70))])),
        ("range open", F(must=[_fc("price", range=models.Range(lt=10))])),
        ("range on int as float", F(must=[_fc("n", range=models.Range(gt=2.5))])),
        ("datetime", F(must=[_fc("ts", range=models.DatetimeRange(gte=dt))])),
        ("datetime str", F(must=[_fc("ts", range=models.DatetimeRange(
            lt="2024-01-10T00:00:00Z", gt="2024-01-02T12:00:00+00:00"))])),
        ("geo box", F(must=[_fc("loc", geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lat=55, lon=0), bottom_right=models.GeoPoint(lat=45, lon=20),
        ))])),
        ("geo radius", F(must=[_fc("loc", geo_radius=models.GeoRadius(
            center=models.GeoPoint(lat=50, lon=10), radius=500_000))])),
        ("geo polygon", F(must=[_fc("loc", geo_polygon=polygon)])),
        ("values count", F(must=[_fc("tags", values_count=models.ValuesCount(gte=2))])),
        ("values count lt", F(must=[_fc("offers", values_count=models.ValuesCount(lt=2))])),
        ("uuid", F(must=[_fc("uid", match=mv(value=UUIDS[2]))])),
        ("uuid any", F(must=[_fc("uid", match=models.MatchAny(any=UUIDS[:3]))])),
        ("nested path", F(must=[_fc("meta.level", range=models.Range(gte=3))])),
        ("nested path 2", F(must=[_fc("meta.owner.name", match=mv(value="ann"))])),
        ("array path", F(must=[_fc("offers[].price", range=models.Range(lt=10))])),
        ("array index path", F(must=[_fc("offers[0].shop", match=mv(value="a"))])),
        ("is empty", F(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))])),
        ("is null", F(must=[models.IsNullCondition(is_null=models.PayloadField(key="tags"))])),
        ("is null color", F(must=[models.IsNullCondition(
            is_null=models.PayloadField(key="color"))])),
        ("has id", F(must=[models.HasIdCondition(has_id=[1, 2, 3, str(uuid.UUID(int=6)), 999])])),
        ("has vector", F(must=[models.HasVectorCondition(has_vector="")])),
        ("must not", F(must_not=[_fc("color", match=mv(value="red"))])),
        ("should", F(should=[_fc("color", match=mv(value="red")), _fc("n", range=models.Range(
            gt=15))])),
        ("min should", F(min_should=models.MinShould(conditions=[
            _fc("color", match=mv(value="red")), _fc("flag", match=mv(value=True)),
            _fc("n", range=models.Range(gt=0))], min_count=2))),
        ("nested filter", F(must=[F(should=[_fc("flag", match=mv(value=True)),
                                            _fc("n", match=mv(value=0))])],
                            must_not=[F(must=[_fc("color", match=mv(value="blue"))])])),
        ("nested cond", F(must=[models.NestedCondition(nested=models.Nested(
            key="offers", filter=F(must=[_fc("price", range=models.Range(lt=20)),
                                         _fc("shop", match=mv(value="a"))])))])),
        ("nested cond not", F(must=[models.NestedCondition(nested=models.Nested(
            key="offers", filter=F(must_not=[_fc("shop", match=mv(value="a"))])))])),
        ("combined", F(must=[_fc("price", range=models.Range(gte=10)),
                             _fc("color", match=models.MatchAny(any=["red", "green"]))],
                       must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="ts"))],
                       should=[_fc("flag", match=mv(value=False)),
                               _fc("desc", match=models.MatchText(text="fast"))])),
        ("empty filter", F()),
    ]


FILTERS = _filters()


@pytest.mark.parametrize("name,flt", FILTERS, ids=[n for n, _ in FILTERS])
def test_filter_matches_local_mode(setup, client: QdrantClient, name: str,
                                   flt: models.Filter) -> None:
    oracle, collections = setup
    want, _ = oracle.scroll("o", scroll_filter=flt, limit=10_000, with_payload=False)
    want_ids = _ids([p.id for p in want])
    assert want_ids or name in {"has id"}, "filter selects nothing in the oracle: weak test"
    for coll in collections:
        got, nxt = client.scroll(coll, scroll_filter=flt, limit=10_000, with_payload=False)
        assert nxt is None
        assert _ids([p.id for p in got]) == want_ids, f"{name} on {coll}"
        assert client.count(coll, count_filter=flt, exact=True).count == len(want_ids)


def test_scroll_pages_cover_everything_once(setup, client: QdrantClient) -> None:
    oracle, collections = setup
    flt = FILTERS[0][1]
    want = _ids([p.id for p in oracle.scroll("o", scroll_filter=flt, limit=10_000)[0]])
    for coll in collections:
        seen, offset = [], None
        while True:
            page, offset = client.scroll(coll, scroll_filter=flt, limit=7, offset=offset)
            seen.extend(p.id for p in page)
            if offset is None:
                break
        assert seen == want


@pytest.mark.parametrize("key", ["color", "tags", "n", "flag", "uid"])
def test_facet_matches_local_mode(setup, client: QdrantClient, key: str) -> None:
    oracle, collections = setup
    flt = models.Filter(must_not=[models.FieldCondition(key="price", range=models.Range(lt=20))])
    want = oracle.facet("o", key, facet_filter=flt, limit=100, exact=True)
    got = client.facet(collections[1], key, facet_filter=flt, limit=100, exact=True)
    assert [(h.value, h.count) for h in got.hits] == [(h.value, h.count) for h in want.hits]


@pytest.mark.parametrize("direction", [models.Direction.ASC, models.Direction.DESC])
@pytest.mark.parametrize("key", ["n", "price", "ts"])
def test_order_by_matches_local_mode(setup, client: QdrantClient, key: str,
                                     direction: models.Direction) -> None:
    oracle, collections = setup
    order = models.OrderBy(key=key, direction=direction)
    want, _ = oracle.scroll("o", order_by=order, limit=50)
    got, _ = client.scroll(collections[1], order_by=order, limit=50)
    want_values = [p.payload[key] for p in want]
    assert [p.payload[key] for p in got] == want_values
    assert [p.order_value for p in got] == [p.order_value for p in want]
    start = want[10].order_value if key != "ts" else want[10].payload[key]
    want2, _ = oracle.scroll("o", order_by=models.OrderBy(key=key, direction=direction,
                                                          start_from=start), limit=5)
    got2, _ = client.scroll(collections[1], order_by=models.OrderBy(
        key=key, direction=direction, start_from=start), limit=5)
    assert [p.order_value for p in got2] == [p.order_value for p in want2]


def test_payload_schema_counts(setup, client: QdrantClient) -> None:
    oracle, collections = setup
    schema = client.get_collection(collections[1]).payload_schema
    assert set(schema) == set(INDEXES)
    all_points, _ = oracle.scroll("o", limit=10_000)
    with_n = sum(1 for p in all_points if isinstance(p.payload.get("n"), int))
    assert schema["n"].points == with_n
    assert schema["desc"].data_type == models.PayloadSchemaType.TEXT


def test_order_by_and_facet_need_an_index(setup, client: QdrantClient) -> None:
    from qdrant_client.http.exceptions import UnexpectedResponse

    _oracle, collections = setup
    with pytest.raises(UnexpectedResponse) as err:
        client.scroll(collections[0], order_by="n")
    assert err.value.status_code == 400
    assert "No range index for `order_by` key: n" in str(err.value.content)
    with pytest.raises(UnexpectedResponse) as err:
        client.facet(collections[0], "color")
    assert err.value.status_code == 400
    assert "No appropriate index for faceting: `color`" in str(err.value.content)


def test_filter_on_unknown_shape_is_refused(setup, server) -> None:
    import httpx

    _oracle, collections = setup
    resp = httpx.post(f"{server.url}/collections/{collections[0]}/points/count",
                      json={"filter": {"must": [{"key": "n", "bogus": 1}]}})
    assert resp.status_code == 400
    assert resp.json()["status"]["error"].startswith("Format error in JSON body")
