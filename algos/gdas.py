"""GDAS: gradient-based search with a differentiable architecture sampler (Dong & Yang, CVPR 2019; NB201's script).

Algorithm (PROTOCOLS.md section 2, GDAS), per epoch e of E:

    tau = tau_max - (tau_max - tau_min) * e / (E - 1)                 (10 -> 0.1, linear)
    for each (train batch, valid batch) of the search loader:
        every forward draws g ~ Gumbel per edge, h = one_hot(argmax softmax((log_softmax alpha + g) / tau))
        with the straight-through gradient of the soft probabilities (a draw giving inf/NaN is re-drawn);
        only the chosen op runs, the others add their (zero-valued) weights so alpha still gets gradients
        w     <- SGD step on  CE(supernet_gdas(train batch))   (grad norm clipped to 5 in NB201)
        alpha <- Adam step on CE(supernet_gdas(valid batch))
    derived cell = argmax_op alpha[edge] per edge; the reported one is the last epoch's

``forward='gdas_v1'`` is NATS' later ablation that multiplies only the chosen op (issue #119), off by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from search_space import Arch


@dataclass(frozen=True)
class GdasConfig(OneShotConfig):
    tau_max: float = 10.0
    tau_min: float = 0.1
    #: 'gdas' (the NB201/NATS default) or 'gdas_v1' (only the chosen op, NATS' ablation).
    forward: Literal["gdas", "gdas_v1"] = "gdas"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.tau_min, (int, float)) and isinstance(self.tau_max, (int, float))
                and 0 < self.tau_min <= self.tau_max):
            raise ValueError(f"GDAS needs 0 < tau_min <= tau_max, got tau_min={self.tau_min!r}, "
                             f"tau_max={self.tau_max!r}")
        if self.forward not in ("gdas", "gdas_v1"):
            raise ValueError(f"GDAS forward {self.forward!r} is unknown; valid: gdas, gdas_v1")

    def tau_at(self, epoch: int) -> float:
        """Linear decay from tau_max at the first epoch to tau_min at the last."""
        if self.epochs == 1:
            return self.tau_max
        return self.tau_max - (self.tau_max - self.tau_min) * epoch / (self.epochs - 1)


class Gdas(OneShotSearcher):
    """Hard Gumbel-softmax sampling of one op per edge, straight-through gradients to alpha."""

    name: ClassVar[str] = "gdas"
    Config: ClassVar[type] = GdasConfig
    PRESETS: ClassVar[dict[str, GdasConfig]] = {p: GdasConfig(**protocol_settings("gdas", p)) for p in ("nb201", "nats")}

    config: GdasConfig

    def begin_epoch(self, run: OneShotRun, epoch: int) -> dict[str, Any]:
        tau = self.config.tau_at(epoch)
        run.network.set_tau(tau)
        return {"tau": tau}

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        run.weight_step(self.config.forward, *base)
        run.arch_step(self.config.forward, *arch)

    def valid_logits(self, run: OneShotRun, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        # NB201's GDAS script has no valid_func: what it logs as "evaluate" is its search loop's architecture-batch
        # meter (our arch_loss / arch_acc). The trace's valid_acc is this harness's own logged figure, which decides
        # nothing: the supernet as searched, a fresh Gumbel draw per batch
        return run.logits(x, self.config.forward)


SEARCHER = Gdas
