"""The supernet: NAS-Bench-201 ops and skeleton, every forward mode, stand-alone networks, parameter/FLOP counts."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from algos import get_searcher
from algos.oneshot import supernet_config
from algos.oneshot_protocol import ALGORITHMS
from search_space import EDGES, NUM_ARCHS, OPS, Arch
from supernet import (
    INCOMING,
    MODES,
    Cell,
    Network,
    Supernet,
    SupernetConfig,
    build_network,
    count_flops,
    count_parameters,
    flops,
    flops_counts,
    gumbel_hard,
    make_op,
    network_from_config,
    param_count,
    param_counts,
    urs_arch,
)
from supernet.ops import Identity, Pooling, ReLUConvBN, Zero

RESNET = Arch.from_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
ALL_CONV3 = Arch((3,) * 6)


def toy(**kw) -> SupernetConfig:
    base = dict(num_classes=5, C=4, N=1)
    base.update(kw)
    return SupernetConfig(**base)


def randomise_bn(net: nn.Module, seed: int = 0) -> None:
    """Give affine BNs non-trivial parameters and tracked BNs non-trivial running statistics."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            if m.affine:
                with torch.no_grad():
                    m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
            if m.track_running_stats:
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=g))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Toy tensors: threads only add contention on the shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))


# --- ops ---------------------------------------------------------------------------------------------
def test_conv_op_bias_is_the_callers_choice() -> None:
    for affine in (True, False):
        for bias in (True, False):
            for name, k in (("nor_conv_1x1", 1), ("nor_conv_3x3", 3)):
                op = make_op(name, 4, 4, 1, affine, True, bias)
                assert isinstance(op, ReLUConvBN)
                relu, conv, bn = op
                assert isinstance(relu, nn.ReLU) and not relu.inplace
                assert conv.kernel_size == (k, k) and (conv.bias is not None) == bias
                assert bn.affine == affine and bn.track_running_stats
    assert make_op("nor_conv_3x3", 4, 4, 1, False, True)[1].bias is None  # no bias unless asked


@pytest.mark.parametrize("affine", [False, True])
def test_cell_conv_bias_follows_the_era(affine: bool) -> None:
    """ICLR-era code: cell convs never have a bias; NATS-era code: a bias when the BN is not affine."""
    for rule, want in (("never", False), ("if-not-affine", not affine)):
        net = Supernet(toy(affine=affine, conv_bias=rule))
        convs = [m for layer in net.cells if isinstance(layer, Cell) for m in layer.modules()
                 if isinstance(m, nn.Conv2d)]
        assert convs and all((c.bias is not None) == want for c in convs)
        blocks = [m for layer in net.cells if not isinstance(layer, Cell) for m in layer.modules()
                  if isinstance(m, nn.Conv2d)]
        assert all(c.bias is None for c in blocks)  # affine BNs in the stage transitions: never a bias
    with pytest.raises(ValueError, match="valid: never, if-not-affine"):
        toy(conv_bias="always")


def test_pool_skip_and_none_ops() -> None:
    pool = make_op("avg_pool_3x3", 4, 4, 1, False, True)
    assert isinstance(pool, Pooling) and pool.preprocess is None and not pool.pool.count_include_pad
    assert isinstance(make_op("avg_pool_3x3", 4, 8, 1, False, True).preprocess, ReLUConvBN)
    assert isinstance(make_op("skip_connect", 4, 4, 1, False, True), Identity)
    with pytest.raises(ValueError, match="skip_connect"):
        make_op("skip_connect", 4, 8, 2, False, True)
    with pytest.raises(ValueError, match="valid ops"):
        make_op("conv_5x5", 4, 4, 1, False, True)
    x = torch.randn(2, 4, 7, 7)
    z = make_op("none", 4, 4, 1, False, True)
    assert isinstance(z, Zero) and torch.equal(z(x), torch.zeros_like(x))
    assert Zero(4, 4, 2)(x).shape == (2, 4, 4, 4)
    assert Zero(4, 8, 2)(x).shape == (2, 8, 4, 4)
    assert torch.count_nonzero(Zero(4, 8, 2)(x)) == 0


# --- configuration and BN flags ------------------------------------------------------------------------
def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="max_nodes must be 4"):
        SupernetConfig(num_classes=10, max_nodes=5)
    with pytest.raises(ValueError, match="num_classes"):
        SupernetConfig(num_classes=0)
    with pytest.raises(ValueError, match="affine"):
        SupernetConfig(num_classes=10, affine=1)
    net = Supernet(toy())
    with pytest.raises(ValueError, match="valid: mixture, joint, gdas"):
        net.set_mode("darts")
    with pytest.raises(ValueError, match="needs an architecture"):
        net.set_mode("path")
    with pytest.raises(ValueError, match="takes no architecture"):
        net.set_mode("mixture", RESNET)
    with pytest.raises(ValueError, match="one per cell"):
        net.set_mode("path", [RESNET, RESNET])
    with pytest.raises(ValueError, match="tau"):
        net.set_tau(0)


def _bns(net: Supernet):
    cells = [m for layer in net.cells if isinstance(layer, Cell) for m in layer.modules()
             if isinstance(m, nn.BatchNorm2d)]
    blocks = [m for layer in net.cells if not isinstance(layer, Cell) for m in layer.modules()
              if isinstance(m, nn.BatchNorm2d)]
    return cells, blocks, net.stem[1], net.lastact[0]


@pytest.mark.parametrize("track", [True, False])
def test_nb201_bn_flags(track: bool) -> None:
    cells, blocks, stem, head = _bns(Supernet(SupernetConfig(num_classes=10, track_running_stats=track, C=4, N=1)))
    assert cells and all(not b.affine and b.track_running_stats == track for b in cells)
    for b in [*blocks, stem, head]:  # PyTorch defaults outside the cells
        assert b.affine and b.track_running_stats


@pytest.mark.parametrize(("affine", "track"), [(False, False), (True, True), (True, False)])
def test_nats_bn_flags(affine: bool, track: bool) -> None:
    config = SupernetConfig(num_classes=10, affine=affine, track_running_stats=track, head_bn_follows_flags=True,
                            C=4, N=1)
    cells, blocks, stem, head = _bns(Supernet(config))
    assert all(b.affine == affine and b.track_running_stats == track for b in cells)
    assert head.affine == affine and head.track_running_stats == track  # the head BN follows the flags in NATS
    assert all(b.affine and b.track_running_stats for b in [*blocks, stem])


def test_each_protocols_supernet() -> None:
    """The presets build their era's supernet: nb201 = NB201's per-algorithm nets with BN=1 (cell convs without
    bias), nats = NATS' generic net (affine=0, track_running_stats=0, head BN following them, cell convs with bias)."""
    for algo in ALGORITHMS:
        nb201 = supernet_config(get_searcher(algo).PRESETS["nb201"], 10)
        nats = supernet_config(get_searcher(algo).PRESETS["nats"], 10)
        assert nb201 == SupernetConfig(num_classes=10)
        assert nats == SupernetConfig(num_classes=10, track_running_stats=False, head_bn_follows_flags=True,
                                      conv_bias="if-not-affine")
        assert nats.cell_conv_bias and not nb201.cell_conv_bias


def test_skeleton_shape() -> None:
    net = Supernet(SupernetConfig(num_classes=10, C=4, N=2))
    kinds = ["cell" if isinstance(m, Cell) else "block" for m in net.cells]
    assert kinds == ["cell"] * 2 + ["block"] + ["cell"] * 2 + ["block"] + ["cell"] * 2
    assert [m.c for m in net.cells if isinstance(m, Cell)] == [4, 4, 8, 8, 16, 16]
    block = net.cells[2]
    assert isinstance(block.downsample[0], nn.AvgPool2d) and block.downsample[1].bias is None
    assert net.stem[0].kernel_size == (3, 3) and net.stem[0].out_channels == 4
    assert net.classifier.in_features == 16 and net.num_cells == 6
    assert net.alpha.shape == (6, 5) and net.alpha.abs().max() < 0.01  # 1e-3 * randn
    assert {id(p) for p in net.weights()}.isdisjoint({id(p) for p in net.arch_parameters()})
    assert len(net.weights()) + 1 == len(list(net.parameters()))


def test_edge_order_matches_search_space() -> None:
    assert [tuple(src for _e, src in inc) for inc in INCOMING] == [(0,), (0, 1), (0, 1, 2)]
    assert [e for inc in INCOMING for e, _ in inc] == list(range(6))
    assert [EDGES[e] for e, _ in INCOMING[2]] == [(3, 0), (3, 1), (3, 2)]


# --- forward modes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_runs_and_backprops(mode: str, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = Supernet(toy())
    net.set_mode(mode, RESNET if mode in ("path", "fixed") else None)
    out = net(x)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward()
    assert net.classifier.weight.grad is not None and net.stem[0].weight.grad.abs().sum() > 0
    if mode in ("path", "fixed"):
        assert net.alpha.grad is None
    else:
        assert net.alpha.grad is not None and (net.alpha.grad.abs().sum(dim=1) > 0).all()


def _one_hot_alpha(net: Supernet, arch: Arch, big: float = 40.0) -> None:
    with torch.no_grad():
        net.alpha.zero_()
        net.alpha[torch.arange(6), torch.tensor(arch.ops)] = big


def test_mixture_weights_rows_by_edge_and_columns_by_op(x: torch.Tensor) -> None:
    """With alpha (nearly) one-hot on ``arch`` the mixture is that architecture's path: indexing is consistent."""
    torch.manual_seed(0)
    net = Supernet(toy())
    randomise_bn(net)
    arch = Arch((3, 1, 2, 4, 0, 3))
    _one_hot_alpha(net, arch)
    assert net.genotype() == arch
    net.set_mode("mixture")
    mix = net(x)
    net.set_mode("fixed", arch)
    torch.testing.assert_close(mix, net(x), rtol=1e-5, atol=1e-5)


def test_mixture_is_the_weighted_sum_on_one_cell() -> None:
    torch.manual_seed(0)
    cell = Cell(4)
    w = torch.softmax(torch.randn(6, 5), -1)
    xin = torch.randn(2, 4, 6, 6)
    nodes = [xin]
    for node in range(1, 4):
        acc = 0
        for e, (dst, src) in enumerate(EDGES):
            if dst == node:
                acc = acc + sum(w[e, o] * cell.edges[e][OPS[o]](nodes[src]) for o in range(5))
        nodes.append(acc)
    torch.testing.assert_close(cell.forward_mixture(xin, w), nodes[-1])


def test_gdas_equals_the_chosen_path_and_reaches_alpha(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = Supernet(toy())
    net.channels_last = False
    net.generator = torch.Generator().manual_seed(4)  # a draw whose output depends on every edge's choice
    net.set_mode("gdas")
    net.set_tau(5.0)
    out = net(x)
    sample = net.last_sample
    assert sample is not None and len(sample.index) == 6
    one_hot = torch.zeros(6, 5)
    one_hot[torch.arange(6), torch.tensor(sample.index)] = 1
    assert (sample.hardwts.detach() - one_hot).abs().max() < 1e-6  # forward value: the one-hot
    sample.hardwts.retain_grad()
    nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward(retain_graph=True)
    g = sample.hardwts.grad
    assert g is not None and net.alpha.grad.abs().sum() > 0
    for e, o in enumerate(sample.index):  # the ops not run still get a gradient: their scalar's (one per edge)
        others = torch.cat([g[e, :o], g[e, o + 1:]])
        assert torch.equal(others, others[:1].expand(4))
    # straight-through: alpha's gradient is the soft probabilities' backward of the hard weights' gradient
    (expected,) = torch.autograd.grad((sample.probs * g).sum(), net.alpha)
    torch.testing.assert_close(net.alpha.grad, expected)
    net.set_mode("fixed", sample.arch)
    torch.testing.assert_close(out, net(x), rtol=1e-5, atol=1e-6)
    net.set_mode("gdas_v1")
    net.generator = torch.Generator().manual_seed(4)
    out_v1 = net(x)
    assert net.last_sample.index == sample.index
    torch.testing.assert_close(out_v1, out, rtol=1e-5, atol=1e-6)


def test_gdas_runs_only_the_chosen_ops(x: torch.Tensor) -> None:
    net = Supernet(toy())
    net.set_mode("gdas")
    calls: list[str] = []
    for name, m in net.named_modules():
        if isinstance(m, (ReLUConvBN, Pooling)) and ".edges." in name:
            m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name))
    net(x)
    chosen = net.last_sample.index
    expected = sum(1 for e in range(6) if OPS[chosen[e]] in ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
    assert len(calls) == expected * net.num_cells
    assert all(name.split(".")[-1] == OPS[chosen[int(name.split(".")[-2])]] for name in calls)


def test_supernet_deepcopies_after_a_gdas_forward(x: torch.Tensor) -> None:
    net = Supernet(toy())
    net.set_mode("gdas")
    net(x)
    twin = copy.deepcopy(net)  # DARTS-V2-style unrolled copies must work in any mode
    assert twin.last_sample is None and net.last_sample is not None
    assert torch.equal(twin.alpha, net.alpha) and twin.alpha is not net.alpha
    twin.set_mode("fixed", RESNET)
    net.set_mode("fixed", RESNET)
    assert torch.equal(twin(x), net(x))


def test_same_seed_same_supernet_and_gradients(x: torch.Tensor) -> None:
    grads = []
    for _ in range(2):
        torch.manual_seed(4)
        net = Supernet(toy())
        net.generator = torch.Generator().manual_seed(2)
        net.set_mode("gdas")
        nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2])).backward()
        net.set_mode("mixture")
        nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2])).backward()
        grads.append([p.grad.clone() for p in net.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1]) > 0
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


def test_gumbel_sampling() -> None:
    alpha = torch.zeros(6, 5)
    alpha[:, 3] = 3.0
    g = torch.Generator().manual_seed(0)
    picks = np.array([gumbel_hard(alpha, 1.0, g).index for _ in range(400)])
    assert 0.7 < (picks == 3).mean() < 0.98  # softmax([0,0,0,3,0]) gives op 3 p = 0.83
    a = gumbel_hard(alpha, 0.5, torch.Generator().manual_seed(5))
    b = gumbel_hard(alpha, 0.5, torch.Generator().manual_seed(5))
    assert a.index == b.index and torch.equal(a.hardwts, b.hardwts)
    with pytest.raises(RuntimeError, match="not finite"):
        gumbel_hard(torch.full((6, 5), float("nan")), 1.0, max_tries=3)
    with pytest.raises(ValueError, match="tau"):
        gumbel_hard(alpha, -1.0)


def test_path_with_one_arch_per_cell(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = Supernet(toy(N=1))
    rng = np.random.default_rng(0)
    archs = [urs_arch(rng) for _ in range(net.num_cells)]
    net.set_mode("path", archs)
    out = net(x)
    # the same computation by hand: stem, cells with their own archs, blocks, head
    f = net.stem(x)
    k = 0
    for layer in net.cells:
        if isinstance(layer, Cell):
            f = layer.forward_path(f, archs[k])
            k += 1
        else:
            f = layer(f)
    ref = net.classifier(net.global_pooling(net.lastact(f)).flatten(1))
    torch.testing.assert_close(out, ref)
    net.set_arch(RESNET)
    assert net.archs == (RESNET,) * net.num_cells
    net.set_mode("mixture")
    with pytest.raises(ValueError, match="set_arch needs mode"):
        net.set_arch(RESNET)


def test_urs_arch_never_feeds_a_node_only_none() -> None:
    rng = np.random.default_rng(0)
    archs = [urs_arch(rng) for _ in range(2000)]
    for a in archs:
        for inc in INCOMING:
            assert any(a.ops[e] != 0 for e, _ in inc)
    ops = np.array([a.ops for a in archs])
    assert set(np.unique(ops[:, 0])) == {1, 2, 3, 4}  # edge 1<-0 alone: never none
    assert (ops[:, 3:] == 0).any()  # none still appears on nodes with other inputs


def test_channels_last_agrees_with_contiguous(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = Supernet(toy())
    for mode in ("mixture", "fixed"):
        net.set_mode(mode, ALL_CONV3 if mode == "fixed" else None)
        net.channels_last = True
        a = net(x)
        net.channels_last = False
        torch.testing.assert_close(a, net(x), rtol=1e-5, atol=1e-5)


def test_genotype_is_the_argmax_of_alpha() -> None:
    torch.manual_seed(0)
    net = Supernet(toy())
    with torch.no_grad():
        net.alpha.copy_(torch.randn(6, 5))
    assert net.genotype() == Arch(tuple(int(i) for i in net.alpha.argmax(dim=-1)))
    with torch.no_grad():
        net.alpha.zero_()
        net.alpha[:, 0] = 1.0  # none wins everywhere: it is not excluded
    assert net.genotype() == Arch((0,) * 6)


# --- stand-alone networks ------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [SupernetConfig.standalone(5, C=4, N=1),
                                    SupernetConfig(num_classes=5, C=4, N=1),
                                    SupernetConfig(num_classes=5, C=4, N=1, track_running_stats=False,
                                                   head_bn_follows_flags=True, conv_bias="if-not-affine")],
                         ids=["standalone", "nb201", "nats"])
def test_fixed_mode_equals_the_standalone_network(config: SupernetConfig, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = Supernet(config)
    randomise_bn(net)
    for arch in (RESNET, Arch((4, 2, 0, 1, 3, 2)), Arch((0,) * 6)):
        alone = net.extract(arch)
        assert isinstance(alone, Network) and count_parameters(alone) < count_parameters(net)
        net.set_mode("fixed", arch)
        for train in (True, False):
            net.train(train)
            alone.train(train)
            assert torch.equal(net(x), alone(x))


def test_build_network_matches_the_benchmark_model() -> None:
    net = build_network(RESNET, 10)
    assert isinstance(net, Network) and net.arch == RESNET
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(b.affine and b.track_running_stats for b in bns)
    convs = [m for layer in net.cells if isinstance(layer, Cell) for m in layer.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is None for c in convs)
    assert count_parameters(net) == 559386  # ResNet cell, CIFAR-10 (params_M 0.559386)
    cfg = {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": str(RESNET), "num_classes": 100}
    assert count_parameters(network_from_config(cfg)) == param_count(RESNET, 100)
    by_genotype = {k: v for k, v in cfg.items() if k != "arch_str"} | {"genotype": RESNET}
    assert network_from_config(by_genotype).arch == RESNET
    with pytest.raises(ValueError, match="valid: 'infer.tiny'"):
        network_from_config({**cfg, "name": "infer.shape.tiny"})
    with pytest.raises(ValueError, match="unknown op"):
        network_from_config({**cfg, "arch_str": "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"})
    with pytest.raises(ValueError, match="lacks"):
        network_from_config({"name": "infer.tiny", "arch_str": str(RESNET)})
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


# --- parameter and FLOP counts -------------------------------------------------------------------------
def _sample_archs(n: int) -> list[Arch]:
    rng = np.random.default_rng(7)
    return [RESNET, ALL_CONV3, Arch((0,) * 6), Arch((2,) * 6), Arch((4,) * 6)] + [Arch.sample(rng) for _ in range(n)]


@pytest.mark.parametrize(("num_classes", "C", "N"), [(10, 16, 5), (100, 16, 5), (120, 16, 5), (7, 8, 2)])
def test_closed_form_params_equal_built_modules(num_classes: int, C: int, N: int) -> None:
    archs = _sample_archs(8)
    counts = param_counts(num_classes, C, N, np.array([a.ops for a in archs]))
    for a, n in zip(archs, counts, strict=True):
        built = count_parameters(build_network(a, num_classes, C, N))
        assert built == n == param_count(a, num_classes, C, N)


@pytest.mark.parametrize(("num_classes", "side"), [(10, 32), (120, 16)])
def test_closed_form_flops_equal_hook_counts(num_classes: int, side: int) -> None:
    archs = _sample_archs(4)
    closed = flops_counts(num_classes, side, ops=np.array([a.ops for a in archs]))
    for a, f in zip(archs, closed, strict=True):
        assert count_flops(build_network(a, num_classes), side) == pytest.approx(f, rel=1e-12)
    assert flops(RESNET, 10, 32) == pytest.approx(78.56193)  # conv + linear MACs, pooling not counted
    assert flops(ALL_CONV3, 10, 32) == pytest.approx(220.11969)
    assert flops_counts(10, 32).shape == (NUM_ARCHS,)


def test_closed_form_params_equal_the_benchmark_for_every_cell(csv_path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(csv_path, usecols=lambda c: "params_M" in c or c == "index")
    assert (df["index"].to_numpy() == np.arange(NUM_ARCHS)).all()
    for dataset, k in (("cifar10-valid", 10), ("cifar100", 100), ("ImageNet16-120", 120)):
        ours = param_counts(k)
        seeds = [[round(float(v) * 1e6) for v in s.split(";")] for s in df[f"{dataset}/params_M/seeds"].astype(str)]
        assert all(n in s for n, s in zip(ours.tolist(), seeds, strict=True)), dataset
        agree = np.array([len(set(s)) == 1 for s in seeds])
        assert agree.sum() == NUM_ARCHS - 204
        mean = np.round(df[f"{dataset}/params_M"].to_numpy() * 1e6).astype(np.int64)
        assert (mean[agree] == ours[agree]).all(), dataset
