"""Recovery from http(s) URLs served by a small HTTP server in the test, and the URL allow-list.

Without `storage.snapshots_config.recovery_url_allowlist` any URL is fetched, as Qdrant
does. With it, hosts must be listed, and loopback / link-local / private addresses are
reachable only through an IP or CIDR entry; redirects are not followed.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from qdrant_client import QdrantClient, models

from tests.server_process import ServerProcess
from tests.test_snapshots import download, fill_rich, state


class _Handler(http.server.SimpleHTTPRequestHandler):
    seen_api_keys: list[str | None] = []

    def do_GET(self) -> None:
        type(self).seen_api_keys.append(self.headers.get("api-key"))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1, and its base URL."""
    root = tmp_path_factory.mktemp("served")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _publish(server: ServerProcess, client: QdrantClient, name: str, root: Path) -> str:
    snap = client.create_snapshot(name)
    assert snap is not None
    download(server.url, f"/collections/{name}/snapshots/{snap.name}", root / snap.name)
    return snap.name


def test_recover_from_http_url(server: ServerProcess, client: QdrantClient,
                               collection_name: str, files: tuple[Path, str]) -> None:
    root, base = files
    fill_rich(client, collection_name, count=120)
    before = state(client, collection_name)
    name = _publish(server, client, collection_name, root)
    checksum = client.list_snapshots(collection_name)[0].checksum
    client.delete_collection(collection_name)
    _Handler.seen_api_keys.clear()
    assert client.recover_snapshot(collection_name, f"{base}/{name}", checksum=checksum,
                                   api_key="secret-key") is True
    assert _Handler.seen_api_keys == ["secret-key"]
    assert state(client, collection_name) == before
    temp = server.storage / "snapshots_temp"
    assert list(temp.iterdir()) == []  # the download is not kept


def test_http_errors_are_clear(server: ServerProcess, client: QdrantClient,
                               collection_name: str, files: tuple[Path, str]) -> None:
    root, base = files
    fill_rich(client, collection_name, count=10)
    name = _publish(server, client, collection_name, root)
    url = f"{server.url}/collections/{collection_name}/snapshots/recover"
    resp = httpx.put(url, json={"location": f"{base}/missing.snapshot"})
    assert resp.status_code == 400
    assert "HTTP status 404" in resp.json()["status"]["error"]
    resp = httpx.put(url, json={"location": f"{base}/{name}", "checksum": "1" * 64})
    assert resp.status_code == 400
    assert "Checksum mismatch" in resp.json()["status"]["error"]
    resp = httpx.put(url, json={"location": "http://127.0.0.1:1/x.snapshot"})
    assert resp.status_code == 400
    assert "Failed to download snapshot" in resp.json()["status"]["error"]
    assert client.count(collection_name).count == 7  # fill_rich deletes three


def _allowlisted(tmp_path: Path, entries: str) -> ServerProcess:
    return ServerProcess(tmp_path / "storage", env={
        "QDRANT__STORAGE__SNAPSHOTS_CONFIG__RECOVERY_URL_ALLOWLIST": entries}).start()


def test_allowlist_refuses_loopback_link_local_and_unlisted_hosts(
        tmp_path: Path, files: tuple[Path, str]) -> None:
    root, base = files
    port = base.rsplit(":", 1)[1]
    server = _allowlisted(tmp_path, '["snapshots.example.com", "localhost", "*.internal"]')
    try:
        client = QdrantClient(url=server.url, timeout=60)
        client.create_collection("c", vectors_config=models.VectorParams(size=4,
                                                                          distance="Dot"))
        name = _publish(server, client, "c", root)
        url = f"{server.url}/collections/c/snapshots/recover"
        for location, why in (
            (f"{base}/{name}", "not in storage.snapshots_config.recovery_url_allowlist"),
            (f"http://localhost:{port}/{name}", "loopback"),  # listed, but resolves to loopback
            (f"http://[::1]:{port}/{name}", "not in storage.snapshots_config"),
            ("http://169.254.169.254/latest/meta-data", "not in storage.snapshots_config"),
            ("http://0.0.0.0/x", "not in storage.snapshots_config"),
            (f"http://127.1:{port}/{name}", "not in storage.snapshots_config"),
            ("http://evil.com/x", "not in storage.snapshots_config"),
        ):
            resp = httpx.put(url, json={"location": location})
            assert resp.status_code == 403, (location, resp.text)
            assert why in resp.json()["status"]["error"], (location, resp.text)
        assert list((server.storage / "snapshots_temp").iterdir()) == []
    finally:
        server.stop()


def test_allowlist_admits_listed_networks_and_does_not_follow_redirects(
        tmp_path: Path, files: tuple[Path, str]) -> None:
    root, base = files
    server = _allowlisted(tmp_path, '["127.0.0.1/32"]')
    try:
        client = QdrantClient(url=server.url, timeout=60)
        fill_rich(client, "c", count=30)
        before = state(client, "c")
        name = _publish(server, client, "c", root)
        client.delete_collection("c")
        assert client.recover_snapshot("c", f"{base}/{name}") is True
        assert state(client, "c") == before
        resp = httpx.put(f"{server.url}/collections/c/snapshots/recover",
                         json={"location": f"{base}/redirect"})
        assert resp.status_code == 400
        assert "HTTP status 302" in resp.json()["status"]["error"]
    finally:
        server.stop()
