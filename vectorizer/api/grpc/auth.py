"""`service.api_key` / `read_only_api_key` on the gRPC port, as Qdrant checks them.

The key comes in the `api-key` metadata (or `authorization: Bearer <key>`). The
health checks need no key; a read-only key may call only the read RPCs.
Messages are the ones REST sends.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

#: RPCs anyone may call (Qdrant leaves its health checks open).
OPEN_METHODS = frozenset({
    "/qdrant.Qdrant/HealthCheck",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
})

_READ_RPCS = {
    "qdrant.Collections": ("Get", "List", "ListCollectionAliases", "ListAliases",
                           "CollectionClusterInfo", "CollectionExists", "ListShardKeys"),
    "qdrant.Points": ("Get", "Search", "SearchBatch", "SearchGroups", "Scroll", "Recommend",
                      "RecommendBatch", "RecommendGroups", "Discover", "DiscoverBatch", "Count",
                      "Query", "QueryBatch", "QueryGroups", "Facet", "SearchMatrixPairs",
                      "SearchMatrixOffsets"),
    "qdrant.Snapshots": ("List", "ListFull"),
}
#: RPCs a read-only key may call (server reflection only describes the API).
READ_METHODS = frozenset(
    [f"/{service}/{name}" for service, names in _READ_RPCS.items() for name in names]
    + ["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
       "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"])

MISSING_KEY = "Must provide an API key or an Authorization bearer token"
INVALID_KEY = "Invalid API key or JWT"
WRITE_DENIED = "Write access denied"


def _denying(handler: grpc.RpcMethodHandler, code: grpc.StatusCode,
             message: str) -> grpc.RpcMethodHandler:
    """A handler of the same streaming kind as `handler` that only aborts."""

    async def deny(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(deny, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(deny, **kwargs)
    return grpc.unary_unary_rpc_method_handler(deny, **kwargs)


class ApiKeyInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a valid key; read-only keys reach only `READ_METHODS`."""

    def __init__(self, api_keys: list[str | None], read_only_keys: list[str | None]) -> None:
        self.api_keys = [k for k in api_keys if k]
        self.read_only_keys = [k for k in read_only_keys if k]

    def _decide(self, method: str, metadata: Any) -> tuple[grpc.StatusCode, str] | None:
        if method in OPEN_METHODS:
            return None
        values = {k.lower(): v for k, v in (metadata or ()) if isinstance(v, str)}
        key = values.get("api-key")
        auth = values.get("authorization", "")
        if key is None and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if key is None:
            return grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY
        if any(hmac.compare_digest(key, k) for k in self.api_keys):
            return None
        if any(hmac.compare_digest(key, k) for k in self.read_only_keys):
            return None if method in READ_METHODS else (grpc.StatusCode.PERMISSION_DENIED,
                                                        WRITE_DENIED)
        return grpc.StatusCode.UNAUTHENTICATED, INVALID_KEY

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        refusal = self._decide(details.method, details.invocation_metadata)
        if refusal is None or handler is None:
            return handler
        return _denying(handler, *refusal)
