"""`with_payload` / `with_vector` selectors turned into functions applied to each record."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from vectorizer.common import json_path

PayloadFn = Callable[[dict[str, Any]], dict[str, Any]]


def _include(keys: list[str]) -> PayloadFn:
    def pick(payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in keys:
            parts = key.split(".")
            src: Any = payload
            for part in parts:
                if not isinstance(src, dict) or part not in src:
                    break
                src = src[part]
            else:
                dst = out
                for part in parts[:-1]:
                    dst = dst.setdefault(part, {})
                dst[parts[-1]] = src
        return out

    return pick


def _exclude(keys: list[str]) -> PayloadFn:
    def drop(payload: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(payload)
        for key in keys:
            json_path.delete_by_path(out, key)
        return out

    return drop


def payload_selector(spec: Any) -> PayloadFn | None:
    """None means no payload; otherwise a function returning the selected payload.

    Accepts the wire forms: bool, list of keys, `{"include": [...]}`, `{"exclude": [...]}`.
    """
    if spec is None or spec is False:
        return None
    if spec is True:
        return lambda payload: payload
    if isinstance(spec, list):
        return _include([str(k) for k in spec])
    if isinstance(spec, dict):
        if "include" in spec:
            return _include(list(spec["include"]))
        if "exclude" in spec:
            return _exclude(list(spec["exclude"]))
    raise ValueError(f"invalid with_payload value: {spec!r}")


def vector_selector(spec: Any) -> bool | list[str]:
    """`with_vector(s)` wire value as True/False or the list of vector names."""
    if spec is None or spec is False:
        return False
    if spec is True:
        return True
    if isinstance(spec, list):
        return [str(s) for s in spec]
    raise ValueError(f"invalid with_vector value: {spec!r}")
