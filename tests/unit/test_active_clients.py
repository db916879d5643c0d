"""Where short engine calls run: on the loop only while one connection is active."""

from __future__ import annotations

import time

from vectorizer.api.active_clients import ActiveClients


def test_one_connection_is_sole_until_another_is_active() -> None:
    clients = ActiveClients(window=0.2)
    assert clients.sole(None) is False  # an unknown connection never runs on the loop
    assert clients.sole(("127.0.0.1", 5000)) is True
    assert clients.sole(("127.0.0.1", 5000)) is True
    assert clients.sole(("127.0.0.1", 5001)) is False  # a second client: worker threads
    assert clients.sole(("127.0.0.1", 5000)) is False
    time.sleep(0.3)  # the second went quiet for longer than the window
    assert clients.sole(("127.0.0.1", 5000)) is True
    assert list(clients.last_seen) == [("127.0.0.1", 5000)]
