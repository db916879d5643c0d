"""Validate REST responses against Qdrant's OpenAPI spec (with a qdrant-client 1.20 overlay).

The Qdrant OpenAPI documents in ``/work/shared/qdrant-spec`` describe Qdrant 1.19
(``openapi-master.json``) and 1.18 (``openapi-v1.18.json``, which still carries the legacy
``search``/``recommend``/``discover`` endpoints).  Vectorizer targets Qdrant 1.20 as modelled by
``qdrant-client`` 1.20.0, so the loaded specs are patched generically from the pydantic models in
``qdrant_client.http.models``: missing object properties, enum values, union branches and whole
component schemas are added.

Usage::

    checker = OpenApiChecker()
    checker.check("GET", "/collections/foo", 200, response.json())

    with checked_client("http://127.0.0.1:6333") as http:   # every JSON response is checked
        http.get("/collections")

    install_qdrant_client_hook(qdrant_client)                # all REST traffic of a QdrantClient

OpenAPI 3.0 schemas are converted to JSON Schema draft 2020-12 (``nullable`` becomes a ``null``
type/branch) and validated with :mod:`jsonschema`.  Formats are not enforced except ``uuid`` and
``date-time``, which are checked leniently.
"""

from __future__ import annotations

import copy
import datetime as _dt
import enum
import fnmatch
import functools
import json
import re
import threading
import typing
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance

SPEC_DIR = Path("/work/shared/qdrant-spec")
MASTER_SPEC = SPEC_DIR / "openapi-master.json"
LEGACY_SPEC = SPEC_DIR / "openapi-v1.18.json"
DEFAULT_SPEC_FILES: tuple[Path, ...] = (MASTER_SPEC, LEGACY_SPEC)
DEFAULT_STRIP_PREFIXES: tuple[str, ...] = ("/qdrant",)
COMPONENT_PREFIX = "#/components/schemas/"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

# Keys that only annotate a schema; a schema made of these plus ``nullable`` means "null".
_ANNOTATION_KEYS = frozenset(
    {"description", "default", "example", "examples", "title", "deprecated", "nullable"}
)


# --------------------------------------------------------------------------------------------
# OpenAPI 3.0 -> JSON Schema 2020-12 conversion
# --------------------------------------------------------------------------------------------


def _convert_schema(node: Any) -> Any:
    """Return a JSON Schema 2020-12 rendering of an OpenAPI 3.0 schema object (recursively)."""
    if isinstance(node, list):
        return [_convert_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("example", "nullable", "discriminator", "xml", "externalDocs"):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            out[key] = {name: _convert_schema(sub) for name, sub in value.items()}
        elif key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
            out[key] = COMPONENT_PREFIX + value[len("#/$defs/") :]
        elif key == "$ref" and isinstance(value, str) and value.startswith("#/definitions/"):
            out[key] = COMPONENT_PREFIX + value[len("#/definitions/") :]
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = _convert_schema(value)
    if node.get("nullable") is True:
        out = _make_nullable(out)
    return out


def _make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow ``null`` in an already converted schema (the OpenAPI ``nullable: true``)."""
    if set(schema) <= _ANNOTATION_KEYS:
        # ``{"nullable": true}`` on its own is Qdrant's "or null" anyOf branch.
        return {**schema, "type": "null"}
    typ = schema.get("type")
    structural = {"$ref", "anyOf", "oneOf", "allOf", "not", "const"} & set(schema)
    if typ is not None and not structural:
        types = list(typ) if isinstance(typ, list) else [typ]
        if "null" not in types:
            types.append("null")
        schema = {**schema, "type": types}
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    annotations = {k: v for k, v in schema.items() if k in _ANNOTATION_KEYS}
    rest = {k: v for k, v in schema.items() if k not in _ANNOTATION_KEYS}
    return {**annotations, "anyOf": [rest, {"type": "null"}]}


# --------------------------------------------------------------------------------------------
# qdrant-client 1.20 overlay
# --------------------------------------------------------------------------------------------


def _model_namespace() -> dict[str, Any]:
    from qdrant_client.http import models

    return {name: getattr(models, name) for name in dir(models) if not name.startswith("_")}


def _is_pydantic_model(obj: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel


def _is_enum(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, enum.Enum) and obj is not enum.Enum


def _is_union_alias(obj: Any) -> bool:
    origin = typing.get_origin(obj)
    return origin is typing.Union or type(obj).__name__ == "UnionType"


def _pydantic_schema(obj: Any) -> dict[str, Any] | None:
    """JSON schema of a pydantic model / enum / union alias, or None when not representable."""
    try:
        schema = _cached_pydantic_schema(obj)
    except TypeError:  # unhashable annotation
        schema = _cached_pydantic_schema.__wrapped__(obj)
    return copy.deepcopy(schema)


@functools.cache
def _cached_pydantic_schema(obj: Any) -> dict[str, Any] | None:
    from pydantic import TypeAdapter

    try:
        if _is_pydantic_model(obj):
            return obj.model_json_schema()
        return TypeAdapter(obj).json_schema()
    except Exception:  # pragma: no cover - exotic types the overlay can simply skip
        return None


def _enum_values(schema: dict[str, Any]) -> list[Any] | None:
    """The flat enum of a spec schema, or None when it is not a plain enum."""
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _ref_name(schema: Any) -> str | None:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        return ref.rsplit("/", 1)[-1]
    return None


def apply_client_overlay(components: dict[str, Any]) -> list[str]:
    """Patch converted component schemas in place with qdrant-client model additions.

    For every component schema that also exists in ``qdrant_client.http.models``:

    * pydantic models: properties missing in the spec are added (``$defs`` refs are mapped to
      ``#/components/schemas``; referenced definitions missing in the spec are added too);
    * enums: values missing from a flat spec ``enum`` are added;
    * union aliases: ``$ref`` branches missing from a spec ``anyOf`` are added (branches of
      generated ``...OneOf`` helper models are skipped: the spec inlines those).

    Returns a human readable list of the changes (handy for debugging).
    """
    changes: list[str] = []
    pending_defs: dict[str, Any] = {}
    for name, obj in _model_namespace().items():
        spec_schema = components.get(name)
        if spec_schema is None or not isinstance(spec_schema, dict):
            continue
        if _is_pydantic_model(obj):
            model_schema = _pydantic_schema(obj)
            if not model_schema:
                continue
            pending_defs.update(model_schema.get("$defs", {}))
            spec_props = spec_schema.get("properties")
            if not isinstance(spec_props, dict):
                continue
            for prop, prop_schema in model_schema.get("properties", {}).items():
                if prop not in spec_props:
                    spec_props[prop] = _convert_schema(prop_schema)
                    changes.append(f"{name}.{prop}: added property")
        elif _is_enum(obj):
            values = _enum_values(spec_schema)
            if values is None:
                continue
            for member in obj:
                if member.value not in values:
                    values.append(member.value)
                    changes.append(f"{name}: added enum value {member.value!r}")
            spec_schema["enum"] = values
        elif _is_union_alias(obj):
            branches = spec_schema.get("anyOf")
            if not isinstance(branches, list):
                continue
            union_schema = _pydantic_schema(obj)
            if not union_schema:
                continue
            pending_defs.update(union_schema.get("$defs", {}))
            known = {_ref_name(branch) for branch in branches}
            for branch in union_schema.get("anyOf", []) + union_schema.get("oneOf", []):
                ref = _ref_name(branch)
                if ref is None or ref in known or "OneOf" in ref:
                    continue
                branches.append({"$ref": COMPONENT_PREFIX + ref})
                known.add(ref)
                changes.append(f"{name}: added union branch {ref}")
    # Definitions referenced by the models but unknown to the spec (e.g. new 1.20 types).
    queue = dict(pending_defs)
    while queue:
        def_name, def_schema = queue.popitem()
        if def_name in components:
            continue
        queue.update(def_schema.get("$defs", {}))
        components[def_name] = _convert_schema(def_schema)
        changes.append(f"{def_name}: added component schema")
    _add_missing_referenced(components, changes)
    return changes


def _add_missing_referenced(components: dict[str, Any], changes: list[str]) -> None:
    """Add component schemas referenced by added parts but defined only in the client models."""
    namespace = _model_namespace()
    while True:
        missing = sorted(
            {
                ref[len(COMPONENT_PREFIX) :]
                for ref in _iter_refs(components)
                if ref.startswith(COMPONENT_PREFIX)
            }
            - set(components)
        )
        added = False
        for name in missing:
            obj = namespace.get(name)
            schema = _pydantic_schema(obj) if obj is not None else None
            if schema is None:
                continue
            for def_name, def_schema in schema.pop("$defs", {}).items():
                components.setdefault(def_name, _convert_schema(def_schema))
            components[name] = _convert_schema(schema)
            changes.append(f"{name}: added component schema")
            added = True
        if not added:
            return


def _iter_refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _iter_refs(item)


# --------------------------------------------------------------------------------------------
# Spec loading (module-level cache)
# --------------------------------------------------------------------------------------------


class _Spec:
    """One loaded, converted and overlaid OpenAPI document."""

    def __init__(self, path: Path, overlay: bool) -> None:
        raw = json.loads(path.read_text())
        self.name = path.name
        self.paths: dict[str, dict[str, Any]] = raw.get("paths", {})
        components = {
            name: _convert_schema(schema)
            for name, schema in raw.get("components", {}).get("schemas", {}).items()
        }
        self.overlay_changes = apply_client_overlay(components) if overlay else []
        self.components = components
        self.templates: list[tuple[str, re.Pattern[str], int]] = []
        for template in self.paths:
            segments = template.strip("/").split("/") if template != "/" else []
            literal = sum(1 for seg in segments if not seg.startswith("{"))
            pattern = "".join(
                "/[^/]+" if seg.startswith("{") and seg.endswith("}") else "/" + re.escape(seg)
                for seg in segments
            )
            self.templates.append((template, re.compile("^" + (pattern or "/") + "$"), literal))
        # More literal segments first: ``/points/scroll`` wins over ``/points/{id}``.
        self.templates.sort(key=lambda item: (-item[2], item[0]))
        self._validators: dict[tuple[str, str, str], Draft202012Validator | None] = {}
        self._lock = threading.Lock()

    def match(self, path: str) -> list[str]:
        return [template for template, regex, _ in self.templates if regex.match(path)]

    def validator(self, template: str, method: str, status_key: str) -> Draft202012Validator | None:
        key = (template, method, status_key)
        with self._lock:
            if key in self._validators:
                return self._validators[key]
        response = self.paths[template][method]["responses"][status_key]
        content = response.get("content") or {}
        media = content.get("application/json")
        if media is None or "schema" not in media:
            validator = None
        else:
            root = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "allOf": [_convert_schema(media["schema"])],
                "components": {"schemas": self.components},
            }
            validator = Draft202012Validator(root, format_checker=_FORMAT_CHECKER)
        with self._lock:
            self._validators[key] = validator
        return validator


_SPEC_CACHE: dict[tuple[str, bool], _Spec] = {}
_SPEC_CACHE_LOCK = threading.Lock()


def load_spec(path: Path | str, overlay: bool = True) -> _Spec:
    """Load (once per process) a converted OpenAPI spec, optionally with the 1.20 overlay."""
    resolved = Path(path).resolve()
    key = (str(resolved), overlay)
    with _SPEC_CACHE_LOCK:
        spec = _SPEC_CACHE.get(key)
        if spec is None:
            spec = _Spec(resolved, overlay)
            _SPEC_CACHE[key] = spec
        return spec


# --------------------------------------------------------------------------------------------
# Formats (lenient)
# --------------------------------------------------------------------------------------------

_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@_FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _check_uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


@_FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _check_date_time(value: object) -> bool:
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Lenient: accept anything Python's ISO parser accepts (incl. a bare date).
        _dt.datetime.fromisoformat(text)
    return True


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


def _status_keys(status: int) -> list[str]:
    return [str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"]


def _json_pointer(parts: Iterable[Any]) -> str:
    escaped = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "/" + "/".join(escaped) if escaped else "/"


def _short(value: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(value, default=str)
    except Exception:  # pragma: no cover
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _closest_branch(error: ValidationError) -> list[ValidationError]:
    """Leaf errors of the anyOf/oneOf branch that came closest to matching.

    Branches failing on an ``enum``/``const`` (Qdrant's tagged unions) rank last; among the
    rest, the branch with the fewest leaf errors wins.
    """
    if not error.context:
        return [error]
    groups: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else None
        groups.setdefault(branch, []).append(sub)
    best: list[ValidationError] | None = None
    best_score: tuple[int, int] | None = None
    for subs in groups.values():
        leaves = [leaf for sub in subs for leaf in _closest_branch(sub)]
        tagged = any(leaf.validator in ("enum", "const") for leaf in leaves)
        score = (int(tagged), len(leaves))
        if best_score is None or score < best_score:
            best, best_score = leaves, score
    return best or [error]


def _leaf_errors(error: ValidationError) -> list[tuple[str, str]]:
    """Distinct leaf errors of the closest anyOf/oneOf branch, deepest first."""
    leaves = sorted(_closest_branch(error), key=lambda e: (-len(e.absolute_path), relevance(e)))
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for leaf in leaves:
        item = (_json_pointer(leaf.absolute_path), leaf.message[:200])
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _best_error(errors: list[ValidationError]) -> ValidationError:
    return best_match(errors) or errors[0]


class OpenApiChecker:
    """Validate JSON response bodies against the (patched) Qdrant OpenAPI spec.

    ``allow_paths``: concrete paths or :mod:`fnmatch` patterns (after prefix stripping) that may
    be absent from the specs; such requests are silently not validated.
    ``strip_prefixes``: path prefixes removed before matching (``/qdrant`` by default).
    """

    def __init__(
        self,
        spec_files: Iterable[Path | str] = DEFAULT_SPEC_FILES,
        *,
        allow_paths: Iterable[str] = (),
        strip_prefixes: Iterable[str] = DEFAULT_STRIP_PREFIXES,
        overlay: bool = True,
    ) -> None:
        self.specs = [load_spec(path, overlay=overlay) for path in spec_files]
        self.allow_paths = tuple(allow_paths)
        self.strip_prefixes = tuple(p.rstrip("/") for p in strip_prefixes if p.strip("/"))
        self.checked = 0

    def normalize_path(self, path: str) -> str:
        """Drop query string, known prefixes and the trailing slash."""
        path = path.split("?", 1)[0].split("#", 1)[0] or "/"
        if not path.startswith("/"):
            path = "/" + path
        for prefix in self.strip_prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                path = path[len(prefix) :] or "/"
                break
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        return path

    def _is_allowed(self, path: str) -> bool:
        return any(path == pat or fnmatch.fnmatchcase(path, pat) for pat in self.allow_paths)

    def find_operation(self, method: str, path: str) -> tuple[_Spec, str, str] | None:
        """Return ``(spec, template, method)`` for a normalized concrete path, or None."""
        method = method.lower()
        path_known = False
        for spec in self.specs:
            for template in spec.match(path):
                path_known = True
                if method in spec.paths[template]:
                    return spec, template, method
        if path_known:
            raise AssertionError(f"undocumented method {method.upper()} {path}")
        return None

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """Validate ``body`` of a ``status`` response to ``method path``; AssertionError if not."""
        norm = self.normalize_path(path)
        if self._is_allowed(norm):
            return
        found = self.find_operation(method, norm)
        if found is None:
            raise AssertionError(f"undocumented path {method.upper()} {norm} (request {path})")
        spec, template, op_method = found
        responses = spec.paths[template][op_method].get("responses", {})
        status_key = next((k for k in _status_keys(status) if k in responses), None)
        if status_key is None:
            raise AssertionError(
                f"undocumented status {status} for {method.upper()} {template} "
                f"(documented: {sorted(responses)}; spec {spec.name})"
            )
        validator = spec.validator(template, op_method, status_key)
        self.checked += 1
        if validator is None:
            return
        errors = list(validator.iter_errors(body))
        if not errors:
            return
        error = _best_error(errors)
        pointer = _json_pointer(error.absolute_path)
        schema_path = "/".join(str(p) for p in list(error.absolute_schema_path)[1:])
        details = [
            f"OpenAPI mismatch: {method.upper()} {path} -> {status}",
            f"  operation: {op_method.upper()} {template} (response {status_key!r}, {spec.name})",
            f"  at {pointer}: {error.message}",
            f"  schema path: {schema_path}",
            f"  value: {_short(error.instance)}",
        ]
        if error.context:
            details.append("  closest branch fails with:")
            for sub_ptr, sub_msg in _leaf_errors(error)[:8]:
                details.append(f"    - {sub_ptr}: {sub_msg}")
        if len(errors) > 1:
            details.append(f"  ({len(errors)} errors total)")
        raise AssertionError("\n".join(details))

    def check_response(self, response: httpx.Response, strip_prefix: str = "") -> None:
        """Validate an :class:`httpx.Response` if it carries JSON (others are skipped)."""
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type.lower():
            return
        try:
            content = response.content
        except httpx.ResponseNotRead:
            content = response.read()
        if not content:
            return
        try:
            body = response.json()
        except ValueError as exc:
            raise AssertionError(
                f"invalid JSON from {response.request.method} {response.request.url}: {exc}"
            ) from exc
        raw_path = response.request.url.raw_path.decode("ascii", "replace")
        if strip_prefix and (raw_path == strip_prefix or raw_path.startswith(strip_prefix + "/")):
            raw_path = raw_path[len(strip_prefix) :] or "/"
        self.check(response.request.method, raw_path, response.status_code, body)


_DEFAULT_CHECKER: OpenApiChecker | None = None


def default_checker() -> OpenApiChecker:
    """A process-wide checker with default settings."""
    global _DEFAULT_CHECKER
    if _DEFAULT_CHECKER is None:
        _DEFAULT_CHECKER = OpenApiChecker()
    return _DEFAULT_CHECKER


# --------------------------------------------------------------------------------------------
# HTTP integration
# --------------------------------------------------------------------------------------------


def _base_path(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    return path


def checked_client(
    base_url: str, checker: OpenApiChecker | None = None, **kwargs: Any
) -> httpx.Client:
    """An ``httpx.Client`` whose every JSON response is validated against the spec."""
    chk = checker or default_checker()
    prefix = _base_path(base_url)

    def hook(response: httpx.Response) -> None:
        chk.check_response(response, strip_prefix=prefix)

    hooks = dict(kwargs.pop("event_hooks", {}) or {})
    hooks["response"] = [*hooks.get("response", []), hook]
    return httpx.Client(base_url=base_url, event_hooks=hooks, **kwargs)


def install_qdrant_client_hook(client: Any, checker: OpenApiChecker | None = None) -> None:
    """Validate all REST traffic of a ``QdrantClient`` / ``AsyncQdrantClient``.

    Adds a middleware to qdrant-client's generated ``ApiClient`` (``client.http.client``).
    Raises ``TypeError`` for clients without a REST transport (e.g. local mode).
    """
    from qdrant_client.http.api_client import ApiClient, AsyncApiClient

    chk = checker or default_checker()
    remote = getattr(client, "_client", client)
    apis = getattr(remote, "openapi_client", None)
    api_client = getattr(apis, "client", None)
    prefix = _base_path(getattr(remote, "rest_uri", "") or "")

    if isinstance(api_client, ApiClient):

        def middleware(
            request: httpx.Request, call_next: Callable[[httpx.Request], httpx.Response]
        ) -> httpx.Response:
            response = call_next(request)
            chk.check_response(response, strip_prefix=prefix)
            return response

        api_client.add_middleware(middleware)
    elif isinstance(api_client, AsyncApiClient):

        async def async_middleware(request: httpx.Request, call_next: Any) -> httpx.Response:
            response: httpx.Response = await call_next(request)
            await response.aread()
            chk.check_response(response, strip_prefix=prefix)
            return response

        api_client.add_middleware(async_middleware)
    else:
        raise TypeError(f"{type(client).__name__} has no REST ApiClient to hook")
