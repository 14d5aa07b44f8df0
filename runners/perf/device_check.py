"""The prepared device check (issue 12): what one short GPU window must measure, in one command that fits it.

    python -m runners.perf.device_check OUT [--device cuda] [--data PATH] [--bench PATH] [--budget-s 540] [--seed 1]
                                       [--resume DIR] [--search-epochs N] [--smoke]

Phases, in order; each one's figures are written to OUT as soon as it ends, so what it measured comes back even if
the command is killed at its time limit:

1. ``environment``: the GPU's name, torch and CUDA versions, the exact command, the load.
2. ``agreement``: one step of each of the six searchers at a small size (C=8, N=1, batch 16, float32 with TF32 off)
   on the CPU and on the device, from the same initial weights, batches, sampled cells and Gumbel noise; compared by
   relative error (the norm of the difference over the norm of the CPU figure): the step's losses within 1e-4, the
   weight updates, BN running-statistic changes and alpha's gradient within 1e-3 (DARTS-V2's alpha gradient, a
   finite difference that amplifies rounding some 10-100x, within 1e-2). Float32 on two devices sums in
   different orders (cuDNN vs oneDNN): about 1e-6 per op, 1e-5 after a forward and backward of ~50 layers; a wrong
   kernel or a lost term gives errors of order 1. ENAS: its shared step on the cell the CPU's controller samples,
   and the controller's log-probability and entropy of that cell. Then DARTS-V1 with CUDA graphs against eager on
   the device, 4 steps (the same kernels: expected bit for bit).
3. ``throughput``: each searcher's step at the protocol's full size, ours and xautodl's side by side on the same
   batches and cells (`runners.perf.weight_sharing.measure`), with the projected full-search hours; then DARTS-V1
   and SETN with CUDA graphs, DARTS-V1 contiguous (not channels-last) and under tf32 / bf16 (ours only); then 2
   and 4 DARTS-V1 searches sharing the GPU (separate processes, as the batch engine's workers): steps per second
   in all against one search alone.
4. ``bench_gen``: the benchmark generator's real training job (`bench.generate.train.train_job`: the ResNet cell,
   the 12-epoch schedule, batch 256, cifar10-valid on the JPEG set, the device data path) for two epochs; then
   2 and 4 such jobs at once in separate processes (several cells sharing the GPU); the best images/s projects the
   GPU-days to train all 15,625 cells on the 12-epoch schedule (the four settings, one seed), at the ResNet cell's
   speed and scaled by FLOPs.
5. ``search``: a real DARTS-V1 search under ``nb201`` on CIFAR-10 (the JPEG stand-in, full size, 50 epochs,
   float32), with the fastest execution that passed phase 2, for as many epochs as the remaining budget allows:
   the derived cell and its benchmark accuracy each epoch. After every epoch the search's checkpoint is written to
   OUT in pieces (at most 15 MiB each); ``--resume DIR`` (a folder holding those pieces, e.g. the previous OUT
   carried back) continues the same search where it stopped.

Every phase runs under a deadline (its share of ``--budget-s``; the search takes the rest): one that reaches it is
cut where it is, its figures so far kept and marked ``timed_out``, and the next phase starts.

Files in OUT (at most 8): ``device_check.json`` (every figure), ``device_check.log`` (what it printed),
``summary.md`` (the tables, for ``results/reports/gpu-<date>/``), ``search-trace.csv`` (one row per epoch) and
``search-state.E<epoch>.<i>-of-<n>`` (the checkpoint in pieces; the new set is written before the old one is
removed).

The GPU machine runs its own Python 3.12 and torch, not our venv: this module and what it imports need only torch,
numpy and the standard library, plus xautodl (a pure-Python wheel, carried) for the side-by-side timing.
``--smoke`` (with ``--device cpu``) runs every phase at toy sizes on the offline digits: the test suite's end-to-end
check of this module.

On a lent GPU, the coordinator's call. First, here: ``make device-check-prepare`` (fills the ignored folders
``.whl/`` with the xautodl wheel for Python 3.12 and ``.gpu/`` with the packed JPEG set; the published NB201
figures travel with the repository as the embedded default, which loads with numpy alone; to continue an earlier
run's search, copy its ``search-state.*`` files into ``.gpu/state/``). Then one call of the device tool's ``run`` with

    command:   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; PYTHONUNBUFFERED=1 python3 -m runners.perf.device_check "$OUT" --device cuda --budget-s 540
    carry:     [".whl", ".gpu"]
    timeout_s: 600

(about 26 MB travels; the check ends by itself after 540 s, leaving a minute for a slow start, so a second call
fits the 15 minutes only if the first fails early). Copy the files it returns to ``results/reports/gpu-<date>/``
(the ``search-state.*`` pieces into ``.gpu/state/`` instead: they are a checkpoint, not a report). The same command
runs on this CPU in a stock Python with ``make device-check-dry-run`` (``--device cpu``, a 60 s budget).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import io
import math
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algos import WEIGHT_SHARING_SEARCHERS

REPO = Path(__file__).resolve().parents[2]
#: Where `make device-check-prepare` puts what the GPU machine needs (an ignored folder that travels with `carry`).
GPU_DIR = REPO / ".gpu"
SHARED = REPO.parent / "shared" / "data"
#: Pieces of the search checkpoint (a file coming back from the device is at most 16 MiB).
STATE_PREFIX = "search-state."
STATE_PIECE = 15 * 2**20
#: Relative-error tolerances of the agreement phase (see the module docstring).
TOL_LOSS = 1e-4
TOL_GRAD = 1e-3
#: DARTS-V2's alpha gradient holds a finite difference (g(w + Rv) - g(w - Rv)) / 2R, which amplifies the two
#: devices' rounding by |g| / |g(w + Rv) - g(w - Rv)|, some 10-100x at R = 0.01 / |v|.
TOL_FINITE_DIFFERENCE = 1e-2
#: Share of the budget each phase may use at most (the search takes what is left).
PHASE_SHARE = {"agreement": 0.08, "throughput": 0.30, "bench_gen": 0.14}
#: Seconds kept free at the end for the last writes.
RESERVE_S = 15.0


class PhaseTimeout(BaseException):
    """A phase reached its time limit (a BaseException, so that the per-item ``except Exception`` of a phase does
    not swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Interrupt the block with `PhaseTimeout` after ``seconds`` (SIGALRM: between Python bytecodes, so a kernel or
    a CUDA call in flight finishes first). Main thread only."""
    if seconds <= 0:
        raise PhaseTimeout(f"{what}: no time left in the budget")

    def expire(_signum: int, _frame: Any) -> None:
        raise PhaseTimeout(f"{what} reached its limit of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Budget:
    """Wall-clock seconds left to the check."""

    def __init__(self, total_s: float) -> None:
        self.total = float(total_s)
        self.start = time.monotonic()

    def used(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.total - self.used()


class Report:
    """The output folder: figures (JSON, rewritten atomically after each phase), the log, the summary."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.figures: dict[str, Any] = {}
        self._log = open(out / "device_check.log", "a", buffering=1)  # noqa: SIM115 - kept open for the run

    def log(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        self._log.write(line + "\n")

    def set(self, key: str, value: Any) -> None:
        from bench.jsonio import write_json

        self.figures[key] = value
        write_json(self.out / "device_check.json", self.figures)

    def write(self, name: str, text: str) -> None:
        from bench.atomic import write_atomic

        write_atomic(self.out / name, text)


# --- 1. environment ------------------------------------------------------------------------------------------------
def environment(device: torch.device, argv: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "command": " ".join(shlex.quote(a) for a in ["python", "-m", "runners.perf.device_check", *argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": sys.version.split()[0],
        "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform(),
        "cpus": os.cpu_count(), "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "device": str(device), "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update(gpu=torch.cuda.get_device_name(device),
                   capability=".".join(map(str, torch.cuda.get_device_capability(device))),
                   gpu_memory_gib=round(props.total_memory / 2**30, 1), multiprocessors=props.multi_processor_count,
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
        if shutil.which("nvidia-smi"):
            query = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                    "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            out["nvidia_smi"] = query.stdout.strip() or query.stderr.strip()
    try:
        import xautodl  # noqa: F401

        out["xautodl"] = "1.0.0 (importable)"
    except ImportError as exc:
        out["xautodl"] = f"missing: {exc}"
    return out


# --- 2. agreement --------------------------------------------------------------------------------------------------
def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| (float64, on the CPU); 0 when both are zero."""
    a, b = a.detach().double().cpu().reshape(-1), b.detach().double().cpu().reshape(-1)
    ref = float(b.norm())
    diff = float((a - b).norm())
    if not math.isfinite(diff):
        return math.inf
    return diff / ref if ref > 0 else diff


#: The agreement's small size (`runners.perf.weight_sharing.prepare` overrides of the nb201 preset).
SMALL = {"channels": "8", "cells": "1", "batch_size": "16", "test_batch_size": "16"}


def one_step(name: str, device: torch.device, seed: int, bench: Any, options: dict[str, Any] | None = None,
             steps: int = 1) -> dict[str, Any]:
    """Everything one step of ``name`` at a small size changes, moved to the CPU (see `agreement`): the run and its
    batches as the timing builds them (`runners.perf.weight_sharing.prepare`: seeded weights, batches drawn on the
    CPU), float32 with TF32 off, GDAS' noise from a CPU generator."""
    from runners.perf.weight_sharing import prepare

    prepared = prepare(name, "nb201", "cifar10", device, SMALL, seed, {"precision": "fp32", **(options or {})}, bench)
    searcher, run, cfg = prepared.searcher, prepared.run, prepared.searcher.config
    run.network.generator = torch.Generator().manual_seed(seed)  # GDAS: the same noise on every device
    pairs = [(prepared.batch(cfg.batch_size), prepared.batch(cfg.batch_size)) for _ in range(steps)]
    before = {k: v.detach().cpu().clone() for k, v in run.network.state_dict().items()}
    extra: dict[str, Any] = {}
    for base, arch in pairs:
        if name == "enas":
            controller = searcher.controller(run)
            cpu_controller = copy.deepcopy(controller).cpu()
            cell = cpu_controller.sample_archs(1, torch.Generator().manual_seed(seed))[0]
            drawn = controller(arch=cell)
            extra = {"controller_log_prob": drawn.log_prob.detach().cpu(), "controller_entropy": drawn.entropy.detach().cpu()}
            run.weight_step(lambda x, c=cell: run.logits(x, "path", c), *base)
        else:
            searcher.step(run, base, arch)
    after = {k: v.detach().cpu().clone() for k, v in run.network.state_dict().items()}
    out = {"losses": {k: m.loss for k, m in run.meters.items()}, "before": before, "after": after, **extra}
    if run.network.alpha.grad is not None:
        out["alpha_grad"] = run.network.alpha.grad.detach().cpu().clone()
    if run.graphs is not None:
        out["graphs"] = dict(run.graphs.counts)
    return out


def compare_steps(a: dict[str, Any], b: dict[str, Any], finite_difference: bool = False) -> dict[str, Any]:
    """Relative errors of run ``a`` against the reference ``b`` and whether each is within its tolerance
    (``finite_difference``: alpha's gradient holds DARTS-V2's finite difference)."""
    errs: dict[str, float] = {}
    for k, lb in b["losses"].items():
        la = a["losses"].get(k)
        errs[f"loss_{k}"] = abs(la - lb) / max(abs(lb), 1e-12) if la is not None and lb is not None else math.inf
    weights = [k for k in b["after"] if b["after"][k].is_floating_point() and "running" not in k and k != "alpha"]
    stats = [k for k in b["after"] if "running" in k]

    def delta(run: dict[str, Any], keys: list[str]) -> torch.Tensor:
        return torch.cat([(run["after"][k].double() - run["before"][k].double()).reshape(-1) for k in keys])

    errs["weight_update"] = _rel(delta(a, weights), delta(b, weights))
    if stats:
        errs["bn_stats_change"] = _rel(delta(a, stats), delta(b, stats))
    if "alpha_grad" in b:
        errs["alpha_grad"] = _rel(a["alpha_grad"], b["alpha_grad"])
    for k in ("controller_log_prob", "controller_entropy"):
        if k in b:
            errs[k] = _rel(a[k], b[k])
    tolerances = {k: TOL_LOSS if k.startswith("loss") else
                  TOL_FINITE_DIFFERENCE if finite_difference and k == "alpha_grad" else TOL_GRAD for k in errs}
    ok = all(errs[k] <= tolerances[k] for k in errs)
    return {"ok": ok, "errors": errs, "tolerances": tolerances}


def agreement(report: Report, device: torch.device, seed: int, bench: Any, budget: Budget) -> dict[str, Any]:
    cpu = torch.device("cpu")
    t0 = time.monotonic()
    out: dict[str, Any] = {"tolerances": {"loss": TOL_LOSS, "updates_and_gradients": TOL_GRAD,
                                          "darts_v2_alpha_grad": TOL_FINITE_DIFFERENCE},
                           "size": "C=8, N=1, batch 16, 32x32, 10 classes, fp32 (TF32 off)", "searchers": {}}
    for name in WEIGHT_SHARING_SEARCHERS:
        if budget.left() < RESERVE_S:
            out["searchers"][name] = {"skipped": "budget"}
            continue
        try:
            res = compare_steps(one_step(name, device, seed, bench), one_step(name, cpu, seed, bench),
                                finite_difference=name == "darts-v2")
        except Exception as exc:  # noqa: BLE001 - a failure is a finding: record it, go on with the others
            res = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        out["searchers"][name] = res
        report.set("agreement", out)
        worst = max(res.get("errors", {"error": math.inf}).values())
        report.log(f"agreement {name}: {'ok' if res['ok'] else 'FAILED'} (largest relative error {worst:.2e})"
                   + (f" {res['error']}" if "error" in res else ""))
    if device.type == "cuda":
        try:
            eager = one_step("darts-v1", device, seed, bench, steps=4)
            graphs = one_step("darts-v1", device, seed, bench, {"cuda_graphs": 1}, steps=4)
            same = all(torch.equal(eager["after"][k], graphs["after"][k]) for k in eager["after"])
            cmp = compare_steps(graphs, eager)
            out["cuda_graphs"] = {"bit_identical": same, "ok": same or cmp["ok"], **cmp, "counts": graphs["graphs"]}
        except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
            out["cuda_graphs"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc()}
        report.log(f"agreement darts-v1 cuda graphs vs eager: {out['cuda_graphs']}")
    out["ok"] = all(r.get("ok", False) for r in out["searchers"].values() if "skipped" not in r)
    out["seconds"] = time.monotonic() - t0
    return out


# --- 3. throughput -------------------------------------------------------------------------------------------------
def throughput(report: Report, device: torch.device, bench: Any, budget: Budget, smoke: bool, graphs_ok: bool,
               bench_path: str | None = None) -> dict[str, Any]:
    from runners.perf.weight_sharing import measure, targets
    from runners.perf.xautodl_steps import available

    t0 = time.monotonic()
    compare = available()
    overrides = {"channels": "4", "cells": "1", "batch_size": "16", "test_batch_size": "16"} if smoke else {}
    steps, warmup = (1, 1) if smoke else (5, 2)
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {"compare_xautodl": compare, "steps": steps, "warmup": warmup, "rows": rows,
                           "variants": []}
    for name in WEIGHT_SHARING_SEARCHERS:
        if budget.left() < RESERVE_S:
            rows.append({"algo": name, "skipped": "budget"})
            continue
        try:
            r = measure(name, "nb201", "cifar10", steps, warmup, device, overrides, compare=compare, bench=bench)
        except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
            r = {"algo": name, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        rows.append(r)
        report.log(f"throughput {name}: " + (f"{r['step_s']:.4f} s/step, xautodl {r['xautodl_step_s'] or math.nan:.4f}"
                                             f" (ratio {r['ratio'] or math.nan:.2f}), full search "
                                             f"{r['projected_search_h']:.2f} h" if "step_s" in r else r["error"]))
        report.set("throughput", out)
    variants = [("darts-v1", {"channels_last": 0}), ("darts-v1", {"precision": "tf32"}),
                ("darts-v1", {"precision": "bf16"})]
    if device.type == "cuda" and graphs_ok:
        variants = [("darts-v1", {"cuda_graphs": 1}), ("setn", {"cuda_graphs": 1}), *variants]
    for name, options in variants:
        if budget.left() < RESERVE_S:
            out["variants"].append({"algo": name, "options": options, "skipped": "budget"})
            continue
        try:
            r = measure(name, "nb201", "cifar10", steps, warmup, device, overrides, options=options, bench=bench)
            r["options"] = options
        except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
            r = {"algo": name, "options": options, "error": f"{type(exc).__name__}: {exc}"}
        out["variants"].append(r)
        report.log(f"throughput {name} {options}: " + (f"{r['step_s']:.4f} s/step, full search "
                                                        f"{r['projected_search_h']:.2f} h" if "step_s" in r
                                                        else r.get("error", "")))
        report.set("throughput", out)
    single = next((r for r in rows if r.get("algo") == "darts-v1" and "step_s" in r), None)
    if single is not None and (device.type == "cuda" or smoke):
        out["shared"] = shared_device(report, device, bench_path, smoke, single["step_s"],
                                      counts=(2,) if smoke else (2, 4))
        report.set("throughput", out)
    out["targets"] = [] if smoke else targets([r for r in rows if "step_s" in r]
                                              + [r for r in out["variants"] if "step_s" in r], device)
    for line in out["targets"]:
        report.log(line)
    out["seconds"] = time.monotonic() - t0
    return out


def _steps_worker(args: tuple[Any, ...]) -> tuple[int, float]:
    """One of several searches sharing the device (a separate process): build, warm up, wait for the others, step."""
    name, device, seconds, barrier, threads, bench_path, overrides = args
    torch.set_num_threads(threads)
    from bench import Benchmark
    from runners.perf.weight_sharing import prepare, steps_for

    prepared = prepare(name, device=torch.device(device), overrides=overrides,
                       bench=Benchmark.load(bench_path) if bench_path else None)
    return steps_for(prepared, seconds, start=lambda: barrier.wait(timeout=300))


def shared_device(report: Report, device: torch.device, bench_path: str | None, smoke: bool, single_step_s: float,
                  counts: Sequence[int] = (2, 4)) -> list[dict[str, Any]]:
    """DARTS-V1 searches sharing the device (default execution options), k processes at once: steps per second in
    all against one alone."""
    overrides = {"channels": "4", "cells": "1", "batch_size": "16"} if smoke else {}
    seconds = 2.0 if smoke else 10.0
    out = []
    for k in counts:
        ctx = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // k)
        with ctx.Manager() as manager, ctx.Pool(k) as pool:
            barrier = manager.Barrier(k)
            res = pool.map(_steps_worker, [("darts-v1", str(device), seconds, barrier, threads, bench_path,
                                            overrides)] * k)
        rate = sum(n / t for n, t in res)
        out.append({"searches": k, "steps_per_s_total": rate,
                    "speedup_vs_one": rate * single_step_s, "steps": [n for n, _ in res]})
        report.log(f"{k} DARTS-V1 searches sharing {device}: {rate:.1f} steps/s in all, "
                   f"{rate * single_step_s:.2f}x one search alone")
    return out


def best_execution(throughput_figures: dict[str, Any], graphs_ok: bool) -> dict[str, Any]:
    """The fastest float32 execution options of DARTS-V1 measured in phase 3 (only ones that passed phase 2)."""
    base = next((r for r in throughput_figures.get("rows", []) if r.get("algo") == "darts-v1" and "step_s" in r), None)
    best, best_s = {}, base["step_s"] if base else math.inf
    for r in throughput_figures.get("variants", []):
        opts = r.get("options", {})
        if r.get("algo") != "darts-v1" or "step_s" not in r or opts.get("precision", "fp32") != "fp32":
            continue
        if opts.get("cuda_graphs") and not graphs_ok:
            continue
        if r["step_s"] < best_s:
            best, best_s = opts, r["step_s"]
    return dict(best)


# --- 4. the benchmark generator ------------------------------------------------------------------------------------
def _gen_job(data_dir: str | None, device: str, smoke: bool, index: int, seed: int = 777) -> Any:
    from bench.generate.job import Job, JobOptions
    from bench.generate.protocol import SCHEDULES

    sched = SCHEDULES["12"].smoke(epochs=3) if smoke else SCHEDULES["12"]
    return Job(index, "cifar10-valid", seed, sched, "smoke" if smoke else "cifar10-jpeg",
               JobOptions(data_dir=data_dir, device=device, data_path="device", subset=256 if smoke else None,
                          eval_subset=128 if smoke else None))


def _train_some(job: Any, root: str, epochs: int) -> dict[str, Any]:
    """Train ``epochs`` epochs of ``job`` (fresh) and return its per-epoch records."""
    from bench.generate.job import CHECKPOINT
    from bench.generate.train import train_job

    t0 = time.time()
    train_job(job, root, stop_after=epochs, keep_checkpoint=True)
    t1 = time.time()
    state = torch.load(job.folder(root) / CHECKPOINT, map_location="cpu", weights_only=False)
    return {"start": t0, "end": t1, "records": state["records"]}


def _gen_worker(args: tuple[Any, ...]) -> dict[str, Any]:
    """One of several jobs at once (a separate process): read the data, wait for the others, train."""
    job, root, epochs, barrier, threads = args
    torch.set_num_threads(threads)
    from bench.generate.data import setting_data
    from bench.generate.protocol import setting

    setting_data(setting(job.setting), job.data, data_dir=job.options.data_dir, seed=job.seed, batch_size=8,
                 eval_batch_size=8, subset=job.options.subset, eval_subset=job.options.eval_subset)  # warm the cache
    barrier.wait(timeout=300)
    return _train_some(job, root, epochs)


def bench_gen(report: Report, device: torch.device, data_dir: str | None, budget: Budget, cap_s: float,
              smoke: bool) -> dict[str, Any]:
    from bench.generate.plan import RESNET_INDEX
    from runners.perf.train import WORK
    from search_space import NUM_ARCHS, Arch
    from supernet import flops, flops_counts

    t0 = time.monotonic()
    epochs = 2
    out: dict[str, Any] = {"cell": RESNET_INDEX, "setting": "cifar10-valid", "schedule": "12 (batch 256)",
                           "data_path": "device", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        job = _gen_job(data_dir, str(device), smoke, RESNET_INDEX)
        one = _train_some(job, tmp, epochs)
        recs = one["records"]
        n_train = job.options.subset or WORK["cifar10-valid"][0]
        last = -1  # the last epoch: the first includes cuDNN/allocator warm-up
        train_ips = n_train / recs["train"]["seconds"][last]
        ev = recs["eval"]["x-valid"]
        n_eval = job.options.eval_subset or WORK["cifar10-valid"][1]
        eval_ips = n_eval / ev["seconds"][last] if ev["seconds"][last] == ev["seconds"][last] else math.nan
        out["runs"].append({"jobs": 1, "train_images_per_s": train_ips, "eval_images_per_s": eval_ips,
                            "epoch_train_seconds": recs["train"]["seconds"], "train_acc": recs["train"]["acc"],
                            "x_valid_acc": ev["acc"]})
        report.log(f"bench-gen 1 job: {train_ips:.0f} train images/s, {eval_ips:.0f} eval images/s "
                   f"(epoch train seconds {recs['train']['seconds']})")
        report.set("bench_gen", out)
        best = train_ips
        for k in (2,) if smoke else (2, 4):
            spent = time.monotonic() - t0
            if spent + 2.5 * spent / max(len(out["runs"]), 1) > cap_s or budget.left() < RESERVE_S + 30:
                out["runs"].append({"jobs": k, "skipped": "budget"})
                continue
            try:
                ctx = mp.get_context("spawn")
                jobs = [_gen_job(data_dir, str(device), smoke, RESNET_INDEX, seed=777 + i) for i in range(k)]
                threads = max(1, (os.cpu_count() or 1) // k)
                with ctx.Manager() as manager, ctx.Pool(k) as pool:
                    barrier = manager.Barrier(k)
                    res = pool.map(_gen_worker, [(j, str(Path(tmp) / f"k{k}"), epochs, barrier, threads)
                                                 for j in jobs])
                wall = max(r["end"] for r in res) - min(r["start"] for r in res)
                images = k * epochs * n_train
                agg = images / wall
                out["runs"].append({"jobs": k, "train_images_per_s_aggregate": agg, "wall_s": wall,
                                    "note": "train and eval epochs included, data read before the clock starts"})
                report.log(f"bench-gen {k} jobs at once: {agg:.0f} train images/s in all (wall {wall:.1f} s, "
                           f"evaluation included)")
                # compare like with like: one job's train + eval wall for the same epochs
                one_wall = one["end"] - one["start"]
                out["runs"][-1]["speedup_vs_one"] = (images / wall) / (epochs * n_train / one_wall)
                best = max(best, train_ips * out["runs"][-1]["speedup_vs_one"])
            except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
                out["runs"].append({"jobs": k, "error": f"{type(exc).__name__}: {exc}"})
            report.set("bench_gen", out)
    resnet = Arch.from_index(RESNET_INDEX)
    scale = float(np.mean(flops_counts(10, 32))) / flops(resnet, 10, 32)
    per_cell = sum(12 * (n_tr / best + n_ev / (eval_ips if eval_ips == eval_ips else best))
                   for n_tr, n_ev, _side in WORK.values())
    out["projection"] = {
        "best_train_images_per_s": best, "flops_scale": scale,
        "per_cell_seconds_12_epochs_four_settings": per_cell,
        "gpu_days_all_cells_resnet_speed": per_cell * NUM_ARCHS / 86400,
        "gpu_days_all_cells_flops_scaled": per_cell * NUM_ARCHS * scale / 86400,
        "note": "four settings (cifar10-valid, cifar10, cifar100, ImageNet16-120), one seed, 12 epochs each, "
                "evaluation included; ImageNet16-120's 16x16 images counted at the 32x32 rate (an upper bound)",
    }
    report.log(f"bench-gen projection: {out['projection']['gpu_days_all_cells_resnet_speed']:.1f} GPU-days at the "
               f"ResNet cell's speed, {out['projection']['gpu_days_all_cells_flops_scaled']:.1f} FLOPs-scaled")
    out["seconds"] = time.monotonic() - t0
    return out


# --- 5. the search -------------------------------------------------------------------------------------------------
class StopSearch(Exception):
    """Raised between epochs, after the checkpoint is written, when the budget cannot hold another epoch."""


def _pieces(folder: Path) -> dict[int, dict[int, Path]]:
    """The checkpoint pieces in ``folder`` by epoch: ``search-state.E<epoch>.<i>-of-<n>``, complete sets only."""
    found: dict[int, dict[int, Path]] = {}
    counts: dict[int, int] = {}
    for p in folder.glob(STATE_PREFIX + "E*"):
        try:
            epoch_part, piece = p.name[len(STATE_PREFIX):].split(".", 1)
            index, total = piece.split("-of-")
            epoch = int(epoch_part[1:])
            found.setdefault(epoch, {})[int(index)] = p
            counts[epoch] = int(total)
        except ValueError:
            continue
    return {e: ps for e, ps in found.items() if sorted(ps) == list(range(counts[e]))}


def export_state(run_dir: Path, report: Report) -> dict[str, Any]:
    """The checkpoint in OUT as pieces (each file coming back is at most 16 MiB) and the trace as CSV. The new set
    is complete before the previous one is removed, so a kill at any moment leaves one whole set."""
    from bench.atomic import write_atomic
    from supernet.checkpoint import checkpoint_path

    raw = checkpoint_path(run_dir).read_bytes()
    state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    epoch = int(state["epoch"])
    pieces = [raw[i:i + STATE_PIECE] for i in range(0, len(raw), STATE_PIECE)]
    for i, piece in enumerate(pieces):
        write_atomic(report.out / f"{STATE_PREFIX}E{epoch:03d}.{i:03d}-of-{len(pieces):03d}", piece)
    for old in report.out.glob(STATE_PREFIX + "*"):
        if not old.name.startswith(f"{STATE_PREFIX}E{epoch:03d}."):
            old.unlink()
    rows = state["trace"]
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report.write("search-trace.csv", buf.getvalue())
    return {"epoch": epoch, "pieces": len(pieces), "bytes": len(raw), "trace": rows}


def import_state(source: Path, run_dir: Path) -> int | None:
    """Put the newest complete set of pieces in ``source`` back together as the run folder's checkpoint; its epoch,
    or None when there is none."""
    from supernet.checkpoint import checkpoint_path

    sets = _pieces(source)
    if not sets:
        return None
    epoch = max(sets)
    raw = b"".join(sets[epoch][i].read_bytes() for i in sorted(sets[epoch]))
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path(run_dir).write_bytes(raw)
    saved = int(torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)["epoch"])
    if saved != epoch:
        raise ValueError(f"{source}: pieces named for epoch {epoch} hold a checkpoint of epoch {saved}")
    return saved


def search(report: Report, device: torch.device, data_dir: str | None, bench: Any, seed: int, budget: Budget,
           smoke: bool, execution: dict[str, Any], resume: Path | None, max_epochs: int | None) -> dict[str, Any]:
    from algos import SearchContext, get_searcher
    from algos.oneshot_protocol import smoke as smoke_config
    from supernet.checkpoint import checkpoint_path

    cls = get_searcher("darts-v1")
    cfg = cls.PRESETS["nb201"]
    if smoke:
        cfg = smoke_config(cfg, epochs=4, steps_per_epoch=2, valid_batches=1)
    options = {"device": str(device), "precision": "fp32", "data_path": "device" if device.type == "cuda" else "host",
               **execution}
    if not smoke:
        options.update(data="cifar10-jpeg", data_dir=data_dir)
    out: dict[str, Any] = {"algorithm": "darts-v1", "protocol": "nb201", "dataset": "cifar10", "seed": seed,
                           "data": "smoke digits (SMOKE RUN)" if smoke else "CIFAR-10 as JPEG (packed), official split",
                           "epochs": cfg.epochs, "size": cfg.size, "options": options, "epochs_done": 0}
    run_dir = Path(tempfile.mkdtemp(prefix="device-check-search-"))
    resumed = import_state(resume, run_dir) if resume is not None else None
    out["resumed_from_epoch"] = resumed
    if resumed is not None:
        report.log(f"search: continuing from epoch {resumed} ({resume})")
    t_start = time.monotonic()
    marks = {"epoch_start": t_start, "last_export": None, "durations": [], "ran": 0}

    def progress(done: float, total: float) -> None:
        path = checkpoint_path(run_dir)
        if done != int(done) or not path.is_file():
            return
        mtime = path.stat().st_mtime_ns
        if mtime == marks["last_export"]:
            return  # the integral report before the checkpoint of this epoch is written
        exported = export_state(run_dir, report)
        if exported["epoch"] != int(done):
            return
        marks["last_export"] = mtime
        now = time.monotonic()
        if exported["epoch"] > (resumed or 0):
            marks["durations"].append(now - marks["epoch_start"])
            marks["ran"] += 1
        marks["epoch_start"] = now
        last = exported["trace"][-1] if exported["trace"] else {}
        out.update(epochs_done=exported["epoch"], state_pieces=exported["pieces"], state_bytes=exported["bytes"],
                   epoch_seconds=marks["durations"], last=last)
        report.set("search", out)
        if last and exported["epoch"] > (resumed or 0):
            report.log(f"search epoch {last['epoch'] + 1}/{cfg.epochs}: {last['arch']} (index {last['arch_index']}),"
                       f" benchmark cifar10 test {last.get('cifar10_test')}, valid {last.get('cifar10_valid')}; "
                       f"supernet valid {last['valid_acc']:.2f}%, {last['epoch_seconds']:.1f} s")
        need = 1.15 * max(marks["durations"], default=0.0) + RESERVE_S
        if exported["epoch"] < cfg.epochs and (budget.left() < need or (max_epochs is not None
                                                                          and marks["ran"] >= max_epochs)):
            raise StopSearch

    ctx = SearchContext(bench=bench, dataset="cifar10", seed=seed, rng=np.random.default_rng(seed), run_dir=run_dir,
                        options=options, progress=progress)
    try:
        result = cls(cfg).search(ctx)
        out.update(finished=True, arch=str(result.arch), arch_index=result.arch.index,
                   reported=bench.reported(result.arch, "cifar10"))
        report.log(f"search finished: {result.arch} (index {result.arch.index}), benchmark {out['reported']}")
    except (StopSearch, PhaseTimeout) as exc:
        out["finished"] = False
        why = ("--search-epochs" if max_epochs is not None and marks["ran"] >= max_epochs else
               "the time budget" if isinstance(exc, StopSearch) else str(exc))
        report.log(f"search stopped after epoch {out['epochs_done']} of {cfg.epochs} ({why}); continue with "
                   f"--resume on the search-state pieces")
    except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
        out.update(finished=False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        report.log(f"search FAILED: {out['error']}")
    durations = marks["durations"]
    if durations:
        steady = float(np.median(durations[1:] if len(durations) > 1 else durations))
        out["projected_full_search_minutes"] = (sum(durations) - durations[0] + steady * (cfg.epochs - len(durations)
                                                + 1)) / 60 if resumed is None else steady * cfg.epochs / 60
        out["steady_epoch_seconds"] = steady
    out["seconds"] = time.monotonic() - t_start
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


# --- summary -------------------------------------------------------------------------------------------------------
def summary(figures: dict[str, Any]) -> str:
    env = figures.get("environment", {})
    lines = [f"# Device check: {env.get('gpu', env.get('device'))}", "",
             f"Command: `{env.get('command')}`  ", f"Started {env.get('started')}; torch {env.get('torch')}, "
             f"CUDA {env.get('cuda')}, Python {env.get('python')}, {env.get('cpus')} CPUs.", ""]
    agr = figures.get("agreement")
    if agr:
        lines += [f"## {env.get('device')} vs CPU, one step of each searcher at {agr.get('size')}", "",
                  "| searcher | ok | largest relative error |", "|---|---|---|"]
        for name, r in agr.get("searchers", {}).items():
            worst = f"{max(r['errors'].values()):.1e}" if "errors" in r else "-"
            lines.append(f"| {name} | {r.get('ok', r.get('skipped'))} | {worst} {r.get('error', '')} |")
        if "cuda_graphs" in agr:
            lines.append(f"\nCUDA graphs vs eager (DARTS-V1, 4 steps): {agr['cuda_graphs'].get('bit_identical')} "
                         f"bit for bit, ok {agr['cuda_graphs'].get('ok')}")
        lines.append("")
    thr = figures.get("throughput")
    if thr:
        sizes = sorted({f"C={r['C']} N={r['N']}" for r in thr.get("rows", []) if "C" in r})
        lines += [f"## Search steps ({', '.join(sizes)}), ours vs xautodl's, the same batches and cells", "",
                  "| searcher | options | s/step | xautodl s/step | ratio | full search h |", "|---|---|---|---|---|---|"]
        for r in [*thr.get("rows", []), *thr.get("variants", [])]:
            if "step_s" not in r:
                lines.append(f"| {r['algo']} | {r.get('options', '')} | {r.get('error', r.get('skipped'))} | | | |")
                continue
            ref = "-" if r.get("xautodl_step_s") is None else f"{r['xautodl_step_s']:.4f}"
            ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}"
            lines.append(f"| {r['algo']} | {r.get('options', '')} | {r['step_s']:.4f} | {ref} | {ratio} | "
                         f"{r['projected_search_h']:.2f} |")
        for r in thr.get("shared", []):
            lines.append(f"\n{r['searches']} DARTS-V1 searches sharing the device: {r['steps_per_s_total']:.1f} steps/s "
                         f"in all, {r['speedup_vs_one']:.2f}x one search alone.")
        lines += ["", *[f"- {t}" for t in thr.get("targets", [])], ""]
    gen = figures.get("bench_gen")
    if gen:
        lines += ["## Benchmark generator (ResNet cell, batch 256, 12-epoch schedule, device data path)", ""]
        for r in gen.get("runs", []):
            lines.append(f"- {r}")
        if "projection" in gen:
            p = gen["projection"]
            lines.append(f"- all 15,625 cells, 12 epochs, four settings, one seed: "
                         f"{p['gpu_days_all_cells_resnet_speed']:.1f} days of this device at the ResNet cell's speed, "
                         f"{p['gpu_days_all_cells_flops_scaled']:.1f} FLOPs-scaled")
        lines.append("")
    s = figures.get("search")
    if s:
        lines += [f"## DARTS-V1 search (nb201, {s.get('data')}, seed {s.get('seed')}, options {s.get('options')})", "",
                  f"Epochs done: {s.get('epochs_done')} of {s.get('epochs')} (resumed from {s.get('resumed_from_epoch')}); "
                  f"projected full search {s.get('projected_full_search_minutes', math.nan):.2f} min.", ""]
        if s.get("last"):
            lines.append(f"Last derived cell: {s['last']['arch']} (index {s['last']['arch_index']}), benchmark "
                         f"CIFAR-10 test {s['last'].get('cifar10_test')} / valid {s['last'].get('cifar10_valid')}; "
                         "every epoch in search-trace.csv.")
        if s.get("error"):
            lines.append(f"Error: {s['error']}")
    for name in ("agreement", "throughput", "bench_gen", "search"):
        for key in ("timed_out", "error"):
            if key in figures.get(name, {}):
                lines.append(f"- {name} {key.replace('_', ' ')}: {figures[name][key]}")
    return "\n".join(lines) + "\n"


# --- driver --------------------------------------------------------------------------------------------------------
def _default(path: str | None, *candidates: Path) -> str | None:
    if path is not None:
        return path
    return next((str(c) for c in candidates if c.exists()), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m runners.perf.device_check", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder (at most 8 small files are written there)")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--data", default=None, help="the packed JPEG set (default: .gpu/ or ../shared/data)")
    parser.add_argument("--bench", default=None, help="benchmark source for the derived cells' figures (default: "
                                                      "the embedded default, bench/data/)")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock seconds for everything (540)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the DARTS-V1 search (1)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="folder with a previous run's search-state.* pieces (default: .gpu/state when present)")
    parser.add_argument("--search-epochs", type=int, default=None, help="stop the search after this many epochs")
    parser.add_argument("--phases", default="agreement,throughput,bench_gen,search",
                        help="comma-separated subset of agreement,throughput,bench_gen,search")
    parser.add_argument("--smoke", action="store_true", help="toy sizes on the offline digits (CPU test)")
    args = parser.parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(phases) - {"agreement", "throughput", "bench_gen", "search"})
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(unknown)}; valid: agreement, throughput, bench_gen, search")
    budget = Budget(args.budget_s)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("NB201_CACHE", str(Path(tempfile.gettempdir()) / "nb201-cache"))
    from supernet.runtime import pick_device

    try:
        device = pick_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    report = Report(args.out)
    report.set("environment", environment(device, argv))
    report.log(f"device check on {report.figures['environment'].get('gpu', device)}; budget {args.budget_s:.0f} s; "
               f"phases {', '.join(phases)}")
    data = _default(args.data, GPU_DIR / "cifar10-jpeg-packed.npz", SHARED / "cifar10-jpeg" / "cifar10-jpeg-packed.npz")
    bench_path = args.bench
    resume = args.resume if args.resume is not None else (GPU_DIR / "state" if (GPU_DIR / "state").is_dir() else None)
    if not args.smoke and data is None:
        parser.error("the packed JPEG set was not found: pass --data PATH (make device-check-prepare copies it to .gpu/)")
    from bench import Benchmark

    bench = Benchmark.load(bench_path) if bench_path else Benchmark.load()
    report.set("inputs", {"data": data, "bench": bench_path or bench.source,
                          "resume": None if resume is None else str(resume)})
    figures = report.figures

    def phase(name: str, limit: float, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one phase within ``limit`` seconds (and the budget); a timeout or failure is recorded, not fatal."""
        try:
            with deadline(min(limit, budget.left() - RESERVE_S), name):
                value = fn()
        except PhaseTimeout as exc:
            value = {**figures.get(name, {}), "timed_out": str(exc)}
            report.log(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - recorded in the output, the check goes on
            value = {**figures.get(name, {}), "error": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc()}
            report.log(f"{name} FAILED: {value['error']}")
        report.set(name, value)
        return value

    try:
        graphs_ok = False
        if "agreement" in phases:
            agr = phase("agreement", PHASE_SHARE["agreement"] * args.budget_s,
                        lambda: agreement(report, device, args.seed, bench, budget))
            graphs_ok = bool(agr.get("cuda_graphs", {}).get("ok"))
        if "throughput" in phases:
            phase("throughput", PHASE_SHARE["throughput"] * args.budget_s,
                  lambda: throughput(report, device, bench, budget, args.smoke, graphs_ok, bench_path))
        if "bench_gen" in phases:
            phase("bench_gen", PHASE_SHARE["bench_gen"] * args.budget_s,
                  lambda: bench_gen(report, device, data, budget, PHASE_SHARE["bench_gen"] * args.budget_s,
                                    args.smoke))
        if "search" in phases:
            execution = best_execution(figures.get("throughput", {}), graphs_ok) if device.type == "cuda" else {}
            report.log(f"search: execution options {execution or 'defaults'}; {budget.left():.0f} s left")
            phase("search", math.inf, lambda: search(report, device, data, bench, args.seed, budget, args.smoke,
                                                     execution, resume, args.search_epochs))
    finally:
        report.set("seconds", budget.used())
        try:
            text = summary(report.figures)
            report.write("summary.md", text)
            print(text, flush=True)  # the end of the output is what comes back first
        except Exception as exc:  # noqa: BLE001 - the figures are in device_check.json whatever the summary does
            report.log(f"summary.md not written: {type(exc).__name__}: {exc}")
        report.log(f"done in {budget.used():.0f} s; files in {args.out}: "
                   f"{', '.join(sorted(p.name for p in args.out.iterdir() if not p.name.startswith('.')))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
