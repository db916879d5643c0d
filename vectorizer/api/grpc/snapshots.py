"""`qdrant.Snapshots`: not served yet over gRPC; every RPC answers UNIMPLEMENTED.

Snapshots are being built in parallel (`vectorizer/storage/snapshots*`); this
servicer will call the same storage functions as `api/rest/snapshots.py` once
they are merged.
"""

from __future__ import annotations

from qdrant_client.grpc import snapshots_service_pb2_grpc

from vectorizer.api.grpc.errors import unimplemented

_MESSAGE = ("Snapshots are not available over gRPC yet in Vectorizer ({rpc}); "
            "use the REST snapshot endpoints")


class SnapshotsServicer(snapshots_service_pb2_grpc.SnapshotsServicer):
    """Every RPC of `qdrant.Snapshots`, each answering UNIMPLEMENTED with a clear message."""

    Create = unimplemented(_MESSAGE.format(rpc="Snapshots/Create"))
    List = unimplemented(_MESSAGE.format(rpc="Snapshots/List"))
    Delete = unimplemented(_MESSAGE.format(rpc="Snapshots/Delete"))
    CreateFull = unimplemented(_MESSAGE.format(rpc="Snapshots/CreateFull"))
    ListFull = unimplemented(_MESSAGE.format(rpc="Snapshots/ListFull"))
    DeleteFull = unimplemented(_MESSAGE.format(rpc="Snapshots/DeleteFull"))
