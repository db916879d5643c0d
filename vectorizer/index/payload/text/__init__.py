"""Full-text payload index (Qdrant `text` schema): tokenizers, stopwords, inverted index."""

from vectorizer.index.payload.text.index import Bm25Stats, TextIndex
from vectorizer.index.payload.text.tokenizer import Tokenizer

__all__ = ["Bm25Stats", "TextIndex", "Tokenizer"]
