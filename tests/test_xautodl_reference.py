"""Checks against the original implementation: xautodl 1.0.0 (AutoDL-Projects, the NATS-era package), side by side.

Each test puts the same weights and inputs into our module and xautodl's, on CPU in float64, and compares what
comes out. xautodl is NATS-era; where the ICLR-era code (bb2f405) differs, the ``nb201`` reference is built from
xautodl's modules with the ICLR choice applied, and the test says so:

- conv bias: bb2f405's cell convs never have one, xautodl's have one when the BN is not affine, so the ``nb201``
  reference is xautodl's per-algorithm supernet with the cell convs' biases removed; the ``nats`` reference is
  xautodl's generic supernet as it is (its head BN also follows the flags);
- DARTS-V2's step order: the scripts live outside the package, so the reference step is the scripts' procedure
  (unrolled copy of the network, in-place weight perturbation for the Hessian-vector product) run on xautodl's
  supernet: alpha first for ``nb201`` (bb2f405 ``DARTS-V2.py``), weights first for ``nats`` (``search-cell.py``).

Checked: the supernet's parameters and buffers name for name (full size), the cell's forward in every mode and its
gradients (mixture, joint, path, per-cell paths, GDAS' hard Gumbel draw), the stand-alone network (``infer.tiny``),
DARTS-V2's unrolled alpha gradient and the weights, alpha and BN statistics after whole steps, the ENAS controller's
log-probabilities, entropies and draws, and SETN's top-100 selection.
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from xautodl.models.cell_infers.tiny_network import TinyNetwork
from xautodl.models.cell_operations import SearchSpaceNames
from xautodl.models.cell_searchs import (
    GenericNAS201Model,
    TinyNetworkDarts,
    TinyNetworkENAS,
    TinyNetworkGDAS,
    TinyNetworkSETN,
)
from xautodl.models.cell_searchs import generic_model as xgeneric
from xautodl.models.cell_searchs import search_model_enas_utils as xenas
from xautodl.models.cell_searchs.genotypes import Structure

from algos import SearchContext, get_searcher
from algos.oneshot import supernet_config
from algos.setn import top_k_by_log_prob
from runners.perf.xautodl_steps import structure, unrolled_alpha_grad
from search_space import EDGES, NUM_EDGES, NUM_OPS, OPS, Arch
from supernet import Cell, Supernet, build_network, count_parameters, urs_arch
from supernet.controller import Controller

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPACE = SearchSpaceNames["nas-bench-201"]
ERAS = ("nb201", "nats")
RESNET = Arch.from_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
ARCHS = (RESNET, Arch((4, 2, 0, 1, 3, 2)), Arch((2, 4, 3, 4, 1, 0)))
_EDGE_OP = re.compile(r"edges\.(\d)<-(\d)\.(\d)\.")
_LAYER = re.compile(r"layers\.(\d)\.")


# --- building the two sides ---------------------------------------------------------------------------------------
def our_key(key: str, arch: Arch | None = None) -> str:
    """xautodl's parameter/buffer name -> ours (``edges.2<-1.3.op.1.weight`` -> ``edges.2.nor_conv_3x3.1.weight``)."""
    key = re.sub(r"^_(stem|cells)\.", r"\1.", key)
    key = _EDGE_OP.sub(lambda m: f"edges.{EDGES.index((int(m[1]), int(m[2])))}.{OPS[int(m[3])]}.", key)
    if arch is not None:  # an infer.tiny cell lists its 6 layers in edge order
        key = _LAYER.sub(lambda m: f"edges.{m[1]}.{OPS[arch.ops[int(m[1])]]}.", key)
    key = key.replace(".op.", ".")  # xautodl's ReLUConvBN wraps its Sequential in `.op`
    return "alpha" if key == "arch_parameters" else key


def strip_cell_conv_bias(model: nn.Module) -> nn.Module:
    """The ICLR-era choice (bb2f405 cell_operations.py): cell convs without bias, whatever the BN."""
    for cell in model.cells:
        if not hasattr(cell, "edges"):  # the stage-transition blocks have affine BNs: no bias in either era
            continue
        for m in cell.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.register_parameter("bias", None)
    return model


def reference_supernet(era: str, kind: type = TinyNetworkDarts, C: int = 4, N: int = 1, classes: int = 5,
                       algo: str = "darts-v1") -> nn.Module:
    """xautodl's supernet of the era: NB201's per-algorithm net (affine=False, BN=1) without the cell conv biases, or
    NATS' generic net (affine=0, track_running_stats=0) as it is."""
    if era == "nb201":
        return strip_cell_conv_bias(kind(C, N, 4, classes, SPACE, False, True))
    model = GenericNAS201Model(C, N, 4, classes, SPACE, False, False)
    model.set_algo(algo)
    return model


def our_supernet(era: str, C: int = 4, N: int = 1, classes: int = 5, algo: str = "darts-v1") -> Supernet:
    """Ours, built from the searcher's own preset of the era (sizes shrunk)."""
    cfg = dataclasses.replace(get_searcher(algo).PRESETS[era], channels=C, cells=N)
    return Supernet(supernet_config(cfg, classes))


def randomise(model: nn.Module, seed: int) -> None:
    """Non-trivial weights, alpha, BN affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_((0.5 if "arch" in name else 0.3) * torch.randn(p.shape, generator=g, dtype=p.dtype))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and m.track_running_stats:
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g, dtype=torch.float64))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=g, dtype=torch.float64))


def twins(era: str, kind: type = TinyNetworkDarts, seed: int = 0, **kw) -> tuple[nn.Module, Supernet]:
    """(xautodl's supernet, ours) in float64 holding the same weights, alpha and BN state; loading with strict=True
    checks that both have the same parameters and buffers, name for name."""
    torch.manual_seed(seed)
    ref = reference_supernet(era, kind, **kw).double()
    randomise(ref, seed)
    ours = our_supernet(era, **kw).double()
    state = {our_key(k): v.clone() for k, v in ref.state_dict().items()}
    state.setdefault("alpha", ours.alpha.detach())  # ENAS' supernet has no alpha; ours always has one
    ours.load_state_dict(state, strict=True)
    return ref, ours


def batch(seed: int, n: int = 6, side: int = 8, classes: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, side, side, generator=g, dtype=torch.float64),
            torch.randint(0, classes, (n,), generator=g))


def compare_grads(ref: nn.Module, ours: nn.Module, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Every parameter's gradient, name for name. A parameter xautodl leaves without gradient has none here either;
    one it gives an all-zero gradient may have none here: an op feeding a node that only ``none`` edges read (xautodl
    multiplies that node by 0, we skip ``none``): the same zero."""
    mine = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        q = mine[our_key(name)]
        if p.grad is None:
            assert q.grad is None, name
        elif q.grad is None:
            assert not p.grad.any(), name
        else:
            torch.testing.assert_close(q.grad, p.grad, rtol=rtol, atol=atol, msg=name)


def compare_state(ref: nn.Module, ours: nn.Module, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Every parameter and buffer (BN running statistics included), name for name."""
    mine = ours.state_dict()
    for name, v in ref.state_dict().items():
        torch.testing.assert_close(mine[our_key(name)], v, rtol=rtol, atol=atol, msg=name)


# --- structure ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("era", ERAS)
def test_full_size_supernet_has_xautodls_parameters_and_buffers(era):
    ref = reference_supernet(era, C=16, N=5, classes=10)
    ours = our_supernet(era, C=16, N=5, classes=10)
    want = {our_key(k): tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == want
    biases = [k for k in want if ".edges." in k and k.endswith(".1.bias")]
    assert bool(biases) == (era == "nats")  # nats: a bias on every cell conv (affine=0); nb201: none
    if era == "nats":  # and xautodl's generic net has it unmodified
        assert len(biases) == 3 * 5 * NUM_EDGES * 2  # 15 cells x 6 edges x {1x1, 3x3}


@pytest.mark.parametrize("arch", [*ARCHS, Arch((0,) * 6), Arch((3,) * 6)])
def test_standalone_network_is_xautodls_infer_tiny(arch):
    """The benchmark's trained network (infer.tiny, every BN affine: no conv bias in either era), full size."""
    torch.manual_seed(0)
    ref = TinyNetwork(16, 5, structure(arch), 10).double()
    randomise(ref, 1)
    ours = build_network(arch, 10).double()
    ours.load_state_dict({our_key(k, arch): v for k, v in ref.state_dict().items()}, strict=True)
    assert count_parameters(ours) == sum(p.numel() for p in ref.parameters())
    x, _ = batch(2, n=2, side=32, classes=10)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x), ref(x)[1], rtol=1e-9, atol=1e-10)


# --- the cell's forward modes and gradients -----------------------------------------------------------------------
def _forward_both(ref: nn.Module, ours: Supernet, mode: str, x: torch.Tensor, y: torch.Tensor, train: bool,
                  run_ref, **kw) -> None:
    ref.train(train), ours.train(train)
    ours.set_mode(mode, **kw)
    ref.zero_grad(), ours.zero_grad()
    want, got = run_ref(x), ours(x)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)
    nn.functional.cross_entropy(want, y).backward()
    nn.functional.cross_entropy(got, y).backward()
    compare_grads(ref, ours)
    compare_state(ref, ours)  # BN running statistics moved alike (train mode) or not at all (eval mode)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("era", ERAS)
def test_mixture_matches_darts_supernet(era, train):
    """DARTS' softmax(alpha)-weighted sum of all ops (xautodl: TinyNetworkDarts / the generic net's 'joint')."""
    ref, ours = twins(era, TinyNetworkDarts)
    if era == "nats":
        ref.set_cal_mode("joint")
    x, y = batch(1)
    _forward_both(ref, ours, "mixture", x, y, train, lambda x: ref(x)[1])
    assert ours.alpha.grad.abs().sum() > 0


@pytest.mark.parametrize("era", ERAS)
def test_joint_matches_setns_forward_joint(era):
    """SETN's alpha step (xautodl: TinyNetworkSETN / the generic net in 'joint' mode)."""
    ref, ours = twins(era, TinyNetworkSETN, algo="setn")
    ref.set_cal_mode("joint")
    x, y = batch(2)
    _forward_both(ref, ours, "joint", x, y, True, lambda x: ref(x)[1])


@pytest.mark.parametrize("era", ERAS)
def test_path_matches_forward_dynamic(era):
    """One architecture for every cell (xautodl: TinyNetworkENAS.update_arch / the generic net's 'dynamic', as NATS'
    SETN, RANDOM and ENAS run it)."""
    ref, ours = twins(era, TinyNetworkENAS, algo="enas" if era == "nb201" else "random-nas")
    for k, arch in enumerate(ARCHS):
        x, y = batch(3 + k)
        if era == "nb201":
            ref.update_arch(list(arch.ops))
        else:
            ref.set_cal_mode("dynamic", structure(arch))
        _forward_both(ref, ours, "path", x, y, True, lambda x: ref(x)[1], arch=arch)
        assert ours.alpha.grad is None


@pytest.mark.parametrize("era", ERAS)
def test_per_cell_paths_match_forward_dynamic_cell_by_cell(era):
    """NATS' 'urs' weight step runs each cell on its own draw; the reference runs xautodl's cells one by one with
    forward_dynamic (its own 'urs' draws from Python's random module, so the draws are made here)."""
    ref, ours = twins(era, TinyNetworkENAS if era == "nb201" else TinyNetworkDarts, N=2)
    rng = np.random.default_rng(7)
    archs = [urs_arch(rng) for _ in range(ours.num_cells)]
    assert len(set(archs)) > 1
    stem = ref.stem if era == "nb201" else ref._stem
    cells = ref.cells if era == "nb201" else ref._cells

    def run_ref(x: torch.Tensor) -> torch.Tensor:
        f, k = stem(x), 0
        for cell in cells:
            if hasattr(cell, "edges"):
                f = cell.forward_dynamic(f, structure(archs[k]))
                k += 1
            else:
                f = cell(f)
        return ref.classifier(ref.global_pooling(ref.lastact(f)).flatten(1))

    x, y = batch(4)
    _forward_both(ref, ours, "path", x, y, True, run_ref, arch=archs)


@pytest.mark.parametrize("tau", [10.0, 0.1])
@pytest.mark.parametrize("era", ERAS)
def test_gdas_hard_gumbel_forward_and_alpha_gradient_match(era, tau):
    """The same Gumbel noise (torch's global RNG, same seed) gives the same one-hot draw, logits and gradients,
    alpha's through the straight-through weights included (xautodl: TinyNetworkGDAS / the generic net's 'gdas')."""
    ref, ours = twins(era, TinyNetworkGDAS, algo="gdas")
    ref.set_tau(tau)
    if era == "nats":
        ref.set_cal_mode("gdas")
    ours.generator = None  # draw from the global RNG, as xautodl does
    ours.set_tau(tau)
    drawn = set()
    for seed in range(4):
        x, y = batch(10 + seed)

        def run_ref(x: torch.Tensor, seed: int = seed) -> torch.Tensor:
            torch.manual_seed(seed)
            return ref(x)[1]

        torch.manual_seed(seed)
        ours.set_mode("gdas")
        ref.train(), ours.train()
        ref.zero_grad(), ours.zero_grad()
        got = ours(x)
        want = run_ref(x)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)
        nn.functional.cross_entropy(want, y).backward()
        nn.functional.cross_entropy(got, y).backward()
        compare_grads(ref, ours)
        assert ours.alpha.grad.abs().sum() > 0
        drawn.add(ours.last_sample.index)
    assert len(drawn) > 1  # the draws really vary with the noise


# --- DARTS-V2 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("era", ERAS)
def test_darts_v2_steps_match_the_scripts_on_xautodls_supernet(era):
    """Two whole DARTS-V2 steps of our searcher against the scripts' procedure on xautodl's supernet, in the era's
    order (nb201: alpha then weights, the grad norm clipped over ``network.parameters()``, alpha's gradient
    included, as bb2f405's ``clip_grad_norm_(network.parameters(), 5)``; nats: weights then alpha, no clip): the
    unrolled alpha gradient handed to Adam, then alpha, every weight and every BN statistic after each step. The clip
    is lowered from 5 to 0.5 so that it engages on this toy problem (gradient norm about 1)."""
    ref, _ = twins(era, TinyNetworkDarts, algo="darts-v2")
    if era == "nats":
        ref.set_cal_mode("joint")
    cls = get_searcher("darts-v2")
    cfg = dataclasses.replace(cls.PRESETS[era], channels=4, cells=1)
    assert cfg.grad_clip == (5.0 if era == "nb201" else None)
    if era == "nb201":
        cfg = dataclasses.replace(cfg, grad_clip=0.5)
    assert cfg.step_order == ("alpha-first" if era == "nb201" else "weights-first")
    searcher = cls(cfg)
    ctx = SearchContext(bench=None, dataset="cifar10", seed=0, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    run = searcher.build_run(ctx, SimpleNamespace(num_classes=5), torch.device("cpu"))  # type: ignore[arg-type]
    run.network.double()
    run.network.load_state_dict({our_key(k): v.clone() for k, v in ref.state_dict().items()}, strict=True)
    lr = cfg.lr_at(0)
    for group in run.w_optimizer.param_groups:
        group["lr"] = lr
    ours_seen: list[torch.Tensor] = []
    adam_step = run.a_optimizer.step
    run.a_optimizer.step = lambda: (ours_seen.append(run.network.alpha.grad.clone()), adam_step())[1]

    names = [n for n, _ in ref.named_parameters() if n != "arch_parameters"]
    weights = [ref.get_parameter(n) for n in names]
    w_opt = torch.optim.SGD(weights, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True)
    a_opt = torch.optim.Adam([ref.arch_parameters], lr=cfg.arch_lr, betas=cfg.arch_betas,
                             weight_decay=cfg.arch_weight_decay, eps=cfg.arch_eps)
    crit = nn.CrossEntropyLoss()

    def ref_weight_step(base) -> None:
        w_opt.zero_grad()
        crit(ref(base[0])[1], base[1]).backward()
        if cfg.grad_clip is not None:
            assert nn.utils.clip_grad_norm_(ref.parameters(), cfg.grad_clip) > cfg.grad_clip  # it engages
        w_opt.step()

    def ref_alpha_step(base, arch) -> torch.Tensor:
        a_opt.zero_grad()
        # the scripts' backward_step_unrolled, as runners.perf.xautodl_steps times it
        (d_alpha,), (first_order,) = unrolled_alpha_grad(ref, weights, [ref.arch_parameters], w_opt, crit, base, arch,
                                                         cfg.unroll_r)
        ref.arch_parameters.grad = d_alpha.clone()
        a_opt.step()
        # the second-order term is far above the tolerance: a first-order step would fail the comparison
        assert (d_alpha - first_order).abs().max() > 1e-4 * d_alpha.abs().max()
        return d_alpha

    ref.train()
    for step in range(2):  # the second step reads SGD's momentum buffers
        base, arch = batch(20 + step), batch(30 + step)
        if era == "nb201":
            want = ref_alpha_step(base, arch)
            ref_weight_step(base)
        else:
            ref_weight_step(base)
            want = ref_alpha_step(base, arch)
        searcher.step(run, base, arch)
        torch.testing.assert_close(ours_seen[step], want, rtol=1e-7, atol=1e-12)
        assert want.abs().max() > 1e-4
        compare_state(ref, run.network, rtol=1e-9, atol=1e-11)


# --- ENAS' controller ------------------------------------------------------------------------------------------------
def our_controller_key(key: str) -> str:
    for theirs, mine in (("input_vars", "start"), ("w_lstm.", "lstm."), ("w_embd.", "embed."), ("w_pred.", "head.")):
        if key.startswith(theirs):
            return mine + key[len(theirs):]
    raise KeyError(key)


@pytest.mark.parametrize("era", ERAS)
def test_enas_controller_log_probs_entropies_and_draws_match(era):
    """bb2f405's controller (search_model_enas_utils.Controller) and NATS' (generic_model.Controller): the same
    weights give the same draws from the same global-RNG seed, and the same log-probability, entropy and gradients."""
    torch.manual_seed(0)
    ref = (xenas.Controller(NUM_EDGES, NUM_OPS) if era == "nb201"
           else xgeneric.Controller(TinyNetworkDarts(2, 1, 4, 5, SPACE, False, True).edge2index, SPACE, 4)).double()
    ours = Controller().double()
    ours.load_state_dict({our_controller_key(k): v for k, v in ref.state_dict().items()}, strict=True)

    def ops_of(drawn: list[int] | Structure) -> tuple[int, ...]:  # bb2f405: op ids; NATS: a Structure, edge order
        if isinstance(drawn, Structure):
            return tuple(OPS.index(op) for node in drawn.nodes for op, _ in node)
        return tuple(drawn)

    for seed in range(12):
        torch.manual_seed(seed)
        log_p, entropy, drawn = ref()
        torch.manual_seed(seed)
        mine = ours()
        assert mine.ops == ops_of(drawn)
        forced = ours(arch=mine.arch)  # teacher forcing gives the same numbers
        for got in (mine, forced):
            torch.testing.assert_close(got.log_prob, log_p, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(got.entropy, entropy, rtol=1e-12, atol=1e-12)
        ref.zero_grad(), ours.zero_grad()
        (log_p + 1e-2 * entropy).backward()
        (mine.log_prob + 1e-2 * mine.entropy).backward()
        theirs = dict(ref.named_parameters())
        for name, p in ours.named_parameters():
            want = theirs[next(k for k in theirs if our_controller_key(k) == name)].grad
            torch.testing.assert_close(p.grad, want, rtol=1e-10, atol=1e-12, msg=name)


# --- SETN's selection ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("era", "alpha"), [
    ("nb201", "random"), ("nb201", "zeros"), ("nb201", "repeated-rows"), ("nats", "random")])
def test_setn_top_100_matches_return_top_k(era, alpha):
    """The 100 cells ranked first by log-probability under softmax(alpha), in order: ties (all-equal or repeated
    rows of alpha) keep xautodl's enumeration order, as its stable sort does."""
    torch.manual_seed(0)
    ref = (TinyNetworkSETN(2, 1, 4, 5, SPACE, False, True) if era == "nb201"
           else GenericNAS201Model(2, 1, 4, 5, SPACE, False, False))
    if era == "nats":
        ref.set_algo("setn")
    values = {"random": torch.randn(NUM_EDGES, NUM_OPS, generator=torch.Generator().manual_seed(4)),
              "zeros": torch.zeros(NUM_EDGES, NUM_OPS),
              "repeated-rows": torch.tensor([[0.3, 0.1, 0.3, -0.2, 0.1]] * NUM_EDGES)}[alpha]
    with torch.no_grad():
        ref.arch_parameters.copy_(values)
    want = [s.tostr() for s in ref.return_topK(100)]
    assert [str(a) for a in top_k_by_log_prob(values, 100)] == want


def test_cell_module_names_follow_xautodls_ops():
    """Guard for the name mapping above: our cell holds one module per (edge, op), named by the op."""
    cell = Cell(4)
    assert [list(edge.keys()) for edge in cell.edges] == [list(OPS)] * NUM_EDGES
    assert list(SPACE) == list(OPS)
