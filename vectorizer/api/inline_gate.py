"""Whether a short engine call may run on the event loop's own thread.

A search or point update takes well under a millisecond of engine work, less than
handing it to a worker thread and back (two thread wake-ups and a cold cache: ~0.2-0.4 ms
per request on the 2-core test machine). When one connection is the only one that sent
requests lately, nobody else is waiting on the event loop, so its short calls run on the
loop's own thread; as soon as a second connection is active, every call goes to the
worker threads again so concurrent searches overlap (faiss and numpy release the GIL).

Work that turns out long must not hold the loop: a new connection (a health probe)
would wait behind it. So a call runs on the loop only when its request is small and the
last call of the same operation finished within `max_seconds`; an operation seen for the
first time, or last seen slow, runs on a worker thread, where its time is measured too.

Both transports use it: REST keys connections by the client's address and port, gRPC
by the call's peer (one HTTP/2 connection per channel; several threads of one client
sharing a channel then run one after another, as the GIL mostly makes them anyway).
"""

from __future__ import annotations

import time
from collections.abc import Hashable


class InlineGate:
    """Connections active in the last `window` seconds, and the last duration of each
    operation. Used from one event loop's thread only (no lock)."""

    def __init__(self, window: float = 1.0, max_seconds: float = 0.02,
                 max_bytes: int = 1 << 20) -> None:
        self.window = window
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.last_seen: dict[Hashable, float] = {}
        self.last_took: dict[Hashable, float] = {}

    def sole(self, connection: Hashable | None) -> bool:
        """Record a request on `connection`; True if no other connection made one within
        the window (None, an unknown connection, is never sole)."""
        if connection is None:
            return False
        now = time.monotonic()
        self.last_seen[connection] = now
        if len(self.last_seen) > 1:
            cutoff = now - self.window
            self.last_seen = {c: t for c, t in self.last_seen.items() if t >= cutoff}
        return len(self.last_seen) == 1

    def allows(self, connection: Hashable | None, operation: Hashable, size: int) -> bool:
        """Record a request; True if its `operation` may run on the loop's thread: its
        connection is the only active one, its body is at most `max_bytes` and the last
        call of `operation` took at most `max_seconds`."""
        sole = self.sole(connection)
        last = self.last_took.get(operation)
        return sole and size <= self.max_bytes and last is not None \
            and last <= self.max_seconds

    def took(self, operation: Hashable, seconds: float) -> None:
        """Record how long a call of `operation` took, wherever it ran."""
        self.last_took[operation] = seconds
