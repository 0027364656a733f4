"""Vector clocks, 64 nodes: compiled kernel vs pure reference vs numpy, one run.

Per-call figures are one merge of two 64-node clocks per Python call (what the sync engine does
per peer message); batched figures fold a 1,000 x 64 matrix in one call (per merge = per row).
Issue 5 targets: >= 10 M merges/s batched and >= 3 M/s per call from Python. DESIGN.md section 8
anchor: pure-Python 64-node dict merge ~0.23 M/s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.report import Table
from benchmarks.runner import calibrate, timeit
from vaultsync import native

NODES = 64
BATCH = 1_000


def run(quick: bool) -> list[Table]:
    pure = native.load_pure("vclock")
    compiled: ModuleType | None = None
    with contextlib.suppress(ImportError):
        compiled = native.load_compiled("vclock")
    rng = np.random.default_rng(20240601)
    ids = [f"till-{i:02d}.shop-{i % 4}" for i in range(NODES)]
    a = rng.integers(0, 1_000_000, NODES, dtype=np.int64)
    b = rng.integers(0, 1_000_000, NODES, dtype=np.int64)
    da, db = dict(zip(ids, a.tolist(), strict=True)), dict(zip(ids, b.tolist(), strict=True))
    m = rng.integers(0, 1_000_000, (BATCH, NODES), dtype=np.int64)
    dst = a.copy()
    repeat = 3 if quick else 7

    def per_call(fn: Callable[[], Any]) -> float:
        return timeit(fn, repeat=repeat, number=calibrate(fn, 0.02 if quick else 0.1))

    cases: list[tuple[str, str, Callable[[], Any], int]] = []
    if compiled is not None:
        c = compiled
        cases += [
            ("compiled merge_dense (new array)", "per call", lambda: c.merge_dense(a, b), 1),
            ("compiled merge_into (in place)", "per call", lambda: c.merge_into(dst, b), 1),
            ("compiled merge (dict)", "per call", lambda: c.merge(da, db), 1),
            ("compiled merge_many", f"batch {BATCH}", lambda: c.merge_many(m), BATCH),
        ]
    cases += [
        ("pure merge (dict)", "per call", lambda: pure.merge(da, db), 1),
        ("pure merge_dense", "per call", lambda: pure.merge_dense(a, b), 1),
        ("pure merge_many", f"batch {BATCH}", lambda: pure.merge_many(m), BATCH),
        ("numpy np.maximum(a, b)", "per call", lambda: np.maximum(a, b), 1),
        ("numpy np.maximum(d, s, out=d)", "per call", lambda: np.maximum(dst, b, out=dst), 1),
        ("numpy m.max(axis=0)", f"batch {BATCH}", lambda: m.max(axis=0), BATCH),
    ]
    measured = [(name, kind, per_call(fn) / merges) for name, kind, fn, merges in cases]
    base = dict((n, t) for n, _, t in measured)["pure merge (dict)"]
    rows = [[name, kind, t * 1e9, 1e-6 / t, base / t] for name, kind, t in measured]
    table = Table(
        title=f"vector-clock merge, {NODES} nodes",
        columns=["implementation", "mode", "ns / merge", "M merges/s", "x pure dict"],
        rows=rows,
        notes=[
            "median of rounds; per-call rows include the Python call and argument validation",
            f"batched rows: one call folds {BATCH} clocks; ns / merge = call time / {BATCH}",
            "DESIGN.md anchor: pure-Python 64-node dict merge ~0.23 M/s",
        ],
    )
    if compiled is not None:
        rate = {n: 1e-6 / t for n, _, t in measured}
        table.targets = [
            (
                f"batched >= 10 M/s (compiled merge_many: {rate['compiled merge_many']:.1f} M/s)",
                rate["compiled merge_many"] >= 10,
            ),
            (
                "per call >= 3 M/s (compiled merge_dense: "
                f"{rate['compiled merge_dense (new array)']:.2f} M/s; merge_into: "
                f"{rate['compiled merge_into (in place)']:.2f} M/s)",
                rate["compiled merge_dense (new array)"] >= 3,
            ),
        ]
    else:
        table.notes.append("compiled kernel not built: targets not assessed")
    return [table]
