"""Where short engine calls run: on the loop only while one connection is active and the
operation is known to be quick."""

from __future__ import annotations

import time

from vectorizer.api.inline_gate import InlineGate


def test_one_connection_is_sole_until_another_is_active() -> None:
    gate = InlineGate(window=0.2)
    assert gate.sole(None) is False  # an unknown connection never runs on the loop
    assert gate.sole(("127.0.0.1", 5000)) is True
    assert gate.sole(("127.0.0.1", 5000)) is True
    assert gate.sole(("127.0.0.1", 5001)) is False  # a second client: worker threads
    assert gate.sole(("127.0.0.1", 5000)) is False
    time.sleep(0.3)  # the second went quiet for longer than the window
    assert gate.sole(("127.0.0.1", 5000)) is True
    assert list(gate.last_seen) == [("127.0.0.1", 5000)]


def test_only_small_requests_of_quick_operations_run_on_the_loop() -> None:
    gate = InlineGate(max_seconds=0.02, max_bytes=1000)
    client = ("127.0.0.1", 5000)
    assert gate.allows(client, "search", 100) is False  # never seen: measured first
    gate.took("search", 0.001)
    assert gate.allows(client, "search", 100) is True
    assert gate.allows(client, "search", 5000) is False  # a large body: worker thread
    gate.took("upsert", 0.5)  # a slow operation keeps going to the worker threads
    assert gate.allows(client, "upsert", 100) is False
    gate.took("upsert", 0.002)  # until a call of it is quick again
    assert gate.allows(client, "upsert", 100) is True
    gate.took("search", 0.3)
    assert gate.allows(client, "search", 100) is False
