"""Finished runs of a protocol as data frames, and the benchmark figures tables and plots compare them with.

Only folders with ``result.json`` are read: an unfinished or failed run never counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import algos
from bench import REPORTED_SPLITS, SEARCH_DATASETS, SUBSTITUTES, Benchmark, TableError, reported_metric
from runners.layout import CONFIG, TRACE, iter_finished, read_json

#: NAS-Bench-201's ResNet reference cell.
RESNET_INDEX = 11472
SPLITS = REPORTED_SPLITS
#: Dataset names as the papers' tables and figures print them.
DISPLAY = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet-16-120"}


def collect_runs(results: Path, protocol: str) -> pd.DataFrame:
    """One row per finished run: algo, kind, dataset (searched), seed, index, arch, ``{D}_{split}`` for the three
    datasets (NaN where the source lacks the figure), source, requested source and substitutes used."""
    rows = []
    for folder, res in iter_finished(results, protocol):
        try:
            cfg = read_json(folder / CONFIG)
        except (OSError, ValueError):
            cfg = {}
        requested = cfg.get("bench", {}).get("requested")
        overrides = ", ".join(f"{k}={v}" for k, v in sorted((cfg.get("overrides") or {}).items()))
        row: dict[str, Any] = {"algo": res["algo"], "kind": res["kind"], "dataset": res["dataset"],
                               "seed": res["seed"], "index": res["index"], "arch": res["arch"],
                               "source": res.get("source"), "requested": requested,
                               "substitutes": ",".join(res.get("substitutes_used") or ()), "overrides": overrides,
                               "folder": str(folder)}
        for d in SEARCH_DATASETS:
            rep = res.get("reported", {}).get(d, {})
            for split in SPLITS:
                v = rep.get(split)
                row[f"{d}_{split}"] = np.nan if v is None else float(v)
        rows.append(row)
    cols = ["algo", "kind", "dataset", "seed", "index", "arch", "source", "requested", "substitutes", "overrides",
            "folder"]
    cols += [f"{d}_{s}" for d in SEARCH_DATASETS for s in SPLITS]
    return pd.DataFrame(rows, columns=cols)


def algo_order(names: Any) -> list[str]:
    """Registry order (as the papers list them), then anything else alphabetically."""
    names = list(dict.fromkeys(names))
    known = [a for a in algos.SEARCHERS if a in names]
    return known + sorted(a for a in names if a not in algos.SEARCHERS)


def read_trace(folder: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / TRACE, usecols=lambda c: columns is None or c in columns)


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
    source = None if bench in (None, "default", "embedded") else bench
    try:
        from runners.run import load_bench  # one copy per process, shared with the runs

        b = load_bench(source)
    except (TableError, OSError) as exc:
        notes.append(f"the benchmark source {bench!r} could not be loaded ({exc}); reference figures are n/a")
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
