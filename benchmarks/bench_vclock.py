"""Vector-clock kernel micro-benchmarks: pure reference vs compiled kernel vs a numpy baseline.

64-node clocks (a large multi-store mesh), every node present on both sides. Run with::

    .venv/bin/python -m pytest benchmarks/bench_vclock.py --benchmark-group-by=group

Each group prints the implementations side by side; the compiled column is skipped when the
extension is not built. DESIGN.md section 8 puts the pure-Python 64-node dict merge at about
0.23 M merges/s on the 2-core reference machine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from vaultsync import native

NODES = 64
BATCH = 1_000  # clocks per batch call (e.g. one per peer or per replayed snapshot)

IMPLS: dict[str, ModuleType] = {"pure": native.load_pure("vclock")}
with contextlib.suppress(ImportError):  # not built: the compiled column is skipped
    IMPLS["compiled"] = native.load_compiled("vclock")


def impl(name: str) -> ModuleType:
    if name not in IMPLS:
        pytest.skip("compiled vclock kernel not built")
    return IMPLS[name]


RNG = np.random.default_rng(20240601)
NODE_IDS = [f"till-{i:02d}.shop-{i % 4}" for i in range(NODES)]
DENSE_A = RNG.integers(0, 1_000_000, NODES, dtype=np.int64)
DENSE_B = RNG.integers(0, 1_000_000, NODES, dtype=np.int64)
DICT_A = dict(zip(NODE_IDS, DENSE_A.tolist(), strict=True))
DICT_B = dict(zip(NODE_IDS, DENSE_B.tolist(), strict=True))
MATRIX = RNG.integers(0, 1_000_000, (BATCH, NODES), dtype=np.int64)


def run(benchmark: Any, fn: Callable[..., Any], *args: Any) -> Any:
    benchmark.extra_info["nodes"] = NODES
    return benchmark(fn, *args)


@pytest.mark.benchmark(group="vclock merge, dict, 64 nodes")
@pytest.mark.parametrize("name", ["pure", "compiled"])
def test_merge_dict(benchmark: Any, name: str) -> None:
    result = run(benchmark, impl(name).merge, DICT_A, DICT_B)
    assert len(result) == NODES


@pytest.mark.benchmark(group="vclock compare, dict, 64 nodes")
@pytest.mark.parametrize("name", ["pure", "compiled"])
def test_compare_dict(benchmark: Any, name: str) -> None:
    run(benchmark, impl(name).compare, DICT_A, DICT_B)


@pytest.mark.benchmark(group="vclock merge, dense, 64 nodes")
@pytest.mark.parametrize("name", ["numpy", "pure", "compiled"])
def test_merge_dense(benchmark: Any, name: str) -> None:
    fn = np.maximum if name == "numpy" else impl(name).merge_dense
    result = run(benchmark, fn, DENSE_A, DENSE_B)
    assert result.shape == (NODES,)


@pytest.mark.benchmark(group="vclock merge in place, dense, 64 nodes")
@pytest.mark.parametrize("name", ["numpy", "pure", "compiled"])
def test_merge_into(benchmark: Any, name: str) -> None:
    dst = DENSE_A.copy()
    if name == "numpy":
        run(benchmark, lambda d, s: np.maximum(d, s, out=d), dst, DENSE_B)
    else:
        run(benchmark, impl(name).merge_into, dst, DENSE_B)


@pytest.mark.benchmark(group=f"vclock merge_many, {BATCH} x 64 nodes")
@pytest.mark.parametrize("name", ["numpy", "pure", "compiled"])
def test_merge_many(benchmark: Any, name: str) -> None:
    fn = (lambda m: m.max(axis=0)) if name == "numpy" else impl(name).merge_many
    run(benchmark, fn, MATRIX)


@pytest.mark.benchmark(group=f"vclock compare_many, {BATCH} x 64 nodes")
@pytest.mark.parametrize("name", ["pure", "compiled"])
def test_compare_many(benchmark: Any, name: str) -> None:
    run(benchmark, impl(name).compare_many, MATRIX, DENSE_A)
