"""Filter compiler vs qdrant-client local mode (the oracle) on random payloads.

The same random points live in an in-test `SegmentView` and in
`QdrantClient(":memory:")`; every filter must select exactly the ids local
mode's `scroll` returns.  Facets and `order_by` values are checked the same way.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from vectorizer.common.datetimes import parse_datetime
from vectorizer.common.errors import BadInput
from vectorizer.filter.compiler import (
    facet_counts,
    filter_mask,
    order_values,
    point_id_slice,
)

N_POINTS = 400
COLLECTION = "c"

WORDS = ["alpha", "beta", "gamma", "delta", "Alpha", "epsilon", "zeta", "eta-theta", "iota"]
KEYWORDS = ["red", "green", "blue", "Red", "yellow", "", "re"]
DATES = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00+01:00",
    "2024-01-01",
    "2023-06-15T12:30:00.250Z",
    "2023-06-15T12:30",
    "2025-12-31T23:59:59-05:00",
    "2022-02-28 08:00:00",
    "not a date",
    "2024-13-45",
]


class FakeSegment:
    """A SegmentView over a list of (id, payload) with optional deletions and vectors."""

    def __init__(self, points: list[tuple[Any, dict[str, Any]]], deleted: set[int],
                 vectors: dict[str, np.ndarray], indexes: dict[str, Any] | None = None) -> None:
        self.ids = [p[0] for p in points]
        self.payloads = [p[1] for p in points]
        self._alive = np.ones(len(points), dtype=bool)
        for off in deleted:
            self._alive[off] = False
        self._offset = {pid: i for i, pid in enumerate(self.ids) if self._alive[i]}
        self._vectors = vectors
        self.indexes = indexes or {}

    @property
    def num_offsets(self) -> int:
        return len(self.ids)

    def alive_mask(self) -> np.ndarray:
        return self._alive.copy()

    def payload_at(self, offset: int) -> dict[str, Any]:
        return self.payloads[offset]

    def point_id_at(self, offset: int) -> Any:
        return self.ids[offset]

    def offset_of(self, point_id: Any) -> int | None:
        return self._offset.get(point_id)

    def offsets_of(self, point_ids: list[Any]) -> np.ndarray:
        found = [self._offset[p] for p in point_ids if p in self._offset]
        return np.asarray(found, dtype=np.int64)

    def vector_present_mask(self, vector_name: str) -> np.ndarray | None:
        return self._vectors.get(vector_name)

    def field_index(self, key: str) -> Any:
        return self.indexes.get(key)


# ---------------------------------------------------------------- random data


def _maybe(rng: random.Random, p: float = 0.8) -> bool:
    return rng.random() < p


def _number(rng: random.Random) -> Any:
    return rng.choice(
        [rng.randint(-5, 20), round(rng.uniform(-5, 20), 2), float(rng.randint(0, 5))])


def _geo(rng: random.Random) -> dict[str, Any]:
    return {"lat": round(rng.uniform(-10, 10), 3), "lon": round(rng.uniform(-10, 10), 3)}


def _text(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
    return words + rng.choice(["", ".", "!"])


def _item(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return rng.choice([5, "str", None, [1, 2]])
    item: dict[str, Any] = {}
    if _maybe(rng):
        item["name"] = rng.choice(KEYWORDS)
    if _maybe(rng):
        item["price"] = _number(rng)
    if _maybe(rng, 0.5):
        item["tags"] = rng.sample(KEYWORDS, rng.randint(0, 3))
    if _maybe(rng, 0.4):
        item["sub"] = [{"x": rng.randint(0, 5)} for _ in range(rng.randint(0, 3))]
    if _maybe(rng, 0.2):
        item["name"] = None
    return item


def _payload(rng: random.Random) -> dict[str, Any]:
    p: dict[str, Any] = {}
    r = rng.random()
    if r < 0.5:
        p["kw"] = rng.choice(KEYWORDS)
    elif r < 0.7:
        p["kw"] = rng.sample(KEYWORDS, rng.randint(0, 3))
    elif r < 0.75:
        p["kw"] = None
    elif r < 0.8:
        p["kw"] = rng.randint(0, 3)
    r = rng.random()
    if r < 0.5:
        p["num"] = _number(rng)
    elif r < 0.65:
        p["num"] = [_number(rng) for _ in range(rng.randint(0, 4))]
    elif r < 0.7:
        p["num"] = rng.choice([True, False])
    elif r < 0.75:
        p["num"] = None
    elif r < 0.8:
        p["num"] = "7"
    elif r < 0.85:
        p["num"] = [1, None, 3]
    r = rng.random()
    if r < 0.4:
        p["flag"] = rng.choice([True, False])
    elif r < 0.5:
        p["flag"] = [rng.choice([True, False]) for _ in range(rng.randint(0, 3))]
    elif r < 0.6:
        p["flag"] = rng.choice([0, 1])
    r = rng.random()
    if r < 0.5:
        p["dt"] = rng.choice(DATES)
    elif r < 0.65:
        p["dt"] = rng.sample(DATES, rng.randint(0, 3))
    elif r < 0.7:
        p["dt"] = rng.choice([True, {"a": "2024-01-01"}])
    r = rng.random()
    if r < 0.5:
        p["loc"] = _geo(rng)
    elif r < 0.6:
        p["loc"] = [_geo(rng) for _ in range(rng.randint(0, 3))]
    elif r < 0.65:
        p["loc"] = {"lat": "1", "lon": 2}
    elif r < 0.7:
        p["loc"] = {"lat": 1}
    if _maybe(rng, 0.6):
        p["text"] = _text(rng)
    elif _maybe(rng, 0.3):
        p["text"] = [_text(rng), _text(rng)]
    if _maybe(rng, 0.6):
        nested: dict[str, Any] = {"a": rng.randint(0, 5)}
        if _maybe(rng):
            nested["b"] = {"c": rng.choice(KEYWORDS)}
        if _maybe(rng, 0.3):
            nested["b"] = [{"c": rng.choice(KEYWORDS)}, {"c": rng.choice(KEYWORDS)}]
        p["nested"] = nested
    r = rng.random()
    if r < 0.6:
        p["items"] = [_item(rng) for _ in range(rng.randint(0, 4))]
    elif r < 0.65:
        p["items"] = _item(rng)
    elif r < 0.7:
        p["items"] = None
    r = rng.random()
    if r < 0.3:
        p["arr"] = [rng.choice([1, 2, 3, None]) for _ in range(rng.randint(0, 4))]
    elif r < 0.4:
        p["arr"] = []
    elif r < 0.45:
        p["arr"] = None
    elif r < 0.5:
        p["arr"] = [[1, 2], [None]]
    if _maybe(rng, 0.3):
        p["uid"] = rng.choice([str(uuid.UUID(int=i)) for i in range(1, 4)])
    return p


@pytest.fixture(scope="module")
def world() -> tuple[FakeSegment, QdrantClient, list[Any]]:
    return build_world()


def build_world(seed: int = 1234) -> tuple[FakeSegment, QdrantClient, list[Any]]:
    """The same random points in a FakeSegment and in a local-mode collection."""
    rng = random.Random(seed)
    ids: list[Any] = []
    seen: set[Any] = set()
    while len(ids) < N_POINTS:
        pid: Any = (rng.randint(0, 10_000) if rng.random() < 0.6
                    else str(uuid.UUID(int=rng.getrandbits(128))))
        if pid not in seen:
            seen.add(pid)
            ids.append(pid)
    points = [(pid, _payload(rng)) for pid in ids]
    deleted = {i for i in range(N_POINTS) if rng.random() < 0.05}
    has_b = np.array([rng.random() < 0.5 for _ in range(N_POINTS)], dtype=bool)
    vectors = {"a": np.ones(N_POINTS, dtype=bool), "b": has_b}
    seg = FakeSegment(points, deleted, vectors)

    client = QdrantClient(":memory:")
    client.create_collection(COLLECTION, vectors_config={
        "a": models.VectorParams(size=2, distance=models.Distance.COSINE),
        "b": models.VectorParams(size=2, distance=models.Distance.COSINE),
    })
    structs = []
    for off, (pid, payload) in enumerate(points):
        if off in deleted:
            continue
        vec: dict[str, list[float]] = {"a": [1.0, 0.5]}
        if has_b[off]:
            vec["b"] = [0.5, 1.0]
        structs.append(models.PointStruct(id=pid, vector=vec, payload=payload))
    client.upsert(COLLECTION, structs)
    live_ids = [pid for off, pid in enumerate(ids) if off not in deleted]
    return seg, client, live_ids


def _ours(seg: FakeSegment, flt: models.Filter | None) -> set[Any]:
    mask = filter_mask(seg, flt)
    assert mask.dtype == bool and len(mask) == seg.num_offsets
    return {seg.ids[o] for o in np.flatnonzero(mask).tolist()}


def _oracle(client: QdrantClient, flt: models.Filter | None) -> set[Any]:
    recs, _ = client.scroll(COLLECTION, scroll_filter=flt, limit=100_000)
    return {r.id for r in recs}


# ---------------------------------------------------------------- conditions


def fc(key: str, **kw: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, **kw)


def _atomic_conditions() -> list[Any]:
    mv = models.MatchValue
    polygon = models.GeoPolygon(
        exterior=models.GeoLineString(points=[
            models.GeoPoint(lat=-8, lon=-8), models.GeoPoint(lat=-8, lon=8),
            models.GeoPoint(lat=8, lon=8), models.GeoPoint(lat=8, lon=-8),
            models.GeoPoint(lat=-8, lon=-8)]),
        interiors=[models.GeoLineString(points=[
            models.GeoPoint(lat=-3, lon=-3), models.GeoPoint(lat=-3, lon=3),
            models.GeoPoint(lat=3, lon=3), models.GeoPoint(lat=-3, lon=-3)])],
    )
    triangle = models.GeoPolygon(exterior=models.GeoLineString(points=[
        models.GeoPoint(lat=0, lon=0), models.GeoPoint(lat=10, lon=0),
        models.GeoPoint(lat=0, lon=10), models.GeoPoint(lat=0, lon=0)]))
    some_dates = ["2024-01-01T00:00:00Z", "2023-06-15T12:30:00Z", "2024-01-01"]
    return [
        # match value: keyword / int / bool, bool vs int, float never matches
        fc("kw", match=mv(value="red")),
        fc("kw", match=mv(value="")),
        fc("kw", match=mv(value=1)),
        fc("num", match=mv(value=3)),
        fc("num", match=mv(value=True)),
        fc("num", match=mv(value="7")),
        fc("flag", match=mv(value=True)),
        fc("flag", match=mv(value=1)),
        fc("flag", match=mv(value=False)),
        fc("arr", match=mv(value=2)),
        fc("nested.a", match=mv(value=3)),
        fc("nested.b.c", match=mv(value="blue")),
        fc("nested.b[].c", match=mv(value="blue")),
        fc("items[].name", match=mv(value="green")),
        fc("items[0].name", match=mv(value="green")),
        fc("items[].tags", match=mv(value="red")),
        fc("items[].sub[].x", match=mv(value=2)),
        fc("uid", match=mv(value=str(uuid.UUID(int=2)))),
        # any / except
        fc("kw", match=models.MatchAny(any=["red", "blue"])),
        fc("kw", match=models.MatchAny(any=[])),
        fc("num", match=models.MatchAny(any=[1, 2, 3])),
        fc("kw", match=models.MatchExcept(**{"except": ["red", "blue"]})),
        fc("kw", match=models.MatchExcept(**{"except": []})),
        fc("num", match=models.MatchExcept(**{"except": [1, 2]})),
        fc("missing", match=models.MatchExcept(**{"except": ["x"]})),
        fc("arr", match=models.MatchExcept(**{"except": [1]})),
        fc("items[].name", match=models.MatchExcept(**{"except": ["red"]})),
        # text family
        fc("text", match=models.MatchText(text="alpha")),
        fc("text", match=models.MatchText(text="alpha beta")),
        fc("text", match=models.MatchText(text="ALPHA!")),
        fc("text", match=models.MatchText(text="")),
        fc("text", match=models.MatchText(text="eta")),
        fc("text", match=models.MatchTextAny(text_any="gamma zeta")),
        fc("text", match=models.MatchTextAny(text_any="")),
        fc("text", match=models.MatchPhrase(phrase="alpha beta")),
        fc("text", match=models.MatchPhrase(phrase="eta theta")),
        fc("kw", match=models.MatchPrefix(prefix="re")),
        fc("kw", match=models.MatchPrefix(prefix="")),
        fc("text", match=models.MatchSubstring(substring="ta ga")),
        fc("kw", match=models.MatchSubstring(substring="e")),
        # ranges
        fc("num", range=models.Range(gte=3)),
        fc("num", range=models.Range(gt=2.5, lt=10)),
        fc("num", range=models.Range(lte=0)),
        fc("num", range=models.Range(gt=30)),
        fc("num", range=models.Range()),
        fc("items[].price", range=models.Range(lt=5)),
        fc("flag", range=models.Range(gte=0)),
        fc("dt", range=models.DatetimeRange(gte="2024-01-01T00:00:00Z")),
        fc("dt", range=models.DatetimeRange(gt="2023-06-15T12:30:00Z", lte="2024-01-01")),
        fc("dt", range=models.DatetimeRange(lt="2023-12-31T23:30:00-01:00")),
        *[fc("dt", range=models.DatetimeRange(lte=d)) for d in some_dates],
        # geo
        fc("loc", geo_radius=models.GeoRadius(
            center=models.GeoPoint(lat=0, lon=0), radius=500_000)),
        fc("loc", geo_radius=models.GeoRadius(
            center=models.GeoPoint(lat=5, lon=-5), radius=300_000)),
        fc("loc", geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lat=5, lon=-5), bottom_right=models.GeoPoint(lat=-5, lon=5))),
        fc("loc", geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lat=5, lon=5), bottom_right=models.GeoPoint(lat=-5, lon=-5))),
        fc("loc", geo_polygon=polygon),
        fc("loc", geo_polygon=triangle),
        # values count / empty / null
        fc("kw", values_count=models.ValuesCount(gte=2)),
        fc("kw", values_count=models.ValuesCount(lt=1)),
        fc("arr", values_count=models.ValuesCount(gt=1, lte=3)),
        fc("items[].tags", values_count=models.ValuesCount(gte=2)),
        fc("num", values_count=models.ValuesCount(lte=1)),
        fc("arr", is_empty=True),
        fc("arr", is_empty=False),
        fc("arr", is_null=True),
        fc("kw", is_null=False),
        models.IsEmptyCondition(is_empty=models.PayloadField(key="kw")),
        models.IsEmptyCondition(is_empty=models.PayloadField(key="items[].name")),
        models.IsEmptyCondition(is_empty=models.PayloadField(key="nested.b.c")),
        models.IsNullCondition(is_null=models.PayloadField(key="num")),
        models.IsNullCondition(is_null=models.PayloadField(key="items[].name")),
        models.IsNullCondition(is_null=models.PayloadField(key="arr")),
        # vectors
        models.HasVectorCondition(has_vector="a"),
        models.HasVectorCondition(has_vector="b"),
        models.HasVectorCondition(has_vector="nope"),
        # slices
        models.SliceCondition(slice=models.Slice(total=3, index=1)),
        models.SliceCondition(slice=models.Slice(total=1, index=0)),
        # nested
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(must=[
            fc("name", match=mv(value="red")), fc("price", range=models.Range(gte=3))]))),
        models.NestedCondition(nested=models.Nested(key="items[]", filter=models.Filter(
            must_not=[fc("name", match=mv(value="red"))]))),
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(should=[
            models.IsEmptyCondition(is_empty=models.PayloadField(key="tags")),
            models.NestedCondition(nested=models.Nested(key="sub", filter=models.Filter(
                must=[fc("x", range=models.Range(gte=4))])))]))),
        models.NestedCondition(nested=models.Nested(key="nested.b", filter=models.Filter(
            must=[fc("c", match=mv(value="red"))]))),
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
            must=[models.HasIdCondition(has_id=[1, 2, 3])]))),
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
            must=[models.IsNullCondition(is_null=models.PayloadField(key="name"))]))),
    ]


def _has_id(live_ids: list[Any], rng: random.Random) -> models.HasIdCondition:
    chosen: list[Any] = [*rng.sample(live_ids, 15), 99_999_999, str(uuid.UUID(int=7))]
    # non-canonical UUID spellings normalise to the stored id
    chosen = [c.upper() if isinstance(c, str) and rng.random() < 0.5 else c for c in chosen]
    return models.HasIdCondition(has_id=chosen)


def _random_filter(rng: random.Random, atoms: list[Any], depth: int = 0) -> models.Filter:
    def conds(k: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(k):
            if depth < 2 and rng.random() < 0.25:
                out.append(_random_filter(rng, atoms, depth + 1))
            else:
                out.append(rng.choice(atoms))
        return out

    kw: dict[str, Any] = {}
    for clause in ("must", "should", "must_not"):
        if rng.random() < 0.5:
            kw[clause] = conds(rng.randint(0, 3))
    if rng.random() < 0.2:
        c = conds(rng.randint(1, 4))
        kw["min_should"] = models.MinShould(conditions=c, min_count=rng.randint(1, len(c) + 1))
    if rng.random() < 0.1 and kw.get("must"):
        kw["must"] = kw["must"][0]  # a single condition instead of a list
    return models.Filter(**kw)


# ---------------------------------------------------------------- tests


def test_no_filter_is_alive_mask(world: Any) -> None:
    seg, client, _ = world
    mask = filter_mask(seg, None)
    assert np.array_equal(mask, seg.alive_mask())
    assert _ours(seg, None) == _oracle(client, None)
    assert _ours(seg, models.Filter()) == _oracle(client, None)


@pytest.mark.parametrize("idx", range(len(_atomic_conditions())))
def test_atomic_condition(world: Any, idx: int) -> None:
    seg, client, _ = world
    cond = _atomic_conditions()[idx]
    for flt in (models.Filter(must=[cond]), models.Filter(must_not=[cond]),
                models.Filter(should=[cond])):
        assert _ours(seg, flt) == _oracle(client, flt), flt


def test_has_id(world: Any) -> None:
    seg, client, live_ids = world
    rng = random.Random(5)
    for _ in range(5):
        cond = _has_id(live_ids, rng)
        for flt in (models.Filter(must=[cond]), models.Filter(must_not=[cond])):
            assert _ours(seg, flt) == _oracle(client, flt)


def test_clause_semantics(world: Any) -> None:
    seg, client, _ = world
    red = fc("kw", match=models.MatchValue(value="red"))
    big = fc("num", range=models.Range(gte=10))
    filters = [
        models.Filter(should=[]),
        models.Filter(must=[]),
        models.Filter(must_not=[]),
        models.Filter(should=[], must=[red]),
        models.Filter(should=[red, big]),
        models.Filter(must=red, must_not=big),
        models.Filter(min_should=models.MinShould(conditions=[red, big], min_count=2)),
        models.Filter(min_should=models.MinShould(conditions=[red, big], min_count=3)),
        models.Filter(min_should=models.MinShould(conditions=[], min_count=1)),
        models.Filter(must=[models.Filter(should=[red, models.Filter(must_not=[big])])]),
    ]
    for flt in filters:
        assert _ours(seg, flt) == _oracle(client, flt), flt


def test_random_filters(world: Any) -> None:
    seg, client, live_ids = world
    rng = random.Random(99)
    atoms = _atomic_conditions() + [_has_id(live_ids, rng) for _ in range(3)]
    for _ in range(400):
        flt = _random_filter(rng, atoms)
        assert _ours(seg, flt) == _oracle(client, flt), flt


def test_facets(world: Any) -> None:
    seg, client, _ = world
    alive = seg.alive_mask()
    flt = models.Filter(must_not=[fc("num", range=models.Range(gte=10))])
    for key in ("kw", "items[].name", "items[].tags", "uid", "nested.a", "nested.b.c"):
        for f in (None, flt):
            mask = filter_mask(seg, f) if f is not None else alive
            ours = facet_counts(seg, key, mask)
            res = client.facet(COLLECTION, key, facet_filter=f, limit=10_000, exact=True)
            assert ours == {h.value: h.count for h in res.hits}, key


def test_order_values(world: Any) -> None:
    seg, client, _ = world
    mask = seg.alive_mask()
    for key, scale in (("num", 1.0), ("items[].price", 1.0), ("dt", 1e6)):
        vals, offs = order_values(seg, key, mask)
        assert vals.dtype == np.float64 and offs.dtype == np.int64
        assert np.all(np.diff(vals) >= 0)
        ours = Counter(zip(vals.tolist(), [seg.ids[o] for o in offs.tolist()], strict=True))
        recs, _ = client.scroll(COLLECTION, limit=100_000,
                                order_by=models.OrderBy(key=key))
        theirs = Counter((r.order_value / scale, r.id) for r in recs)
        assert ours == theirs, key
    # a mask restricts the offsets
    sub = filter_mask(seg, models.Filter(must=[fc("kw", match=models.MatchValue(value="red"))]))
    _vals, offs = order_values(seg, "num", sub)
    assert all(sub[o] for o in offs.tolist())


class FakeIndex:
    """Answers MatchValue on `kw` from a precomputed mask; anything else -> None."""

    def __init__(self, seg: FakeSegment, bogus: bool = False) -> None:
        self.calls = 0
        self.bogus = bogus
        self.seg = seg

    def filter(self, condition: models.FieldCondition, n: int) -> np.ndarray | None:
        self.calls += 1
        if not isinstance(condition.match, models.MatchValue):
            return None
        if self.bogus:
            mask = np.zeros(n, dtype=bool)
            mask[:3] = True
            return mask
        want = condition.match.value
        mask = np.zeros(n, dtype=bool)
        for off, p in enumerate(self.seg.payloads):
            v = p.get("kw")
            vals = v if isinstance(v, list) else [v]
            mask[off] = any(type(x) is type(want) and x == want for x in vals)
        return mask

    def value_counts(self, mask: np.ndarray) -> dict[Any, int]:
        return {"from-index": int(mask.sum())}


def test_field_index_used(world: Any) -> None:
    seg, client, _ = world
    index = FakeIndex(seg)
    iseg = FakeSegment(list(zip(seg.ids, seg.payloads, strict=True)),
                       set(np.flatnonzero(~seg.alive_mask()).tolist()),
                       {"a": np.ones(seg.num_offsets, dtype=bool)}, {"kw": index})
    for flt in (models.Filter(must=[fc("kw", match=models.MatchValue(value="red"))]),
                models.Filter(must_not=[fc("kw", match=models.MatchValue(value="blue"))]),
                models.Filter(must=[fc("kw", match=models.MatchAny(any=["red"]))])):
        assert _ours(iseg, flt) == _oracle(client, flt)
    assert index.calls == 3
    bogus = FakeIndex(seg, bogus=True)
    iseg.indexes["kw"] = bogus
    got = filter_mask(iseg, models.Filter(must=[fc("kw", match=models.MatchValue(value="x"))]))
    assert np.array_equal(got, (np.arange(seg.num_offsets) < 3) & iseg.alive_mask())
    alive = iseg.alive_mask()
    assert facet_counts(iseg, "kw", alive) == {"from-index": int(alive.sum())}


def test_errors(world: Any) -> None:
    seg, _, _ = world
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(min_should=models.MinShould(
            conditions=[fc("kw", is_empty=True)], min_count=0)))
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(must=[models.SliceCondition(
            slice=models.Slice(total=2, index=2))]))
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(must=[fc("a..b", match=models.MatchValue(value=1))]))
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(must=[fc("kw")]))
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(must=[models.HasIdCondition(has_id=["not-a-uuid"])]))
    open_ring = models.GeoLineString(points=[
        models.GeoPoint(lat=0, lon=0), models.GeoPoint(lat=1, lon=0),
        models.GeoPoint(lat=1, lon=1), models.GeoPoint(lat=0, lon=1)])
    short_ring = models.GeoLineString(points=[
        models.GeoPoint(lat=0, lon=0), models.GeoPoint(lat=1, lon=0),
        models.GeoPoint(lat=0, lon=0)])
    for ring in (open_ring, short_ring):
        with pytest.raises(BadInput, match="polygon invalid"):
            filter_mask(seg, models.Filter(should=[fc("loc", geo_polygon=models.GeoPolygon(
                exterior=ring))]))
    # errors are raised even when nested deep inside
    with pytest.raises(BadInput):
        filter_mask(seg, models.Filter(must=[models.NestedCondition(nested=models.Nested(
            key="items", filter=models.Filter(must_not=[models.Filter(min_should=models.MinShould(
                conditions=[], min_count=0))])))]))


def test_slice_hash_matches_local_mode() -> None:
    from qdrant_client.local.siphash import point_id_slice as reference

    rng = random.Random(3)
    ids: list[Any] = [0, 1, 2**64 - 1] + [rng.getrandbits(64) for _ in range(100)]
    ids += [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(100)]
    for total in (1, 2, 5, 1000):
        assert point_id_slice(ids, total).tolist() == [reference(i, total) for i in ids]


def test_parse_datetime_matches_local_mode() -> None:
    from qdrant_client.local.datetime_utils import parse as reference

    samples = [
        *DATES,
        "2024-1-1", "2024-01-01t10:20:30z", " 2024-01-01T00:00:00.123456789+05:30",
        "2024-01-01 00:00:00.000+01", "2024-01-01T00:00:00 UTC", "2024-02-30",
        "2024-01-01T00:00:00+25:00", "2024-01-01T00:00:00.5-03:30", "2024-01-01T24:00:00",
    ]
    for s in samples:
        assert parse_datetime(s) == reference(s), s


# ---------------------------------------------------------------- hand-written edge cases

EDGE_PAYLOADS: list[dict[str, Any]] = [
    {"loc": {"lat": 8, "lon": 0}, "num": 3.0, "dt": "2024-01-01T01:00:00+01:00"},
    {"loc": {"lat": 0, "lon": 0}, "num": 3, "dt": "2024-01-01T00:00:00Z"},
    {"loc": {"lat": 3, "lon": 0}, "num": 2**60, "dt": "2023-12-31 23:00:00-01:00"},
    {"loc": {"lat": -8, "lon": -8}, "num": 2**60 + 1, "dt": "2024-01-01 00:00:00.000001"},
    {"loc": {"lat": 5, "lon": 5}, "num": True, "dt": "2024-01-01T00:00:00.123456789Z"},
    {"loc": {"lat": 1, "lon": 1}, "text": "Ünïcödé wörds_under_score", "dt": ["x", "2024-01-01"]},
    {"loc": [{"lat": 100, "lon": 0}, {"lat": 1.5, "lon": 179.9}], "text": "under score wörds"},
    {"arr": [[None]], "a.b": 1, "a": {"b": 2}},
    {"arr": [1, None], "a": {"b": [3, None]}},
    {"arr": [[1, 2], 3], "a": [{"b": 4}, {"b": [5]}]},
    {"items": [[{"name": "red"}], {"name": "red", "price": 5}]},
    {"items": {"name": "red", "price": 5}},
    {"items": [{"name": "blue", "price": 1}, {"name": "red", "price": 2}]},
    {},
]


def _edge_filters() -> list[models.Filter]:
    box = models.GeoBoundingBox(top_left=models.GeoPoint(lat=8, lon=-8),
                                bottom_right=models.GeoPoint(lat=-8, lon=8))
    square = models.GeoPolygon(
        exterior=models.GeoLineString(points=[
            models.GeoPoint(lat=-8, lon=-8), models.GeoPoint(lat=-8, lon=8),
            models.GeoPoint(lat=8, lon=8), models.GeoPoint(lat=8, lon=-8),
            models.GeoPoint(lat=-8, lon=-8)]),
        interiors=[models.GeoLineString(points=[
            models.GeoPoint(lat=-3, lon=-3), models.GeoPoint(lat=-3, lon=3),
            models.GeoPoint(lat=3, lon=3), models.GeoPoint(lat=3, lon=-3),
            models.GeoPoint(lat=-3, lon=-3)])],
    )
    conds: list[Any] = [
        fc("loc", geo_bounding_box=box),
        fc("loc", geo_polygon=square),
        fc("loc", geo_radius=models.GeoRadius(center=models.GeoPoint(lat=0, lon=0),
                                              radius=333_585.0)),
        fc("loc", geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lat=10, lon=170),
            bottom_right=models.GeoPoint(lat=-10, lon=-170))),
        fc("num", match=models.MatchValue(value=3)),
        fc("num", range=models.Range(gte=3, lte=3)),
        fc("num", range=models.Range(gt=2**60)),
        fc("num", match=models.MatchValue(value=2**60 + 1)),
        fc("num", match=models.MatchAny(any=[1, 3])),
        fc("dt", range=models.DatetimeRange(gte="2024-01-01T00:00:00Z",
                                            lte="2024-01-01T00:00:00Z")),
        fc("dt", range=models.DatetimeRange(gt=datetime(2024, 1, 1))),
        fc("dt", range=models.DatetimeRange(
            lt=datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-1))))),
        fc("dt", range=models.DatetimeRange(lte=date(2024, 1, 1))),
        fc("text", match=models.MatchText(text="wörds")),
        fc("text", match=models.MatchText(text="under")),
        fc("text", match=models.MatchPhrase(phrase="ünïcödé WÖRDS")),
        fc("text", match=models.MatchTextAny(text_any="score nothing")),
        fc("arr", is_null=True),
        fc("arr", is_empty=False),
        fc("arr", values_count=models.ValuesCount(gte=2)),
        fc("arr", match=models.MatchValue(value=1)),
        fc("arr[]", match=models.MatchValue(value=2)),
        fc("arr[0]", match=models.MatchValue(value=1)),
        fc('"a.b"', match=models.MatchValue(value=1)),
        fc("a.b", match=models.MatchValue(value=2)),
        fc("a[].b", match=models.MatchValue(value=5)),
        fc("a.b", is_null=True),
        fc("a[].b", values_count=models.ValuesCount(gt=1)),
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
            must=[fc("name", match=models.MatchValue(value="red")),
                  fc("price", range=models.Range(gt=1))]))),
        models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
            must_not=[fc("price", range=models.Range(gt=1))]))),
        models.NestedCondition(nested=models.Nested(key="a", filter=models.Filter(
            must=[fc("b", match=models.MatchValue(value=4))]))),
    ]
    out: list[models.Filter] = []
    for c in conds:
        out += [models.Filter(must=[c]), models.Filter(must_not=[c])]
    return out


def test_edge_cases() -> None:
    points = [(i + 1, p) for i, p in enumerate(EDGE_PAYLOADS)]
    n = len(points)
    seg = FakeSegment(points, set(), {"a": np.ones(n, dtype=bool)})
    client = QdrantClient(":memory:")
    client.create_collection(COLLECTION, vectors_config={
        "a": models.VectorParams(size=2, distance=models.Distance.COSINE)})
    client.upsert(COLLECTION, [models.PointStruct(id=pid, vector={"a": [1.0, 0.0]}, payload=p)
                               for pid, p in points])
    for flt in _edge_filters():
        assert _ours(seg, flt) == _oracle(client, flt), flt


class FakeNestedIndex:
    """A nested index on `items[].name`: per-element MatchValue answers."""

    def __init__(self, seg: FakeSegment) -> None:
        self.seg = seg
        self.calls = 0

    def filter(self, condition: models.FieldCondition, n: int) -> np.ndarray | None:
        return None

    def filter_elements(self, condition: models.FieldCondition) -> dict[int, set[int]] | None:
        self.calls += 1
        if not isinstance(condition.match, models.MatchValue):
            return None
        want = condition.match.value
        out: dict[int, set[int]] = {}
        for off, p in enumerate(self.seg.payloads):
            items = p.get("items")
            if not isinstance(items, list) or not self.seg.alive_mask()[off]:
                continue
            for i, elem in enumerate(items):
                if isinstance(elem, dict) and elem.get("name") == want:
                    out.setdefault(off, set()).add(i)
        return out


def test_nested_uses_element_index(world: Any) -> None:
    seg, client, _ = world
    iseg = FakeSegment(list(zip(seg.ids, seg.payloads, strict=True)),
                       set(np.flatnonzero(~seg.alive_mask()).tolist()),
                       {"a": np.ones(seg.num_offsets, dtype=bool)})
    index = FakeNestedIndex(iseg)
    iseg.indexes["items[].name"] = index
    nested = models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
        must=[fc("name", match=models.MatchValue(value="green"))])))
    for flt in (models.Filter(must=[nested]), models.Filter(must_not=[nested])):
        assert _ours(iseg, flt) == _oracle(client, flt)
    assert index.calls == 2
    # a shape the index cannot answer falls back to the scan
    other = models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
        must=[fc("name", match=models.MatchValue(value="green")),
              fc("price", range=models.Range(gte=3))])))
    flt = models.Filter(must=[other])
    assert _ours(iseg, flt) == _oracle(client, flt)
