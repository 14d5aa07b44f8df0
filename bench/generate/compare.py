"""Set a self-made benchmark beside a reference (the published CSV, an official file): same cells, same metrics.

For every accuracy metric both tables have, the cells trained here are listed with their value here, the reference's
value and the difference; the reference figure is always read from the reference source, never typed in.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from bench.oracle import Benchmark
from bench.table import MetricName
from search_space import Arch


@dataclass(frozen=True)
class Row:
    metric: str
    index: int
    arch: str
    ours: float
    #: Per-trial values here (the plan's seeds in order; NaN where a seed is not trained).
    ours_trials: tuple[float, ...]
    reference: float

    @property
    def difference(self) -> float:
        return self.ours - self.reference


def compare(ours: Benchmark, reference: Benchmark) -> list[Row]:
    """Rows for every (accuracy metric in both, cell trained here)."""
    rows = []
    for name in ours.metrics:
        if not MetricName.parse(name).is_accuracy or not reference.has(name):
            continue
        mean = ours.table.means[name]
        trials = ours.table.trials.get(name)
        for i in np.flatnonzero(~np.isnan(mean)):
            i = int(i)
            per = tuple(float(x) for x in trials[i]) if trials is not None else (float(mean[i]),)
            rows.append(Row(name, i, str(Arch.from_index(i)), float(mean[i]), per, reference.value(i, name)))
    return rows


def format_rows(rows: list[Row], ours: Benchmark | None = None, reference: Benchmark | None = None) -> str:
    """A text table of ``rows``; when there are none, which accuracy metrics each side has (e.g. a build with an
    overridden epoch count has ``@1`` figures and the benchmark ``@12`` and ``@200``)."""
    if not rows:
        msg = "no trained cell has an accuracy metric the reference also has"
        if ours is not None and reference is not None:
            msg += f"\n  here:      {', '.join(_accuracy(ours)) or 'none'}\n  reference: {', '.join(_accuracy(reference))}"
        return msg
    lines = [f"{'metric':28s} {'index':>5s} {'ours':>8s} {'reference':>9s} {'diff':>7s}  trials here  arch"]
    for r in rows:
        trials = ", ".join("-" if math.isnan(t) else f"{t:.2f}" for t in r.ours_trials)
        lines.append(f"{r.metric:28s} {r.index:5d} {r.ours:8.2f} {r.reference:9.2f} {r.difference:+7.2f}  "
                     f"[{trials}]  {r.arch}")
    return "\n".join(lines)


def _accuracy(bench: Benchmark) -> list[str]:
    return [m for m in bench.metrics if MetricName.parse(m).is_accuracy]


def compare_sources(ours: str | os.PathLike, reference: str | os.PathLike | None) -> str:
    """The comparison of two sources as text (`format_rows`)."""
    a, b = Benchmark.load(ours), Benchmark.load(reference)
    return format_rows(compare(a, b), a, b)


__all__ = ["Row", "compare", "compare_sources", "format_rows"]
