"""`qdrant.Snapshots`: collection and full-storage snapshots over gRPC.

Each RPC calls the same `SnapshotService` method as `api/rest/snapshots.py` (with
`wait=true` semantics: the response comes once the snapshot exists or is gone).
Downloads, uploads, recovery and shard snapshots are REST-only in Qdrant too.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import RestToGrpc
from qdrant_client.grpc import snapshots_service_pb2_grpc
from qdrant_client.http import models

from vectorizer.api.grpc import convert
from vectorizer.api.grpc.errors import Deadline, rpc
from vectorizer.storage.snapshots.service import SnapshotService


def _description(snapshot: dict[str, Any]) -> pb.SnapshotDescription:
    return RestToGrpc.convert_snapshot_description(
        convert.as_model(models.SnapshotDescription, snapshot))


class SnapshotsServicer(snapshots_service_pb2_grpc.SnapshotsServicer):
    """Every RPC of `qdrant.Snapshots`, on the REST handlers' snapshot service."""

    def __init__(self, service: SnapshotService) -> None:
        self.service = service

    @rpc
    def Create(self, request: pb.CreateSnapshotRequest,
               deadline: Deadline) -> pb.CreateSnapshotResponse:
        deadline.check()
        return pb.CreateSnapshotResponse(
            snapshot_description=_description(self.service.create(request.collection_name)))

    @rpc
    def List(self, request: pb.ListSnapshotsRequest,
             deadline: Deadline) -> pb.ListSnapshotsResponse:
        return pb.ListSnapshotsResponse(snapshot_descriptions=[
            _description(s) for s in self.service.list(request.collection_name)])

    @rpc
    def Delete(self, request: pb.DeleteSnapshotRequest,
               deadline: Deadline) -> pb.DeleteSnapshotResponse:
        deadline.check()
        self.service.delete(request.collection_name, request.snapshot_name)
        return pb.DeleteSnapshotResponse()

    @rpc
    def CreateFull(self, request: pb.CreateFullSnapshotRequest,
                   deadline: Deadline) -> pb.CreateSnapshotResponse:
        deadline.check()
        return pb.CreateSnapshotResponse(
            snapshot_description=_description(self.service.create_full()))

    @rpc
    def ListFull(self, request: pb.ListFullSnapshotsRequest,
                 deadline: Deadline) -> pb.ListSnapshotsResponse:
        return pb.ListSnapshotsResponse(snapshot_descriptions=[
            _description(s) for s in self.service.list_full()])

    @rpc
    def DeleteFull(self, request: pb.DeleteFullSnapshotRequest,
                   deadline: Deadline) -> pb.DeleteSnapshotResponse:
        deadline.check()
        self.service.delete_full(request.snapshot_name)
        return pb.DeleteSnapshotResponse()
