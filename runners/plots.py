"""The papers' figures, drawn from the run folders (matplotlib Agg; PNG and PDF, each written atomically).

1. ``curves-DATASET``: benchmark accuracy (valid and test panels) of the incumbent of query-only searches against
   simulated time, mean ± std over runs, one line per algorithm, the benchmark optimum dashed (NATS-Bench Fig. 7).
   Each run's incumbent is a step function (it holds until the next query), sampled on a common time grid.
2. ``final-DATASET``: the final accuracy of every run, sorted, against "The index of runs" (NAS-Bench-201).
3. ``epochs-DATASET``: weight-sharing searches: accuracy of the cell derived at each epoch against the search
   epoch, mean ± std over seeds, with the optimum (NAS-Bench-201). Under the NAS-Bench-201 protocol the cell is
   the one searched on CIFAR-10, drawn on every dataset's figures, as the paper does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench import SEARCH_DATASETS, reported_metric
from runners.collect import DISPLAY, SPLITS, Reference, algo_order, collect_runs, read_trace, reference
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


def _mean_std(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)


def _figure(ncols: int):  # noqa: ANN202 - matplotlib types
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.4), squeeze=False)
    return plt, fig, axes[0]


def _colors(names: list[str]) -> dict[str, object]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _optimum_line(ax, ref: Reference, dataset: str, split: str) -> None:  # noqa: ANN001
    v = ref.optimum(dataset, split)
    if v is not None:
        ax.axhline(v, color="black", linestyle="--", linewidth=1.0, label=f"optimum ({v:.2f})")


def _panel(ax, ref: Reference, dataset: str, split: str, drawn: bool, xlabel: str, what: str) -> bool:  # noqa: ANN001
    """Finish one panel: the optimum line, axis labels and title; a panel with nothing drawn says why instead."""
    title = f"{DISPLAY[dataset]} {split}"
    if not drawn:
        _no_data(ax, f"n/a: the benchmark source has no {reported_metric(dataset, split)}", title)
        return False
    _optimum_line(ax, ref, dataset, split)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{split} accuracy of {what} (%)")
    ax.set_title(f"{title} ({reported_metric(dataset, split)})", fontsize=10)
    return True


def _no_data(ax, text: str, title: str = "") -> None:  # noqa: ANN001
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(plt, fig, axes, title: str, stem: Path) -> list[Path]:  # noqa: ANN001
    fig.suptitle(title, fontsize=12)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = save_figure(fig, stem)
    plt.close(fig)
    return paths


def search_curves(runs: pd.DataFrame, ref: Reference, dataset: str, stem: Path) -> list[Path]:
    q = runs[(runs["kind"] == "query") & (runs["dataset"] == dataset)]
    if len(q) == 0:
        return []
    traces = {f: read_trace(f, ["time", "incumbent_valid", "incumbent_test"]) for f in q["folder"]}
    horizon = max(float(t["time"].iloc[-1]) for t in traces.values() if len(t))
    grid = np.linspace(0.0, horizon, GRID_POINTS)
    names = algo_order(q["algo"])
    colors = _colors(names)
    plt, fig, axes = _figure(2)
    for ax, split in zip(axes, SPLITS, strict=True):
        drawn = False
        lows: list[float] = []
        highs: list[float] = []
        for algo in names:
            folders = q.loc[q["algo"] == algo, "folder"]
            col = f"incumbent_{split}"
            stack = np.stack([step_on_grid(traces[f]["time"].to_numpy(float), traces[f][col].to_numpy(float), grid)
                              for f in folders if col in traces[f] and len(traces[f])])
            if np.all(np.isnan(stack)):
                continue
            mean, std = _mean_std(stack)
            # Draw only where every run has an incumbent: before that the mean is over a few lucky runs.
            partial = np.isnan(stack).any(axis=0)
            mean[partial] = std[partial] = np.nan
            ax.plot(grid, mean, color=colors[algo], label=f"{algo} ({_n(len(stack), 'run')})")
            ax.fill_between(grid, mean - std, mean + std, color=colors[algo], alpha=0.2, linewidth=0)
            late = grid >= 0.05 * horizon  # the first queries span tens of points; focus on the search itself
            lows.append(np.nanmin((mean - std)[late]) if np.any(~np.isnan(mean[late])) else np.nan)
            highs.append(np.nanmax((mean + std)[late]) if np.any(~np.isnan(mean[late])) else np.nan)
            drawn = True
        if not _panel(ax, ref, dataset, split, drawn, "Simulated search time (seconds)", "the incumbent"):
            continue
        opt = ref.optimum(dataset, split)
        lo, hi = np.nanmin(lows + [np.inf]), np.nanmax(highs + [opt if opt is not None else -np.inf])
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            pad = 0.08 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(0, horizon)
    return _finish(plt, fig, axes, f"Query-only searches on {DISPLAY[dataset]}: incumbent vs time "
                   "(mean ± std over runs)", stem)


def sorted_finals(runs: pd.DataFrame, ref: Reference, dataset: str, stem: Path) -> list[Path]:
    q = runs[(runs["kind"] == "query") & (runs["dataset"] == dataset)]
    if len(q) == 0:
        return []
    names = algo_order(q["algo"])
    colors = _colors(names)
    plt, fig, axes = _figure(2)
    for ax, split in zip(axes, SPLITS, strict=True):
        drawn = False
        for algo in names:
            v = np.sort(q.loc[q["algo"] == algo, f"{dataset}_{split}"].dropna().to_numpy())
            if len(v) == 0:
                continue
            ax.plot(np.arange(len(v)), v, color=colors[algo], label=f"{algo} ({_n(len(v), 'run')})")
            drawn = True
        _panel(ax, ref, dataset, split, drawn, "The index of runs", "the final cell")
    return _finish(plt, fig, axes, f"Query-only searches on {DISPLAY[dataset]}: final accuracy of every run, sorted",
                   stem)


def epoch_curves(runs: pd.DataFrame, ref: Reference, protocol: str, dataset: str, stem: Path) -> list[Path]:
    ws = runs[runs["kind"] != "query"]
    searched = "cifar10" if protocol == "nb201" else dataset
    ws = ws[ws["dataset"] == searched]
    if len(ws) == 0:
        return []
    names = algo_order(ws["algo"])
    colors = _colors(names)
    plt, fig, axes = _figure(2)
    for ax, split in zip(axes, SPLITS, strict=True):
        col = f"{dataset}_{split}"
        drawn = False
        for algo in names:
            traces = [read_trace(f) for f in ws.loc[ws["algo"] == algo, "folder"]]
            traces = [t for t in traces if col in t and len(t) and t[col].notna().any()]
            if not traces:
                continue
            n = max(len(t) for t in traces)
            stack = np.full((len(traces), n), np.nan)
            for i, t in enumerate(traces):
                stack[i, :len(t)] = t[col].to_numpy(float)
            x = np.arange(n) if "epoch" not in traces[0] else traces[max(range(len(traces)),
                                                                           key=lambda i: len(traces[i]))]["epoch"]
            mean, std = _mean_std(stack)
            ax.plot(x, mean, color=colors[algo], label=f"{algo} ({_n(len(traces), 'seed')})")
            ax.fill_between(x, mean - std, mean + std, color=colors[algo], alpha=0.2, linewidth=0)
            drawn = True
        if _panel(ax, ref, dataset, split, drawn, "The searching epoch", "the derived cell"):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    where = f"searched on {DISPLAY[searched]}" if searched != dataset else "searched on it"
    return _finish(plt, fig, axes, f"Weight-sharing searches, {DISPLAY[dataset]} ({where}): derived cell vs epoch",
                   stem)


def write_plots(results: Path, protocol: str, bench: str | None = None) -> list[Path]:
    """Every figure the finished runs of a protocol allow, into ``results/PROTOCOL/plots/``."""
    runs = collect_runs(results, protocol)
    if len(runs) == 0:
        return []
    ref = reference(runs, bench)
    out = protocol_dir(results, protocol) / "plots"
    paths: list[Path] = []
    for d in SEARCH_DATASETS:
        paths += search_curves(runs, ref, d, out / f"curves-{d}")
        paths += sorted_finals(runs, ref, d, out / f"final-{d}")
        paths += epoch_curves(runs, ref, protocol, d, out / f"epochs-{d}")
    return paths
