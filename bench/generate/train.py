"""The unit of a benchmark build: train one cell on one setting with one seed and one schedule (`train_job`).

A job is a plain function of a frozen `Job` and a root folder, so any dispatcher can run it (the local driver in
`bench.generate.local`, dask workers, a cluster array job): it reads nothing but its data and writes only its own
folder ``ROOT/runs/INDEX/SETTING/seed-SEED/SCHEDULE/``:

- ``checkpoint.pt`` after every epoch (weights, optimiser, the records so far, RNG states), replaced atomically; a
  killed job started again continues from the last finished epoch and ends with the same result as an
  uninterrupted one (the loaders hold no RNG state: epoch ``e``'s batches are a function of the seed and ``e``);
- ``result.json`` at the end (per-epoch train loss/accuracy/seconds, per-epoch evaluation loss/accuracy/seconds of
  every split, latency, parameters, FLOPs, what data and device were used, the epoch the last attempt resumed
  from), then the ``DONE`` marker, then the checkpoint is removed (a finished job keeps only its small result).

Determinism: the network is initialised from ``torch.manual_seed(seed)``; batch order and augmentation come from
the seed; nothing else draws random numbers. On a CPU the same job gives the same figures (times aside) whenever it
runs with the same thread count.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.generate.data import SettingData, setting_data
from bench.generate.files import is_done, mark_done, read_json, write_json
from bench.generate.protocol import Schedule, check_source, setting
from search_space import Arch
from supernet import build_network, count_parameters
from supernet.checkpoint import load_checkpoint, save_checkpoint
from supernet.flops import flops
from supernet.runtime import capture_rng, describe_device, pick_device, restore_rng

RESULT = "result.json"
CHECKPOINT = "checkpoint.pt"
RESULT_FORMAT = "nb201-harness-train-result"
RESULT_VERSION = 1


@dataclass(frozen=True)
class JobOptions:
    """Where a job finds its data and how it runs: the same for every job of a plan, so a plan holds it once.

    None of it is part of a job's identity except the two caps (a checkpoint moves between machines, devices and
    thread counts; it does not move between different training sets)."""

    data_dir: str | None = None
    splits_dir: str | None = None
    #: Caps on training images and on each evaluation split (a seeded choice; CPU-sized runs).
    subset: int | None = None
    eval_subset: int | None = None
    #: ``cpu``, ``cuda``, ``cuda:N`` or None (CUDA when present).
    device: str | None = None
    #: torch intra-op threads (None: leave torch's default).
    threads: int | None = None
    #: Data-loading worker processes (0: in this process); the batches do not depend on it.
    loader_workers: int = 0

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        for name in ("subset", "eval_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers must be >= 0, got {self.loader_workers}")


@dataclass(frozen=True)
class Job:
    """One (cell, setting, seed, schedule) training run and everything needed to run it anywhere."""

    index: int
    setting: str
    seed: int
    schedule: Schedule
    #: Data source: the official set of the setting's family, ``cifar10-jpeg`` or ``smoke``.
    data: str
    options: JobOptions = JobOptions()

    def __post_init__(self) -> None:
        Arch.from_index(self.index)  # range check with a clear message
        check_source(setting(self.setting), self.data)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def arch(self) -> Arch:
        return Arch.from_index(self.index)

    def folder(self, root: Path | str) -> Path:
        return Path(root) / "runs" / f"{self.index:05d}" / self.setting / f"seed-{self.seed}" / self.schedule.name

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (a checkpoint from a different one is refused)."""
        return {"index": self.index, "setting": self.setting, "seed": self.seed, "schedule": self.schedule.as_dict(),
                "data": self.data, "subset": self.options.subset, "eval_subset": self.options.eval_subset}

    def as_dict(self) -> dict[str, Any]:
        """Flat: the job's own fields and its options side by side (the layout of ``result.json``'s ``job``)."""
        return {"index": self.index, "setting": self.setting, "seed": self.seed,
                "schedule": self.schedule.as_dict(), "data": self.data, **dataclasses.asdict(self.options)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Job:
        return cls(raw["index"], raw["setting"], raw["seed"], Schedule.from_dict(raw["schedule"]), raw["data"],
                   options_from_dict(raw))


def options_from_dict(raw: dict[str, Any]) -> JobOptions:
    """The `JobOptions` fields of a flat dict (a plan or a job as written); absent ones take their defaults."""
    raw = {"loader_workers": raw["workers"], **raw} if "workers" in raw else raw  # its name in the first plans
    return JobOptions(**{f.name: raw[f.name] for f in dataclasses.fields(JobOptions) if f.name in raw})


@dataclass(frozen=True)
class JobStatus:
    """What a job reports back to its dispatcher (small; the figures stay in the job's folder)."""

    folder: str
    #: ``done`` (trained now), ``skipped`` (was already done), ``stopped`` (left resumable after ``stop_after``) or
    #: ``failed`` (set by a dispatcher).
    status: str
    epochs_done: int
    seconds: float
    #: Why a job failed (a dispatcher's record; `train_job` raises instead).
    error: str | None = None


def train_job(job: Job, root: Path | str, *, stop_after: int | None = None, keep_checkpoint: bool = False,
              log: Callable[[str], None] | None = None) -> JobStatus:
    """Train ``job`` (resuming from its checkpoint), write its result and ``DONE``; skip a finished job.

    ``stop_after``: return after this many epochs of this call, leaving the checkpoint (time-sliced workers, tests).
    """
    t_start = time.perf_counter()
    folder = job.folder(root)
    if is_done(folder):
        return JobStatus(str(folder), "skipped", job.schedule.epochs, 0.0)
    opts = job.options
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    device = pick_device(opts.device)
    sched = job.schedule
    data = setting_data(setting(job.setting), job.data, data_dir=opts.data_dir, splits_dir=opts.splits_dir,
                        seed=job.seed, batch_size=sched.batch_size, eval_batch_size=sched.eval_batch_size,
                        subset=opts.subset, eval_subset=opts.eval_subset, num_workers=opts.loader_workers)
    torch.manual_seed(job.seed)
    net = build_network(job.arch, data.num_classes, C=sched.C, N=sched.N).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=sched.lr, momentum=sched.momentum, nesterov=sched.nesterov,
                                weight_decay=sched.weight_decay)
    criterion = nn.CrossEntropyLoss()
    records = _empty_records(data)
    start = resumed_from = 0
    state = load_checkpoint(folder / CHECKPOINT, {"job": job.identity()})
    if state is not None:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        records = state["records"]
        start = resumed_from = int(state["epoch"])
        restore_rng(state["rng"])
        if log:
            log(f"{folder}: resuming after epoch {start}")
    ran = 0
    for epoch in range(start, sched.epochs):
        if stop_after is not None and ran >= stop_after:
            return JobStatus(str(folder), "stopped", epoch, time.perf_counter() - t_start)
        lr = sched.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, acc, seconds = _train_epoch(net, data, optimizer, criterion, epoch, device)
        train = records["train"]
        train["lr"].append(lr)
        train["loss"].append(loss)
        train["acc"].append(acc)
        train["seconds"].append(seconds)
        for name, loader in data.evals.items():
            rec = records["eval"][name]
            if sched.evaluates(epoch):
                e_loss, e_acc, e_seconds, latency = _evaluate(net, loader, criterion, device)
            else:
                e_loss = e_acc = e_seconds = latency = math.nan
            rec["loss"].append(e_loss)
            rec["acc"].append(e_acc)
            rec["seconds"].append(e_seconds)
            rec["latency_s"].append(latency)
        ran += 1
        save_checkpoint(folder / CHECKPOINT, {"job": job.identity(), "epoch": epoch + 1, "model": net.state_dict(),
                                              "optimizer": optimizer.state_dict(), "records": records,
                                              "rng": capture_rng()})
        if log:
            ev = ", ".join(f"{k} {records['eval'][k]['acc'][-1]:.2f}%" for k in data.evals)
            log(f"{folder}: epoch {epoch + 1}/{sched.epochs} lr {lr:.4f} train loss {loss:.4f} acc {acc:.2f}% "
                f"({seconds:.1f} s); {ev}")
    result = _result(job, data, net, records, device)
    result["resumed_from_epoch"] = resumed_from
    write_json(folder / RESULT, result)
    mark_done(folder)
    if not keep_checkpoint:
        (folder / CHECKPOINT).unlink(missing_ok=True)
    return JobStatus(str(folder), "done", sched.epochs, time.perf_counter() - t_start)


def read_result(job: Job, root: Path | str) -> dict[str, Any] | None:
    """A finished job's result, or None while it is not done."""
    folder = job.folder(root)
    return read_json(folder / RESULT) if is_done(folder) else None


# --- one epoch --------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_epoch(net: nn.Module, data: SettingData, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                 epoch: int, device: torch.device) -> tuple[float, float, float]:
    """One pass over the training images: (mean loss, accuracy %, seconds incl. data loading)."""
    net.train()
    total_loss, correct, seen = 0.0, 0, 0
    t0 = time.perf_counter()
    for x, y in data.train.epoch(epoch):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = net(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += float(loss.detach()) * n
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += n
    _sync(device)
    return total_loss / seen, 100.0 * correct / seen, time.perf_counter() - t0


def _evaluate(net: nn.Module, loader: Any, criterion: nn.Module,
              device: torch.device) -> tuple[float, float, float, float]:
    """One evaluation pass: (mean loss, accuracy %, seconds, latency = mean forward seconds of a full batch).

    Latency leaves out the first batch (warm-up) as the benchmark did, unless it is the only full one."""
    net.eval()
    total_loss, correct, seen = 0.0, 0, 0
    forward: list[float] = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for x, y in loader.epoch(0):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            _sync(device)
            tf = time.perf_counter()
            logits = net(x)
            _sync(device)
            if len(y) == loader.batch_size:
                forward.append(time.perf_counter() - tf)
            total_loss += float(criterion(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
    seconds = time.perf_counter() - t0
    timed = forward[1:] if len(forward) > 1 else forward
    latency = sum(timed) / len(timed) if timed else math.nan
    return total_loss / seen, 100.0 * correct / seen, seconds, latency


def _empty_records(data: SettingData) -> dict[str, Any]:
    return {"train": {"lr": [], "loss": [], "acc": [], "seconds": []},
            "eval": {k: {"loss": [], "acc": [], "seconds": [], "latency_s": []} for k in data.evals}}


def _result(job: Job, data: SettingData, net: nn.Module, records: dict[str, Any],
            device: torch.device) -> dict[str, Any]:
    sched = job.schedule
    sett = setting(job.setting)
    primary = records["eval"][sett.primary]
    evaluated = [s for s in primary["seconds"] if not math.isnan(s)]
    latencies = [s for s in primary["latency_s"] if not math.isnan(s)]
    return {
        "format": RESULT_FORMAT, "version": RESULT_VERSION,
        "job": job.as_dict(), "arch": str(job.arch), "index": job.index, "setting": job.setting, "seed": job.seed,
        "schedule": sched.as_dict(), "epochs": sched.epochs, "data": data.describe(),
        "device": describe_device(device), "torch": torch.__version__,
        "train": records["train"], "eval": records["eval"], "primary": sett.primary,
        "summary": {
            "train_seconds": sum(records["train"]["seconds"]),
            "eval_seconds": sum(evaluated) / len(evaluated),
            "latency_s": latencies[-1] if latencies else math.nan,
            "params_M": count_parameters(net) / 1e6,
            "flops_M": flops(job.arch, data.num_classes, data.image_size, sched.C, sched.N),
            "final": {name: rec["acc"][-1] for name, rec in records["eval"].items()},
            "train_acc": records["train"]["acc"][-1],
        },
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


__all__ = ["CHECKPOINT", "RESULT", "Job", "JobOptions", "JobStatus", "options_from_dict", "read_result", "train_job"]
