"""Qdrant's recommendation and discovery queries as a query vector or a scoring function.

`average_vector` searches with avg(positive) + (avg(positive) - avg(negative)).
`best_score` and `sum_scores` score every candidate against each example with the
collection's raw ("core") similarity: Euclid and Manhattan as negated distances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client.http import models

from vectorizer.common.errors import BadInput
from vectorizer.common.point_id import normalize_point_id
from vectorizer.index import distance as dist

if TYPE_CHECKING:
    from vectorizer.collection.collection import Collection


def average_query(positive: list[np.ndarray], negative: list[np.ndarray]) -> np.ndarray:
    mean_pos = np.mean(np.stack(positive), axis=0)
    if not negative:
        return mean_pos
    return mean_pos + mean_pos - np.mean(np.stack(negative), axis=0)


def _core_scores(block: np.ndarray, example: np.ndarray, distance: str) -> np.ndarray:
    if distance in (dist.COSINE, dist.DOT):
        return block @ example
    diff = block - example
    if distance == dist.EUCLID:
        return -np.einsum("ij,ij->i", diff, diff)
    return -np.abs(diff).sum(axis=1)


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (x / (1.0 + np.abs(x)) + 1.0)).astype(np.float32)


_F32_EPSILON = np.float32(1.1920929e-7)


def best_score_of(best_positive: np.ndarray, best_negative: np.ndarray) -> np.ndarray:
    """Qdrant's `best_score`: the scaled best positive similarity where it beats the best
    negative one, else minus the scaled best negative similarity."""
    return np.where(best_positive > best_negative, _scaled_sigmoid(best_positive),
                    -_scaled_sigmoid(best_negative)).astype(np.float32)


def discovery_of(target: np.ndarray | None, pairs: Iterable[tuple[np.ndarray, np.ndarray]],
                 size: int) -> np.ndarray:
    """Qdrant's discovery (`target` similarities given) or context score of `size`
    candidates from their (positive, negative) similarities per context pair: with a
    target, +1 or -1 per pair by which example is closer, plus the sigmoid-scaled
    target similarity; without, the sum of sigmoid(min(positive - negative - eps, 0))."""
    total = np.zeros(size, dtype=np.float32)
    for p, n in pairs:
        p, n = p.astype(np.float32), n.astype(np.float32)
        if target is not None:
            total += np.sign(p - n).astype(np.float32)
        else:
            diff = np.minimum(p - n - _F32_EPSILON, 0.0)
            total += diff / (1.0 + np.abs(diff))
    if target is not None:
        total += _scaled_sigmoid(target.astype(np.float32))
    return total


def discovery_scorer(target: np.ndarray | None, pairs: list[tuple[np.ndarray, np.ndarray]],
                     distance: str) -> Callable[[np.ndarray], np.ndarray]:
    """Discovery (target + context pairs) or context-only scoring, as Qdrant ranks them.

    With a target: for each pair +1 if closer to its positive, -1 if closer to its
    negative, summed, plus the sigmoid-scaled similarity to the target.  Without:
    the sum over pairs of sigmoid(min(sim(positive) - sim(negative) - eps, 0)).
    """
    prepared = [(dist.prepare_query(p, distance), dist.prepare_query(n, distance))
                for p, n in pairs]
    goal = None if target is None else dist.prepare_query(target, distance)

    def score(block: np.ndarray) -> np.ndarray:
        return discovery_of(
            None if goal is None else _core_scores(block, goal, distance),
            ((_core_scores(block, pos, distance), _core_scores(block, neg, distance))
             for pos, neg in prepared), len(block))
    return score


def strategy_scorer(strategy: str, positive: list[np.ndarray], negative: list[np.ndarray],
                    distance: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function scoring a block of stored vectors for `best_score` or `sum_scores`."""
    pos = [dist.prepare_query(v, distance) for v in positive]
    neg = [dist.prepare_query(v, distance) for v in negative]

    def best(block: np.ndarray, examples: list[np.ndarray]) -> np.ndarray:
        if not examples:
            return np.full(len(block), -np.inf, dtype=np.float32)
        return np.max([_core_scores(block, e, distance) for e in examples], axis=0)

    def total(block: np.ndarray, examples: list[np.ndarray]) -> np.ndarray:
        if not examples:
            return np.zeros(len(block), dtype=np.float32)
        return np.sum([_core_scores(block, e, distance) for e in examples], axis=0)

    if strategy == "best_score":
        def score(block: np.ndarray) -> np.ndarray:
            return best_score_of(best(block, pos), best(block, neg))
        return score

    def score_sum(block: np.ndarray) -> np.ndarray:
        return total(block, pos) - total(block, neg)
    return score_sum


def _split_examples(examples: list[Any]) -> tuple[list[Any], list[list[float]]]:
    ids, vectors = [], []
    for example in examples:
        if isinstance(example, list):
            vectors.append(example)
        else:
            ids.append(normalize_point_id(example))
    return ids, vectors


def check_examples(strategy: str, positive: list[Any], negative: list[Any]) -> None:
    """Qdrant's errors for recommend examples that `strategy` cannot use."""
    if strategy == "average_vector" and not positive:
        raise BadInput("Positive list is empty")
    if not positive and not negative:
        raise BadInput("No positive or negative examples given")


def recommend(col: Collection, lookup: Collection | None, lookup_vector: str | None,
              using: str, positive: list[Any], negative: list[Any], strategy: str | None,
              flt: models.Filter | None, limit: int, offset: int, threshold: float | None,
              with_payload: Any, with_vectors: Any, shard_key: Any = None,
              search_params: models.SearchParams | None = None) -> list[dict[str, Any]]:
    """Qdrant's recommend: examples are point ids (looked up) or raw vectors.

    Example points of the searched collection never appear in the results.
    """
    strategy = strategy or "average_vector"
    check_examples(strategy, positive, negative)
    source = lookup or col
    source_vector = lookup_vector or using
    pos_ids, pos_vecs = _split_examples(positive)
    neg_ids, neg_vecs = _split_examples(negative)
    stored = source.example_vectors(source_vector, pos_ids + neg_ids)
    size = col.dense_params(using)["size"]
    pos = [np.asarray(v, dtype=np.float32) for v in [*(stored[i] for i in pos_ids), *pos_vecs]]
    neg = [np.asarray(v, dtype=np.float32) for v in [*(stored[i] for i in neg_ids), *neg_vecs]]
    for vec in pos + neg:
        if len(vec) != size:
            raise BadInput(f"Vector dimension error: expected dim: {size}, got {len(vec)}")
    if lookup is None and (pos_ids or neg_ids):
        exclude = models.HasIdCondition(has_id=pos_ids + neg_ids)
        flt = models.Filter(must=[flt] if flt is not None else None, must_not=[exclude])
    if strategy == "average_vector":
        query = average_query(pos, neg)
        return col.search(using, query.tolist(), flt, limit, offset, threshold, with_payload,
                          with_vectors, shard_key, search_params)
    if strategy not in ("best_score", "sum_scores"):
        raise BadInput(f"Unknown recommend strategy `{strategy}`")
    return col.recommend_exact(using, strategy, pos, neg, flt, limit, offset, threshold,
                               with_payload, with_vectors, shard_key)


def discover(col: Collection, lookup: Collection | None, lookup_vector: str | None,
             using: str, target: Any, context: list[tuple[Any, Any]],
             flt: models.Filter | None, limit: int, offset: int, with_payload: Any,
             with_vectors: Any, shard_key: Any = None) -> list[dict[str, Any]]:
    """Qdrant's discover: a target and/or context pairs, given as ids or vectors."""
    if target is None and not context:
        raise BadInput("At least one of `target` or `context` must be given")
    examples = ([target] if target is not None else []) + [e for pair in context for e in pair]
    ids, _vectors = _split_examples(examples)
    source = lookup or col
    stored = source.example_vectors(lookup_vector or using, ids)
    size = col.dense_params(using)["size"]

    def vector(example: Any) -> np.ndarray:
        value = example if isinstance(example, list) else stored[normalize_point_id(example)]
        vec = np.asarray(value, dtype=np.float32)
        if len(vec) != size:
            raise BadInput(f"Vector dimension error: expected dim: {size}, got {len(vec)}")
        return vec

    goal = None if target is None else vector(target)
    pairs = [(vector(p), vector(n)) for p, n in context]
    if lookup is None and ids:
        exclude = models.HasIdCondition(has_id=ids)
        flt = models.Filter(must=[flt] if flt is not None else None, must_not=[exclude])
    return col.score_exact_page(using, discovery_scorer(goal, pairs, col.dense_params(using)[
        "distance"]), flt, limit, offset, None, with_payload, with_vectors, shard_key)
