"""REST handlers for collection, full-storage and shard snapshots (Qdrant's snapshot API)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from vectorizer.api.rest.envelope import (
    JsonResponse,
    body_model,
    dumps,
    endpoint,
    json_body,
    query_bool,
    run,
)
from vectorizer.api.rest.snapshot_upload import receive_snapshot
from vectorizer.common.errors import FormatError
from vectorizer.storage.snapshots.fetch import check_checksum_param
from vectorizer.storage.snapshots.partial import EmptyPartialSnapshot
from vectorizer.storage.snapshots.service import SnapshotService
from vectorizer.storage.snapshots.store import timestamp

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


# Archives are sent as they are: `identity` keeps the gzip middleware off them.
_ARCHIVE_HEADERS = {"content-encoding": "identity"}


class _ArchiveFile(FileResponse):
    """A snapshot file streamed from disk in 1 MB reads."""

    chunk_size = 1 << 20


def _download(path: Any) -> Response:
    return _ArchiveFile(path, media_type="application/octet-stream", filename=path.name,
                        headers=_ARCHIVE_HEADERS)


def _stream(chunks: Any, filename: str | None = None) -> Response:
    headers = dict(_ARCHIVE_HEADERS)
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


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


async def _recover_upload(request: Request, recover: Callable[..., Any]) -> Any:
    """Stream the multipart `snapshot` to temp_path, then `recover(path, upload)`;
    with `wait=false` the recovery runs in the background and owns the file."""
    service = _service(request)
    wait = query_bool(request, "wait", True)
    with service.store.temp_file("upload") as target:
        upload = await receive_snapshot(request, target)
        if wait:
            return await run(recover, target, upload)
        keep = target.with_name(target.name + "-async")
        target.rename(keep)

    def background() -> None:
        try:
            recover(keep, upload)
        except Exception:
            log.exception("background recovery of an uploaded snapshot failed")
        finally:
            keep.unlink(missing_ok=True)

    threading.Thread(target=background, name="snapshot", daemon=True).start()
    return JsonResponse(dumps({"result": None, "status": "accepted", "time": 0.0}),
                        status_code=202)


@endpoint
async def upload_snapshot(request: Request) -> Any:
    service = _service(request)
    checksum = check_checksum_param(request.query_params.get("checksum"), "query parameters")
    _priority(request.query_params.get("priority"))
    name = _name(request)
    return await _recover_upload(request, lambda path, upload: service.recover_upload(
        name, path, upload.sha256, upload.filename, checksum))

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


# ------------------------------------------------------------------ shard snapshots


def _shard(request: Request) -> int:
    raw = request.path_params["shard_id"]
    try:
        value = int(raw)
    except ValueError:
        raise FormatError(f"Format error in path parameters: invalid shard id `{raw}`") \
            from None
    if value < 0 or value >= 2**32:
        raise FormatError(f"Format error in path parameters: invalid shard id `{raw}`")
    return value


@endpoint
async def create_shard_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).create_shard, _name(request),
                                _shard(request))


@endpoint
async def list_shard_snapshots(request: Request) -> Any:
    return await run(_service(request).list_shard, _name(request), _shard(request))


@endpoint
async def get_shard_snapshot(request: Request) -> Any:
    path = await run(_service(request).shard_path, _name(request), _shard(request),
                     _snapshot(request))
    return _download(path)


@endpoint
async def delete_shard_snapshot(request: Request) -> Any:
    return await _run_or_accept(request, _service(request).delete_shard, _name(request),
                                _shard(request), _snapshot(request))


@endpoint
async def stream_shard_snapshot(request: Request) -> Any:
    name, shard_id = _name(request), _shard(request)
    chunks = await run(_service(request).stream_shard, name, shard_id)
    filename = f"{name}-shard-{shard_id}-{timestamp()}.snapshot"
    return _stream(chunks, filename)


@endpoint
async def recover_shard_snapshot(request: Request) -> Any:
    body = await body_model(request, models.ShardSnapshotRecover)
    checksum = check_checksum_param(body.checksum)
    _priority(body.priority)
    return await _run_or_accept(request, _service(request).recover_shard, _name(request),
                                _shard(request), str(body.location), checksum, body.api_key)


@endpoint
async def upload_shard_snapshot(request: Request) -> Any:
    service = _service(request)
    checksum = check_checksum_param(request.query_params.get("checksum"), "query parameters")
    _priority(request.query_params.get("priority"))
    name, shard_id = _name(request), _shard(request)
    await run(service.check_shard, name, shard_id)  # 404 before reading the upload
    return await _recover_upload(request, lambda path, upload: service.recover_shard_upload(
        name, shard_id, path, upload.sha256, checksum))

# ------------------------------------------------------------------ partial shard snapshots


@endpoint
async def partial_manifest(request: Request) -> Any:
    return await run(_service(request).partial_manifest, _name(request), _shard(request))


@endpoint
async def create_partial_snapshot(request: Request) -> Any:
    manifest = await json_body(request)
    try:
        chunks = await run(_service(request).create_partial, _name(request), _shard(request),
                           manifest)
    except EmptyPartialSnapshot:
        return Response(status_code=304)
    return _stream(chunks)


@endpoint
async def recover_partial_snapshot(request: Request) -> Any:
    service = _service(request)
    checksum = check_checksum_param(request.query_params.get("checksum"), "query parameters")
    name, shard_id = _name(request), _shard(request)
    await run(service.check_shard, name, shard_id)
    return await _recover_upload(request, lambda path, upload: service.recover_partial_upload(
        name, shard_id, path, upload.sha256, checksum))


P = "/collections/{collection_name}/snapshots"
S = "/collections/{collection_name}/shards/{shard_id}/snapshots"
PARTIAL = "/collections/{collection_name}/shards/{shard_id}/snapshot/partial"
ROUTES = [
    Route(P, create_snapshot, methods=["POST"]),
    Route(P, list_snapshots, methods=["GET"]),
    Route(P + "/recover", recover_snapshot, methods=["PUT"]),
    Route(P + "/upload", upload_snapshot, methods=["POST"]),
    Route(P + "/{snapshot_name}", get_snapshot, methods=["GET"]),
    Route(P + "/{snapshot_name}", delete_snapshot, methods=["DELETE"]),
    Route(S, create_shard_snapshot, methods=["POST"]),
    Route(S, list_shard_snapshots, methods=["GET"]),
    Route(S + "/recover", recover_shard_snapshot, methods=["PUT"]),
    Route(S + "/upload", upload_shard_snapshot, methods=["POST"]),
    Route(S + "/{snapshot_name}", get_shard_snapshot, methods=["GET"]),
    Route(S + "/{snapshot_name}", delete_shard_snapshot, methods=["DELETE"]),
    Route("/collections/{collection_name}/shards/{shard_id}/snapshot", stream_shard_snapshot,
          methods=["GET"]),
    Route(PARTIAL + "/manifest", partial_manifest, methods=["GET"]),
    Route(PARTIAL + "/create", create_partial_snapshot, methods=["POST"]),
    Route(PARTIAL + "/recover", recover_partial_snapshot, methods=["POST"]),
    Route("/snapshots", create_full_snapshot, methods=["POST"]),
    Route("/snapshots", list_full_snapshots, methods=["GET"]),
    Route("/snapshots/{snapshot_name}", get_full_snapshot, methods=["GET"]),
    Route("/snapshots/{snapshot_name}", delete_full_snapshot, methods=["DELETE"]),
]

