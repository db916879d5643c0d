"""Geo payload index: parallel arrays of (lat, lon, entry id), scanned vectorised.

Answers `geo_bounding_box`, `geo_radius` (haversine, strictly closer than the
radius) and `geo_polygon` (with holes), mirroring the reference semantics of
qdrant-client's local mode: bounding box and radius bounds are strict, a point
on the exterior ring's boundary is outside, a point on a hole's boundary is in
the hole.  A geo value is an object with finite numeric `lat` and `lon`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.index.payload.entry_index import EntryIndex, Ids

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG), as qdrant-client's local mode


def _is_coord(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def haversine_m(lat: np.ndarray, lon: np.ndarray, clat: float, clon: float) -> np.ndarray:
    """Great-circle distance in metres from (`clat`, `clon`) to each point."""
    lat1, lon1 = np.radians(lat), np.radians(lon)
    lat2, lon2 = math.radians(clat), math.radians(clon)
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * math.cos(lat2) * np.sin(
        (lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * 2 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _ring_state(x: np.ndarray, y: np.ndarray, ring: list[tuple[float, float]],
                ignore_boundary: bool) -> np.ndarray:
    """Vectorised `in_ring` of the reference: the first boundary hit decides."""
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    n = len(x)
    inside = np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)
    result = np.zeros(n, dtype=bool)
    m = len(ring)
    j = m - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(m):
            xi, yi = ring[i]
            xj, yj = ring[j]
            on = ((y * (xi - xj) + yi * (xj - x) + yj * (x - xi)) == 0) & (
                (xi - x) * (xj - x) <= 0) & ((yi - y) * (yj - y) <= 0)
            newly = on & ~decided
            result[newly] = not ignore_boundary
            decided |= newly
            crosses = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            inside ^= crosses
            j = i
    return np.where(decided, result, inside)


def points_in_polygon(lat: np.ndarray, lon: np.ndarray, polygon: models.GeoPolygon) -> np.ndarray:
    """Bool mask of points inside the polygon's exterior and outside all its interiors."""
    exterior = [(p.lat, p.lon) for p in polygon.exterior.points]
    mask = _ring_state(lat, lon, exterior, True)
    for interior in polygon.interiors or []:
        if not mask.any():
            break
        ring = [(p.lat, p.lon) for p in interior.points]
        mask &= ~_ring_state(lat, lon, ring, False)
    return mask


def geo_condition_mask(condition: models.FieldCondition, lat: np.ndarray,
                       lon: np.ndarray) -> np.ndarray | None:
    """Which points satisfy the condition's geo_bounding_box / geo_radius / geo_polygon.

    Shared by this index and the filter evaluator's payload scan.  None if the
    condition has no geo part.
    """
    if condition.geo_bounding_box is not None:
        tl, br = condition.geo_bounding_box.top_left, condition.geo_bounding_box.bottom_right
        if tl.lon > br.lon:  # crosses the anti-meridian
            lon_ok = (lon > tl.lon) | (lon < br.lon)
        else:
            lon_ok = (lon > tl.lon) & (lon < br.lon)
        return lon_ok & (lat < tl.lat) & (lat > br.lat)
    if condition.geo_radius is not None:
        rad = condition.geo_radius
        return haversine_m(lat, lon, rad.center.lat, rad.center.lon) < rad.radius
    if condition.geo_polygon is not None:
        return points_in_polygon(lat, lon, condition.geo_polygon)
    return None


class GeoIndex(EntryIndex):
    """Growable coordinate arrays with tombstones, compacted when half dead."""

    kind = "geo"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self._lat = np.empty(0, dtype=np.float64)
        self._lon = np.empty(0, dtype=np.float64)
        self._ids = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._size = 0
        self._dead = 0
        self._pos: dict[int, list[int]] = {}

    def _convert(self, value: Any) -> tuple[float, float] | None:
        if isinstance(value, dict) and _is_coord(value.get("lat")) and _is_coord(value.get("lon")):
            return float(value["lat"]), float(value["lon"])
        return None

    def _grow(self, need: int) -> None:
        cap = len(self._lat)
        if need <= cap:
            return
        new = max(need, cap * 2, 64)
        for name in ("_lat", "_lon", "_ids", "_alive"):
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[:self._size] = old[:self._size]
            setattr(self, name, arr)

    def _insert(self, eid: int, values: list[Any]) -> None:
        k = len(values)
        self._grow(self._size + k)
        s = self._size
        self._lat[s:s + k] = [v[0] for v in values]
        self._lon[s:s + k] = [v[1] for v in values]
        self._ids[s:s + k] = eid
        self._alive[s:s + k] = True
        self._pos[eid] = list(range(s, s + k))
        self._size += k

    def _bulk_insert(self, eids: np.ndarray, lens: np.ndarray,
                     arrays: dict[str, np.ndarray]) -> None:
        latlon = arrays.get("latlon")
        if latlon is None or not len(latlon):
            return
        n = len(latlon)
        self._lat = np.ascontiguousarray(latlon[:, 0], dtype=np.float64)
        self._lon = np.ascontiguousarray(latlon[:, 1], dtype=np.float64)
        self._ids = np.repeat(eids, lens)
        self._alive = np.ones(n, dtype=bool)
        self._size = n
        self._dead = 0
        pos: dict[int, list[int]] = {}
        for p, eid in enumerate(self._ids.tolist()):
            lst = pos.get(eid)
            if lst is None:
                pos[eid] = [p]
            else:
                lst.append(p)
        self._pos = pos

    def _delete(self, eid: int, values: list[Any]) -> None:
        pos = self._pos.pop(eid, None)
        if pos:
            self._alive[pos] = False
            self._dead += len(pos)
            if self._dead > 1024 and self._dead * 2 > self._size:
                self._compact()

    def _compact(self) -> None:
        n = self._size
        keep = np.flatnonzero(self._alive[:n])
        self._lat = self._lat[keep].copy()
        self._lon = self._lon[keep].copy()
        self._ids = self._ids[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        self._size = len(keep)
        self._dead = 0
        self._pos = {}
        for p, eid in enumerate(self._ids.tolist()):
            self._pos.setdefault(eid, []).append(p)

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        return {"latlon": np.asarray(flat, dtype=np.float64).reshape(-1, 2)}

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        arr = arrays.get("latlon")
        return [] if arr is None else [(a, b) for a, b in arr.tolist()]

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        if condition.match is not None or condition.range is not None:
            return None
        n = self._size
        lat, lon, alive = self._lat[:n], self._lon[:n], self._alive[:n]
        idx = np.flatnonzero(alive)
        hit = geo_condition_mask(condition, lat[idx], lon[idx])
        if hit is None:
            return None
        sel = np.zeros(n, dtype=bool)
        sel[idx] = hit
        return self._ids[:n][sel]
