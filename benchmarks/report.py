"""Shared shape of a benchmark result table, so one runner can print and save every suite.

A suite module ``benchmarks/suite_<name>.py`` exposes ``run(quick: bool) -> list[Table]``;
``python -m benchmarks`` discovers the suites, runs them in one process (so every column
of a table is measured in the same run, on the same machine state), prints the tables,
and with ``--json`` / a full run writes machine-readable results and ``RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Table:
    """One comparison: rows are measurements, columns typically ours-compiled, ours-pure, anchors."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    #: e.g. "1,000,000 SKUs; p50/p99 over 2,000 queries; 2-core VM"
    notes: list[str] = field(default_factory=list)
    #: target lines ("p99 <= 1 ms") and whether the measurement met them
    targets: list[tuple[str, bool]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        def cell(v: Any) -> str:
            if isinstance(v, float):
                return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
            if isinstance(v, int):
                return f"{v:,}"
            return str(v)

        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "---|" * len(self.columns))
        out.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        if self.targets:
            out.append("")
            out.extend(f"- target {t}: {'met' if ok else 'NOT met'}" for t, ok in self.targets)
        return "\n".join(out)
