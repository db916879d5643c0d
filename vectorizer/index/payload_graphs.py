"""Extra HNSW graphs per indexed payload value: Qdrant's payload-aware links (`payload_m`).

Qdrant links, per value of an indexed field, the points holding that value among
themselves, so that a search filtered to the value (a tenant, a category) walks a
connected graph instead of a main graph whose other nodes it must skip; with
`m: 0` it builds only these (its multitenancy setup).  Here each such value gets
its own faiss graph over the segment rows holding it (node i is row `rows[i]`),
built by the optimizer with `payload_m` links (else `m`), and a search whose
filter requires the value in its `must` walks that graph, the whole filter
being its allow-list.

Which values get a graph follows Qdrant's build: values of keyword, integer, bool
and uuid indexes (the fields whose index does not say `enable_hnsw: false`) held
by more points than `full_scan_threshold` (fewer are scored exactly anyway) and,
when the segment has a main graph, by at most 4 / (its average layer-0 links)
of the segment (a larger share stays connected in the main graph).

Payloads of a sealed segment change in place here (Qdrant moves the point to
another segment): a point that took the value after the build is missing from
the graph, so the search scores such strays exactly beside the graph's results;
points that left the value are ruled out by the allow-list.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import orjson
from qdrant_client.http import models

from vectorizer.index.hnsw import HnswIndex
from vectorizer.index.payload.uuid_index import normalize_uuid
from vectorizer.index.quantization import QuantSpec

GRAPH_KINDS = ("keyword", "integer", "bool", "uuid")
PERCOLATION_MULTIPLIER = 4  # Qdrant's: values above 4/links of the segment need no graph
DIR_NAME = "payload_graphs"


class PayloadGraph:
    """One value's graph: an `HnswIndex` over the segment rows `rows` holding it.

    Searched like a segment's main graph (same methods, segment offsets in and out),
    with an allow-list over its own nodes (see `view`)."""

    __slots__ = ("__weakref__", "index", "key", "rows", "value")

    def __init__(self, key: str, value: Any, rows: np.ndarray, index: HnswIndex) -> None:
        self.key = key
        self.value = value
        self.rows = rows  # sorted int64 segment offsets
        self.index = index

    @property
    def exact(self) -> bool:
        return self.index.exact

    @property
    def spec(self) -> QuantSpec:
        return self.index.spec

    @property
    def size(self) -> int:
        return len(self.rows)

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, ef: int,
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`HnswIndex.search_many` over this graph, `allowed` packed over its nodes;
        returns segment offsets (-1 where fewer were found)."""
        ids, approx = self.index.search_many(queries, k, allowed, ef)
        return np.where(ids >= 0, self.rows[np.maximum(ids, 0)], -1), approx

    def approximate_scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return self.index.approximate_scores(query, np.searchsorted(self.rows, offsets))

    def view(self, mask: np.ndarray) -> tuple[np.ndarray | None, int, np.ndarray | None]:
        """For candidate rows `mask` (over the segment): the allow-list packed over this
        graph's nodes (None: every node), how many nodes it allows, and the offsets of
        the candidates the graph lacks (None when there are none)."""
        inside = mask[self.rows]
        count = int(np.count_nonzero(inside))
        bits = None if count == len(self.rows) else np.packbits(inside, bitorder="little")
        strays = None
        if count < np.count_nonzero(mask):
            outside = mask.copy()
            outside[self.rows] = False
            strays = np.flatnonzero(outside)
        return bits, count, strays


class PayloadGraphs:
    """A segment's payload graphs for one vector, with the settings they were built for
    (`key`: a change of them rebuilds the graphs)."""

    def __init__(self, key: dict[str, Any], graphs: list[PayloadGraph], distance: str,
                 ) -> None:
        self.key = key
        self.graphs = graphs
        self.distance = distance
        self.mapped: Path | None = None  # the saved directory the codes are mapped from
        self._uuid_fields = {field for field, kind in key["fields"] if kind == "uuid"}
        self._by_value = {(g.key, _value_key(g.value)): g for g in graphs}

    def for_filter(self, flt: models.Filter) -> PayloadGraph | None:
        """The graph of a value the filter's `must` requires (as `key: value`), if any."""
        must = flt.must
        if must is None or not self._by_value:
            return None
        for cond in must if isinstance(must, list) else [must]:
            if isinstance(cond, models.FieldCondition) and \
                    isinstance(cond.match, models.MatchValue):
                value = cond.match.value
                if cond.key in self._uuid_fields:
                    value = normalize_uuid(value)
                graph = self._by_value.get((cond.key, _value_key(value)))
                if graph is not None:
                    return graph
        return None

    def covered(self, live: np.ndarray) -> int:
        """How many of the `live` rows some graph holds."""
        if not self.graphs:
            return 0
        held = np.zeros(len(live), dtype=bool)
        for graph in self.graphs:
            held[graph.rows[graph.rows < len(live)]] = True
        return int(np.count_nonzero(held & live))

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        root = directory / DIR_NAME
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        for i, graph in enumerate(self.graphs):
            sub = root / str(i)
            sub.mkdir()
            graph.index.save(sub)
            np.save(sub / "rows.npy", graph.rows, allow_pickle=False)
        (root / "graphs.json").write_bytes(orjson.dumps({
            "key": self.key, "distance": self.distance,
            "values": [[g.key, g.value] for g in self.graphs]}))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> PayloadGraphs | None:
        """The graphs saved under `directory`, their codes memory-mapped with `mmap` (HNSW
        `on_disk`, as `HnswIndex.load`), or None when absent or unreadable (rebuilt)."""
        root = directory / DIR_NAME
        meta_path = root / "graphs.json"
        if not meta_path.exists():
            return None
        meta = orjson.loads(meta_path.read_bytes())
        graphs = []
        for i, (key, value) in enumerate(meta["values"]):
            index = HnswIndex.load(root / str(i), meta["distance"], mmap=mmap)
            if index is None:
                return None  # an older format: rebuilt by the optimizer
            rows = np.load(root / str(i) / "rows.npy", allow_pickle=False)
            graphs.append(PayloadGraph(key, value, rows, index))
        loaded = cls(meta["key"], graphs, meta["distance"])
        loaded.mapped = directory if mmap else None
        return loaded


def graphs_key(params: dict[str, Any], fields: list[tuple[str, str]], dim: int,
               has_main: bool) -> dict[str, Any] | None:
    """What a segment's payload graphs for a vector with HNSW `params` depend on (the
    fields that take graphs and the settings they are built and picked with), or None
    when it gets none (`payload_m`, else `m`, is 0, or no field asks for them)."""
    payload_m = params.get("payload_m")
    payload_m = params.get("m", 16) if payload_m is None else payload_m
    if payload_m <= 0 or not fields:
        return None
    spec = params.get("quantization") or QuantSpec()
    key = {"payload_m": payload_m, "ef_construct": max(int(params.get("ef_construct", 100)), 4),
           "threshold": full_scan_points(params, dim), "codes": spec.key, "main": has_main,
           "fields": sorted(fields)}
    return orjson.loads(orjson.dumps(key))  # as saved and loaded


def graph_fields(indexes: Any) -> list[tuple[str, str]]:
    """(field, kind) of a segment's payload indexes that take graphs."""
    out = []
    for field, index in indexes.items():
        kind = getattr(index, "kind", None)
        params = index.params
        if kind not in GRAPH_KINDS or getattr(params, "enable_hnsw", None) is False:
            continue
        if kind == "integer" and getattr(params, "lookup", None) is False:
            continue  # no value lookups: its filters are ranges
        out.append((field, kind))
    return out


def full_scan_points(params: dict[str, Any], dim: int) -> int:
    """`full_scan_threshold` (KB of vectors) in points of `dim` float32 dimensions."""
    return int(params.get("full_scan_threshold", 10_000)) * 1024 // max(4 * dim, 1)


def candidate_blocks(segment: Any, name: str, key: dict[str, Any],
                     ) -> list[tuple[str, Any, np.ndarray]]:
    """(field, value, rows) of every value of the fields of `key` held by more than its
    threshold of live points with vector `name` (call under the shard lock)."""
    from vectorizer.filter.compiler import filter_mask

    present = segment.vector_present_mask(name)
    if present is None:
        return []
    live = present & np.asarray(segment.alive_mask(), dtype=bool)
    threshold = key["threshold"]
    blocks = []
    for field, _kind in key["fields"]:
        index = segment.indexes.get(field)
        counts = index.value_counts(live)
        for value, count in sorted(counts.items(), key=lambda kv: str(kv[0])):
            if count <= threshold:
                continue
            flt = models.Filter(must=[models.FieldCondition(
                key=field, match=models.MatchValue(value=value))])
            rows = np.flatnonzero(filter_mask(segment, flt) & live).astype(np.int64)
            if len(rows) > threshold:
                blocks.append((field, value, rows))
    return blocks


def build_graphs(key: dict[str, Any], blocks: list[tuple[str, Any, np.ndarray]],
                 data: np.ndarray, params: dict[str, Any], main: HnswIndex | None,
                 ) -> PayloadGraphs:
    """Build the graphs of `blocks` over `data` (the segment's vector matrix); with a
    `main` graph, values holding more than 4 / (its average layer-0 links) of the
    segment are left to it."""
    limit = len(data)
    if main is not None and blocks:
        limit = len(data) // max(int(average_links(main)), 1) * PERCOLATION_MULTIPLIER
    graphs = []
    for field, value, rows in blocks:
        if len(rows) > limit:
            continue
        index = HnswIndex.build(data[rows], params["distance"], key["payload_m"],
                                key["ef_construct"],
                                params.get("max_indexing_threads", 0),
                                params.get("quantization"))
        graphs.append(PayloadGraph(field, value, rows, index))
    return PayloadGraphs(key, graphs, params["distance"])


def average_links(main: HnswIndex, sample: int = 4096) -> float:
    """The average number of layer-0 links per node of a faiss HNSW graph, over a sample
    of its nodes (read in place: the graph's arrays are not copied)."""
    hnsw = main.index.hnsw
    width = int(hnsw.nb_neighbors(0))
    count = int(hnsw.offsets.size()) - 1
    if count <= 0 or not width:
        return 0.0
    offsets = faiss.rev_swig_ptr(hnsw.offsets.data(), count)
    neighbors = faiss.rev_swig_ptr(hnsw.neighbors.data(), hnsw.neighbors.size())
    nodes = np.unique(np.linspace(0, count - 1, min(count, sample)).astype(np.int64))
    links = neighbors[offsets[nodes].astype(np.int64)[:, None] + np.arange(width)]
    return float(np.count_nonzero(links >= 0)) / len(nodes)


def _value_key(value: Any) -> tuple[bool, Any]:
    return isinstance(value, bool), value
