"""Unit tests of the typed payload field indexes against qdrant-client's local mode.

Each test fills a `PayloadFieldIndexes` and a `QdrantClient(":memory:")` collection
with the same random payloads (point id == segment offset), then checks that
every condition the index answers gives exactly the points the local mode
returns; then it updates / deletes points, saves and reloads, and checks again.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from vectorizer.index.payload.entry_index import SortedColumn
from vectorizer.index.payload.field_indexes import PayloadFieldIndexes, normalize_params
from vectorizer.index.payload.numeric import parse_datetime_us

N = 400
COLLECTION = "c"

Gen = Callable[[random.Random], Any]


class Harness:
    """The same points in the indexes under test and in a local-mode collection."""

    def __init__(self, key: str, params: Any) -> None:
        self.key = key
        self.indexes = PayloadFieldIndexes()
        self.indexes.create(key, params)
        self.client = QdrantClient(":memory:")
        self.client.create_collection(
            COLLECTION, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT)
        )
        self.n = 0
        self.alive: set[int] = set()
        self.payloads: dict[int, dict[str, Any]] = {}

    def upsert(self, offset: int, payload: dict[str, Any]) -> None:
        self.indexes.on_payload_set(offset, payload)
        self.payloads[offset] = payload
        self.alive.add(offset)
        self.n = max(self.n, offset + 1)
        self.client.upsert(
            COLLECTION, [models.PointStruct(id=offset, vector=[1.0, 0.0], payload=payload)]
        )

    def delete(self, offset: int) -> None:
        self.indexes.on_delete(offset)
        self.alive.discard(offset)
        self.payloads.pop(offset, None)
        self.client.delete(COLLECTION, models.PointIdsList(points=[offset]))

    def expected(self, cond: models.FieldCondition) -> set[int]:
        points, _ = self.client.scroll(
            COLLECTION, scroll_filter=models.Filter(must=[cond]), limit=100_000
        )
        return {int(p.id) for p in points}

    def got(self, cond: models.FieldCondition) -> set[int] | None:
        index = self.indexes.get(self.key)
        assert index is not None
        mask = index.filter(cond, self.n)
        if mask is None:
            return None
        assert mask.dtype == bool and mask.shape == (self.n,)
        return {int(i) for i in np.flatnonzero(mask)} & self.alive

    def check(self, conds: list[models.FieldCondition], answered: bool = True) -> None:
        for cond in conds:
            got = self.got(cond)
            if not answered:
                assert got is None, cond
                continue
            assert got is not None, cond
            exp = self.expected(cond)
            assert got == exp, (cond, sorted(got ^ exp)[:10])

    def reload(self, tmp_path: Path) -> None:
        d = tmp_path / f"idx{random.random()}"
        d.mkdir()
        self.indexes.save(d)
        self.indexes = PayloadFieldIndexes.load(d)


def fill(h: Harness, gen: Gen, rng: random.Random, n: int = N) -> None:
    for i in range(n):
        if rng.random() < 0.1:
            payload: dict[str, Any] = {"other": 1}
        else:
            payload = {h.key: gen(rng)}
        h.upsert(i, payload)


def churn(h: Harness, gen: Gen, rng: random.Random) -> None:
    for _ in range(N // 3):
        i = rng.randrange(N + 50)
        if rng.random() < 0.3:
            if i in h.alive:
                h.delete(i)
        else:
            h.upsert(i, {h.key: gen(rng)})


def run_oracle(h: Harness, gen: Gen, conds: list[models.FieldCondition], tmp_path: Path,
               seed: int = 0) -> None:
    rng = random.Random(seed)
    fill(h, gen, rng)
    h.check(conds)
    churn(h, gen, rng)
    h.check(conds)
    h.reload(tmp_path)
    h.check(conds)
    churn(h, gen, rng)
    h.check(conds)


def fc(key: str, **kw: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, **kw)


def one_or_many(rng: random.Random, scalar: Gen) -> Any:
    r = rng.random()
    if r < 0.6:
        return scalar(rng)
    if r < 0.65:
        return []
    return [scalar(rng) for _ in range(rng.randint(1, 4))]


# ---------------------------------------------------------------- keyword


KW = ["a", "b", "ab", "abc", "b c", "x", "é", "", "A"]
STRAY: list[Any] = [1, 0, True, False, None, 2.5, {"k": "a"}, ["a"]]


def kw_gen(rng: random.Random) -> Any:
    return one_or_many(rng, lambda r: r.choice(KW) if r.random() < 0.85 else r.choice(STRAY))


def test_keyword_oracle(tmp_path: Path) -> None:
    k = "kw"
    h = Harness(k, models.KeywordIndexParams(type="keyword", prefix=True))
    conds = [fc(k, match=models.MatchValue(value=v)) for v in [*KW, "zzz"]]
    conds += [
        fc(k, match=models.MatchAny(any=["a", "x"])),
        fc(k, match=models.MatchAny(any=[])),
        fc(k, match=models.MatchExcept(**{"except": ["a", "b"]})),
        fc(k, match=models.MatchExcept(**{"except": []})),
        fc(k, match=models.MatchExcept(**{"except": KW})),
        fc(k, match=models.MatchPrefix(prefix="a")),
        fc(k, match=models.MatchPrefix(prefix="")),
        fc(k, match=models.MatchPrefix(prefix="ab")),
        fc(k, match=models.MatchSubstring(substring="b")),
        fc(k, match=models.MatchSubstring(substring=" ")),
    ]
    run_oracle(h, kw_gen, conds, tmp_path)
    # operands of another type: the index declines, the caller scans
    h.check([fc(k, match=models.MatchValue(value=1)),
             fc(k, match=models.MatchAny(any=[1, 2])),
             fc(k, match=models.MatchExcept(**{"except": [1]})),
             fc(k, range=models.Range(gte=1))], answered=False)


def test_keyword_prefix_requires_flag() -> None:
    h = Harness("kw", "keyword")
    h.upsert(0, {"kw": "abc"})
    h.check([fc("kw", match=models.MatchPrefix(prefix="a"))], answered=False)
    h.check([fc("kw", match=models.MatchValue(value="abc"))])


def test_keyword_value_counts() -> None:
    h = Harness("kw", "keyword")
    rng = random.Random(3)
    fill(h, kw_gen, rng, 200)
    index = h.indexes.get("kw")
    mask = np.zeros(h.n, dtype=bool)
    mask[::2] = True
    counts = index.value_counts(mask)  # type: ignore[union-attr]
    for v in KW:
        exp = len(h.expected(fc("kw", match=models.MatchValue(value=v))) & set(range(0, h.n, 2)))
        assert counts.get(v, 0) == exp


# ---------------------------------------------------------------- integer / float


def int_gen(rng: random.Random) -> Any:
    def scalar(r: random.Random) -> Any:
        x = r.random()
        if x < 0.8:
            return r.randint(-20, 20)
        return r.choice([2.5, 3.0, -7.5, True, False, "5", None, 2**62, -(2**62)])
    return one_or_many(rng, scalar)


def range_conds(k: str) -> list[models.FieldCondition]:
    out = []
    for lo, hi in [(None, 3), (-5, 5), (2.5, 7.9), (-0.5, None), (3, 3), (5, -5),
                   (float("-inf"), 1e30), (None, None), (2**61, None)]:
        out.append(fc(k, range=models.Range(gte=lo, lte=hi)))
        out.append(fc(k, range=models.Range(gt=lo, lt=hi)))
        out.append(fc(k, range=models.Range(gt=lo, lte=hi)))
    out.append(fc(k, range=models.Range(gt=1, gte=2, lt=10, lte=9.5)))
    return out


def test_integer_oracle(tmp_path: Path) -> None:
    k = "n"
    h = Harness(k, "integer")
    conds = [fc(k, match=models.MatchValue(value=v)) for v in (-20, 0, 3, 20, 21, 2**62)]
    conds += [
        fc(k, match=models.MatchAny(any=[1, 2, 3])),
        fc(k, match=models.MatchAny(any=[])),
        fc(k, match=models.MatchExcept(**{"except": [0, 1, 2]})),
        fc(k, match=models.MatchExcept(**{"except": []})),
        fc(k, match=models.MatchExcept(**{"except": list(range(-20, 21))})),
    ]
    conds += range_conds(k)
    run_oracle(h, int_gen, conds, tmp_path)
    h.check([fc(k, match=models.MatchValue(value="5")),
             fc(k, match=models.MatchValue(value=True)),
             fc(k, range=models.DatetimeRange(gte=datetime(2020, 1, 1)))], answered=False)


def test_integer_flags() -> None:
    h = Harness("n", models.IntegerIndexParams(type="integer", lookup=False, range=True))
    h.upsert(0, {"n": 1})
    h.check([fc("n", match=models.MatchValue(value=1))], answered=False)
    h.check([fc("n", range=models.Range(gte=1))])
    h = Harness("n", models.IntegerIndexParams(type="integer", lookup=True, range=False))
    h.upsert(0, {"n": 1})
    h.check([fc("n", match=models.MatchValue(value=1))])
    h.check([fc("n", range=models.Range(gte=1))], answered=False)


def float_gen(rng: random.Random) -> Any:
    def scalar(r: random.Random) -> Any:
        x = r.random()
        if x < 0.5:
            return round(r.uniform(-10, 10), 2)
        if x < 0.85:
            return r.randint(-10, 10)
        return r.choice([True, "1.5", None, {"a": 1}])
    return one_or_many(rng, scalar)


def test_float_oracle(tmp_path: Path) -> None:
    k = "f"
    h = Harness(k, "float")
    run_oracle(h, float_gen, range_conds(k), tmp_path)
    h.check([fc(k, match=models.MatchValue(value=1))], answered=False)


def test_ordered() -> None:
    h = Harness("f", "float")
    rng = random.Random(5)
    fill(h, float_gen, rng, 200)
    index = h.indexes.get("f")
    mask = np.ones(h.n, dtype=bool)
    mask[:50] = False
    vals, offs = index.ordered(mask)  # type: ignore[union-attr]
    assert np.all(np.diff(vals) >= 0)
    exp = sorted(
        (float(v), o) for o, p in h.payloads.items() if o >= 50
        for v in (p.get("f") if isinstance(p.get("f"), list) else [p.get("f")])
        if isinstance(v, int | float) and not isinstance(v, bool)
    )
    assert sorted(zip(vals.tolist(), offs.tolist(), strict=True)) == exp


# ---------------------------------------------------------------- bool


def bool_gen(rng: random.Random) -> Any:
    return one_or_many(rng, lambda r: r.choice([True, False, True, False, 1, 0, "true", None]))


def test_bool_oracle(tmp_path: Path) -> None:
    k = "b"
    h = Harness(k, "bool")
    # MatchAny / MatchExcept are typed as str or int lists; bools only pass via construct
    conds = [
        fc(k, match=models.MatchValue(value=True)),
        fc(k, match=models.MatchValue(value=False)),
        fc(k, match=models.MatchAny.model_construct(any=[True])),
        fc(k, match=models.MatchExcept.model_construct(except_=[True])),
        fc(k, match=models.MatchExcept.model_construct(except_=[True, False])),
    ]
    run_oracle(h, bool_gen, conds, tmp_path)
    h.check([fc(k, match=models.MatchValue(value=1))], answered=False)


# ---------------------------------------------------------------- datetime


BASE = datetime(2023, 5, 1, 12, 0, tzinfo=UTC)


def dt_gen(rng: random.Random) -> Any:
    def scalar(r: random.Random) -> Any:
        if r.random() < 0.1:
            return r.choice(["hello", 5, None, "2023-13-01", "2023-05-01T25:00:00"])
        t = BASE + timedelta(minutes=r.randint(-3000, 3000), microseconds=r.randint(0, 10**6))
        fmt = r.randrange(9)
        if fmt == 0:
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == 1:
            return t.strftime("%Y-%m-%d %H:%M:%S")
        if fmt == 2:
            return t.strftime("%Y-%m-%d")
        if fmt == 3:
            return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "789+00:00"
        if fmt == 4:
            tz = timezone(timedelta(hours=r.randint(-12, 12)))
            return t.astimezone(tz).isoformat()
        if fmt == 5:
            tz = timezone(timedelta(hours=r.randint(-9, 9)))
            return t.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S%z")[:-2]  # +HH only
        if fmt == 6:
            return t.strftime("%Y-%m-%dT%H:%M")
        if fmt == 7:
            return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + " UTC"
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fz")
    return one_or_many(rng, scalar)


def test_datetime_oracle(tmp_path: Path) -> None:
    k = "d"
    h = Harness(k, "datetime")
    conds = []
    for lo, hi in [(BASE, None), (None, BASE), (BASE - timedelta(hours=5), BASE + timedelta(1)),
                   (BASE.replace(tzinfo=None), None), (date(2023, 5, 1), date(2023, 5, 2)),
                   (BASE + timedelta(10), BASE)]:
        conds.append(fc(k, range=models.DatetimeRange(gte=lo, lte=hi)))
        conds.append(fc(k, range=models.DatetimeRange(gt=lo, lt=hi)))
    conds.append(fc(k, range=models.DatetimeRange(gte="2023-05-01T10:00:00+02:00")))
    run_oracle(h, dt_gen, conds, tmp_path)
    h.check([fc(k, range=models.Range(gte=1)), fc(k, match=models.MatchValue(value="x"))],
            answered=False)


def test_parse_datetime() -> None:
    us = parse_datetime_us
    assert us("1970-01-01T00:00:00Z") == 0
    assert us("1970-01-01") == 0
    assert us("1970-01-01 00:00:01") == 1_000_000
    assert us("1970-01-01T01:00:00+01:00") == 0
    assert us("1970-01-01T01:00:00+01") == 0
    assert us("1970-01-01T00:00:00.000001999Z") == 1
    assert us("nope") is None
    assert us(5) is None


# ---------------------------------------------------------------- uuid


UUIDS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(8)]


def uuid_gen(rng: random.Random) -> Any:
    return one_or_many(rng, lambda r: r.choice(UUIDS) if r.random() < 0.85 else r.choice(
        ["not-a-uuid", 7, None, True]))


def test_uuid_oracle(tmp_path: Path) -> None:
    k = "u"
    h = Harness(k, "uuid")
    conds = [fc(k, match=models.MatchValue(value=v)) for v in UUIDS[:4]]
    conds += [
        fc(k, match=models.MatchAny(any=UUIDS[2:5])),
        fc(k, match=models.MatchExcept(**{"except": UUIDS[:3]})),
        fc(k, match=models.MatchExcept(**{"except": UUIDS})),
    ]
    run_oracle(h, uuid_gen, conds, tmp_path)
    h.check([fc(k, match=models.MatchValue(value="not-a-uuid"))], answered=False)


def test_uuid_normalisation() -> None:
    h = Harness("u", "uuid")
    u = uuid.uuid4()
    h.upsert(0, {"u": str(u).upper()})
    h.upsert(1, {"u": u.hex})
    assert h.got(fc("u", match=models.MatchValue(value=str(u)))) == {0, 1}


# ---------------------------------------------------------------- geo


def geo_gen(rng: random.Random) -> Any:
    def scalar(r: random.Random) -> Any:
        if r.random() < 0.1:
            return r.choice([{"lat": "1", "lon": 2}, {"lat": 1}, 5, None, {"lat": True, "lon": 1}])
        return {"lat": round(r.uniform(-10, 10), 1), "lon": round(r.choice(
            [r.uniform(-10, 10), r.uniform(170, 180), r.uniform(-180, -170)]), 1)}
    return one_or_many(rng, scalar)


def gp(lat: float, lon: float) -> models.GeoPoint:
    return models.GeoPoint(lat=lat, lon=lon)


def test_geo_oracle(tmp_path: Path) -> None:
    k = "g"
    h = Harness(k, "geo")
    square = models.GeoLineString(points=[gp(-5, -5), gp(-5, 5), gp(5, 5), gp(5, -5), gp(-5, -5)])
    hole = models.GeoLineString(points=[gp(-1, -1), gp(-1, 1), gp(1, 1), gp(1, -1), gp(-1, -1)])
    tri = models.GeoLineString(points=[gp(0, 0), gp(8, 2), gp(2, 8), gp(0, 0)])
    conds = [
        fc(k, geo_bounding_box=models.GeoBoundingBox(top_left=gp(5, -5), bottom_right=gp(-5, 5))),
        fc(k, geo_bounding_box=models.GeoBoundingBox(top_left=gp(10, 175),
                                                      bottom_right=gp(-10, -175))),
        fc(k, geo_radius=models.GeoRadius(center=gp(0, 0), radius=500_000)),
        fc(k, geo_radius=models.GeoRadius(center=gp(0, 179.9), radius=300_000)),
        fc(k, geo_polygon=models.GeoPolygon(exterior=square)),
        fc(k, geo_polygon=models.GeoPolygon(exterior=square, interiors=[hole])),
        fc(k, geo_polygon=models.GeoPolygon(exterior=tri)),
    ]
    run_oracle(h, geo_gen, conds, tmp_path)
    h.check([fc(k, match=models.MatchValue(value=1))], answered=False)


# ---------------------------------------------------------------- nested


def offers_gen(rng: random.Random) -> list[Any]:
    out: list[Any] = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.8:
            out.append({"price": rng.randint(0, 10), "name": rng.choice(["a", "b", "c"])})
        elif r < 0.9:
            out.append({"name": "x"})
        else:
            out.append(rng.choice([5, None, {"price": [1, 2]}]))
    return out


def test_nested_elements(tmp_path: Path) -> None:
    rng = random.Random(11)
    h = Harness("offers[].price", models.IntegerIndexParams(type="integer", nested="offers"))
    h.indexes.create("offers[].name", models.KeywordIndexParams(type="keyword", nested="offers[]"))
    for i in range(300):
        h.upsert(i, {"offers": offers_gen(rng)} if rng.random() < 0.9 else {"offers": {"a": 1}})

    def brute(key: str, pred: Callable[[Any], bool]) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for off in h.alive:
            offers = h.payloads[off].get("offers")
            if not isinstance(offers, list):
                continue
            for j, e in enumerate(offers):
                if isinstance(e, dict):
                    vals = e.get(key)
                    vals = vals if isinstance(vals, list) else [vals]
                    if any(v is not None and pred(v) for v in vals):
                        out.setdefault(off, set()).add(j)
        return out

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    cases = [
        ("offers[].price", "price", fc("offers[].price", range=models.Range(gte=3, lt=7)),
         lambda v: is_int(v) and 3 <= v < 7),
        ("offers[].price", "price", fc("offers[].price", match=models.MatchValue(value=5)),
         lambda v: is_int(v) and v == 5),
        ("offers[].name", "name", fc("offers[].name", match=models.MatchAny(any=["a", "x"])),
         lambda v: v in ("a", "x")),
    ]

    def check_all() -> None:
        for key, field, cond, pred in cases:
            index = h.indexes.get(key)
            assert index is not None
            got = index.filter_elements(cond)  # type: ignore[attr-defined]
            assert got is not None
            got = {o: s for o, s in got.items() if o in h.alive}
            assert got == brute(field, pred), cond
            mask = index.filter(cond, h.n)
            assert mask is not None
            assert {int(i) for i in np.flatnonzero(mask)} == h.expected(cond)

    check_all()
    for _ in range(100):
        i = rng.randrange(320)
        if rng.random() < 0.3 and i in h.alive:
            h.delete(i)
        else:
            h.upsert(i, {"offers": offers_gen(rng)})
    check_all()
    h.reload(tmp_path)
    check_all()
    schema = h.indexes.schema()
    with_price = brute("price", is_int)
    assert schema["offers[].price"][1] == len(with_price)


# ---------------------------------------------------------------- container


def test_schema_params_and_persistence(tmp_path: Path) -> None:
    ix = PayloadFieldIndexes()
    ix.create("a", "keyword")
    ix.create("b", models.PayloadSchemaType.INTEGER)
    ix.create("c", {"type": "float"})
    ix.create("d", models.KeywordIndexParams(type="keyword", is_tenant=True))
    ix.on_payload_set(0, {"a": "x", "b": [1, 2], "c": 1, "d": "t"})
    ix.on_payload_set(1, {"a": 5, "b": "no"})
    ix.on_payload_set(2, {"a": ["y", "z"]})
    schema = ix.schema()
    assert schema["a"] == (models.KeywordIndexParams(type="keyword"), 2)
    assert schema["b"][1] == 1
    assert schema["d"][0].is_tenant is True
    assert ix.get("a").values_count(2) == 2  # type: ignore[union-attr]
    assert ix.get("b").values_count(0) == 2  # type: ignore[union-attr]
    ix.on_delete(2)
    assert ix.schema()["a"][1] == 1
    ix.save(tmp_path)
    loaded = PayloadFieldIndexes.load(tmp_path)
    assert loaded.schema() == ix.schema()
    assert sorted(loaded.keys()) == ["a", "b", "c", "d"]
    assert PayloadFieldIndexes.load(tmp_path / "missing").keys() == []
    ix.drop("a")
    assert ix.get("a") is None
    assert normalize_params("geo") == models.GeoIndexParams(type="geo")
    with pytest.raises(ValueError):
        normalize_params("nope")


def test_sorted_column_incremental() -> None:
    rng = np.random.default_rng(0)
    col = SortedColumn(np.int64)
    truth: dict[int, list[int]] = {}
    for step in range(30):
        for _ in range(400):
            eid = int(rng.integers(0, 3000))
            if rng.random() < 0.3:
                col.remove(eid)
                truth.pop(eid, None)
            else:
                vals = rng.integers(-100, 100, size=int(rng.integers(1, 3))).tolist()
                col.remove(eid)
                col.add(eid, vals)
                truth[eid] = vals
        lo, hi = sorted(rng.integers(-100, 100, size=2).tolist())
        got = sorted(set(col.range_ids(lo, True, hi, False).tolist()))
        exp = sorted(e for e, vs in truth.items() if any(lo <= v < hi for v in vs))
        assert got == exp, step
        got = sorted(set(col.eq_ids([lo, hi]).tolist()))
        exp = sorted(e for e, vs in truth.items() if lo in vs or hi in vs)
        assert got == exp
        got = sorted(set(col.not_in_ids([lo]).tolist()))
        exp = sorted(e for e, vs in truth.items() if any(v != lo for v in vs))
        assert got == exp


def test_keyword_many_values_except(tmp_path: Path) -> None:
    k = "kw"
    h = Harness(k, "keyword")

    def gen(rng: random.Random) -> Any:
        return one_or_many(rng, lambda r: f"v{r.randrange(300)}" if r.random() < 0.9
                           else r.choice(STRAY))

    conds = [
        fc(k, match=models.MatchExcept(**{"except": ["v1", "v2", "v3"]})),
        fc(k, match=models.MatchExcept(**{"except": [f"v{i}" for i in range(0, 300, 2)]})),
        fc(k, match=models.MatchAny(any=[f"v{i}" for i in range(50)])),
    ]
    run_oracle(h, gen, conds, tmp_path, seed=7)


def test_integer_value_counts_and_u64() -> None:
    h = Harness("n", "integer")
    rng = random.Random(9)
    fill(h, int_gen, rng, 200)
    index = h.indexes.get("n")
    mask = np.zeros(h.n, dtype=bool)
    mask[1::3] = True
    counts = index.value_counts(mask)  # type: ignore[union-attr]
    for v in range(-20, 21):
        exp = h.expected(fc("n", match=models.MatchValue(value=v))) & set(range(1, h.n, 3))
        assert counts.get(v, 0) == len(exp)
    h.upsert(500, {"n": 2**64 - 1})
    h.check([fc("n", match=models.MatchValue(value=2**64 - 1))], answered=False)
    h.check([fc("n", range=models.Range(gte=2.0**63))])


def test_nested_add_without_elements() -> None:
    ix = PayloadFieldIndexes()
    index = ix.create("offers[].price", models.IntegerIndexParams(type="integer", nested="offers"))
    cond = fc("offers[].price", range=models.Range(gte=5))
    index.add(0, [1, 7])  # flat values: the point-level answer still works
    assert index.filter(cond, 2).tolist() == [True, False]
    assert index.filter_elements(cond) is None  # type: ignore[attr-defined]
    ix.on_payload_set(0, {"offers": [{"price": 1}, {"price": 7}]})
    assert index.filter_elements(cond) == {0: {1}}  # type: ignore[attr-defined]
    assert index.values_count(0) == 2
