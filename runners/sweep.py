"""Sensitivity sweeps: how a searcher's final accuracy moves as one preset field varies, the way NAS-Bench-201's
appendix shows its REINFORCE learning-rate and R-EA sample-size ablations.

Each value is an ordinary batch of runs with ``--set FIELD=VALUE``, in its own results folder
``RESULTS/sweeps/ALGO-FIELD/FIELD=VALUE/`` (so ``make table RESULTS=...`` works on any one value); all values go
to the batch engine together. The summary, ``RESULTS/sweeps/ALGO-FIELD/PROTOCOL/sweep.{md,csv,png,pdf}``, gives
per value and table column the mean with its bootstrap interval, and marks the values not significantly worse than
the best one (the table's tests, `runners.stats`, over the values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import SEARCH_DATASETS, reported_metric
from runners import stats
from runners.collect import DISPLAY, SPLITS, load_report
from runners.layout import write_atomic
from runners.plan import UsageError, plan_runs
from runners.plots import finish_figure, new_figure
from runners.run import RunSpec
from runners.table import Cell


def sweep_root(results: str | Path, algo: str, field: str) -> Path:
    return Path(results) / "sweeps" / f"{algo}-{field}"


def value_dir(root: Path, field: str, value: str) -> Path:
    """The results folder of one value."""
    return root / f"{field}={value}"


@dataclass(frozen=True)
class Sweep:
    """What a sweep varies and where its runs live."""

    algo: str
    field: str
    values: tuple[str, ...]
    protocol: str
    root: Path

    def folder(self, value: str) -> Path:
        return value_dir(self.root, self.field, value)

    @property
    def numeric(self) -> bool:
        try:
            [float(v) for v in self.values]
        except ValueError:
            return False
        return True


def plan_sweep(algo: str, field: str, values: Sequence[str], datasets: Sequence[str] | None,
               seeds: Sequence[int | str], protocol: str, *, results: str | Path = "results",
               overrides: Sequence[str] | None = None, **plan: Any) -> tuple[Sweep, list[RunSpec], list[str]]:
    """Plan one batch per value (the same seeds for every value, so values differ in the field alone); planning
    checks the field and each value against the searcher's preset."""
    values = tuple(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
    if not values:
        raise UsageError("a sweep needs values, e.g. VALUES='0.01 0.02 0.1 0.2 0.5'")
    if any(o.partition("=")[0].strip() == field for o in overrides or ()):
        raise UsageError(f"{field} is the swept setting; it cannot also be set with --set")
    sweep = Sweep(algo, field, values, protocol, sweep_root(results, algo, field))
    specs: list[RunSpec] = []
    notes: list[str] = []
    for v in values:  # an unknown field or a bad value stops the first plan that has it, naming the valid ones
        s, n = plan_runs([algo], datasets, seeds, protocol, results=sweep.folder(v),
                         overrides=[*(overrides or ()), f"{field}={v}"], **plan)
        specs += s
        notes += [x for x in n if x not in notes]
    return sweep, specs, notes


def sweep_frame(sweep: Sweep, bench: str | None = None) -> pd.DataFrame:
    """One row per value, row group (search dataset) and table column: runs, mean, std, bootstrap interval, and
    whether the value is not significantly worse than the column's best value."""
    recs = []
    samples: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    for v in sweep.values:
        report = load_report(sweep.folder(v), sweep.protocol, bench)
        for g in report.groups:
            if g.algo != sweep.algo:
                continue
            for d in SEARCH_DATASETS:
                for s in SPLITS:
                    x = g.on(d)[f"{d}_{s}"].dropna().to_numpy(float)
                    if len(x) == 0:
                        continue
                    samples.setdefault((g.search_dataset, d, s), {})[v] = x
    for (searched, d, s), by_value in samples.items():
        cmp = stats.compare(by_value)
        for v, x in by_value.items():
            ci = cmp.cis[v]
            recs.append({"algo": sweep.algo, "field": sweep.field, "value": v, "search_dataset": searched,
                         "dataset": d, "split": s, "metric": reported_metric(d, s), "runs": len(x),
                         "mean": float(x.mean()), "std": float(x.std()),
                         "ci_low": np.nan if ci is None else ci[0], "ci_high": np.nan if ci is None else ci[1],
                         "top": v in cmp.top})
    return pd.DataFrame(recs, columns=["algo", "field", "value", "search_dataset", "dataset", "split", "metric",
                                       "runs", "mean", "std", "ci_low", "ci_high", "top"])


def sweep_markdown(sweep: Sweep, frame: pd.DataFrame, command: str = "") -> str:
    lines = [f"# Sweep: {sweep.algo} {sweep.field} under {sweep.protocol}", "",
             f"Final accuracy (%, 200-epoch trial means of the chosen cells) for each value of `{sweep.field}`: mean "
             f"± std over runs, with the {stats.CONFIDENCE:.0%} BCa bootstrap interval of the mean ({stats.RESAMPLES} "
             f"resamples, seed {stats.BOOTSTRAP_SEED}). **Bold**: not significantly worse than the column's best "
             f"value (two-sided Mann-Whitney U, Holm over the column's pairs, alpha = {stats.ALPHA}).", ""]
    if command:
        lines += [f"Made by `{command}`.", ""]
    for searched, sub in frame.groupby("search_dataset", sort=False):
        where = "each dataset's own search" if searched == "own" else f"searched on {searched}"
        cols = [(d, s) for d in SEARCH_DATASETS for s in SPLITS if ((sub["dataset"] == d) & (sub["split"] == s)).any()]
        lines += [f"## {sweep.algo}, {where}", "",
                  "| " + " | ".join([sweep.field, "Runs"] + [f"{DISPLAY[d]} {s}" for d, s in cols]) + " |",
                  "|" + "---|" * (len(cols) + 2)]
        for v in sweep.values:
            rows = sub[sub["value"] == v]
            if len(rows) == 0:
                continue
            cells = []
            for d, s in cols:
                r = rows[(rows["dataset"] == d) & (rows["split"] == s)]
                if len(r) == 0:
                    cells.append("n/a")
                    continue
                r = r.iloc[0]
                ci = "" if np.isnan(r["ci_low"]) else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                cell = Cell(r["mean"], r["std"] if r["runs"] > 1 else None, int(r["runs"]), top=bool(r["top"]))
                cells.append(cell.text() + ci)
            lines.append("| " + " | ".join([v, str(int(rows["runs"].max()))] + cells) + " |")
        lines.append("")
    return "\n".join(lines)


def sweep_plot(sweep: Sweep, frame: pd.DataFrame, stem: Path) -> list[Path]:
    """Final accuracy against the value with 95% intervals: a column of panels per reported dataset, a row per
    split (valid, test), a line per search dataset; a log axis when the values are positive numbers spanning a
    factor of 10 or more."""
    datasets = [d for d in SEARCH_DATASETS if (frame["dataset"] == d).any()] or list(SEARCH_DATASETS)
    plt, fig, panels = new_figure(len(datasets), len(SPLITS), panel=(5.2, 3.6))
    axes = panels.reshape(len(SPLITS), len(datasets))
    xs = {v: float(v) if sweep.numeric else i for i, v in enumerate(sweep.values)}
    several = len(set(frame["search_dataset"])) > 1
    for row, split in enumerate(SPLITS):
        for ax, d in zip(axes[row], datasets, strict=True):
            sub_all = frame[(frame["dataset"] == d) & (frame["split"] == split)]
            for searched, sub in sub_all.groupby("search_dataset", sort=False):
                sub = sub.set_index("value").reindex([v for v in sweep.values if v in set(sub["value"])])
                low = sub["mean"] - sub["ci_low"].fillna(sub["mean"])
                high = sub["ci_high"].fillna(sub["mean"]) - sub["mean"]
                label = "each dataset's own search" if searched == "own" else f"searched on {searched}"
                ax.errorbar([xs[v] for v in sub.index], sub["mean"], yerr=[low, high], marker="o", capsize=3,
                            label=label if several else None)
            ax.set_title(f"{DISPLAY[d]} {split} ({reported_metric(d, split)})", fontsize=10)
            ax.set_xlabel(sweep.field)
            ax.set_ylabel(f"final {split} accuracy (%)")
            if sweep.numeric:
                vals = [float(v) for v in sweep.values]
                if min(vals) > 0 and max(vals) / min(vals) >= 10:
                    ax.set_xscale("log")
                ax.set_xticks(vals, sweep.values)
            else:
                ax.set_xticks(range(len(sweep.values)), sweep.values)
    return finish_figure(plt, fig, panels, f"{sweep.algo}: final accuracy vs {sweep.field} ({sweep.protocol}; mean "
                         "and 95% bootstrap interval over runs)", stem, legend="best")


def write_sweep(sweep: Sweep, bench: str | None = None, command: str = "") -> list[Path]:
    """``sweep.md``, ``sweep.csv`` and the figure into ``ROOT/PROTOCOL/``."""
    frame = sweep_frame(sweep, bench)
    out = sweep.root / sweep.protocol
    md, csv = out / "sweep.md", out / "sweep.csv"
    write_atomic(md, sweep_markdown(sweep, frame, command))
    write_atomic(csv, frame.to_csv(index=False, lineterminator="\n"))
    return [md, csv, *sweep_plot(sweep, frame, out / "sweep")]
