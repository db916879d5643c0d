"""`qdrant.Collections`: collections, aliases, shard keys and the cluster view.

Each RPC makes the REST model of its request and calls the same table-of-contents
or collection function as `api/rest/collections.py`.
"""

from __future__ import annotations

from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc
from qdrant_client.grpc import collections_service_pb2_grpc
from qdrant_client.http import models

from vectorizer.api.grpc import convert
from vectorizer.api.grpc.errors import Deadline, Unimplemented, rpc
from vectorizer.storage.toc import TableOfContents

_CLUSTER_OPS_UNAVAILABLE = (
    "UpdateCollectionClusterSetup: `{op}` needs distributed mode, which is not available "
    "yet in Vectorizer; only create_shard_key and delete_shard_key are served")


class CollectionsServicer(collections_service_pb2_grpc.CollectionsServicer):
    """Every RPC of `qdrant.Collections`, on the same calls as the REST handlers."""

    def __init__(self, toc: TableOfContents) -> None:
        self.toc = toc

    @rpc
    def Get(self, request: pb.GetCollectionInfoRequest,
            deadline: Deadline) -> pb.GetCollectionInfoResponse:
        info = self.toc.get(request.collection_name).info()
        result = RestToGrpc.convert_collection_info(convert.as_model(models.CollectionInfo, info))
        return pb.GetCollectionInfoResponse(result=result)

    @rpc
    def List(self, request: pb.ListCollectionsRequest,
             deadline: Deadline) -> pb.ListCollectionsResponse:
        return pb.ListCollectionsResponse(collections=[
            pb.CollectionDescription(name=name) for name in self.toc.list_names()])

    @rpc
    def Create(self, request: pb.CreateCollection,
               deadline: Deadline) -> pb.CollectionOperationResponse:
        create = convert.create_collection(request)
        deadline.check()
        return pb.CollectionOperationResponse(
            result=self.toc.create_collection(request.collection_name, create))

    @rpc
    def Update(self, request: pb.UpdateCollection,
               deadline: Deadline) -> pb.CollectionOperationResponse:
        update = convert.update_collection(request)
        deadline.check()
        return pb.CollectionOperationResponse(
            result=self.toc.update_collection(request.collection_name, update))

    @rpc
    def Delete(self, request: pb.DeleteCollection,
               deadline: Deadline) -> pb.CollectionOperationResponse:
        deadline.check()
        return pb.CollectionOperationResponse(
            result=self.toc.delete_collection(request.collection_name))

    @rpc
    def UpdateAliases(self, request: pb.ChangeAliases,
                      deadline: Deadline) -> pb.CollectionOperationResponse:
        actions = [convert.guarded(GrpcToRest.convert_alias_operations, a)
                   for a in request.actions]
        deadline.check()
        return pb.CollectionOperationResponse(result=self.toc.update_aliases(actions))

    @staticmethod
    def _aliases(aliases: list[dict[str, str]]) -> pb.ListAliasesResponse:
        return pb.ListAliasesResponse(aliases=[
            pb.AliasDescription(alias_name=a["alias_name"], collection_name=a["collection_name"])
            for a in aliases])

    @rpc
    def ListCollectionAliases(self, request: pb.ListCollectionAliasesRequest,
                              deadline: Deadline) -> pb.ListAliasesResponse:
        return self._aliases(self.toc.list_aliases(request.collection_name))

    @rpc
    def ListAliases(self, request: pb.ListAliasesRequest,
                    deadline: Deadline) -> pb.ListAliasesResponse:
        return self._aliases(self.toc.list_aliases())

    @rpc
    def CollectionClusterInfo(self, request: pb.CollectionClusterInfoRequest,
                              deadline: Deadline) -> pb.CollectionClusterInfoResponse:
        info = self.toc.get(request.collection_name).cluster_info(self.toc.peer_id)
        return RestToGrpc.convert_collection_cluster_info(
            convert.as_model(models.CollectionClusterInfo, info))

    @rpc
    def CollectionExists(self, request: pb.CollectionExistsRequest,
                         deadline: Deadline) -> pb.CollectionExistsResponse:
        exists = self.toc.exists(request.collection_name)
        return pb.CollectionExistsResponse(result=pb.CollectionExists(exists=exists))

    def _create_shard_key(self, name: str, request: pb.CreateShardKey) -> bool:
        model = convert.guarded(GrpcToRest.convert_create_shard_key, request)
        return self.toc.get(name).create_shard_key(model.shard_key, model.shards_number)

    def _delete_shard_key(self, name: str, request: pb.DeleteShardKey) -> bool:
        model = convert.guarded(GrpcToRest.convert_delete_shard_key, request)
        return self.toc.get(name).delete_shard_key(model.shard_key)

    @rpc
    def UpdateCollectionClusterSetup(self, request: pb.UpdateCollectionClusterSetupRequest,
                                     deadline: Deadline,
                                     ) -> pb.UpdateCollectionClusterSetupResponse:
        op = request.WhichOneof("operation")
        if op == "create_shard_key":
            result = self._create_shard_key(request.collection_name, request.create_shard_key)
        elif op == "delete_shard_key":
            result = self._delete_shard_key(request.collection_name, request.delete_shard_key)
        elif op is None:
            raise convert.invalid("operation is not set")
        else:
            raise Unimplemented(_CLUSTER_OPS_UNAVAILABLE.format(op=op))
        return pb.UpdateCollectionClusterSetupResponse(result=result)

    @rpc
    def CreateShardKey(self, request: pb.CreateShardKeyRequest,
                       deadline: Deadline) -> pb.CreateShardKeyResponse:
        return pb.CreateShardKeyResponse(
            result=self._create_shard_key(request.collection_name, request.request))

    @rpc
    def DeleteShardKey(self, request: pb.DeleteShardKeyRequest,
                       deadline: Deadline) -> pb.DeleteShardKeyResponse:
        return pb.DeleteShardKeyResponse(
            result=self._delete_shard_key(request.collection_name, request.request))

    @rpc
    def ListShardKeys(self, request: pb.ListShardKeysRequest,
                      deadline: Deadline) -> pb.ListShardKeysResponse:
        keys = self.toc.get(request.collection_name).list_shard_keys()
        return pb.ListShardKeysResponse(shard_keys=[
            pb.ShardKeyDescription(key=RestToGrpc.convert_shard_key(k)) for k in keys])

