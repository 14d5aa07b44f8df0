"""The summary table in the papers' form, computed from the run folders, with which differences are real.

Rows are the groups of `runners.collect.group_runs` (a searcher and its search dataset under NAS-Bench-201's
``transfer`` layout, a searcher under NATS-Bench's ``own`` layout), then the ResNet cell (index 11472) and the
benchmark's optimum; columns are valid and test accuracy per dataset (200-epoch trial means, as the papers report
them), mean ± std over runs. A figure that cannot be computed is "n/a" with a footnote saying why, never 0.

Per column, the rows not significantly worse than the best are marked (bold in Markdown and LaTeX, ``_top`` in the
CSV): two-sided Mann-Whitney U tests, Holm-corrected over the column's pairs (`runners.stats`); every pair, each
mean's bootstrap interval and the effect sizes go to ``significance.md`` / ``.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from algos.base import PROTOCOL_SPECS
from bench import SEARCH_DATASETS, reported_metric
from runners import stats
from runners.anytime import write_anytime
from runners.collect import (
    DISPLAY,
    RESNET_INDEX,
    SPLITS,
    Report,
    overrides_lines,
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
    #: Bootstrap interval of the mean (`runners.stats.bootstrap_ci`).
    ci: tuple[float, float] | None = None
    #: Not significantly worse than the column's best.
    top: bool = False

    def text(self, latex: bool = False) -> str:
        mark = "" if self.note is None else (f"\\textsuperscript{{{self.note}}}" if latex else f" [{self.note}]")
        if self.mean is None:
            return "n/a" + mark
        pm = "$\\pm$" if latex else " ± "
        body = f"{self.mean:.2f}" if self.std is None else f"{self.mean:.2f}{pm}{self.std:.2f}"
        if self.top:
            body = f"\\textbf{{{body}}}" if latex else f"**{body}**"
        return body + mark


@dataclass
class Row:
    label: str
    cells: dict[tuple[str, str], Cell]
    reference: bool = False
    algo: str = ""
    search_dataset: str = ""

    def runs_text(self) -> str:
        if self.reference:
            return "-"
        return "/".join(str(self.cells[(d, "valid")].n or 0) for d in SEARCH_DATASETS)


@dataclass
class SummaryTable:
    protocol: str
    rows: list[Row]
    layout: str = "transfer"
    notes: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    runs: int = 0
    #: One comparison per column, over the rows with runs.
    comparisons: dict[tuple[str, str], stats.Comparison] = field(default_factory=dict)

    def note(self, text: str) -> int:
        if text not in self.notes:
            self.notes.append(text)
        return self.notes.index(text) + 1

    @property
    def title(self) -> str:
        how = ("each row's cells reported on all three datasets" if self.layout == "transfer"
               else "each dataset's columns from the runs searched on it")
        return f"Summary: protocol {self.protocol}, {self.layout} layout ({how}; {self.runs} finished runs)"

    # --- formats -----------------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        recs = []
        for r in self.rows:
            rec: dict[str, object] = {"method": r.label, "algo": r.algo, "search_dataset": r.search_dataset}
            notes = []
            for d, s in COLUMNS:
                c = r.cells[(d, s)]
                rec[f"{d}_{s}_mean"] = np.nan if c.mean is None else c.mean
                rec[f"{d}_{s}_std"] = np.nan if c.std is None else c.std
                rec[f"{d}_{s}_n"] = c.n if c.n is not None else np.nan
                rec[f"{d}_{s}_ci_low"] = np.nan if c.ci is None else c.ci[0]
                rec[f"{d}_{s}_ci_high"] = np.nan if c.ci is None else c.ci[1]
                rec[f"{d}_{s}_top"] = c.top
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
        lines = [f"# {self.title}", "",
                 "Accuracy in % (200-epoch, mean over the benchmark's trials) of the chosen cell; "
                 f"mean ± std over runs (ddof={DDOF}). {_bold_rule('**bold**')}", "",
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
        lines = [f"% {self.title}; written by `python -m runners table`",
                 f"% {_bold_rule('bold')}",
                 f"\\begin{{tabular}}{{{cols}}}", "\\hline", top + " \\\\", sub + " \\\\", "\\hline"]
        for i, r in enumerate(self.rows):
            if r.reference and i and not self.rows[i - 1].reference:
                lines.append("\\hline")
            lines.append(" & ".join([_tex(r.label)] + [r.cells[c].text(latex=True) for c in COLUMNS]) + " \\\\")
        lines += ["\\hline", "\\end{tabular}", ""]
        lines += [f"\\par\\noindent\\textsuperscript{{{i}}}\\,{_tex(t)}" for i, t in enumerate(self.notes, 1)]
        lines += [f"\\par\\noindent {_tex(t)}" for t in self.extra]
        return "\n".join(lines) + "\n"

    # --- significance ------------------------------------------------------------------------------------
    def significance_frame(self) -> pd.DataFrame:
        """Every pair of rows in every column: sizes, means, U, raw and Holm-corrected p, A12."""
        recs = []
        for (d, s), cmp in self.comparisons.items():
            for p in cmp.pairs:
                recs.append({"dataset": d, "split": s, "metric": reported_metric(d, s), "a": p.a, "b": p.b,
                             "n_a": p.n_a, "n_b": p.n_b, "mean_a": p.mean_a, "mean_b": p.mean_b, "U": p.u,
                             "p": p.p, "p_holm": p.p_holm, "A12": p.a12, "magnitude": stats.magnitude(p.a12),
                             "significant": p.significant})
        return pd.DataFrame(recs, columns=["dataset", "split", "metric", "a", "b", "n_a", "n_b", "mean_a", "mean_b",
                                           "U", "p", "p_holm", "A12", "magnitude", "significant"])

    def significance_markdown(self) -> str:
        lines = [f"# Significance: protocol {self.protocol}, {self.layout} layout", "",
                 f"Final accuracies compared per column: two-sided Mann-Whitney U tests, Holm's correction over "
                 f"the column's pairs, alpha = {stats.ALPHA}; effect size Vargha-Delaney A12 = P(a's run beats "
                 "b's; ties half), 0.5 = no effect; means with "
                 f"{stats.CONFIDENCE:.0%} BCa bootstrap intervals ({stats.RESAMPLES} resamples, seed "
                 f"{stats.BOOTSTRAP_SEED}). {_bold_rule('**top**')}", ""]
        few = sorted({n for cmp in self.comparisons.values() for n in cmp.sizes.values() if n < 10})
        if few:
            lines += [_few_runs_note(few), ""]
        for (d, s), cmp in self.comparisons.items():
            if not cmp.means:
                continue
            lines += [f"## {DISPLAY[d]} {s} ({reported_metric(d, s)})", "",
                      "| Row | Runs | Mean | 95% CI | Not significantly worse than the best |", "|---|---|---|---|---|"]
            for label in sorted(cmp.means, key=lambda k: -cmp.means[k]):
                ci = cmp.cis[label]
                ci_text = "n/a (1 run)" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
                mark = "**top** (best)" if label == cmp.best else ("**top**" if label in cmp.top else "worse")
                lines.append(f"| {label} | {cmp.sizes[label]} | {cmp.means[label]:.2f} | {ci_text} | {mark} |")
            if cmp.pairs:
                lines += ["", "| a | b | mean a - b | U | p | p (Holm) | A12 | |", "|---|---|---|---|---|---|---|---|"]
                for p in cmp.pairs:
                    lines.append(f"| {p.a} | {p.b} | {p.mean_a - p.mean_b:+.2f} | {p.u:g} | {p.p:.3g} | "
                                 f"{p.p_holm:.3g} | {p.a12:.3f} ({stats.magnitude(p.a12)}) | "
                                 f"{'significant' if p.significant else ''} |")
            lines.append("")
        return "\n".join(lines)


def _bold_rule(mark: str) -> str:
    return (f"{mark}: not significantly worse than the column's best (two-sided Mann-Whitney U, Holm-corrected "
            f"over the column's pairs, alpha = {stats.ALPHA}; every pair in significance.md).")


def _few_runs_note(sizes: list[int]) -> str:
    n = sizes[0]
    return (f"Few runs: some rows have only {', '.join(map(str, sizes))} runs. Two rows of {n} runs can never differ "
            f"significantly here: the smallest two-sided p-value a rank test can give {n} runs against {n} is "
            f"{stats.min_p_value(n, n):.3g}, before any correction; their intervals are wide and their marks say "
            "more about the number of runs than about the searchers.")


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


def build_table(report: Report) -> SummaryTable:
    runs, ref = report.runs, report.ref
    table = SummaryTable(report.protocol, [], layout=report.layout, runs=len(runs))
    for g in report.groups:
        cells = {}
        for d, s in COLUMNS:
            sub = g.on(d)
            what = f"searched on {g.searched or d}"
            cells[(d, s)] = _cell(table, sub[f"{d}_{s}"], sub["source"], what, reported_metric(d, s))
        table.rows.append(Row(g.label, cells, algo=g.algo, search_dataset=g.search_dataset))
    _mark_significance(table, report)
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
    if report.layout == "transfer":
        own = PROTOCOL_SPECS[report.protocol].search_datasets
        table.extra.append(f"Each row's cells are reported on all three datasets; unlabelled rows searched on "
                           f"{', '.join(own)} ({report.protocol}'s search), labelled rows on the dataset named.")
    table.extra += [f"Benchmark source of the reference rows: {ref.source}."] + ref.notes
    changed = overrides_lines(runs)
    if changed:
        table.extra.append("Runs NOT at the protocol's presets (--set / --smoke overrides): " + "; ".join(changed))
    subs = substitutes_lines(runs)
    if subs:
        table.extra.append("Substitutes used (figures the source lacks, replaced as documented): " + "; ".join(subs))
    else:
        table.extra.append("Substitutes used: none.")
    table.extra += [f"Left out: {n}" for n in report.left_out]
    return table


def _mark_significance(table: SummaryTable, report: Report) -> None:
    """Compare the searcher rows column by column and mark those not significantly worse than the best."""
    for d, s in COLUMNS:
        samples = {g.label: g.on(d)[f"{d}_{s}"].to_numpy(float) for g in report.groups}
        cmp = stats.compare(samples)
        table.comparisons[(d, s)] = cmp
        for row in table.rows:
            cell = row.cells[(d, s)]
            if row.label in cmp.means:
                cell.ci = cmp.cis[row.label]
                cell.top = row.label in cmp.top


def write_table(report: Report) -> list[Path]:
    """Write ``table.md``, ``.csv`` and ``.tex``, ``significance.md`` and ``.csv``, and ``anytime.md`` and ``.csv``
    (`runners.anytime`) into ``results/PROTOCOL/``, each atomically (``table-LAYOUT.*`` and so on for a layout
    other than the protocol's: `Report.stem`)."""

    table = build_table(report)
    folder = protocol_dir(report.results, report.protocol)
    stem, sig = report.stem("table"), report.stem("significance")
    paths = [folder / f"{stem}.md", folder / f"{stem}.csv", folder / f"{stem}.tex", folder / f"{sig}.md",
             folder / f"{sig}.csv"]
    write_atomic(paths[0], table.markdown())
    write_atomic(paths[1], table.to_frame().to_csv(index=False, lineterminator="\n"))
    write_atomic(paths[2], table.latex())
    write_atomic(paths[3], table.significance_markdown())
    write_atomic(paths[4], table.significance_frame().to_csv(index=False, lineterminator="\n"))
    return paths + write_anytime(report, report.stem("anytime"))
