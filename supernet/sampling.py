"""Per-step architecture samples the supernet's forward modes consume.

- `gumbel_hard`: GDAS' hard Gumbel-softmax sample with the straight-through estimator (PROTOCOLS.md 2, GDAS).
- `urs_arch`: NATS' "urs" weight-step sample for one cell (uniform op per edge, re-drawn while a node would receive
  only ``none``). NB201's uniform sample is `search_space.Arch.sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from search_space import NUM_OPS, OPS, Arch
from supernet.cell import INCOMING

NONE = OPS.index("none")


@dataclass(frozen=True)
class GumbelSample:
    """One GDAS draw: straight-through weights (E, K), the chosen op per edge, and the soft probabilities."""

    hardwts: torch.Tensor
    index: tuple[int, ...]
    probs: torch.Tensor
    #: Every chosen weight is exactly 1.0 and every other exactly 0 in value (``1 - p + p`` and ``0 - p + p`` round
    #: so in practice): the forward may skip multiplying by them (`supernet.cell.Cell.forward_gdas`).
    unit: bool = False

    @property
    def arch(self) -> Arch:
        """The architecture this draw executes."""
        return Arch(self.index)


def gumbel_hard(alpha: torch.Tensor, tau: float, generator: torch.Generator | None = None,
                max_tries: int = 1000) -> GumbelSample:
    """softmax((log_softmax(alpha) + g) / tau) with g ~ Gumbel(0, 1), made one-hot by straight-through.

    The forward value of ``hardwts`` is the one-hot of the argmax; its gradient is that of the soft probabilities.
    The noise comes from ``generator`` (torch's global one when None), drawn on the generator's device.
    A draw with an infinite Gumbel noise or non-finite probabilities is re-drawn (as the original does); if
    ``max_tries`` draws all fail, alpha itself is not finite and a RuntimeError says so.
    """
    if not tau > 0:
        raise ValueError(f"the Gumbel-softmax temperature tau must be > 0, got {tau!r}")
    for _ in range(max_tries):
        gumbels = _exponential(alpha, generator).log().neg()
        logits = (alpha.log_softmax(dim=-1) + gumbels) / tau
        probs = logits.softmax(dim=-1)
        index = probs.argmax(dim=-1, keepdim=True)
        one_hot = torch.zeros_like(probs).scatter_(-1, index, 1.0)
        hardwts = one_hot - probs.detach() + probs
        # one read of the device per draw: the chosen ops (the forward needs them), whether the draw is usable and
        # whether its weights are exactly one-hot in value
        bad = torch.isinf(gumbels).any() | ~torch.isfinite(probs).all()
        unit = (hardwts.detach() == one_hot).all()
        *chosen, redraw, exact = torch.cat([index.view(-1), bad.view(1).long(), unit.view(1).long()]).tolist()
        if redraw:
            continue
        return GumbelSample(hardwts, tuple(int(i) for i in chosen), probs, bool(exact))
    raise RuntimeError(f"{max_tries} Gumbel draws in a row gave non-finite probabilities; "
                       f"alpha is probably not finite: {alpha.detach().cpu().tolist()}")


def _exponential(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Exp(1) noise shaped like ``like`` on its device, drawn from ``generator`` on the generator's own device (a CPU
    generator makes a GPU run draw the same noise as a CPU run)."""
    if generator is None or generator.device == like.device:
        return torch.empty_like(like).exponential_(generator=generator)
    draw = torch.empty(like.shape, dtype=like.dtype, device=generator.device).exponential_(generator=generator)
    return draw.to(like.device)


def urs_arch(rng: np.random.Generator) -> Arch:
    """One cell's NATS "urs" sample: each node's incoming ops are re-drawn until one of them is not ``none``."""
    ops = [0] * sum(len(inc) for inc in INCOMING)
    for incoming in INCOMING:
        while True:
            draw = [int(o) for o in rng.integers(NUM_OPS, size=len(incoming))]
            if any(o != NONE for o in draw):
                break
        for (e, _src), o in zip(incoming, draw, strict=True):
            ops[e] = o
    return Arch(tuple(ops))
