"""How fast the search data loads and batches on this machine (not a test).

    python -m runners.perf.data [--data-dir ../shared/data/cifar10-jpeg] [--device cpu] [--threads N] [--epochs 2]

1. Reading the CIFAR-10 JPEG set (all 60,000 images decoded into memory) from the zip and from the packed npz
   (`supernet.datasets.read_packed_jpeg`; the same pixels), each read cold (the per-process cache cleared), twice.
2. ``--epochs`` epochs (default 2) of the search loader (25k weight-batch / architecture-batch pairs at batch 64)
   and of the valid loader (25k images at batch 512) on the host pipeline and on the device data path
   (`supernet.device_data`; ``--device``, default CUDA when present), the batches checked equal, images per second.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from supernet.datasets import JPEG_ARCHIVE, JPEG_PACKED, _read_image_folder, _read_packed_jpeg, read_jpeg_set
from supernet.loaders import search_loaders
from supernet.runtime import describe_device, pick_device
from supernet.runtime import synchronize as _sync

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg"


def read_seconds(source: Path) -> float:
    """Seconds to decode both parts of the set at ``source``, cold."""
    _read_image_folder.cache_clear()
    _read_packed_jpeg.cache_clear()
    t0 = time.perf_counter()
    for part in ("train", "test"):
        read_jpeg_set(source, part)
    return time.perf_counter() - t0


def epoch_seconds(loader, epoch: int, device: torch.device | None) -> tuple[float, int]:  # noqa: ANN001 - a loader
    """Seconds for one epoch of ``loader`` with every batch on ``device`` (a host batch is copied there), images."""
    n = 0
    _sync(device)
    t0 = time.perf_counter()
    for batch in loader.epoch(epoch):
        for x, y in batch if isinstance(batch[0], tuple) else (batch,):
            if device is not None and x.device != device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            n += len(y)
    _sync(device)
    return time.perf_counter() - t0, n


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.perf.data", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--device", default=None, help="device of the device data path (default: CUDA when present)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed per loader and path")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    zip_path, npz_path = args.data_dir / JPEG_ARCHIVE, args.data_dir / JPEG_PACKED
    missing = [str(p) for p in (zip_path, npz_path) if not p.is_file()]
    if missing:
        raise SystemExit(f"not found: {', '.join(missing)} (point --data-dir at the folder with both)")
    device = pick_device(args.device)
    print(f"# {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    print("## reading all 60,000 images (train + test), cold")
    for name, path in (("zip", zip_path), ("packed npz", npz_path), ("zip", zip_path), ("packed npz", npz_path)):
        print(f"{name:<11} {path.stat().st_size / 1e6:6.1f} MB  {read_seconds(path):6.2f} s", flush=True)
    data = search_loaders("cifar10-jpeg", npz_path, batch_size=64, test_batch_size=512, seed=0)
    on_device = data.to(device)
    print(f"## loaders, {describe_device(device)}: seconds per epoch and images per second (search: both sides)")
    for name in ("search", "valid"):
        for label, d in (("host", data), (f"device data path ({device})", on_device)):
            for epoch in range(args.epochs):
                s, n = epoch_seconds(getattr(d, name), epoch, device)
                print(f"{name:<7} {label:<28} epoch {epoch}: {s:6.2f} s  {n / s:9.0f} images/s", flush=True)
    print(f"# load average at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
