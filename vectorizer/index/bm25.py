"""Qdrant's built-in `qdrant/bm25` model: text to sparse vectors, with no model download.

As Qdrant's server-side BM25: the text is tokenized with the full-text index's
tokenizer (`tokenizer`, default `word`; `lowercase` default true; `ascii_folding`;
`min_token_len` / `max_token_len`), with the stemmer and stopwords of `language`
(default `english`; `"none"` or an unknown language: neither) unless `stemmer` /
`stopwords` are given.  A token's dimension is |murmur3_32(token, seed 0) as i32|.

* Documents (upsert): each distinct token weighs its BM25 term frequency
  `tf * (k + 1) / (tf + k * (1 - b + b * doc_len / avg_len))` (`k` 1.2, `b` 0.75,
  `avg_len` 256 by default).
* Queries: each distinct token weighs 1.0.

The IDF half of BM25 comes from the sparse vector's `modifier: idf` at search time.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.common.errors import BadInput
from vectorizer.index.payload.text.stopwords import available_languages
from vectorizer.index.payload.text.tokenizer import Tokenizer, snowball_stemmer

MODEL_NAMES = ("qdrant/bm25",)  # compared case-insensitively (`Qdrant/bm25` too)
DEFAULT_LANGUAGE = "english"

_C1, _C2 = 0xCC9E2D51, 0x1B873593
_MASK = 0xFFFFFFFF


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of `data` (unsigned)."""
    h = seed & _MASK
    n = len(data)
    blocks = n // 4
    for i in range(blocks):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
        h = ((h << 13) | (h >> 19)) & _MASK
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = data[4 * blocks:]
    k = 0
    if len(tail) >= 3:
        k ^= tail[2] << 16
    if len(tail) >= 2:
        k ^= tail[1] << 8
    if tail:
        k ^= tail[0]
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


@functools.lru_cache(maxsize=1 << 18)
def token_id(token: str) -> int:
    """Qdrant's BM25 dimension of a token: |murmur3_32 as a signed 32-bit integer|."""
    h = murmur3_32(token.encode("utf-8"))
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return abs(signed)


def is_bm25(model: str) -> bool:
    return model.lower() in MODEL_NAMES


def _options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if hasattr(options, "model_dump"):
        return options.model_dump(mode="json", exclude_none=True)
    if not isinstance(options, dict):
        raise BadInput("Inference error: BM25 options must be an object")
    return dict(options)


def _language_stemmer(language: str) -> dict[str, Any] | None:
    try:
        snowball_stemmer(language)
    except ValueError:
        return None
    return {"type": "snowball", "language": language}


class Bm25:
    """One configured BM25 model (options of a `Document`)."""

    def __init__(self, options: Any = None) -> None:
        opts = _options(options)
        try:
            self.k = float(opts.get("k", 1.2))
            self.b = float(opts.get("b", 0.75))
            self.avg_len = float(opts.get("avg_len", 256.0))
        except (TypeError, ValueError):
            raise BadInput("Inference error: BM25 `k`, `b` and `avg_len` must be numbers") \
                from None
        language = str(opts.get("language") or DEFAULT_LANGUAGE).lower()
        stemmer = opts.get("stemmer")
        if stemmer is None:
            stemmer = _language_stemmer(language)
        stopwords = opts.get("stopwords")
        if stopwords is None and language in available_languages():
            stopwords = language
        params = {"tokenizer": opts.get("tokenizer") or "word",
                  "lowercase": opts.get("lowercase"),
                  "ascii_folding": opts.get("ascii_folding"),
                  "stopwords": stopwords, "stemmer": stemmer,
                  "min_token_len": opts.get("min_token_len"),
                  "max_token_len": opts.get("max_token_len")}
        try:
            self.tokenizer = Tokenizer(params)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"Inference error: invalid BM25 options: {exc}") from None

    def doc_embed(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted dimensions, BM25 term-frequency weights) of a document."""
        tokens = self.tokenizer.tokenize_query(text)
        if not tokens:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32)
        counts = Counter(tokens)
        norm = self.k * (1.0 - self.b + self.b * len(tokens) / self.avg_len)
        weights: dict[int, float] = {}
        for token, count in counts.items():
            # distinct tokens may share a hash: the last one wins, as in Qdrant's map
            weights[token_id(token)] = count * (self.k + 1.0) / (count + norm)
        dims = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        order = np.argsort(dims)
        values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        return dims[order].astype(np.uint32), values[order].astype(np.float32)

    def search_embed(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted dimensions, weights 1.0) of a query."""
        tokens = self.tokenizer.tokenize_query(text)
        dims = np.unique(np.fromiter((token_id(t) for t in tokens), dtype=np.int64))
        return dims.astype(np.uint32), np.ones(len(dims), dtype=np.float32)


def model_error(model: str) -> BadInput:
    """Qdrant's answer for an inference model this server cannot run."""
    return BadInput(f"Inference error: model `{model}` is not available: this server runs no "
                    "inference service, only the built-in `qdrant/bm25` model")


def document_model(doc: models.Document | dict[str, Any]) -> tuple[str, str, Any]:
    """(text, model, options) of a `Document` given as a model or as JSON."""
    if isinstance(doc, dict):
        text, model, options = doc.get("text"), doc.get("model"), doc.get("options")
    else:
        text, model, options = doc.text, doc.model, doc.options
    if not isinstance(text, str) or not isinstance(model, str):
        raise BadInput("Inference error: a Document needs `text` and `model` strings")
    return text, model, options


@functools.lru_cache(maxsize=64)
def _cached_model(options_key: str) -> Bm25:
    import orjson

    return Bm25(orjson.loads(options_key))


def bm25_for(options: Any) -> Bm25:
    """The BM25 model of these options (built once per distinct options)."""
    import orjson

    return _cached_model(orjson.dumps(_options(options), option=orjson.OPT_SORT_KEYS).decode())
