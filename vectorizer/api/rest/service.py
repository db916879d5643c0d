"""REST handlers for the service itself: version, health probes, issues and cluster status."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vectorizer import QDRANT_COMPAT_VERSION
from vectorizer.api.rest.envelope import dumps, endpoint


async def root(request: Request) -> Response:
    body = {"title": "vectorizer - vector search engine", "version": QDRANT_COMPAT_VERSION,
            "commit": None}
    return Response(dumps(body), media_type="application/json")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("healthz check passed")


async def livez(request: Request) -> Response:
    return PlainTextResponse("livez check passed")


async def readyz(request: Request) -> Response:
    return PlainTextResponse("all shards are ready")


@endpoint
async def issues(request: Request) -> Any:
    return {"issues": []}


@endpoint
async def clear_issues(request: Request) -> Any:
    return True


@endpoint
async def cluster_status(request: Request) -> Any:
    return {"status": "disabled"}


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/livez", livez, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/issues", issues, methods=["GET"]),
    Route("/issues", clear_issues, methods=["DELETE"]),
    Route("/cluster", cluster_status, methods=["GET"]),
]
