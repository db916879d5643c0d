"""`service.api_key` / `read_only_api_key` on the gRPC port, mirroring tests/test_auth.py."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from qdrant_client import QdrantClient, models
from qdrant_client import grpc as pb

from tests.grpc_helpers import grpc_error
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("grpc_auth")
    proc = ServerProcess(base / "storage", env={
        "QDRANT__SERVICE__API_KEY": "secret-rw",
        "QDRANT__SERVICE__READ_ONLY_API_KEY": "secret-ro",
    })
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def channel(secured: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{secured.grpc_port}") as ch:
        yield ch


def _client(server: ServerProcess, key: str) -> QdrantClient:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Api key is used with an insecure connection"
        return QdrantClient(url=server.url, grpc_port=server.grpc_port, prefer_grpc=True,
                            api_key=key, https=False)


def test_health_open_everything_else_needs_key(channel: grpc.Channel) -> None:
    assert pb.QdrantStub(channel).HealthCheck(pb.HealthCheckRequest()).version
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    collections = pb.CollectionsStub(channel)
    code, details = grpc_error(lambda: collections.List(pb.ListCollectionsRequest()))
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED,
                               "Must provide an API key or an Authorization bearer token")
    code, details = grpc_error(lambda: collections.List(pb.ListCollectionsRequest(),
                                                        metadata=[("api-key", "wrong")]))
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "Invalid API key or JWT")
    assert collections.List(pb.ListCollectionsRequest(),
                            metadata=[("authorization", "Bearer secret-rw")]) is not None


def test_clients_with_keys(secured: ServerProcess) -> None:
    rw, ro = _client(secured, "secret-rw"), _client(secured, "secret-ro")
    rw.create_collection("c", vectors_config=models.VectorParams(size=2,
                                                                 distance=models.Distance.DOT))
    rw.upsert("c", [models.PointStruct(id=1, vector=[1, 2])])
    assert ro.count("c").count == 1
    assert [p.id for p in ro.scroll("c")[0]] == [1]
    assert [p.id for p in ro.query_points("c", query=[1, 1]).points] == [1]
    assert ro.collection_exists("c") and ro.get_collection("c").points_count == 1
    for write in (lambda: ro.upsert("c", [models.PointStruct(id=2, vector=[1, 2])]),
                  lambda: ro.delete_collection("c"),
                  lambda: ro.create_payload_index("c", "x", models.PayloadSchemaType.KEYWORD)):
        code, details = grpc_error(write)
        assert (code, details) == (grpc.StatusCode.PERMISSION_DENIED, "Write access denied")
    assert rw.count("c").count == 1  # the refused write changed nothing
