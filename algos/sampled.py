"""What SETN, RANDOM-NAS and ENAS share: picking the best of K candidate cells, each scored on ONE batch.

All three derive their cell the same way (PROTOCOLS.md section 2): some candidate cells (SETN: the top K by
probability under softmax(alpha); RANDOM-NAS: K random cells; ENAS: K controller samples) each get the top-1
accuracy of the supernet path on the next batch of a loader that restarts when exhausted, and the first candidate
with the highest accuracy wins (``np.argmax``, as the scripts). `best_candidate` is that rule.

`observe` is the no-gradient forward NATS' script runs on the architecture batch for RANDOM-NAS and ENAS: nothing
is learned from it, but it fills the ``arch`` meter and, when BatchNorm tracks running statistics, moves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algos.oneshot import Batch, OneShotRun
from search_space import Arch


@dataclass(frozen=True)
class Selection:
    """The outcome of scoring candidates: the winner, its one-batch accuracy and where it was in the list."""

    arch: Arch
    #: Top-1 % of the winner on its one batch.
    acc: float
    #: Position of the winner among the candidates (0-based).
    position: int
    #: Top-1 % of every candidate, in candidate order.
    accs: tuple[float, ...]

    def columns(self, prefix: str = "select") -> dict[str, Any]:
        """Trace/info entries: ``{prefix}_acc``, ``{prefix}_position``, ``{prefix}_candidates``,
        ``{prefix}_mean_acc`` (mean one-batch accuracy of all candidates)."""
        return {f"{prefix}_acc": self.acc, f"{prefix}_position": self.position,
                f"{prefix}_candidates": len(self.accs), f"{prefix}_mean_acc": float(np.mean(self.accs))}


def best_candidate(run: OneShotRun, archs: Sequence[Arch], batches: Iterator[Sequence[torch.Tensor]] | None = None
                   ) -> Selection:
    """Score each candidate on the next batch of ``batches`` (default: ``run.data.valid.cycle(run.epoch)``, the
    scripts' valid loader) and keep the first best."""
    if not archs:
        raise ValueError("best_candidate needs at least one candidate architecture")
    accs = run.score_candidates(list(archs), batches)
    i = int(np.argmax(accs))
    return Selection(archs[i], float(accs[i]), i, tuple(float(a) for a in accs))


@torch.no_grad()
def observe(run: OneShotRun, logits_fn: Callable[[torch.Tensor], torch.Tensor], batch: Batch,
            meter: str = "arch") -> None:
    """A training-mode forward without gradients on ``batch``, recorded in ``meter`` (NATS' RANDOM-NAS / ENAS
    architecture-batch pass)."""
    run.network.train()
    x, y = batch
    logits = logits_fn(x)
    run.meter(meter).update(run.criterion(logits, y), logits, y)


__all__ = ["Selection", "best_candidate", "observe"]
