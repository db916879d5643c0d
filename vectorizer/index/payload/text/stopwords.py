"""Stopword filtering for the full-text index, as Qdrant's `StopwordsFilter`.

`stopwords` in `TextIndexParams` is either one `Language` or a
`StopwordsSet{languages, custom}`; the lists are merged.  When the index
lowercases tokens, the stored words are lowercased too and the lookup is
case-insensitive, exactly like Qdrant.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from vectorizer.index.payload.text._stopword_data import STOPWORDS


def _lang_name(lang: Any) -> str:
    return str(getattr(lang, "value", lang)).lower()


@functools.lru_cache(maxsize=64)
def language_stopwords(language: str) -> frozenset[str]:
    """The stopword list of `language` (a Qdrant `Language` value); empty if unknown."""
    data = STOPWORDS.get(language.lower())
    if data is None:
        logging.getLogger(__name__).warning(
            "no stopword list shipped for language %r: no stopwords removed", language)
        return frozenset()
    return frozenset(data.split())


def available_languages() -> list[str]:
    """Languages whose stopword list ships with this package."""
    return sorted(STOPWORDS)


class StopwordsFilter:
    """Decides whether a (possibly lowercased) token is a stopword."""

    def __init__(self, option: Any, lowercase: bool) -> None:
        self.lowercase = lowercase
        words: set[str] = set()
        languages: list[Any] = []
        custom: list[str] = []
        if option is None:
            pass
        elif isinstance(option, str | bytes) or hasattr(option, "value"):
            languages.append(option)
        elif isinstance(option, dict):
            languages.extend(option.get("languages") or [])
            custom.extend(option.get("custom") or [])
        else:
            languages.extend(getattr(option, "languages", None) or [])
            custom.extend(getattr(option, "custom", None) or [])
        for lang in languages:
            for word in language_stopwords(_lang_name(lang)):
                words.add(word.lower() if lowercase else word)
        for word in custom:
            words.add(word.lower() if lowercase else word)
        self.words = frozenset(words)

    def __bool__(self) -> bool:
        return bool(self.words)

    def is_stopword(self, token: str) -> bool:
        if not self.words:
            return False
        if self.lowercase:
            return token.lower() in self.words
        return token in self.words
