"""The weight-sharing protocols as data: one frozen `OneShotConfig` per (algorithm, protocol), and the LR schedule.

PROTOCOLS.md section 2 is the source of every number here. Two protocols:

- ``nb201``: the NAS-Bench-201 (ICLR 2020) per-algorithm scripts and config files (DARTS 50 epochs, the others 250;
  ENAS with LR 0.05 -> 5e-4 and cosine T_max 10; gradient clip 5 except SETN).
- ``nats``: the NATS-Bench topology-space script (one config for all: 100 epochs, batch 64/512, no clip on the
  weights, affine=0 and track_running_stats=0). ``run-all.sh`` passes ``--overwite_epochs 200`` but the plotting
  script reads the 100-epoch runs, so it is ambiguous whether the paper used 100 or 200 epochs; the preset keeps the
  config file's 100 and a user who wants the other reading overrides ``epochs=200``.

Conv bias (``conv_bias``): the ICLR-era cell convs never have one (``nb201``: 'never'); the NATS-era code gives them
one when the BN is not affine (``nats``: 'if-not-affine').

BN (``track_running_stats``, the scripts' "BN" argument, recorded as ``bn`` with every result): the ``nb201`` preset
uses 1 as the docs' examples do (the script headers use 0; ``track_running_stats=0`` is the other reading, and it
changes results a lot, issue #70); ``nats`` uses 0, its default.

`smoke` shrinks any config to a CPU-sized run on the offline digits data; it sets ``size='smoke'`` so a result made
with it is labelled as such everywhere the config is recorded. It changes sizes only, never the algorithm.

The weight LR follows the original cosine rule evaluated once per epoch and never reset (`cosine_lr`): with
``t_max`` below the epoch count (ENAS: 10 of 250) it oscillates with period ``2 * t_max`` instead of restarting.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from algos.base import is_int, is_number, require

#: Algorithms whose settings live here (command-line names).
ALGORITHMS = ("darts-v1", "darts-v2", "gdas", "setn", "enas", "random-nas")
PROTOCOLS = ("nb201", "nats")


@dataclass(frozen=True)
class OneShotConfig:
    """Hyper-parameters every weight-sharing searcher shares; searchers subclass it to add their own fields."""

    #: Which protocol these numbers come from (a label recorded with every result).
    protocol: str = "nb201"
    #: ``protocol`` = the paper's sizes; ``smoke`` = shrunk for a CPU run on the offline digits data (see `smoke`).
    size: Literal["protocol", "smoke"] = "protocol"
    # --- schedule and data -----------------------------------------------------------------------------------
    epochs: int = 50
    #: Batch of the weight step (and of the paired architecture batch).
    batch_size: int = 64
    #: Batch of the per-epoch valid pass and of candidate scoring (the scripts' ``test_batch_size``).
    test_batch_size: int = 64
    #: Cap on search steps per epoch (None = one pass over the loader, as the protocol does).
    steps_per_epoch: int | None = None
    #: Cap on batches of the per-epoch valid pass (None = the whole valid split, as the protocol does).
    valid_batches: int | None = None
    # --- weight optimizer: SGD + Nesterov, cosine per epoch --------------------------------------------------
    lr: float = 0.025
    eta_min: float = 0.001
    #: Cosine period parameter; None = the number of epochs.
    t_max: int | None = None
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    #: Max global grad norm of the weights per step; None = no clipping.
    grad_clip: float | None = 5.0
    # --- architecture optimizer: Adam on alpha (ENAS: on its controller) --------------------------------------
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    arch_eps: float = 1e-8
    # --- supernet --------------------------------------------------------------------------------------------
    channels: int = 16
    cells: int = 5
    max_nodes: int = 4
    #: The scripts' "BN" argument: BatchNorm tracks running statistics (1) or always uses batch statistics (0).
    track_running_stats: bool = True
    #: Affine BN inside the cells (NB201 scripts: always False; NATS: ``--affine``, default 0).
    affine: bool = False
    #: Whether the cell convs carry a bias: 'never' (ICLR-era code, bb2f405) or 'if-not-affine' (NATS-era code,
    #: from b9a5d28). With BN=1 a bias shifts eval-mode outputs until the running means absorb it.
    conv_bias: Literal["never", "if-not-affine"] = "never"
    # --- selection -------------------------------------------------------------------------------------------
    #: Candidates scored at selection (SETN top-k by probability, RANDOM-NAS and ENAS random/controller samples).
    candidates: int = 100

    def __post_init__(self) -> None:
        """Refuse settings no run could use, naming the field, the bad value and what is valid."""
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is unknown; valid: {', '.join(PROTOCOLS)}")
        if self.size not in ("protocol", "smoke"):
            raise ValueError(f"size {self.size!r} is unknown; valid: protocol, smoke")
        for name in ("epochs", "batch_size", "test_batch_size", "channels", "cells", "candidates"):
            require(name, getattr(self, name), "a positive integer", lambda v: is_int(v) and v >= 1)
        for name in ("steps_per_epoch", "valid_batches", "t_max"):
            require(name, getattr(self, name), "None or a positive integer",
                     lambda v: v is None or (is_int(v) and v >= 1))
        for name in ("lr", "arch_lr", "arch_eps"):
            require(name, getattr(self, name), "a number > 0", lambda v: is_number(v) and v > 0)
        for name in ("eta_min", "weight_decay", "arch_weight_decay"):
            require(name, getattr(self, name), "a number >= 0", lambda v: is_number(v) and v >= 0)
        require("momentum", self.momentum, "a number in [0, 1)", lambda v: is_number(v) and 0 <= v < 1)
        require("grad_clip", self.grad_clip, "None or a number > 0", lambda v: v is None or (is_number(v) and v > 0))
        require("arch_betas", self.arch_betas, "two numbers in [0, 1)",
                 lambda v: len(v) == 2 and all(is_number(b) and 0 <= b < 1 for b in v))
        from supernet.network import CONV_BIAS  # torch: only weight-sharing searchers make these configs

        require("conv_bias", self.conv_bias, ", ".join(CONV_BIAS), lambda v: v in CONV_BIAS)

    @property
    def cosine_t_max(self) -> int:
        return self.epochs if self.t_max is None else self.t_max

    def lr_at(self, epoch: int) -> float:
        """Weight LR used throughout epoch ``epoch`` (0-based)."""
        return cosine_lr(epoch, self.lr, self.eta_min, self.cosine_t_max)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cosine_lr(epoch: int, base_lr: float, eta_min: float, t_max: int) -> float:
    """eta_min + (base - eta_min) * (1 + cos(pi * epoch / t_max)) / 2, never reset (period 2 * t_max)."""
    if t_max <= 0:
        raise ValueError(f"cosine t_max must be positive, got {t_max}")
    return eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * epoch / t_max)) / 2.0


# --- the tables of PROTOCOLS.md section 2 -------------------------------------------------------------------
_NB201_COMMON: dict[str, Any] = dict(protocol="nb201", lr=0.025, eta_min=0.001, weight_decay=5e-4, grad_clip=5.0,
                                     arch_lr=3e-4, arch_betas=(0.5, 0.999), arch_weight_decay=1e-3, arch_eps=1e-8,
                                     channels=16, cells=5, max_nodes=4, affine=False, conv_bias="never",
                                     # the docs' examples pass BN=1 (the script headers use 0): BN=0 is an override
                                     track_running_stats=True, candidates=100)
_NB201: dict[str, dict[str, Any]] = {
    "darts-v1": dict(epochs=50, batch_size=64, test_batch_size=64),
    "darts-v2": dict(epochs=50, batch_size=64, test_batch_size=64),
    "gdas": dict(epochs=250, batch_size=64, test_batch_size=64),
    "setn": dict(epochs=250, batch_size=64, test_batch_size=512, grad_clip=None),
    "random-nas": dict(epochs=250, batch_size=64, test_batch_size=512),
    # ENAS has no alpha: the arch_* fields are its controller's Adam (lr 1e-3, betas (0, 0.999), eps 1e-3; no weight
    # decay is named for NB201, NATS passes 0)
    "enas": dict(epochs=250, batch_size=128, test_batch_size=128, lr=0.05, eta_min=5e-4, t_max=10,
                 weight_decay=2.5e-4, arch_lr=1e-3, arch_betas=(0.0, 0.999), arch_eps=1e-3, arch_weight_decay=0.0),
}
_NATS_COMMON: dict[str, Any] = dict(protocol="nats", epochs=100, batch_size=64, test_batch_size=512, lr=0.025,
                                    eta_min=0.001, weight_decay=5e-4, grad_clip=None, arch_lr=3e-4,
                                    arch_betas=(0.5, 0.999), arch_weight_decay=1e-3, arch_eps=1e-8, channels=16,
                                    cells=5, max_nodes=4, affine=False, conv_bias="if-not-affine",
                                    track_running_stats=False, candidates=100)
_NATS: dict[str, dict[str, Any]] = {name: {} for name in ALGORITHMS}
_NATS["enas"] = dict(arch_lr=1e-3, arch_weight_decay=0.0, arch_eps=1e-3)

#: What `smoke` changes: sizes only (2-3 epochs of a few tiny batches on a 4-channel, 1-cell-per-stage supernet).
SMOKE: dict[str, Any] = dict(size="smoke", epochs=3, batch_size=16, test_batch_size=32, steps_per_epoch=4,
                             valid_batches=2, channels=4, cells=1, candidates=5)


def protocol_settings(algorithm: str, protocol: str) -> dict[str, Any]:
    """The shared fields of ``algorithm`` under ``protocol``, as keyword arguments for its Config."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown weight-sharing algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    if protocol == "nb201":
        return {**_NB201_COMMON, **_NB201[algorithm]}
    if protocol == "nats":
        return {**_NATS_COMMON, **_NATS[algorithm]}
    raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")


def smoke_sizes(config_cls: type[OneShotConfig]) -> dict[str, Any]:
    """The fields `smoke` sets on a ``config_cls``: the shared `SMOKE` sizes, then the class's own ``SMOKE_SIZES``
    (a Config may shrink its own fields too; ENAS: its controller steps)."""
    return {**SMOKE, **getattr(config_cls, "SMOKE_SIZES", {})}


def smoke(config: OneShotConfig, **extra: Any) -> OneShotConfig:
    """The same config shrunk to CPU size (`smoke_sizes`, labelled ``size='smoke'``); ``extra`` overrides them."""
    return dataclasses.replace(config, **{**smoke_sizes(type(config)), **extra})


__all__ = ["ALGORITHMS", "PROTOCOLS", "SMOKE", "OneShotConfig", "cosine_lr", "protocol_settings", "smoke",
           "smoke_sizes"]
