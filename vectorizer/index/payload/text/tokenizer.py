"""Tokenization of Qdrant's full-text index (`TextIndexParams`).

Mirrors Qdrant's `tokenizers` module: a tokenizer splits the text into raw
tokens and a `TokensProcessor` normalises each one, in Qdrant's order:
ASCII folding -> lowercase -> stopwords -> stemming -> length limits
(lengths count characters).

Tokenizers:

* `word` (default): split on every character that is not alphanumeric in
  Rust's sense (Unicode `Alphabetic` or `Numeric`).
* `whitespace`: split on whitespace only.
* `prefix`: like `word`, and every word is indexed as all its prefixes of
  `min_token_len..=max_token_len` characters (plus the whole word when it is
  shorter than `max_token_len`).  Query words are not expanded: they are
  truncated to `max_token_len` and stopwords are not removed from them.
* `multilingual`: Unicode word segmentation.  Cased scripts are lowercased and
  Latin letters lose their diacritics (charabia's lossy normalisation); Han and
  Hiragana are split per character, Katakana and other unspaced runs are kept
  whole; tokens without any alphabetic character (pure numbers) are dropped,
  as charabia-based Qdrant does.
* `code`: like `word`, and identifiers are further split at case changes and
  letter/digit boundaries: `parseHTTPResponse2xx` -> `parse http response 2 xx`
  (snake_case and kebab-case are already split by the word rule).

Phrase matching tokenizes the phrase as a *document*; `text` / `text_any`
tokenize it as a *query* (only the prefix tokenizer treats them differently).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from vectorizer.index.payload.text.ascii_folding import fold_to_ascii
from vectorizer.index.payload.text.stopwords import StopwordsFilter

try:  # `regex` knows Unicode binary properties such as Alphabetic
    import regex as _re

    _WORD = _re.compile(r"[\p{Alphabetic}\p{N}]+")
    _CODE_PART = _re.compile(
        r"\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+|[^\p{Lu}\p{Ll}\p{N}]+"
    )
    _HAS_REGEX = True
except ImportError:  # pragma: no cover - fallback without the `regex` package
    _WORD = re.compile(r"[^\W_]+")
    _CODE_PART = re.compile(
        r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^A-Za-z\d]+"
    )
    _HAS_REGEX = False

# snowballstemmer algorithm names of Qdrant's (rust-stemmers) Snowball languages;
# rust-stemmers' Dutch is the original Snowball Dutch ("dutch_porter" in snowball 3)
_SNOWBALL_ALIASES = {"dutch": ("dutch_porter", "dutch")}

Stemmer = Callable[[str], str]


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


@functools.lru_cache(maxsize=64)
def snowball_stemmer(language: str) -> Stemmer:
    """A Snowball stemming function for `language` (a `SnowballLanguage` value)."""
    try:
        import snowballstemmer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise RuntimeError("stemming needs the `snowballstemmer` package") from exc
    available = set(snowballstemmer.algorithms())
    for name in _SNOWBALL_ALIASES.get(language, (language,)):
        if name in available:
            stemmer = snowballstemmer.stemmer(name)
            cache: dict[str, str] = {}

            def stem(word: str, _s: Any = stemmer, _c: dict[str, str] = cache) -> str:
                out = _c.get(word)
                if out is None:
                    out = _s.stemWord(word)
                    if len(_c) < 200_000:
                        _c[word] = out
                return out

            return stem
    raise ValueError(f"unsupported snowball language {language!r}")


def make_stemmer(params: Any) -> Stemmer | None:
    """The stemmer of a `StemmingAlgorithm` (None for no / disabled stemming)."""
    if params is None:
        return None
    if isinstance(params, dict):
        kind, language = params.get("type"), params.get("language")
    else:
        kind, language = getattr(params, "type", None), getattr(params, "language", None)
    if str(_enum_value(kind)) != "snowball" or language is None:
        return None
    return snowball_stemmer(str(_enum_value(language)).lower())


def is_alphanumeric_split(text: str) -> list[str]:
    """Maximal runs of alphanumeric characters (Rust `char::is_alphanumeric`)."""
    return _WORD.findall(text)


class TokensProcessor:
    """Per-token normalisation: fold, lowercase, stopwords, stem, length limits."""

    def __init__(
        self,
        lowercase: bool = True,
        ascii_folding: bool = False,
        stopwords: StopwordsFilter | None = None,
        stemmer: Stemmer | None = None,
        min_token_len: int | None = None,
        max_token_len: int | None = None,
    ) -> None:
        self.lowercase = lowercase
        self.ascii_folding = ascii_folding
        self.stopwords = stopwords if stopwords is not None else StopwordsFilter(None, lowercase)
        self.stemmer = stemmer
        self.min_token_len = min_token_len
        self.max_token_len = max_token_len

    def normalize(self, token: str) -> str:
        """Folding and lowercasing only."""
        if self.ascii_folding:
            token = fold_to_ascii(token)
        if self.lowercase:
            token = token.lower()
        return token

    def stem(self, token: str) -> str:
        return self.stemmer(token) if self.stemmer is not None else token

    def process(self, token: str, check_max_len: bool = True) -> str | None:
        """The indexed form of `token`, or None when it is dropped."""
        if not token:
            return None
        token = self.normalize(token)
        if self.stopwords and self.stopwords.is_stopword(token):
            return None
        token = self.stem(token)
        n = len(token)
        if self.min_token_len is not None and n < self.min_token_len:
            return None
        if check_max_len and self.max_token_len is not None and n > self.max_token_len:
            return None
        return token


# ---------------------------------------------------------------- multilingual

def _script_of(ch: str) -> str:
    """A coarse script class: 'han', 'hiragana', 'katakana', 'unspaced', or 'other'."""
    o = ord(ch)
    if (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F
            or 0xF900 <= o <= 0xFAFF or o in (0x3005, 0x3007)):
        return "han"
    if 0x3040 <= o <= 0x309F:
        return "hiragana"
    if 0x30A0 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
        return "katakana"
    if (0x0E00 <= o <= 0x0EFF or 0x1000 <= o <= 0x109F or 0x1780 <= o <= 0x17FF
            or 0xAC00 <= o <= 0xD7AF):
        return "unspaced"  # Thai, Lao, Myanmar, Khmer, Hangul syllables: kept as runs
    return "other"


def _segment_run(run: str) -> list[str]:
    """Split one alphanumeric run into multilingual segments."""
    if run.isascii():
        return [run]
    out: list[str] = []
    buf: list[str] = []
    buf_kind = ""
    for ch in run:
        kind = _script_of(ch)
        if kind in ("han", "hiragana"):
            if buf:
                out.append("".join(buf))
                buf = []
            out.append(ch)
            buf_kind = ""
            continue
        if buf and kind != buf_kind:
            out.append("".join(buf))
            buf = []
        buf.append(ch)
        buf_kind = kind
    if buf:
        out.append("".join(buf))
    return out


@functools.lru_cache(maxsize=65536)
def _strip_latin_marks(token: str) -> str:
    if token.isascii():
        return token
    out: list[str] = []
    for ch in token:
        if ch.isascii() or "LATIN" not in unicodedata.name(ch, ""):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if not unicodedata.combining(c))
        out.append(base or ch)
    return "".join(out)


def multilingual_segments(text: str) -> list[str]:
    """charabia-like lossy segments of `text` (lowercased, Latin diacritics removed)."""
    out: list[str] = []
    for run in is_alphanumeric_split(text):
        for seg in _segment_run(run):
            if not any(c.isalpha() for c in seg):
                continue  # charabia-based Qdrant drops tokens without letters
            out.append(_strip_latin_marks(seg.lower()))
    return out


# ---------------------------------------------------------------- code

def code_parts(word: str) -> list[str]:
    """Split an identifier at case changes and letter/digit boundaries."""
    return [p for p in _CODE_PART.findall(word) if p]


# ---------------------------------------------------------------- tokenizer

class Tokenizer:
    """Tokenizes documents and queries following a `TextIndexParams`."""

    def __init__(self, params: Any) -> None:
        get = params.get if isinstance(params, dict) else (
            lambda name, default=None: getattr(params, name, default))
        tok = _enum_value(get("tokenizer", None)) or "word"
        self.kind = str(tok)
        lowercase = get("lowercase", None)
        lowercase = True if lowercase is None else bool(lowercase)
        ascii_folding = bool(get("ascii_folding", None) or False)
        min_len = get("min_token_len", None)
        max_len = get("max_token_len", None)
        self.processor = TokensProcessor(
            lowercase=lowercase,
            ascii_folding=ascii_folding,
            stopwords=StopwordsFilter(get("stopwords", None), lowercase),
            stemmer=make_stemmer(get("stemmer", None)),
            min_token_len=int(min_len) if min_len is not None else None,
            max_token_len=int(max_len) if max_len is not None else None,
        )

    # raw splitting ------------------------------------------------------------

    def _raw(self, text: str) -> list[str]:
        kind = self.kind
        if kind == "whitespace":
            return text.split()
        if kind == "multilingual":
            return multilingual_segments(text)
        if kind == "code":
            return [p for w in is_alphanumeric_split(text) for p in code_parts(w)]
        return is_alphanumeric_split(text)  # word, prefix

    # public API ---------------------------------------------------------------

    def tokenize_doc(self, text: str) -> list[str]:
        """Tokens of a document (with repetitions, in order)."""
        proc = self.processor
        if self.kind == "prefix":
            return self._prefix_doc(text)
        out: list[str] = []
        for raw in self._raw(text):
            tok = proc.process(raw, True)
            if tok is not None:
                out.append(tok)
        return out

    def tokenize_query(self, text: str) -> list[str]:
        """Tokens of a `text` / `text_any` query (with repetitions, in order)."""
        if self.kind == "prefix":
            return self._prefix_query(text)
        return self.tokenize_doc(text)

    def tokenize(self, text: str, query: bool = False) -> list[str]:
        return self.tokenize_query(text) if query else self.tokenize_doc(text)

    # prefix -------------------------------------------------------------------

    def _prefix_doc(self, text: str) -> list[str]:
        proc = self.processor
        lo = proc.min_token_len if proc.min_token_len is not None else 1
        hi = proc.max_token_len
        out: list[str] = []
        for raw in is_alphanumeric_split(text):
            word = proc.process(raw, False)
            if word is None:
                continue
            n = len(word)
            top = n if hi is None else min(hi, n)
            for k in range(lo, top + 1):
                if k == n:
                    break
                out.append(word[:k])
            if hi is None or n <= hi:
                out.append(word)
        return out

    def _prefix_query(self, text: str) -> list[str]:
        proc = self.processor
        hi = proc.max_token_len
        out: list[str] = []
        for raw in is_alphanumeric_split(text):
            word = proc.stem(proc.normalize(raw))
            if proc.min_token_len is not None and len(word) < proc.min_token_len:
                continue
            if hi is not None and len(word) > hi:
                word = word[:hi]
            out.append(word)
        return out
