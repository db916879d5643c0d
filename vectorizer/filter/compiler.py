"""Qdrant's filter language compiled to numpy bool masks over one segment.

`filter_mask` evaluates a `models.Filter` against every offset of a segment and
returns a bool mask.  Conditions on a key that has a payload field index are
answered by the index when it can (`FieldIndex.filter`); everything else falls
back to a scan over the payloads of the offsets still in play.  Clauses are
evaluated against a *candidate* mask so later conditions only look at offsets
earlier ones left alive (`must` narrows, `should` stops at the first hit).

Semantics mirror Qdrant as modelled by qdrant-client's local mode
(`payload_filters.py`): bool, int and float payload values are distinct types
for exact matches, `is_empty`/`is_null`/`values_count` look at unflattened
values, `match_except` never matches a null, text conditions without a text
index compare word tokens, nested conditions evaluate the whole inner filter
per array element, and an empty `should` is no constraint.

Nested conditions of the common shape (a `must` of match/range/geo
conditions) are answered from nested field indexes (`filter_elements`) when
every inner key has one.  `slice` conditions hash point ids with a vectorised
SipHash-2-4, exactly as Qdrant.

`facet_counts` and `order_values` serve the facet and `order_by` APIs.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.common.datetimes import datetime_micros, to_micros
from vectorizer.common.errors import BadInput
from vectorizer.common.json_path import JsonPathError, extract_values, get_values, parse
from vectorizer.common.point_id import normalize_point_id
from vectorizer.filter.view import SegmentView
from vectorizer.index.payload.geo import geo_condition_mask

__all__ = ["facet_counts", "filter_mask", "order_values", "point_id_slice"]

# ---------------------------------------------------------------- public API


def filter_mask(segment: SegmentView, flt: models.Filter | None) -> np.ndarray:
    """Bool mask over `segment`'s offsets: live points that satisfy `flt`."""
    alive = np.asarray(segment.alive_mask(), dtype=bool)
    if flt is None:
        return alive.copy()
    _validate_filter(flt)
    ev = _Evaluator(segment.num_offsets, segment.payload_at, segment)
    return ev.filter(flt, alive.copy()) & alive


def facet_counts(segment: SegmentView, key: str, mask: np.ndarray) -> dict[Any, int]:
    """Points within `mask` per distinct str/int/bool value at `key` (each point once per value).

    Strings that spell a UUID are counted in hyphenated lower-case form.  Note
    that `True`/`1` share a dict key in Python; Qdrant never mixes bool and int
    in one facet (it reads a single index), so this only matters for odd data.
    """
    _check_key(key)
    mask = np.asarray(mask, dtype=bool)
    index = segment.field_index(key)
    value_counts = getattr(index, "value_counts", None) if index is not None else None
    if value_counts is not None:
        try:
            counted = value_counts(mask)
        except Exception:
            counted = None
        if counted is not None:
            return dict(counted)
    out: dict[Any, int] = {}
    for off in np.flatnonzero(mask).tolist():
        seen: set[tuple[int, Any]] = set()
        for v in extract_values(segment.payload_at(off), key):
            t = type(v)
            if t is str:
                if len(v) >= 32:
                    with contextlib.suppress(ValueError):
                        v = str(uuid.UUID(v))
                seen.add((2, v))
            elif t is int:
                seen.add((1, v))
            elif t is bool:
                seen.add((0, v))
        for _kind, v in seen:
            out[v] = out.get(v, 0) + 1
    return out


def order_values(segment: SegmentView, key: str, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values float64, offsets int64) of every numeric value at `key` for offsets in `mask`.

    Ints and floats count as they are, RFC 3339 datetime strings as float
    seconds since the epoch (UTC); bools and anything else are skipped.  A
    point with an array value appears once per distinct value (as qdrant-client
    local mode dedups `(value, id)`).  Sorted by value, then offset.
    """
    _check_key(key)
    mask = np.asarray(mask, dtype=bool)
    index = segment.field_index(key)
    ordered = getattr(index, "ordered", None) if index is not None else None
    vals: np.ndarray | None = None
    offs: np.ndarray | None = None
    if ordered is not None:
        try:
            vals, offs = ordered(mask)
        except Exception:
            vals = offs = None
    if vals is None or offs is None:
        vlist: list[float] = []
        olist: list[int] = []
        for off in np.flatnonzero(mask).tolist():
            for v in extract_values(segment.payload_at(off), key):
                t = type(v)
                if t is int or t is float:
                    vlist.append(float(v))
                    olist.append(off)
                elif t is str:
                    micros = datetime_micros(v)
                    if micros is not None:
                        vlist.append(micros / 1_000_000)
                        olist.append(off)
        vals = np.asarray(vlist, dtype=np.float64)
        offs = np.asarray(olist, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    offs = np.asarray(offs, dtype=np.int64)
    if len(vals) == 0:
        return vals, offs
    order = np.lexsort((offs, vals))
    vals, offs = vals[order], offs[order]
    dup = np.zeros(len(vals), dtype=bool)
    dup[1:] = (vals[1:] == vals[:-1]) & (offs[1:] == offs[:-1])
    if dup.any():
        vals, offs = vals[~dup], offs[~dup]
    return vals, offs


# ---------------------------------------------------------------- datetimes


def _bound_micros(bound: datetime | date | str | None) -> int | None:
    if bound is None:
        return None
    if isinstance(bound, str):
        micros = datetime_micros(bound)
        if micros is None:
            raise BadInput(f"Invalid datetime: {bound}")
        return micros
    return to_micros(bound)


# ---------------------------------------------------------------- slices (SipHash-2-4)

_U64 = np.uint64
_M64 = (1 << 64) - 1


def _rotl(x: np.ndarray, b: int) -> np.ndarray:
    return (x << _U64(b)) | (x >> _U64(64 - b))


def _sip_round(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray,
               v3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _siphash_blocks(blocks: list[np.ndarray], length: int) -> np.ndarray:
    """SipHash-2-4 with a zero key of messages made of whole 8-byte little-endian blocks."""
    n = len(blocks[0])
    v0 = np.full(n, 0x736F6D6570736575, dtype=_U64)
    v1 = np.full(n, 0x646F72616E646F6D, dtype=_U64)
    v2 = np.full(n, 0x6C7967656E657261, dtype=_U64)
    v3 = np.full(n, 0x7465646279746573, dtype=_U64)
    tail = np.full(n, (length & 0xFF) << 56, dtype=_U64)
    with np.errstate(over="ignore"):
        for m in [*blocks, tail]:
            v3 = v3 ^ m
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
            v0 = v0 ^ m
        v2 = v2 ^ _U64(0xFF)
        for _ in range(4):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def point_id_slice(point_ids: Sequence[int | str], total: int) -> np.ndarray:
    """Slice index (`siphash24(canonical id bytes) % total`) of each point id, as Qdrant."""
    out = np.zeros(len(point_ids), dtype=np.int64)
    int_pos = [i for i, p in enumerate(point_ids) if isinstance(p, int)]
    str_pos = [i for i, p in enumerate(point_ids) if not isinstance(p, int)]
    if int_pos:
        ids = np.array([point_ids[i] & _M64 for i in int_pos], dtype=_U64)
        h = _siphash_blocks([ids], 8)
        out[int_pos] = (h % _U64(total)).astype(np.int64)
    if str_pos:
        raw = b"".join(uuid.UUID(str(point_ids[i])).bytes for i in str_pos)
        words = np.frombuffer(raw, dtype="<u8").reshape(-1, 2)
        h = _siphash_blocks([words[:, 0].copy(), words[:, 1].copy()], 16)
        out[str_pos] = (h % _U64(total)).astype(np.int64)
    return out


# ---------------------------------------------------------------- validation


def _check_key(key: str) -> None:
    try:
        parse(key)
    except JsonPathError as err:
        raise BadInput(str(err)) from None


def _as_list(clause: Any) -> list[Any]:
    if clause is None:
        return []
    return clause if isinstance(clause, list) else [clause]


def _validate_filter(flt: models.Filter) -> None:
    """Reject what Qdrant refuses before touching any point."""
    clauses = [_as_list(flt.must), _as_list(flt.should), _as_list(flt.must_not)]
    if flt.min_should is not None:
        min_count = flt.min_should.min_count
        if min_count < 1:
            raise BadInput(f"min_count value {min_count} is invalid. Must be 1 or larger.")
        clauses.append(_as_list(flt.min_should.conditions))
    for conditions in clauses:
        for cond in conditions:
            if isinstance(cond, models.Filter):
                _validate_filter(cond)
            elif isinstance(cond, models.NestedCondition):
                _check_key(cond.nested.key)
                _validate_filter(cond.nested.filter)
            elif isinstance(cond, models.SliceCondition):
                total, index = cond.slice.total, cond.slice.index
                if total < 1:
                    raise BadInput(f"Slice total must be >= 1, got {total}")
                if not 0 <= index < total:
                    raise BadInput(f"Slice index must be in [0;{total - 1}], got {index}")
            elif isinstance(cond, models.FieldCondition):
                _check_key(cond.key)
                if (cond.match is None and cond.range is None and cond.geo_bounding_box is None
                        and cond.geo_radius is None and cond.geo_polygon is None
                        and cond.values_count is None and cond.is_empty is None
                        and cond.is_null is None):
                    raise BadInput("At least one field condition must be specified")
                if cond.geo_polygon is not None:
                    _validate_polygon(cond.geo_polygon)
            elif isinstance(cond, models.IsEmptyCondition):
                _check_key(cond.is_empty.key)
            elif isinstance(cond, models.IsNullCondition):
                _check_key(cond.is_null.key)
            elif not isinstance(cond, models.HasIdCondition | models.HasVectorCondition):
                raise BadInput(f"Unknown condition: {cond!r}")


def _validate_polygon(poly: models.GeoPolygon) -> None:
    for ring in [poly.exterior, *(poly.interiors or [])]:
        pts = ring.points
        if len(pts) < 4:
            raise BadInput(f"polygon invalid, the size must be at least 4, got {len(pts)}")
        eps = sys.float_info.epsilon
        if abs(pts[0].lat - pts[-1].lat) > eps or abs(pts[0].lon - pts[-1].lon) > eps:
            raise BadInput("polygon invalid, the first and the last points should be the same "
                           "to form a closed line")


# ---------------------------------------------------------------- value predicates

_TOKEN_RE = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    """The default word tokenizer Qdrant uses for text conditions on unindexed fields."""
    return [t.lower() for t in _TOKEN_RE.findall(text)]


def _kind(v: Any) -> tuple[int, Any] | None:
    """Exact-match identity of a payload value: bool, int and str never cross-match."""
    t = type(v)
    if t is str:
        return (2, v)
    if t is int:
        return (1, v)
    if t is bool:
        return (0, v)
    return None


def _match_predicate(match: Any) -> Callable[[Any], bool]:
    """Per-value predicate of a match condition (the point matches if any value does)."""
    if isinstance(match, models.MatchValue):
        target = _kind(match.value)
        return lambda v: target is not None and _kind(v) == target
    if isinstance(match, models.MatchAny):
        targets = {_kind(x) for x in match.any} - {None}
        return lambda v: _kind(v) in targets
    if isinstance(match, models.MatchExcept):
        excluded = {_kind(x) for x in match.except_} - {None}
        return lambda v: v is not None and _kind(v) not in excluded
    if isinstance(match, models.MatchText):
        query = _tokens(match.text)
        if not query:
            return lambda v: False
        qset = set(query)
        return lambda v: type(v) is str and qset.issubset(_tokens(v))
    if isinstance(match, models.MatchTextAny):
        qset = set(_tokens(match.text_any))
        return lambda v: type(v) is str and not qset.isdisjoint(_tokens(v))
    if isinstance(match, models.MatchPhrase):
        phrase = _tokens(match.phrase)
        if not phrase:
            return lambda v: False
        k = len(phrase)

        def phrase_pred(v: Any) -> bool:
            if type(v) is not str:
                return False
            toks = _tokens(v)
            return any(toks[i:i + k] == phrase for i in range(len(toks) - k + 1))

        return phrase_pred
    if isinstance(match, models.MatchPrefix):
        prefix = match.prefix
        return lambda v: type(v) is str and v.startswith(prefix)
    if isinstance(match, models.MatchSubstring):
        sub = match.substring
        return lambda v: type(v) is str and sub in v
    raise BadInput(f"Unknown match condition: {match!r}")


def _range_predicate(rng: Any) -> Callable[[Any], bool]:
    if isinstance(rng, models.DatetimeRange):
        lt, lte = _bound_micros(rng.lt), _bound_micros(rng.lte)
        gt, gte = _bound_micros(rng.gt), _bound_micros(rng.gte)

        def dt_pred(v: Any) -> bool:
            if type(v) is not str:
                return False
            x = datetime_micros(v)
            return x is not None and (
                (lt is None or x < lt) and (lte is None or x <= lte)
                and (gt is None or x > gt) and (gte is None or x >= gte))

        return dt_pred
    if isinstance(rng, models.Range):
        flt, fle, fgt, fge = rng.lt, rng.lte, rng.gt, rng.gte

        def num_pred(v: Any) -> bool:
            t = type(v)
            return (t is int or t is float) and (
                (flt is None or v < flt) and (fle is None or v <= fle)
                and (fgt is None or v > fgt) and (fge is None or v >= fge))

        return num_pred
    raise BadInput(f"Unknown range condition: {rng!r}")


def _is_geo_point(v: Any) -> bool:
    if type(v) is not dict:
        return False
    lat, lon = v.get("lat"), v.get("lon")
    return ((type(lat) is int or type(lat) is float) and (type(lon) is int or type(lon) is float)
            and math.isfinite(lat) and math.isfinite(lon))


def _value_counts_ok(vc: models.ValuesCount, values: list[Any]) -> bool:
    if all(v is None for v in values):
        counts = [0]
    else:
        counts = [0 if v is None else len(v) if isinstance(v, list) else 1 for v in values]
    return any((vc.lt is None or c < vc.lt) and (vc.lte is None or c <= vc.lte)
               and (vc.gt is None or c > vc.gt) and (vc.gte is None or c >= vc.gte)
               for c in counts)


def _is_empty(values: list[Any]) -> bool:
    return all(v is None or (isinstance(v, list) and not v) for v in values)


def _is_null(values: list[Any]) -> bool:
    return any(v is None or (isinstance(v, list) and any(e is None for e in v)) for v in values)


# ---------------------------------------------------------------- evaluation

_MISSING = object()


def _flat_getter(key: str) -> Callable[[dict[str, Any]], Sequence[Any]]:
    """`extract_values(payload, key)` with a fast path for a plain top-level key."""
    steps = parse(key)
    if len(steps) == 1:
        name = steps[0]

        def top_level(payload: dict[str, Any]) -> Sequence[Any]:
            if not payload:
                return ()
            v = payload.get(name, _MISSING)  # type: ignore[arg-type]
            if v is _MISSING:
                return ()
            return v if type(v) is list else (v,)

        return top_level
    return lambda payload: extract_values(payload, key)


class _Evaluator:
    """Evaluates filters over `n` offsets whose payloads come from `payload_at`.

    With a `segment`, id, vector and slice conditions and field indexes are
    available; without one (the elements of a nested array) they never match.
    Every method takes a candidate mask and answers correctly within it (False
    outside), so callers can narrow the work as they go.
    """

    def __init__(self, n: int, payload_at: Callable[[int], dict[str, Any]],
                 segment: SegmentView | None) -> None:
        self.n = n
        self.payload = payload_at  # cheap for segments (a list lookup), so not cached
        self.segment = segment

    # -------------------------------------------------------- helpers

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n, dtype=bool)

    def _hits(self, offsets: list[int]) -> np.ndarray:
        out = self.zeros()
        if offsets:
            out[np.asarray(offsets, dtype=np.int64)] = True
        return out

    def scan(self, cand: np.ndarray, test: Callable[[dict[str, Any]], bool]) -> np.ndarray:
        payload = self.payload
        return self._hits([o for o in np.flatnonzero(cand).tolist() if test(payload(o))])

    def scan_any(self, cand: np.ndarray, key: str, pred: Callable[[Any], bool]) -> np.ndarray:
        payload = self.payload
        values_of = _flat_getter(key)
        hits = []
        for o in np.flatnonzero(cand).tolist():
            for v in values_of(payload(o)):
                if pred(v):
                    hits.append(o)
                    break
        return self._hits(hits)

    def _index_mask(self, key: str, cond: models.FieldCondition,
                    cand: np.ndarray) -> np.ndarray | None:
        if self.segment is None:
            return None
        index = self.segment.field_index(key)
        if index is None:
            return None
        mask = index.filter(cond, self.n)
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=bool)
        if len(mask) != self.n:
            fixed = self.zeros()
            k = min(len(mask), self.n)
            fixed[:k] = mask[:k]
            mask = fixed
        return mask & cand

    # -------------------------------------------------------- filters

    def _cost(self, cond: Any) -> int:
        """Rough evaluation cost, to run cheap conditions of a conjunction first."""
        if isinstance(cond, models.HasIdCondition | models.HasVectorCondition):
            return 0
        if isinstance(cond, models.FieldCondition):
            indexed = self.segment is not None and self.segment.field_index(cond.key) is not None
            return 1 if indexed else 2
        if isinstance(cond, models.SliceCondition):
            return 2
        return 3

    def filter(self, flt: models.Filter, cand: np.ndarray) -> np.ndarray:
        cur = cand
        for cond in sorted(_as_list(flt.must), key=self._cost):
            if not cur.any():
                return cur
            cur = cur & self.condition(cond, cur)
        for cond in sorted(_as_list(flt.must_not), key=self._cost):
            if not cur.any():
                return cur
            cur = cur & ~self.condition(cond, cur)
        should = _as_list(flt.should)
        if should and cur.any():
            acc = self.zeros()
            remaining = cur
            for cond in should:
                hit = self.condition(cond, remaining)
                acc |= hit
                remaining = remaining & ~hit
                if not remaining.any():
                    break
            cur = acc
        if flt.min_should is not None and cur.any():
            need = flt.min_should.min_count
            conds = _as_list(flt.min_should.conditions)
            if need > len(conds):
                return self.zeros()
            counts = np.zeros(self.n, dtype=np.int32)
            for i, cond in enumerate(conds):
                # offsets that can no longer reach `need` drop out of the candidates
                live = cur & (counts + (len(conds) - i) >= need) & (counts < need)
                if not live.any():
                    break
                counts += self.condition(cond, live)
            cur = cur & (counts >= need)
        return cur

    def condition(self, cond: Any, cand: np.ndarray) -> np.ndarray:
        if isinstance(cond, models.FieldCondition):
            return self.field(cond, cand)
        if isinstance(cond, models.Filter):
            return self.filter(cond, cand)
        if isinstance(cond, models.IsEmptyCondition):
            key = cond.is_empty.key
            fc = models.FieldCondition(key=key, is_empty=True)
            m = self._index_mask(key, fc, cand)
            if m is not None:
                return m
            return self.scan(cand, lambda p: _is_empty(get_values(p, key)))
        if isinstance(cond, models.IsNullCondition):
            key = cond.is_null.key
            fc = models.FieldCondition(key=key, is_null=True)
            m = self._index_mask(key, fc, cand)
            if m is not None:
                return m
            return self.scan(cand, lambda p: _is_null(get_values(p, key)))
        if isinstance(cond, models.HasIdCondition):
            return self.has_id(cond, cand)
        if isinstance(cond, models.HasVectorCondition):
            if self.segment is None:
                return self.zeros()
            present = self.segment.vector_present_mask(cond.has_vector)
            if present is None:
                return self.zeros()
            return np.asarray(present, dtype=bool) & cand
        if isinstance(cond, models.NestedCondition):
            return self.nested(cond, cand)
        if isinstance(cond, models.SliceCondition):
            return self.slice(cond, cand)
        raise BadInput(f"Unknown condition: {cond!r}")

    def has_id(self, cond: models.HasIdCondition, cand: np.ndarray) -> np.ndarray:
        out = self.zeros()
        if self.segment is None:
            return out
        ids = cond.has_id
        if not _plain_u64_ids(ids):  # those (a rescoring level's candidates) need no parsing
            try:
                ids = [normalize_point_id(raw) for raw in ids]
            except ValueError as err:
                raise BadInput(str(err)) from None
        offs = self.segment.offsets_of(ids)
        out[offs[offs < self.n]] = True
        return out & cand

    def slice(self, cond: models.SliceCondition, cand: np.ndarray) -> np.ndarray:
        if self.segment is None:
            return self.zeros()
        offs = np.flatnonzero(cand)
        if not len(offs):
            return self.zeros()
        ids = [self.segment.point_id_at(o) for o in offs.tolist()]
        slices = point_id_slice(ids, cond.slice.total)
        out = self.zeros()
        out[offs[slices == cond.slice.index]] = True
        return out

    def nested(self, cond: models.NestedCondition, cand: np.ndarray) -> np.ndarray:
        key = cond.nested.key
        if len(key) > 2 and key.endswith("[]"):
            key = key[:-2]
        by_index = self._nested_via_index(key, cond.nested.filter, cand)
        if by_index is not None:
            return by_index
        elements: list[dict[str, Any]] = []
        owners: list[int] = []
        payload = self.payload
        for o in np.flatnonzero(cand).tolist():
            for value in get_values(payload(o), key):
                if isinstance(value, list):
                    for elem in value:
                        if isinstance(elem, dict):
                            elements.append(elem)
                            owners.append(o)
        if not elements:
            return self.zeros()
        inner = _Evaluator(len(elements), elements.__getitem__, None)
        hit = inner.filter(cond.nested.filter, np.ones(len(elements), dtype=bool))
        return self._hits(np.asarray(owners, dtype=np.int64)[hit].tolist())

    def _nested_via_index(self, key: str, flt: models.Filter,
                          cand: np.ndarray) -> np.ndarray | None:
        """Answer `nested` from nested field indexes (`key[].inner`), or None to scan.

        Only the common shape is handled: a `must` of value conditions (match,
        range, geo), each answered per element by an index with `filter_elements`;
        a point matches if one element satisfies all of them.
        """
        if self.segment is None or flt.should or flt.must_not or flt.min_should is not None:
            return None
        conds = _as_list(flt.must)
        if not conds:
            return None
        matched: dict[int, set[int]] | None = None
        for c in conds:
            if not isinstance(c, models.FieldCondition) or (
                    c.values_count is not None or c.is_empty is not None
                    or c.is_null is not None):
                return None
            index = self.segment.field_index(f"{key}[].{c.key}")
            per_element = getattr(index, "filter_elements", None)
            if per_element is None:
                return None
            got = per_element(c)
            if got is None:
                return None
            if matched is None:
                matched = got
            else:
                matched = {o: both for o, elems in matched.items()
                           if o in got and (both := elems & got[o])}
        assert matched is not None
        return self._hits([o for o, elems in matched.items() if elems and 0 <= o < self.n]) & cand

    def field(self, cond: models.FieldCondition, cand: np.ndarray) -> np.ndarray:
        key = cond.key
        m = self._index_mask(key, cond, cand)
        if m is not None:
            return m
        if cond.values_count is not None:
            vc = cond.values_count
            return self.scan(cand, lambda p: _value_counts_ok(vc, get_values(p, key)))
        if cond.is_empty is not None:
            want = cond.is_empty
            return self.scan(cand, lambda p: _is_empty(get_values(p, key)) == want)
        if cond.is_null is not None:
            want_null = cond.is_null
            return self.scan(cand, lambda p: _is_null(get_values(p, key)) == want_null)
        if cond.match is not None:
            return self.scan_any(cand, key, _match_predicate(cond.match))
        if cond.range is not None:
            return self.scan_any(cand, key, _range_predicate(cond.range))
        if (cond.geo_bounding_box is not None or cond.geo_radius is not None
                or cond.geo_polygon is not None):
            return self.geo(cond, cand)
        raise BadInput("At least one field condition must be specified")

    def geo(self, cond: models.FieldCondition, cand: np.ndarray) -> np.ndarray:
        owners: list[int] = []
        lats: list[float] = []
        lons: list[float] = []
        payload = self.payload
        values_of = _flat_getter(cond.key)
        for o in np.flatnonzero(cand).tolist():
            for v in values_of(payload(o)):
                if _is_geo_point(v):
                    owners.append(o)
                    lats.append(v["lat"])
                    lons.append(v["lon"])
        if not owners:
            return self.zeros()
        hit = geo_condition_mask(cond, np.asarray(lats, dtype=np.float64),
                                 np.asarray(lons, dtype=np.float64))
        return self._hits(np.asarray(owners, dtype=np.int64)[hit].tolist())


def _plain_u64_ids(ids: list[Any]) -> bool:
    """True if every id is a Python int within u64 (already in normal form)."""
    if not ids or set(map(type, ids)) != {int}:
        return False
    column = np.asarray(ids)  # int64, uint64, or object past u64
    return column.dtype.kind == "u" or (column.dtype.kind == "i" and column.min() >= 0)
