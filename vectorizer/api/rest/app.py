"""The REST application: every route served at `/` and, identically, under `/qdrant/`."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from vectorizer.api.inline_gate import InlineGate
from vectorizer.api.rest import (
    collections,
    observability,
    points,
    query,
    reads,
    search,
    service,
    snapshots,
)
from vectorizer.api.rest.envelope import error_response
from vectorizer.api.rest.middleware import (
    ApiKeyAuth,
    BrowserCors,
    Compression,
    RequestBodyLimits,
    TrimTrailingSlash,
)
from vectorizer.api.rest.telemetry import RequestStats, TelemetryMiddleware
from vectorizer.storage.snapshots.service import SnapshotService
from vectorizer.storage.toc import TableOfContents


def api_routes() -> list[Route]:
    """All API routes, in match order: the searches first (routes are tried one by one on
    every request), static segments before `{point_id}`."""
    return [*query.ROUTES, *search.ROUTES, *service.ROUTES, *observability.ROUTES,
            *collections.ROUTES, *reads.ROUTES, *points.ROUTES, *snapshots.ROUTES]


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, f"Not found: {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(405, f"Method {request.method} not allowed for {request.url.path}")


def build_app(toc: TableOfContents, settings: Any = None, extra_routes: list | None = None,
              snapshots: SnapshotService | None = None) -> Starlette:
    """The ASGI app serving `toc` with Qdrant's middleware behaviour (`snapshots`: the
    process's snapshot service, shared with gRPC; made from `settings` if None)."""
    service_settings = getattr(settings, "service", None)
    max_mb = getattr(service_settings, "max_request_size_mb", 32) or 32
    enable_cors = getattr(service_settings, "enable_cors", True)
    routes = api_routes() + list(extra_routes or [])
    stats = RequestStats()
    middleware = [
        Middleware(TelemetryMiddleware, stats=stats, routes=routes),
        Middleware(TrimTrailingSlash),
        Middleware(Compression, minimum_size=1024),
        Middleware(RequestBodyLimits, max_bytes=int(max_mb * 1024 * 1024)),
    ]
    api_keys = [getattr(service_settings, "api_key", None),
                getattr(service_settings, "alt_api_key", None)]
    read_only_keys = [getattr(service_settings, "read_only_api_key", None)]
    if any(api_keys) or any(read_only_keys):
        middleware.insert(1, Middleware(ApiKeyAuth, api_keys=api_keys,
                                        read_only_keys=read_only_keys))
    if enable_cors:
        middleware.insert(1, Middleware(BrowserCors, allow_origins=["*"],
                                        allow_methods=["*"], allow_headers=["*"]))
    app = Starlette(
        routes=[*routes, Mount("/qdrant", routes=routes)],
        middleware=middleware,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.toc = toc
    app.state.settings = settings
    app.state.snapshots = snapshots or SnapshotService.from_settings(toc, settings)
    app.state.request_stats = stats
    app.state.inline_gate = InlineGate()  # where short engine calls run
    return app
