"""`qdrant.Qdrant`: the service-level HealthCheck (title, version, commit)."""

from __future__ import annotations

import grpc
from qdrant_client.grpc import qdrant_pb2, qdrant_pb2_grpc

from vectorizer import QDRANT_COMPAT_VERSION


class QdrantServicer(qdrant_pb2_grpc.QdrantServicer):
    """Answers HealthCheck as `GET /` does."""

    async def HealthCheck(self, request: qdrant_pb2.HealthCheckRequest,
                          context: grpc.aio.ServicerContext) -> qdrant_pb2.HealthCheckReply:
        return qdrant_pb2.HealthCheckReply(title="vectorizer - vector search engine",
                                           version=QDRANT_COMPAT_VERSION)
