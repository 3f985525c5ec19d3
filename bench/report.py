"""Rows of the benchmark table: samples of the platform and of its baseline, the ratio, the target."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Series:
    """Repeated measurements of one figure (one sample per repetition)."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def as_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.samples, default=None),
            "max": max(self.samples, default=None),
            "samples": self.samples,
        }


@dataclass
class Row:
    """One line of the table.

    ``ratio`` is platform ÷ baseline of the medians. ``target`` says what must hold, in words, and
    ``check`` decides it from the row (None: no target).
    """

    name: str
    unit: str
    baseline_name: str = ""
    platform: Series = field(default_factory=Series)
    baseline: Series = field(default_factory=Series)
    target: str = ""
    check: Callable[[Row], bool] | None = None

    @property
    def ratio(self) -> float | None:
        if self.platform.median is None or not self.baseline.median:
            return None
        return self.platform.median / self.baseline.median

    @property
    def holds(self) -> bool | None:
        if self.check is None or self.platform.median is None:
            return None
        return self.check(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "platform": self.platform.as_json(),
            "baseline": {"name": self.baseline_name, **self.baseline.as_json()} if self.baseline_name else None,
            "ratio": self.ratio,
            "target": self.target or None,
            "holds": self.holds,
        }


def ratio_at_least(minimum: float) -> Callable[[Row], bool]:
    return lambda row: row.ratio is not None and row.ratio >= minimum


def ratio_at_most(maximum: float) -> Callable[[Row], bool]:
    return lambda row: row.ratio is not None and row.ratio <= maximum


def at_most(maximum: float) -> Callable[[Row], bool]:
    return lambda row: row.platform.median is not None and row.platform.median <= maximum


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _spread(series: Series) -> str:
    if not series.samples:
        return "-"
    text = _figure(series.median)
    if len(series.samples) > 1:
        text += f" ({_figure(min(series.samples))}–{_figure(max(series.samples))})"
    return text


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table: medians with min–max over the repetitions."""
    header = ("measurement", "unit", "platform", "baseline", "", "ratio", "target", "holds")
    lines = [
        (
            row.name,
            row.unit,
            _spread(row.platform),
            _spread(row.baseline) if row.baseline_name else "",
            row.baseline_name,
            f"{row.ratio:.2f}×" if row.ratio is not None else "",
            row.target,
            {True: "yes", False: "NO", None: ""}[row.holds],
        )
        for row in rows
    ]
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in [header, *lines]
    )


def markdown(rows: Sequence[Row]) -> str:
    """The same table in Markdown, for the README."""
    out = [
        "| measurement | unit | platform | baseline | ratio | target | holds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        baseline = f"{_spread(row.baseline)} {row.baseline_name}" if row.baseline_name else ""
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else ""
        holds = {True: "yes", False: "**no**", None: ""}[row.holds]
        out.append(
            f"| {row.name} | {row.unit} | {_spread(row.platform)} | {baseline} | {ratio} | {row.target} | {holds} |"
        )
    return "\n".join(out)


def at_least(minimum: float) -> Callable[[Row], bool]:
    return lambda row: row.platform.median is not None and row.platform.median >= minimum
