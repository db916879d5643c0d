"""Service endpoints: version, probes, telemetry, Prometheus metrics, issues, cluster, CORS."""

from __future__ import annotations

import httpx
from qdrant_client import QdrantClient, models


def test_root_and_probes(server) -> None:
    for prefix in ("", "/qdrant"):
        root = httpx.get(server.url + prefix + "/").json()
        assert root["version"] == "1.20.0" and "title" in root
        for probe in ("/healthz", "/livez", "/readyz"):
            resp = httpx.get(server.url + prefix + probe)
            assert resp.status_code == 200 and resp.text


def test_client_version_check_passes(server) -> None:
    # qdrant-client compares its version with GET / and warns on mismatch.
    client = QdrantClient(url=server.url, check_compatibility=True)
    assert client.get_collections().collections is not None
    client.close()


def test_cluster_and_issues(server) -> None:
    cluster = httpx.get(server.url + "/cluster").json()
    assert cluster["result"] == {"status": "disabled"}
    assert httpx.get(server.url + "/issues").json()["result"] == {"issues": []}
    assert httpx.delete(server.url + "/issues").json()["result"] is True


def test_telemetry_counts_requests_and_collections(server, client: QdrantClient,
                                                   collection_name: str) -> None:
    client.create_collection(collection_name, vectors_config=models.VectorParams(
        size=2, distance=models.Distance.DOT))
    for _ in range(3):
        client.get_collection(collection_name)
    data = httpx.get(server.url + "/telemetry").json()["result"]
    assert data["app"]["version"] == "1.20.0"
    names = [c["id"] for c in data["collections"]["collections"]]
    assert collection_name in names
    assert data["collections"]["number_of_collections"] == len(names)
    stats = data["requests"]["rest"]["responses"]["GET /collections/{collection_name}"]["200"]
    assert stats["count"] >= 3


def test_metrics_prometheus_text(server, client: QdrantClient, collection_name: str) -> None:
    client.create_collection(collection_name, vectors_config=models.VectorParams(
        size=2, distance=models.Distance.DOT))
    client.upsert(collection_name, [models.PointStruct(id=i, vector=[i, 1]) for i in range(5)])
    httpx.get(server.url + f"/collections/{collection_name}/points/77")  # a 404
    text = httpx.get(server.url + "/metrics").text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    total = int(samples["collections_total"])
    assert total == len(client.get_collections().collections)
    assert samples["collections_vector_total"] >= 5
    assert samples['app_info{name="vectorizer",version="1.20.0"}'] == 1
    put = ('rest_responses_total{method="PUT",endpoint="/collections/{collection_name}/points",'
           'status="200"}')
    assert samples[put] >= 1
    miss = ('rest_responses_total{method="GET",endpoint="/collections/{collection_name}/points/'
            '{point_id}",status="404"}')
    assert samples[miss] >= 1
    inf = [k for k in samples if k.startswith("rest_responses_duration_seconds_bucket")
           and 'le="+Inf"' in k and 'status="200"' in k and '"PUT"' in k]
    assert inf and samples[inf[0]] >= 1


def test_cors_preflight(server) -> None:
    resp = httpx.options(server.url + "/collections", headers={
        "Origin": "http://example.com", "Access-Control-Request-Method": "PUT"})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] in {"*", "http://example.com"}


def test_cors_headers_only_for_browsers(server) -> None:
    """A request with an `Origin` (a browser's) gets CORS headers; other clients' don't."""
    resp = httpx.get(server.url + "/collections", headers={"Origin": "http://example.com"})
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    plain = httpx.get(server.url + "/collections")
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers
    assert plain.json()["result"] == resp.json()["result"]


def test_unknown_route_is_404_envelope(server) -> None:
    resp = httpx.get(server.url + "/nope/nothing")
    assert resp.status_code == 404
    assert "error" in resp.json()["status"]


def test_responses_gzipped_only_when_accepted(server, client: QdrantClient,
                                              collection_name: str) -> None:
    client.create_collection(collection_name, vectors_config=models.VectorParams(
        size=4, distance=models.Distance.DOT))
    client.upsert(collection_name, [models.PointStruct(id=i, vector=[1.0, 0.0, 0.0, float(i)],
                                                       payload={"text": "word " * 20})
                                    for i in range(50)], wait=True)
    url = f"{server.url}/collections/{collection_name}/points/scroll"
    body = {"limit": 50, "with_payload": True}
    zipped = httpx.post(url, json=body, headers={"accept-encoding": "gzip"})
    plain = httpx.post(url, json=body, headers={"accept-encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in plain.headers
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"])
    assert zipped.json()["result"] == plain.json()["result"]  # httpx inflates it
    assert len(plain.json()["result"]["points"]) == 50
