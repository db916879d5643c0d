"""Shared pieces of the benchmarks: data generation, timing, and table printing."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def make_points(n: int, dim: int, seed: int = 42) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Clustered float32 vectors and small mixed payloads, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(64, dim)).astype(np.float32)
    labels = rng.integers(0, 64, size=n)
    vectors = centers[labels] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    colors = ["red", "green", "blue", "black", "white"]
    payloads = [{"i": i, "color": colors[i % 5], "cluster": int(labels[i]),
                 "price": float(i % 1000) / 10.0} for i in range(n)]
    return vectors.astype(np.float32), payloads


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def taking_turns(systems: dict[str, tuple[Callable[[Any], Any], Sequence[Any]]],
                 seconds: float, block: int) -> dict[str, float]:
    """Seconds per input of each system (name -> (call, its inputs, all lists of the same
    length)), timed taking turns of `block` inputs, alternating which goes first, over
    whole passes for at least `seconds`: every system sees the same swings of host load."""
    names = list(systems)
    totals = dict.fromkeys(names, 0.0)
    length = len(next(iter(systems.values()))[1])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for turn, first in enumerate(range(0, length, block)):
            for name in names if turn % 2 == 0 else names[::-1]:
                call, inputs = systems[name]
                t0 = time.perf_counter()
                for item in inputs[first:first + block]:
                    call(item)
                totals[name] += time.perf_counter() - t0
        done += length
    return {name: totals[name] / done for name in names}


def print_table(title: str, rows: list[tuple[str, float, str]], unit: str) -> None:
    """rows: (name, value, note); the first row is the reference for ratios."""
    print(f"\n{title}")
    print(f"{'system':<38}{unit:>14}{'ratio':>10}  note")
    ref = rows[0][1] if rows else 1.0
    for name, value, note in rows:
        ratio = value / ref if ref else float("nan")
        print(f"{name:<38}{value:>14,.0f}{ratio:>10.2f}  {note}")


# ---------------------------------------------------------------- search benchmark helpers


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left as they are), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


def exact_top_k(unit_vectors: np.ndarray, unit_queries: np.ndarray, k: int,
                ids: np.ndarray | None = None, block: int = 256) -> np.ndarray:
    """Exact cosine top-`k` (rows of `ids`, or row numbers) for unit-length inputs."""
    out = np.empty((len(unit_queries), min(k, len(unit_vectors))), dtype=np.int64)
    for start in range(0, len(unit_queries), block):
        sims = unit_queries[start:start + block] @ unit_vectors.T
        part = np.argpartition(-sims, out.shape[1] - 1, axis=1)[:, :out.shape[1]]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        out[start:start + block] = np.take_along_axis(part, order, axis=1)
    return out if ids is None else ids[out]


def recall_at_k(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean share of each query's true top-k found among its returned ids."""
    if not found:
        return float("nan")
    k = truth.shape[1]
    return float(np.mean([len(set(f) & set(t.tolist())) / k
                          for f, t in zip(found, truth, strict=False)]))


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """Memory lines of /proc/<pid>/status in bytes: VmHWM (peak RSS), VmRSS, RssAnon, RssFile."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024
    return out


def mapped_rss(under: str, pid: int | str = "self") -> tuple[int, list[str]]:
    """Resident bytes of the memory mappings of files under directory `under`, and those files.

    Sums the `Rss:` lines of /proc/<pid>/smaps for every mapping whose path starts with
    `under` (memory-mapped storage files of a collection).
    """
    prefix = str(under).rstrip("/") + "/"
    total, files, current = 0, set(), False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):  # a mapping header line
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) > 5 else ""
                current = path.startswith(prefix)
                if current:
                    files.add(path)
            elif current and head == "Rss:":
                total += int(line.split()[1]) * 1024
    return total, sorted(files)


_NUMBER = re.compile(r"^[-+]?[\d,.]+( ?[%x]|s| MB)?$")


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned, everything else left-aligned."""
    cells = [[str(c) for c in r] for r in rows]

    def numeric(col: int) -> bool:
        values = [r[col] for r in cells if r[col] not in ("", "-", "n/a")]
        return bool(values) and all(_NUMBER.match(v) for v in values)

    align = ["---:" if numeric(i) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines)


class KeepAliveClient:
    """A minimal keep-alive HTTP/1.1 JSON client on the standard library's `http.client`.

    The REST benchmark measures the server, so its client should cost little: on the
    2-core test machine a request through `http.client` costs the client ~0.1 ms,
    through httpx ~0.5 ms (measured side by side: 699 vs 1,174 us per search).
    """

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1",
                                               parts.port or 80, timeout=timeout)
        self.headers = {"content-type": "application/json"}

    def post(self, path: str, body: bytes) -> bytes:
        """POST `body` and return the response body; raise on an error status."""
        self.conn.request("POST", path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 400:
            raise RuntimeError(f"POST {path}: HTTP {resp.status}: {data[:300]!r}")
        return data

    def close(self) -> None:
        self.conn.close()
