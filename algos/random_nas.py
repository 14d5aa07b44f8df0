"""RANDOM-NAS (RSPS): random search with parameter sharing (Li & Talwalkar, UAI 2019; NB201's RANDOM-NAS script).

Algorithm (PROTOCOLS.md section 2, RSPS; NATS-Bench version), with the cosine weight LR of each epoch:

    for each epoch:
        for each (train batch, valid batch) of the search loader:
            NB201 ('shared'): a ~ uniform cell, the same for all 3N cells
            NATS  ('urs'):    each of the 3N cells draws its own uniform ops, re-drawing a node's incoming ops
                              while they would all be ``none``
            w <- SGD step on CE(supernet_path(train batch))           (grad norm clipped to 5 in NB201, none in NATS)
            NATS only: a no-gradient forward of a fresh 'urs' draw on the valid batch (logged; moves tracked BN stats)
        cell[epoch] = select()
    result = select()                                                  (once more after the last epoch)

    select(): draw ``candidates`` (100, ``--select_num``) random cells -- independently in NB201 (repeats possible),
              100 distinct cells in NATS (``random.sample``) -- score each on ONE valid batch (512, test transform;
              the loader restarts when exhausted) and keep the first with the highest top-1.

There are no architecture parameters. The per-epoch ``valid_acc`` in the trace is the chosen cell's; the original
scripts evaluate the last candidate drawn (NB201) or fresh 'urs' draws (NATS) there, a logged number only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from algos.sampled import Selection, best_candidate, observe
from search_space import NUM_ARCHS, Arch
from supernet.sampling import urs_arch


@dataclass(frozen=True)
class RandomNasConfig(OneShotConfig):
    #: How the weight step samples: 'shared' (one uniform cell for every cell, NB201) or 'urs' (each cell its own,
    #: no node fed only by ``none``, NATS).
    weight_sampling: Literal["shared", "urs"] = "shared"
    #: Selection candidates are distinct cells (NATS' ``random.sample``) or independent draws (NB201).
    distinct_candidates: bool = False
    #: Run NATS' no-gradient forward on each architecture batch (logged as arch_loss / arch_acc).
    arch_batch_forward: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weight_sampling not in ("shared", "urs"):
            raise ValueError(f"RANDOM-NAS weight_sampling {self.weight_sampling!r} is unknown; valid: shared, urs")


def random_candidates(rng: np.random.Generator, k: int, distinct: bool) -> list[Arch]:
    """``k`` uniformly random cells: distinct ones (``k`` at most 15,625), or independent draws."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"the number of RANDOM-NAS candidates must be a positive integer, got {k!r}")
    if distinct:
        if k > NUM_ARCHS:
            raise ValueError(f"cannot draw {k} distinct cells: the space has {NUM_ARCHS}")
        return [Arch.from_index(int(i)) for i in rng.choice(NUM_ARCHS, size=k, replace=False)]
    return [Arch.sample(rng) for _ in range(k)]


class RandomNas(OneShotSearcher):
    """Uniformly random paths train the weights; the best of K random cells on one batch each is the result."""

    name: ClassVar[str] = "random-nas"
    Config: ClassVar[type] = RandomNasConfig
    uses_alpha: ClassVar[bool] = False
    PRESETS: ClassVar[dict[str, RandomNasConfig]] = {
        "nb201": RandomNasConfig(**protocol_settings("random-nas", "nb201"), weight_sampling="shared",
                                 distinct_candidates=False, arch_batch_forward=False),
        "nats": RandomNasConfig(**protocol_settings("random-nas", "nats"), weight_sampling="urs",
                                distinct_candidates=True, arch_batch_forward=True),
    }

    config: RandomNasConfig

    def sample_path(self, run: OneShotRun) -> Arch | list[Arch]:
        """The weight step's path: one cell for all, or one 'urs' cell per search cell."""
        if self.config.weight_sampling == "urs":
            return [urs_arch(run.ctx.rng) for _ in range(run.network.num_cells)]
        return Arch.sample(run.ctx.rng)

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        path = self.sample_path(run)
        run.weight_step(lambda x: run.logits(x, "path", path), *base)
        if self.config.arch_batch_forward:
            other = self.sample_path(run)
            observe(run, lambda x: run.logits(x, "path", other), arch)

    def choose(self, run: OneShotRun) -> Selection:
        cfg = self.config
        return best_candidate(run, random_candidates(run.ctx.rng, cfg.candidates, cfg.distinct_candidates))

    def select(self, run: OneShotRun, epoch: int) -> tuple[Arch, dict[str, Any]]:
        chosen = self.choose(run)
        return chosen.arch, chosen.columns()

    def finish(self, run: OneShotRun) -> tuple[Arch, dict[str, Any]]:
        final = self.choose(run)
        return final.arch, {**final.columns("final_select"),
                            "last_epoch_arch": run.trace.rows[-1]["arch"] if run.trace.rows else None}


SEARCHER = RandomNas
