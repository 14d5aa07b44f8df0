"""How fast each weight-sharing searcher's search step runs, beside the original's, and what that means for a full
search (not a test).

    python -m runners.perf.weight_sharing [--algos all] [--protocol nb201] [--dataset cifar10] [--steps 5]
                                          [--warmup 1] [--threads N] [--device cpu] [--no-compare] [--json FILE]
                                          [--option precision=bf16 ...]

For each searcher: its supernet and optimizers at the protocol's size (C=16, N=5, its batch size), then the
searcher's own ``step`` timed on synthetic batches of the dataset's image shape (the data pipeline is not timed).
Beside it, in the same process, on the same batches, threads and device, the ORIGINAL's step: xautodl's supernet
of the searcher driven as NB201's script drives it (`runners.perf.xautodl_steps`), alternating with ours step by step so
that both see the same machine load. A step that trains a sampled cell (SETN's and RANDOM-NAS' weight step, ENAS'
shared step) trains the same cell on both sides, and GDAS draws its Gumbel noise from the same random state on both
sides (a path's cost depends on its ops). ``ratio`` = xautodl's median s/step over ours; ``(min)`` = the same of
the fastest step of each (on a machine shared with other work, the least disturbed estimate).

Printed per searcher: wall seconds per step, ours and xautodl's, and their ratio (the process's CPU seconds per step
too: on a shared machine a wall time well above CPU time / threads means other processes took the cores), images/s
(weight-batch images per second; each step also reads an architecture batch of the same size), the per-epoch valid
pass (the searcher's ``valid_logits`` forward over the architecture split at the test batch size), and the
projected wall time of a full search:

    projected = epochs x (steps/epoch x s/step + valid images / valid images/s)

plus the steps-only figure from wall time and from CPU time / threads (``(steps, cpu)``: close to what the steps
take on an otherwise idle machine). The targets of issue 12 follow the table: every step >= 2x the original's on a
CPU (>= 3x on a GPU); on a GPU, a full DARTS-V1 search under 15 minutes and GDAS' 250 epochs under an hour.

``--option KEY=VALUE``: the runner options a search takes (``precision``, ``channels_last``, ``cuda_graphs``),
applied to ours (xautodl runs as the original does: float32 with torch's defaults, contiguous memory).

A searcher without a ``step`` (ENAS trains per epoch) is timed by its function in ``STEP_TIMERS`` (name -> timer;
the others by their ``step``). Work done once per epoch besides the steps -- SETN / RANDOM-NAS / ENAS candidate
scoring, ENAS' controller training -- is timed by a function in ``EPOCH_TIMERS`` on a few synthetic batches, scaled
to the protocol's counts, and added to each epoch (column ``extra s/ep``). Not included: the data pipeline.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algos import WEIGHT_SHARING_SEARCHERS, SearchContext, get_searcher
from algos.base import parse_assignments
from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from bench import Benchmark
from runners.plan import UsageError, parse_options
from search_space import Arch
from supernet.runtime import describe_device, pick_device, seed_everything
from supernet.runtime import synchronize as _sync

#: Images on each side of the search (PROTOCOLS.md 1.2): weight split, architecture (valid) split; input side.
SPLIT_SIZES: dict[str, tuple[int, int, int, int]] = {
    # dataset: (weight images, architecture images, image side, classes)
    "cifar10": (25_000, 25_000, 32, 10),
    "cifar100": (50_000, 5_000, 32, 100),
    "ImageNet16-120": (151_700, 3_000, 16, 120),
}

#: How one search step of a searcher is run: (searcher, run, weight batch, architecture batch) -> None.
StepTimer = Callable[[OneShotSearcher, OneShotRun, Batch, Batch], None]
#: Seconds of per-epoch work besides the steps: (searcher, run, batch(n) -> synthetic device batch) -> seconds.
EpochTimer = Callable[[OneShotSearcher, OneShotRun, Callable[[int], Batch]], float]


@dataclass(frozen=True)
class SyntheticData:
    """What building a run needs from the data, without reading any."""

    num_classes: int
    image_size: int


def default_timer(searcher: OneShotSearcher, run: OneShotRun, base: Batch, arch: Batch) -> None:
    searcher.step(run, base, arch)




def next_cell(searcher: OneShotSearcher, run: OneShotRun) -> Arch | None:
    """The cell our next step will train, for the steps that train one sampled cell for every search cell (SETN,
    RANDOM-NAS under NB201's 'shared' sampling, ENAS), read from copies of the random state it will be drawn from;
    None for the others."""
    name = searcher.name
    if name == "setn" or (name == "random-nas" and searcher.config.weight_sampling == "shared"):
        return Arch.sample(copy.deepcopy(run.ctx.rng))
    if name == "enas":
        gen = torch.Generator(device=run.torch_generator.device)
        gen.set_state(run.torch_generator.get_state())
        return searcher.controller(run).sample_archs(1, gen)[0]
    return None


def global_generator(device: torch.device) -> torch.Generator:
    """torch's default generator of ``device`` (what xautodl's GDAS draws its Gumbel noise from)."""
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]
    return torch.default_generator


@dataclass
class Bench:
    """A searcher's supernet and optimizers at a protocol's size on synthetic batches, ready to time."""

    searcher: OneShotSearcher
    run: OneShotRun
    timer: StepTimer
    batch: Callable[[int], Batch]
    steps_per_epoch: int
    n_valid: int


def prepare(name: str, protocol: str = "nb201", dataset: str = "cifar10", device: torch.device | None = None,
            overrides: dict[str, str] | None = None, seed: int = 0, options: dict[str, Any] | None = None,
            bench: Benchmark | None = None) -> Bench:
    """Build ``name``'s run (``options``: runner options) and a synthetic batch maker of the dataset's shape.
    ``bench``: the benchmark the context holds (default: the embedded one; no figure of it is read)."""
    if dataset not in SPLIT_SIZES:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(SPLIT_SIZES)}")
    cls = get_searcher(name)
    cfg = cls.preset(protocol, overrides or {})
    searcher = cls(cfg)
    timer = STEP_TIMERS.get(name, default_timer)
    device = pick_device(None) if device is None else device
    n_weight, n_valid, side, classes = SPLIT_SIZES[dataset]
    seed_everything(seed)
    ctx = SearchContext(bench=Benchmark.load() if bench is None else bench, dataset=dataset, seed=seed,
                        rng=np.random.default_rng(seed), options=dict(options or {}))
    run = searcher.build_run(ctx, SyntheticData(classes, side), device)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(seed)

    def batch(n: int) -> Batch:
        x = torch.randn(n, 3, side, side, generator=g)
        y = torch.randint(0, classes, (n,), generator=g)
        return x.to(device), y.to(device)

    run.lr = cfg.lr_at(0)
    searcher.begin_epoch(run, 0)
    return Bench(searcher, run, timer, batch, math.ceil(n_weight / cfg.batch_size), n_valid)


def steps_for(prepared: Bench, seconds: float, start: Callable[[], None] | None = None) -> tuple[int, float]:
    """Steps run in about ``seconds`` of wall time (after one warm-up step, then ``start()``) and the seconds taken:
    several searches sharing one GPU each run this in their own process."""
    cfg = prepared.searcher.config
    pairs = [(prepared.batch(cfg.batch_size), prepared.batch(cfg.batch_size)) for _ in range(2)]
    prepared.timer(prepared.searcher, prepared.run, *pairs[0])
    _sync(prepared.run.device)
    if start is not None:
        start()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        prepared.timer(prepared.searcher, prepared.run, *pairs[n % 2])
        n += 1
        if n % 8 == 0:
            _sync(prepared.run.device)
    _sync(prepared.run.device)
    return n, time.perf_counter() - t0


def measure(name: str, protocol: str = "nb201", dataset: str = "cifar10", steps: int = 3, warmup: int = 1,
            device: torch.device | None = None, overrides: dict[str, str] | None = None, seed: int = 0,
            compare: bool = False, options: dict[str, Any] | None = None,
            bench: Benchmark | None = None) -> dict[str, Any]:
    """Time ``steps`` search steps (after ``warmup``) and one valid batch of ``name`` at the protocol's size; with
    ``compare``, the original's step too, alternating with ours on the same batches and cells."""
    prepared = prepare(name, protocol, dataset, device, overrides, seed, options, bench)
    searcher, run, timer, batch = prepared.searcher, prepared.run, prepared.timer, prepared.batch
    cfg, device, ctx = searcher.config, run.device, run.ctx
    classes = SPLIT_SIZES[dataset][3]
    reference = None
    if compare:
        from runners.perf.xautodl_steps import reference_step

        reference = reference_step(name, cfg, classes, device, alpha=run.network.alpha.detach())
    pairs = [(batch(cfg.batch_size), batch(cfg.batch_size)) for _ in range(2)]
    times, cpu_times, ref_times = [], [], []
    for i in range(warmup + steps):
        base, arch = pairs[i % 2]
        cell = next_cell(searcher, run)
        draws = run.torch_generator.get_state()
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        timer(searcher, run, base, arch)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        if reference is not None:
            global_generator(device).set_state(draws)  # GDAS: the same Gumbel noise as ours
            _sync(device)
            t0 = time.perf_counter()
            reference(base, arch, cell)
            _sync(device)
            if i >= warmup:
                ref_times.append(time.perf_counter() - t0)
    # the per-epoch valid pass, one test batch (eval mode, no gradients)
    xv, _ = batch(cfg.test_batch_size)
    cell = Arch.sample(ctx.rng)  # path-mode searchers evaluate a cell; DARTS and GDAS ignore it
    run.network.eval()
    with torch.no_grad():
        for _ in range(2):  # warm-up (and, with cuda_graphs, the capture)
            searcher.valid_logits(run, xv, cell)
        _sync(device)
        t0 = time.perf_counter()
        searcher.valid_logits(run, xv, cell)
        _sync(device)
        t_valid = time.perf_counter() - t0
    step_s = float(np.median(times))
    steps_per_epoch = prepared.steps_per_epoch
    valid_s_per_epoch = (prepared.n_valid / cfg.test_batch_size) * t_valid
    extra_s_per_epoch = EPOCH_TIMERS[name](searcher, run, batch) if name in EPOCH_TIMERS else 0.0
    epoch_s = steps_per_epoch * step_s + valid_s_per_epoch + extra_s_per_epoch
    ref_s = float(np.median(ref_times)) if ref_times else None
    return {
        "algo": name, "protocol": protocol, "dataset": dataset, "device": describe_device(device),
        **run.execution.describe(),
        "C": cfg.channels, "N": cfg.cells, "batch": cfg.batch_size, "test_batch": cfg.test_batch_size,
        "epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch, "timed_steps": steps,
        "step_s": step_s, "step_s_min": float(min(times)), "images_per_s": cfg.batch_size / step_s,
        "xautodl_step_s": ref_s, "xautodl_step_s_min": float(min(ref_times)) if ref_times else None,
        "ratio": ref_s / step_s if ref_s is not None else None,
        # the fastest step of each side: on a shared machine, the least disturbed estimate of both
        "ratio_min": float(min(ref_times)) / float(min(times)) if ref_times else None,
        # CPU seconds of the process per step: on a shared machine, wall time / CPU time shows the contention
        "step_cpu_s": float(np.median(cpu_times)), "threads": torch.get_num_threads(),
        "valid_images_per_s": cfg.test_batch_size / t_valid, "valid_s_per_epoch": valid_s_per_epoch,
        "extra_s_per_epoch": extra_s_per_epoch,
        "projected_epoch_h": epoch_s / 3600, "projected_search_h": cfg.epochs * epoch_s / 3600,
        "projected_steps_only_h": cfg.epochs * steps_per_epoch * step_s / 3600,
        # the same from CPU time spread over the threads: what the steps would take with the cores to itself
        "projected_steps_cpu_h": cfg.epochs * steps_per_epoch * float(np.median(cpu_times)) / torch.get_num_threads()
        / 3600,
    }


#: Issue 12's targets: ours over the original's step on the same device, and full-search wall times on one GPU.
RATIO_TARGET = {"cpu": 2.0, "cuda": 3.0}
GPU_SEARCH_TARGET_H = {"darts-v1": 0.25, "gdas": 1.0}


def targets(rows: Sequence[dict[str, Any]], device: torch.device) -> list[str]:
    """One line per target: the measured figure, the target and whether it is met."""
    lines = []
    want = RATIO_TARGET["cuda" if device.type == "cuda" else "cpu"]
    for r in rows:
        if r.get("ratio") is not None:
            ok = "met" if r["ratio"] >= want else "NOT met"
            lines.append(f"target {r['algo']}: step {r['ratio']:.2f}x xautodl's (>= {want:g}x on {device.type}): {ok}")
    if device.type == "cuda":
        for r in rows:
            if r["algo"] in GPU_SEARCH_TARGET_H and r["protocol"] == "nb201":
                limit = GPU_SEARCH_TARGET_H[r["algo"]]
                ok = "met" if r["projected_search_h"] < limit else "NOT met"
                lines.append(f"target {r['algo']}: full {r['epochs']}-epoch search projected "
                             f"{60 * r['projected_search_h']:.1f} min (< {60 * limit:g} min): {ok}")
    return lines


# --- SETN, RANDOM-NAS, ENAS: candidate scoring and the controller ---------------------------------------------------
def _per_candidate_s(run: OneShotRun, batch: Callable[[int], Batch], n: int, reps: int = 2) -> float:
    """Seconds to score one candidate path on one batch of ``n`` images (`OneShotRun.score_candidates`)."""
    stream = itertools.repeat(batch(n))
    cell = Arch.sample(np.random.default_rng(0))
    run.score_candidates([cell], stream)  # warm-up
    _sync(run.device)
    t0 = time.perf_counter()
    run.score_candidates([cell] * reps, stream)
    _sync(run.device)
    return (time.perf_counter() - t0) / reps


def _setn_epoch(searcher: OneShotSearcher, run: OneShotRun, batch: Callable[[int], Batch]) -> float:
    from algos.setn import top_k_by_log_prob

    cfg = searcher.config
    t0 = time.perf_counter()
    top_k_by_log_prob(run.alpha(), cfg.candidates)
    rank_s = time.perf_counter() - t0
    return rank_s + cfg.candidates * _per_candidate_s(run, batch, cfg.test_batch_size)


def _random_nas_epoch(searcher: OneShotSearcher, run: OneShotRun, batch: Callable[[int], Batch]) -> float:
    cfg = searcher.config
    return cfg.candidates * _per_candidate_s(run, batch, cfg.test_batch_size)


def _enas_step(searcher: OneShotSearcher, run: OneShotRun, base: Batch, arch: Batch) -> None:
    searcher.shared_step(run, base, arch)  # type: ignore[attr-defined]


def _enas_epoch(searcher: OneShotSearcher, run: OneShotRun, batch: Callable[[int], Batch]) -> float:
    """One controller update (``controller_aggregate`` samples) timed, times ``controller_steps``, plus the per-epoch
    choice among ``epoch_candidates`` samples."""
    cfg = searcher.config
    n = cfg.batch_size if cfg.reward_data == "controller" else cfg.test_batch_size
    stream = itertools.repeat(batch(n))
    warm = type(searcher)(dataclasses.replace(cfg, controller_steps=1, controller_aggregate=1))
    warm.train_controller(run, 0, stream)  # type: ignore[attr-defined]
    one_update = type(searcher)(dataclasses.replace(cfg, controller_steps=1))
    _sync(run.device)
    t0 = time.perf_counter()
    one_update.train_controller(run, 0, stream)  # type: ignore[attr-defined]
    _sync(run.device)
    update_s = time.perf_counter() - t0
    return cfg.controller_steps * update_s + cfg.epoch_candidates * _per_candidate_s(run, batch, n)


#: Timers of the searchers whose work is not a `step` (the others: `default_timer`, their own step).
STEP_TIMERS: dict[str, StepTimer] = {"enas": _enas_step}
#: Per-epoch work besides the steps (the others: none).
EPOCH_TIMERS: dict[str, EpochTimer] = {"setn": _setn_epoch, "random-nas": _random_nas_epoch, "enas": _enas_epoch}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.perf.weight_sharing", description=__doc__.split("\n")[0])
    parser.add_argument("--algos", default="all", help=f"comma-separated; 'all' = {','.join(WEIGHT_SHARING_SEARCHERS)}")
    parser.add_argument("--protocol", default="nb201", choices=("nb201", "nats"))
    parser.add_argument("--dataset", default="cifar10", choices=tuple(SPLIT_SIZES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when present)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="runner option for ours: precision=fp32|tf32|bf16, channels_last=0|1, cuda_graphs=0|1")
    parser.add_argument("--no-compare", action="store_true", help="do not time xautodl's step beside ours")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    names = list(WEIGHT_SHARING_SEARCHERS) if args.algos == "all" else [a.strip() for a in args.algos.split(",")]
    for n in names:
        if n not in WEIGHT_SHARING_SEARCHERS:
            raise SystemExit(f"unknown weight-sharing algorithm {n!r}; valid: {', '.join(WEIGHT_SHARING_SEARCHERS)}")
    if args.steps < 1 or args.warmup < 0:
        raise SystemExit(f"--steps must be >= 1 and --warmup >= 0, got {args.steps} and {args.warmup}")
    try:
        overrides = parse_assignments(args.set)
        options = parse_options(args.option)
    except (ValueError, UsageError) as exc:
        raise SystemExit(str(exc)) from None
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    compare = not args.no_compare
    if compare:
        from runners.perf.xautodl_steps import available

        if not available():
            print("note: xautodl is not installed (requirements-nodeps.txt); timing ours alone")
            compare = False
    rows = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {describe_device(device)}; protocol {args.protocol}; dataset {args.dataset}; median of {args.steps} "
          f"steps after {args.warmup} warm-up; load average {load:.2f}" + (f"; options {options}" if options else ""))
    print(f"{'algo':<11} {'C':>3} {'N':>2} {'batch':>5} {'s/step':>8} {'xautodl':>8} {'ratio':>6} {'(min)':>6} {'cpu s':>7} "
          f"{'img/s':>8} {'valid img/s':>11} {'steps/ep':>8} {'extra s/ep':>10} {'epochs':>6} {'h/epoch':>8} "
          f"{'search h':>9} {'(steps only)':>12} {'(steps, cpu)':>12}", flush=True)
    for n in names:
        r = measure(n, args.protocol, args.dataset, args.steps, args.warmup, device, overrides, compare=compare,
                    options=options)
        rows.append(r)
        ref = (f"{r['xautodl_step_s']:>8.3f} {r['ratio']:>6.2f} {r['ratio_min']:>6.2f}" if r["ratio"] is not None
               else f"{'-':>8} {'-':>6} {'-':>6}")
        print(f"{n:<11} {r['C']:>3} {r['N']:>2} {r['batch']:>5} {r['step_s']:>8.3f} {ref} {r['step_cpu_s']:>7.3f} "
              f"{r['images_per_s']:>8.1f} "
              f"{r['valid_images_per_s']:>11.1f} {r['steps_per_epoch']:>8} {r['extra_s_per_epoch']:>10.1f} "
              f"{r['epochs']:>6} "
              f"{r['projected_epoch_h']:>8.2f} {r['projected_search_h']:>9.1f} {r['projected_steps_only_h']:>12.1f} "
              f"{r['projected_steps_cpu_h']:>12.1f}", flush=True)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# load average after: {load_after:.2f}")
    for line in targets(rows, device):
        print(line)
    if args.json:
        from runners.layout import write_json

        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
