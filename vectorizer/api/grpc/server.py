"""The grpc.aio server: Qdrant's public services, the standard Health service and reflection.

It runs its own asyncio loop on a thread of the server process, beside the REST
server's loop: `GrpcServer.start()` returns once the port is bound (or raises),
`stop()` drains in-flight calls and returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from qdrant_client.grpc import (
    collections_service_pb2,
    collections_service_pb2_grpc,
    points_service_pb2,
    points_service_pb2_grpc,
    qdrant_pb2,
    qdrant_pb2_grpc,
    snapshots_service_pb2,
    snapshots_service_pb2_grpc,
)

from vectorizer.api.grpc.auth import ApiKeyInterceptor
from vectorizer.api.grpc.collections import CollectionsServicer
from vectorizer.api.grpc.points import PointsServicer
from vectorizer.api.grpc.reflection_pool import MethodAwarePool
from vectorizer.api.grpc.service import QdrantServicer
from vectorizer.api.grpc.snapshots import SnapshotsServicer
from vectorizer.settings import setting_at
from vectorizer.storage.snapshots.service import SnapshotService
from vectorizer.storage.toc import TableOfContents

log = logging.getLogger("vectorizer")

#: Fully qualified names of the services served (what reflection lists).
SERVICE_NAMES = (
    qdrant_pb2.DESCRIPTOR.services_by_name["Qdrant"].full_name,
    collections_service_pb2.DESCRIPTOR.services_by_name["Collections"].full_name,
    points_service_pb2.DESCRIPTOR.services_by_name["Points"].full_name,
    snapshots_service_pb2.DESCRIPTOR.services_by_name["Snapshots"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)


def build_server(toc: TableOfContents, settings: Any,
                 snapshots: SnapshotService | None = None) -> grpc.aio.Server:
    """A grpc.aio server with every service added (not bound, not started); `snapshots` is
    the snapshot service the REST API uses (one per process), made from `settings` if None."""
    interceptors = []
    api_keys = [setting_at(settings, "service.api_key", None),
                setting_at(settings, "service.alt_api_key", None)]
    read_only = [setting_at(settings, "service.read_only_api_key", None)]
    if any(api_keys) or any(read_only):
        interceptors.append(ApiKeyInterceptor(api_keys, read_only))
    server = grpc.aio.server(interceptors=interceptors, options=[
        ("grpc.max_receive_message_length", -1),  # Qdrant decodes messages of any size
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 0),
    ])
    qdrant_pb2_grpc.add_QdrantServicer_to_server(QdrantServicer(), server)
    collections_service_pb2_grpc.add_CollectionsServicer_to_server(
        CollectionsServicer(toc), server)
    points_service_pb2_grpc.add_PointsServicer_to_server(PointsServicer(toc), server)
    snapshots_service_pb2_grpc.add_SnapshotsServicer_to_server(SnapshotsServicer(
        snapshots or SnapshotService.from_settings(toc, settings)), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.health_servicer = health_servicer  # type: ignore[attr-defined]
    reflection.enable_server_reflection(SERVICE_NAMES, server, pool=MethodAwarePool())
    return server


class GrpcServer:
    """The gRPC API on `host:port`, served from its own thread and event loop."""

    def __init__(self, toc: TableOfContents, settings: Any, host: str, port: int,
                 snapshots: SnapshotService | None = None) -> None:
        self.toc = toc
        self.settings = settings
        self.snapshots = snapshots
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.thread = threading.Thread(target=self._run, name="grpc-server", daemon=True)
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.grace = 5.0

    def start(self, timeout: float = 30.0) -> None:
        """Serve in the background; return once listening, raise if the port can't be bound."""
        self.thread.start()
        if not self.ready.wait(timeout):
            raise RuntimeError(f"gRPC server did not start on {self.address}")
        if self.failure is not None:
            raise RuntimeError(f"Can't serve gRPC on {self.address}: {self.failure}")

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, let running ones finish within `grace` seconds."""
        self.grace = grace
        if self.loop is not None and self.stopping is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(grace + 5)

    def _run(self) -> None:
        try:
            try:  # uvloop, as uvicorn uses: a gRPC round trip costs ~30% less on it
                import uvloop
            except ImportError:
                asyncio.run(self._serve())
            else:
                uvloop.run(self._serve())
        except BaseException as exc:  # reported to start()
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        server = build_server(self.toc, self.settings, self.snapshots)
        server.add_insecure_port(self.address)
        await server.start()
        await server.health_servicer.set(  # type: ignore[attr-defined]
            "", health_pb2.HealthCheckResponse.SERVING)
        for name in SERVICE_NAMES[:4]:
            await server.health_servicer.set(  # type: ignore[attr-defined]
                name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC API listening on %s", self.address)
        self.ready.set()
        await self.stopping.wait()
        await server.health_servicer.enter_graceful_shutdown()  # type: ignore[attr-defined]
        await server.stop(self.grace)
