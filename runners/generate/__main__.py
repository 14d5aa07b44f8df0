"""Command line of the benchmark generator: ``python -m runners.generate {show,plan,run,merge,build,compare,smoke}``.

    python -m runners.generate show                                   # the presets (schedules, settings, seeds)
    python -m runners.generate plan ROOT --archs 0..389 --seeds 777 888 999   # write ROOT/plan.json
    python -m runners.generate run ROOT [--shard 0/4]                 # train the pending jobs here (resumable)
    python -m runners.generate run ROOT --workers 2                   # ... on a local dask cluster (runners.cluster)
    python -m runners.generate run ROOT --gpu                         # ... one worker per visible GPU
    python -m runners.generate run ROOT --scheduler tcp://HOST:8786   # ... on a running dask cluster
    python -m runners.generate status ROOT [--jobs]                   # done / started / failed / pending (while it runs)
    python -m runners.generate merge ROOT                             # -> ROOT/benchmark.nbt.npz
    python -m runners.generate build ROOT --archs resnet ...          # plan + run + merge
    python -m runners.generate compare ROOT --reference nb201_tss.csv.gz
    python -m runners.generate smoke ROOT --cells 200                 # toy benchmark on the offline digits
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bench.generate.compare import compare_sources
from bench.generate.job import DATA_PATHS
from bench.generate.local import parse_shard
from bench.generate.plan import make_plan, write_plan
from bench.generate.protocol import SCHEDULES, SEEDS, SETTINGS, override
from bench.generate.smoke import SMOKE_SETTINGS, smoke_plan
from bench.generate.status import build_status, format_status
from runners.cluster import scheduler_address


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r} must be KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", type=Path, help="build folder (plan.json, runs/, benchmark.nbt.npz)")
    p.add_argument("--archs", required=True, nargs="+",
                   help="all | FROM..TO (inclusive) | resnet | INDEX | ARCH_STRING (several allowed)")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument("--schedules", nargs="+", default=["12", "200"], choices=list(SCHEDULES))
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a schedule field in every schedule (renames the schedule), e.g. epochs=2")
    p.add_argument("--data", action="append", metavar="FAMILY=SOURCE",
                   help="data source of a family, e.g. cifar10=cifar10-jpeg (default: the official files)")
    p.add_argument("--data-dir", help="where the data lives ($TORCH_HOME by default; the JPEG zip or its folder)")
    p.add_argument("--splits-dir", help="folder with the official split JSON files (default: the official lists "
                   "shipped in supernet/official_splits); 'seeded': seeded splits of the same sizes (recorded)")
    p.add_argument("--subset", type=int, help="cap on training images (seeded choice; CPU runs)")
    p.add_argument("--eval-subset", type=int, help="cap on each evaluation split")
    p.add_argument("--device", help="cpu | cuda | cuda:N (default: CUDA when present)")
    p.add_argument("--threads", type=int, help="torch threads per job")
    p.add_argument("--loader-workers", type=int, default=0,
                   help="data-loading processes per job (GPU runs; the batches do not depend on it)")
    p.add_argument("--keep-weights", action="store_true",
                   help="keep each trial's final weights (weights.pt per job) for the user API's get_net_param")
    p.add_argument("--data-path", default="auto", choices=DATA_PATHS,
                   help="where batches are made: on the device (images held there; auto on a GPU) or by the host's "
                        "NumPy pipeline; the batches are the same")
    p.add_argument("--replace", action="store_true", help="replace a different plan already in ROOT")


def _make_plan(args: argparse.Namespace):  # noqa: ANN202 - a Plan
    changes = _pairs(args.set, "--set")
    schedules = []
    for name in args.schedules:
        sched = SCHEDULES[name]
        if changes:
            sched = override(sched, changes)
            if "name" not in changes:
                sched = dataclasses.replace(sched, name=name + "-" + "-".join(f"{k}{v}" for k, v in changes.items()))
        schedules.append(sched)
    return make_plan(args.archs, settings=args.settings, seeds=args.seeds, schedules=schedules,
                     data=_pairs(args.data, "--data"), data_dir=args.data_dir, splits_dir=args.splits_dir,
                     subset=args.subset, eval_subset=args.eval_subset, device=args.device, threads=args.threads,
                     loader_workers=args.loader_workers, keep_weights=args.keep_weights, data_path=args.data_path)


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", help="I/N: run every N-th job starting at I (one process per GPU or machine)")
    p.add_argument("--stop-after", type=int, help="leave each job after this many epochs (resumable)")
    p.add_argument("--keep-checkpoints", action="store_true")
    _engine_args(p)


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int,
                   help="local dask cluster of N worker processes (0: in this process, the default without "
                        "--gpu/--scheduler; with --gpu: one per visible GPU, more share the GPUs round-robin)")
    p.add_argument("--scheduler", help="address of a running dask scheduler, whose workers train the jobs "
                                       "(default: $SCHEDULER)")
    p.add_argument("--gpu", action="store_true", help="one GPU per job: local workers pinned one to a GPU, or the "
                                                      "cluster's workers with a GPU resource")
    p.add_argument("--no-progress", action="store_true", help="a line per finished job instead of the live table")
    p.add_argument("--quiet", action="store_true")


def _run(args: argparse.Namespace, root: Path) -> int:
    """Train the pending jobs of ``root``'s plan, here or on the batch engine; 1 when a job failed."""
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be >= 0, got {args.workers}")
    from runners.generate.engine import run_jobs  # torch: only the commands that train pay for it

    # In this process unless an engine option asks for workers (--gpu alone: one local worker per GPU).
    scheduler = scheduler_address(args.scheduler)
    workers = args.workers if args.workers is not None or args.gpu or scheduler else 0
    statuses = run_jobs(root, shard=parse_shard(getattr(args, "shard", None)), scheduler=scheduler,
                        workers=workers, gpu=args.gpu, stop_after=getattr(args, "stop_after", None),
                        keep_checkpoint=getattr(args, "keep_checkpoints", False),
                        progress=not (args.no_progress or args.quiet), log=_log(args))
    counts = {s: n for s in ("done", "skipped", "stopped", "failed")
              if (n := sum(st.status == s for st in statuses))}
    print(f"jobs: {counts or 'none pending'}", flush=True)
    failed = [st for st in statuses if st.status == "failed"]
    for st in failed:
        print(f"failed: {st.folder}: {(st.error or '').strip().splitlines()[-1:]}", file=sys.stderr)
    return 1 if failed else 0


def _log(args: argparse.Namespace):  # noqa: ANN202 - print or None
    return None if args.quiet else (lambda s: print(s, flush=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("show", help="print the schedules, settings and seeds")
    _plan_args(sub.add_parser("plan", help="write ROOT/plan.json"))
    p = sub.add_parser("run", help="train the pending jobs of ROOT's plan")
    p.add_argument("root", type=Path)
    _run_args(p)
    p = sub.add_parser("status", help="where a build stands: jobs done, started, failed, pending")
    p.add_argument("root", type=Path)
    p.add_argument("--jobs", action="store_true", help="also a line per job, with a finished job's final figures")
    p = sub.add_parser("merge", help="merge finished jobs into ROOT/benchmark.nbt.npz")
    p.add_argument("root", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--no-curves", action="store_true", help="leave per-epoch curves out (a smaller table)")
    p = sub.add_parser("build", help="plan + run + merge")
    _plan_args(p)
    _run_args(p)
    p = sub.add_parser("compare", help="trained cells beside a reference benchmark's figures")
    p.add_argument("root", type=Path, help="build folder or a table file")
    p.add_argument("--reference", required=True, help="reference source: CSV, .pth, NATS file, table or 'default'")
    p = sub.add_parser("smoke", help="a toy benchmark on the offline digits")
    p.add_argument("root", type=Path)
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", nargs="+", type=int, default=[777, 888])
    p.add_argument("--settings", nargs="+", default=list(SMOKE_SETTINGS), choices=list(SETTINGS))
    p.add_argument("--threads", type=int)
    p.add_argument("--keep-weights", action="store_true", help="keep each trial's final weights")
    _engine_args(p)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # jobs checkpoint every epoch and write by rename
        print("stopped; the same command resumes (finished jobs are kept, started ones continue from their last "
              "epoch)", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.cmd == "show":
        print(json.dumps({"schedules": {k: v.as_dict() for k, v in SCHEDULES.items()},
                          "settings": {k: dataclasses.asdict(v) for k, v in SETTINGS.items()},
                          "seeds": list(SEEDS)}, indent=1))
        return 0
    if args.cmd in ("plan", "build"):
        plan = _make_plan(args)
        path = write_plan(plan, args.root, replace=args.replace)
        print(f"plan: {path} ({len(plan.jobs())} jobs)", flush=True)
        from supernet.splits import OFFICIAL as OFFICIAL_SPLITS
        from supernet.splits import SEEDED

        seeded = [s for s in plan.settings if plan.source(s) in OFFICIAL_SPLITS and s != "cifar10"]
        if seeded and plan.options.splits_dir == SEEDED:
            print(f"note: --splits-dir {SEEDED}, so {', '.join(seeded)} use seeded splits of the official sizes, not "
                  "the official NAS-Bench-201 index lists (every result records which); leave --splits-dir unset for "
                  "the benchmark's own splits", file=sys.stderr, flush=True)
        if args.cmd == "plan":
            return 0
    rc = 0
    if args.cmd in ("run", "build"):
        rc = _run(args, args.root)
        if args.cmd == "run":
            return rc
    if args.cmd in ("merge", "build"):
        from bench.generate.merge import build_benchmark  # torch: the closed-form counts

        out = build_benchmark(args.root, getattr(args, "out", None), curves=not getattr(args, "no_curves", False))
        print(f"benchmark: {out}  (load with bench.Benchmark.load({str(out)!r}))", flush=True)
        return rc
    if args.cmd == "status":
        print(format_status(build_status(args.root), jobs=args.jobs))
        return 0
    if args.cmd == "compare":
        from bench.generate.merge import BENCHMARK

        source = args.root / BENCHMARK if args.root.is_dir() else args.root
        print(compare_sources(source, args.reference))
        return 0
    if args.cmd == "smoke":
        plan = smoke_plan(args.cells, seeds=args.seeds, epochs=args.epochs, settings=args.settings,
                          threads=args.threads, keep_weights=args.keep_weights)
        write_plan(plan, args.root)
        rc = _run(args, args.root)
        from bench.generate.merge import build_benchmark

        print(f"smoke benchmark: {build_benchmark(args.root)}")
        return rc
    raise AssertionError(args.cmd)


if __name__ == "__main__":
    sys.exit(main())
