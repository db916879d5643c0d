"""Query kinds resolved to what the collection runs: a query vector, a scoring function
over stored vectors, or a scroll (by id, by payload field, random).

Point ids given as examples are looked up (in `lookup_from` when given) and, when
they come from the searched collection, excluded from the results as Qdrant does.
Queries over sparse and multi-vectors are resolved by `vector_kinds.py`; inference
objects (`Document` with the built-in BM25 model) are turned into vectors first
(`inference.py`); the `text` query ranks by BM25 over a payload text index.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.collection import config as cfg
from vectorizer.collection.query.vector_kinds import (
    KindQuery,
    feedback_pairs,
    idf_corpus,
    recommend_examples,
    resolve_kind,
)
from vectorizer.collection.recommend import (
    _core_scores,
    average_query,
    discovery_scorer,
    strategy_scorer,
)
from vectorizer.common.errors import BadInput
from vectorizer.common.point_id import PointId, normalize_point_id
from vectorizer.index import bm25
from vectorizer.index import distance as dist

Scorer = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class Resolved:
    """A query ready to run: exactly one of `vector`, `scorer`, `order_by`, `sample`,
    `scroll` describes it; `exclude` are example ids the results must not contain."""

    vector_name: str
    vector: np.ndarray | None = None
    scorer: Scorer | None = None
    mmr: models.Mmr | None = None
    order_by: models.OrderBy | None = None
    sample: bool = False
    scroll: bool = False
    exclude: list[PointId] = dataclasses.field(default_factory=list)
    other: KindQuery | None = None  # a query over a sparse or multi-vector
    text: models.TextQuery | None = None  # BM25 over the text index of field `vector_name`


def _is_id(value: Any) -> bool:
    return isinstance(value, int | str | uuid.UUID) and not isinstance(value, bool)


def _check_input(value: Any) -> None:
    """Reject inputs of another kind than dense for a dense vector."""
    if isinstance(value, models.SparseVector):
        raise BadInput("Conversion between sparse and regular vectors failed")
    if isinstance(value, models.Document):
        _text, model, _options = bm25.document_model(value)
        if not bm25.is_bm25(model):
            raise bm25.model_error(model)
        raise BadInput(f"model `{model}` produces sparse vectors, but the vector "
                       "queried is dense")
    if isinstance(value, models.Image | models.InferenceObject):
        raise bm25.model_error(value.model)
    if isinstance(value, list) and value and isinstance(value[0], list):
        raise BadInput("Conversion between multi and regular vectors failed")


class Examples:
    """Turns example inputs (vectors or point ids) into float32 vectors of `vector_name`."""

    def __init__(self, col: Any, source: Any, source_vector: str, size: int,
                 same_collection: bool) -> None:
        self.col, self.source, self.source_vector = col, source, source_vector
        self.size, self.same_collection = size, same_collection
        self.exclude: list[PointId] = []

    def fetch(self, inputs: list[Any]) -> list[np.ndarray]:
        for value in inputs:
            _check_input(value)
        ids = [normalize_point_id(str(v) if isinstance(v, uuid.UUID) else v)
               for v in inputs if _is_id(v)]
        stored = self.source.example_vectors(self.source_vector, ids) if ids else {}
        if self.same_collection:
            self.exclude.extend(i for i in ids if i not in self.exclude)
        out = []
        for value in inputs:
            if _is_id(value):
                value = stored[normalize_point_id(str(value) if isinstance(
                    value, uuid.UUID) else value)]
            vec = np.asarray(value, dtype=np.float32)
            if vec.ndim != 1 or len(vec) != self.size:
                raise BadInput(f"Vector dimension error: expected dim: {self.size}, got "
                               f"{vec.size}")
            out.append(vec)
        return out


def resolve(col: Any, lookup: Callable[[str], Any], query: Any, using: str | None,
            lookup_from: models.LookupLocation | None,
            params: models.SearchParams | None = None) -> Resolved:
    """Resolve a vector-based query (nearest, recommend, discover, context, relevance
    feedback) or a scroll kind (order_by, sample, none) of one request level."""
    name = using or cfg.DEFAULT_VECTOR
    if query is None:
        return Resolved(name, scroll=True)
    if isinstance(query, models.OrderByQuery):
        order = query.order_by
        return Resolved(name, order_by=models.OrderBy(key=order) if isinstance(order, str)
                        else order)
    if isinstance(query, models.SampleQuery):
        return Resolved(name, sample=True)
    if isinstance(query, models.TextQuery):
        if using is None:
            raise BadInput("A text query needs `using` to name the payload field to search")
        if idf_corpus(params) is not None:
            raise BadInput("An `idf` corpus is not supported for text queries by this server")
        return Resolved(using, text=query)
    kind = col.vector_kind(name)
    source = col if lookup_from is None else lookup(lookup_from.collection)
    source_vector = (lookup_from.vector if lookup_from is not None and lookup_from.vector
                     else name)
    if kind != "dense":
        other, exclude = resolve_kind(col, kind, name, query, source, source_vector, params)
        return Resolved(name, other=other, exclude=exclude, mmr=getattr(query, "mmr", None))
    params = col.dense_params(name)
    distance = params["distance"]
    ex = Examples(col, source, source_vector, params["size"], source is col)
    if not isinstance(query, models.NearestQuery | models.RecommendQuery |
                      models.DiscoverQuery | models.ContextQuery |
                      models.RelevanceFeedbackQuery):
        # a bare vector or point id (validated with the request: validating the vector
        # again against every input kind costs more than a graph search)
        query = models.NearestQuery.model_construct(nearest=query)
    out = Resolved(name)
    if isinstance(query, models.NearestQuery):
        out.vector = ex.fetch([query.nearest])[0]
        out.mmr = query.mmr
    elif isinstance(query, models.RecommendQuery):
        _recommend(out, ex, query.recommend, distance)
    elif isinstance(query, models.DiscoverQuery):
        target = ex.fetch([query.discover.target])[0]
        out.scorer = discovery_scorer(target, _pairs(ex, query.discover.context), distance)
    elif isinstance(query, models.ContextQuery):
        out.scorer = discovery_scorer(None, _pairs(ex, query.context), distance)
    else:
        out.scorer = _feedback(ex, query.relevance_feedback, distance)
    out.exclude = ex.exclude
    return out


def _recommend(out: Resolved, ex: Examples, rec: models.RecommendInput, distance: str) -> None:
    strategy, pos, neg = recommend_examples(ex, rec)
    if strategy == "average_vector":
        out.vector = average_query(pos, neg).astype(np.float32)
    else:
        out.scorer = strategy_scorer(strategy, pos, neg, distance)


def _pairs(ex: Examples, context: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = context if isinstance(context, list) else [context]
    flat = ex.fetch([e for p in pairs for e in (p.positive, p.negative)])
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(len(pairs))]


def _feedback(ex: Examples, feedback: models.RelevanceFeedbackInput, distance: str) -> Scorer:
    """Qdrant's naive relevance feedback: `a * sim(target)` plus, for every ordered pair of
    feedback items whose scores differ by a positive confidence, `c * confidence^b *
    (sim(better) - sim(worse))`, similarities as the collection's raw scores."""
    target = ex.fetch([feedback.target])[0]
    examples = [dist.prepare_query(e, distance)
                for e in ex.fetch([item.example for item in feedback.feedback])]
    naive = feedback.strategy.naive
    pairs = feedback_pairs(examples, feedback)
    goal = dist.prepare_query(target, distance)

    def score(block: np.ndarray) -> np.ndarray:
        total = naive.a * _core_scores(block, goal, distance).astype(np.float32)
        for pos, neg, weight in pairs:
            total += weight * (_core_scores(block, pos, distance)
                               - _core_scores(block, neg, distance)).astype(np.float32)
        return total.astype(np.float32)
    return score
