"""Request statistics for `/telemetry` and `/metrics`, collected by an ASGI middleware."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Qdrant's Prometheus histogram buckets for REST/gRPC response durations (seconds).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0, 10.0, 50.0)


@dataclass
class EndpointStats:
    """Counts and durations of one (method + route, status) pair."""

    count: int = 0
    fail_count: int = 0
    total_duration: float = 0.0
    min_duration: float = float("inf")
    max_duration: float = 0.0
    last_responded: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))

    def record(self, duration: float, failed: bool) -> None:
        self.count += 1
        self.fail_count += int(failed)
        self.total_duration += duration
        self.min_duration = min(self.min_duration, duration)
        self.max_duration = max(self.max_duration, duration)
        self.last_responded = time.time()
        for i, bound in enumerate(DURATION_BUCKETS):
            if duration <= bound:
                self.buckets[i] += 1


class RequestStats:
    """Thread-safe counters keyed by `"METHOD /route/template"` and status code."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_endpoint: dict[str, dict[int, EndpointStats]] = {}

    def record(self, endpoint: str, status: int, duration: float) -> None:
        with self.lock:
            per_status = self.by_endpoint.setdefault(endpoint, {})
            stats = per_status.setdefault(status, EndpointStats())
            stats.record(duration, status >= 400)

    def snapshot(self) -> dict[str, dict[int, EndpointStats]]:
        with self.lock:
            return {ep: dict(per) for ep, per in self.by_endpoint.items()}


class TelemetryMiddleware:
    """Times every HTTP request and records it under its route template."""

    def __init__(self, app: ASGIApp, stats: RequestStats, routes: list[Route]) -> None:
        self.app = app
        self.stats = stats
        self.routes = routes
        # Matching walks every route; requests repeat the same few paths, so cache it.
        self._template = functools.lru_cache(maxsize=4096)(self._find_template)

    def _find_template(self, method: str, path: str) -> str:
        if path.startswith("/qdrant/") or path == "/qdrant":
            path = path[len("/qdrant"):] or "/"
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
        return "unknown"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            endpoint = f"{scope['method']} {self._template(scope['method'], scope['path'])}"
            self.stats.record(endpoint, status, time.perf_counter() - started)
