"""The fast search step changes no number: pruned backward passes, device-side meters, CUDA-graph plumbing (emulated
on the CPU), and the execution options (precision, channels-last, CUDA graphs) are recorded.

The reference is the plain step the harness took before (full ``loss.backward()`` in both updates, Python-float
meters): every searcher, both protocols, a few steps, then every weight, BN buffer, alpha, optimizer state and
which parameters hold a gradient must be equal bit for bit.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from algos import WEIGHT_SHARING_SEARCHERS, SearchContext, get_searcher
from algos.oneshot import Execution, Meter, OneShotRun
from algos.oneshot_protocol import smoke
from search_space import Arch
from supernet.graphs import PassGraphs
from supernet.loaders import search_loaders
from supernet.runtime import seed_everything

SEARCHERS = tuple(WEIGHT_SHARING_SEARCHERS)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _plain_pass(run, logits_fn, x, y):
    """Forward and the full ``loss.backward()`` (every gradient, alpha's too), as the step did."""
    if isinstance(logits_fn, str):
        logits_fn = (lambda m: lambda t: run.logits(t, m))(logits_fn)
    logits = logits_fn(x)
    loss = run.criterion(logits, y)
    loss.backward()
    return loss, logits


def _plain_weight_step(self, logits_fn, x, y, meter="train"):
    """The step as it was: full backward, then clip, then SGD."""
    self.network.train()
    self.w_optimizer.zero_grad(set_to_none=False)
    loss, logits = _plain_pass(self, logits_fn, x, y)
    if self.config.grad_clip is not None:
        nn.utils.clip_grad_norm_(self.weights(), self.config.grad_clip)
    self.w_optimizer.step()
    self.meter(meter).update(loss, logits, y)
    return loss.detach()


def _plain_arch_step(self, logits_fn, x, y, meter="arch"):
    self.network.train()
    self.a_optimizer.zero_grad(set_to_none=False)
    loss, logits = _plain_pass(self, logits_fn, x, y)
    self.a_optimizer.step()
    self.meter(meter).update(loss, logits, y)
    return loss.detach()


def _run_steps(name: str, protocol: str, default_bench, steps: int = 4, graphs: bool = False, **options):
    cls = get_searcher(name)
    cfg = smoke(cls.PRESETS[protocol], steps_per_epoch=steps)
    searcher = cls(cfg)
    seed_everything(3)
    ctx = SearchContext(bench=default_bench, dataset="cifar10", seed=3, rng=np.random.default_rng(3),
                        options=options)
    data = search_loaders("smoke", batch_size=cfg.batch_size, test_batch_size=cfg.test_batch_size, seed=3)
    run = searcher.build_run(ctx, data, torch.device("cpu"))
    if graphs:
        run.graphs = PassGraphs(torch.device("cpu"), emulate=True)
    run.lr = cfg.lr_at(0)
    searcher.begin_epoch(run, 0)
    searcher.train_epoch(run, 0)
    cell = Arch.from_index(11472)  # path-mode searchers evaluate a cell; DARTS and GDAS their own forward
    valid = run.evaluate(lambda x: searcher.valid_logits(run, x, cell), run.data.valid.epoch(0), 2)
    return run, valid


def _state(run: OneShotRun) -> dict:
    return {
        "net": copy.deepcopy(run.network.state_dict()),
        "has_grad": {n: p.grad is not None for n, p in run.network.named_parameters()},
        "opt": copy.deepcopy([o.state_dict() for o in (run.w_optimizer, run.a_optimizer, *run.optimizers.values())
                              if o is not None]),
        "modules": {k: copy.deepcopy(m.state_dict()) for k, m in run.modules.items()},
        "meters": {k: (m.loss, m.acc) for k, m in run.meters.items()},
    }


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("protocol", ["nb201", "nats"])
@pytest.mark.parametrize("name", SEARCHERS)
def test_fast_step_is_the_plain_step_bit_for_bit(name, protocol, default_bench, monkeypatch):
    fast, fast_valid = _run_steps(name, protocol, default_bench)
    with monkeypatch.context() as m:
        m.setattr(OneShotRun, "weight_step", _plain_weight_step)
        m.setattr(OneShotRun, "arch_step", _plain_arch_step)
        plain, plain_valid = _run_steps(name, protocol, default_bench)
    a, b = _state(fast), _state(plain)
    assert _equal(a["net"], b["net"]) and _equal(a["opt"], b["opt"]) and _equal(a["modules"], b["modules"])
    assert a["meters"] == b["meters"] and fast_valid == plain_valid
    # the same parameters hold a gradient (SGD decays exactly those), except alpha, which the fast weight step
    # leaves alone: its value is zeroed before the alpha step reads it
    assert {n: v for n, v in a["has_grad"].items() if n != "alpha"} == \
        {n: v for n, v in b["has_grad"].items() if n != "alpha"}


@pytest.mark.parametrize("name", ["darts-v1", "darts-v2", "setn"])
def test_graph_plumbing_changes_no_number(name, default_bench):
    """The captured-pass bookkeeping (static batches, gradients accumulated in place, outputs read before the next
    replay), emulated on the CPU: the same numbers as the eager passes."""
    eager, eager_valid = _run_steps(name, "nb201", default_bench, steps=5)
    graphed, graphed_valid = _run_steps(name, "nb201", default_bench, steps=5, graphs=True)
    assert _equal(_state(eager), _state(graphed)) and eager_valid == graphed_valid
    counts = graphed.graphs.counts
    # DARTS-V1: its weight pass, alpha pass and valid forward; DARTS-V2: its weight pass and valid forward (the
    # unrolled alpha step runs on copies of the weights, eagerly); SETN: its alpha (joint) pass only
    assert counts["captured"] == {"darts-v1": 3, "darts-v2": 2, "setn": 1}[name] and counts["replayed"] >= 3
    if name == "darts-v2":  # a captured weight pass accumulates into the gradient tensor alpha held at its capture
        grad = graphed.network.alpha.grad
        graphed.searcher.step(graphed, *next(graphed.search_batches()))
        assert graphed.network.alpha.grad is grad


def test_pass_graphs_refuse_a_new_shape_and_need_cuda():
    g = PassGraphs(torch.device("cpu"), emulate=True, warmup=0)
    x = torch.randn(3, 2)
    out = g.run("k", lambda a, b: (a * 2,), x, x.new_empty(0))
    assert torch.equal(out[0], x * 2) and g.counts["captured"] == 1
    with pytest.raises(ValueError, match=r"captured for \(3, 2\) inputs, got \(4, 2\)"):
        g.run("k", lambda a, b: (a * 2,), torch.randn(4, 2), x.new_empty(0))
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        PassGraphs(torch.device("cpu"))


def test_meter_sums_as_python_floats_did():
    torch.manual_seed(0)
    m, loss_sum, correct, count = Meter(), 0.0, 0, 0
    for n in (7, 16, 3):
        loss, logits, y = torch.rand(()) * 3, torch.randn(n, 10), torch.randint(0, 10, (n,))
        m.update(loss, logits, y)
        loss_sum += float(loss) * n
        correct += int((logits.argmax(-1) == y).sum())
        count += n
    assert m.loss == loss_sum / count and m.acc == 100.0 * correct / count and m.count == count
    assert Meter().loss is None and Meter().acc is None


def test_execution_options_are_checked_and_recorded(default_bench, tmp_path):
    cpu = torch.device("cpu")
    assert Execution.from_options({}, cpu) == Execution("fp32", True, False)
    assert Execution.from_options({"precision": "bf16", "channels_last": 0}, cpu) == Execution("bf16", False, False)
    with pytest.raises(ValueError, match="unknown precision 'fp16'; valid: fp32, tf32, bf16"):
        Execution.from_options({"precision": "fp16"}, cpu)
    with pytest.raises(ValueError, match="channels_last='maybe' is invalid; valid: 0, 1"):
        Execution.from_options({"channels_last": "maybe"}, cpu)
    with pytest.raises(ValueError, match="cuda_graphs=1 needs a CUDA device"):
        Execution.from_options({"cuda_graphs": 1}, cpu)

    cls = get_searcher("darts-v1")
    cfg = smoke(cls.PRESETS["nb201"], epochs=1, steps_per_epoch=1, valid_batches=1)

    def search(run_dir, **options):
        ctx = SearchContext(bench=default_bench, dataset="cifar10", seed=2, rng=np.random.default_rng(2),
                            run_dir=run_dir, options=options)
        return cls(cfg).search(ctx)

    plain = search(tmp_path / "fp32")
    assert (plain.info["precision"], plain.info["channels_last"], plain.info["cuda_graphs"]) == ("fp32", True, False)
    assert plain.info["data_path"] == "host"
    bf16 = search(tmp_path / "bf16", precision="bf16", channels_last=0)
    assert (bf16.info["precision"], bf16.info["channels_last"]) == ("bf16", False)
    assert bf16.info["alpha"] != plain.info["alpha"]  # bfloat16 forwards: other numbers
    # a checkpoint of one precision is not continued under another
    with pytest.raises(ValueError, match="precision"):
        search(tmp_path / "bf16", precision="fp32")
    with pytest.raises(ValueError, match="precision"):
        search(tmp_path / "fp32", precision="tf32")


def test_identity_of_fp32_runs_is_unchanged(default_bench):
    """Checkpoints written before the precision option existed still resume: fp32 adds nothing to the identity."""
    cls = get_searcher("gdas")
    cfg = smoke(cls.PRESETS["nb201"])
    ctx = SearchContext(bench=default_bench, dataset="cifar10", seed=1, rng=np.random.default_rng(1))
    data = search_loaders("smoke", batch_size=cfg.batch_size, seed=1)
    run = cls(cfg).build_run(ctx, data, torch.device("cpu"))
    assert set(run.identity()) == {"algorithm", "config", "seed", "dataset"}
    run2 = cls(cfg).build_run(dataclasses.replace(ctx, options={"precision": "tf32"}), data, torch.device("cpu"))
    assert run2.identity()["precision"] == "tf32"


def test_gdas_unit_node_is_the_plain_graph_bit_for_bit():
    """A straight-through draw's weights are exactly one-hot: the fused node gives the values, gradients and the set
    of parameters holding a gradient (through ``none`` edges too) of the separate multiply-and-add ops."""
    from supernet.network import Supernet, SupernetConfig
    from supernet.sampling import gumbel_hard

    torch.manual_seed(0)
    net = Supernet(SupernetConfig(num_classes=10, C=6, N=2))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    seen_none = 0
    for trial in range(12):
        runs = []
        for unit in (False, True):
            m = copy.deepcopy(net)
            sample = gumbel_hard(m.alpha, 0.1, torch.Generator().manual_seed(trial))
            assert sample.unit  # 1 - p + p and 0 - p + p round to 1 and 0
            hw, idx = sample.hardwts, sample.index
            others = (hw * torch.ones_like(hw).scatter_(-1, torch.tensor(idx)[:, None], 0.0)).sum(-1)
            out = m._run(x, lambda _k, cell, f, hw=hw, idx=idx, o=others, u=unit: cell.forward_gdas(f, hw, idx, o, u))
            nn.functional.cross_entropy(out, y).backward()
            runs.append((out.detach(), {n: p.grad for n, p in m.named_parameters() if p.grad is not None}))
        (o1, g1), (o2, g2) = runs
        assert torch.equal(o1, o2) and g1.keys() == g2.keys() and all(torch.equal(g1[n], g2[n]) for n in g1)
        seen_none += 0 in idx
    assert seen_none  # the draws included none edges


@pytest.mark.parametrize("mode", ["mixture", "gdas", "path"])
def test_shared_relu_is_separate_relus_bit_for_bit(mode):
    """The conv ops reading one node share one ReLU forward; the gradients are those of separate ReLUs (a hook on a
    ReLU makes its op run as a module, with its own ReLU: the reference)."""
    from supernet.network import Supernet, SupernetConfig
    from supernet.ops import ReLUConvBN

    torch.manual_seed(1)
    net = Supernet(SupernetConfig(num_classes=10, C=6, N=2))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    runs = []
    for hooked in (False, True):
        m = copy.deepcopy(net)
        m.generator = torch.Generator().manual_seed(4)
        m.set_mode(mode, Arch.from_index(11472) if mode == "path" else None)
        if hooked:
            for op in m.modules():
                if isinstance(op, ReLUConvBN):
                    op[0].register_forward_hook(lambda *_: None)
        out = m(x)
        nn.functional.cross_entropy(out, y).backward()
        runs.append((out.detach(), {n: p.grad for n, p in m.named_parameters() if p.grad is not None}))
    (o1, g1), (o2, g2) = runs
    assert torch.equal(o1, o2) and g1.keys() == g2.keys() and all(torch.equal(g1[n], g2[n]) for n in g1)
