"""Process entry: open storage, start the flush loop, serve REST and gRPC until a signal stops
us."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from vectorizer import QDRANT_COMPAT_VERSION, __version__
from vectorizer.api.grpc.server import GrpcServer
from vectorizer.api.rest.app import build_app
from vectorizer.common.cpu import configure_budget, lower_thread_priority
from vectorizer.settings import setting_at
from vectorizer.storage.snapshots.service import SnapshotService
from vectorizer.storage.toc import TableOfContents

log = logging.getLogger("vectorizer")


class FlushLoop(threading.Thread):
    """Flushes every collection's segments each `flush_interval_sec` (an optimizer setting)."""

    def __init__(self, toc: TableOfContents, interval: float) -> None:
        super().__init__(name="flush-loop", daemon=True)
        self.toc = toc
        self.interval = max(float(interval), 0.1)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.toc.flush_all()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


class OptimizerLoop(threading.Thread):
    """Seals full appendable segments and builds their HNSW graphs, off the request path,
    at a lower priority (nice 10) within the CPU budget (`vectorizer.common.cpu`)."""

    def __init__(self, toc: TableOfContents) -> None:
        super().__init__(name="optimizer", daemon=True)
        self.toc = toc
        self.stopped = threading.Event()

    def run(self) -> None:
        lower_thread_priority()  # as Qdrant's optimizers: requests get the CPU first
        while not self.stopped.is_set():
            if not self.toc.optimize_all():
                self.stopped.wait(0.5)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=60)


class _GracefulServer(uvicorn.Server):
    """uvicorn, but SIGINT/SIGTERM only stop serving: the caller then flushes storage.

    (uvicorn's own handling re-raises the signal after shutdown, which would kill
    the process before the final flush.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _QdrantLikeFormatter(logging.Formatter):
    """`2026-01-01T00:00:00.123456Z  INFO vectorizer: message`, as Qdrant prints its lines."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        micros = int((record.created % 1) * 1e6)
        line = f"{stamp}.{micros:06d}Z {record.levelname:>5} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (Qdrant's `log_level`, e.g. INFO or `warn`)."""
    name = str(level or "INFO").split(",")[0].strip().upper()
    name = {"WARN": "WARNING", "TRACE": "DEBUG"}.get(name, name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_QdrantLikeFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, name, logging.INFO))


class UnsupportedConfig(RuntimeError):
    """Raised when the configuration asks for a feature that is not built yet (cluster, TLS)."""


def return_freed_memory() -> None:
    """Make glibc give large freed blocks back to the system at once.

    glibc raises its mmap threshold each time a large block is freed, after which blocks
    of segment size (vectors, codes, graphs rebuilt by the optimizer) come from the heap
    and stay resident after they are freed: a merge left the process ~100 MB larger.
    A fixed threshold of 4 MB keeps them memory-mapped, returned to the system when freed,
    while per-request temporaries (score blocks, 512 KB gathers) still reuse heap memory.
    No-op where glibc is not the allocator.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 4 << 20)
        # and keep up to 64 MB free at the heap's top (a fixed threshold otherwise leaves
        # glibc's 128 KB trim threshold, and every request re-faults its temporaries)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def run(settings: Any, uri: str | None = None, bootstrap: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then flush everything and exit."""
    return_freed_memory()
    configure_logging(setting_at(settings, "log_level", "INFO"))
    storage_path = Path(setting_at(settings, "storage.storage_path", "./storage"))
    host = setting_at(settings, "service.host", "0.0.0.0")
    http_port = int(setting_at(settings, "service.http_port", 6333))
    grpc_port = setting_at(settings, "service.grpc_port", 6334)
    log.info("Vectorizer %s (Qdrant API %s)", __version__, QDRANT_COMPAT_VERSION)
    if uri or bootstrap or setting_at(settings, "cluster.enabled", False):
        raise UnsupportedConfig(
            "Distributed mode (--uri, --bootstrap, cluster.enabled) is not available yet; "
            "start without them to run a standalone node")
    service = getattr(settings, "service", None)
    if getattr(service, "enable_tls", False):
        raise UnsupportedConfig("service.enable_tls is set, but TLS is not available yet; "
                                  "terminate TLS in a proxy in front of Vectorizer")
    if getattr(service, "jwt_rbac", False):
        raise UnsupportedConfig("service.jwt_rbac is set, but JWT access control is not "
                                  "available yet; use service.api_key / read_only_api_key")
    started = time.perf_counter()
    toc = TableOfContents(storage_path, settings)
    log.info("Loaded %d collection(s) from %s in %.2fs", len(toc.collections),
             storage_path.resolve(), time.perf_counter() - started)
    flusher = FlushLoop(toc, setting_at(settings, "storage.optimizers.flush_interval_sec", 5))
    flusher.start()
    configure_budget(setting_at(settings, "storage.performance.optimizer_cpu_budget", 0))
    optimizer = OptimizerLoop(toc)
    optimizer.start()
    snapshots = SnapshotService.from_settings(toc, settings)
    app = build_app(toc, settings, snapshots=snapshots)
    grpc_server = None
    if grpc_port:
        grpc_server = GrpcServer(toc, settings, host, int(grpc_port), snapshots)
        try:
            grpc_server.start()
        except BaseException:
            optimizer.stop()
            flusher.stop()
            toc.close()
            raise
    log.info("REST API listening on http://%s:%d", host, http_port)
    config = uvicorn.Config(app, host=host, port=http_port, log_level="warning",
                            access_log=False, lifespan="off", loop="auto", http="auto",
                            timeout_graceful_shutdown=10)
    server = _GracefulServer(config)
    try:
        server.run()
    finally:
        if grpc_server is not None:
            grpc_server.stop()
        optimizer.stop()
        flusher.stop()
        toc.close()
        log.info("Storage flushed, bye")
