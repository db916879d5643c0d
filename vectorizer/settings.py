"""Server configuration, loaded the way Qdrant loads it.

Layers, each overriding the one before (later wins, mappings are merged key by key):

1. built-in defaults (the values of Qdrant's own ``config/config.yaml``);
2. ``config/config.{toml,json,yaml,yml}`` relative to the working directory;
3. ``config/{RUN_MODE}.*`` (environment variable ``RUN_MODE``, default ``development``);
4. ``config/local.*``;
5. the file given with ``--config-path``;
6. environment variables ``QDRANT__SECTION__KEY=value`` (``__`` separates nesting levels,
   names are case-insensitive, values are read as YAML scalars);
7. environment variables ``VECTORIZER__SECTION__KEY=value`` (our own alias, applied last).

Missing files are skipped, as Qdrant skips them. Unknown keys are ignored at every level so a
Qdrant configuration file can be dropped in unchanged. A value of the wrong type (what fails
deserialisation in Qdrant: text for a number, a port above 65535, a negative count, an unknown
enum value) raises :class:`SettingsError` naming the dotted key, the bad value and where it came
from. Values of the right type that break one of Qdrant's softer rules (``ef_construct < 4``...)
only produce warnings in :attr:`Settings.load_messages`, as they only warn in Qdrant.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

__all__ = [
    "ENV_PREFIXES",
    "ClusterConfig",
    "CollectionDefaultsConfig",
    "ConsensusConfig",
    "HnswIndexConfig",
    "OptimizersConfig",
    "P2pConfig",
    "PerformanceConfig",
    "ServiceConfig",
    "Settings",
    "SettingsError",
    "StorageConfig",
    "TlsConfig",
    "WalConfig",
    "load_settings",
]

#: Environment prefixes, in the order they are applied (the later one wins).
ENV_PREFIXES: tuple[str, ...] = ("QDRANT", "VECTORIZER")
#: Extensions tried for a configuration file named without one, in config-rs order.
CONFIG_EXTENSIONS: tuple[str, ...] = (".toml", ".json", ".yaml", ".yml")
DEFAULT_RUN_MODE = "development"

# Type-level constraints only (what fails deserialisation in Qdrant: u16, usize, NonZero*).
# Qdrant's softer `validate` rules (e.g. ef_construct >= 4) only warn there, so they only warn
# here too: see `_soft_checks`.
Port = Annotated[int, Field(ge=0, le=65535)]
USize = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]  # Qdrant's NonZero* types


class SettingsError(Exception):
    """The configuration could not be read or a value in it is invalid."""


class _Section(BaseModel):
    """Base of every configuration section: unknown keys are ignored, as in Qdrant."""

    model_config = ConfigDict(
        extra="ignore",
        coerce_numbers_to_str=True,
        populate_by_name=True,
        validate_assignment=False,
    )


# --------------------------------------------------------------------------------------------
# log / logger
# --------------------------------------------------------------------------------------------


class LoggerOnDiskConfig(_Section):
    """``logger.on_disk``: also write the log to a file."""

    enabled: bool = False
    log_file: str | None = None
    log_level: str | None = None
    format: str | None = None
    buffer_size_bytes: USize | None = None


class LoggerConfig(_Section):
    """``logger``: log format and optional on-disk log."""

    format: str | None = None
    on_disk: LoggerOnDiskConfig | None = None


# --------------------------------------------------------------------------------------------
# service
# --------------------------------------------------------------------------------------------


class ServiceConfig(_Section):
    """``service``: the network-facing API."""

    host: str = "0.0.0.0"
    http_port: Port = 6333
    grpc_port: Port | None = 6334  # None disables gRPC
    metrics_port: Port | None = None
    max_request_size_mb: USize = 32
    max_workers: USize | None = 0
    enable_cors: bool = True
    enable_tls: bool = False
    verify_https_client_certificate: bool = False
    api_key: str | None = None
    alt_api_key: str | None = None
    read_only_api_key: str | None = None
    jwt_rbac: bool | None = None
    hide_jwt_dashboard: bool | None = None
    static_content_dir: str | None = None
    enable_static_content: bool | None = None
    slow_query_secs: float | None = None
    hardware_reporting: bool | None = None
    metrics_prefix: str | None = None

    def hardware_reporting_enabled(self) -> bool:
        """``hardware_reporting`` with Qdrant's default (off)."""
        return bool(self.hardware_reporting)


# --------------------------------------------------------------------------------------------
# storage
# --------------------------------------------------------------------------------------------


class S3Config(_Section):
    """``storage.snapshots_config.s3_config``."""

    bucket: str = ""
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    endpoint_url: str | None = None


class SnapshotsConfig(_Section):
    """``storage.snapshots_config``: where snapshots are kept."""

    snapshots_storage: Literal["local", "s3"] = "local"
    s3_config: S3Config | None = None
    # Vectorizer: when set, recovery URLs must match one of these hosts / IPs / CIDR networks,
    # and may reach loopback, link-local or private addresses only through an IP/CIDR entry.
    recovery_url_allowlist: list[str] | None = None


class WalConfig(_Section):
    """``storage.wal``: write-ahead-log defaults for new collections."""

    wal_capacity_mb: USize = 32
    wal_segments_ahead: USize = 0
    wal_retain_closed: USize = 1


class PerformanceConfig(_Section):
    """``storage.performance``: thread pools and rate limits."""

    max_search_threads: USize = 0
    max_optimization_threads: USize = 0
    optimizer_cpu_budget: int = 0  # negative: leave that many CPUs free
    optimizer_io_budget: int = 0
    update_rate_limit: USize | None = None
    search_timeout_sec: USize | None = None
    incoming_shard_transfers_limit: USize | None = 1
    outgoing_shard_transfers_limit: USize | None = 1
    async_scorer: bool = False
    max_concurrent_collection_loads: USize = 1
    max_concurrent_shard_loads: USize = 1
    max_concurrent_segment_loads: USize = 8


class OptimizersConfig(_Section):
    """``storage.optimizers``: optimizer defaults for new collections.

    Qdrant names three of these both with and without a ``_kb`` suffix; both spellings are
    accepted, the attribute carries the ``_kb`` name.
    """

    deleted_threshold: float = 0.2
    vacuum_min_vector_number: USize = 1000
    default_segment_number: USize = 0
    max_segment_size_kb: USize | None = Field(
        default=None, validation_alias=AliasChoices("max_segment_size_kb", "max_segment_size"))
    memmap_threshold_kb: USize | None = Field(
        default=None, validation_alias=AliasChoices("memmap_threshold_kb", "memmap_threshold"))
    indexing_threshold_kb: USize | None = Field(
        default=10000,
        validation_alias=AliasChoices("indexing_threshold_kb", "indexing_threshold"))
    flush_interval_sec: USize = 5
    max_optimization_threads: USize | None = None
    prevent_unoptimized: bool | None = None


class OptimizersOverwriteConfig(_Section):
    """``storage.optimizers_overwrite``: forced optimizer values for every collection."""

    deleted_threshold: float | None = None
    vacuum_min_vector_number: USize | None = None
    default_segment_number: USize | None = None
    max_segment_size_kb: USize | None = Field(
        default=None, validation_alias=AliasChoices("max_segment_size_kb", "max_segment_size"))
    memmap_threshold_kb: USize | None = Field(
        default=None, validation_alias=AliasChoices("memmap_threshold_kb", "memmap_threshold"))
    indexing_threshold_kb: USize | None = Field(
        default=None,
        validation_alias=AliasChoices("indexing_threshold_kb", "indexing_threshold"))
    flush_interval_sec: USize | None = None
    max_optimization_threads: USize | None = None
    prevent_unoptimized: bool | None = None


class HnswIndexConfig(_Section):
    """``storage.hnsw_index``: HNSW defaults for new collections."""

    m: USize = 16
    ef_construct: USize = 100
    full_scan_threshold_kb: USize = Field(
        default=10000,
        validation_alias=AliasChoices("full_scan_threshold_kb", "full_scan_threshold"))
    max_indexing_threads: USize = 0
    on_disk: bool | None = False
    payload_m: USize | None = None
    inline_storage: bool | None = None


class VectorsDefaultsConfig(_Section):
    """``storage.collection.vectors``."""

    on_disk: bool | None = None


class StrictModeDefaultsConfig(_Section):
    """``storage.collection.strict_mode``: strict mode for newly created collections."""

    enabled: bool | None = None
    max_query_limit: USize | None = None
    max_timeout: USize | None = None
    unindexed_filtering_retrieve: bool | None = None
    unindexed_filtering_update: bool | None = None
    search_max_hnsw_ef: USize | None = None
    search_allow_exact: bool | None = None
    search_max_oversampling: float | None = None
    upsert_max_batchsize: USize | None = None
    max_collection_vector_size_bytes: USize | None = None
    read_rate_limit: USize | None = None
    write_rate_limit: USize | None = None
    max_collection_payload_size_bytes: USize | None = None
    max_points_count: USize | None = None
    filter_max_conditions: USize | None = None
    condition_max_size: USize | None = None
    multivector_config: dict[str, Any] | None = None
    sparse_config: dict[str, Any] | None = None
    max_payload_index_count: USize | None = None


class CollectionDefaultsConfig(_Section):
    """``storage.collection``: defaults applied to newly created collections."""

    replication_factor: PositiveInt = 1
    write_consistency_factor: PositiveInt = 1
    shard_number_per_node: PositiveInt = 1
    vectors: VectorsDefaultsConfig = Field(default_factory=VectorsDefaultsConfig)
    quantization: dict[str, Any] | None = None
    strict_mode: StrictModeDefaultsConfig | None = None


ShardTransferMethod = Literal["stream_records", "snapshot", "wal_delta",
                              "resharding_stream_records"]


class StorageConfig(_Section):
    """``storage``: where and how data is kept."""

    storage_path: str = "./storage"
    snapshots_path: str = "./snapshots"
    snapshots_config: SnapshotsConfig = Field(default_factory=SnapshotsConfig)
    temp_path: str | None = None
    on_disk_payload: bool = True
    update_concurrency: PositiveInt | None = None
    wal: WalConfig = Field(default_factory=WalConfig)
    node_type: Literal["Normal", "Listener"] = "Normal"
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    optimizers: OptimizersConfig = Field(default_factory=OptimizersConfig)
    optimizers_overwrite: OptimizersOverwriteConfig | None = None
    hnsw_index: HnswIndexConfig = Field(default_factory=HnswIndexConfig)
    quantization: dict[str, Any] | None = None
    shard_transfer_method: ShardTransferMethod | None = None
    collection: CollectionDefaultsConfig = Field(default_factory=CollectionDefaultsConfig)
    max_collections: USize | None = None
    mmap_advice: Literal["normal", "random", "sequential"] = "random"
    update_queue_size: USize | None = None
    handle_collection_load_errors: bool = False
    async_scorer: bool = False
    recovery_mode: str | None = None

    @field_validator("mmap_advice", mode="before")
    @classmethod
    def _lower_advice(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------------------------
# cluster, tls and the rest
# --------------------------------------------------------------------------------------------


class P2pConfig(_Section):
    """``cluster.p2p``: peer-to-peer communication."""

    port: Port | None = 6335
    connection_pool_size: USize = 2
    enable_tls: bool = False


class ConsensusConfig(_Section):
    """``cluster.consensus``: Raft parameters."""

    max_message_queue_size: USize = 100
    tick_period_ms: USize = 100
    bootstrap_timeout_sec: USize = 15
    message_timeout_ticks: USize = 10
    compact_wal_entries: USize = 128


class ClusterConfig(_Section):
    """``cluster``: distributed mode."""

    enabled: bool = False
    peer_id: USize | None = None
    grpc_timeout_ms: USize = 60_000
    connection_timeout_ms: USize = 2_000
    p2p: P2pConfig = Field(default_factory=P2pConfig)
    consensus: ConsensusConfig = Field(default_factory=ConsensusConfig)
    resharding_enabled: bool = False


class TlsConfig(_Section):
    """``tls``: certificate files for HTTPS / gRPC TLS / p2p TLS."""

    cert: str = "./tls/cert.pem"
    key: str = "./tls/key.pem"
    ca_cert: str | None = "./tls/cacert.pem"
    cert_ttl: USize | None = 3600


class Settings(_Section):
    """The whole configuration tree (Qdrant's ``Settings``)."""

    log_level: str = "INFO"
    logger: LoggerConfig = Field(default_factory=LoggerConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    telemetry_disabled: bool = False
    per_collection_metrics_enabled: bool = True
    tls: TlsConfig | None = Field(default_factory=TlsConfig)
    debugger: dict[str, Any] = Field(default_factory=dict)
    inference: dict[str, Any] | None = None
    gpu: dict[str, Any] | None = None
    feature_flags: dict[str, Any] = Field(default_factory=dict)
    audit: dict[str, Any] | None = None

    _sources: list[str] = PrivateAttr(default_factory=list)
    _messages: list[str] = PrivateAttr(default_factory=list)

    @field_validator("log_level", mode="before")
    @classmethod
    def _default_log_level(cls, value: Any) -> Any:
        return "INFO" if value is None or value == "" else value

    @property
    def sources(self) -> list[str]:
        """Configuration files and environment variables that contributed, in order."""
        return list(self._sources)

    @property
    def load_messages(self) -> list[str]:
        """Warnings gathered while loading (e.g. a ``--config-path`` file that is missing)."""
        return list(self._messages)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------

_UNION_TAGS = {"int", "str", "float", "bool", "dict", "list", "none", "literal",
               "constrained-int", "constrained-float", "constrained-str"}


def _find_file(base: Path) -> Path | None:
    """config-rs ``File::with_name``: the path itself, else the path with a known extension."""
    if base.is_file():
        return base
    for ext in CONFIG_EXTENSIONS:
        candidate = base.with_suffix(ext)  # config-rs replaces an existing extension
        if candidate.is_file():
            return candidate
    return None


def _read_file(path: Path) -> dict[str, Any]:
    """Parse one configuration file into a mapping (empty file: empty mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"Cannot read config file {path}: {exc}") from exc
    try:
        suffix = path.suffix.lower()
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text) if text.strip() else None
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"Cannot parse config file {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"Config file {path} must contain a mapping at the top level, "
            f"got {type(data).__name__}")
    return data


_OPTIMIZER_ALIASES = {"max_segment_size": "max_segment_size_kb",
                      "memmap_threshold": "memmap_threshold_kb",
                      "indexing_threshold": "indexing_threshold_kb"}
#: Qdrant's alternative spellings, rewritten to ours while merging so that a later layer wins
#: whichever spelling each layer uses.
_KEY_ALIASES: dict[str, dict[str, str]] = {
    "storage.hnsw_index.": {"full_scan_threshold": "full_scan_threshold_kb"},
    "storage.optimizers.": _OPTIMIZER_ALIASES,
    "storage.optimizers_overwrite.": _OPTIMIZER_ALIASES,
}


def _merge(base: dict[str, Any], layer: Mapping[str, Any], origins: dict[str, str],
           source: str, prefix: str = "") -> None:
    """Deep-merge `layer` into `base` (mappings merge, anything else replaces)."""
    aliases = _KEY_ALIASES.get(prefix, {})
    for raw_key, value in layer.items():
        key = aliases.get(str(raw_key), str(raw_key))
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not isinstance(base.get(key), dict):
                base[key] = {}
                _forget(origins, dotted)
            origins.setdefault(dotted, source)
            _merge(base[key], value, origins, source, dotted + ".")
        else:
            base[key] = value
            _forget(origins, dotted)
            origins[dotted] = source


def _forget(origins: dict[str, str], dotted: str) -> None:
    for known in [k for k in origins if k == dotted or k.startswith(dotted + ".")]:
        del origins[known]


def _env_value(raw: str) -> Any:
    """An environment value as a YAML scalar.

    Scalars stay strings (the models convert ``"7000"`` to 7000 and ``"false"`` to False, and an
    API key such as ``0x1F`` stays text); empty and ``null``/``~`` mean null; a YAML/JSON list or
    mapping (``[0, 1]``) is parsed.
    """
    text = raw.strip()
    if text in ("", "~") or text.lower() == "null":
        return None
    if text[0] in "[{":
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return raw
        if isinstance(parsed, list | dict):
            return parsed
    return raw


def _env_layers(env: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """One (source, mapping) layer per environment variable, QDRANT__ first, then aliases."""
    layers: list[tuple[str, dict[str, Any]]] = []
    for prefix in ENV_PREFIXES:
        marker = prefix.lower() + "__"
        for name in sorted(env):
            if not name.lower().startswith(marker):
                continue
            parts = name[len(marker):].lower().split("__")
            if not parts or any(not part for part in parts):
                continue
            tree: dict[str, Any] = {}
            node = tree
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = _env_value(env[name])
            layers.append((f"environment variable {name}", tree))
    return layers


def _loc_to_key(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
            continue
        if item in _UNION_TAGS or "[" in item or "-" in item:
            continue
        parts.append(item)
    return ".".join(parts)


def _origin_of(key: str, origins: Mapping[str, str]) -> str | None:
    probe = key
    while probe:
        if probe in origins:
            return origins[probe]
        probe = probe.rpartition(".")[0]
    return None


def _describe(exc: ValidationError, origins: Mapping[str, str]) -> str:
    lines = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        key = _loc_to_key(tuple(error.get("loc", ())))
        if key in seen:
            continue
        seen.add(key)
        origin = _origin_of(key, origins)
        where = f", from {origin}" if origin else ""
        got = error.get("input")
        lines.append(f"  {key or '<root>'}: {error.get('msg', 'invalid value')} "
                     f"(got {got!r}{where})")
    return "Invalid configuration:\n" + "\n".join(lines)


_MAX_PEER_ID = (1 << 53) - 1


def _soft_checks(settings: Settings) -> list[str]:
    """Qdrant's `validate` rules: broken ones are logged as warnings and start-up continues."""
    rules: list[tuple[str, Any, bool, str]] = []

    def rule(key: str, ok: bool, expected: str) -> None:
        value: Any = settings
        for part in key.split("."):
            value = getattr(value, part, None)
        rules.append((key, value, ok, expected))

    service, storage, cluster = settings.service, settings.storage, settings.cluster
    prefix = service.metrics_prefix or ""
    rule("service.host", bool(service.host), "a non-empty host")
    rule("service.metrics_prefix",
         all(c.isascii() and (c.isalnum() or c == "_") for c in prefix),
         "only ASCII letters, digits and '_'")
    rule("storage.storage_path", bool(storage.storage_path), "a non-empty path")
    rule("storage.snapshots_path", bool(storage.snapshots_path), "a non-empty path")
    rule("storage.temp_path", storage.temp_path is None or bool(storage.temp_path),
         "a non-empty path or null")
    rule("storage.wal.wal_capacity_mb", storage.wal.wal_capacity_mb >= 1, "at least 1")
    rule("storage.optimizers.deleted_threshold",
         0.0 <= storage.optimizers.deleted_threshold <= 1.0, "between 0 and 1")
    rule("storage.optimizers.vacuum_min_vector_number",
         storage.optimizers.vacuum_min_vector_number >= 100, "at least 100")
    rule("storage.hnsw_index.ef_construct", storage.hnsw_index.ef_construct >= 4, "at least 4")
    rule("cluster.peer_id", cluster.peer_id is None or 1 <= cluster.peer_id <= _MAX_PEER_ID,
         f"between 1 and {_MAX_PEER_ID}")
    for key in ("cluster.grpc_timeout_ms", "cluster.connection_timeout_ms",
                "cluster.p2p.connection_pool_size", "cluster.consensus.tick_period_ms",
                "cluster.consensus.bootstrap_timeout_sec",
                "cluster.consensus.message_timeout_ticks"):
        value = settings
        for part in key.split("."):
            value = getattr(value, part)
        rule(key, value >= 1, "at least 1")
    if settings.tls is not None:
        rule("tls.cert_ttl", settings.tls.cert_ttl is None or settings.tls.cert_ttl >= 1,
             "at least 1 or null")
    return [f"Settings configuration: {key} should be {expected}, got {value!r}"
            for key, value, ok, expected in rules if not ok]


def load_settings(config_path: str | None = None, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> Settings:
    """Load the configuration, layering files and environment as Qdrant does.

    `env` defaults to ``os.environ`` and `cwd` (where ``config/`` is looked up, and relative
    ``config_path`` is resolved against) to the current working directory.
    """
    env = os.environ if env is None else env
    base_dir = Path.cwd() if cwd is None else Path(cwd)
    run_mode = env.get("RUN_MODE") or DEFAULT_RUN_MODE
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    sources: list[str] = []
    messages: list[str] = []

    candidates: list[tuple[Path, bool]] = [
        (base_dir / "config" / "config", False),
        (base_dir / "config" / run_mode, False),
        (base_dir / "config" / "local", False),
    ]
    if config_path:
        custom = Path(config_path).expanduser()
        candidates.append((custom if custom.is_absolute() else base_dir / custom, True))
    for base, explicit in candidates:
        found = _find_file(base)
        if found is None:
            if explicit:
                messages.append(f"Config file via --config-path is not found: {config_path}")
            continue
        _merge(merged, _read_file(found), origins, str(found))
        sources.append(str(found))

    for source, layer in _env_layers(env):
        _merge(merged, layer, origins, source)
        sources.append(source)

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origins)) from None
    settings._sources = sources
    settings._messages = messages + _soft_checks(settings)
    return settings


def setting_at(settings: Any, path: str, default: Any) -> Any:
    """The value at dotted `path` (e.g. `service.grpc_port`) of a Settings object, or
    `default` when a part is missing or None (settings may be absent in embedded use)."""
    obj = settings
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return default
    return obj
