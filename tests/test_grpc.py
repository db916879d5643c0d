"""The gRPC API: service, health, reflection and `qdrant.Collections`, each RPC checked against
the same scenario over REST (same results, same errors)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from qdrant_client import QdrantClient, models
from qdrant_client import grpc as pb

from tests.grpc_helpers import clients, grpc_error, rest_error
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def both(server: ServerProcess) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    rest, over_grpc = clients(server)
    yield rest, over_grpc
    rest.close()
    over_grpc.close()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        yield ch


def _info(client: QdrantClient, name: str) -> dict[str, Any]:
    info = client.get_collection(name).model_dump()
    info.pop("created_at")
    return info


# ---------------------------------------------------------------- service, health, reflection


def test_health_check_matches_rest_root(both: tuple[QdrantClient, QdrantClient]) -> None:
    rest, over_grpc = both
    assert over_grpc.info() == rest.info()


def test_standard_health_service(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "qdrant.Qdrant", "qdrant.Collections", "qdrant.Points"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as err:
        stub.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_services(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [reply] = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in reply.list_services_response.service}
    assert {"qdrant.Qdrant", "qdrant.Collections", "qdrant.Points", "qdrant.Snapshots",
            "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    # what `grpcurl describe` and `ghz --call` ask: a service, a method, a message
    for name in ("qdrant.Points", "qdrant.Points.Search", "qdrant.SearchPoints"):
        symbol = reflection_pb2.ServerReflectionRequest(file_containing_symbol=name)
        [reply] = list(stub.ServerReflectionInfo(iter([symbol]), timeout=5))
        protos = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in
                  reply.file_descriptor_response.file_descriptor_proto]
        assert protos[0].name in {"points_service.proto", "points.proto"}, name
    missing = reflection_pb2.ServerReflectionRequest(file_containing_symbol="qdrant.Points.Nope")
    [reply] = list(stub.ServerReflectionInfo(iter([missing]), timeout=5))
    assert reply.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_snapshots_over_grpc_match_rest(server: ServerProcess,
                                        both: tuple[QdrantClient, QdrantClient],
                                        collection_name: str) -> None:
    rest, over_grpc = both
    name = collection_name + "_snap"
    rest.create_collection(name, vectors_config=models.VectorParams(
        size=4, distance=models.Distance.DOT))
    rest.upsert(name, [models.PointStruct(id=i, vector=[i, 1.0, 0.5, -1.0],
                                          payload={"i": i}) for i in range(20)], wait=True)

    made = over_grpc.create_snapshot(name)
    assert made is not None and made.size > 0 and made.checksum
    listed_grpc = over_grpc.list_snapshots(name)
    listed_rest = rest.list_snapshots(name)
    assert [(s.name, s.size, s.checksum) for s in listed_grpc] == \
        [(s.name, s.size, s.checksum) for s in listed_rest]
    assert made.name in {s.name for s in listed_rest}
    # a real archive: its bytes hash to the checksum both APIs report
    archive = httpx.get(f"{server.url}/collections/{name}/snapshots/{made.name}", timeout=60)
    assert archive.status_code == 200
    assert hashlib.sha256(archive.content).hexdigest() == made.checksum

    full = over_grpc.create_full_snapshot()
    assert full is not None and full.name in {s.name for s in rest.list_full_snapshots()}
    assert [s.name for s in over_grpc.list_full_snapshots()] == \
        [s.name for s in rest.list_full_snapshots()]

    assert over_grpc.delete_snapshot(name, made.name)
    assert made.name not in {s.name for s in rest.list_snapshots(name)}
    assert over_grpc.delete_full_snapshot(full.name)
    assert full.name not in {s.name for s in rest.list_full_snapshots()}

    # errors: the same messages as REST, with Qdrant's codes
    status, rest_message = rest_error(lambda: rest.delete_snapshot(name, made.name))
    code, message = grpc_error(lambda: over_grpc.delete_snapshot(name, made.name))
    assert (status, code) == (404, grpc.StatusCode.NOT_FOUND) and message == rest_message
    status, rest_message = rest_error(lambda: rest.list_snapshots(name + "_missing"))
    code, message = grpc_error(lambda: over_grpc.list_snapshots(name + "_missing"))
    assert (status, code) == (404, grpc.StatusCode.NOT_FOUND) and message == rest_message


# ---------------------------------------------------------------- collections


def test_create_get_list_exists_delete(both: tuple[QdrantClient, QdrantClient],
                                       collection_name: str) -> None:
    rest, over_grpc = both
    names = {"rest": collection_name + "_r", "grpc": collection_name + "_g"}
    for client, name in ((rest, names["rest"]), (over_grpc, names["grpc"])):
        assert client.create_collection(
            name,
            vectors_config={"text": models.VectorParams(size=8, distance=models.Distance.DOT,
                                                        on_disk=True),
                            "img": models.VectorParams(size=4,
                                                       distance=models.Distance.EUCLID)},
            hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64),
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5000),
            quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, always_ram=True)),
            on_disk_payload=False, shard_number=2)
    assert _info(over_grpc, names["grpc"]) == _info(rest, names["rest"])
    assert _info(over_grpc, names["rest"]) == _info(rest, names["rest"])
    for client in (rest, over_grpc):
        listed = {c.name for c in client.get_collections().collections}
        assert set(names.values()) <= listed
        assert client.collection_exists(names["grpc"])
        assert not client.collection_exists("nope_" + collection_name)
    assert over_grpc.delete_collection(names["grpc"])
    assert rest.delete_collection(names["rest"])
    assert not over_grpc.collection_exists(names["grpc"])
    assert not over_grpc.delete_collection(names["grpc"])  # as REST: false, not an error


def test_update_collection(both: tuple[QdrantClient, QdrantClient], collection_name: str) -> None:
    rest, over_grpc = both
    rest.create_collection(collection_name,
                           vectors_config=models.VectorParams(size=4,
                                                              distance=models.Distance.COSINE))
    assert over_grpc.update_collection(
        collection_name, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1234),
        hnsw_config=models.HnswConfigDiff(ef_construct=77))
    info = rest.get_collection(collection_name)
    assert info.config.optimizer_config.indexing_threshold == 1234
    assert info.config.hnsw_config.ef_construct == 77


def test_errors_match_rest(both: tuple[QdrantClient, QdrantClient], collection_name: str,
                           channel: grpc.Channel) -> None:
    rest, over_grpc = both
    status, message = rest_error(lambda: rest.get_collection("missing_" + collection_name))
    code, details = grpc_error(lambda: over_grpc.get_collection("missing_" + collection_name))
    assert (status, code) == (404, grpc.StatusCode.NOT_FOUND)
    assert details == message

    cfg = models.VectorParams(size=2, distance=models.Distance.DOT)
    rest.create_collection(collection_name, vectors_config=cfg)
    status, message = rest_error(lambda: rest.create_collection(collection_name,
                                                                vectors_config=cfg))
    code, details = grpc_error(lambda: over_grpc.create_collection(collection_name,
                                                                   vectors_config=cfg))
    assert (status, code) == (409, grpc.StatusCode.ALREADY_EXISTS)
    assert details == message

    stub = pb.CollectionsStub(channel)
    code, details = grpc_error(lambda: stub.Create(pb.CreateCollection(
        collection_name=collection_name + "_bad",
        vectors_config=pb.VectorsConfig(params=pb.VectorParams(size=0, distance=pb.Cosine)))))
    status, message = rest_error(lambda: rest.create_collection(
        collection_name + "_bad", vectors_config=models.VectorParams(
            size=0, distance=models.Distance.COSINE)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and status in (400, 422)
    assert not rest.collection_exists(collection_name + "_bad")


def test_aliases(both: tuple[QdrantClient, QdrantClient], collection_name: str) -> None:
    rest, over_grpc = both
    rest.create_collection(collection_name,
                           vectors_config=models.VectorParams(size=2,
                                                              distance=models.Distance.DOT))
    alias = collection_name + "_alias"
    assert over_grpc.update_collection_aliases([
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name=collection_name, alias_name=alias))])
    assert over_grpc.get_collection_aliases(collection_name) == \
        rest.get_collection_aliases(collection_name)
    assert alias in {a.alias_name for a in over_grpc.get_aliases().aliases}
    assert over_grpc.get_aliases() == rest.get_aliases()
    assert over_grpc.get_collection(alias).config == rest.get_collection(collection_name).config
    renamed = alias + "2"
    over_grpc.update_collection_aliases([models.RenameAliasOperation(
        rename_alias=models.RenameAlias(old_alias_name=alias, new_alias_name=renamed))])
    assert [a.alias_name for a in rest.get_collection_aliases(collection_name).aliases] == \
        [renamed]
    over_grpc.update_collection_aliases([models.DeleteAliasOperation(
        delete_alias=models.DeleteAlias(alias_name=renamed))])
    assert over_grpc.get_collection_aliases(collection_name).aliases == []


def test_cluster_info_and_shard_keys(both: tuple[QdrantClient, QdrantClient],
                                     collection_name: str) -> None:
    rest, over_grpc = both
    over_grpc.create_collection(
        collection_name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT),
        sharding_method=models.ShardingMethod.CUSTOM)
    assert over_grpc.create_shard_key(collection_name, "eu")
    assert over_grpc.create_shard_key(collection_name, 7, shards_number=2)
    assert over_grpc.list_shard_keys(collection_name) == rest.list_shard_keys(collection_name)
    assert {k.key for k in over_grpc.list_shard_keys(collection_name).shard_keys} == {"eu", 7}
    # protobuf can't tell an empty list from none: `resharding_operations` is [] over gRPC
    assert over_grpc.collection_cluster_info(collection_name).model_dump(
        exclude={"resharding_operations"}) == rest.collection_cluster_info(
        collection_name).model_dump(exclude={"resharding_operations"})
    assert over_grpc.delete_shard_key(collection_name, 7)
    assert {k.key for k in rest.list_shard_keys(collection_name).shard_keys} == {"eu"}
    # the same through UpdateCollectionClusterSetup
    assert over_grpc.cluster_collection_update(collection_name, models.CreateShardingKeyOperation(
        create_sharding_key=models.CreateShardingKey(shard_key="us")))
    assert over_grpc.cluster_collection_update(collection_name, models.DropShardingKeyOperation(
        drop_sharding_key=models.DropShardingKey(shard_key="eu")))
    assert {k.key for k in rest.list_shard_keys(collection_name).shard_keys} == {"us"}
    code, details = grpc_error(lambda: over_grpc.cluster_collection_update(
        collection_name, models.MoveShardOperation(move_shard=models.MoveShard(
            shard_id=0, from_peer_id=1, to_peer_id=2))))
    assert code == grpc.StatusCode.UNIMPLEMENTED and "distributed mode" in details


# ---------------------------------------------------------------- start-up


def test_grpc_port_null_disables_grpc(tmp_path: Any) -> None:
    proc = ServerProcess(tmp_path / "storage", env={"QDRANT__SERVICE__GRPC_PORT": "null"})
    proc.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{proc.grpc_port}") as ch, \
                pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(ch).result(timeout=1)
        assert httpx.get(proc.url + "/collections").json()["result"] == {"collections": []}
    finally:
        proc.stop()


def test_busy_grpc_port_refuses_to_start(tmp_path: Any) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = ServerProcess(tmp_path / "storage", env={
            "QDRANT__SERVICE__GRPC_PORT": str(busy.getsockname()[1])})
        with pytest.raises(RuntimeError, match=r"Can't serve gRPC on 127\.0\.0\.1"):
            proc.start(timeout=20)
