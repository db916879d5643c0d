"""Engine errors as gRPC statuses, and the wrapper every RPC runs through.

The status codes are the ones Qdrant's tonic services use for the same error
(`NotFound` → NOT_FOUND, bad input → INVALID_ARGUMENT, …, see
`VectorizerError.grpc_code`); the message is the one REST puts in
`status.error`, word for word.

`rpc` runs the blocking engine work of an RPC on a worker thread (as the REST
handlers do, here on a plain `ThreadPoolExecutor`: its hand-off costs about half
of anyio's, measured per RPC) so the event loop only (de)serializes; `short_rpc`
runs millisecond work on the loop's thread while one client connection is the only
one active (as REST's `run_short`). Both apply the request's deadline: the gRPC
deadline and the request's own `timeout` field, whichever is sooner. Work that has
not started when the deadline passes never starts; batches check it between items;
an RPC past its deadline answers DEADLINE_EXCEEDED (at once when on a worker thread,
when its current item ends when on the loop's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from vectorizer.api.inline_gate import InlineGate
from vectorizer.common.errors import Timeout, VectorizerError

log = logging.getLogger(__name__)

S = TypeVar("S")

#: Worker threads of the gRPC engine work (the GIL is released in numpy/faiss calls).
WORKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="grpc-worker")


class Deadline:
    """When an RPC must be finished by (monotonic seconds), or never."""

    def __init__(self, seconds: float | None, method: str) -> None:
        self.seconds = seconds
        self.method = method
        self.at = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def check(self) -> None:
        """Raise `Timeout` if the deadline has passed (called before and between steps)."""
        if self.at is not None and time.monotonic() >= self.at:
            raise self.error()

    def error(self) -> Timeout:
        return Timeout(f"Operation '{self.method}' timed out after {self.seconds:g} seconds")


def _timeout_of(request: Message, context: grpc.aio.ServicerContext) -> float | None:
    """The sooner of the gRPC deadline and a positive `timeout` field (seconds)."""
    limits: list[float] = []
    remaining = context.time_remaining()
    if remaining is not None:
        limits.append(max(float(remaining), 0.0))
    if _has_timeout_field(request):
        limits.append(float(request.timeout))
    return min(limits) if limits else None


def _has_timeout_field(request: Message) -> bool:
    """True if the request sets its own `timeout` (the server must answer by then, so its
    work goes to a worker thread; a client's deadline the client enforces itself)."""
    fields = request.DESCRIPTOR.fields_by_name
    return "timeout" in fields and request.HasField("timeout") and request.timeout > 0


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and message for an exception raised by engine work."""
    if isinstance(exc, VectorizerError):
        return getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL), str(exc)
    return grpc.StatusCode.INTERNAL, f"Service internal error: {exc}"


class Unimplemented(VectorizerError):
    """A request for something Vectorizer does not do yet (UNIMPLEMENTED, never a fake success)."""

    status_code = 501
    prefix = ""
    grpc_code = "UNIMPLEMENTED"


Work = Callable[[S, Any, Deadline], Message]
Handler = Callable[[S, Any, grpc.aio.ServicerContext], Awaitable[Message]]


def rpc(work: Work[S]) -> Handler[S]:
    """Make `work(self, request, deadline) -> response` a grpc.aio unary handler.

    The work runs on a worker thread; its errors become statuses; the response's
    `time` field (where it has one) gets the elapsed seconds, as Qdrant fills it.
    """
    return _handler(work, short=False)


def short_rpc(work: Work[S]) -> Handler[S]:
    """`rpc` for work that usually takes milliseconds (point reads, writes and searches):
    it runs on the event loop's own thread when the servicer's `inline_gate` (an
    `InlineGate`: its connection is the only active one and the method's last call was
    quick) allows it, saving the two thread hand-offs."""
    return _handler(work, short=True)


def _handler(work: Work[S], short: bool) -> Handler[S]:
    method = work.__name__.lstrip("_")

    @wraps(work)
    async def handler(self: S, request: Any, context: grpc.aio.ServicerContext) -> Message:
        started = time.perf_counter()
        deadline = Deadline(_timeout_of(request, context), method)
        gate: InlineGate | None = getattr(self, "inline_gate", None) if short else None
        try:
            if gate is not None and not _has_timeout_field(request) and \
                    gate.allows(context.peer(), method, 0):
                deadline.check()
                response = work(self, request, deadline)
                deadline.check()
            else:
                response = await _on_worker(partial(work, self, request, deadline), deadline)
        except VectorizerError as exc:
            code, message = status_of(exc)
            await context.abort(code, message)
        except Exception as exc:
            log.exception("error processing gRPC %s", method)
            code, message = status_of(exc)
            await context.abort(code, message)
        finally:
            if gate is not None:
                gate.took(method, time.perf_counter() - started)
        if "time" in response.DESCRIPTOR.fields_by_name:
            response.time = time.perf_counter() - started
        return response

    return handler


async def _on_worker(call: Callable[[], Message], deadline: Deadline) -> Message:
    """Run `call` on a worker thread, answering DEADLINE_EXCEEDED once `deadline` passes."""
    future = asyncio.get_running_loop().run_in_executor(WORKERS, call)
    if deadline.seconds is None:
        return await future
    try:
        return await asyncio.wait_for(future, deadline.seconds)
    except TimeoutError:
        raise deadline.error() from None


def unimplemented(message: str) -> Callable[..., Awaitable[Message]]:
    """A handler answering UNIMPLEMENTED with `message` (never a fake success)."""

    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Message:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        raise AssertionError("unreachable")  # abort raises

    return handler
