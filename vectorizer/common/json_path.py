"""Qdrant's JSON paths into payloads: `a.b`, `a[].b`, `a[0].b`, `"quoted.key"`.

Resolution follows Qdrant: a key step only descends into an object, `[]` fans
out over every element of an array, `[i]` picks one element.  The values found
at the end are returned as they are; callers that match conditions treat an
array value as "any of its elements".
"""

from __future__ import annotations

import functools
import re
from typing import Any

_TOKEN = re.compile(r'\.?(?:"((?:[^"\\]|\\.)*)"|([^.\[\]"]+))|\[(\d*)\]')

Step = str | int | None  # key, index, or None for the `[]` wildcard


class JsonPathError(ValueError):
    """A payload key that is not a valid JSON path."""


@functools.lru_cache(maxsize=4096)
def parse(path: str) -> tuple[Step, ...]:
    """Split `path` into steps; raises JsonPathError for malformed paths."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            raise JsonPathError(f"Invalid JSON path: {path!r}")
        quoted, bare, index = m.group(1), m.group(2), m.group(3)
        if quoted is not None:
            steps.append(quoted.replace('\\"', '"'))
        elif bare is not None:
            steps.append(bare)
        elif index == "":
            steps.append(None)
        else:
            steps.append(int(index))
        if not steps or (pos == 0 and not isinstance(steps[0], str)):
            raise JsonPathError(f"Invalid JSON path: {path!r}")
        pos = m.end()
    if not steps or not isinstance(steps[0], str):
        raise JsonPathError(f"Invalid JSON path: {path!r}")
    return tuple(steps)


def _get(steps: tuple[Step, ...], i: int, value: Any, out: list[Any]) -> None:
    if i == len(steps):
        out.append(value)
        return
    step = steps[i]
    if isinstance(step, str):
        if isinstance(value, dict) and step in value:
            _get(steps, i + 1, value[step], out)
    elif isinstance(value, list):
        if step is None:
            for item in value:
                _get(steps, i + 1, item, out)
        elif step < len(value):
            _get(steps, i + 1, value[step], out)


def get_values(payload: dict[str, Any], key: str) -> list[Any]:
    """The values found at `key`, unflattened (an array value stays one list)."""
    out: list[Any] = []
    if payload:
        _get(parse(key), 0, payload, out)
    return out


def extract_values(payload: dict[str, Any], key: str) -> list[Any]:
    """The values at `key`, with array values flattened one level (what indexes store)."""
    out: list[Any] = []
    for value in get_values(payload, key):
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def _set(steps: tuple[Step, ...], i: int, dest: Any, src: dict[str, Any]) -> Any:
    if i == len(steps):
        if not isinstance(dest, dict):
            dest = {}
        dest.update(src)
        return dest
    step = steps[i]
    if isinstance(step, str):
        if not isinstance(dest, dict):
            dest = {}
        dest[step] = _set(steps, i + 1, dest.get(step), src)
        return dest
    if not isinstance(dest, list):
        return []
    if step is None:
        for j, item in enumerate(dest):
            dest[j] = _set(steps, i + 1, item, src)
    elif step < len(dest):
        dest[step] = _set(steps, i + 1, dest[step], src)
    return dest


def set_by_path(payload: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    """Merge the object `value` into the object found at `key`, creating it as Qdrant does."""
    steps = parse(key)
    payload[steps[0]] = _set(steps, 1, payload.get(steps[0]), value)  # type: ignore[index]


def _remove(steps: tuple[Step, ...], i: int, value: Any) -> None:
    step = steps[i]
    last = i == len(steps) - 1
    if isinstance(step, str):
        if isinstance(value, dict) and step in value:
            if last:
                del value[step]
            else:
                _remove(steps, i + 1, value[step])
    elif isinstance(value, list):
        if step is None:
            if last:
                value.clear()
            else:
                for item in value:
                    _remove(steps, i + 1, item)
        elif step < len(value):
            if last:
                del value[step]
            else:
                _remove(steps, i + 1, value[step])


def delete_by_path(payload: dict[str, Any], key: str) -> None:
    """Remove whatever `key` resolves to from `payload` (in place)."""
    _remove(parse(key), 0, payload)


def is_valid(key: str) -> bool:
    try:
        parse(key)
    except JsonPathError:
        return False
    return True
