"""The papers' figures and the anytime figures, drawn from the run folders (matplotlib Agg; PNG and PDF, each
written atomically). Every line is a group of `runners.collect.group_runs`: under NAS-Bench-201 a CIFAR-10 search
is drawn on every dataset's figures, against that dataset's figures and optimum; a search on another dataset is its
own, labelled line.

1. ``curves-DATASET``: benchmark accuracy (valid and test panels) of the incumbent of query-only searches against
   simulated time, mean ± std over runs, the benchmark optimum dashed (NATS-Bench Fig. 7). Each run's incumbent is
   a step function (it holds until the next query), sampled on a common time grid.
2. ``final-DATASET``: the final accuracy of every run, sorted, against "The index of runs" (NAS-Bench-201).
3. ``epochs-DATASET``: weight-sharing searches: accuracy of the cell derived at each epoch against the search
   epoch, mean ± std over seeds, with the optimum (NAS-Bench-201).
4. ``regret-DATASET``: mean regret (optimum minus the incumbent's figure) against simulated time, log-log.
5. ``ttt-DATASET``: the empirical distribution of the time to come within 0.5 (solid) and 1.0 (dashed) points
   of the optimum: the share of runs there by each simulated time (`runners.anytime`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import SEARCH_DATASETS, reported_metric
from runners.anytime import TARGETS, group_anytime
from runners.collect import DISPLAY, SPLITS, Group, Reference, Report
from runners.layout import protocol_dir, save_figure

#: Points of the common time grid of search curves (NATS-Bench draws 150 ticks up to the budget).
GRID_POINTS = 150


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def step_on_grid(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The value in force at each grid time: the last row at or before it (NaN before the first row)."""
    pos = np.searchsorted(times, grid, side="right") - 1
    out = np.full(grid.shape, np.nan)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


def _runs_on_grid(curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Mean and std over runs of step functions given as (times, values), on ``grid``, and the number of runs;
    NaN wherever some run has no value yet (before that the mean is over a few lucky runs); None when no run has a
    value anywhere."""
    if not curves:
        return None
    stack = np.stack([step_on_grid(times, values, grid) for times, values in curves])
    if np.all(np.isnan(stack)):
        return None
    mean, std = _mean_std(stack)
    partial = np.isnan(stack).any(axis=0)
    mean[partial] = std[partial] = np.nan
    return mean, std, len(stack)


def _mean_std(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)


def new_figure(ncols: int, nrows: int = 1, panel: tuple[float, float] = (6.2, 4.4)):  # noqa: ANN202 - matplotlib types
    """A figure of ``nrows`` x ``ncols`` panels of ``panel`` inches each, off screen (Agg): (pyplot, figure, the
    panels row by row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False)
    return plt, fig, axes.ravel()


#: Line styles of the search datasets of a figure: the protocol's own search solid, others dashed, dotted.
_SEARCH_STYLES = ("-", "--", ":")
#: Above this many lines a figure draws means only: overlapping ± std bands would hide them.
BAND_LINES = 4


def _open(groups: list[Group], nrows: int = 1):  # noqa: ANN202 - matplotlib types
    """A figure of a valid and a test panel (per row), and each group's line style: the colour says the searcher,
    the dash its search dataset, so a searcher keeps its colour across searches."""
    import matplotlib

    plt, fig, axes = new_figure(2, nrows)
    cmap = matplotlib.colormaps["tab10"]
    algos = list(dict.fromkeys(g.algo for g in groups))
    searches = list(dict.fromkeys(g.searched for g in groups))
    styles = {g.label: {"color": cmap(algos.index(g.algo) % 10),
                        "linestyle": _SEARCH_STYLES[searches.index(g.searched) % len(_SEARCH_STYLES)]}
              for g in groups}
    return plt, fig, axes, styles


def _summary(groups: list[Group]) -> str:
    return "mean ± std over runs" if len(groups) <= BAND_LINES else "mean over runs"


def _band(ax, x: np.ndarray, mean: np.ndarray, std: np.ndarray, style: dict, lines: int) -> None:  # noqa: ANN001
    if lines <= BAND_LINES:
        ax.fill_between(x, mean - std, mean + std, color=style["color"], alpha=0.2, linewidth=0)


def _optimum_line(ax, ref: Reference, dataset: str, split: str) -> None:  # noqa: ANN001
    v = ref.optimum(dataset, split)
    if v is not None:
        ax.axhline(v, color="black", linestyle="--", linewidth=1.0, label=f"optimum ({v:.2f})")


def _panel(ax, ref: Reference | None, dataset: str, split: str, drawn: bool, xlabel: str, ylabel: str,  # noqa: ANN001
           why: str | None = None) -> bool:
    """Finish one panel: the optimum line (if ``ref``), axis labels and title; a panel with nothing drawn says why
    instead."""
    title = f"{DISPLAY[dataset]} {split}"
    if not drawn:
        _no_data(ax, why or f"n/a: the benchmark source has no {reported_metric(dataset, split)}", title)
        return False
    if ref is not None:
        _optimum_line(ax, ref, dataset, split)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} ({reported_metric(dataset, split)})", fontsize=10)
    return True


def _no_data(ax, text: str, title: str = "") -> None:  # noqa: ANN001
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def finish_figure(plt, fig, axes, title: str, stem: Path, legend: str = "lower right") -> list[Path]:  # noqa: ANN001
    """Title, legends (where a panel has labelled lines) and grids; saved as ``stem`` (PNG and PDF) and closed."""
    fig.suptitle(title, fontsize=12)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, loc=legend)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = save_figure(fig, stem)
    plt.close(fig)
    return paths


def _query_groups(report: Report, dataset: str) -> list[Group]:
    return [g for g in report.groups if g.kind == "query" and len(g.on(dataset))]


def _where(groups: list[Group], dataset: str) -> str:
    searched = sorted({g.searched or dataset for g in groups}, key=SEARCH_DATASETS.index)
    return f"searched on {', '.join(DISPLAY[d] for d in searched)}"


def search_curves(report: Report, dataset: str, stem: Path) -> list[Path]:
    groups = _query_groups(report, dataset)
    if not groups:
        return []
    traces = {f: report.trace(f) for g in groups for f in g.on(dataset)["folder"]}
    horizon = max(float(t["time"].iloc[-1]) for t in traces.values() if len(t))
    grid = np.linspace(0.0, horizon, GRID_POINTS)
    plt, fig, axes, styles = _open(groups)
    for ax, split in zip(axes, SPLITS, strict=True):
        drawn = False
        lows: list[float] = []
        highs: list[float] = []
        col = f"incumbent_{dataset}_{split}"
        for g in groups:
            drawn_runs = _runs_on_grid([(traces[f]["time"].to_numpy(float), traces[f][col].to_numpy(float))
                                        for f in g.on(dataset)["folder"] if col in traces[f] and len(traces[f])], grid)
            if drawn_runs is None:
                continue
            mean, std, n = drawn_runs  # drawn only where every run has an incumbent
            ax.plot(grid, mean, **styles[g.label], label=f"{g.label} ({_n(n, 'run')})")
            _band(ax, grid, mean, std, styles[g.label], len(groups))
            late = grid >= 0.05 * horizon  # the first queries span tens of points; focus on the search itself
            spread = std if len(groups) <= BAND_LINES else 0.0  # the y range fits what is drawn
            lows.append(np.nanmin((mean - spread)[late]) if np.any(~np.isnan(mean[late])) else np.nan)
            highs.append(np.nanmax((mean + spread)[late]) if np.any(~np.isnan(mean[late])) else np.nan)
            drawn = True
        if not _panel(ax, report.ref, dataset, split, drawn, "Simulated search time (seconds)",
                      f"{split} accuracy of the incumbent (%)"):
            continue
        opt = report.ref.optimum(dataset, split)
        lo, hi = np.nanmin(lows + [np.inf]), np.nanmax(highs + [opt if opt is not None else -np.inf])
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            pad = 0.08 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(0, horizon)
    return finish_figure(plt, fig, axes, f"Query-only searches ({_where(groups, dataset)}), {DISPLAY[dataset]}: "
                   f"incumbent vs time ({_summary(groups)})", stem)


def sorted_finals(report: Report, dataset: str, stem: Path) -> list[Path]:
    groups = _query_groups(report, dataset)
    if not groups:
        return []
    plt, fig, axes, styles = _open(groups)
    for ax, split in zip(axes, SPLITS, strict=True):
        drawn = False
        for g in groups:
            v = np.sort(g.on(dataset)[f"{dataset}_{split}"].dropna().to_numpy())
            if len(v) == 0:
                continue
            ax.plot(np.arange(len(v)), v, **styles[g.label], label=f"{g.label} ({_n(len(v), 'run')})")
            drawn = True
        _panel(ax, report.ref, dataset, split, drawn, "The index of runs", f"{split} accuracy of the final cell (%)")
    return finish_figure(plt, fig, axes, f"Query-only searches ({_where(groups, dataset)}), {DISPLAY[dataset]}: final "
                   "accuracy of every run, sorted", stem)


def epoch_curves(report: Report, dataset: str, stem: Path) -> list[Path]:
    groups = [g for g in report.groups if g.kind != "query" and len(g.on(dataset))]
    if not groups:
        return []
    plt, fig, axes, styles = _open(groups)
    for ax, split in zip(axes, SPLITS, strict=True):
        col = f"{dataset}_{split}"
        drawn = False
        for g in groups:
            traces = [report.trace(f) for f in g.on(dataset)["folder"]]
            traces = [t for t in traces if col in t and len(t) and t[col].notna().any()]
            if not traces:
                continue
            longest = max(traces, key=len)
            stack = np.full((len(traces), len(longest)), np.nan)
            for i, t in enumerate(traces):
                stack[i, :len(t)] = t[col].to_numpy(float)
            x = longest["epoch"] if "epoch" in longest else np.arange(len(longest))
            mean, std = _mean_std(stack)
            ax.plot(x, mean, **styles[g.label], label=f"{g.label} ({_n(len(traces), 'seed')})")
            _band(ax, x, mean, std, styles[g.label], len(groups))
            drawn = True
        if _panel(ax, report.ref, dataset, split, drawn, "The searching epoch",
                  f"{split} accuracy of the derived cell (%)"):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return finish_figure(plt, fig, axes, f"Weight-sharing searches ({_where(groups, dataset)}), {DISPLAY[dataset]}: "
                   f"derived cell vs epoch ({_summary(groups).replace('runs', 'seeds')})", stem)


def regret_curves(report: Report, dataset: str, stem: Path) -> list[Path]:
    """Mean regret against simulated time, both axes logarithmic (where every run has an incumbent)."""
    groups = _query_groups(report, dataset)
    if not groups:
        return []
    plt, fig, axes, styles = _open(groups)
    for ax, split in zip(axes, SPLITS, strict=True):
        optimum = report.ref.optimum(dataset, split)
        col = f"incumbent_{dataset}_{split}"
        drawn = False
        for g in groups:
            folders = [f for f in g.on(dataset)["folder"] if col in report.trace(f) and len(report.trace(f))]
            if optimum is None or not folders:
                continue
            traces = [report.trace(f) for f in folders]
            start = min(float(t["time"].iloc[0]) for t in traces)
            end = max(float(t["time"].iloc[-1]) for t in traces)
            if end <= start:
                continue
            grid = np.geomspace(start, end, GRID_POINTS)
            drawn_runs = _runs_on_grid([(t["time"].to_numpy(float), optimum - t[col].to_numpy(float))
                                        for t in traces], grid)
            if drawn_runs is None:
                continue
            mean, _, n = drawn_runs
            ax.plot(grid, mean, **styles[g.label], label=f"{g.label} ({_n(n, 'run')})")
            drawn = True
        why = None if optimum is not None else f"n/a: the benchmark source has no {reported_metric(dataset, split)}"
        if _panel(ax, None, dataset, split, drawn, "Simulated search time (seconds, log)",
                  f"mean {split} regret (points, log)", why):
            ax.set_xscale("log")
            ax.set_yscale("log")
    return finish_figure(plt, fig, axes, f"Query-only searches ({_where(groups, dataset)}), {DISPLAY[dataset]}: mean "
                   "regret vs time", stem, legend="lower left")


def time_to_target(report: Report, dataset: str, stem: Path) -> list[Path]:
    """Empirical distribution of the time to come within each target of the optimum, a row of panels per target
    (runs that never get there keep the curve below 1)."""
    groups = _query_groups(report, dataset)
    if not groups:
        return []
    plt, fig, axes, styles = _open(groups, nrows=len(TARGETS))
    runs = {(g.label, s): group_anytime(report, g, dataset, s) for g in groups for s in SPLITS}
    for k, ax in enumerate(axes):
        i, j = divmod(k, len(SPLITS))
        split = SPLITS[j]
        drawn = False
        for g in groups:
            tt = np.sort([r.time_to[i] for r in runs[(g.label, split)]])
            ok = tt[np.isfinite(tt)]
            if len(ok) == 0:
                continue
            share = np.arange(1, len(ok) + 1) / len(tt)
            end = max(float(np.nanmax(g.on(dataset)["budget"])), float(ok[-1]))  # the plateau runs to the budget
            ax.step(np.append(ok, end), np.append(share, share[-1]), where="post", **styles[g.label],
                    label=f"{g.label} ({_n(len(tt), 'run')})")
            drawn = True
        if _panel(ax, None, dataset, split, drawn, "Simulated search time (seconds, log)",
                  f"share of runs within {TARGETS[i]:.1f} points", "no run comes within the target (or no figures)"):
            ax.set_title(f"{DISPLAY[dataset]} {split} ({reported_metric(dataset, split)}), within {TARGETS[i]:.1f}",
                         fontsize=10)
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
    return finish_figure(plt, fig, axes, f"Query-only searches ({_where(groups, dataset)}), {DISPLAY[dataset]}: time "
                   f"to within {' / '.join(f'{t:.1f}' for t in TARGETS)} points of the optimum", stem,
                   legend="upper left")


def plots_dir(report: Report) -> Path:
    """``results/PROTOCOL/plots/``; ``plots-LAYOUT/`` for a layout other than the protocol's (`Report.stem`)."""
    return protocol_dir(report.results, report.protocol) / report.stem("plots")


def write_plots(report: Report) -> list[Path]:
    """Every figure the finished runs of a protocol allow, into `plots_dir`."""
    if len(report.runs) == 0:
        return []
    out = plots_dir(report)
    paths: list[Path] = []
    for d in SEARCH_DATASETS:
        paths += search_curves(report, d, out / f"curves-{d}")
        paths += sorted_finals(report, d, out / f"final-{d}")
        paths += epoch_curves(report, d, out / f"epochs-{d}")
        paths += regret_curves(report, d, out / f"regret-{d}")
        paths += time_to_target(report, d, out / f"ttt-{d}")
    return paths
