"""Throughput of the benchmark's training step on this machine, and what training every cell would cost here.

Measures images/s of one training step (forward, backward, SGD-Nesterov step, data loading and augmentation
included) of the ResNet cell (index 11472) at the benchmark's size (C=16, N=5, batch 256, 32x32) and of one
evaluation forward pass, with torch threads 1 and 2; then projects the time to train all 15,625 cells for one seed
on the four settings with the 200-epoch and the 12-epoch schedules (per-epoch evaluation included).

Images: the CIFAR-10 JPEG zip through the real training loader when it is found (``--data-dir``), else random
tensors; the output says which. ImageNet16-120 steps are timed on 16x16 inputs (random tensors, 120 classes).
The projection scales the ResNet cell's time by the mean FLOPs of all cells over the ResNet cell's FLOPs (a
rough model: cheap cells are not proportionally faster on a CPU); both figures are printed.

    .venv/bin/python -m runners.perf.train [--threads 1 2] [--batches 3] [--data-dir ../shared/data/cifar10-jpeg]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.generate.plan import RESNET_INDEX
from bench.generate.protocol import SCHEDULES
from search_space import NUM_ARCHS, Arch
from supernet import build_network, flops, flops_counts
from supernet.datasets import DatasetNotFoundError, find_jpeg_source, read_image_folder
from supernet.loaders import Loader
from supernet.transforms import AUGMENT

DEFAULT_JPEG = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg"
#: Training images and evaluation images per epoch of each setting (official split sizes; ImageNet16-120 has
#: 151,700 training images in its 120 classes) and the input side.
WORK = {
    "cifar10-valid": (25_000, 25_000, 32),
    "cifar10": (50_000, 10_000, 32),
    "cifar100": (50_000, 10_000, 32),
    "ImageNet16-120": (151_700, 6_000, 16),
}


def batches(side: int, num_classes: int, n: int, batch: int, data_dir: Path | None) -> tuple[list, str]:
    """``n`` training batches: real JPEG images through the benchmark's loader when possible, else random."""
    if side == 32 and data_dir is not None:
        try:  # only the images needed: the first n * batch / 10 of each class, through the training loader
            images = read_image_folder(find_jpeg_source(data_dir), "train", per_class=-(-n * batch // 10))
            loader = Loader(images, np.arange(len(images)), batch, AUGMENT["cifar10-jpeg"], name="train", seed=777,
                            train_transform=True)
            return list(loader.epoch(0))[:n], f"CIFAR-10 JPEG images ({data_dir}) through the training loader"
        except DatasetNotFoundError as exc:
            print(f"note: {exc}; using random tensors")
    g = torch.Generator().manual_seed(0)
    out = [(torch.randn(batch, 3, side, side, generator=g), torch.randint(0, num_classes, (batch,), generator=g))
           for _ in range(n)]
    return out, "random tensors"


def time_steps(side: int, num_classes: int, threads: int, n: int,
               data_dir: Path | None) -> tuple[float, float, float, float, str]:
    """Train and eval images/s of the ResNet cell at batch 256, by wall clock and by this process's CPU time
    (images per CPU-second; with one thread it is what an otherwise idle core would give), and the image source."""
    torch.set_num_threads(threads)
    sched = SCHEDULES["200"]
    torch.manual_seed(0)
    net = build_network(RESNET_INDEX, num_classes, C=sched.C, N=sched.N)
    opt = torch.optim.SGD(net.parameters(), lr=sched.lr, momentum=sched.momentum, nesterov=sched.nesterov,
                          weight_decay=sched.weight_decay)
    crit = nn.CrossEntropyLoss()
    data, source = batches(side, num_classes, n + 1, sched.batch_size, data_dir)
    net.train()
    wall, cpu = [], []
    for x, y in data:  # the first step is a warm-up and is not timed
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = crit(net(x), y)
        loss.backward()
        opt.step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    train = (sched.batch_size / float(np.median(wall[1:])), sched.batch_size / float(np.median(cpu[1:])))
    net.eval()
    wall, cpu = [], []
    with torch.no_grad():
        for x, _ in data:
            t0, c0 = time.perf_counter(), time.process_time()
            net(x)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    evals = (sched.batch_size / float(np.median(wall[1:])), sched.batch_size / float(np.median(cpu[1:])))
    return train[0], evals[0], train[1], evals[1], source


def human(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    if seconds < 86400 * 365:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 86400 / 365:.0f} years"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batches", type=int, default=3, help="timed batches per measurement (after one warm-up)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_JPEG if DEFAULT_JPEG.exists() else None)
    args = parser.parse_args()
    resnet = Arch.from_index(RESNET_INDEX)
    ratio = {side: float(np.mean(flops_counts(10, side))) / flops(resnet, 10, side) for side in (32, 16)}
    print(f"torch {torch.__version__}; {torch.get_num_threads()} default threads; ResNet cell {resnet} "
          f"(index {RESNET_INDEX}), C=16 N=5 batch 256")
    print(f"mean FLOPs of all 15,625 cells / ResNet cell's: {ratio[32]:.3f} (32x32), {ratio[16]:.3f} (16x16)")
    print(f"load average (1, 5, 15 min) at start: {os.getloadavg()} on {os.cpu_count()} cores")
    for threads in args.threads:
        ips: dict[str, dict[int, tuple[float, float]]] = {"wall": {}, "cpu": {}}
        for side, classes in ((32, 10), (16, 120)):
            train_w, eval_w, train_c, eval_c, source = time_steps(side, classes, threads, args.batches, args.data_dir)
            ips["wall"][side], ips["cpu"][side] = (train_w, eval_w), (train_c, eval_c)
            print(f"threads {threads}: {side}x{side}, {classes} classes: train step {train_w:.1f} images/s, eval "
                  f"forward {eval_w:.1f} images/s (per CPU-second: {train_c:.1f} / {eval_c:.1f})  [{source}]")
        clocks = ("wall", "cpu") if threads == 1 else ("wall",)
        for clock in clocks:
            what = "wall clock" if clock == "wall" else "CPU time (an idle core)"
            speed = ips[clock]
            n_train, n_eval, _ = WORK["cifar10"]
            one = SCHEDULES["12"].epochs * (n_train / speed[32][0] + n_eval / speed[32][1])
            print(f"threads {threads}, {what}: ResNet cell, 12 epochs on cifar10 (50k train + 10k test a epoch): "
                  f"{human(one)}")
            for name in ("12", "200"):
                epochs = SCHEDULES[name].epochs
                per_cell = sum(epochs * (n_tr / speed[side][0] + n_ev / speed[side][1])
                               for n_tr, n_ev, side in WORK.values())
                total = per_cell * NUM_ARCHS
                print(f"threads {threads}, {what}: {name}-epoch schedule, four settings, one seed: ResNet cell "
                      f"{human(per_cell)}; all {NUM_ARCHS:,} cells {human(total)} at the ResNet cell's speed, "
                      f"{human(total * ratio[32])} FLOPs-scaled")
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
