"""How fast each query-only searcher gets there: regret over simulated time, from each run's trace.

For a run with budget B and a table column (dataset, split) whose benchmark optimum is O, the regret at simulated
time t is O minus the reported figure (200-epoch trial mean) of the incumbent at t: a step function that changes
at each query. Per run:

- **area**: the regret's mean over the budget, (1/B) * integral over [0, B] of regret(t) dt; before the first
  query ends there is no incumbent, and that stretch counts at the first incumbent's regret (the first query's
  cost is the least any search spends);
- **time to target**: the first simulated time at which the regret is at most 0.5 (or 1.0) points, within the
  budget; a run that never gets there has none (+inf), and the share of such runs is reported beside the median;
- **final regret**: O minus the reported figure of the run's chosen cell (the table's figure).

Weight-sharing runs have epochs, not a simulated clock; they are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench import SEARCH_DATASETS, reported_metric
from runners.collect import DISPLAY, SPLITS, Group, Report
from runners.layout import protocol_dir, write_atomic

#: Regret targets in accuracy points.
TARGETS = (0.5, 1.0)


@dataclass(frozen=True)
class RunAnytime:
    """One run's anytime figures on one column."""

    area: float
    time_to: tuple[float, ...]
    final: float


def run_anytime(times: np.ndarray, values: np.ndarray, optimum: float, budget: float, final_value: float,
                targets: tuple[float, ...] = TARGETS) -> RunAnytime:
    """Anytime figures of one run: ``times`` (non-decreasing) and ``values`` are its trace's simulated times and
    incumbent figures; ``final_value`` is the chosen cell's figure."""
    times, values = np.asarray(times, float), np.asarray(values, float)
    keep = (times <= budget) & ~np.isnan(values)
    t, r = times[keep], optimum - values[keep]
    if len(t) == 0 or budget <= 0:
        return RunAnytime(math.nan, tuple(math.inf for _ in targets), optimum - final_value)
    ends = np.append(t[1:], budget)
    area = (r[0] * t[0] + float(np.sum(r * (ends - t)))) / budget
    time_to = []
    for target in targets:
        hit = np.flatnonzero(r <= target + 1e-9)  # figures are stored in float: 0.5 points means 0.5
        time_to.append(float(t[hit[0]]) if len(hit) else math.inf)
    return RunAnytime(area, tuple(time_to), optimum - final_value)


def group_anytime(report: Report, group: Group, dataset: str, split: str) -> list[RunAnytime]:
    """Every run of a query-only group on one column ([] where the optimum or the figures are missing), computed
    once per report (the anytime table and the time-to-target figure both read it)."""
    return report.memo(("anytime", group.label, dataset, split), lambda: _group_anytime(report, group, dataset, split))


def _group_anytime(report: Report, group: Group, dataset: str, split: str) -> list[RunAnytime]:
    optimum = report.ref.optimum(dataset, split)
    col = f"incumbent_{dataset}_{split}"
    out: list[RunAnytime] = []
    if optimum is None or group.kind != "query":
        return out
    runs = group.on(dataset)
    for folder, final, budget in zip(runs["folder"], runs[f"{dataset}_{split}"], runs["budget"], strict=True):
        trace = report.trace(folder)
        if col not in trace or np.isnan(final) or np.isnan(budget):
            continue
        out.append(run_anytime(trace["time"].to_numpy(float), trace[col].to_numpy(float), optimum, budget, final))
    return out


def anytime_frame(report: Report) -> pd.DataFrame:
    """One row per query-only group and column: runs, budget, final regret, area, time to each target (median
    over runs, +inf where most runs never get there) and the share of runs that never do."""
    recs = []
    for g in report.groups:
        if g.kind != "query":
            continue
        for d in SEARCH_DATASETS:
            for s in SPLITS:
                runs = group_anytime(report, g, d, s)
                if not runs:
                    continue
                rec: dict[str, object] = {
                    "method": g.label, "algo": g.algo, "search_dataset": g.search_dataset, "dataset": d,
                    "split": s, "metric": reported_metric(d, s), "optimum": report.ref.optimum(d, s),
                    "runs": len(runs), "budget": float(np.median(g.on(d)["budget"])),
                    "final_regret_mean": float(np.mean([r.final for r in runs])),
                    "final_regret_median": float(np.median([r.final for r in runs])),
                    "area_mean": float(np.nanmean([r.area for r in runs])),
                }
                for i, target in enumerate(TARGETS):
                    tt = np.array([r.time_to[i] for r in runs])
                    rec[f"time_to_{target:g}_median"] = float(np.median(tt))
                    rec[f"never_{target:g}"] = float(np.mean(np.isinf(tt)))
                recs.append(rec)
    cols = ["method", "algo", "search_dataset", "dataset", "split", "metric", "optimum", "runs", "budget",
            "final_regret_mean", "final_regret_median", "area_mean"]
    cols += [f"{k}_{t:g}{m}" for t in TARGETS for k, m in (("time_to", "_median"), ("never", ""))]
    return pd.DataFrame(recs, columns=cols)


def _time(seconds: float, never: float) -> str:
    share = f" ({never:.0%} never)" if never > 0 else ""
    return f"n/r{share}" if math.isinf(seconds) else f"{seconds:,.0f} s{share}"


def anytime_markdown(frame: pd.DataFrame, protocol: str) -> str:
    targets = " / ".join(f"{t:.1f}" for t in TARGETS)
    lines = [f"# Anytime performance: protocol {protocol} (query-only searches)", "",
             "Regret = the benchmark optimum of the column minus the reported figure (200-epoch trial mean) of the "
             "incumbent, in accuracy points. Area: the regret averaged over the simulated budget (lower is better; "
             f"before the first query the first incumbent's regret). Time to within {targets} points of the "
             "optimum: median over runs, with the share of runs that never get there within the budget (n/r: not "
             "reached by half the runs or more). Final: the chosen cell's regret, mean over runs.", ""]
    if len(frame) == 0:
        return "\n".join(lines + ["No query-only runs with figures to compare.", ""])
    head = ["Method", "Runs", "Budget", "Final regret", "Area"] + [f"Time to {t:.1f}" for t in TARGETS]
    for (d, s), sub in frame.groupby(["dataset", "split"], sort=False):
        first = sub.iloc[0]
        lines += [f"## {DISPLAY[d]} {s} ({first['metric']}, optimum {first['optimum']:.2f})", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in sub.to_dict("records"):
            cells = [r["method"], str(r["runs"]), f"{r['budget']:,.0f} s", f"{r['final_regret_mean']:.2f}",
                     f"{r['area_mean']:.2f}"]
            cells += [_time(r[f"time_to_{t:g}_median"], r[f"never_{t:g}"]) for t in TARGETS]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_anytime(report: Report, stem: str = "anytime") -> list[Path]:
    """``anytime.md`` and ``anytime.csv`` beside the table."""
    frame = anytime_frame(report)
    folder = protocol_dir(report.results, report.protocol)
    md, csv = folder / f"{stem}.md", folder / f"{stem}.csv"
    write_atomic(md, anytime_markdown(frame, report.protocol))
    write_atomic(csv, frame.to_csv(index=False, lineterminator="\n"))
    return [md, csv]
