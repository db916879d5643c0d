"""ASGI middleware for what Qdrant's HTTP layer does around every handler.

Trailing slashes are trimmed, gzip request bodies are inflated (with the size
limit applied to the inflated body, so a zip bomb is refused early), and
oversized bodies are refused with Qdrant's error envelope.
"""

from __future__ import annotations

import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectorizer.api.rest.envelope import dumps


async def _send_error(send: Send, status: int, message: str) -> None:
    body = dumps({"result": None, "status": {"error": message}, "time": 0.0})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class TrimTrailingSlash:
    """`/collections/` routes like `/collections`, as actix's NormalizePath::trim does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                trimmed = path.rstrip("/") or "/"
                scope = dict(scope)
                scope["path"] = trimmed
                if scope.get("raw_path"):
                    scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


class RequestBodyLimits:
    """Inflate gzip/deflate bodies and refuse bodies above `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _limit_message(self, size: int | None = None) -> str:
        if size is not None:
            return (f"JSON payload ({size} bytes) is larger than allowed "
                    f"(limit: {self.max_bytes} bytes).")
        return f"JSON payload is larger than allowed (limit: {self.max_bytes} bytes)."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        encoding = headers.get(b"content-encoding", b"").decode().lower().strip()
        length = headers.get(b"content-length")
        is_upload = b"multipart/form-data" in headers.get(b"content-type", b"")
        if length is not None and not encoding and not is_upload:
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > self.max_bytes:
                await _send_error(send, 413, self._limit_message(size))
                return
        if is_upload:
            await self.app(scope, receive, send)
            return
        inflater: Any = None
        if encoding in {"gzip", "x-gzip"}:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj()
        elif encoding not in {"", "identity"}:
            await _send_error(send, 415, f"Unsupported content encoding: {encoding}")
            return
        if inflater is not None:
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"]
                                if k not in (b"content-encoding", b"content-length")]
        seen = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            if inflater is not None:
                out = inflater.decompress(body, limit - seen + 1)
                if inflater.unconsumed_tail:
                    raise _TooLarge()
                if not message.get("more_body", False):
                    out += inflater.flush()
                body = out
            seen += len(body)
            if seen > limit:
                raise _TooLarge()
            return {**message, "body": body}

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, self._limit_message())
        except zlib.error as exc:
            if not started:
                await _send_error(send, 400, f"Failed to decode request body: {exc}")
