"""Helpers of the gRPC tests: clients on both transports and REST ⟷ gRPC result comparison."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import UnexpectedResponse


def clients(server: Any) -> tuple[QdrantClient, QdrantClient]:
    """(REST client, gRPC client) on the same server."""
    rest = QdrantClient(url=server.url, prefer_grpc=False, timeout=60)
    over_grpc = QdrantClient(url=server.url, grpc_port=server.grpc_port, prefer_grpc=True,
                             timeout=60)
    return rest, over_grpc


def rest_post(server: Any, path: str, body: Any) -> Any:
    """POST `body` to a REST endpoint; the `result` of its envelope (asserting success)."""
    resp = httpx.post(server.url + path, json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["result"]


def rest_error(call: Any) -> tuple[int, str]:
    """(HTTP status, `status.error` message) of a REST client call that must fail."""
    with pytest.raises(UnexpectedResponse) as err:
        call()
    body = err.value.content.decode()
    import json

    return err.value.status_code, json.loads(body)["status"]["error"]


def grpc_error(call: Any) -> tuple[grpc.StatusCode, str]:
    """(status code, details) of a gRPC call that must fail."""
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details()


def points_key(points: Any) -> list[tuple[Any, ...]]:
    """Comparable (id, score, payload, vector) of REST/gRPC point models, floats rounded.

    No payload and an empty one compare equal: a protobuf map can't tell them apart.
    """
    out = []
    for p in points:
        score = getattr(p, "score", None)
        vector = getattr(p, "vector", None)
        out.append((p.id, None if score is None else round(score, 5), p.payload or None,
                    _round(vector)))
    return out


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if hasattr(value, "indices") and hasattr(value, "values"):
        return (list(value.indices), _round(list(value.values)))
    return value
