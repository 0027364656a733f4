"""Diff: two replicas differing in 0.1 % of their rows, and the clock-based change selection.

Issue 5 target: diff of two 1,000,000-row replicas with 1,000 differences <= 5 ms. Anchors
measured before the issue: ~80 ms pure-Python set difference, ~14 ms numpy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.report import Table
from benchmarks.runner import timeit
from vaultsync import native

BUCKETS = 65_536


def replicas(n: int, differences: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """Replica a and b of one table: b misses some of a's rows, has some of its own, and has
    different versions for others (a third of the differences each)."""
    rng = np.random.default_rng(seed)
    keys: np.ndarray = np.unique(rng.integers(0, 4 * n, int(n * 1.05)))[: n + differences // 3]
    versions = rng.integers(-(2**63), 2**63 - 1, (keys.shape[0],), dtype=np.int64)
    pick = rng.choice(keys.shape[0], differences, replace=False)
    only_b, only_a, changed = np.array_split(pick, 3)
    a_rows = np.setdiff1d(np.arange(keys.shape[0]), only_b)
    b_rows = np.setdiff1d(np.arange(keys.shape[0]), only_a)
    vb_all = versions.copy()
    vb_all[changed] ^= 1
    return keys[a_rows], versions[a_rows], keys[b_rows], vb_all[b_rows]


def numpy_diff(ka: np.ndarray, va: np.ndarray, kb: np.ndarray, vb: np.ndarray) -> tuple[np.ndarray, ...]:
    """What one would write with numpy set routines."""
    only_a = np.setdiff1d(ka, kb, assume_unique=True)
    only_b = np.setdiff1d(kb, ka, assume_unique=True)
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    changed = va[ia] != vb[ib]
    return only_a, only_b, ia[changed], ib[changed]


def bucket_reconcile(mod: ModuleType, ka: np.ndarray, va: np.ndarray, kb: np.ndarray, vb: np.ndarray) -> int:
    """The sync engine's loop: hash buckets on both sides, drill into the differing ones."""
    hi = int(max(ka[-1], kb[-1]))
    ha, hb = mod.bucket_hashes(ka, va, BUCKETS, 0, hi), mod.bucket_hashes(kb, vb, BUCKETS, 0, hi)
    ba, bb = mod.bucket_bounds(ka, BUCKETS, 0, hi), mod.bucket_bounds(kb, BUCKETS, 0, hi)
    found = 0
    for b in mod.diff_buckets(ha, hb).tolist():
        sa, sb = slice(ba[b], ba[b + 1]), slice(bb[b], bb[b + 1])
        found += sum(len(x) for x in mod.diff_sorted(ka[sa], va[sa], kb[sb], vb[sb])[:3])
    return found


def run(quick: bool) -> list[Table]:
    n, differences = (100_000, 100) if quick else (1_000_000, 1_000)
    repeat = 5 if quick else 11
    pure = native.load_pure("diff")
    compiled: ModuleType | None = None
    with contextlib.suppress(ImportError):
        compiled = native.load_compiled("diff")
    ka, va, kb, vb = replicas(n, differences)
    set_a = set(zip(ka.tolist(), va.tolist(), strict=True))
    set_b = set(zip(kb.tolist(), vb.tolist(), strict=True))

    rows: list[list[Any]] = []

    def add(operation: str, name: str, fn: Callable[[], Any], reps: int = repeat) -> float:
        t = timeit(fn, repeat=reps, budget=10.0)
        rows.append([operation, name, t * 1e3])
        return t

    full = f"diff_sorted, 2 x {n:,} rows, {differences:,} differences"
    ours = (
        add(full, "compiled diff_sorted", lambda: compiled.diff_sorted(ka, va, kb, vb)) if compiled else None
    )
    add(full, "pure diff_sorted (numpy searchsorted)", lambda: pure.diff_sorted(ka, va, kb, vb))
    add(full, "numpy setdiff1d + intersect1d", lambda: numpy_diff(ka, va, kb, vb))
    add(full, "pure-Python set difference (prebuilt sets)", lambda: (set_a - set_b, set_b - set_a), 3)

    rec = f"bucket reconciliation ({BUCKETS:,} buckets, hash + drill-down)"
    if compiled:
        add(rec, "compiled", lambda: bucket_reconcile(compiled, ka, va, kb, vb))
    add(rec, "pure", lambda: bucket_reconcile(pure, ka, va, kb, vb), 3)
    hashes = f"bucket_hashes, one replica of {n:,} rows"
    if compiled:
        add(hashes, "compiled", lambda: compiled.bucket_hashes(ka, va, BUCKETS, 0, int(ka[-1])))
    add(hashes, "pure", lambda: pure.bucket_hashes(ka, va, BUCKETS, 0, int(ka[-1])))

    # lacking: a change index of n rows from 64 origins stored in (origin, seq) order; the
    # peer is behind by `differences` changes spread over the origins.
    rng = np.random.default_rng(11)
    origins = np.sort(rng.integers(0, 64, n)).astype(np.int32)
    counts = np.bincount(origins, minlength=64)
    seqs = np.concatenate([np.arange(1, c + 1) for c in counts]).astype(np.int64)
    behind = np.bincount(rng.integers(0, 64, differences), minlength=64)
    clock = np.maximum(counts - behind, 0).astype(np.int64)
    lack = f"lacking, {n:,}-change index, peer behind by {differences:,}"
    if compiled:
        add(lack, "compiled lacking", lambda: compiled.lacking(origins, seqs, clock))
    add(lack, "pure lacking", lambda: pure.lacking(origins, seqs, clock))
    add(lack, "numpy flatnonzero(seqs > clock[origins])", lambda: np.flatnonzero(seqs > clock[origins]))

    by_op: dict[str, float] = {}
    for op, name, ms in rows:
        if name.startswith("compiled"):
            by_op[op] = ms
    for row in rows:
        ref = by_op.get(row[0])
        row.append(row[2] / ref if ref else "n/a")
    table = Table(
        title=f"diff: two {n:,}-row replicas, {differences:,} differences",
        columns=["operation", "implementation", "median ms", "x slower than compiled"],
        rows=rows,
        notes=[
            "keys int64 sorted unique, versions random int64 (e.g. a row hash)",
            "the set baseline times only the two set differences; building the sets is not counted",
            "anchors before issue 5: ~80 ms pure-Python, ~14 ms numpy for 1M vs 1M",
        ],
    )
    if ours is not None:
        size = "" if not quick else " - quick run, indicative only: the target is for 1M rows"
        table.targets = [
            (f"1M-vs-1M diff <= 5 ms (compiled: {ours * 1e3:.2f} ms at {n:,} rows{size})", ours <= 5e-3)
        ]
    return [table]
