"""Search and recommend results grouped by a payload field, as Qdrant's `/groups` endpoints.

Groups are ordered by their best hit; each keeps its `group_size` best hits.  A
point joins one group per distinct value at `group_by` (strings and integers; a
point with any other value type joins none).  Candidates are fetched in growing
pages until the first `limit` groups are full or the candidates run out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vectorizer.common import json_path

Hit = dict[str, Any]


def _group_ids(payload: dict[str, Any] | None, key: str) -> list[Any] | None:
    values = json_path.extract_values(payload or {}, key)
    if not values or any(type(v) not in (str, int) for v in values):
        return None
    return list(dict.fromkeys(values))


def group_hits(fetch: Callable[[int], list[Hit]], group_by: str, limit: int, group_size: int,
               select_payload: Callable[[dict], Any] | None) -> list[dict[str, Any]]:
    """`fetch(n)` returns the best `n` hits with full payloads, best first."""
    page = max(limit * group_size * 2, 16)
    while True:
        hits = fetch(page)
        groups: dict[Any, dict[str, Any]] = {}
        for hit in hits:
            ids = _group_ids(hit.get("payload"), group_by)
            if ids is None:
                continue
            for gid in ids:
                group = groups.setdefault(gid, {"id": gid, "hits": []})
                if len(group["hits"]) < group_size:
                    group["hits"].append(hit)
        first = list(groups.values())[:limit]
        complete = len(first) == limit and all(len(g["hits"]) == group_size for g in first)
        if complete or len(hits) < page:
            break
        page *= 4
    out = []
    for group in first:
        shown = []
        for hit in group["hits"]:
            hit = dict(hit)
            hit["payload"] = select_payload(hit["payload"] or {}) if select_payload else None
            shown.append(hit)
        out.append({"id": group["id"], "hits": shown})
    return out


def attach_lookup(groups: list[dict[str, Any]], target: Any,
                  with_payload: Callable[[dict], Any] | None,
                  with_vectors: bool | list[str]) -> None:
    """`with_lookup`: each group gets the point of `target` whose id is the group id."""
    for group in groups:
        found = target.retrieve([group["id"]], with_payload, with_vectors)
        group["lookup"] = found[0] if found else None
