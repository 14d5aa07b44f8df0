"""DARTS-V1: differentiable architecture search, first-order (Liu et al., ICLR 2019; NB201's DARTS-V1 script).

Algorithm (PROTOCOLS.md section 2, DARTS-V1), per epoch, with the cosine weight LR of the epoch:

    for each (train batch, valid batch) of the search loader:
        w     <- SGD step on  CE(supernet_mixture(train batch; w, softmax(alpha)))   (grad norm clipped to 5)
        alpha <- Adam step on CE(supernet_mixture(valid batch; w, softmax(alpha)))   (gradient at the new w)
    derived cell = argmax_op alpha[edge] on every edge (``none`` included)

The reported cell is the last epoch's; the epoch with the best supernet valid accuracy is recorded as "best" but
not reported. The loop, checkpoints and trace are the shared `algos.oneshot.OneShotSearcher`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from search_space import Arch


@dataclass(frozen=True)
class DartsV1Config(OneShotConfig):
    """DARTS-V1 needs nothing beyond the shared weight-sharing settings."""


class DartsV1(OneShotSearcher):
    """First-order DARTS: weight step, then alpha step at the updated weights, on a softmax mixture of ops."""

    name: ClassVar[str] = "darts-v1"
    Config: ClassVar[type] = DartsV1Config
    PRESETS: ClassVar[dict[str, DartsV1Config]] = {
        p: DartsV1Config(**protocol_settings("darts-v1", p)) for p in ("nb201", "nats")
    }

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        run.weight_step("mixture", *base)
        run.arch_step("mixture", *arch)

    def valid_logits(self, run: OneShotRun, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        # the scripts' valid_func evaluates the supernet itself (the mixture), not the derived cell
        return run.logits(x, "mixture")


SEARCHER = DartsV1
