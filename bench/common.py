"""Shared pieces of the benchmarks: data generation, timing, and table printing."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def print_table(title: str, rows: list[tuple[str, float, str]], unit: str) -> None:
    """rows: (name, value, note); the first row is the reference for ratios."""
    print(f"\n{title}")
    print(f"{'system':<38}{unit:>14}{'ratio':>10}  note")
    ref = rows[0][1] if rows else 1.0
    for name, value, note in rows:
        ratio = value / ref if ref else float("nan")
        print(f"{name:<38}{value:>14,.0f}{ratio:>10.2f}  {note}")
