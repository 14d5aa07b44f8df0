"""Finished runs of a protocol as data frames, grouped into the rows tables and plots show, and the benchmark
figures they are compared with.

Only whole finished runs are read (`runners.layout.check_run`): an unfinished or failed run never counts, and a
damaged one (a truncated ``result.json``, a missing or changed ``trace.csv``, a run of another protocol copied in)
is left out with a note naming it. Runs pooled into one row (an algorithm on a search dataset) must share their
fingerprint but for the seed (`runners.identity.group_differences`); a row whose runs differ is left out with a
note saying in what, never averaged. A `Report` reads the runs, their traces and the reference benchmark once, for
every table and figure written from them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import algos
from algos.base import LAYOUTS, PROTOCOL_SPECS
from bench import REPORTED_SPLITS, SEARCH_DATASETS, SUBSTITUTES, Benchmark, TableError, reported_metric
from runners.identity import group_differences, shown
from runners.layout import CONFIG, TRACE, RunCheck, read_json, scan_runs

#: NAS-Bench-201's ResNet reference cell.
RESNET_INDEX = 11472
SPLITS = REPORTED_SPLITS
#: Dataset names as the papers' tables and figures print them.
DISPLAY = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet-16-120"}


@dataclass
class Collected:
    """The runs a table or a plot may use, and one note per run or row left out (naming it and why)."""

    runs: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def collect_verified(results: Path, protocol: str) -> Collected:
    """Every whole finished run of a protocol (`collect_runs`' columns plus ``fingerprint``), less the rows whose
    runs differ in anything but the seed; the damaged runs and the rows left out are in ``notes``."""
    checks = list(scan_runs(results, protocol))
    damaged = [f"{c.folder}: {c.reason}" for c in checks if c.damaged]
    runs = _frame([c for c in checks if c.finished])
    notes = []
    if damaged:
        notes.append(f"{len(damaged)} damaged run{'s' if len(damaged) != 1 else ''} left out (the next batch that "
                     f"plans them redoes them): {shown(damaged, '; ')}")
    keep = np.ones(len(runs), dtype=bool)
    for (algo, dataset), group in runs.groupby(["algo", "dataset"], sort=False):
        diffs = group_differences(list(group["fingerprint"]))
        if diffs:
            keep[runs.index.get_indexer(group.index)] = False
            notes.append(f"{algo} searched on {dataset}: its {len(group)} runs were made with different settings, so "
                         f"they are not pooled and left out ({'; '.join(diffs)}); redo the odd ones (--redo-changed) "
                         "or move them to another results folder")
    return Collected(runs[keep].reset_index(drop=True), notes)


def collect_runs(results: Path, protocol: str) -> pd.DataFrame:
    """One row per whole finished run that may be pooled with its row's others (`collect_verified`): algo, kind,
    dataset (searched), seed, index, arch, ``{D}_{split}`` for the three datasets (NaN where the source lacks the
    figure), source, requested source, substitutes used, overrides, the simulated budget (query-only runs) and the
    run's fingerprint."""
    return collect_verified(results, protocol).runs


def _frame(checks: list[RunCheck]) -> pd.DataFrame:
    rows = []
    for check in checks:
        folder, res = check.folder, check.result
        cfg = read_json(folder / CONFIG)  # whole: check_run verified its checksum
        requested = cfg.get("bench", {}).get("requested")
        overrides = ", ".join(f"{k}={v}" for k, v in sorted((cfg.get("overrides") or {}).items()))
        budget = (cfg.get("info") or {}).get("budget")
        row: dict[str, Any] = {"algo": res["algo"], "kind": res["kind"], "dataset": res["dataset"],
                               "seed": res["seed"], "index": res["index"], "arch": res["arch"],
                               "source": res.get("source"), "requested": requested,
                               "substitutes": ",".join(res.get("substitutes_used") or ()), "overrides": overrides,
                               "budget": np.nan if budget is None else float(budget), "folder": str(folder),
                               "fingerprint": res["fingerprint"]}
        for d in SEARCH_DATASETS:
            rep = res.get("reported", {}).get(d, {})
            for split in SPLITS:
                v = rep.get(split)
                row[f"{d}_{split}"] = np.nan if v is None else float(v)
        rows.append(row)
    cols = ["algo", "kind", "dataset", "seed", "index", "arch", "source", "requested", "substitutes", "overrides",
            "budget", "folder", "fingerprint"]
    cols += [f"{d}_{s}" for d in SEARCH_DATASETS for s in SPLITS]
    return pd.DataFrame(rows, columns=cols)


def algo_order(names: Any) -> list[str]:
    """Registry order (as the papers list them), then anything else alphabetically."""
    names = list(dict.fromkeys(names))
    known = [a for a in algos.SEARCHERS if a in names]
    return known + sorted(a for a in names if a not in algos.SEARCHERS)


def read_trace(folder: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / TRACE)


@dataclass
class Reference:
    """The benchmark the runs used, for the ResNet and optimum rows and lines; None where it cannot be loaded."""

    bench: Benchmark | None
    source: str | None
    notes: list[str] = field(default_factory=list)

    def figure(self, index: int, dataset: str, split: str) -> float | None:
        name = reported_metric(dataset, split)
        if self.bench is None or not self.bench.has(name):
            return None
        return self.bench.value(index, name)

    def optimum(self, dataset: str, split: str) -> float | None:
        name = reported_metric(dataset, split)
        if self.bench is None or not self.bench.has(name):
            return None
        return self.bench.optimum(name)[1]


def reference(runs: pd.DataFrame, bench: str | None = None) -> Reference:
    """Load ``bench`` if given, else the source most runs asked for."""
    notes = []
    requested = [r for r in runs["requested"].dropna()] if len(runs) else []
    if bench is None and requested:
        counts = Counter(requested)
        bench = counts.most_common(1)[0][0]
        if len(counts) > 1:
            notes.append("runs used several benchmark sources (" + ", ".join(f"{k}: {v} runs" for k, v in
                         counts.items()) + f"); reference rows use {bench}")
    try:
        from runners.run import load_bench  # one copy per process, shared with the runs (and with --bench's check)

        b = load_bench(bench)
    except (TableError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        notes.append(f"the benchmark source {bench!r} could not be loaded ({first}); reference figures are n/a")
        return Reference(None, bench, notes)
    return Reference(b, b.source, notes)


def substitutes_lines(runs: pd.DataFrame) -> list[str]:
    """'algos: name (what stands in); ...' for every substitute any run relied on, algorithms with the same set
    on one line."""
    by_set: dict[tuple[str, ...], list[str]] = {}
    for algo in algo_order(runs["algo"]):
        names: list[str] = []
        for s in runs.loc[runs["algo"] == algo, "substitutes"]:
            for n in str(s).split(","):
                if n and n not in names:
                    names.append(n)
        if names:
            by_set.setdefault(tuple(names), []).append(algo)
    out = []
    for names, algos_ in by_set.items():
        desc = "; ".join(f"{n} ({SUBSTITUTES[n].description})" if n in SUBSTITUTES else n for n in names)
        out.append(f"{', '.join(algos_)}: {desc}")
    return out


def overrides_lines(runs: pd.DataFrame) -> list[str]:
    """'algo: key=value, ... (n runs)' for every set of preset overrides runs used (e.g. smoke sizes)."""
    out = []
    for algo in algo_order(runs["algo"]):
        sub = runs[(runs["algo"] == algo) & (runs["overrides"] != "")]
        for text, n in sub["overrides"].value_counts(sort=False).items():
            out.append(f"{algo}: {text} ({n} run{'s' if n != 1 else ''})")
    return out


#: Marks rows whose runs were shrunk to a CPU-sized smoke run.
SMOKE_LABEL = " [SMOKE run: pipeline check, not the paper]"


@dataclass
class Group:
    """The runs behind one row of a table (and one line of a figure)."""

    algo: str
    kind: str
    #: The search dataset of every run in the group; None in the ``own`` layout, where each dataset's columns come
    #: from the runs searched on that dataset.
    searched: str | None
    label: str
    runs: pd.DataFrame

    def on(self, dataset: str) -> pd.DataFrame:
        """The runs whose cells fill ``dataset``'s columns."""
        return self.runs if self.searched is not None else self.runs[self.runs["dataset"] == dataset]

    @property
    def search_dataset(self) -> str:
        """For tables: the search dataset, or ``own`` (each column's own dataset)."""
        return self.searched if self.searched is not None else "own"


def group_runs(runs: pd.DataFrame, protocol: str, layout: str | None = None) -> list[Group]:
    """The rows of a protocol's table, in the papers' order.

    ``transfer`` layout (NAS-Bench-201): one group per searcher and search dataset, its cells reported on all three
    datasets; the protocol's own search first, unlabelled, then any other search dataset's, labelled ("searched
    on ..."), never mixed in. ``own`` layout (NATS-Bench): one group per searcher, each dataset's columns from the
    runs searched on it. ``layout`` None is the protocol's."""
    spec = PROTOCOL_SPECS[protocol]
    layout = layout or spec.layout
    if layout not in LAYOUTS:
        raise ValueError(f"unknown table layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    out: list[Group] = []
    names = algo_order(runs["algo"]) if len(runs) else []
    if layout == "own":
        for algo in names:
            sub = runs[runs["algo"] == algo]
            out.append(Group(algo, sub["kind"].iloc[0], None, algo + _smoke(sub), sub))
        return out
    own = spec.search_datasets
    order = list(own) + [d for d in SEARCH_DATASETS if d not in own]
    for d in order:
        for algo in names:
            sub = runs[(runs["algo"] == algo) & (runs["dataset"] == d)]
            if len(sub) == 0:
                continue
            label = algo if own == (d,) else f"{algo} (searched on {d})"
            out.append(Group(algo, sub["kind"].iloc[0], d, label + _smoke(sub), sub))
    return out


def _smoke(runs: pd.DataFrame) -> str:
    return SMOKE_LABEL if runs["overrides"].str.contains("size=smoke", regex=False).any() else ""


@dataclass
class Report:
    """A protocol's finished runs, their grouping, their traces and the reference benchmark, each read once."""

    results: Path
    protocol: str
    runs: pd.DataFrame
    ref: Reference
    layout: str
    groups: list[Group]
    #: One line per run or row left out (damaged, or pooled with runs of other settings), naming it and why.
    left_out: list[str] = field(default_factory=list)
    _traces: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def stem(self, name: str) -> str:
        """What this report names a file or folder: ``name`` in the protocol's own layout, ``name-LAYOUT`` in the
        other (both layouts' tables and figures can sit side by side)."""
        return name if self.layout == PROTOCOL_SPECS[self.protocol].layout else f"{name}-{self.layout}"

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per report under ``key``: figures that a table and a plot written from the same
        report both read (e.g. `runners.anytime.group_anytime`)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def trace(self, folder: str) -> pd.DataFrame:
        """A run's ``trace.csv``, read on first use."""
        if folder not in self._traces:
            self._traces[folder] = read_trace(folder)
        return self._traces[folder]


def load_report(results: Path, protocol: str, bench: str | None = None, layout: str | None = None) -> Report:
    """Read everything tables and plots need from ``results``: the finished runs of ``protocol``, grouped in
    ``layout`` (default: the protocol's), and the reference benchmark (``bench``, else the one the runs used)."""
    collected = collect_verified(results, protocol)
    runs = collected.runs
    layout = layout or PROTOCOL_SPECS[protocol].layout
    return Report(Path(results), protocol, runs, reference(runs, bench), layout, group_runs(runs, protocol, layout),
                  collected.notes)
