"""Shared fixtures: a real server process per test module and clients bound to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from tests.openapi_check import install_qdrant_client_hook
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("srv")
    proc = ServerProcess(base / "storage").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[QdrantClient]:
    qc = QdrantClient(url=server.url, prefer_grpc=False, timeout=60)
    install_qdrant_client_hook(qc)  # every response must validate against Qdrant's spec
    yield qc
    qc.close()


@pytest.fixture
def collection_name() -> str:
    return f"c_{uuid.uuid4().hex[:10]}"
