"""Qdrant's official Go, Rust and Java clients (gRPC only) against the real server.

`tests/clients/go/main.go`, `tests/clients/rust/src/main.rs` and
`tests/clients/java/src/main/java/Check.java` create a collection, upsert
points with numeric and uuid ids, index a field, query (plain, filtered, grouped), count,
get, scroll, facet, read the collection info, delete, snapshot and ask for a missing
collection, printing what they got as JSON (the Rust one also recommends). The answers
are checked against qdrant-client's local mode on the same data (same request, same
answer) and against the state the server reports over REST. Each test is skipped when
its toolchain (`go`, `cargo`, `mvn` and `java`) is not installed; the first run downloads
the client and its dependencies from the Go module proxy, crates.io and Maven Central.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess

GO_CLIENT = Path(__file__).parent / "clients" / "go"
RUST_CLIENT = Path(__file__).parent / "clients" / "rust"
JAVA_CLIENT = Path(__file__).parent / "clients" / "java"
UUID = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
POINTS = [
    (1, [0.05, 0.61, 0.76, 0.74], {"city": "Berlin", "n": 3}),
    (2, [0.19, 0.81, 0.75, 0.11], {"city": "London", "n": 1.5}),
    (UUID, [0.36, 0.55, 0.47, 0.94], {"city": "Moscow", "tags": ["a", "b"]}),
]
QUERY = [0.2, 0.1, 0.9, 0.7]


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed")
    binary = tmp_path_factory.mktemp("go") / "client"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    build = subprocess.run([go, "build", "-o", str(binary), "."], cwd=GO_CLIENT, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    return binary


def _oracle() -> QdrantClient:
    local = QdrantClient(":memory:")
    local.create_collection("o", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.COSINE))
    local.upsert("o", [models.PointStruct(id=pid, vector=vec, payload=payload)
                       for pid, vec, payload in POINTS])
    return local


@pytest.fixture(scope="module")
def rust_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("Rust (cargo) is not installed")
    target = tmp_path_factory.mktemp("rust")
    build = subprocess.run([cargo, "build", "--locked", "--quiet"], cwd=RUST_CLIENT,
                           env={**os.environ, "CARGO_TARGET_DIR": str(target)},
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr
    return target / "debug" / "vectorizer-rust-client-check"


@pytest.fixture(scope="module")
def java_client(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    mvn, java = shutil.which("mvn"), shutil.which("java")
    if mvn is None or java is None:
        pytest.skip("Java or Maven is not installed")
    out = tmp_path_factory.mktemp("java")
    build = subprocess.run([mvn, "-q", "-B", f"-Dbuild.dir={out}", "compile",
                            "dependency:build-classpath", f"-Dmdep.outputFile={out}/cp.txt"],
                           cwd=JAVA_CLIENT, capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout + build.stderr
    classpath = os.pathsep.join([str(out / "classes"), (out / "cp.txt").read_text().strip()])
    return [java, "-cp", classpath, "Check"]


def _run(command: Path | list[str], server: ServerProcess, name: str) -> dict:
    argv = [str(command)] if isinstance(command, Path) else list(command)
    run = subprocess.run([*argv, str(server.grpc_port), name],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _check(got: dict, client: QdrantClient, name: str) -> None:
    """What an official client got, against local mode and the server's REST view."""
    oracle = _oracle()
    expected = oracle.query_points("o", query=QUERY, with_payload=True).points
    assert [h["id"] for h in got["query"]] == [p.id for p in expected]
    assert [h["city"] for h in got["query"]] == [p.payload["city"] for p in expected]
    assert np.allclose([h["score"] for h in got["query"]], [p.score for p in expected],
                       atol=1e-6)
    london = models.Filter(must=[models.FieldCondition(
        key="city", match=models.MatchValue(value="London"))])
    assert got["filtered"] == [p.id for p in oracle.query_points(
        "o", query=QUERY, query_filter=london).points]
    assert got["exists"] is True
    assert got["count"] == got["scroll"] == got["points_count"] == 3
    assert got["groups"] == got["facet"] == 3
    stored = oracle.retrieve("o", [1], with_vectors=True)[0].vector
    assert np.allclose(got["vector_1"], stored, atol=1e-6)  # cosine vectors normalised
    assert got["count_after_delete"] == 2
    assert got["version"] == client.info().version
    # the state the client left, seen over REST
    assert sorted(str(p.id) for p in client.scroll(name)[0]) == ["1", UUID]
    assert client.get_collection(name).payload_schema["city"].data_type == \
        models.PayloadSchemaType.KEYWORD
    assert got["snapshot"] in {s.name for s in client.list_snapshots(name)}
    assert "doesn't exist" in got["missing_error"]


def test_go_client_over_grpc(server: ServerProcess, client: QdrantClient, go_client: Path,
                             collection_name: str) -> None:
    got = _run(go_client, server, collection_name)
    _check(got, client, collection_name)
    assert got["status"] == "Green"
    assert "NotFound" in got["missing_error"]


def test_rust_client_over_grpc(server: ServerProcess, client: QdrantClient,
                               rust_client: Path, collection_name: str) -> None:
    got = _run(rust_client, server, collection_name)
    _check(got, client, collection_name)
    expected = _oracle().query_points("o", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[1])), limit=3).points  # 1 itself excluded
    assert got["recommend"] == [p.id for p in expected]
    assert "not found" in got["missing_error"].lower()


def test_java_client_over_grpc(server: ServerProcess, client: QdrantClient,
                               java_client: list[str], collection_name: str) -> None:
    got = _run(java_client, server, collection_name)
    _check(got, client, collection_name)
    assert "NOT_FOUND" in got["missing_error"]
