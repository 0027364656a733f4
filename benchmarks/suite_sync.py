"""Sync network suite for ``python -m benchmarks``: live push latency and mesh convergence.

The measurements live in :mod:`benchmarks.bench_sync` (push latency, in-process mesh) and
:mod:`benchmarks.bench_mesh` (one OS process per terminal; both also runnable on their
own with options for the node count, sales, pace and degree); this module only plugs
them into the runner.
"""

from __future__ import annotations

from benchmarks import bench_mesh, bench_sync
from benchmarks.report import Table


def run(quick: bool) -> list[Table]:
    return [*bench_sync.run(quick), *bench_mesh.run(quick)]


__all__ = ["run"]
