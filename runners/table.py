"""The summary table in the papers' form, computed from the run folders.

Rows are the algorithms, then the ResNet cell (index 11472) and the benchmark's optimum; columns are valid and
test accuracy per dataset (200-epoch trial means, as the papers report them), mean ± std over runs. Under the
NAS-Bench-201 protocol a weight-sharing row is the CIFAR-10-found cell reported on all three datasets (the paper's
convention); query-only rows, and every row under NATS-Bench, use the runs searched on that column's dataset.
A figure that cannot be computed is "n/a" with a footnote saying why, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import SEARCH_DATASETS, reported_metric
from runners.collect import (
    DISPLAY,
    RESNET_INDEX,
    SPLITS,
    Reference,
    algo_order,
    collect_verified,
    overrides_lines,
    reference,
    substitutes_lines,
)
from runners.layout import protocol_dir, write_atomic

COLUMNS = [(d, s) for d in SEARCH_DATASETS for s in SPLITS]
#: Degrees of freedom of the std over runs (numpy's default, as the original analysis scripts compute it).
DDOF = 0


@dataclass
class Cell:
    mean: float | None = None
    std: float | None = None
    n: int | None = None
    note: int | None = None

    def text(self, latex: bool = False) -> str:
        mark = "" if self.note is None else (f"\\textsuperscript{{{self.note}}}" if latex else f" [{self.note}]")
        if self.mean is None:
            return "n/a" + mark
        if self.std is None:
            return f"{self.mean:.2f}" + mark
        pm = "$\\pm$" if latex else " ± "
        return f"{self.mean:.2f}{pm}{self.std:.2f}" + mark


@dataclass
class Row:
    label: str
    cells: dict[tuple[str, str], Cell]
    reference: bool = False

    def runs_text(self) -> str:
        if self.reference:
            return "-"
        return "/".join(str(self.cells[(d, "valid")].n or 0) for d in SEARCH_DATASETS)


@dataclass
class SummaryTable:
    protocol: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    runs: int = 0

    def note(self, text: str) -> int:
        if text not in self.notes:
            self.notes.append(text)
        return self.notes.index(text) + 1

    # --- formats -----------------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        recs = []
        for r in self.rows:
            rec: dict[str, object] = {"method": r.label}
            notes = []
            for d, s in COLUMNS:
                c = r.cells[(d, s)]
                rec[f"{d}_{s}_mean"] = np.nan if c.mean is None else c.mean
                rec[f"{d}_{s}_std"] = np.nan if c.std is None else c.std
                rec[f"{d}_{s}_n"] = c.n if c.n is not None else np.nan
                if c.note is not None:
                    notes.append(f"{d} {s}: {self.notes[c.note - 1]}")
            rec["notes"] = " | ".join(dict.fromkeys(notes))
            recs.append(rec)
        frame = pd.DataFrame(recs)
        for d, s in COLUMNS:
            frame[f"{d}_{s}_n"] = frame[f"{d}_{s}_n"].astype("Int64")
        return frame

    def markdown(self) -> str:
        head = ["Method"] + [f"{DISPLAY[d]} {s}" for d, s in COLUMNS] + ["Runs (" + "/".join(DISPLAY[d] for d in
                                                                           SEARCH_DATASETS) + ")"]
        lines = [f"# Summary: protocol {self.protocol} ({self.runs} finished runs)", "",
                 "Accuracy in % (200-epoch, mean over the benchmark's trials) of the chosen cell; "
                 f"mean ± std over runs (ddof={DDOF}).", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join([r.label] + [r.cells[c].text() for c in COLUMNS] + [r.runs_text()]) + " |")
        lines.append("")
        lines += [f"[{i}] {t}" for i, t in enumerate(self.notes, 1)]
        if self.extra:
            lines += [""] + [f"- {t}" for t in self.extra]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        cols = "l" + "c" * len(COLUMNS)
        top = " & ".join(["Method"] + [f"\\multicolumn{{2}}{{c}}{{{DISPLAY[d]}}}" for d in SEARCH_DATASETS])
        sub = " & ".join([""] + [s for _, s in COLUMNS])
        lines = [f"% Summary: protocol {self.protocol} ({self.runs} finished runs); written by `python -m runners table`",
                 f"\\begin{{tabular}}{{{cols}}}", "\\hline", top + " \\\\", sub + " \\\\", "\\hline"]
        for r in self.rows:
            if r.reference and not self.rows[self.rows.index(r) - 1].reference:
                lines.append("\\hline")
            lines.append(" & ".join([_tex(r.label)] + [r.cells[c].text(latex=True) for c in COLUMNS]) + " \\\\")
        lines += ["\\hline", "\\end{tabular}", ""]
        lines += [f"\\par\\noindent\\textsuperscript{{{i}}}\\,{_tex(t)}" for i, t in enumerate(self.notes, 1)]
        lines += [f"\\par\\noindent {_tex(t)}" for t in self.extra]
        return "\n".join(lines) + "\n"


_TEX = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "_": "\\_", "#": "\\#", "$": "\\$", "{": "\\{",
        "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "|": "\\textbar{}", "±": "$\\pm$"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _cell(table: SummaryTable, values: pd.Series, sources: pd.Series, what: str, metric: str) -> Cell:
    n = len(values)
    if n == 0:
        return Cell(None, None, 0, table.note(f"no finished runs {what}"))
    ok = values.dropna()
    if len(ok) == 0:
        srcs = ", ".join(sorted(set(sources.dropna().astype(str))))
        return Cell(None, None, n, table.note(f"the benchmark source ({srcs}) has no {metric}"))
    note = None
    if len(ok) < n:
        note = table.note(f"{n - len(ok)} of {n} runs {what} lack {metric}; mean over the other {len(ok)}")
    std = float(np.std(ok.to_numpy(), ddof=DDOF)) if len(ok) > 1 else None  # one run has no spread
    return Cell(float(ok.mean()), std, len(ok), note)


def build_table(results: Path, protocol: str, bench: str | None = None) -> SummaryTable:
    collected = collect_verified(results, protocol)  # whole runs only; rows whose runs differ are left out
    runs = collected.runs
    table = SummaryTable(protocol, [], runs=len(runs))
    ref: Reference = reference(runs, bench)
    for algo in algo_order(runs["algo"]):
        sub = runs[runs["algo"] == algo]
        kind = sub["kind"].iloc[0]
        if kind != "query" and protocol == "nb201":
            # NAS-Bench-201: the CIFAR-10-found cell on all three datasets; other searches get their own rows.
            searched = ["cifar10"] + sorted(set(sub["dataset"]) - {"cifar10"})
            for d_search in searched:
                g = sub[sub["dataset"] == d_search]
                if len(g) == 0:
                    continue
                label = algo if d_search == "cifar10" else f"{algo} (searched on {d_search})"
                if g["overrides"].str.contains("size=smoke", regex=False).any():
                    label += " [SMOKE run: pipeline check, not the paper]"
                cells = {(d, s): _cell(table, g[f"{d}_{s}"], g["source"], f"searched on {d_search}",
                                       reported_metric(d, s)) for d, s in COLUMNS}
                table.rows.append(Row(label, cells))
            if "cifar10" in searched and (sub["dataset"] == "cifar10").any():
                table.extra.append(f"{algo}: the cell found on CIFAR-10, reported on all three datasets "
                                   "(NAS-Bench-201's convention for weight-sharing methods).")
        else:
            cells = {}
            for d, s in COLUMNS:
                g = sub[sub["dataset"] == d]
                cells[(d, s)] = _cell(table, g[f"{d}_{s}"], g["source"], f"searched on {d}",
                                      reported_metric(d, s))
            table.rows.append(Row(algo, cells))
    for label, fn in ((f"ResNet (index {RESNET_INDEX})", lambda d, s: ref.figure(RESNET_INDEX, d, s)),
                      ("Optimal (benchmark)", ref.optimum)):
        cells = {}
        for d, s in COLUMNS:
            v = fn(d, s)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                why = (f"the benchmark source ({ref.source}) could not be loaded" if ref.bench is None
                       else f"the benchmark source ({ref.source}) has no {reported_metric(d, s)}")
                cells[(d, s)] = Cell(None, None, None, table.note(why))
            else:
                cells[(d, s)] = Cell(float(v))
        table.rows.append(Row(label, cells, reference=True))
    table.extra += [f"Benchmark source of the reference rows: {ref.source}."] + ref.notes
    changed = overrides_lines(runs)
    if changed:
        table.extra.append("Runs NOT at the protocol's presets (--set / --smoke overrides): " + "; ".join(changed))
    subs = substitutes_lines(runs)
    if subs:
        table.extra.append("Substitutes used (figures the source lacks, replaced as documented): " + "; ".join(subs))
    else:
        table.extra.append("Substitutes used: none.")
    table.extra += [f"Left out: {n}" for n in collected.notes]
    return table


def write_table(results: Path, protocol: str, bench: str | None = None) -> list[Path]:
    """Write ``table.md``, ``table.csv`` and ``table.tex`` into ``results/PROTOCOL/`` (each atomically)."""
    table = build_table(results, protocol, bench)
    folder = protocol_dir(results, protocol)
    paths = [folder / "table.md", folder / "table.csv", folder / "table.tex"]
    write_atomic(paths[0], table.markdown())
    write_atomic(paths[1], table.to_frame().to_csv(index=False, lineterminator="\n"))
    write_atomic(paths[2], table.latex())
    return paths
