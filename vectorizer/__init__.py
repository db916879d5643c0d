"""Vectorizer: a vector database server that speaks Qdrant's REST and gRPC APIs."""

import os

# Per-request matrix products are small: BLAS threads cost more than they bring, and
# concurrent requests already use the cores.  Set before numpy loads; env still wins.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
# The Qdrant API version this server answers as (what clients check against).
QDRANT_COMPAT_VERSION = "1.20.0"
