"""Overhead of the batch engine: the query-only runs of one dataset through a local dask cluster vs in one process.

    .venv/bin/python -m runners.perf.engine [--runs 500] [--algos rea random reinforce] [--bohb-runs 20]
        [--dataset cifar10] [--workers 1] [--bench PATH] [--chunk 25] [--repeat 1]

The paper's query-only batch of one dataset is 2,000 runs: R-EA, Random, REINFORCE and BOHB, 500 each. Each mode
runs the same ``python -m runners batch`` command (``--no-progress --no-report``) into its own fresh results folder:
``--workers 0`` (every run in the driver process, no dask) and ``--workers N`` (a local cluster on 127.0.0.1; N=1
by default, so that both modes have one core and the difference is the engine's cost, not parallelism). Printed
per mode: the batch's own time (``batch-summary.json``: for dask this includes starting the cluster, the workers'
imports and their loading the benchmark once each), the whole command's wall time and its CPU time (workers
included; on a busy machine a steadier measure than wall time); then the overhead (dask minus in-process) in
seconds, per run and in % of the in-process time. Target: under 20%. The engine's fixed cost per batch is measured
on its own first (a batch of 2 runs in each mode).

BOHB takes about a second a run, so by default it is measured on ``--bohb-runs`` runs (a batch of its own in each
mode) and extrapolated linearly to ``--runs``, less the second cluster start; the output says which figures are
measured and which extrapolated. ``--algos rea random reinforce bohb`` measures all of them at ``--runs``. Both
modes must choose the same cell in every run (checked). ``--repeat N`` runs each batch N times, alternating the
modes' order, and keeps the fastest. On a shared machine compare figures from one invocation only (the load
average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ALGOS = ("rea", "random", "reinforce")
TARGET_PERCENT = 20.0


@dataclass
class Timing:
    mode: str
    runs: int
    batch_s: float
    command_s: float
    #: CPU seconds of the whole command, workers included: robust to a busy machine, unlike wall time.
    cpu_s: float
    chosen: dict[str, int]
    all_batch_s: list[float] = field(default_factory=list)


def _batch(algos: list[str], runs: int, workers: int, args: argparse.Namespace, results: Path) -> Timing:
    cmd = [sys.executable, "-m", "runners", "batch", "--algos", *algos, "--datasets", args.dataset, "--seeds", "-1",
           "--runs", str(runs), "--workers", str(workers), "--protocol", args.protocol, "--chunk", str(args.chunk),
           "--results", str(results), "--no-progress", "--no-report"]
    if args.bench:
        cmd += ["--bench", args.bench, *[a for s in args.substitute for a in ("--substitute", s)]]
    t0, cpu0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"the batch failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    summary = json.loads((results / args.protocol / "batch-summary.json").read_text())
    done = sum(c.get("finished", 0) for c in summary["counts"].values())
    if done != runs * len(algos):
        raise SystemExit(f"expected {runs * len(algos)} finished runs, the batch reports {summary['counts']}")
    chosen = {}
    for res in sorted((results / args.protocol / args.dataset).glob("*/seed-*/result.json")):
        chosen[f"{res.parent.parent.name}/{res.parent.name}"] = json.loads(res.read_text())["index"]
    mode = "in-process (--workers 0)" if workers == 0 else f"dask, {workers} local worker{'s' * (workers > 1)}"
    return Timing(mode, done, summary["seconds"], wall, cpu, chosen)


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes and theirs (the driver reaps its workers)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _pair(algos: list[str], runs: int, args: argparse.Namespace, tmp: Path, tag: str) -> tuple[Timing, Timing]:
    """Each mode ``--repeat`` times, alternating which goes first; the fastest of each (on a shared machine the
    slower repeats measure the neighbours)."""
    timings: dict[int, list[Timing]] = {0: [], args.workers: []}
    for r in range(args.repeat):
        for workers in ((0, args.workers) if r % 2 == 0 else (args.workers, 0)):
            timings[workers].append(_batch(algos, runs, workers, args, tmp / f"{tag}-{r}-{workers}"))
            shutil.rmtree(tmp / f"{tag}-{r}-{workers}", ignore_errors=True)
    best = {}
    for workers, ts in timings.items():
        best[workers] = min(ts, key=lambda t: t.batch_s)
        best[workers].all_batch_s = [t.batch_s for t in ts]
    base, dask = best[0], best[args.workers]
    if base.chosen != dask.chosen:
        raise SystemExit(f"{tag}: the two modes chose different cells; the engine changed results")
    return base, dask


def _row(t: Timing, scale: float = 1.0) -> str:
    line = (f"  {t.mode:<28} {t.runs * scale:7.0f} runs  batch {t.batch_s * scale:8.2f} s  "
            f"command {t.command_s * scale:8.2f} s  CPU {t.cpu_s * scale:8.2f} s  {1000 * t.batch_s / t.runs:7.2f} ms/run")
    if len(t.all_batch_s) > 1:
        line += f"  (fastest of {', '.join(f'{x:.2f}' for x in t.all_batch_s)} s)"
    return line


def _overhead(base: float, dask: float, runs: float) -> str:
    extra = dask - base
    return f"{extra:+.2f} s = {1000 * extra / runs:+.2f} ms per run = {100 * extra / base:+.1f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500, help="runs per algorithm (default 500, the paper's)")
    ap.add_argument("--algos", nargs="+", default=list(DEFAULT_ALGOS), help="measured at --runs (default: R-EA, "
                    "Random, REINFORCE; add bohb to measure it at --runs too)")
    ap.add_argument("--bohb-runs", type=int, default=20, help="BOHB runs measured when bohb is not in --algos, "
                    "extrapolated to --runs (0: leave BOHB out)")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--protocol", default="nb201")
    ap.add_argument("--workers", type=int, default=1, help="dask workers (default 1: same parallelism as in-process)")
    ap.add_argument("--chunk", type=int, default=25, help="query-only runs per task (the batch's --chunk)")
    ap.add_argument("--bench", default=None, help="benchmark source (default: the embedded default)")
    ap.add_argument("--substitute", action="append", default=[], help="with --bench, as for the batch (repeat)")
    ap.add_argument("--repeat", type=int, default=1, help="batches per mode, alternating; the fastest counts")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.workers < 1 or args.bohb_runs < 0 or args.repeat < 1:
        ap.error("--runs, --workers and --repeat must be >= 1, --bohb-runs >= 0")

    tmp = Path(tempfile.mkdtemp(prefix="perf-engine-"))
    print(f"engine overhead: {args.protocol} {args.dataset}, bench {args.bench or 'embedded default'}; "
          f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    try:
        # The engine's fixed cost (cluster start, the workers' imports, each worker loading the benchmark once):
        # two runs of Random in each mode (one run would not be a batch).
        one_base, one_dask = _pair(["random"], 2, args, tmp, "one")
        fixed, fixed_cpu = one_dask.batch_s - one_base.batch_s, one_dask.cpu_s - one_base.cpu_s
        print(f"fixed cost of the engine (a batch of 2 Random runs: {one_base.batch_s:.2f} s in-process, "
              f"{one_dask.batch_s:.2f} s on dask): {fixed:.2f} s per batch ({fixed_cpu:.2f} CPU-s)")
        base, dask = _pair(list(args.algos), args.runs, args, tmp, "main")
        print(f"measured: {', '.join(args.algos)} x {args.runs} = {base.runs} runs in one batch")
        print(_row(base))
        print(_row(dask))
        print(f"  overhead (batch time): {_overhead(base.batch_s, dask.batch_s, base.runs)}, of which "
              f"{fixed:.2f} s fixed; whole command: {_overhead(base.command_s, dask.command_s, base.runs)}")
        total_base, total_dask, runs, label = base.batch_s, dask.batch_s, base.runs, "measured"
        cpu_base, cpu_dask = base.cpu_s, dask.cpu_s
        if "bohb" not in args.algos and args.bohb_runs:
            b_base, b_dask = _pair(["bohb"], args.bohb_runs, args, tmp, "bohb")
            scale = args.runs / args.bohb_runs
            print(f"measured: bohb x {args.bohb_runs} (a batch of its own in each mode)")
            print(_row(b_base))
            print(_row(b_dask))
            per_run = (b_dask.batch_s - fixed - b_base.batch_s) / b_base.runs
            print(f"  overhead per BOHB run, less the fixed cost: {1000 * per_run:+.2f} ms "
                  f"({100 * per_run * b_base.runs / b_base.batch_s:+.1f}%)")
            # In one batch the cluster starts once: the BOHB runs add their per-run cost only.
            total_base += b_base.batch_s * scale
            total_dask += (b_dask.batch_s - fixed) * scale
            cpu_base += b_base.cpu_s * scale
            cpu_dask += (b_dask.cpu_s - fixed_cpu) * scale
            runs += args.runs
            label = f"extrapolated (bohb x {args.runs} from x {args.bohb_runs}, linear)"
        pct = 100 * (total_dask - total_base) / total_base
        print(f"{label}: {runs} runs: in-process {total_base:.1f} s, dask {total_dask:.1f} s; "
              f"overhead {_overhead(total_base, total_dask, runs)}")
        print(f"  CPU of the whole commands (workers included): in-process {cpu_base:.1f} s, dask {cpu_dask:.1f} s; "
              f"overhead {_overhead(cpu_base, cpu_dask, runs)}")
        print(f"target: engine overhead < {TARGET_PERCENT:g}%: {'met' if pct < TARGET_PERCENT else 'NOT met'} "
              f"({pct:.1f}%); load average at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
