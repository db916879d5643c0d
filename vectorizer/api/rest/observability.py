"""`/telemetry` (JSON) and `/metrics` (Prometheus text) with Qdrant's shapes and metric names."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vectorizer import QDRANT_COMPAT_VERSION
from vectorizer.api.rest.envelope import endpoint, query_bool, query_int, run
from vectorizer.api.rest.telemetry import DURATION_BUCKETS, EndpointStats, RequestStats
from vectorizer.storage.toc import TableOfContents

APP_NAME = "vectorizer"
STARTED_AT = datetime.now(UTC)


def _duration_stats(stats: EndpointStats) -> dict[str, Any]:
    avg = stats.total_duration / stats.count if stats.count else 0.0
    return {
        "count": stats.count,
        "fail_count": stats.fail_count,
        "avg_duration_micros": avg * 1e6,
        "min_duration_micros": (stats.min_duration if stats.count else 0.0) * 1e6,
        "max_duration_micros": stats.max_duration * 1e6,
        "total_duration_micros": int(stats.total_duration * 1e6),
        "last_responded": datetime.fromtimestamp(stats.last_responded, UTC).isoformat()
        .replace("+00:00", "Z"),
    }


def _collections_summary(toc: TableOfContents) -> list[tuple[str, int, int]]:
    """(name, points, vectors) per collection."""
    out = []
    for name in toc.list_names():
        try:
            col = toc.get(name)
        except Exception:  # deleted while we iterate
            continue
        points = col.points_count()
        out.append((name, points, points * max(1, len(col.vector_specs()))))
    return out


def telemetry_data(toc: TableOfContents, stats: RequestStats, details_level: int) -> dict:
    collections = _collections_summary(toc)
    app: dict[str, Any] = {
        "name": APP_NAME,
        "version": QDRANT_COMPAT_VERSION,
        "startup": STARTED_AT.isoformat().replace("+00:00", "Z"),
    }
    if details_level >= 1:
        app["system"] = {"is_docker": os.path.exists("/.dockerenv"), "cores": os.cpu_count(),
                         "cpu_flags": ""}
    rest = {
        endpoint_name: {str(status): _duration_stats(s) for status, s in per_status.items()}
        for endpoint_name, per_status in stats.snapshot().items()
    }
    return {
        "id": str(toc.peer_id),
        "app": app,
        "collections": {
            "number_of_collections": len(collections),
            "collections": [{"id": name} for name, _p, _v in collections],
        },
        "cluster": {"enabled": False},
        "requests": {"rest": {"responses": rest}, "grpc": {"responses": {}}},
    }


@endpoint
async def telemetry(request: Request) -> Any:
    details = query_int(request, "details_level") or 0
    return await run(telemetry_data, request.app.state.toc, request.app.state.request_stats,
                     details)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(toc: TableOfContents, stats: RequestStats) -> str:
    """The Prometheus exposition text."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, Any]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lines.append(f"{name}{labels} {value}")

    collections = _collections_summary(toc)
    metric("app_info", "gauge", "information about qdrant server",
           [(f'{{name="{APP_NAME}",version="{QDRANT_COMPAT_VERSION}"}}', 1)])
    metric("app_status_recovery_mode", "gauge", "features enabled in qdrant server", [("", 0)])
    metric("cluster_enabled", "gauge", "is cluster support enabled", [("", 0)])
    metric("collections_total", "gauge", "number of collections", [("", len(collections))])
    metric("collections_vector_total", "gauge", "total number of vectors in all collections",
           [("", sum(v for _n, _p, v in collections))])
    metric("collection_points", "gauge", "approximate amount of points per collection",
           [(f'{{id="{_label(n)}"}}', p) for n, p, _v in collections])

    snapshot = stats.snapshot()
    total, fails, avg, mins, maxs = [], [], [], [], []
    hist: list[str] = []
    for ep, per_status in sorted(snapshot.items()):
        method, _, path = ep.partition(" ")
        base = f'method="{method}",endpoint="{_label(path)}"'
        for status, s in sorted(per_status.items()):
            labels = f"{{{base},status=\"{status}\"}}"
            total.append((labels, s.count))
            fails.append((labels, s.fail_count))
            avg.append((labels, s.total_duration / s.count if s.count else 0.0))
            mins.append((labels, s.min_duration if s.count else 0.0))
            maxs.append((labels, s.max_duration))
            for bound, cnt in zip(DURATION_BUCKETS, s.buckets, strict=True):
                hist.append(f'rest_responses_duration_seconds_bucket{{{base},status="{status}",'
                            f'le="{bound}"}} {cnt}')
            hist.append(f'rest_responses_duration_seconds_bucket{{{base},status="{status}",'
                        f'le="+Inf"}} {s.count}')
            hist.append(f"rest_responses_duration_seconds_sum{labels} {s.total_duration}")
            hist.append(f"rest_responses_duration_seconds_count{labels} {s.count}")
    metric("rest_responses_total", "counter", "total number of responses", total)
    metric("rest_responses_fail_total", "counter", "total number of failed responses", fails)
    metric("rest_responses_avg_duration_seconds", "gauge", "average response duration", avg)
    metric("rest_responses_min_duration_seconds", "gauge", "minimum response duration", mins)
    metric("rest_responses_max_duration_seconds", "gauge", "maximum response duration", maxs)
    lines.append("# HELP rest_responses_duration_seconds response duration histogram")
    lines.append("# TYPE rest_responses_duration_seconds histogram")
    lines.extend(hist)
    metric("process_start_time_seconds", "gauge", "start time of the process",
           [("", int(STARTED_AT.timestamp()))])
    metric("process_uptime_seconds", "gauge", "seconds since the process started",
           [("", round(time.time() - STARTED_AT.timestamp(), 3))])
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    query_bool(request, "anonymize", False)
    text = await run(render_metrics, request.app.state.toc, request.app.state.request_stats)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


ROUTES = [
    Route("/telemetry", telemetry, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
