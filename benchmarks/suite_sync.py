"""Sync network suite for ``python -m benchmarks``: live push latency and mesh convergence.

The measurements live in :mod:`benchmarks.bench_sync` (also runnable on its own with
options for the node count, sales and degree); this module only plugs them into the runner.
"""

from __future__ import annotations

from benchmarks.bench_sync import run

__all__ = ["run"]
