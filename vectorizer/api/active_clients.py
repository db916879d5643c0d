"""Which client connections are active, to decide where a short engine call runs.

A search or point update takes well under a millisecond of engine work, less than
handing it to a worker thread and back (two thread wake-ups and a cold cache: ~0.2-0.4 ms
per request on the 2-core test machine). When one connection is the only one that sent
requests lately, nobody else is waiting on the event loop, so its short calls run on the
loop's own thread; as soon as a second connection is active, every call goes to the
worker threads again so concurrent searches overlap (faiss and numpy release the GIL).
Both transports use it: REST keys connections by the client's address and port, gRPC
by the call's peer (one HTTP/2 connection per channel; several threads of one client
sharing a channel then run one after another, as the GIL mostly makes them anyway).
"""

from __future__ import annotations

import time
from collections.abc import Hashable


class ActiveClients:
    """The connections that made a request in the last `window` seconds.

    Used from one event loop's thread only (no lock)."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.last_seen: dict[Hashable, float] = {}

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
