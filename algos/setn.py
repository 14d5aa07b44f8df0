"""SETN: one-shot NAS with a self-evaluated template network (Dong & Yang, ICCV 2019; NB201's SETN script).

Algorithm (PROTOCOLS.md section 2, SETN), with the cosine weight LR of each epoch:

    select()                                                  (NB201 only: once before training, logged)
    for each epoch:
        for each (train batch, valid batch) of the search loader:
            a     ~ uniform cell (each edge's op uniform and independent)
            w     <- SGD step on CE(supernet_path_a(train batch))          (no weight grad clip in NB201 / NATS)
            alpha <- Adam step on CE(supernet_joint(valid batch))          (softmax(alpha)-weighted sum of all ops)
        cell[epoch] = select()
    result = select()                                         (once more after the last epoch)

    select(): rank all 15,625 cells by log p(cell) = sum_edges log softmax(alpha)[edge, op] and take the top
              ``candidates`` (100, ``--select_num``); score each on ONE valid batch (512, test transform; the loader
              restarts when exhausted); keep the first with the highest top-1.

Ties in log-probability keep the enumeration order (first edge slowest), as the original's stable sort does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch

from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from algos.sampled import Selection, best_candidate
from search_space import NUM_ARCHS, NUM_EDGES, Arch, code_to_index, ops_matrix


@dataclass(frozen=True)
class SetnConfig(OneShotConfig):
    #: Also run the selection once before training (NB201's script does and logs it; NATS' does not).
    select_at_start: bool = True


@lru_cache(maxsize=1)
def _ops_in_enumeration_order() -> np.ndarray:
    """(15625, 6) op ids, row c = the cell with base-5 code c (the original's enumeration order)."""
    ops = np.asarray(ops_matrix()[code_to_index()], dtype=np.int64)
    ops.setflags(write=False)
    return ops


def log_probs(alpha: torch.Tensor) -> np.ndarray:
    """float32 log-probability of every cell under softmax(alpha), rows in enumeration (base-5 code) order, summed
    edge by edge in float32 as the original does."""
    logp = torch.log_softmax(alpha.detach().float(), dim=-1).cpu().numpy()
    ops = _ops_in_enumeration_order()
    total = np.zeros(len(ops), dtype=np.float32)
    for e in range(NUM_EDGES):
        total = total + logp[e, ops[:, e]]
    return total


def top_k_by_log_prob(alpha: torch.Tensor, k: int) -> list[Arch]:
    """The ``k`` most probable cells under softmax(alpha), most probable first (all cells when k >= 15,625)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"the number of SETN candidates must be a positive integer, got {k!r}")
    order = np.argsort(-log_probs(alpha), kind="stable")[:min(k, NUM_ARCHS)]
    return [Arch.from_code(int(c)) for c in order]


class Setn(OneShotSearcher):
    """Uniformly sampled paths train the weights, a softmax mixture trains alpha, top-K by alpha are evaluated."""

    name: ClassVar[str] = "setn"
    Config: ClassVar[type] = SetnConfig
    PRESETS: ClassVar[dict[str, SetnConfig]] = {
        "nb201": SetnConfig(**protocol_settings("setn", "nb201"), select_at_start=True),
        "nats": SetnConfig(**protocol_settings("setn", "nats"), select_at_start=False),
    }

    config: SetnConfig

    def candidates(self, run: OneShotRun) -> list[Arch]:
        return top_k_by_log_prob(run.alpha(), self.config.candidates)

    def choose(self, run: OneShotRun) -> Selection:
        """The selection: top-K by probability, each on one valid batch of this epoch's stream, best wins."""
        return best_candidate(run, self.candidates(run))

    def train_epoch(self, run: OneShotRun, epoch: int) -> None:
        if epoch == 0 and self.config.select_at_start:
            first = self.choose(run)
            run.state["initial"] = {"initial_arch": str(first.arch), **first.columns("initial_select")}
        super().train_epoch(run, epoch)

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        path = Arch.sample(run.ctx.rng)
        run.weight_step(lambda x: run.logits(x, "path", path), *base)
        run.arch_step("joint", *arch)

    def select(self, run: OneShotRun, epoch: int) -> tuple[Arch, dict[str, Any]]:
        chosen = self.choose(run)
        return chosen.arch, chosen.columns()

    def finish(self, run: OneShotRun) -> tuple[Arch, dict[str, Any]]:
        final = self.choose(run)
        return final.arch, {**run.state.get("initial", {}), **final.columns("final_select"),
                            "last_epoch_arch": run.trace.rows[-1]["arch"] if run.trace.rows else None}


SEARCHER = Setn
