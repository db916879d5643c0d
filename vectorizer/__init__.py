"""Vectorizer: a vector database server that speaks Qdrant's REST and gRPC APIs."""

__version__ = "0.1.0"
# The Qdrant API version this server answers as (what clients check against).
QDRANT_COMPAT_VERSION = "1.20.0"
