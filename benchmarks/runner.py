"""``python -m benchmarks``: discover the ``benchmarks/suite_*.py`` modules, run them, report.

Every suite exposes ``run(quick: bool) -> list[benchmarks.report.Table]`` and measures its
kernel and the baselines in the same process and run, so the columns of a table are comparable.
The runner prints each table as markdown, writes ``--json`` results, and on a full (non-quick)
run rewrites ``benchmarks/RESULTS.md``. ``RESULTS.md`` keeps one marked section per suite, so
``--only NAME`` refreshes that suite's section and leaves the others as they were.

A suite that raises is reported (traceback on stderr, an ``error`` entry in the JSON) and the
run carries on with the others; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import json
import os
import pkgutil
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PREFIX = "suite_"


# --------------------------------------------------------------------------------------------
# helpers for suites


def timeit(fn: Callable[[], Any], *, repeat: int = 5, number: int = 1, budget: float = 5.0) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls.

    The median (not the minimum) so one lucky round cannot flatter a kernel; rounds stop early
    once ``budget`` seconds are spent (at least one always runs), keeping slow baselines bounded.
    """
    fn()  # warm-up: first-touch page faults, lazy imports, caches
    samples: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
        if time.perf_counter() - start > budget:
            break
    samples.sort()
    return samples[len(samples) // 2]


def calibrate(fn: Callable[[], Any], target: float = 0.05) -> int:
    """Calls per round so that one round of ``fn`` takes about ``target`` seconds."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-8)
    return max(1, int(target / once))


# --------------------------------------------------------------------------------------------
# machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (written with every result)."""
    from vaultsync import native

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "native": native.status(),
    }


# --------------------------------------------------------------------------------------------
# discovery and running


def discover() -> list[str]:
    """Suite names (``suite_<name>.py`` -> ``<name>``), sorted."""
    return sorted(
        info.name[len(PREFIX) :] for info in pkgutil.iter_modules([str(HERE)]) if info.name.startswith(PREFIX)
    )


def run_suite(name: str, quick: bool) -> tuple[list[Table], str | None, float]:
    # Each suite starts from a clean heap: garbage left by an earlier suite's million-object
    # baselines would otherwise be traversed by the collector inside later suites' timings.
    gc.collect()
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{PREFIX}{name}")
        tables = list(module.run(quick))
    except Exception:
        error = traceback.format_exc()
        print(f"suite {name} failed:\n{error}", file=sys.stderr)
        return [], error, time.perf_counter() - t0
    return tables, None, time.perf_counter() - t0


def _section(name: str, body: str) -> str:
    return f"<!-- suite:{name} -->\n## {name}\n\n{body}\n<!-- /suite:{name} -->"


def write_results(path: Path, machine: dict[str, Any], sections: dict[str, str]) -> None:
    """Rewrite ``path``: machine header, then one section per suite (kept from the old file
    for suites not run this time)."""
    old: dict[str, str] = {}
    if path.exists():
        pattern = re.compile(r"<!-- suite:(\w+) -->\n.*?<!-- /suite:\1 -->", re.S)
        old = {m.group(1): m.group(0) for m in pattern.finditer(path.read_text())}
    merged = {**old, **{name: _section(name, body) for name, body in sections.items()}}
    native = ", ".join(f"{k}: {v}" for k, v in machine["native"].items())
    header = [
        "# VaultSync benchmark results",
        "",
        "Written by `python -m benchmarks` (full run); every table's columns come from one run.",
        "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores; {machine['platform']}",
        f"- Python {machine['python']}, numpy {machine['numpy']}; native core: {native}",
        f"- date: {machine['date']}",
        "",
    ]
    path.write_text("\n".join(header) + "\n\n".join(merged[k] for k in sorted(merged)) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute in total")
    parser.add_argument("--json", metavar="FILE", help="write machine-readable results to FILE")
    parser.add_argument("--only", metavar="NAME", action="append", help="run only this suite (repeatable)")
    args = parser.parse_args(argv)

    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown suite(s) {', '.join(unknown)}; available: {', '.join(names)}")
        names = [n for n in names if n in args.only]
    machine = machine_info()
    print(
        f"# {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, numpy {machine['numpy']}"
    )
    print(f"# native core: {machine['native']}; {'quick' if args.quick else 'full'} run\n")

    results: dict[str, Any] = {}
    sections: dict[str, str] = {}
    failed = False
    for name in names:
        tables, error, seconds = run_suite(name, args.quick)
        for table in tables:
            print(table.markdown(), end="\n\n", flush=True)
        print(f"_suite {name}: {seconds:.1f} s_\n", flush=True)
        results[name] = {"seconds": seconds, "tables": [t.as_dict() for t in tables], "error": error}
        if error is None:
            sections[name] = "\n\n".join(t.markdown() for t in tables)
        failed |= error is not None

    if args.json:
        payload = {"machine": machine, "quick": args.quick, "suites": results}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    if not args.quick and sections:
        write_results(RESULTS, machine, sections)
        print(f"wrote {RESULTS}")
    return 1 if failed else 0
