"""Qdrant's JSON envelope, request parsing and the error mapping shared by every REST handler."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import Any, TypeVar

import orjson
import pydantic
from starlette.requests import Request
from starlette.responses import Response

from vectorizer.common.errors import FormatError, Timeout, VectorizerError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=pydantic.BaseModel)
Handler = Callable[[Request], Awaitable[Any]]


class JsonResponse(Response):
    """A response whose body is already-serialized JSON."""

    media_type = "application/json"


def _default(obj: Any) -> Any:
    if isinstance(obj, pydantic.BaseModel):
        return obj.model_dump(mode="json", exclude_none=True)
    if hasattr(obj, "value"):
        return obj.value
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default,
                        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def ok(result: Any, started: float, status: str = "ok") -> JsonResponse:
    body = {"result": result, "status": status, "time": time.perf_counter() - started}
    return JsonResponse(dumps(body))


def error_response(status_code: int, message: str, started: float | None = None) -> JsonResponse:
    elapsed = time.perf_counter() - started if started is not None else 0.0
    body = {"result": None, "status": {"error": message}, "time": elapsed}
    return JsonResponse(dumps(body), status_code=status_code)


def endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: time it, put its result in the envelope, map errors to Qdrant's."""

    @wraps(fn)
    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        try:
            result = await fn(request)
        except VectorizerError as exc:
            return error_response(exc.status_code, str(exc), started)
        except Exception as exc:
            log.exception("error processing %s %s", request.method, request.url.path)
            return error_response(500, f"Service internal error: {exc}", started)
        if isinstance(result, Response):
            return result
        return ok(result, started)

    return wrapper


async def run(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking engine work off the event loop, in the engine's thread pool (a plain
    executor hand-off costs about a third of anyio's worker-thread round trip)."""
    return await asyncio.get_running_loop().run_in_executor(_engine_pool(), fn, *args)


async def run_short(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """`run` for the calls that usually take milliseconds (point reads, writes and
    searches): on the event loop's own thread when `app.state.inline_gate` allows it (the
    request's connection is the only active one, its body is small, and the operation's
    last call was quick; see `vectorizer.api.inline_gate`). Longer work (snapshots,
    collection changes, index builds) always goes to the pool."""
    gate = getattr(request.app.state, "inline_gate", None)
    if gate is None:
        return await run(fn, *args)
    operation = getattr(fn, "__qualname__", None) or type(fn).__name__
    size = len(await request.body())
    started = time.perf_counter()
    try:
        if gate.allows(request.scope.get("client"), operation, size):
            return fn(*args)
        return await run(fn, *args)
    finally:
        gate.took(operation, time.perf_counter() - started)


async def run_within(request: Request, operation: str, fn: Callable[..., Any],
                     *args: Any) -> Any:
    """`run_short`, bounded by the request's `timeout` query parameter (seconds) when
    given: past it the request answers Qdrant's timeout error (408) at once; the engine
    call already running finishes in the background on its worker thread (numpy and faiss
    calls cannot be interrupted)."""
    seconds = query_int(request, "timeout")
    if not seconds or seconds <= 0:
        return await run_short(request, fn, *args)
    try:
        return await asyncio.wait_for(run(fn, *args), seconds)
    except TimeoutError:
        raise Timeout(f"Operation '{operation}' timed out after {seconds} seconds") from None


_POOL: list[ThreadPoolExecutor] = []


def _engine_pool() -> ThreadPoolExecutor:
    """The process's pool for blocking engine calls (anyio's default limit: 40 threads)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=40, thread_name_prefix="engine"))
    return _POOL[0]


async def json_body(request: Request, required: bool = True) -> Any:
    raw = await request.body()
    if not raw:
        if required:
            raise FormatError("Format error in JSON body: EOF while parsing a value at line 1 "
                              "column 0")
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"Format error in JSON body: {exc}") from None


def _describe(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, str) or
                       not p[:1].isupper())
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def parse_model(model: type[M], data: Any) -> M:
    """Validate wire data into a qdrant-client model; shape errors become Qdrant's 400."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise FormatError(f"Format error in JSON body: {_describe(exc)}") from None


async def body_model(request: Request, model: type[M]) -> M:
    return parse_model(model, await json_body(request))


def query_bool(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"true", "1", ""}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise FormatError(f"Format error in query parameters: {name}: provided string was not "
                      "`true` or `false`")


def query_int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise FormatError(f"Format error in query parameters: {name}: invalid digit found in "
                          "string") from None
