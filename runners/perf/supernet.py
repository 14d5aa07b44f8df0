"""Throughput of one supernet training step (forward + backward) per forward mode, on this machine's CPU.

Protocol size by default: C=16, N=5, batch 64, 32x32 inputs, 10 classes, NB201 BN flags (track_running_stats=1).
Each (threads, memory format, mode) runs ``--warmup`` untimed steps, then ``--steps`` timed ones; 'path' and 'fixed'
draw a new uniform architecture (seeded) per step, so their figure is an average over architectures.

    .venv/bin/python -m runners.perf.supernet                          # threads 1 and 2, channels-last
    .venv/bin/python -m runners.perf.supernet --memory-format both     # also the contiguous layout, for comparison
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from search_space import Arch
from supernet import MODES, Supernet, SupernetConfig

FORMATS = ("channels_last", "contiguous")


def measure(mode: str, threads: int, channels_last: bool, args: argparse.Namespace) -> tuple[float, float, float]:
    """(images/s over the timed steps, slowest step in s, CPU seconds per step) of forward + backward in ``mode``.

    CPU seconds (all threads of this process) show how much of a slow wall time is waiting for a shared core.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = Supernet(SupernetConfig(num_classes=args.num_classes, C=args.C, N=args.N))  # the nb201 supernet, BN=1
    net.channels_last = channels_last
    net.train()
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, args.num_classes, (args.batch,))
    loss_fn = torch.nn.CrossEntropyLoss()
    times, cpu = [], []
    for step in range(args.warmup + args.steps):
        if mode in ("path", "fixed"):
            net.set_mode(mode, Arch.sample(rng))
        else:
            net.set_mode(mode)
        net.zero_grad(set_to_none=True)
        t0, c0 = time.perf_counter(), time.process_time()
        loss_fn(net(x), y).backward()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return args.batch * len(times) / sum(times), max(times), sum(cpu) / len(cpu)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--memory-format", choices=(*FORMATS, "both"), default="channels_last")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32, help="input side (32 CIFAR, 16 ImageNet16-120)")
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args(argv)
    if any(t < 1 for t in args.threads) or args.steps < 1 or args.warmup < 0:
        p.error("--threads and --steps must be >= 1, --warmup >= 0")
    formats = FORMATS if args.memory_format == "both" else (args.memory_format,)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"C={args.C} N={args.N} batch={args.batch} {args.size}x{args.size}, "
          f"{args.warmup} warm-up + {args.steps} timed steps (forward + backward)", flush=True)
    print(f"{'threads':>7} {'format':>13} {'mode':>8} {'images/s':>9} {'s/step':>7} {'slowest':>7} "
          f"{'cpu s/step':>10}", flush=True)
    for threads in args.threads:
        for fmt in formats:
            for mode in args.modes:
                ips, slowest, cpu = measure(mode, threads, fmt == "channels_last", args)
                print(f"{threads:>7} {fmt:>13} {mode:>8} {ips:>9.1f} {args.batch / ips:>7.2f} {slowest:>7.2f} "
                      f"{cpu:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
