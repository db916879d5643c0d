"""Configuration loading: layering, environment parsing, unknown keys, errors, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from vectorizer import __version__
from vectorizer import cli as cli_module
from vectorizer.settings import Settings, SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the real environment: drop any configuration the runner may carry."""
    for name in list(os.environ):
        if name.upper().startswith(("QDRANT__", "VECTORIZER__")) or name == "RUN_MODE":
            monkeypatch.delenv(name)


def _write(path: Path, data: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _load(tmp_path: Path, config_path: str | None = None, **env: str) -> Settings:
    return load_settings(config_path, env=env, cwd=tmp_path)


# ---------------------------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------------------------


def test_defaults_match_qdrant(tmp_path: Path) -> None:
    s = _load(tmp_path)
    assert s.log_level == "INFO"
    assert s.service.host == "0.0.0.0"
    assert s.service.http_port == 6333
    assert s.service.grpc_port == 6334
    assert s.service.max_request_size_mb == 32
    assert s.service.enable_cors is True
    assert s.service.enable_tls is False
    assert s.service.api_key is None
    assert s.service.read_only_api_key is None
    assert s.storage.storage_path == "./storage"
    assert s.storage.snapshots_path == "./snapshots"
    assert s.storage.temp_path is None
    assert s.storage.on_disk_payload is True
    assert s.storage.wal.wal_capacity_mb == 32
    assert s.storage.wal.wal_segments_ahead == 0
    assert s.storage.performance.max_search_threads == 0
    opt = s.storage.optimizers
    assert (opt.deleted_threshold, opt.vacuum_min_vector_number, opt.default_segment_number) == (
        0.2, 1000, 0)
    assert opt.max_segment_size_kb is None and opt.memmap_threshold_kb is None
    assert opt.indexing_threshold_kb == 10000
    assert opt.flush_interval_sec == 5
    assert opt.max_optimization_threads is None
    hnsw = s.storage.hnsw_index
    assert (hnsw.m, hnsw.ef_construct, hnsw.full_scan_threshold_kb) == (16, 100, 10000)
    assert (hnsw.max_indexing_threads, hnsw.on_disk, hnsw.payload_m) == (0, False, None)
    assert s.storage.collection.replication_factor == 1
    assert s.storage.collection.write_consistency_factor == 1
    assert s.storage.collection.vectors.on_disk is None
    assert s.cluster.enabled is False
    assert s.cluster.p2p.port == 6335
    assert s.cluster.consensus.tick_period_ms == 100
    assert s.telemetry_disabled is False
    assert s.sources == []


def test_shipped_config_yaml_equals_builtin_defaults() -> None:
    loaded = load_settings(env={}, cwd=REPO_ROOT)
    assert loaded.sources == [str(REPO_ROOT / "config" / "config.yaml")]
    assert loaded.model_dump() == Settings().model_dump()


def test_qdrant_reference_config_keys_all_known() -> None:
    """Every key of our config.yaml (a copy of Qdrant's) maps to a model field."""
    data = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    dumped = Settings().model_dump()

    def walk(tree: dict[str, Any], model: dict[str, Any], prefix: str) -> None:
        for key, value in tree.items():
            assert key in model, f"{prefix}{key} is not a known setting"
            if isinstance(value, dict) and isinstance(model[key], dict):
                walk(value, model[key], f"{prefix}{key}.")

    walk(data, dumped, "")


# ---------------------------------------------------------------------------------------------
# layering
# ---------------------------------------------------------------------------------------------


def test_layering_order(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", {
        "log_level": "config", "service": {"host": "config", "http_port": 1001},
        "storage": {"storage_path": "config", "snapshots_path": "config",
                    "temp_path": "config", "optimizers": {"flush_interval_sec": 1}}})
    _write(tmp_path / "config" / "development.yaml", {
        "service": {"http_port": 1002},
        "storage": {"storage_path": "dev", "snapshots_path": "dev", "temp_path": "dev"}})
    _write(tmp_path / "config" / "local.yaml", {
        "storage": {"snapshots_path": "local", "temp_path": "local"}})
    custom = _write(tmp_path / "custom.yaml", {"storage": {"temp_path": "custom"},
                                               "service": {"grpc_port": 7777}})
    s = _load(tmp_path, str(custom), QDRANT__SERVICE__GRPC_PORT="8888")
    assert s.log_level == "config"
    assert s.service.host == "config"
    assert s.storage.optimizers.flush_interval_sec == 1  # untouched siblings survive merging
    assert s.service.http_port == 1002
    assert s.storage.storage_path == "dev"
    assert s.storage.snapshots_path == "local"
    assert s.storage.temp_path == "custom"
    assert s.service.grpc_port == 8888
    assert s.sources == [str(tmp_path / "config" / "config.yaml"),
                         str(tmp_path / "config" / "development.yaml"),
                         str(tmp_path / "config" / "local.yaml"),
                         str(custom),
                         "environment variable QDRANT__SERVICE__GRPC_PORT"]


def test_run_mode_selects_file(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "development.yaml", {"log_level": "dev"})
    _write(tmp_path / "config" / "production.yaml", {"log_level": "prod"})
    assert _load(tmp_path).log_level == "dev"
    assert _load(tmp_path, RUN_MODE="production").log_level == "prod"
    assert _load(tmp_path, RUN_MODE="staging").log_level == "INFO"  # missing file: skipped


def test_relative_config_path_resolved_against_cwd(tmp_path: Path) -> None:
    _write(tmp_path / "conf" / "my.yaml", {"service": {"http_port": 9000}})
    assert _load(tmp_path, "conf/my.yaml").service.http_port == 9000


def test_config_path_without_extension_and_other_formats(tmp_path: Path) -> None:
    _write(tmp_path / "prod.yaml", {"service": {"http_port": 9001}})
    assert _load(tmp_path, "prod").service.http_port == 9001
    _write(tmp_path / "config" / "config.json", json.dumps({"service": {"http_port": 9002}}))
    assert _load(tmp_path).service.http_port == 9002
    _write(tmp_path / "config" / "local.toml", "[service]\nhttp_port = 9003\n")
    assert _load(tmp_path).service.http_port == 9003


def test_missing_config_path_is_reported_not_fatal(tmp_path: Path) -> None:
    s = _load(tmp_path, "nope.yaml")
    assert s.service.http_port == 6333
    assert any("nope.yaml" in message for message in s.load_messages)


def test_null_in_later_layer_overrides(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "local.yaml", {"service": {"grpc_port": None}})
    assert _load(tmp_path).service.grpc_port is None


def test_empty_file_is_fine(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", "# nothing here\n")
    assert _load(tmp_path).service.http_port == 6333


# ---------------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------------


def test_env_types(tmp_path: Path) -> None:
    s = _load(tmp_path,
              QDRANT__SERVICE__HTTP_PORT="7000",
              QDRANT__SERVICE__ENABLE_CORS="false",
              QDRANT__LOG_LEVEL="DEBUG",
              QDRANT__STORAGE__OPTIMIZERS__DELETED_THRESHOLD="0.5",
              QDRANT__STORAGE__OPTIMIZERS__MAX_SEGMENT_SIZE_KB="200000",
              QDRANT__STORAGE__HNSW_INDEX__ON_DISK="true",
              QDRANT__SERVICE__API_KEY="0x1F",
              QDRANT__SERVICE__READ_ONLY_API_KEY="12345",
              QDRANT__CLUSTER__P2P__PORT="null")
    assert s.service.http_port == 7000
    assert s.service.enable_cors is False
    assert s.log_level == "DEBUG"
    assert s.storage.optimizers.deleted_threshold == 0.5
    assert s.storage.optimizers.max_segment_size_kb == 200000
    assert s.storage.hnsw_index.on_disk is True
    assert s.service.api_key == "0x1F"  # stays text, not the integer 31
    assert s.service.read_only_api_key == "12345"
    assert s.cluster.p2p.port is None


def test_env_empty_value_means_null(tmp_path: Path) -> None:
    assert _load(tmp_path, QDRANT__SERVICE__GRPC_PORT="").service.grpc_port is None


def test_env_names_are_case_insensitive(tmp_path: Path) -> None:
    assert _load(tmp_path, qdrant__service__http_port="7001").service.http_port == 7001


def test_env_overrides_config_path(tmp_path: Path) -> None:
    custom = _write(tmp_path / "c.yaml", {"service": {"http_port": 1}})
    assert _load(tmp_path, str(custom), QDRANT__SERVICE__HTTP_PORT="2").service.http_port == 2


def test_env_lists_are_parsed(tmp_path: Path) -> None:
    s = _load(tmp_path, QDRANT__STORAGE__COLLECTION__QUANTIZATION='{"scalar": {"type": "int8"}}')
    assert s.storage.collection.quantization == {"scalar": {"type": "int8"}}


def test_vectorizer_alias_applied_after_qdrant(tmp_path: Path) -> None:
    s = _load(tmp_path, QDRANT__SERVICE__HTTP_PORT="7000", VECTORIZER__SERVICE__HTTP_PORT="7100",
              VECTORIZER__STORAGE__STORAGE_PATH="/data/v")
    assert s.service.http_port == 7100
    assert s.storage.storage_path == "/data/v"


def test_unrelated_env_ignored(tmp_path: Path) -> None:
    s = _load(tmp_path, QDRANT_URL="http://x", QDRANT__="x", QDRANT__A____B="1", PATH="/bin")
    assert s.service.http_port == 6333


# ---------------------------------------------------------------------------------------------
# unknown keys, aliases, errors
# ---------------------------------------------------------------------------------------------


def test_unknown_keys_ignored_everywhere(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", {
        "brand_new_section": {"x": 1},
        "service": {"http_port": 6400, "future_option": True},
        "storage": {"hnsw_index": {"m": 32, "some_new_knob": 3},
                    "performance": {"unknown": "yes"}},
        "cluster": {"p2p": {"whatever": 1}},
    })
    s = _load(tmp_path, QDRANT__SERVICE__NOT_A_KEY="1")
    assert s.service.http_port == 6400
    assert s.storage.hnsw_index.m == 32
    assert not hasattr(s.service, "future_option")


def test_qdrant_spellings_without_kb_suffix(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", {"storage": {
        "hnsw_index": {"full_scan_threshold": 123},
        "optimizers": {"indexing_threshold": 0, "memmap_threshold": 5, "max_segment_size": 7}}})
    s = _load(tmp_path)
    assert s.storage.hnsw_index.full_scan_threshold_kb == 123
    assert s.storage.optimizers.indexing_threshold_kb == 0
    assert s.storage.optimizers.memmap_threshold_kb == 5
    assert s.storage.optimizers.max_segment_size_kb == 7


def test_later_layer_wins_across_spellings(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", {"storage": {
        "hnsw_index": {"full_scan_threshold_kb": 1}, "optimizers": {"indexing_threshold": 2}}})
    s = _load(tmp_path, QDRANT__STORAGE__HNSW_INDEX__FULL_SCAN_THRESHOLD="3",
              QDRANT__STORAGE__OPTIMIZERS__INDEXING_THRESHOLD_KB="4")
    assert s.storage.hnsw_index.full_scan_threshold_kb == 3
    assert s.storage.optimizers.indexing_threshold_kb == 4


def test_numbers_accepted_where_text_expected(tmp_path: Path) -> None:
    _write(tmp_path / "config" / "config.yaml", {"service": {"api_key": 123456}})
    assert _load(tmp_path).service.api_key == "123456"


def test_malformed_file_value_names_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "config" / "config.yaml", {"service": {"http_port": "abc"}})
    with pytest.raises(SettingsError) as info:
        _load(tmp_path)
    message = str(info.value)
    assert "service.http_port" in message
    assert "'abc'" in message
    assert str(path) in message


def test_malformed_env_value_names_key_and_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        _load(tmp_path, QDRANT__STORAGE__OPTIMIZERS__FLUSH_INTERVAL_SEC="soon")
    message = str(info.value)
    assert "storage.optimizers.flush_interval_sec" in message
    assert "soon" in message
    assert "QDRANT__STORAGE__OPTIMIZERS__FLUSH_INTERVAL_SEC" in message


@pytest.mark.parametrize(("env", "key"), [
    ({"QDRANT__SERVICE__HTTP_PORT": "70000"}, "service.http_port"),
    ({"QDRANT__SERVICE__GRPC_PORT": "x"}, "service.grpc_port"),
    ({"QDRANT__SERVICE__ENABLE_CORS": "maybe"}, "service.enable_cors"),
    ({"QDRANT__STORAGE__WAL__WAL_SEGMENTS_AHEAD": "-1"}, "storage.wal.wal_segments_ahead"),
    ({"QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR": "0"},
     "storage.collection.replication_factor"),
    ({"QDRANT__STORAGE__NODE_TYPE": "Boss"}, "storage.node_type"),
    ({"QDRANT__STORAGE__SHARD_TRANSFER_METHOD": "carrier_pigeon"},
     "storage.shard_transfer_method"),
    ({"QDRANT__STORAGE__WAL": "big"}, "storage.wal"),
])
def test_malformed_values_name_key(tmp_path: Path, env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        _load(tmp_path, **env)


def test_soft_rules_only_warn_like_qdrant(tmp_path: Path) -> None:
    """Qdrant logs its `validate` failures and starts anyway; so do we."""
    s = _load(tmp_path, QDRANT__STORAGE__HNSW_INDEX__EF_CONSTRUCT="2",
              QDRANT__STORAGE__OPTIMIZERS__DELETED_THRESHOLD="2",
              QDRANT__SERVICE__METRICS_PREFIX="bad-prefix")
    assert s.storage.hnsw_index.ef_construct == 2
    warnings = "\n".join(s.load_messages)
    assert "storage.hnsw_index.ef_construct" in warnings
    assert "storage.optimizers.deleted_threshold" in warnings
    assert "service.metrics_prefix" in warnings
    assert _load(tmp_path).load_messages == []


def test_unparsable_yaml_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "config" / "local.yaml", "service: [unclosed\n")
    with pytest.raises(SettingsError, match=r"local\.yaml"):
        _load(tmp_path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="mapping"):
        _load(tmp_path)


def test_attributes_used_by_the_server() -> None:
    s = Settings()
    assert getattr(getattr(s, "service"), "http_port") == 6333  # noqa: B009
    assert s.storage.optimizers.flush_interval_sec == 5
    assert s.storage.hnsw_index.m == 16
    dumped = s.storage.hnsw_index.model_dump()
    assert dumped["full_scan_threshold_kb"] == 10000


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def test_cli_version() -> None:
    out = subprocess.run([sys.executable, "-m", "vectorizer", "--version"], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert __version__ in out


def _fake_run(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, dict[str, Any]]]:
    calls: list[tuple[Settings, dict[str, Any]]] = []
    fake = types.ModuleType("vectorizer.server")
    fake.run = lambda settings, **kw: calls.append((settings, kw))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vectorizer.server", fake)
    import vectorizer

    monkeypatch.setattr(vectorizer, "server", fake, raising=False)
    return calls


@pytest.mark.parametrize("argv", [
    ["--config-path", "c.yaml", "--uri", "http://a:6335"],
    ["serve", "--config-path", "c.yaml", "--uri", "http://a:6335"],
    ["--config-path", "c.yaml", "serve", "--uri", "http://a:6335"],
])
def test_cli_flags_before_and_after_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          argv: list[str]) -> None:
    _write(tmp_path / "c.yaml", {"service": {"http_port": 6500}})
    monkeypatch.chdir(tmp_path)
    calls = _fake_run(monkeypatch)
    assert cli_module.main([*argv, "--disable-telemetry"]) == 0
    settings, kwargs = calls[0]
    assert settings.service.http_port == 6500
    assert settings.telemetry_disabled is True
    assert kwargs == {"uri": "http://a:6335", "bootstrap": None}


def test_cli_no_args_serves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    calls = _fake_run(monkeypatch)
    assert cli_module.main([]) == 0
    assert len(calls) == 1


def test_cli_bad_config_exits_1_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDRANT__SERVICE__HTTP_PORT", "abc")
    calls = _fake_run(monkeypatch)
    assert cli_module.main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "service.http_port" in err and "abc" in err
    assert "Traceback" not in err
    assert calls == []


@pytest.mark.parametrize("flag", [["--snapshot", "a.snapshot:c"], ["--storage-snapshot", "s"]])
def test_cli_snapshot_flags_need_a_snapshot_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               flag: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    calls = _fake_run(monkeypatch)
    assert cli_module.main(flag) == 1
    assert "is not a file" in capsys.readouterr().err
    assert calls == []


def test_cli_config_command_masks_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QDRANT__SERVICE__API_KEY", "supersecret")
    assert cli_module.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "supersecret" not in out
    assert "QDRANT__SERVICE__API_KEY" in out
    assert yaml.safe_load(out)["service"]["http_port"] == 6333
