"""ENAS: efficient NAS via parameter sharing (Pham et al., ICML 2018; NB201's ENAS script, NATS' search-cell).

Algorithm (PROTOCOLS.md section 2, ENAS; NATS-Bench version), with the cosine weight LR of each epoch (NB201: 0.05
-> 5e-4 with T_max 10 over 250 epochs, never reset, so it oscillates with a period of 20 epochs):

    for each epoch:
        # 1. the shared CNN
        for each weight batch (NB201: the train split alone, batch 128; NATS: the search loader's pairs, batch 64):
            a ~ controller (no gradient)
            w <- SGD step on CE(supernet_path_a(batch))       (grad norm clipped to 5 in NB201, none in NATS)
            NATS only: a no-gradient forward of a on the paired valid batch (logged; moves tracked BN stats)
        # 2. the controller, REINFORCE: 50 steps x 20 aggregated samples, one reward batch each
        for each of the 50 x 20 samples, with the next batch of the reward stream:
            a, log p(a), H(a) ~ controller
            acc     = top-1 of supernet_path_a on the batch (a fraction);  reward = acc + 1e-4 * H(a)
            b       = B - (1 - 0.99) * (B - reward)            (B: the baseline carried in, frozen all epoch;
                                                                first epoch: b = acc, the advantage is 1e-4 * H(a))
            loss   += -log p(a) * (reward - b) / 20
            every 20 samples: clip the controller's grad norm to 5, Adam step, zero the grads
        B = the last sample's b (NB201) or the mean of the epoch's b (NATS)
        cell[epoch] = the best of ``epoch_candidates`` controller samples (NB201 10, NATS 100), one batch each
    result = the best of ``candidates`` (100, ``--controller_num_samples``) controller samples, one batch each

The reward stream is the architecture split: NB201 with the training transform at batch 128 (the script swaps the
transform into its valid loader), NATS the valid loader as is (test transform, batch 512). Selections read a fresh
stream of the same loader. Controller: `supernet.controller.Controller` (2-layer LSTM of 32, tanh constant 2.5,
temperature 5); its Adam uses the config's ``arch_*`` fields (NB201: lr 1e-3, betas (0, 0.999), eps 1e-3; NATS:
lr 1e-3, betas (0.5, 0.999), eps 1e-3, weight decay 0).

Baseline (``baseline_update``), each era's script: bb2f405's ``ENAS.py`` hands the baseline to ``train_controller``
inside a read-only namedtuple (``dict2config``), so within an epoch every sample's baseline is one EMA step from the
epoch-start value (in the first epoch, ``baseline is None``, it is the sample's own accuracy), and the next epoch
starts from the last sample's baseline (``'nb201-script'``, the nb201 preset). NATS' ``search-cell.py`` does the same
within an epoch and carries the epoch's mean baseline (``'nats-script'``, the nats preset). ``'sample'`` is the
textbook reading, an EMA updated with every sample and started at the first reward, which neither script ran.

The per-epoch ``valid_acc`` of the trace is the chosen cell on the shared valid loader (test transform); NB201's
script evaluates it with the training transform swapped in, a logged number only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from algos.oneshot import Batch, OneShotRun, OneShotSearcher
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from algos.sampled import Selection, best_candidate, observe
from search_space import Arch
from supernet.controller import Controller

BaselineUpdate = Literal["sample", "nb201-script", "nats-script"]


@dataclass(frozen=True)
class EnasConfig(OneShotConfig):
    # --- controller --------------------------------------------------------------------------------------------
    lstm_size: int = 32
    lstm_layers: int = 2
    tanh_constant: float = 2.5
    temperature: float = 5.0
    #: Uniform init range of the start vector, first LSTM layer, embedding and output weight.
    controller_init_range: float = 0.1
    # --- controller training (REINFORCE) -----------------------------------------------------------------------
    #: Controller updates per epoch (``--controller_train_steps``).
    controller_steps: int = 50
    #: Samples whose gradients are averaged into one update (``--controller_num_aggregate``).
    controller_aggregate: int = 20
    entropy_weight: float = 1e-4
    baseline_decay: float = 0.99
    #: 'nb201-script' (frozen per epoch, the last sample's carried), 'nats-script' (the epoch's mean carried) or
    #: 'sample' (an EMA over every sample; neither script's).
    baseline_update: BaselineUpdate = "nb201-script"
    controller_grad_clip: float = 5.0
    # --- data and selection ------------------------------------------------------------------------------------
    #: Shared-CNN batches: 'train' (the weight split alone, NB201) or 'search' (the search loader's pairs, NATS).
    weight_data: Literal["train", "search"] = "train"
    #: Reward/selection batches: 'controller' (architecture split, training transform, ``batch_size``; NB201) or
    #: 'valid' (architecture split, test transform, ``test_batch_size``; NATS).
    reward_data: Literal["controller", "valid"] = "controller"
    #: Controller samples scored for the per-epoch cell (NB201 10; NATS ``eval_candidate_num`` 100).
    epoch_candidates: int = 10
    #: NATS' no-gradient forward of the sampled cell on each paired architecture batch (needs weight_data='search').
    arch_batch_forward: bool = False

    #: What `algos.oneshot_protocol.smoke` shrinks besides the shared sizes.
    SMOKE_SIZES: ClassVar[dict[str, Any]] = {"controller_steps": 2, "controller_aggregate": 2, "epoch_candidates": 3}

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, valid in (("baseline_update", ("sample", "nb201-script", "nats-script")),
                            ("weight_data", ("train", "search")), ("reward_data", ("controller", "valid"))):
            if getattr(self, name) not in valid:
                raise ValueError(f"ENAS {name} {getattr(self, name)!r} is unknown; valid: {', '.join(valid)}")
        for name in ("lstm_size", "lstm_layers", "controller_steps", "controller_aggregate", "epoch_candidates",
                     "candidates"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"ENAS {name} must be a positive integer, got {v!r}")
        if not 0.0 <= self.baseline_decay <= 1.0:
            raise ValueError(f"ENAS baseline_decay must be in [0, 1], got {self.baseline_decay!r}")
        if self.arch_batch_forward and self.weight_data != "search":
            raise ValueError("ENAS arch_batch_forward needs weight_data='search' (only the search loader pairs a "
                             f"weight batch with an architecture batch); got weight_data={self.weight_data!r}")


class ReinforceBaseline:
    """The controller's moving-average baseline under one of the three ``baseline_update`` rules."""

    def __init__(self, rule: BaselineUpdate, decay: float, carried: float | None) -> None:
        self.rule, self.decay = rule, decay
        self.start = carried  # the value carried in from the previous epoch (None before the first sample)
        self.current = carried
        self.seen: list[float] = []

    def update(self, reward: torch.Tensor, accuracy: torch.Tensor) -> torch.Tensor:
        """This sample's baseline (a tensor, differentiable through the reward's entropy term, as the original)."""
        prev = self.current if self.rule == "sample" else self.start
        if prev is None:
            value = reward if self.rule == "sample" else accuracy
        else:
            value = prev - (1.0 - self.decay) * (prev - reward)
        self.current = float(value.detach())
        self.seen.append(self.current)
        return value

    def carry(self) -> float | None:
        """The baseline the next epoch starts from."""
        if self.rule == "nats-script" and self.seen:
            return float(np.mean(self.seen))
        return self.current


class Enas(OneShotSearcher):
    """A controller samples the paths that train the shared weights and learns from their one-batch accuracy."""

    name: ClassVar[str] = "enas"
    Config: ClassVar[type] = EnasConfig
    uses_alpha: ClassVar[bool] = False
    PRESETS: ClassVar[dict[str, EnasConfig]] = {
        "nb201": EnasConfig(**protocol_settings("enas", "nb201"), weight_data="train", reward_data="controller",
                            epoch_candidates=10, arch_batch_forward=False, baseline_update="nb201-script"),
        "nats": EnasConfig(**protocol_settings("enas", "nats"), weight_data="search", reward_data="valid",
                           epoch_candidates=100, arch_batch_forward=True, baseline_update="nats-script"),
    }

    config: EnasConfig

    # --- parts -----------------------------------------------------------------------------------------------
    def setup(self, run: OneShotRun) -> None:
        cfg = self.config
        init = torch.Generator().manual_seed(run.ctx.seed)  # its own stream: the supernet's init is untouched
        controller = Controller(cfg.lstm_size, cfg.lstm_layers, cfg.tanh_constant, cfg.temperature,
                                cfg.controller_init_range, generator=init).to(run.device)
        optimizer = torch.optim.Adam(controller.parameters(), lr=cfg.arch_lr, betas=cfg.arch_betas,
                                     eps=cfg.arch_eps, weight_decay=cfg.arch_weight_decay)
        run.add_module("controller", controller, optimizer)

    def controller(self, run: OneShotRun) -> Controller:
        return run.modules["controller"]  # type: ignore[return-value]

    def reward_batches(self, run: OneShotRun, epoch: int) -> Iterator[Any]:
        """An endless stream of reward/selection batches for ``epoch`` (restarting when the loader is exhausted)."""
        loader = run.data.controller if self.config.reward_data == "controller" else run.data.valid
        return loader.cycle(epoch)

    def sample(self, run: OneShotRun, n: int) -> list[Arch]:
        return self.controller(run).sample_archs(n, run.torch_generator)

    # --- one epoch -------------------------------------------------------------------------------------------
    def train_epoch(self, run: OneShotRun, epoch: int) -> None:
        cfg = self.config
        if cfg.weight_data == "train":
            total = run.steps_per_epoch(run.data.train)
            batches = ((b, None) for b in run.epoch_batches(run.data.train))
        else:
            total = run.steps_per_epoch()
            batches = run.search_batches()
        for i, (base, arch_batch) in enumerate(batches):
            self.shared_step(run, base, arch_batch)
            run.report_progress(epoch + 0.5 * (i + 1) / total)
        run.state["controller_stats"] = self.train_controller(run, epoch)

    def shared_step(self, run: OneShotRun, base: Batch, arch_batch: Batch | None = None) -> None:
        """One shared-CNN step: a controller sample (no gradient) trains its path on ``base``."""
        (path,) = self.sample(run, 1)
        run.weight_step(lambda x: run.logits(x, "path", path), *base)
        if self.config.arch_batch_forward and arch_batch is not None:
            observe(run, lambda x: run.logits(x, "path", path), arch_batch)

    def train_controller(self, run: OneShotRun, epoch: int, batches: Iterator[Any] | None = None
                         ) -> dict[str, float]:
        """REINFORCE on the reward stream (``batches``, default: `reward_batches`); returns the epoch's means."""
        cfg = self.config
        controller = self.controller(run)
        optimizer = run.optimizers["controller"]
        baseline = ReinforceBaseline(cfg.baseline_update, cfg.baseline_decay, run.state.get("baseline"))
        stream = self.reward_batches(run, epoch) if batches is None else batches
        total = cfg.controller_steps * cfg.controller_aggregate
        sums = dict.fromkeys(("ctl_loss", "ctl_acc", "ctl_reward", "ctl_baseline", "ctl_entropy"), 0.0)
        norms: list[float] = []
        run.network.eval()
        controller.train()
        optimizer.zero_grad(set_to_none=False)
        for i in range(total):
            x, y = run.batch_to_device(next(stream))
            drawn = controller(run.torch_generator)
            with torch.no_grad():
                logits = run.logits(x, "path", drawn.arch)
                accuracy = (logits.argmax(dim=-1) == y).float().mean()
            reward = accuracy + cfg.entropy_weight * drawn.entropy
            b = baseline.update(reward, accuracy)
            loss = -drawn.log_prob * (reward - b)
            (loss / cfg.controller_aggregate).backward()
            for key, value in (("ctl_loss", loss), ("ctl_acc", 100.0 * accuracy), ("ctl_reward", reward),
                               ("ctl_baseline", b), ("ctl_entropy", drawn.entropy)):
                sums[key] += float(value.detach())
            if (i + 1) % cfg.controller_aggregate == 0:
                norms.append(float(nn.utils.clip_grad_norm_(controller.parameters(), cfg.controller_grad_clip)))
                optimizer.step()
                optimizer.zero_grad(set_to_none=False)
                run.report_progress(epoch + 0.5 + 0.5 * (i + 1) / total)
        run.state["baseline"] = baseline.carry()
        return {**{k: v / total for k, v in sums.items()}, "ctl_grad_norm": float(np.mean(norms)),
                "ctl_next_baseline": run.state["baseline"]}

    # --- the cell --------------------------------------------------------------------------------------------
    def choose(self, run: OneShotRun, n: int, epoch: int, batches: Iterator[Any] | None = None) -> Selection:
        """The best of ``n`` controller samples, each on the next batch of ``batches`` (default: a fresh reward
        stream of ``epoch``)."""
        return best_candidate(run, self.sample(run, n), self.reward_batches(run, epoch) if batches is None else batches)

    def select(self, run: OneShotRun, epoch: int) -> tuple[Arch, dict[str, Any]]:
        chosen = self.choose(run, self.config.epoch_candidates, epoch)
        return chosen.arch, {**chosen.columns(), **run.state.get("controller_stats", {})}

    def finish(self, run: OneShotRun) -> tuple[Arch, dict[str, Any]]:
        final = self.choose(run, self.config.candidates, run.epoch)
        return final.arch, {**final.columns("final_select"), "controller_baseline": run.state.get("baseline"),
                            "last_epoch_arch": run.trace.rows[-1]["arch"] if run.trace.rows else None}


SEARCHER = Enas
