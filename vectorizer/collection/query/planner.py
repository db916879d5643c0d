"""Plans and runs Query API requests over one collection.

A request is a tree: each level has a query, `using`, filter, params, limit and
score threshold, and its prefetches below it.  Filters propagate from every level
into the levels below (merged field-wise, as Qdrant's `Filter::merge_opts`), so
prefetch limits apply to already filtered candidates.  A level with prefetches
re-scores the union of their results (a vector query restricted to those ids),
or fuses them (rrf, dbsf), or evaluates a formula over them; a level without
prefetches queries the collection.  The root applies `offset` and fetches payload
and vectors for the final page only.

Identical sub-requests (same subtree, same inherited filter) are built once and
computed once; all nearest-vector leaves of a batch that share vector name, filter
and params run as one `Collection.search_many` pass.  Prefetch limits are global
over the collection's shards (Qdrant applies them per shard; with one shard the
results are the same).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from qdrant_client.http import models

from vectorizer.collection.collection import Collection, DenseSearch
from vectorizer.collection.groups import attach_lookup, group_hits
from vectorizer.collection.payload_selector import PayloadFn, payload_selector, vector_selector
from vectorizer.collection.query import formula, fusion
from vectorizer.collection.query.kinds import Resolved, resolve
from vectorizer.collection.query.mmr import mmr_order, mmr_select
from vectorizer.collection.query.vector_kinds import mmr_inputs
from vectorizer.common.errors import BadInput, FormatError
from vectorizer.index import distance as dist

Hit = dict[str, Any]
Lookup = Callable[[str], Collection]
FUSIONS = (models.FusionQuery, models.RrfQuery)
MAX_PREFETCH_DEPTH = 64
DEFAULT_LIMIT = 10


@dataclasses.dataclass(eq=False)
class Node:
    """One level of a query tree, with its filter already merged with its ancestors'."""

    query: Any
    resolved: Resolved | None
    filter: models.Filter | None
    params: models.SearchParams | None
    limit: int
    threshold: float | None
    children: list[Node]
    root: bool = False
    offset: int = 0
    with_payload: PayloadFn | None = None
    with_vectors: bool | list[str] = False
    selectors_key: str = ""


def _dump(model: Any) -> Any:
    if model is None:
        return None
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", exclude_none=True)
    return model


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def selectors(with_payload: Any, with_vector: Any) -> tuple[PayloadFn | None, bool | list[str]]:
    """`with_payload` / `with_vector` model values as the engine's selector functions."""
    try:
        return payload_selector(_dump(with_payload)), vector_selector(with_vector)
    except ValueError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def _as_list(clause: Any) -> list[Any] | None:
    if clause is None:
        return None
    return clause if isinstance(clause, list) else [clause]


def merge_filters(outer: models.Filter | None,
                  inner: models.Filter | None) -> models.Filter | None:
    """Qdrant's `Filter::merge_opts`: clauses concatenated field by field."""
    if outer is None:
        return inner
    if inner is None:
        return outer

    def both(a: Any, b: Any) -> list[Any] | None:
        a, b = _as_list(a), _as_list(b)
        if a is None or b is None:
            return a if b is None else b
        return [*a, *b]

    min_should = outer.min_should or inner.min_should
    if outer.min_should is not None and inner.min_should is not None:
        min_should = models.MinShould(
            conditions=[*outer.min_should.conditions, *inner.min_should.conditions],
            min_count=max(outer.min_should.min_count, inner.min_should.min_count))
    return models.Filter(must=both(outer.must, inner.must),
                         must_not=both(outer.must_not, inner.must_not),
                         should=both(outer.should, inner.should), min_should=min_should)


def _exclude(flt: models.Filter | None, ids: list[Any]) -> models.Filter | None:
    if not ids:
        return flt
    return merge_filters(flt, models.Filter(must_not=[models.HasIdCondition(has_id=ids)]))


def _prefetches(value: Any) -> list[models.Prefetch]:
    if value is None:
        return []
    return [p for p in (value if isinstance(value, list) else [value]) if p is not None]


def _depth(prefetches: list[models.Prefetch]) -> int:
    return 1 + max((_depth(_prefetches(p.prefetch)) for p in prefetches), default=0) \
        if prefetches else 0


class QueryRun:
    """One batch of query requests against `col` (one shard key selection)."""

    def __init__(self, col: Collection, lookup: Lookup, shard_key: Any = None) -> None:
        self.col, self.lookup, self.shard_key = col, lookup, shard_key
        self.nodes: dict[str, Node] = {}  # identical sub-requests share one node
        self.results: dict[int, list[Hit]] = {}  # id(node) -> its result

    # ------------------------------------------------------------ planning

    def root(self, request: models.QueryRequest) -> Node:
        if request.limit is not None and request.limit < 1:
            raise BadInput(f"Validation error: limit: value {request.limit} invalid, must be "
                           "1 or larger")
        if request.offset is not None and request.offset < 0:
            raise BadInput(f"Validation error: offset: value {request.offset} invalid")
        depth = _depth(_prefetches(request.prefetch))
        if depth > MAX_PREFETCH_DEPTH:
            raise BadInput(f"prefetches depth {depth} exceeds max depth {MAX_PREFETCH_DEPTH}")
        node = self._build(request, None)
        node.root = True
        node.offset = request.offset or 0
        node.with_payload, node.with_vectors = selectors(request.with_payload,
                                                         request.with_vector)
        node.selectors_key = _json([_dump(request.with_payload), request.with_vector])
        return node

    def _build(self, level: models.QueryRequest | models.Prefetch,
               inherited: models.Filter | None) -> Node:
        query = level.query
        children_in = _prefetches(level.prefetch)
        if children_in and query is None:
            raise BadInput("cannot have prefetches without a query")
        if not children_in and isinstance(query, FUSIONS):
            raise BadInput("cannot apply Fusion without prefetches")
        if not children_in and isinstance(query, models.FormulaQuery):
            raise BadInput("cannot apply Formula without prefetches")
        flt = merge_filters(inherited, level.filter)
        resolved = None
        if isinstance(query, models.FormulaQuery):
            formula.validate(query)
        elif not isinstance(query, FUSIONS):
            resolved = resolve(self.col, self.lookup, query, level.using, level.lookup_from,
                               level.params)
            flt = _exclude(flt, resolved.exclude)
        if isinstance(query, models.RrfQuery) and query.rrf.weights is not None and len(
                query.rrf.weights) != len(children_in):
            raise BadInput("Number of weights in RRF should match number of pre-fetches: "
                           f"got {len(query.rrf.weights)}, expected {len(children_in)}")
        key = None
        if isinstance(level, models.Prefetch):
            key = _json([_dump(level), _dump(inherited)])
            if key in self.nodes:
                return self.nodes[key]
        children = [self._build(child, flt) for child in children_in]
        node = Node(query, resolved, flt, level.params,
                    DEFAULT_LIMIT if level.limit is None else level.limit,
                    level.score_threshold, children)
        if key is not None:
            self.nodes[key] = node
        return node

    # ------------------------------------------------------------ running

    def run(self, roots: list[Node]) -> list[list[Hit]]:
        self._batch_nearest_leaves(roots)
        return [self._evaluate(node) for node in roots]

    def _batch_nearest_leaves(self, roots: list[Node]) -> None:
        """Every plain nearest leaf of the batch, grouped by (vector, filter, params), runs
        as one `search_many` call per group; identical leaves are searched once."""
        groups: dict[str, list[Node]] = {}
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.extend(node.children)
            r = node.resolved
            if node.children or r is None or r.vector is None or r.mmr is not None:
                continue
            key = _json([r.vector_name, _dump(node.filter), _dump(node.params)])
            groups.setdefault(key, []).append(node)
        for members in groups.values():
            unique: dict[tuple, int] = {}
            searches: list[DenseSearch] = []
            slots = []
            for node in members:
                sig = (node.resolved.vector.tobytes(), node.limit, node.offset, node.threshold,
                       node.selectors_key if node.root else "")
                if sig not in unique:
                    unique[sig] = len(searches)
                    searches.append(DenseSearch(
                        node.resolved.vector, node.limit, node.offset, node.threshold,
                        node.with_payload, node.with_vectors))
                slots.append(unique[sig])
            first = members[0]
            pages = self.col.search_many(first.resolved.vector_name, first.filter,
                                         self.shard_key, first.params, searches)
            for node, slot in zip(members, slots, strict=True):
                self.results[id(node)] = pages[slot]

    def _evaluate(self, node: Node) -> list[Hit]:
        done = self.results.get(id(node))
        if done is not None:
            return done
        if node.children:
            out = self._rescore(node, [self._evaluate(c) for c in node.children])
        else:
            out = self._query(node, node.filter)
        self.results[id(node)] = out
        return out

    def _rescore(self, node: Node, sources: list[list[Hit]]) -> list[Hit]:
        depth = node.limit + node.offset
        query = node.query
        if isinstance(query, FUSIONS):
            # fused lists are sorted: a threshold keeps a prefix, so cutting first is the same
            if isinstance(query, models.RrfQuery):
                fused = fusion.rrf(sources, query.rrf.k, query.rrf.weights, depth)
            elif query.fusion == models.Fusion.RRF:
                fused = fusion.rrf(sources, limit=depth)
            else:
                fused = fusion.dbsf(sources)
            if node.threshold is not None:
                fused = [h for h in fused if h["score"] >= node.threshold]
            return self._finish(node, fused[:depth])
        if isinstance(query, models.FormulaQuery):
            return self._finish(node, formula.rescore(self.col, query, sources, self.shard_key,
                                                      depth, node.threshold))
        ids = list(dict.fromkeys(h["id"] for source in sources for h in source))
        if not ids:
            return []
        r = node.resolved
        # nearest queries score the candidates straight from their rows
        if r is not None and r.vector is not None and r.mmr is None:
            return self.col.rescore_dense(r.vector_name, r.vector, ids, node.limit,
                                          node.offset, node.threshold, node.with_payload,
                                          node.with_vectors, self.shard_key)
        if r is not None and r.other is not None and r.other.sparse is not None and \
                r.mmr is None:
            return self.col.rescore_sparse(r.vector_name, r.other.sparse, ids, node.limit,
                                           node.offset, node.threshold, node.with_payload,
                                           node.with_vectors, self.shard_key)
        return self._query(node, models.Filter(must=[models.HasIdCondition(has_id=ids)]))

    def _query(self, node: Node, flt: models.Filter | None) -> list[Hit]:
        """Run a level's own query over the points matching `flt`."""
        r = node.resolved
        assert r is not None
        col, key = self.col, self.shard_key
        depth = node.limit + node.offset
        payload, vectors = node.with_payload, node.with_vectors
        if r.scroll or r.order_by is not None or r.sample:
            if r.order_by is not None:
                hits = col.scroll_ordered(flt, r.order_by, depth, payload, vectors, key)
            elif r.sample:
                hits = col.sample_random(flt, depth, payload, vectors, key)
            else:
                hits = col.scroll(flt, None, depth, payload, vectors, key)[0]
            for hit in hits:
                hit["score"], hit["version"] = 1.0, 0
            return hits[node.offset:]
        if r.text is not None:
            return col.text_search(r.vector_name, r.text, flt, node.limit, node.offset,
                                   node.threshold, payload, vectors, key)
        if r.other is not None:
            if r.mmr is not None:
                return self._mmr_other(node, flt)
            return self._other(node, flt, node.limit, node.offset, node.threshold, payload,
                               vectors)
        if r.mmr is not None:
            return self._mmr(node, flt)
        if r.vector is not None:
            return col.search(r.vector_name, r.vector, flt, node.limit, node.offset,
                              node.threshold, payload, vectors, key, node.params)
        return col.score_exact_page(r.vector_name, r.scorer, flt, node.limit, node.offset,
                                    node.threshold, payload, vectors, key)

    def _mmr(self, node: Node, flt: models.Filter | None) -> list[Hit]:
        r = node.resolved
        mmr = r.mmr
        wanted = node.limit if mmr.candidates_limit is None else mmr.candidates_limit
        candidates = self.col.search(r.vector_name, r.vector, flt, wanted, 0, node.threshold,
                                     None, [r.vector_name], self.shard_key, node.params)
        candidates = [h for h in candidates if h.get("vector")]
        if not candidates:
            return []

        def stored(hit: Hit) -> Any:
            vec = hit["vector"]
            return vec.get(r.vector_name) if isinstance(vec, dict) else vec

        matrix = np.asarray([stored(h) for h in candidates], dtype=np.float32)
        distance = self.col.dense_params(r.vector_name)["distance"]
        diversity = 0.5 if mmr.diversity is None else mmr.diversity
        order = mmr_order(matrix, r.vector, distance, diversity, node.limit + node.offset)
        picked = [{**candidates[i], "vector": None} for i in order]
        return self._finish(node, picked)

    def _other(self, node: Node, flt: models.Filter | None, limit: int, offset: int,
               threshold: float | None, payload: PayloadFn | None,
               vectors: bool | list[str]) -> list[Hit]:
        """A level's query over a sparse or multi-vector."""
        r = node.resolved
        other = r.other
        if other.sparse is not None:
            return self.col.search_sparse(r.vector_name, other.sparse, flt, limit, offset,
                                          threshold, payload, vectors, self.shard_key)
        return self.col.score_candidates_page(r.vector_name, other.scorer, other.higher_better,
                                              flt, limit, offset, threshold, payload, vectors,
                                              self.shard_key)

    def _mmr_other(self, node: Node, flt: models.Filter | None) -> list[Hit]:
        r = node.resolved
        mmr = r.mmr
        wanted = node.limit if mmr.candidates_limit is None else mmr.candidates_limit
        candidates = self._other(node, flt, wanted, 0, node.threshold, None, [r.vector_name])
        candidates = [h for h in candidates if h.get("vector")]
        if not candidates:
            return []
        stored = [h["vector"].get(r.vector_name) if isinstance(h["vector"], dict)
                  else h["vector"] for h in candidates]
        kind = r.other.kind
        distance = dist.DOT if kind == "sparse" else \
            self.col.vector_params(r.vector_name)["distance"]
        relevance, sims = mmr_inputs(kind, distance, r.other.mmr_query, stored)
        diversity = 0.5 if mmr.diversity is None else mmr.diversity
        order = mmr_select(relevance, sims, diversity, node.limit + node.offset)
        picked = [{**candidates[i], "vector": None} for i in order]
        return self._finish(node, picked)

    def _finish(self, node: Node, hits: list[Hit]) -> list[Hit]:
        """Root only: cut the offset, then attach the requested payload and vectors."""
        if not node.root:
            return hits
        hits = hits[node.offset:]
        if node.with_payload is None and not node.with_vectors:
            return [{**h, "payload": None, "vector": None} for h in hits]
        found = {rec["id"]: rec for rec in self.col.retrieve(
            [h["id"] for h in hits], node.with_payload, node.with_vectors, self.shard_key)}
        return [{**h, "payload": found[h["id"]]["payload"], "vector": found[h["id"]]["vector"]}
                for h in hits if h["id"] in found]


def query_batch(col: Collection, lookup: Lookup, requests: list[models.QueryRequest],
                ) -> list[list[Hit]]:
    """`/points/query/batch`: the requests share leaf searches where they can.

    Requests with different shard key selections run as separate passes.
    """
    answers: list[list[Hit] | None] = [None] * len(requests)
    by_key: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_key.setdefault(_json(_dump(request.shard_key)), []).append(i)
    for members in by_key.values():
        run = QueryRun(col, lookup, requests[members[0]].shard_key)
        roots = [run.root(requests[i]) for i in members]
        for i, page in zip(members, run.run(roots), strict=True):
            answers[i] = page
    return answers  # type: ignore[return-value]


def query_points(col: Collection, lookup: Lookup, request: models.QueryRequest) -> list[Hit]:
    """`/points/query`."""
    return query_batch(col, lookup, [request])[0]


def query_groups(col: Collection, lookup: Lookup,
                 request: models.QueryGroupsRequest) -> dict[str, Any]:
    """`/points/query/groups`: the query's best points grouped by the `group_by` field."""
    limit = DEFAULT_LIMIT if request.limit is None else request.limit
    group_size = 3 if request.group_size is None else request.group_size
    select_payload, _ = selectors(request.with_payload, None)
    fields = {name: getattr(request, name) for name in (
        "shard_key", "prefetch", "query", "using", "filter", "params", "score_threshold",
        "with_vector", "lookup_from")}

    def fetch(n: int) -> list[Hit]:
        return query_points(col, lookup, models.QueryRequest.model_construct(
            **fields, limit=n, with_payload=True))  # its parts are validated already

    groups = group_hits(fetch, request.group_by, limit, group_size, select_payload)
    spec = request.with_lookup
    if spec is not None:
        if isinstance(spec, str):
            spec = models.WithLookup(collection=spec)
        lookup_payload, lookup_vectors = selectors(
            True if spec.with_payload is None else spec.with_payload, spec.with_vectors)
        attach_lookup(groups, lookup(spec.collection), lookup_payload, lookup_vectors)
    return {"groups": groups}
