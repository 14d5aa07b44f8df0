"""Where and how reproducibly a training runs (a search or a benchmark job): seeding, device choice, float
precision, waiting for the device, the running loss/accuracy of an epoch, capturing/restoring every RNG.

A resumed run must continue exactly as the uninterrupted one would have, so every random stream a search touches is
captured at the end of each epoch and restored on resume: Python's `random`, NumPy's global RNG, the searcher's own
`numpy.random.Generator` (ctx.rng), torch's CPU and CUDA generators, and the data loaders' `torch.Generator`s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and make cuDNN deterministic (deterministic=True, benchmark=False)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int (the runner turns -1 into a drawn seed), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given (``cpu``, ``cuda``, ``cuda:1``), else CUDA when present, else CPU."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"unknown device {requested!r}; valid: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} was asked for but CUDA is not available here; use cpu or auto")
    return device


#: The float math a run may use (the ``precision`` runner option), recorded with every result: ``fp32`` is IEEE
#: float32 throughout, the original's numerics (its GPUs had no TF32); ``tf32`` lets cuDNN convolutions and matmuls
#: round their inputs to TF32 on Ampere and later GPUs (torch's own default for cuDNN); ``bf16`` runs the network's
#: forward under bfloat16 autocast (the loss, optimizers and weights stay float32).
PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    return precision


def set_precision(precision: str) -> torch.dtype | None:
    """Set torch's process-wide TF32 switches for ``precision`` and return the autocast dtype it asks for (None: no
    autocast). fp32 and bf16 switch TF32 off, tf32 on (cuDNN convolutions, cuDNN RNNs and CUDA matmuls alike)."""
    check_precision(precision)
    mode = "tf32" if precision == "tf32" else "ieee"
    cudnn = torch.backends.cudnn
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):  # torch >= 2.9: the per-operator switches
        for switch in (cudnn.conv, getattr(cudnn, "rnn", None), torch.backends.cuda.matmul):
            if hasattr(switch, "fp32_precision"):
                switch.fp32_precision = mode
    else:  # older torch: the legacy flags (never mix the two APIs: torch refuses to read mixed flags)
        cudnn.allow_tf32 = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    return torch.bfloat16 if precision == "bf16" else None


def synchronize(device: torch.device | None) -> None:
    """Wait until ``device`` has finished its queued work (a CUDA device; nothing to wait for otherwise or for None),
    e.g. before reading a clock."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Meter:
    """Running mean loss and top-1 accuracy (in %) over the samples seen.

    The sums stay where the tensors are (float64 loss sum, int64 correct count) and are read once, at the end of the
    epoch: an update never waits for the device, so a GPU step runs without a host synchronisation. The float64
    arithmetic is the one a Python float sum does, so the figures are the same bit for bit."""

    loss_sum_t: torch.Tensor | None = None
    correct_t: torch.Tensor | None = None
    count: int = 0

    def update(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        n = int(targets.shape[0])
        loss_n = loss.detach().double() * n
        correct = (logits.detach().argmax(dim=-1) == targets).sum()
        self.loss_sum_t = loss_n if self.loss_sum_t is None else self.loss_sum_t + loss_n
        self.correct_t = correct if self.correct_t is None else self.correct_t + correct
        self.count += n

    @property
    def loss(self) -> float | None:
        return float(self.loss_sum_t) / self.count if self.count else None

    @property
    def acc(self) -> float | None:
        return 100.0 * int(self.correct_t) / self.count if self.count else None


def describe_device(device: torch.device) -> str:
    """A line for the record: the device and, for CUDA, the card's name."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def capture_rng(rng: np.random.Generator | None = None,
                generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Every RNG state a search depends on, as picklable values."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "rng": None if rng is None else rng.bit_generator.state,
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    return state


def restore_rng(state: Mapping[str, Any], rng: np.random.Generator | None = None,
                generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Put back what `capture_rng` took; a generator missing from the saved state is an error, not a fresh start."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if rng is not None:
        if state.get("rng") is None:
            raise ValueError("the checkpoint has no state for the search's numpy Generator")
        rng.bit_generator.state = state["rng"]
    saved = state.get("generators", {})
    for key, gen in (generators or {}).items():
        if key not in saved:
            raise ValueError(f"the checkpoint has no state for generator {key!r}; it has: {', '.join(saved) or 'none'}")
        gen.set_state(saved[key])


__all__ = ["PRECISIONS", "Meter", "capture_rng", "check_precision", "describe_device", "pick_device", "restore_rng",
           "seed_everything", "set_precision", "synchronize"]
