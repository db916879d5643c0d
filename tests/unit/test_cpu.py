"""CPU budget and graph-build thread counts, as Qdrant derives them from the CPU count."""

from __future__ import annotations

import pytest

from vectorizer.common import cpu


@pytest.mark.parametrize(("cpus", "param", "budget"), [
    (1, 0, 1), (2, 0, 2), (4, 0, 3), (32, 0, 31), (40, 0, 38), (64, 0, 61), (100, 0, 94),
    (256, 0, 240), (2, -1, 1), (4, -8, 1), (4, -1, 3), (4, 6, 6)])
def test_cpu_budget(monkeypatch: pytest.MonkeyPatch, cpus: int, param: int,
                    budget: int) -> None:
    monkeypatch.setenv("QDRANT_NUM_CPUS", str(cpus))
    assert cpu.cpu_budget(param) == budget


@pytest.mark.parametrize(("cpus", "param", "max_threads", "threads"), [
    (2, 0, 0, 2), (4, 0, 0, 3), (16, 0, 0, 8), (60, 0, 0, 12), (100, 0, 0, 16),
    (16, 0, 3, 3), (16, 2, 0, 2), (16, 2, 5, 2), (2, 0, 6, 2)])
def test_hnsw_threads_within_budget(monkeypatch: pytest.MonkeyPatch, cpus: int, param: int,
                                    max_threads: int, threads: int) -> None:
    monkeypatch.setenv("QDRANT_NUM_CPUS", str(cpus))
    monkeypatch.setattr(cpu, "_BUDGET_PARAM", [param])
    assert cpu.hnsw_threads(max_threads) == threads


def test_unparsable_cpu_count_falls_back_to_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_NUM_CPUS", "many")
    assert cpu.num_cpus() >= 1
