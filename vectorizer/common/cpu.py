"""CPU counts for background work, as Qdrant picks them, and the optimizer's thread priority.

- `num_cpus()`: `QDRANT_NUM_CPUS` when set to a positive number, else the machine's CPUs.
- `cpu_budget(param)`: the CPUs optimizations may use (`storage.performance.
  optimizer_cpu_budget`): 0 picks automatically (every CPU up to 2 CPUs, then one or more
  left free), a negative value leaves that many free, a positive one is exact; at least 1.
- `hnsw_threads(max_indexing_threads)`: threads for one graph build: the collection's
  `max_indexing_threads` or Qdrant's default for the CPU count, never above the budget.
- `lower_thread_priority()`: the calling thread (and threads it starts, such as the
  OpenMP pool of its graph builds) runs at nice 10, as Qdrant runs its optimizers, so
  searches and updates get the CPU first while an index builds.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("vectorizer")

#: `storage.performance.optimizer_cpu_budget` of this process (`configure_budget`).
_BUDGET_PARAM = [0]

LOW_PRIORITY_NICE = 10


def num_cpus() -> int:
    try:
        cpus = int(os.environ.get("QDRANT_NUM_CPUS", "0"))
    except ValueError:
        cpus = 0
    return cpus if cpus > 0 else os.cpu_count() or 1


def _unallocated(cpus: int) -> int:
    """CPUs the automatic budget leaves free (Qdrant's table)."""
    if cpus <= 2:
        return 0
    for limit, free in ((32, 1), (48, 2), (64, 3), (96, 4), (128, 6)):
        if cpus <= limit:
            return free
    return cpus // 16


def cpu_budget(param: int | None = None) -> int:
    """The CPUs optimizations may use, for `optimizer_cpu_budget` = `param` (default:
    the configured one)."""
    param = _BUDGET_PARAM[0] if param is None else int(param)
    if param > 0:
        return param
    cpus = num_cpus()
    return max(cpus - (-param if param < 0 else _unallocated(cpus)), 1)


def configure_budget(param: int) -> None:
    """Set this process's `optimizer_cpu_budget` (from the config file)."""
    _BUDGET_PARAM[0] = int(param or 0)


def hnsw_threads(max_indexing_threads: int = 0) -> int:
    """Threads for one HNSW build: `max_indexing_threads` when set, else 8 up to 48 CPUs,
    12 up to 64, 16 beyond (fewer on smaller machines); capped by the CPU budget."""
    if max_indexing_threads > 0:
        desired = int(max_indexing_threads)
    else:
        cpus = num_cpus()
        desired = min(cpus, 8) if cpus <= 48 else 12 if cpus <= 64 else 16
    return max(min(desired, cpu_budget()), 1)


def lower_thread_priority() -> None:
    """Run the calling thread at nice 10 (Linux keeps a nice value per thread; threads
    started from it inherit it). Soft-fails where the platform does not allow it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY_NICE)
    except (AttributeError, OSError) as exc:
        log.debug("could not lower the optimizer's priority: %s", exc)
