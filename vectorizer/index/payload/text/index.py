"""Full-text payload index: token -> roaring bitmap of entries, as Qdrant's text index.

Built on `EntryIndex`, so a plain index has one entry per point (entry id ==
segment offset) and a `nested` index one entry per element of the nested
array; every condition is answered per entry ("document").  The strings of an
entry are tokenized with `Tokenizer` (see `tokenizer.py`) and:

* `MatchText`: every query token must be in the entry's token set (the union
  over all its strings).  A query token the index has never seen, or a query
  without tokens, matches nothing.
* `MatchTextAny`: at least one query token; unseen tokens are ignored.
* `MatchPhrase`: the phrase, tokenized as a document, must appear as
  consecutive tokens inside one string of the entry (phrases never cross the
  boundary between two array values).  Needs `phrase_matching: true`; without
  it Qdrant answers "no match" (its inverted index has no positions), and so
  does this index.

When `scoring` is enabled (`true` or `{type: bm25}`) the index also keeps, per
entry, token frequencies and the document length (number of tokens, with
repetitions), and the collection-wide statistics BM25 needs; see
`bm25_stats`, `term_frequencies`, `doc_length` and `bm25_scores`.

Persistence stores the raw strings (via `EntryIndex`) and re-tokenizes on load.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyroaring import BitMap
from qdrant_client.http import models

from vectorizer.index.payload.entry_index import (
    EntryIndex,
    Ids,
    bitmap_to_array,
    decode_strings,
    encode_strings,
)
from vectorizer.index.payload.text.tokenizer import Tokenizer

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75


def scoring_enabled(scoring: Any) -> bool:
    """Whether a `TextIndexParams.scoring` value turns BM25 statistics on."""
    if scoring is None or scoring is False:
        return False
    if scoring is True:
        return True
    if isinstance(scoring, dict):
        return str(scoring.get("type", "bm25")) == "bm25"
    kind = getattr(scoring, "type", None)
    return str(getattr(kind, "value", kind)) == "bm25"


def _has_phrase(doc: list[str], phrase: list[str]) -> bool:
    """True if `phrase` occurs as consecutive tokens of `doc` (never for empty ones)."""
    n = len(phrase)
    if not doc or not n or n > len(doc):
        return False
    first = phrase[0]
    if n == 1:
        return first in doc
    last_start = len(doc) - n
    i = -1
    while True:
        try:
            i = doc.index(first, i + 1, last_start + 1)
        except ValueError:
            return False
        if doc[i:i + n] == phrase:
            return True


@dataclass
class Bm25Stats:
    """Collection-wide BM25 statistics of one text index (documents are entries)."""

    doc_count: int
    total_length: int
    doc_freq: dict[str, int] = field(default_factory=dict)

    @property
    def avg_length(self) -> float:
        return self.total_length / self.doc_count if self.doc_count else 0.0

    def idf(self, token: str) -> float:
        """BM25 inverse document frequency: ln(1 + (N - df + 0.5) / (df + 0.5))."""
        df = self.doc_freq.get(token, 0)
        return math.log(1.0 + (self.doc_count - df + 0.5) / (df + 0.5))


DOC_LEN_BITS = 13  # Qdrant keeps this many leading bits of a document length


def round_doc_len(lengths: np.ndarray) -> np.ndarray:
    """Document lengths as Qdrant stores them: exact below 8192 tokens, longer ones lose
    the bits past their leading 13."""
    lengths = np.asarray(lengths, dtype=np.int64)
    bits = np.zeros(len(lengths), dtype=np.int64)
    positive = lengths > 0
    bits[positive] = np.floor(np.log2(lengths[positive])).astype(np.int64) + 1
    step = np.left_shift(1, np.maximum(bits - DOC_LEN_BITS, 0))
    return lengths // step * step


@dataclass
class Bm25Arrays:
    """Columnar BM25 statistics of a scoring text index: per token its postings (entry
    ids and term frequencies, ranges of two arrays), and per entry its length."""

    vocab: dict[str, int]
    starts: np.ndarray  # posting range of token i: starts[i]:starts[i + 1]
    entries: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray  # rounded token count per entry id (0: no tokens)


class TextIndex(EntryIndex):
    """Inverted full-text index over the string values of one payload key."""

    kind = "text"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.tokenizer = Tokenizer(params)
        self.phrase_matching = bool(getattr(params, "phrase_matching", None) or False)
        self.scoring = scoring_enabled(getattr(params, "scoring", None))
        self._postings: dict[str, BitMap] = {}
        self._tokens_of: dict[int, tuple[str, ...]] = {}  # entry -> unique tokens
        self._docs_of: dict[int, list[list[str]]] = {}  # entry -> tokens per string (phrase)
        self._tf_of: dict[int, dict[str, int]] = {}  # entry -> token frequencies (scoring)
        self._len_of: dict[int, int] = {}  # entry -> number of tokens (scoring)
        self._total_len = 0
        self._changes = 0  # bumped by every insert/delete; keys `_bm25_view`
        self._bm25_view: tuple[int, Bm25Arrays] | None = None

    # ------------------------------------------------------------ EntryIndex hooks

    def _normalize(self, values: list[Any]) -> tuple[list[Any], bool]:
        return [v for v in values if isinstance(v, str)], False

    def _insert(self, eid: int, values: list[Any]) -> None:
        self._changes += 1
        docs = [self.tokenizer.tokenize_doc(v) for v in values]
        if len(docs) == 1:
            unique = tuple(dict.fromkeys(docs[0]))
        else:
            unique = tuple(dict.fromkeys(t for d in docs for t in d))
        self._tokens_of[eid] = unique
        postings = self._postings
        for tok in unique:
            bm = postings.get(tok)
            if bm is None:
                postings[tok] = bm = BitMap()
            bm.add(eid)
        if self.phrase_matching:
            self._docs_of[eid] = docs
        if self.scoring:
            tf = Counter(t for d in docs for t in d)
            length = sum(len(d) for d in docs)
            self._tf_of[eid] = dict(tf)
            self._len_of[eid] = length
            self._total_len += length

    def _delete(self, eid: int, values: list[Any]) -> None:
        self._changes += 1
        postings = self._postings
        for tok in self._tokens_of.pop(eid, ()):
            bm = postings.get(tok)
            if bm is not None:
                bm.discard(eid)
                if not bm:
                    del postings[tok]
        self._docs_of.pop(eid, None)
        self._tf_of.pop(eid, None)
        length = self._len_of.pop(eid, None)
        if length is not None:
            self._total_len -= length

    def _encode(self, flat: list[Any]) -> dict[str, np.ndarray]:
        return encode_strings(flat)

    def _decode(self, arrays: dict[str, np.ndarray], count: int) -> list[Any]:
        return decode_strings(arrays, count)

    # ------------------------------------------------------------ matching

    def tokenize_query(self, text: str) -> list[str]:
        """The tokens of a `text` / `text_any` query string (in order, with repetitions)."""
        return self.tokenizer.tokenize_query(text)

    def tokenize_phrase(self, text: str) -> list[str]:
        """The tokens of a `phrase` (tokenized as a document, like Qdrant)."""
        return self.tokenizer.tokenize_doc(text)

    def _all_tokens(self, tokens: Iterable[str]) -> BitMap:
        unique = list(dict.fromkeys(tokens))
        if not unique:
            return BitMap()  # empty query -> no matches
        bms = []
        for tok in unique:
            bm = self._postings.get(tok)
            if bm is None:
                return BitMap()  # unseen token -> no matches
            bms.append(bm)
        bms.sort(key=len)
        if len(bms) == 1:
            return bms[0].copy()
        return BitMap.intersection(*bms)

    def _any_token(self, tokens: Iterable[str]) -> BitMap:
        bms = [self._postings[t] for t in dict.fromkeys(tokens) if t in self._postings]
        if not bms:
            return BitMap()
        if len(bms) == 1:
            return bms[0].copy()
        return BitMap.union(*bms)

    def _phrase(self, phrase: list[str]) -> BitMap:
        if not self.phrase_matching or not phrase:
            return BitMap()
        candidates = self._all_tokens(phrase)
        if not candidates:
            return candidates
        out = BitMap()
        docs_of = self._docs_of
        for eid in candidates:
            docs = docs_of.get(eid)
            if docs and any(_has_phrase(doc, phrase) for doc in docs):
                out.add(eid)
        return out

    def _match(self, condition: models.FieldCondition) -> Ids | None:
        match = condition.match
        if match is None:
            return None
        if isinstance(match, models.MatchText):
            return self._all_tokens(self.tokenize_query(match.text))
        if isinstance(match, models.MatchTextAny):
            return self._any_token(self.tokenize_query(match.text_any))
        if isinstance(match, models.MatchPhrase):
            return self._phrase(self.tokenize_phrase(match.phrase))
        return None

    def match_text(self, text: str) -> BitMap:
        """Entry ids matching `MatchText(text)`."""
        return self._all_tokens(self.tokenize_query(text))

    # ------------------------------------------------------------ counts

    def values_count(self, offset: int) -> int:
        """Number of distinct tokens of `offset` (Qdrant counts the token set)."""
        if not self.nested:
            return len(self._tokens_of.get(offset, ()))
        return sum(len(self._tokens_of.get(e, ())) for e in self._entries_of.get(offset, ()))

    def tokens_of(self, offset: int) -> list[str]:
        """Distinct tokens of `offset` (over all its entries)."""
        if not self.nested:
            return list(self._tokens_of.get(offset, ()))
        out: dict[str, None] = {}
        for e in self._entries_of.get(offset, ()):
            out.update(dict.fromkeys(self._tokens_of.get(e, ())))
        return list(out)

    def vocabulary_size(self) -> int:
        return len(self._postings)

    def token_postings(self, token: str) -> np.ndarray:
        """Entry ids holding `token`."""
        bm = self._postings.get(token)
        return bitmap_to_array(bm) if bm is not None else np.empty(0, dtype=np.int64)

    # ------------------------------------------------------------ BM25

    def entries(self, offset: int) -> list[int]:
        """The entry ids ("documents") of `offset`: itself, or its elements if nested."""
        if not self.nested:
            return [offset] if offset in self._values_of else []
        return [e for e in self._entries_of.get(offset, ()) if e in self._values_of]

    def entry_offset(self, eid: int) -> int:
        """The point offset of entry `eid` (-1 if removed)."""
        if not self.nested:
            return eid
        return self._entry_offset[eid] if eid < len(self._entry_offset) else -1

    def entry_term_frequencies(self, eid: int) -> dict[str, int]:
        tf = self._tf_of.get(eid)
        if tf is not None:
            return dict(tf)
        values = self._values_of.get(eid)
        if not values:
            return {}
        return dict(Counter(t for v in values for t in self.tokenizer.tokenize_doc(v)))

    def entry_length(self, eid: int) -> int:
        length = self._len_of.get(eid)
        if length is not None:
            return length
        values = self._values_of.get(eid)
        return sum(len(self.tokenizer.tokenize_doc(v)) for v in values) if values else 0

    def term_frequencies(self, offset: int) -> dict[str, int]:
        """token -> count in the document of `offset` (summed over elements if nested)."""
        out: Counter[str] = Counter()
        for eid in self.entries(offset):
            out.update(self.entry_term_frequencies(eid))
        return dict(out)

    def doc_length(self, offset: int) -> int:
        """Number of tokens (with repetitions) of `offset` (summed over elements if nested)."""
        return sum(self.entry_length(e) for e in self.entries(offset))

    def bm25_arrays(self) -> Bm25Arrays:
        """The index's BM25 statistics as arrays, rebuilt after changes (one pass over
        the stored term frequencies; queries then run vectorised)."""
        view = self._bm25_view
        if view is not None and view[0] == self._changes:
            return view[1]
        vocab: dict[str, int] = {}
        terms: list[int] = []
        entries: list[int] = []
        tfs: list[int] = []
        size = max(self._tf_of, default=-1) + 1
        lengths = np.zeros(size, dtype=np.int64)
        for eid, tf in self._tf_of.items():
            lengths[eid] = self._len_of.get(eid, 0)
            for tok, count in tf.items():
                terms.append(vocab.setdefault(tok, len(vocab)))
                entries.append(eid)
                tfs.append(count)
        term_arr = np.asarray(terms, dtype=np.int64)
        order = np.argsort(term_arr, kind="stable")
        starts = np.searchsorted(term_arr[order], np.arange(len(vocab) + 1))
        arrays = Bm25Arrays(vocab, starts, np.asarray(entries, dtype=np.int64)[order],
                            np.asarray(tfs, dtype=np.float64)[order], round_doc_len(lengths))
        self._bm25_view = (self._changes, arrays)
        return arrays

    def bm25_stats(self, tokens: Iterable[str] | None = None) -> Bm25Stats:
        """Document count, total length and document frequencies (of `tokens`, or all)."""
        if self.scoring:
            doc_count, total = len(self._len_of), self._total_len
        else:
            doc_count = len(self._values_of)
            total = sum(self.entry_length(e) for e in self._values_of)
        keys = self._postings.keys() if tokens is None else tokens
        df = {t: len(self._postings[t]) for t in keys if t in self._postings}
        return Bm25Stats(doc_count=doc_count, total_length=total, doc_freq=df)

    def bm25_scores(
        self,
        query: str | list[str],
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
    ) -> dict[int, float]:
        """offset -> BM25 score of the documents holding a query token.

        Scores sum over the distinct query tokens; a nested index scores each
        element separately and keeps the best element of each point.
        """
        tokens = self.tokenize_query(query) if isinstance(query, str) else list(query)
        unique = [t for t in dict.fromkeys(tokens) if t in self._postings]
        if not unique:
            return {}
        stats = self.bm25_stats(unique)
        avg = stats.avg_length or 1.0
        idf = {t: stats.idf(t) for t in unique}
        scores: dict[int, float] = {}
        for tok in unique:
            w = idf[tok]
            for eid in self._postings[tok]:
                tf = self.entry_term_frequencies(eid).get(tok, 0) if not self.scoring \
                    else self._tf_of[eid].get(tok, 0)
                if not tf:
                    continue
                length = self.entry_length(eid)
                norm = k1 * (1.0 - b + b * length / avg)
                scores[eid] = scores.get(eid, 0.0) + w * tf * (k1 + 1.0) / (tf + norm)
        if not self.nested:
            return scores
        out: dict[int, float] = {}
        for eid, s in scores.items():
            off = self.entry_offset(eid)
            if off >= 0 and s > out.get(off, -math.inf):
                out[off] = s
        return out
