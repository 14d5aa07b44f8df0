"""Where and how reproducibly a search runs: seeding, device choice, and capturing/restoring every RNG.

A resumed run must continue exactly as the uninterrupted one would have, so every random stream a search touches is
captured at the end of each epoch and restored on resume: Python's `random`, NumPy's global RNG, the searcher's own
`numpy.random.Generator` (ctx.rng), torch's CPU and CUDA generators, and the data loaders' `torch.Generator`s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
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


__all__ = ["capture_rng", "describe_device", "pick_device", "restore_rng", "seed_everything"]
