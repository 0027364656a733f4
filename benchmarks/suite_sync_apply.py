"""Replication engine: merge throughput into SQLite and bootstrap of a fresh terminal.

Targets (issue 4): >= 100,000 changes/s merged; 1,000,000 changes bootstrapped in < 30 s.
The measurements and their baselines live in ``benchmarks/bench_apply.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.bench_apply import bench_apply, bench_bootstrap, bench_small_batches
from benchmarks.report import Table


def run(quick: bool) -> list[Table]:
    with tempfile.TemporaryDirectory() as d:
        return [
            bench_apply(Path(d), 20_000 if quick else 100_000),
            bench_small_batches(Path(d), 100 if quick else 400),
            bench_bootstrap(Path(d), 100_000 if quick else 1_000_000),
        ]
