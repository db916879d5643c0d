"""`service.api_key` and `service.read_only_api_key` as Qdrant enforces them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("auth")
    proc = ServerProcess(base / "storage", env={
        "QDRANT__SERVICE__API_KEY": "secret-rw",
        "QDRANT__SERVICE__READ_ONLY_API_KEY": "secret-ro",
    })
    proc.start()
    yield proc
    proc.stop()


def test_probes_open_everything_else_needs_key(secured: ServerProcess) -> None:
    assert httpx.get(secured.url + "/healthz").status_code == 200
    assert httpx.get(secured.url + "/").status_code == 200
    assert httpx.get(secured.url + "/collections").status_code == 401
    assert httpx.get(secured.url + "/collections",
                     headers={"api-key": "wrong"}).status_code == 401
    assert httpx.get(secured.url + "/collections",
                     headers={"Authorization": "Bearer secret-rw"}).status_code == 200


def test_clients_with_keys(secured: ServerProcess) -> None:
    rw = QdrantClient(url=secured.url, api_key="secret-rw", https=False)
    ro = QdrantClient(url=secured.url, api_key="secret-ro", https=False)
    rw.create_collection("c", vectors_config=models.VectorParams(size=2,
                                                                 distance=models.Distance.DOT))
    rw.upsert("c", [models.PointStruct(id=1, vector=[1, 2])])
    assert ro.count("c").count == 1
    assert [p.id for p in ro.scroll("c")[0]] == [1]
    with pytest.raises(UnexpectedResponse) as err:
        ro.upsert("c", [models.PointStruct(id=2, vector=[1, 2])])
    assert err.value.status_code == 403
    assert rw.count("c").count == 1  # the refused write changed nothing


@pytest.mark.parametrize("env,needle", [
    ({"QDRANT__SERVICE__ENABLE_TLS": "true"}, "TLS is not available yet"),
    ({"QDRANT__SERVICE__JWT_RBAC": "true"}, "JWT access control is not available yet"),
    ({"QDRANT__CLUSTER__ENABLED": "true"}, "Distributed mode"),
])
def test_unavailable_security_and_cluster_modes_refuse_to_start(
        tmp_path: Path, env: dict[str, str], needle: str) -> None:
    proc = ServerProcess(tmp_path / "storage", env=env)
    with pytest.raises(RuntimeError, match=needle):
        proc.start(timeout=20)
