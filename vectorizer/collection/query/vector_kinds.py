"""Query inputs over sparse vectors and multi-vectors, resolved to what segments score.

Dense queries are resolved in `kinds.py`; this module does the same for the two
other kinds, with one model: every example (a vector, or a point id meaning that
point's stored vector) is prepared once, and a *candidate scorer* maps a segment's
storage and candidate offsets to scores.  `recommend` (`best_score`,
`sum_scores`), `discover`, `context` and `relevance_feedback` combine the
candidates' raw similarities to each example exactly as for dense vectors;
`nearest` and `average_vector` become one query vector.

Sparse similarity is the dot product over shared dimensions (0 without overlap;
a `nearest` search returns only overlapping points).  With `modifier: idf` every
query-side weight is multiplied by the dimension's IDF over the collection's
current points, Qdrant's ln(1 + (N - n + 0.5) / (n + 0.5)).  Multi-vectors
compare by MaxSim (see `index/multivector.py`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from itertools import permutations
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.collection.recommend import best_score_of, check_examples, discovery_of
from vectorizer.common.errors import BadInput
from vectorizer.common.point_id import PointId, normalize_point_id
from vectorizer.index import bm25
from vectorizer.index import distance as dist
from vectorizer.index import multivector as mv
from vectorizer.index.sparse import sort_query

# (storage, candidate offsets) -> float32 scores of those candidates
CandidateScorer = Callable[[Any, np.ndarray], np.ndarray]
SparseQuery = tuple[np.ndarray, np.ndarray]  # sorted int64 dims, float64 weights

def recommend_examples(ex: Any, rec: models.RecommendInput) -> tuple[str, list, list]:
    """A recommend input's strategy and its fetched positive and negative examples, or
    Qdrant's error for examples the strategy cannot use."""
    strategy = (rec.strategy or models.RecommendStrategy.AVERAGE_VECTOR).value
    positive, negative = rec.positive or [], rec.negative or []
    check_examples(strategy, positive, negative)
    return strategy, ex.fetch(list(positive)), ex.fetch(list(negative))


def _is_id(value: Any) -> bool:
    return isinstance(value, int | str | uuid.UUID) and not isinstance(value, bool)


def _pid(value: Any) -> PointId:
    return normalize_point_id(str(value) if isinstance(value, uuid.UUID) else value)


@dataclasses.dataclass
class KindQuery:
    """A resolved sparse or multi-vector query of one request level."""

    kind: str  # "sparse" | "multi"
    sparse: SparseQuery | None = None  # a nearest sparse search (IDF applied)
    scorer: CandidateScorer | None = None  # every other query
    higher_better: bool = True
    mmr_query: Any = None  # the nearest query before IDF, when `mmr` re-ranks


class KindExamples:
    """Prepares example inputs of a sparse or multi-vector `name`: vectors as given or
    point ids looked up in `source` (excluded from results when `same_collection`)."""

    def __init__(self, col: Any, name: str, kind: str, source: Any, source_vector: str,
                 same_collection: bool) -> None:
        self.col, self.name, self.kind = col, name, kind
        self.source, self.source_vector = source, source_vector
        self.same_collection = same_collection
        self.exclude: list[PointId] = []
        if kind == "multi":
            params = col.vector_params(name)
            self.distance, self.dim = params["distance"], params["size"]
        else:
            self.distance, self.dim = dist.DOT, 0

    def fetch(self, inputs: list[Any]) -> list[Any]:
        ids = [_pid(v) for v in inputs if _is_id(v)]
        stored = self.source.example_vectors(self.source_vector, ids) if ids else {}
        if self.same_collection:
            self.exclude.extend(i for i in ids if i not in self.exclude)
        return [self.parse(stored[_pid(v)] if _is_id(v) else v) for v in inputs]

    def parse(self, value: Any) -> Any:
        """One raw input as a prepared vector of this kind, or Qdrant's error."""
        if isinstance(value, models.Image | models.InferenceObject):
            raise bm25.model_error(value.model)
        if isinstance(value, models.Document):
            text, model, options = bm25.document_model(value)
            if not bm25.is_bm25(model):
                raise bm25.model_error(model)
            if self.kind != "sparse":
                raise BadInput(f"model `{model}` produces sparse vectors, but "
                               f"vector `{self.name}` is not sparse")
            dims, weights = bm25.bm25_for(options).search_embed(text)
            return dims.astype(np.int64), weights.astype(np.float64)
        if self.kind == "sparse":
            if isinstance(value, dict):
                value = models.SparseVector(**value)
            if not isinstance(value, models.SparseVector):
                raise BadInput(f"Conversion between sparse and regular vectors failed: vector "
                               f"`{self.name}` is sparse")
            if len(value.indices) != len(value.values):
                raise BadInput("Validation error: indices and values must be the same length")
            if len(set(value.indices)) != len(value.indices):
                raise BadInput("Validation error: indices must be unique")
            return sort_query(np.asarray(value.indices, dtype=np.int64),
                              np.asarray(value.values, dtype=np.float64))
        if isinstance(value, models.SparseVector) or not isinstance(value, list) or (
                value and not isinstance(value[0], list)):
            got = len(value) if isinstance(value, list) else 0
            raise BadInput(f"Vector `{self.name}` is a multi-vector; expected a "
                           f"list of vectors of dim {self.dim}, got a vector of dim {got}")
        if not value:
            raise BadInput("Validation error: multivector must not be empty")
        try:
            matrix = np.asarray(value, dtype=np.float32)
        except (ValueError, TypeError):
            raise BadInput("Multi vectors must have the same dimension") from None
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise BadInput(f"Vector dimension error: expected dim: {self.dim}, got "
                           f"{matrix.shape[-1] if matrix.ndim == 2 else 0}")
        return mv.prepare_query(matrix, self.distance)


def idf_corpus(params: models.SearchParams | None) -> models.Filter | None:
    """The corpus filter of the `idf` search param (None: the whole collection)."""
    idf = None if params is None else params.idf
    return idf.corpus if isinstance(idf, models.IdfCorpusParams) else None


def _with_idf(col: Any, name: str, queries: list[SparseQuery],
              corpus: models.Filter | None) -> list[SparseQuery]:
    if not queries or not col.sparse_uses_idf(name):
        return queries
    dims = np.unique(np.concatenate([q[0] for q in queries]))
    weights = col.sparse_idf(name, dims, corpus)
    return [(q[0], q[1] * weights[np.searchsorted(dims, q[0])]) for q in queries]


def _sparse_average(pos: list[SparseQuery], neg: list[SparseQuery]) -> SparseQuery:
    def mean(vectors: list[SparseQuery]) -> SparseQuery:
        dims = np.concatenate([v[0] for v in vectors])
        vals = np.concatenate([v[1] for v in vectors]) / len(vectors)
        return sort_query(dims, vals)
    avg_pos = mean(pos)
    if not neg:
        return avg_pos
    avg_neg = mean(neg)
    return sort_query(np.concatenate([avg_pos[0], avg_neg[0]]),
                      np.concatenate([2 * avg_pos[1], -avg_neg[1]]))


def _multi_average(pos: list[np.ndarray], neg: list[np.ndarray]) -> np.ndarray:
    """Qdrant's multi-vector `average_vector`: every positive sub-vector, and every
    negative one negated, as one query."""
    return np.concatenate([*pos, *(-m for m in neg)]).astype(np.float32)


def _similarity(ex: KindExamples) -> Callable[[Any, np.ndarray, Any], np.ndarray]:
    """(storage, offsets, prepared example) -> raw similarities."""
    if ex.kind == "sparse":
        return lambda storage, offs, q: storage.score_offsets(q[0], q[1], offs)[0]
    distance = ex.distance
    return lambda storage, offs, q: storage.core_scores(offs, q, distance)


def resolve_kind(col: Any, kind: str, name: str, query: Any, source: Any, source_vector: str,
                 params: models.SearchParams | None = None,
                 ) -> tuple[KindQuery, list[PointId]]:
    """Resolve a vector query over a sparse or multi-vector `name`; also return the example
    ids to exclude from the results.  `params.idf` may narrow the IDF corpus."""
    ex = KindExamples(col, name, kind, source, source_vector, source is col)
    sim = _similarity(ex)
    corpus = idf_corpus(params)
    prep: Callable[[list[Any]], list[Any]] = (
        (lambda qs: _with_idf(col, name, qs, corpus)) if kind == "sparse" else (lambda qs: qs))
    out = KindQuery(kind)
    if not isinstance(query, models.NearestQuery | models.RecommendQuery |
                      models.DiscoverQuery | models.ContextQuery |
                      models.RelevanceFeedbackQuery):
        query = models.NearestQuery.model_construct(nearest=query)  # validated already
    if isinstance(query, models.NearestQuery):
        raw = ex.fetch([query.nearest])[0]
        _nearest(out, ex, prep([raw])[0])
        if query.mmr is not None:  # MMR relevance compares the query as given (no IDF)
            out.mmr_query = raw
    elif isinstance(query, models.RecommendQuery):
        strategy, pos, neg = recommend_examples(ex, query.recommend)
        if strategy == "average_vector":
            avg = _sparse_average(pos, neg) if kind == "sparse" else _multi_average(pos, neg)
            _nearest(out, ex, prep([avg])[0])
        else:
            out.scorer = _strategy(strategy, prep(pos), prep(neg), sim)
    elif isinstance(query, models.DiscoverQuery):
        target = prep(ex.fetch([query.discover.target]))[0]
        out.scorer = _discovery(target, _pairs(ex, prep, query.discover.context), sim)
    elif isinstance(query, models.ContextQuery):
        out.scorer = _discovery(None, _pairs(ex, prep, query.context), sim)
    else:
        out.scorer = _feedback(ex, prep, query.relevance_feedback, sim)
    return out, ex.exclude


def _nearest(out: KindQuery, ex: KindExamples, q: Any) -> None:
    if ex.kind == "sparse":
        out.sparse = q
        return
    distance = ex.distance
    out.higher_better = dist.higher_is_better(distance)
    out.scorer = lambda storage, offs: mv.to_score(storage.core_scores(offs, q, distance),
                                                   distance)


def _pairs(ex: KindExamples, prep: Callable, context: Any) -> list[tuple[Any, Any]]:
    pairs = context if isinstance(context, list) else [context]
    flat = prep(ex.fetch([e for p in pairs for e in (p.positive, p.negative)]))
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(len(pairs))]


def _strategy(strategy: str, pos: list[Any], neg: list[Any], sim: Callable,
              ) -> CandidateScorer:
    def scores(storage: Any, offs: np.ndarray, examples: list[Any], empty: float,
               ) -> np.ndarray:
        if not examples:
            return np.full((1, len(offs)), empty, dtype=np.float32)
        return np.stack([sim(storage, offs, e) for e in examples]).astype(np.float32)

    if strategy == "best_score":
        def best(storage: Any, offs: np.ndarray) -> np.ndarray:
            return best_score_of(scores(storage, offs, pos, -np.inf).max(axis=0),
                                 scores(storage, offs, neg, -np.inf).max(axis=0))
        return best

    def total(storage: Any, offs: np.ndarray) -> np.ndarray:
        return (scores(storage, offs, pos, 0.0).sum(axis=0)
                - scores(storage, offs, neg, 0.0).sum(axis=0)).astype(np.float32)
    return total


def _discovery(target: Any, pairs: list[tuple[Any, Any]], sim: Callable) -> CandidateScorer:
    def score(storage: Any, offs: np.ndarray) -> np.ndarray:
        return discovery_of(None if target is None else sim(storage, offs, target),
                            ((sim(storage, offs, pos), sim(storage, offs, neg))
                             for pos, neg in pairs), len(offs))
    return score


def feedback_pairs(examples: list[Any], feedback: models.RelevanceFeedbackInput,
                   ) -> list[tuple[Any, Any, float]]:
    """Qdrant's naive relevance-feedback pairs: (better, worse, c * confidence^b) for every
    ordered pair of feedback examples whose scores differ by a positive confidence."""
    naive = feedback.strategy.naive
    pairs = []
    for (pos, pos_score), (neg, neg_score) in permutations(
            zip(examples, [item.score for item in feedback.feedback], strict=True), 2):
        confidence = pos_score - neg_score
        if confidence > 0:
            pairs.append((pos, neg, (confidence ** naive.b) * naive.c))
    return pairs


def _feedback(ex: KindExamples, prep: Callable, feedback: models.RelevanceFeedbackInput,
              sim: Callable) -> CandidateScorer:
    target = prep(ex.fetch([feedback.target]))[0]
    naive = feedback.strategy.naive
    pairs = feedback_pairs(prep(ex.fetch([item.example for item in feedback.feedback])),
                           feedback)

    def score(storage: Any, offs: np.ndarray) -> np.ndarray:
        total = naive.a * sim(storage, offs, target).astype(np.float32)
        for pos, neg, weight in pairs:
            total += weight * (sim(storage, offs, pos) - sim(storage, offs, neg)).astype(
                np.float32)
        return total.astype(np.float32)
    return score


def mmr_inputs(ex_kind: str, distance: str, query: Any, stored: list[Any],
               ) -> tuple[np.ndarray, np.ndarray]:
    """MMR's relevance of each candidate to `query` and `sims[i, j]`, the raw similarity of
    candidate i (as the query) to candidate j; `stored` are the candidates' wire vectors."""
    if ex_kind == "sparse":
        vectors = [(np.asarray(v["indices"], np.int64), np.asarray(v["values"], np.float64))
                   for v in stored]
        dims = np.unique(np.concatenate([query[0], *(v[0] for v in vectors)]))
        matrix = np.zeros((len(vectors), len(dims)))
        for row, (idx, val) in enumerate(vectors):  # one row per candidate
            matrix[row, np.searchsorted(dims, idx)] = val
        q = np.zeros(len(dims))
        q[np.searchsorted(dims, query[0])] = query[1]
        return (matrix @ q).astype(np.float32), (matrix @ matrix.T).astype(np.float32)
    mats = [np.asarray(m, dtype=np.float32) for m in stored]
    counts = np.array([len(m) for m in mats])
    rows = np.concatenate(mats)
    groups = np.cumsum(counts) - counts

    def maxsim_all(q: np.ndarray) -> np.ndarray:
        block = mv.core_block(rows, q, distance)
        return np.maximum.reduceat(block, groups, axis=1).sum(axis=0)

    relevance = maxsim_all(mv.prepare_query(query, distance))
    sims = np.stack([maxsim_all(m) for m in mats])
    return relevance.astype(np.float32), sims.astype(np.float32)
