"""Every REST endpoint, success and error, over raw HTTP, each response checked against the spec.

`checked_client` validates each JSON response against Qdrant's OpenAPI spec (1.19
plus the 1.20 additions of qdrant-client's models) and raises on any mismatch.
"""

from __future__ import annotations

import uuid

from tests.openapi_check import checked_client, default_checker


def test_every_endpoint_answers_in_spec_shape(server) -> None:
    checker = default_checker()
    before = checker.checked
    for prefix in ("", "/qdrant"):
        name = f"spec_{uuid.uuid4().hex[:8]}"
        http = checked_client(server.url + prefix)
        col = f"/collections/{name}"
        statuses = []

        def call(method: str, path: str, json=None, params=None, _http=http,
                 _statuses=statuses) -> dict:
            resp = _http.request(method, path, json=json, params=params)
            _statuses.append((method, path, resp.status_code))
            return resp.json() if resp.headers.get("content-type", "").startswith(
                "application/json") else {}

        call("GET", "/")
        call("GET", "/telemetry", params={"details_level": 2})
        call("GET", "/cluster")
        call("GET", "/issues")
        call("PUT", col, json={
            "vectors": {"dense": {"size": 4, "distance": "Cosine", "datatype": "float16"},
                        "multi": {"size": 2, "distance": "Dot",
                                  "multivector_config": {"comparator": "max_sim"}}},
            "sparse_vectors": {"sparse": {"modifier": "idf"}},
            "shard_number": 2, "on_disk_payload": False,
            "hnsw_config": {"m": 8}, "optimizers_config": {"indexing_threshold": 1000},
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99}},
            "metadata": {"team": "search"},
        })
        call("PUT", col, json={"vectors": {"size": 4, "distance": "Dot"}})  # 409
        call("GET", col)
        call("GET", col + "/exists")
        call("GET", "/collections")
        call("PATCH", col, json={"optimizers_config": {"indexing_threshold": 2000},
                                 "metadata": {"owner": "me"}})
        call("POST", "/collections/aliases", json={"actions": [
            {"create_alias": {"collection_name": name, "alias_name": name + "_a"}}]})
        call("GET", "/aliases")
        call("GET", col + "/aliases")
        call("GET", col + "/cluster")
        call("PUT", col + "/index", params={"wait": "true"},
             json={"field_name": "city", "field_schema": {"type": "keyword", "is_tenant": True}})
        call("PUT", col + "/index", params={"wait": "true"}, json={
            "field_name": "text", "field_schema": {"type": "text", "tokenizer": "word",
                                                   "phrase_matching": True}})
        call("PUT", col + "/points", params={"wait": "true"}, json={"points": [
            {"id": i, "vector": {"dense": [i, 1, 0, 1], "multi": [[1, 2], [3, i]],
                                 "sparse": {"indices": [i, 10], "values": [1.0, 0.5]}},
             "payload": {"city": ["a", "b"][i % 2], "text": f"hello world {i}", "n": i}}
            for i in range(10)]})
        call("PUT", col + "/points", json={"points": [{"id": 99, "vector": {"dense": [1]}}]})
        call("PUT", col + "/points", json={"points": "nope"})
        call("POST", col + "/points", json={"ids": [1, 2, 77], "with_vector": True})
        call("GET", col + "/points/1")
        call("GET", col + "/points/12345")
        call("POST", col + "/points/scroll", json={"limit": 3, "with_payload": ["city"],
                                                   "filter": {"must": [{"key": "n", "range":
                                                                        {"gte": 2}}]}})
        call("POST", col + "/points/count", json={"exact": False})
        call("POST", col + "/facet", json={"key": "city", "exact": True})
        call("POST", col + "/points/payload", params={"wait": "true"},
             json={"payload": {"x": 1}, "points": [1]})
        call("PUT", col + "/points/payload", json={"payload": {"y": 2}, "points": [2]})
        call("POST", col + "/points/payload/delete", json={"keys": ["y"], "points": [2]})
        call("POST", col + "/points/payload/clear", json={"points": [3]})
        call("PUT", col + "/points/vectors", json={"points": [{"id": 4, "vector": {
            "dense": [0, 0, 1, 0]}}]})
        call("POST", col + "/points/vectors/delete", json={"points": [5], "vector": ["multi"]})
        call("POST", col + "/points/batch", params={"wait": "true"}, json={"operations": [
            {"upsert": {"points": [{"id": 50, "vector": {"dense": [1, 1, 1, 1]}}]}},
            {"delete": {"points": [50]}}]})
        call("POST", col + "/points/delete", json={"filter": {"must": [
            {"key": "n", "match": {"value": 9}}]}})
        call("DELETE", col + "/index/text")
        call("GET", "/collections/missing_" + name)
        call("POST", col + "/points/scroll", json={"limit": "x"})
        call("DELETE", col)
        codes = {s for _m, _p, s in statuses}
        assert {200, 400, 404, 409} <= codes, statuses
    assert checker.checked - before >= 70  # every JSON answer above was validated
