"""A collection's configuration: built from a create request plus server defaults.

Updates patch it in place.

The configuration is kept in its wire (JSON) form, the shape Qdrant returns in
`GET /collections/{name}` under `config`, and persisted as `config.json`.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import TypeAdapter
from qdrant_client.http import models

from vectorizer.common.errors import BadInput
from vectorizer.segment.segment import VectorSpec

DEFAULT_VECTOR = ""  # Qdrant's internal name of the unnamed vector

_HNSW_DEFAULTS = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
                  "max_indexing_threads": 0, "on_disk": False, "payload_m": None}
_OPTIMIZER_DEFAULTS = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                       "default_segment_number": 0, "max_segment_size": None,
                       "memmap_threshold": None, "indexing_threshold": 10000,
                       "flush_interval_sec": 5, "max_optimization_threads": None}
_WAL_DEFAULTS = {"wal_capacity_mb": 32, "wal_segments_ahead": 0}


def _dump(model: Any) -> Any:
    if model is None:
        return None
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", exclude_unset=True)
    if isinstance(model, dict):
        return {k: _dump(v) for k, v in model.items()}
    if isinstance(model, list):
        return [_dump(v) for v in model]
    if hasattr(model, "value"):  # enums
        return model.value
    return model


def _section(settings: Any, *path: str) -> dict[str, Any]:
    obj = settings
    for part in path:
        obj = getattr(obj, part, None) if obj is not None else None
    if obj is None:
        return {}
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return dict(obj)


def server_defaults(settings: Any) -> dict[str, dict[str, Any]]:
    """hnsw / optimizer / wal defaults: Qdrant's built-ins overridden by the server config."""
    hnsw = dict(_HNSW_DEFAULTS)
    hnsw.update({k: v for k, v in _section(settings, "storage", "hnsw_index").items()
                 if k in hnsw})
    if "full_scan_threshold_kb" in _section(settings, "storage", "hnsw_index"):
        hnsw["full_scan_threshold"] = _section(settings, "storage", "hnsw_index")[
            "full_scan_threshold_kb"]
    opt = dict(_OPTIMIZER_DEFAULTS)
    conf = _section(settings, "storage", "optimizers")
    for key in opt:
        for candidate in (key, f"{key}_kb"):
            if candidate in conf:
                opt[key] = conf[candidate]
    wal = dict(_WAL_DEFAULTS)
    wal.update({k: v for k, v in _section(settings, "storage", "wal").items() if k in wal})
    return {"hnsw_config": hnsw, "optimizer_config": opt, "wal_config": wal}


def build_config(create: models.CreateCollection, settings: Any) -> dict[str, Any]:
    """The full stored configuration for a new collection."""
    defaults = server_defaults(settings)
    vectors = _dump(create.vectors)
    if vectors is None:
        vectors = {}
    on_disk = _section(settings, "storage", "collection", "vectors").get("on_disk")
    if on_disk is not None:  # the server's default for vectors that do not say
        for params in ([vectors] if "size" in vectors else list(vectors.values())):
            if isinstance(params, dict) and params.get("on_disk") is None:
                params["on_disk"] = on_disk
    sparse = _dump(create.sparse_vectors)
    sharding = create.sharding_method.value if create.sharding_method else None
    shard_number = create.shard_number or 1
    params: dict[str, Any] = {
        "vectors": vectors,
        "shard_number": shard_number,
        "replication_factor": create.replication_factor or 1,
        "write_consistency_factor": create.write_consistency_factor or 1,
        "on_disk_payload": True if create.on_disk_payload is None else create.on_disk_payload,
    }
    if sharding:
        params["sharding_method"] = sharding
    if sparse:
        params["sparse_vectors"] = sparse
    hnsw = {**defaults["hnsw_config"], **(_dump(create.hnsw_config) or {})}
    opt = {**defaults["optimizer_config"], **(_dump(create.optimizers_config) or {})}
    wal = {**defaults["wal_config"], **(_dump(create.wal_config) or {})}
    config: dict[str, Any] = {
        "params": params,
        "hnsw_config": hnsw,
        "optimizer_config": opt,
        "wal_config": wal,
        "quantization_config": _dump(create.quantization_config)
        if create.quantization_config is not None else _default_quantization(settings),
        "strict_mode_config": _dump(create.strict_mode_config) or {"enabled": False},
    }
    if create.metadata is not None:
        config["metadata"] = create.metadata
    validate_vectors(config)
    return config


def _default_quantization(settings: Any) -> dict[str, Any] | None:
    """`storage.collection.quantization` (or the older `storage.quantization`), validated."""
    raw = _section(settings, "storage", "collection").get("quantization") or \
        _section(settings, "storage").get("quantization")
    if not raw:
        return None
    try:
        model = TypeAdapter(models.QuantizationConfig).validate_python(raw)
    except ValueError as exc:
        raise BadInput(f"storage.collection.quantization: {exc}") from exc
    return _dump(model)


def validate_vectors(config: dict[str, Any]) -> None:
    """Reject vector configurations Qdrant rejects."""
    for name, params in named_dense_params(config).items():
        size = params.get("size", 0)
        if not isinstance(size, int) or size < 1 or size > 65536:
            label = f"vectors.{name}.size" if name else "vectors.size"
            raise BadInput(f"{label}: value {size} invalid, must be from 1 to 65536")


def named_dense_params(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dense vector params by name ('' for the single unnamed vector)."""
    vectors = config["params"].get("vectors") or {}
    if "size" in vectors and isinstance(vectors.get("size"), int):
        return {DEFAULT_VECTOR: vectors}
    return dict(vectors)


def sparse_params(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(config["params"].get("sparse_vectors") or {})


def vector_specs(config: dict[str, Any]) -> dict[str, VectorSpec]:
    """Storage specs of every named vector, dense, multi and sparse."""
    specs: dict[str, VectorSpec] = {}
    for name, params in named_dense_params(config).items():
        kind = "multi" if params.get("multivector_config") else "dense"
        datatype = params.get("datatype") or "float32"
        on_disk = bool(params.get("on_disk")) or params.get("memory") == "cold"
        specs[name] = VectorSpec(kind=kind, dim=params["size"], datatype=datatype,
                                 normalize=params.get("distance") == "Cosine",
                                 on_disk=on_disk and kind == "dense")
    for name, params in sparse_params(config).items():
        index = (params or {}).get("index") or {}
        specs[name] = VectorSpec(kind="sparse", on_disk=bool(index.get("on_disk")) or
                                 index.get("memory") == "cold")
    return specs


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_update(config: dict[str, Any], update: models.UpdateCollection) -> dict[str, Any]:
    """A new configuration with `update` (PATCH /collections/{name}) applied."""
    new = copy.deepcopy(config)
    if update.vectors is not None:
        dense = named_dense_params(new)
        for name, diff in (_dump(update.vectors) or {}).items():
            if name not in dense:
                raise BadInput(f"Not existing vector name error: {name}")
            dense[name] = _merge(dense[name], diff)
        if DEFAULT_VECTOR in dense and len(dense) == 1 and "size" in new["params"]["vectors"]:
            new["params"]["vectors"] = dense[DEFAULT_VECTOR]
        else:
            new["params"]["vectors"] = dense
    if update.sparse_vectors is not None:
        sparse = sparse_params(new)
        for name, diff in (_dump(update.sparse_vectors) or {}).items():
            if name not in sparse:
                raise BadInput(f"Not existing vector name error: {name}")
            sparse[name] = _merge(sparse[name], diff or {})
        new["params"]["sparse_vectors"] = sparse
    if update.params is not None:
        new["params"] = _merge(new["params"], _dump(update.params) or {})
    if update.hnsw_config is not None:
        new["hnsw_config"] = _merge(new["hnsw_config"], _dump(update.hnsw_config) or {})
    if update.optimizers_config is not None:
        new["optimizer_config"] = _merge(new["optimizer_config"],
                                         _dump(update.optimizers_config) or {})
    if update.quantization_config is not None:
        quant = _dump(update.quantization_config)
        new["quantization_config"] = None if quant == "Disabled" else quant
    if update.strict_mode_config is not None:
        new["strict_mode_config"] = _merge(new.get("strict_mode_config") or {},
                                           _dump(update.strict_mode_config) or {})
    if update.metadata is not None:
        new["metadata"] = _merge(new.get("metadata") or {}, update.metadata)
    return new
