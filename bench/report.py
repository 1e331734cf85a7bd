"""Benchmark results: one row per measurement, printed as a table and written as JSON.

A row is a value, its baseline measured in the same run, their ratio and, when the issue sets one, the
target with whether it was met. ``note`` says in words what a reader must know to trust the number
(e.g. that a cost sits in moto, not in chatbridge).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    benchmark: str  # ingest_overhead, aws_calls, cold_start, engine_throughput, local_stack
    case: str  # what was measured, e.g. "100 msgs/request"
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: float | None = None  # the ratio (or value, for counts) must be <= target (>= with at_least)
    target_on: str = "ratio"  # "ratio" or "value"
    at_least: bool = False  # the target is a floor (e.g. throughput >= 0.5x its baseline), not a ceiling
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.target_on == "ratio" else self.value
        if measured is None:
            return None
        return measured >= self.target if self.at_least else measured <= self.target

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        data["met"] = self.met
        return data


@dataclass
class Report:
    mode: str
    rows: list[Row] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # benchmark -> why it could not run

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "python": sys.version.split()[0], "platform": platform.platform(),
                "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                "results": [row.as_dict() for row in self.rows], "errors": self.errors,
                "targets_missed": [f"{row.benchmark}: {row.case}" for row in self.rows if row.met is False]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def render_table(report: Report) -> str:
    """A Markdown table (it pastes straight into docs/benchmarks.md) followed by the notes."""
    header = ["benchmark", "case", "value", "baseline", "ratio", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes: list[str] = []
    for row in report.rows:
        bound = "≥" if row.at_least else "≤"
        target = "-" if row.target is None else f"{bound} {row.target:g}" + ("×" if row.target_on == "ratio" else "")
        baseline = "-" if row.baseline is None else f"{_number(row.baseline)} ({row.baseline_label})"
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}×"
        lines.append("| " + " | ".join([row.benchmark, row.case, f"{_number(row.value)} {row.unit}", baseline, ratio,
                                         target, met]) + " |")
        if row.note and row.note not in notes:
            notes.append(row.note)
    text = "\n".join(lines)
    if notes:
        text += "\n\n" + "\n".join(f"- {note}" for note in notes)
    for name, error in report.errors.items():
        text += f"\n- {name} could not run: {error}"
    return text
