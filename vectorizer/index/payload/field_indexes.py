"""The payload field indexes of one segment.

`PayloadFieldIndexes` maps payload keys to `FieldIndex` objects, keeps them in
step with payload writes and deletions, reports the schema and persists the
whole set (a `manifest.json` plus one sub-directory per index).

Index params are always normalised to the Qdrant params model
(`"keyword"` -> `KeywordIndexParams(type="keyword")`).  An index whose params
carry `nested` (e.g. key `offers[].price`, nested `offers`) is fed per array
element (`add_elements`), so it can answer per-element matches for nested
filters besides plain point masks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from qdrant_client.http import models

from vectorizer.common.json_path import extract_values, get_values, parse
from vectorizer.index.payload.base import FieldIndex
from vectorizer.index.payload.entry_index import nested_path

MANIFEST = "manifest.json"

PARAMS_BY_TYPE: dict[str, type] = {
    "keyword": models.KeywordIndexParams,
    "integer": models.IntegerIndexParams,
    "float": models.FloatIndexParams,
    "geo": models.GeoIndexParams,
    "text": models.TextIndexParams,
    "bool": models.BoolIndexParams,
    "datetime": models.DatetimeIndexParams,
    "uuid": models.UuidIndexParams,
}


def params_type(params: Any) -> str:
    """The index type name ("keyword", "integer", ...) of a normalised params model."""
    kind = getattr(params, "type", None)
    return str(getattr(kind, "value", kind))


def normalize_params(params: Any) -> Any:
    """A bare type name / enum / dict / params model -> the params model."""
    if isinstance(params, models.PayloadSchemaType):
        name = params.value
        return PARAMS_BY_TYPE[name](type=name)
    if isinstance(params, str):
        name = models.PayloadSchemaType(params).value
        return PARAMS_BY_TYPE[name](type=name)
    if isinstance(params, dict):
        name = params.get("type")
        cls = PARAMS_BY_TYPE.get(str(name))
        if cls is None:
            raise ValueError(f"unknown payload index type {name!r}")
        return cls.model_validate(params)
    if hasattr(params, "model_dump") and params_type(params) in PARAMS_BY_TYPE:
        return params
    raise ValueError(f"invalid payload index params {params!r}")


def index_class(params: Any) -> Any:
    """The FieldIndex class implementing `params` (text is imported lazily)."""
    kind = params_type(params)
    if kind == "keyword":
        from vectorizer.index.payload.keyword import KeywordIndex
        return KeywordIndex
    if kind == "integer":
        from vectorizer.index.payload.numeric import IntegerIndex
        return IntegerIndex
    if kind == "float":
        from vectorizer.index.payload.numeric import FloatIndex
        return FloatIndex
    if kind == "datetime":
        from vectorizer.index.payload.numeric import DatetimeIndex
        return DatetimeIndex
    if kind == "bool":
        from vectorizer.index.payload.boolean import BoolIndex
        return BoolIndex
    if kind == "uuid":
        from vectorizer.index.payload.uuid_index import UuidIndex
        return UuidIndex
    if kind == "geo":
        from vectorizer.index.payload.geo import GeoIndex
        return GeoIndex
    if kind == "text":
        from vectorizer.index.payload.text import TextIndex
        return TextIndex
    raise ValueError(f"unknown payload index type {kind!r}")


def make_index(params: Any) -> FieldIndex:
    """A new, empty index for (normalised) `params`."""
    index: FieldIndex = index_class(params)(params)
    return index


def nested_elements(payload: dict[str, Any], key: str, nested: str) -> list[list[Any]] | None:
    """Per-element values of `key` inside the arrays at `nested`; None if `key` is not inside.

    Element i of the arrays found at `nested` (numbered across arrays when the
    path fans out) contributes the values at the rest of `key`, flattened one level.
    """
    prefix = nested + "[]"
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix):]
    if rest.startswith("."):
        rest = rest[1:]
    if rest:
        try:
            parse(rest)
        except ValueError:
            return None
    out: list[list[Any]] = []
    for array in get_values(payload, nested) if payload else []:
        if not isinstance(array, list):
            continue
        for elem in array:
            if not rest:
                out.append(list(elem) if isinstance(elem, list) else [elem])
            elif isinstance(elem, dict):
                out.append(extract_values(elem, rest))
            else:
                out.append([])
    return out


class PayloadFieldIndexes:
    """The field indexes of one segment, keyed by payload key path."""

    def __init__(self) -> None:
        self._indexes: dict[str, FieldIndex] = {}
        self._nested: dict[str, str] = {}  # key -> nested array path, for nested indexes

    # ------------------------------------------------------------ schema changes

    def create(self, key: str, params: Any) -> FieldIndex:
        """Create (or re-create, empty) the index on `key`; the caller then adds values."""
        p = normalize_params(params)
        index = make_index(p)
        self._indexes[key] = index
        self._register_nested(key, p)
        return index

    def _register_nested(self, key: str, params: Any) -> None:
        nested = nested_path(params, key)
        if nested is not None:
            self._nested[key] = nested
        else:
            self._nested.pop(key, None)

    def drop(self, key: str) -> None:
        self._indexes.pop(key, None)
        self._nested.pop(key, None)

    # ------------------------------------------------------------ lookups

    def get(self, key: str) -> FieldIndex | None:
        return self._indexes.get(key)

    def keys(self) -> list[str]:
        return list(self._indexes)

    def items(self) -> Iterator[tuple[str, FieldIndex]]:
        return iter(list(self._indexes.items()))

    def __contains__(self, key: object) -> bool:
        return key in self._indexes

    def __len__(self) -> int:
        return len(self._indexes)

    def schema(self) -> dict[str, tuple[Any, int]]:
        """key -> (params model, number of points holding an indexed value)."""
        return {key: (idx.params, idx.points_count()) for key, idx in self._indexes.items()}

    # ------------------------------------------------------------ updates

    def index_payload(self, key: str, offset: int, payload: dict[str, Any] | None) -> None:
        """(Re)index `offset` in the index on `key` from its whole payload."""
        index = self._indexes.get(key)
        if index is None:
            return
        payload = payload or {}
        nested = self._nested.get(key)
        if nested is not None and hasattr(index, "add_elements"):
            elements = nested_elements(payload, key, nested)
            if elements is not None:
                index.add_elements(offset, elements)
                return
        values = extract_values(payload, key) if payload else []
        if values:
            index.add(offset, values)  # replaces whatever `offset` had
        else:
            index.remove(offset)

    def on_payload_set(self, offset: int, payload: dict[str, Any] | None) -> None:
        """`offset` now has `payload` (replacing whatever it had): update every index."""
        for key in self._indexes:
            self.index_payload(key, offset, payload)

    def on_delete(self, offset: int) -> None:
        for index in self._indexes.values():
            index.remove(offset)

    # ------------------------------------------------------------ persistence

    def save(self, directory: Path) -> None:
        """Write every index under `directory` (which exists and is empty)."""
        directory = Path(directory)
        entries = []
        for i, (key, index) in enumerate(self._indexes.items()):
            sub = directory / str(i)
            sub.mkdir()
            index.save(sub)
            entries.append({
                "key": key,
                "dir": str(i),
                "params": index.params.model_dump(mode="json", exclude_none=True),
            })
        (directory / MANIFEST).write_bytes(orjson.dumps({"version": 1, "indexes": entries}))

    @classmethod
    def load(cls, directory: Path) -> PayloadFieldIndexes:
        """Read indexes written by `save`; a missing or empty directory gives no indexes."""
        out = cls()
        manifest = Path(directory) / MANIFEST
        if not manifest.exists():
            return out
        doc = orjson.loads(manifest.read_bytes())
        for entry in doc.get("indexes", []):
            key = entry["key"]
            params = normalize_params(entry["params"])
            index = index_class(params).load(Path(directory) / entry["dir"], params)
            out._indexes[key] = index
            out._register_nested(key, params)
        return out
