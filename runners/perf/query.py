"""Speed of the query-only searchers: 500 runs each of R-EA, Random and REINFORCE (and BOHB) on CIFAR-10.

    .venv/bin/python -m runners.perf.query [--runs 500] [--bohb-runs 500] [--source PATH] [--protocol nb201]

Prints runs/s, queries/s and the share of time spent outside the oracle for each searcher. The oracle's share is
measured by replaying every query of the runs through a fresh clock; the rest is the searcher's own work (and,
for BOHB, hpbandster and Pyro). CPU time (all threads) is printed too: on a shared machine it says what a
dedicated core would need. Targets: each set of 500 runs of R-EA, Random or REINFORCE under 10 s on one
core; 500 BOHB runs under 10 minutes. ``--bohb-runs N`` times N BOHB runs and extrapolates to ``--runs`` (the
output says so). Each searcher gets one untimed warm-up run first. The source is ../shared's CSV when present, else the embedded default with its documented
substitutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from algos import SearchContext, get_searcher
from bench import Benchmark
from bench.clock import SimulatedClock

CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201" / "nb201_tss.csv.gz"
CSV_SUBS = ("trial-mean", "train200-scaled", "no-eval-time")
DEFAULT_SUBS = ("acc200-for-acc12", "train200-scaled", "no-eval-time")


def time_searcher(name: str, bench: Benchmark, subs: tuple[str, ...], protocol: str, runs: int,
                  dataset: str) -> dict:
    cls = get_searcher(name)
    config = cls.preset(protocol)
    queried: list[int] = []
    warm = SearchContext(bench=bench, dataset=dataset, seed=-1, rng=np.random.default_rng(10**6), substitutes=subs)
    cls(config).search(warm)  # one untimed run: lazy imports (hpbandster, statsmodels) and caches
    t0, c0 = time.perf_counter(), time.process_time()
    for seed in range(runs):
        ctx = SearchContext(bench=bench, dataset=dataset, seed=seed, rng=np.random.default_rng(seed),
                            substitutes=subs)
        result = cls(config).search(ctx)
        queried.extend(result.trace.column("index"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # The oracle's share: the same queries again, through a clock alone.
    clock = SimulatedClock(bench, dataset, config.budget(dataset), substitutes=subs, rng=np.random.default_rng(0),
                           partial_epochs=name == "bohb" and protocol == "nats")
    query = clock.query
    t1 = time.perf_counter()
    for i in queried:
        query(i)
    oracle = time.perf_counter() - t1
    return {"name": name, "runs": runs, "wall": wall, "cpu": cpu, "queries": len(queried), "oracle": oracle}


def report(r: dict, extrapolate_to: int | None = None) -> str:
    runs, wall = r["runs"], r["wall"]
    line = (f"{r['name']:>10}: {runs} runs in {wall:7.2f} s = {runs / wall:8.1f} runs/s, "
            f"{r['queries'] / wall:9.0f} queries/s ({r['queries'] / runs:.0f} per run), "
            f"outside the oracle {100 * (1 - r['oracle'] / wall):5.1f}%, CPU {r['cpu']:.2f} s (all threads)")
    if extrapolate_to and extrapolate_to != runs:
        line += (f"; extrapolated to {extrapolate_to} runs: {wall / runs * extrapolate_to:.0f} s "
                 f"({r['cpu'] / runs * extrapolate_to:.0f} CPU-s)")
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--bohb-runs", type=int, default=None, help="BOHB runs to time (default --runs); extrapolated")
    ap.add_argument("--source", default=None, help="benchmark source (default: ../shared CSV if present, else the "
                                                    "embedded default)")
    ap.add_argument("--protocol", default="nb201", choices=["nb201", "nats"])
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--skip-bohb", action="store_true")
    args = ap.parse_args(argv)

    source = args.source or (str(CSV) if CSV.is_file() else None)
    bench = Benchmark.load(source)
    subs = CSV_SUBS if source and source.endswith(".csv.gz") else DEFAULT_SUBS
    if args.protocol == "nats":
        subs += ("final-for-epoch",)
    print(f"source: {bench.source}; substitutes: {', '.join(subs)}; protocol {args.protocol}, dataset "
          f"{args.dataset}; python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores (single-threaded runs)")
    for name in ("rea", "random", "reinforce"):
        r = time_searcher(name, bench, subs, args.protocol, args.runs, args.dataset)
        print(report(r) + ("" if r["wall"] < 10 else "  [over the 10 s target]"), flush=True)
    if not args.skip_bohb:
        n = args.bohb_runs or args.runs
        r = time_searcher("bohb", bench, subs, args.protocol, n, args.dataset)
        total = r["wall"] / n * args.runs
        print(report(r, args.runs) + ("" if total < 600 else "  [over the 10 min target]"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
