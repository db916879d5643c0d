"""ASGI middleware for what Qdrant's HTTP layer does around every handler.

Trailing slashes are trimmed, gzip request bodies are inflated (with the size
limit applied to the inflated body, so a zip bomb is refused early), and
oversized bodies are refused with Qdrant's error envelope.
"""

from __future__ import annotations

import hmac
import re
import zlib
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectorizer.api.rest.envelope import dumps


async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, message: str) -> None:
    """Qdrant's JSON error envelope."""
    body = dumps({"result": None, "status": {"error": message}, "time": 0.0})
    await _send(send, status, body, b"application/json")


async def _send_text(send: Send, status: int, text: str) -> None:
    """A plain-text answer (Qdrant's authentication errors are plain text)."""
    await _send(send, status, text.encode(), b"text/plain; charset=utf-8")


class TrimTrailingSlash:
    """`/collections/` routes like `/collections`, as actix's NormalizePath::trim does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path in {"/qdrant", "/qdrant/"}:
                scope = dict(scope)
                scope["path"] = "/qdrant/"  # the root of the mounted copy of the API
            elif len(path) > 1 and path.endswith("/"):
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
        if is_upload or (length is not None and encoding in {"", "identity"}):
            # Uploads stream to disk; a plain body with a length (checked above) cannot grow
            # past it: the HTTP parser delivers exactly that many bytes.
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


_READ_ONLY_POST = re.compile(
    r"^/collections/[^/]+/(points(/count|/scroll|/query(/batch|/groups)?|/search(/batch|/groups"
    r"|/matrix/pairs|/matrix/offsets)?|/recommend(/batch|/groups)?|/discover(/batch)?)?|facet)$"
)
_WHITELIST_EXACT = {"/", "/healthz"}
_WHITELIST_PREFIX = ("/readyz", "/livez")


class ApiKeyAuth:
    """Qdrant's `service.api_key` / `read_only_api_key` check on every request.

    The key comes in the `api-key` header or as `Authorization: Bearer <key>`.
    Probes and `GET /` need no key; a read-only key may only read.
    """

    def __init__(self, app: ASGIApp, api_keys: list[str], read_only_keys: list[str]) -> None:
        self.app = app
        self.api_keys = [k for k in api_keys if k]
        self.read_only_keys = [k for k in read_only_keys if k]

    @staticmethod
    def _is_read(method: str, path: str) -> bool:
        return method in {"GET", "HEAD", "OPTIONS"} or (
            method == "POST" and _READ_ONLY_POST.match(path) is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/qdrant" or path.startswith("/qdrant/"):
            path = path[len("/qdrant"):] or "/"
        if path in _WHITELIST_EXACT or path.startswith(_WHITELIST_PREFIX) or \
                scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        key = headers.get("api-key")
        auth = headers.get("authorization", "")
        if key is None and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if key is None:
            await _send_text(send, 401, "Must provide an API key or an Authorization bearer token")
            return
        if any(hmac.compare_digest(key, k) for k in self.api_keys):
            await self.app(scope, receive, send)
            return
        if any(hmac.compare_digest(key, k) for k in self.read_only_keys):
            if self._is_read(scope["method"], path):
                await self.app(scope, receive, send)
            else:
                await _send_text(send, 403, "Write access denied")
            return
        await _send_text(send, 401, "Invalid API key or JWT")


class Compression(GZipMiddleware):
    """Gzip responses for clients that accept it (actix's `Compress`, as Qdrant serves);
    requests without `gzip` in `Accept-Encoding` go straight to the app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding":
                    if b"gzip" in value:
                        await super().__call__(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


class BrowserCors(CORSMiddleware):
    """CORS for browsers (any origin, as Qdrant's default `enable_cors`); requests without
    an `Origin` header (every non-browser client) go straight to the app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _value in scope["headers"]:
                if name == b"origin":
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)
