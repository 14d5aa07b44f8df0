"""The unit of a benchmark build: train one cell on one setting with one seed and one schedule (`train_job`).

A job is a plain function of a frozen `Job` and a root folder, so any dispatcher can run it (the local driver in
`bench.generate.local`, dask workers, a cluster array job): it reads nothing but its data and writes only its own
folder ``ROOT/runs/INDEX/SETTING/seed-SEED/SCHEDULE/``:

- ``checkpoint.pt`` after every epoch (weights, optimiser, the records so far, RNG states), replaced atomically; a
  killed job started again continues from the last finished epoch and ends with the same result as an
  uninterrupted one (the loaders hold no RNG state: epoch ``e``'s batches are a function of the seed and ``e``);
- ``weights.pt`` when the plan keeps weights (``JobOptions.keep_weights``): the trained network's final state dict,
  which the user API serves (`bench.api`, ``reload`` + ``get_net_param``);
- ``result.json`` at the end (per-epoch train loss/accuracy/seconds, per-epoch evaluation loss/accuracy/seconds of
  every split, latency, parameters, FLOPs, what data and device were used, the epoch the last attempt resumed
  from), then the ``DONE`` marker, then the checkpoint is removed (a finished job keeps only its small result and,
  if asked, its weights).

Determinism: the network is initialised from ``torch.manual_seed(seed)``; batch order and augmentation come from
the seed; nothing else draws random numbers. On a CPU the same job gives the same figures (times aside) whenever it
runs with the same thread count.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.atomic import write_atomic
from bench.generate.data import SettingData, setting_data
from bench.generate.files import is_done, mark_done, read_json, write_json
from bench.generate.job import (
    CHECKPOINT,
    RESULT,
    RESULT_FORMAT,
    RESULT_VERSION,
    WEIGHTS,
    Job,
    JobOptions,
    JobStatus,
    options_from_dict,
)
from bench.generate.protocol import setting
from supernet import build_network, count_parameters
from supernet.checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from supernet.flops import flops
from supernet.runtime import Meter, capture_rng, describe_device, pick_device, restore_rng, synchronize


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
                        subset=opts.subset, eval_subset=opts.eval_subset, num_workers=opts.loader_workers,
                        device=device if opts.on_device(device.type) else None)
    torch.manual_seed(job.seed)
    net = build_network(job.arch, data.num_classes, C=sched.C, N=sched.N).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=sched.lr, momentum=sched.momentum, nesterov=sched.nesterov,
                                weight_decay=sched.weight_decay)
    criterion = nn.CrossEntropyLoss()
    records = _empty_records(data)
    start = resumed_from = 0
    state = load_checkpoint(folder / CHECKPOINT, {"job": job.identity()}, report=log)
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
    if opts.keep_weights:  # before the result and DONE: a finished job that keeps weights always has them
        save_weights(folder / WEIGHTS, net)
        result["weights"] = WEIGHTS
    write_json(folder / RESULT, result)
    mark_done(folder)
    if not keep_checkpoint:
        remove_checkpoint(folder / CHECKPOINT)
    return JobStatus(str(folder), "done", sched.epochs, time.perf_counter() - t_start)


def save_weights(path: Path, net: nn.Module) -> None:
    """The network's final state dict (CPU tensors), written atomically."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, buf)
    write_atomic(path, buf.getbuffer(), durable=True)


def read_result(job: Job, root: Path | str) -> dict[str, Any] | None:
    """A finished job's result, or None while it is not done."""
    folder = job.folder(root)
    return read_json(folder / RESULT) if is_done(folder) else None


# --- one epoch --------------------------------------------------------------------------------------------
def _train_epoch(net: nn.Module, data: SettingData, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                 epoch: int, device: torch.device) -> tuple[float, float, float]:
    """One pass over the training images: (mean loss, accuracy %, seconds incl. data loading).

    The sums stay on the device until the end of the epoch (`Meter`), so a GPU step never waits for the host."""
    net.train()
    meter = Meter()
    t0 = time.perf_counter()
    for x, y in data.train.epoch(epoch):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = net(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        meter.update(loss, logits, y)
    synchronize(device)
    seconds = time.perf_counter() - t0
    return meter.loss, meter.acc, seconds  # type: ignore[return-value]


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
            synchronize(device)
            tf = time.perf_counter()
            logits = net(x)
            synchronize(device)
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


__all__ = ["CHECKPOINT", "RESULT", "WEIGHTS", "Job", "JobOptions", "JobStatus", "options_from_dict", "read_result",
           "save_weights", "train_job"]
