"""DARTS-V2: differentiable architecture search, second-order (Liu et al., ICLR 2019; NB201's DARTS-V2 script).

Algorithm (PROTOCOLS.md section 2, DARTS-V2), per epoch, with the cosine weight LR ``xi`` of the epoch:

    for each (train batch, valid batch) of the search loader:
        # the alpha step, through one unrolled (virtual) SGD step of the weights
        w'     = w - xi * (momentum * m + grad_w L_train(w, alpha) + weight_decay * w)   (m: SGD's momentum buffer)
        g_a    = grad_alpha L_valid(w', alpha);   v = grad_w' L_valid(w', alpha)
        R      = 0.01 / ||v||;   w+- = w +- R v
        hvp    = (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 R)
        alpha <- Adam step with gradient  g_a - xi * hvp
        # the weight step, as in DARTS-V1
        w     <- SGD step on CE(supernet_mixture(train batch))   (grad norm clipped to 5 in NB201, none in NATS)
    derived cell = argmax_op alpha[edge] per edge (``none`` included); the reported one is the last epoch's

Step order (``step_order``), each era's script: bb2f405's ``DARTS-V2.py`` takes the alpha step first, then the
weight step (``'alpha-first'``, the nb201 preset); NATS' ``search-cell.py`` takes the weight step first, then the
unrolled alpha step at the new weights and momentum (``'weights-first'``, the nats preset).

The virtual step is plain SGD with the buffer times momentum even though the real optimizer is Nesterov, as the
original does. The virtual and perturbed forwards run on copies of the weights (`torch.func.functional_call`), so
the real weights are bit-identical after the step; the virtual forward also runs on copies of the BN buffers
(the original runs it on a deep copy of the network), while the perturbed forwards update them like the original.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn
from torch.func import functional_call

from algos.oneshot import Batch, OneShotRun, OneShotSearcher, frozen
from algos.oneshot_protocol import OneShotConfig, protocol_settings
from search_space import Arch

#: loss(overrides) -> (scalar loss, logits): a model's loss on a fixed batch with some parameters/buffers replaced.
LossAt = Callable[[Mapping[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class DartsV2Config(OneShotConfig):
    #: Finite-difference scale: R = unroll_r / ||v||.
    unroll_r: float = 0.01
    #: 'alpha-first' (the unrolled alpha step, then the weight step: NB201's script) or 'weights-first' (NATS').
    step_order: Literal["alpha-first", "weights-first"] = "alpha-first"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.unroll_r, (int, float)) and self.unroll_r > 0):
            raise ValueError(f"DARTS-V2 unroll_r must be a number > 0, got {self.unroll_r!r}")
        if self.step_order not in ("alpha-first", "weights-first"):
            raise ValueError(f"DARTS-V2 step_order {self.step_order!r} is unknown; valid: alpha-first, weights-first")


def unrolled_alpha_grad(model: nn.Module, weights: Mapping[str, torch.Tensor], alphas: Sequence[torch.Tensor],
                        train_loss: LossAt, valid_loss: LossAt, lr: float, momentum: float, weight_decay: float,
                        momentum_buffers: Sequence[torch.Tensor | None], r: float = 0.01
                        ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """DARTS' approximate architecture gradient: grad of L_valid after one virtual SGD step, minus lr x a
    finite-difference Hessian-vector product. Returns (gradient per alpha tensor, L_valid and logits at the virtual
    weights).

    ``weights``: the model's weights by parameter name (``momentum_buffers`` in the same order).
    ``train_loss`` / ``valid_loss`` evaluate ``model`` on their batch with the given name -> tensor overrides
    (an empty mapping = the model's own parameters)."""
    weight_names, theta = list(weights), list(weights.values())
    # virtual step: w' = w - lr * (momentum * buffer + dL_train/dw + wd * w)
    with frozen(alphas):  # only the weights' gradient is read: record nothing for alpha's
        loss, _ = train_loss({})
    grads = torch.autograd.grad(loss, theta, materialize_grads=True)  # an unused weight has zero gradient
    with torch.no_grad():
        virtual = {}
        for n, w, g, buf in zip(weight_names, theta, grads, momentum_buffers, strict=True):
            step = g + weight_decay * w
            if buf is not None:
                step = step + momentum * buf
            virtual[n] = (w - lr * step).requires_grad_(True)
    # the virtual forward must not touch the real BN statistics (the original runs it on a copy of the network)
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    v_loss, v_logits = valid_loss({**virtual, **buffers})
    grads = torch.autograd.grad(v_loss, [*alphas, *virtual.values()], materialize_grads=True)
    d_alpha, v = list(grads[: len(alphas)]), list(grads[len(alphas):])
    # finite-difference Hessian-vector product (d^2 L_train / d alpha d w) v
    with torch.no_grad():
        R = r / torch.cat([t.reshape(-1) for t in v]).norm()
        plus = {n: w + R * d for n, w, d in zip(weight_names, theta, v, strict=True)}
        minus = {n: w - R * d for n, w, d in zip(weight_names, theta, v, strict=True)}
    g_plus = torch.autograd.grad(train_loss(plus)[0], alphas)
    g_minus = torch.autograd.grad(train_loss(minus)[0], alphas)
    out = [(da - lr * (gp - gm) / (2 * R)).detach() for da, gp, gm in zip(d_alpha, g_plus, g_minus, strict=True)]
    return out, v_loss.detach(), v_logits.detach()


def loss_on(model: nn.Module, criterion: nn.Module, x: torch.Tensor, y: torch.Tensor) -> LossAt:
    """The loss of ``model`` on (x, y) with parameter/buffer overrides (the model's own ones where not given)."""
    def loss(overrides: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = functional_call(model, dict(overrides), (x,)) if overrides else model(x)
        return criterion(logits, y), logits

    return loss


class DartsV2(OneShotSearcher):
    """Second-order DARTS: an alpha step through an unrolled weight step, and the weight step, in the era's order."""

    name: ClassVar[str] = "darts-v2"
    Config: ClassVar[type] = DartsV2Config
    PRESETS: ClassVar[dict[str, DartsV2Config]] = {
        "nb201": DartsV2Config(**protocol_settings("darts-v2", "nb201"), step_order="alpha-first"),
        "nats": DartsV2Config(**protocol_settings("darts-v2", "nats"), step_order="weights-first"),
    }

    config: DartsV2Config

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        if self.config.step_order == "alpha-first":
            self.alpha_step(run, base, arch)
            run.weight_step("mixture", *base)  # a mode name: the pass may be a CUDA graph
        else:
            run.weight_step("mixture", *base)
            self.alpha_step(run, base, arch)

    def alpha_step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        """One Adam step of alpha with the unrolled gradient (the train batch for the virtual step and the HVP),
        at the current weights, LR and momentum buffers."""
        net, opt = run.network, run.w_optimizer
        net.train()
        net.set_mode("mixture")
        group = opt.param_groups[0]
        buffers = [opt.state.get(p, {}).get("momentum_buffer") for p in run.named_weights.values()]
        (d_alpha,), v_loss, v_logits = unrolled_alpha_grad(
            net, run.named_weights, [net.alpha], loss_on(net, run.criterion, *base), loss_on(net, run.criterion, *arch),
            lr=group["lr"], momentum=group["momentum"], weight_decay=group["weight_decay"],
            momentum_buffers=buffers, r=self.config.unroll_r)
        # replaces whatever a weight step accumulated into alpha; in place, for a captured weight pass accumulates
        # into the gradient tensor alpha held when it was captured
        if net.alpha.grad is None:
            net.alpha.grad = d_alpha
        else:
            net.alpha.grad.copy_(d_alpha)
        run.a_optimizer.step()
        run.meter("arch").update(v_loss, v_logits, arch[1])

    def valid_logits(self, run: OneShotRun, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        return run.logits(x, "mixture")


SEARCHER = DartsV2
