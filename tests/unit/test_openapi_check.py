"""Unit tests for the OpenAPI response checker (tests/openapi_check.py) with hand-written bodies."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.openapi_check import (
    OpenApiChecker,
    _convert_schema,
    checked_client,
    install_qdrant_client_hook,
)


@pytest.fixture(scope="module")
def checker() -> OpenApiChecker:
    return OpenApiChecker(allow_paths=["/debug/*", "/custom-endpoint"])


def _collection_info() -> dict[str, Any]:
    return {
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": 0,
        "points_count": 3,
        "segments_count": 1,
        "created_at": "2025-01-02T03:04:05.123456Z",
        "config": {
            "params": {
                "vectors": {"size": 4, "distance": "Cosine"},
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": True,
            },
            "hnsw_config": {
                "m": 16,
                "ef_construct": 100,
                "full_scan_threshold": 10000,
                "max_indexing_threads": 0,
                "on_disk": False,
            },
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": 0,
                "max_segment_size": None,
                "memmap_threshold": None,
                "indexing_threshold": 10000,
                "flush_interval_sec": 5,
                "max_optimization_threads": None,
            },
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": None,
            "strict_mode_config": {"enabled": False},
        },
        "payload_schema": {
            "city": {
                "data_type": "keyword",
                "params": {"type": "keyword", "is_tenant": True, "nested": "offers"},
                "points": 3,
            },
            "body": {
                "data_type": "text",
                "params": {"type": "text", "tokenizer": "code"},
                "points": 3,
            },
        },
    }


def _envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "status": "ok", "time": 0.001}


def test_valid_collection_info_with_1_20_fields(checker: OpenApiChecker) -> None:
    checker.check("GET", "/collections/my_col", 200, _envelope(_collection_info()))


def test_wrong_type_fails_with_helpful_message(checker: OpenApiChecker) -> None:
    info = _collection_info()
    info["segments_count"] = "one"
    with pytest.raises(AssertionError) as excinfo:
        checker.check("GET", "/collections/my_col", 200, _envelope(info))
    message = str(excinfo.value)
    assert "GET /collections/my_col -> 200" in message
    assert "/collections/{collection_name}" in message
    assert "/result/segments_count" in message
    assert "'one' is not of type 'integer'" in message


def test_missing_required_field_fails(checker: OpenApiChecker) -> None:
    info = _collection_info()
    del info["config"]
    with pytest.raises(AssertionError, match="'config' is a required property"):
        checker.check("GET", "/collections/my_col", 200, _envelope(info))


def test_bad_enum_value_fails(checker: OpenApiChecker) -> None:
    info = _collection_info()
    info["status"] = "purple"
    with pytest.raises(AssertionError, match="/result/status"):
        checker.check("GET", "/collections/my_col", 200, _envelope(info))


def test_overlay_enum_and_properties_are_checked(checker: OpenApiChecker) -> None:
    info = _collection_info()
    info["payload_schema"]["body"]["params"]["tokenizer"] = "klingon"
    with pytest.raises(AssertionError, match=r"/result/payload_schema/body"):
        checker.check("GET", "/collections/my_col", 200, _envelope(info))
    info = _collection_info()
    info["created_at"] = 12
    with pytest.raises(AssertionError, match="/result/created_at"):
        checker.check("GET", "/collections/my_col", 200, _envelope(info))


def test_nullable_fields(checker: OpenApiChecker) -> None:
    info = _collection_info()
    info["points_count"] = None
    info["created_at"] = None
    checker.check("GET", "/collections/my_col", 200, _envelope(info))


def test_error_envelope_for_404(checker: OpenApiChecker) -> None:
    body = {"status": {"error": "Not found: Collection `x` doesn't exist!"}, "time": 0.1,
            "result": None}
    checker.check("GET", "/collections/x", 404, body)
    checker.check("POST", "/collections/x/points/scroll", 404, body)
    checker.check("GET", "/collections/x", 500, body)  # -> "default"
    bad = copy.deepcopy(body)
    bad["status"] = {"error": 42}
    with pytest.raises(AssertionError, match="/status/error"):
        checker.check("GET", "/collections/x", 404, bad)


def test_qdrant_prefix_query_string_and_trailing_slash(checker: OpenApiChecker) -> None:
    body = _envelope({"collections": [{"name": "a"}, {"name": "b"}]})
    checker.check("GET", "/qdrant/collections", 200, body)
    checker.check("GET", "/collections/", 200, body)
    checker.check("GET", "/qdrant/collections/?foo=bar", 200, body)
    assert checker.normalize_path("/qdrant") == "/"
    assert checker.normalize_path("/qdrantx/collections") == "/qdrantx/collections"


def test_literal_segment_wins_over_parameter(checker: OpenApiChecker) -> None:
    body = _envelope({
        "points": [{"id": 1, "payload": {"a": 1}, "vector": [0.1, 0.2]},
                   {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "payload": None}],
        "next_page_offset": None,
    })
    checker.check("POST", "/collections/c/points/scroll", 200, body)
    bad = copy.deepcopy(body)
    bad["result"]["points"][1]["id"] = "not-a-uuid"
    with pytest.raises(AssertionError, match="/result/points/1/id"):
        checker.check("POST", "/collections/c/points/scroll", 200, bad)


def test_legacy_path_falls_back_to_1_18(checker: OpenApiChecker) -> None:
    body = _envelope([{"id": 7, "version": 1, "score": 0.5, "payload": {"k": "v"}}])
    checker.check("POST", "/collections/c/points/search", 200, body)
    with pytest.raises(AssertionError, match="/result/0/score"):
        checker.check("POST", "/collections/c/points/search", 200,
                      _envelope([{"id": 7, "version": 1, "score": "high"}]))


def test_unknown_path_and_method(checker: OpenApiChecker) -> None:
    with pytest.raises(AssertionError, match="undocumented path"):
        checker.check("GET", "/no/such/thing", 200, {})
    with pytest.raises(AssertionError, match="undocumented method"):
        checker.check("PATCH", "/collections", 200, {})
    # allow-listed paths are not validated
    checker.check("GET", "/debug/whatever", 200, {"anything": True})
    checker.check("GET", "/custom-endpoint/", 200, None)


def test_non_json_operations_are_skipped(checker: OpenApiChecker) -> None:
    checker.check("GET", "/healthz", 200, "healthz check passed")
    checker.check("GET", "/metrics", 200, "# HELP ...")


def test_convert_nullable() -> None:
    assert _convert_schema({"type": "integer", "nullable": True}) == {
        "type": ["integer", "null"]
    }
    assert _convert_schema({"anyOf": [{"$ref": "#/x"}, {"nullable": True}]}) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}]
    }
    converted = _convert_schema({"$ref": "#/$defs/Foo", "nullable": True})
    assert converted == {"anyOf": [{"$ref": "#/components/schemas/Foo"}, {"type": "null"}]}
    assert _convert_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }


def _mock_transport() -> httpx.MockTransport:
    good = _envelope({"collections": []})
    bad = _envelope({"collections": [{"name": 5}]})

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/metrics"):
            return httpx.Response(200, text="# HELP x\n", headers={"content-type": "text/plain"})
        if path.endswith("/bad"):
            return httpx.Response(200, json=bad)
        if path.endswith("/collections"):
            return httpx.Response(200, json=good)
        return httpx.Response(404, json={"status": {"error": "nope"}, "time": 0.0,
                                         "result": None})

    return httpx.MockTransport(handler)


def test_checked_client_hook(checker: OpenApiChecker) -> None:
    with checked_client("http://test/qdrant", checker=checker,
                        transport=_mock_transport()) as http:
        assert http.get("/collections").json()["status"] == "ok"
        assert http.get("/metrics").status_code == 200
        assert http.get("/collections/missing").status_code == 404
    c2 = OpenApiChecker(allow_paths=[])
    with checked_client("http://test", checker=c2, transport=_mock_transport()) as http, \
            pytest.raises(AssertionError, match="undocumented path"):
        http.get("/bad")


def test_install_qdrant_client_hook() -> None:
    from qdrant_client import QdrantClient

    calls: list[str] = []
    good = _envelope({"collections": [{"name": "a"}]})
    bad = _envelope({"collections": [{"name": None}]})
    state = {"body": good}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, content=json.dumps(state["body"]).encode(),
                              headers={"content-type": "application/json"})

    client = QdrantClient(url="http://test:6333", prefer_grpc=False, check_compatibility=False)
    try:
        # swap the transport of the generated ApiClient's httpx client for the mock
        api_client = client._client.openapi_client.client  # type: ignore[union-attr]
        api_client._client = httpx.Client(transport=httpx.MockTransport(handler))
        install_qdrant_client_hook(client, checker=OpenApiChecker())
        assert [c.name for c in client.get_collections().collections] == ["a"]
        state["body"] = bad
        with pytest.raises(AssertionError, match="/result/collections/0/name"):
            client.get_collections()
        assert calls == ["/collections", "/collections"]
    finally:
        client.close()
