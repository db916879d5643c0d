"""REST handlers for collection, full-storage and shard snapshots (Qdrant's snapshot API)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from vectorizer.api.rest.envelope import (
    JsonResponse,
    body_model,
    dumps,
    endpoint,
    query_bool,
    run,
)
from vectorizer.api.rest.snapshot_upload import receive_snapshot
from vectorizer.common.errors import FormatError
from vectorizer.storage.snapshots.fetch import check_checksum_param
from vectorizer.storage.snapshots.service import SnapshotService

log = logging.getLogger(__name__)
_PRIORITIES = {"snapshot", "replica", "no_sync"}


def _service(request: Request) -> SnapshotService:
    return request.app.state.snapshots


def _name(request: Request) -> str:
    return request.path_params["collection_name"]


def _snapshot(request: Request) -> str:
    return request.path_params["snapshot_name"]


async def _run_or_accept(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn`; with `wait=false`, start it in the background and answer 202 at once."""
    if query_bool(request, "wait", True):
        return await run(fn, *args)

    def background() -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("background snapshot operation %s failed", fn.__name__)

    threading.Thread(target=background, name="snapshot", daemon=True).start()
    body = {"result": None, "status": "accepted", "time": 0.0}
    return JsonResponse(dumps(body), status_code=202)


def _priority(value: Any) -> None:
    if value is not None and str(getattr(value, "value", value)) not in _PRIORITIES:
        raise FormatError(f"Format error in query parameters: unknown variant `{value}`, "
                          "expected one of `no_sync`, `snapshot`, `replica`")


def _download(path: Any) -> Response:
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


# ------------------------------------------------------------------ collection snapshots


@endpoint
async def create_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).create, _name(request))


@endpoint
async def list_snapshots(request: Request) -> Any:
    return await run(_service(request).list, _name(request))


@endpoint
async def get_snapshot(request: Request) -> Any:
    path = await run(_service(request).path, _name(request), _snapshot(request))
    return _download(path)


@endpoint
async def delete_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).delete, _name(request),
                                _snapshot(request))


@endpoint
async def recover_snapshot(request: Request) -> Any:
    body = await body_model(request, models.SnapshotRecover)
    checksum = check_checksum_param(body.checksum)
    _priority(body.priority)
    return await _run_or_accept(request, _service(request).recover, _name(request),
                                str(body.location), checksum, body.api_key)


@endpoint
async def upload_snapshot(request: Request) -> Any:
    service = _service(request)
    checksum = check_checksum_param(request.query_params.get("checksum"), "query parameters")
    _priority(request.query_params.get("priority"))
    wait = query_bool(request, "wait", True)
    name = _name(request)
    with service.store.temp_file("upload") as target:
        upload = await receive_snapshot(request, target)
        if not wait:
            keep = target.with_name(target.name + "-async")
            target.rename(keep)

            def background() -> None:
                try:
                    service.recover_upload(name, keep, upload.sha256, upload.filename, checksum)
                except Exception:
                    log.exception("background recovery of an uploaded snapshot failed")
                finally:
                    keep.unlink(missing_ok=True)

            threading.Thread(target=background, name="snapshot", daemon=True).start()
            return JsonResponse(dumps({"result": None, "status": "accepted", "time": 0.0}),
                                status_code=202)
        return await run(service.recover_upload, name, target, upload.sha256, upload.filename,
                         checksum)


# ------------------------------------------------------------------ full storage snapshots


@endpoint
async def create_full_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).create_full)


@endpoint
async def list_full_snapshots(request: Request) -> Any:
    return await run(_service(request).list_full)


@endpoint
async def get_full_snapshot(request: Request) -> Any:
    return _download(await run(_service(request).full_path, _snapshot(request)))


@endpoint
async def delete_full_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).delete_full, _snapshot(request))


P = "/collections/{collection_name}/snapshots"
ROUTES = [
    Route(P, create_snapshot, methods=["POST"]),
    Route(P, list_snapshots, methods=["GET"]),
    Route(P + "/recover", recover_snapshot, methods=["PUT"]),
    Route(P + "/upload", upload_snapshot, methods=["POST"]),
    Route(P + "/{snapshot_name}", get_snapshot, methods=["GET"]),
    Route(P + "/{snapshot_name}", delete_snapshot, methods=["DELETE"]),
    Route("/snapshots", create_full_snapshot, methods=["POST"]),
    Route("/snapshots", list_full_snapshots, methods=["GET"]),
    Route("/snapshots/{snapshot_name}", get_full_snapshot, methods=["GET"]),
    Route("/snapshots/{snapshot_name}", delete_full_snapshot, methods=["DELETE"]),
]

