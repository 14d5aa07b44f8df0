"""The original implementation's search step, for side-by-side timing: xautodl's supernets driven as its scripts do.

``xautodl==1.0.0`` (the AutoDL-Projects package, requirements-nodeps.txt) ships the NAS-Bench-201 search models
(``get_cell_based_tiny_net``: TinyNetworkDarts, TinyNetworkGDAS, TinyNetworkSETN, TinyNetworkENAS,
TinyNetworkRANDOM). The per-step rules below drive them the way NB201's search scripts do (PROTOCOLS.md section 2),
written here from that description (no code of the scripts is copied), so that `runners.perf.weight_sharing` and
`runners.perf.device_check` can time the original's step beside ours on the same batches, threads and device:

- DARTS-V1 / GDAS: SGD step of the weights on the weight batch (grad norm clipped to 5), then an Adam step of the
  architecture parameters on the architecture batch; GDAS at tau = 10 (its first epoch).
- DARTS-V2: the architecture first, through the unrolled step the original takes (a deep copy of the network takes
  the virtual SGD step; the finite-difference Hessian-vector product perturbs the real weights in place by +-R v and
  puts them back), then the weight step as DARTS-V1.
- SETN: a uniformly random cell (``dync_genotype(True)``, 'dynamic' mode) trains the weights (no clip), then the
  'joint' mixture trains the architecture parameters.
- RANDOM-NAS: a uniformly random cell (``random_genotype(True)``) trains the weights (clip 5).
- ENAS: one shared-CNN step: a controller sample (no gradient) trains its path (clip 5); the controller's own
  training happens per epoch and is not part of the step.

Optimisers are built with the protocol's hyper-parameters and torch's defaults otherwise, as the original scripts
do when run on today's torch. Import this module only where xautodl is installed (`available` says whether it is).
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from algos.oneshot_protocol import OneShotConfig
from search_space import Arch

Batch = tuple[torch.Tensor, torch.Tensor]
#: One step of the original on (weight batch, architecture batch, the cell a path step trains or None: its own draw).
ReferenceStep = Callable[[Batch, Batch, "Arch | None"], None]
#: Our searcher names -> the xautodl model names of ``get_cell_based_tiny_net``.
XAUTODL_MODELS: dict[str, str] = {"darts-v1": "DARTS-V1", "darts-v2": "DARTS-V2", "gdas": "GDAS", "setn": "SETN",
                                  "enas": "ENAS", "random-nas": "RANDOM"}


def available() -> bool:
    """Whether xautodl can be imported here (it is a test/benchmark dependency, not a runtime one)."""
    return importlib.util.find_spec("xautodl") is not None


def build_model(name: str, cfg: OneShotConfig, num_classes: int, device: torch.device) -> nn.Module:
    """xautodl's supernet of searcher ``name`` at ``cfg``'s size and BN flags, on ``device``."""
    if name not in XAUTODL_MODELS:
        raise ValueError(f"xautodl has no supernet for {name!r}; valid: {', '.join(XAUTODL_MODELS)}")
    from xautodl.models import get_cell_based_tiny_net
    from xautodl.models.cell_operations import NAS_BENCH_201

    net = get_cell_based_tiny_net({"name": XAUTODL_MODELS[name], "C": cfg.channels, "N": cfg.cells,
                                   "max_nodes": cfg.max_nodes, "num_classes": num_classes,
                                   "space": list(NAS_BENCH_201), "affine": cfg.affine,
                                   "track_running_stats": cfg.track_running_stats})
    return net.to(device)


def _weights(net: nn.Module) -> list[nn.Parameter]:
    """The weights (the architecture parameters, where the model has them, excluded)."""
    return net.get_weights() if hasattr(net, "get_weights") else list(net.parameters())


def structure(arch: Arch) -> Any:
    """Our cell as xautodl's genotype (both use the official string)."""
    from xautodl.models.cell_searchs import CellStructure

    return CellStructure.str2structure(str(arch))


def reference_step(name: str, cfg: OneShotConfig, num_classes: int, device: torch.device,
                   alpha: torch.Tensor | None = None) -> ReferenceStep:
    """The original's search step of ``name`` on a fresh xautodl supernet (see the module docstring).

    ``alpha``: start from these architecture parameters (ours), so that a GDAS step drawing from the same random
    state samples the same cells as ours. A path step given a ``cell`` trains that cell instead of its own draw (the
    same cells on both sides: a path's cost depends on its ops)."""
    net = build_model(name, cfg, num_classes, device)
    if alpha is not None and hasattr(net, "arch_parameters"):
        with torch.no_grad():
            net.arch_parameters.copy_(alpha)
    criterion = nn.CrossEntropyLoss()
    weights = _weights(net)
    w_opt = torch.optim.SGD(weights, lr=cfg.lr_at(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                            nesterov=cfg.nesterov)
    a_opt = (torch.optim.Adam(net.get_alphas(), lr=cfg.arch_lr, betas=cfg.arch_betas, eps=cfg.arch_eps,
                              weight_decay=cfg.arch_weight_decay) if hasattr(net, "get_alphas") else None)

    def weight_step(x: torch.Tensor, y: torch.Tensor) -> None:
        net.train()
        w_opt.zero_grad()
        _, logits = net(x)
        criterion(logits, y).backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(weights, cfg.grad_clip)
        w_opt.step()

    def arch_step(x: torch.Tensor, y: torch.Tensor) -> None:
        net.train()
        a_opt.zero_grad()
        _, logits = net(x)
        criterion(logits, y).backward()
        a_opt.step()

    if name in ("darts-v1", "gdas"):
        if name == "gdas":
            net.set_tau(10.0)

        def step(base: Batch, arch: Batch, cell: Arch | None = None) -> None:
            weight_step(*base)
            arch_step(*arch)
    elif name == "darts-v2":
        def step(base: Batch, arch: Batch, cell: Arch | None = None) -> None:
            _unrolled_arch_step(net, weights, w_opt, a_opt, criterion, base, arch, cfg.unroll_r)
            weight_step(*base)
    elif name == "setn":
        def step(base: Batch, arch: Batch, cell: Arch | None = None) -> None:
            net.set_cal_mode("dynamic", net.dync_genotype(True) if cell is None else structure(cell))
            weight_step(*base)
            net.set_cal_mode("joint")
            arch_step(*arch)
    elif name == "random-nas":
        def step(base: Batch, arch: Batch, cell: Arch | None = None) -> None:
            if cell is None:
                net.random_genotype(True)
            else:
                net.arch_cache = structure(cell)
            weight_step(*base)
    else:  # enas: one shared-CNN step
        controller = net.create_controller().to(device)

        def step(base: Batch, arch: Batch, cell: Arch | None = None) -> None:
            controller.eval()
            with torch.no_grad():
                _, _, sampled = controller()
            net.update_arch(sampled if cell is None else structure(cell))
            weight_step(*base)
    return step


def unrolled_alpha_grad(net: nn.Module, weights: list[nn.Parameter], alphas: list[nn.Parameter],
                        w_opt: torch.optim.Optimizer, criterion: nn.Module, base: Batch, arch: Batch, r: float = 0.01
                        ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """DARTS-V2's alpha gradient as the original computes it (PROTOCOLS.md section 2, ``backward_step_unrolled``): a
    virtual SGD step of ``weights`` (gradient, weight decay, momentum buffer x momentum, at ``w_opt``'s first group's
    rate) loaded into a deep copy of ``net``, the architecture loss's gradients there, then the central difference of
    the weight loss's alpha gradient with the real weights moved in place by +-R v (R = r / ||v||) and put back.
    Returns (each alpha's gradient, its first-order part); nothing of ``net`` or the optimizers is changed."""
    group = w_opt.param_groups[0]
    lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
    _, logits = net(base[0])
    grads = torch.autograd.grad(criterion(logits, base[1]), weights, allow_unused=True)
    names = {id(p): n for n, p in net.named_parameters()}
    unrolled: Any = copy.deepcopy(net)
    twins = [unrolled.get_parameter(names[id(p)]) for p in weights]
    with torch.no_grad():
        for p, q, g in zip(weights, twins, grads, strict=True):
            buf = w_opt.state.get(p, {}).get("momentum_buffer")
            step = (torch.zeros_like(p) if g is None else g) + wd * p
            if buf is not None:
                step = step + momentum * buf
            q.copy_(p - lr * step)
    unrolled.zero_grad()
    _, logits = unrolled(arch[0])
    criterion(logits, arch[1]).backward()
    d_alpha = [unrolled.get_parameter(names[id(a)]).grad.detach().clone() for a in alphas]
    vector = [torch.zeros_like(q) if q.grad is None else q.grad.detach() for q in twins]
    radius = r / torch.cat([v.reshape(-1) for v in vector]).norm()

    def alpha_grads() -> list[torch.Tensor]:
        _, out = net(base[0])
        return list(torch.autograd.grad(criterion(out, base[1]), alphas))

    with torch.no_grad():
        for p, v in zip(weights, vector, strict=True):
            p.add_(v, alpha=float(radius))
    g_plus = alpha_grads()
    with torch.no_grad():
        for p, v in zip(weights, vector, strict=True):
            p.sub_(v, alpha=2 * float(radius))
    g_minus = alpha_grads()
    with torch.no_grad():
        for p, v in zip(weights, vector, strict=True):
            p.add_(v, alpha=float(radius))
    total = [da - lr * (gp - gm) / (2 * radius) for da, gp, gm in zip(d_alpha, g_plus, g_minus, strict=True)]
    return total, d_alpha


def _unrolled_arch_step(net: nn.Module, weights: list[nn.Parameter], w_opt: torch.optim.Optimizer,
                        a_opt: torch.optim.Optimizer, criterion: nn.Module, base: Batch, arch: Batch, r: float
                        ) -> None:
    """DARTS-V2's architecture update as the original takes it: `unrolled_alpha_grad`, then Adam's step."""
    net.train()
    alphas = net.get_alphas()
    total, _ = unrolled_alpha_grad(net, weights, alphas, w_opt, criterion, base, arch, r)
    a_opt.zero_grad()
    for a, g in zip(alphas, total, strict=True):
        a.grad = g
    a_opt.step()


__all__ = ["XAUTODL_MODELS", "ReferenceStep", "available", "build_model", "reference_step", "structure",
           "unrolled_alpha_grad"]
