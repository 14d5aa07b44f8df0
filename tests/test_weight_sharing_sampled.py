"""SETN, RANDOM-NAS and ENAS at toy sizes on the offline smoke data (CPU).

- the presets carry PROTOCOLS.md section 2's numbers; smoke shrinks ENAS' controller loop too;
- each searcher runs end to end under both protocols and records its selections;
- the ENAS controller's log-probabilities and entropies equal a by-hand recomputation, and its distributions sum to 1;
- the controller's REINFORCE baseline follows each era's script (hand-computed sequences over two epochs);
- SETN's candidates are exactly the top 100 cells by log-probability under softmax(alpha) (brute force; against
  xautodl in tests/test_xautodl_reference.py), and the pick is the best of them on one batch each; RANDOM-NAS draws 100 random (or 100 distinct) cells and picks the best;
- a run killed mid-epoch and started again ends exactly like an uninterrupted run (ENAS and SETN).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_and_kill

from algos import SearchContext, get_searcher
from algos.enas import EnasConfig, ReinforceBaseline
from algos.oneshot import comparable_rows
from algos.oneshot_protocol import smoke
from algos.random_nas import random_candidates
from algos.setn import log_probs, top_k_by_log_prob
from search_space import NUM_ARCHS, NUM_EDGES, NUM_OPS, Arch, product_order
from supernet.cell import INCOMING
from supernet.checkpoint import checkpoint_path
from supernet.controller import Controller

MINE = ("setn", "random-nas", "enas")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(name: str, protocol: str = "nb201", **extra):
    cls = get_searcher(name)
    return cls, smoke(cls.PRESETS[protocol], **{"epochs": 2, "steps_per_epoch": 2, "valid_batches": 1, **extra})


def context(bench, seed: int = 5, run_dir: Path | None = None, progress=None) -> SearchContext:
    return SearchContext(bench=bench, dataset="cifar10", seed=seed, rng=np.random.default_rng(seed), run_dir=run_dir,
                         progress=progress)


# --- presets ----------------------------------------------------------------------------------------------------
def test_presets_follow_the_protocol():
    setn, setn_nats = (get_searcher("setn").PRESETS[p] for p in ("nb201", "nats"))
    assert (setn.epochs, setn.batch_size, setn.test_batch_size, setn.lr, setn.eta_min, setn.weight_decay,
            setn.grad_clip, setn.candidates, setn.select_at_start) == (250, 64, 512, 0.025, 0.001, 5e-4, None, 100,
                                                                         True)
    assert (setn.arch_lr, setn.arch_betas, setn.arch_weight_decay) == (3e-4, (0.5, 0.999), 1e-3)
    assert (setn_nats.epochs, setn_nats.grad_clip, setn_nats.track_running_stats, setn_nats.select_at_start) == (
        100, None, False, False)

    rnd, rnd_nats = (get_searcher("random-nas").PRESETS[p] for p in ("nb201", "nats"))
    assert (rnd.epochs, rnd.batch_size, rnd.test_batch_size, rnd.grad_clip, rnd.candidates) == (250, 64, 512, 5.0, 100)
    assert (rnd.weight_sampling, rnd.distinct_candidates, rnd.arch_batch_forward) == ("shared", False, False)
    assert (rnd_nats.weight_sampling, rnd_nats.distinct_candidates, rnd_nats.grad_clip) == ("urs", True, None)

    enas, enas_nats = (get_searcher("enas").PRESETS[p] for p in ("nb201", "nats"))
    assert (enas.epochs, enas.batch_size, enas.lr, enas.eta_min, enas.t_max, enas.weight_decay, enas.grad_clip) == (
        250, 128, 0.05, 5e-4, 10, 2.5e-4, 5.0)
    assert (enas.arch_lr, enas.arch_betas, enas.arch_eps, enas.arch_weight_decay) == (1e-3, (0.0, 0.999), 1e-3, 0.0)
    assert (enas.lstm_size, enas.lstm_layers, enas.tanh_constant, enas.temperature) == (32, 2, 2.5, 5.0)
    assert (enas.controller_steps, enas.controller_aggregate, enas.entropy_weight, enas.baseline_decay,
            enas.controller_grad_clip, enas.epoch_candidates, enas.candidates) == (50, 20, 1e-4, 0.99, 5.0, 10, 100)
    assert (enas.weight_data, enas.reward_data, enas.baseline_update) == ("train", "controller", "nb201-script")
    assert (enas_nats.arch_lr, enas_nats.arch_betas, enas_nats.arch_eps, enas_nats.arch_weight_decay) == (
        1e-3, (0.5, 0.999), 1e-3, 0.0)
    assert (enas_nats.weight_data, enas_nats.reward_data, enas_nats.epoch_candidates, enas_nats.grad_clip) == (
        "search", "valid", 100, None)

    small = smoke(enas)
    assert (small.size, small.controller_steps * small.controller_aggregate, small.epoch_candidates) == ("smoke", 4, 3)
    assert enas_nats.baseline_update == "nats-script"
    assert get_searcher("enas").preset("nb201", {"baseline_update": "sample"}).baseline_update == "sample"
    with pytest.raises(ValueError, match="sample, nb201-script, nats-script"):
        get_searcher("enas").preset("nb201", {"baseline_update": "ema"})
    with pytest.raises(ValueError, match="weight_data='search'"):
        dataclasses.replace(enas, arch_batch_forward=True)
    with pytest.raises(ValueError, match="valid: train, search"):
        dataclasses.replace(enas, weight_data="valid")
    with pytest.raises(ValueError, match="epochs"):  # the shared checks still run
        dataclasses.replace(enas, epochs=0)
    with pytest.raises(ValueError, match="valid: shared, urs"):
        dataclasses.replace(rnd, weight_sampling="per-cell")


# --- end to end -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["nb201", "nats"])
@pytest.mark.parametrize("name", MINE)
def test_searcher_runs_end_to_end_on_smoke_data(name, protocol, default_bench, tmp_path):
    cls, cfg = tiny(name, protocol)
    assert cls.name == name and cls.kind == "weight-sharing"
    result = cls(cfg).search(context(default_bench, run_dir=tmp_path))
    rows = result.trace.rows
    assert [r["epoch"] for r in rows] == [0, 1]
    for r in rows:
        assert Arch.from_str(r["arch"]).index == r["arch_index"]
        assert r["cifar10_valid"] == default_bench.reported(r["arch_index"], "cifar10")["valid"]
        assert 0 <= r["select_acc"] <= 100 and 0 <= r["select_mean_acc"] <= 100
        assert r["train_loss"] > 0 and 0 <= r["valid_acc"] <= 100
        want = cfg.epoch_candidates if name == "enas" else cfg.candidates
        assert r["select_candidates"] == want and 0 <= r["select_position"] < want
    info = result.info
    assert info["final_select_candidates"] == cfg.candidates and info["size"] == "smoke"
    assert Arch.parse(info["last_epoch_arch"]) == Arch.from_str(rows[-1]["arch"])
    assert (info["alpha"] is None) == (name != "setn")
    if name == "setn":
        assert ("initial_arch" in info) == (protocol == "nb201")
    if name == "enas":
        assert all(r["ctl_entropy"] > 0 and r["ctl_grad_norm"] >= 0 for r in rows)
        assert info["controller_baseline"] == rows[-1]["ctl_next_baseline"]
        # the era's baseline in the loop: epoch 0 uses each sample's accuracy; epoch 1 one step from the carried B
        # for every sample, so the epoch's mean baseline is 0.99 B + 0.01 mean(reward)
        assert rows[0]["ctl_baseline"] == pytest.approx(rows[0]["ctl_acc"] / 100)
        carried = rows[0]["ctl_next_baseline"]
        assert rows[1]["ctl_baseline"] == pytest.approx(0.99 * carried + 0.01 * rows[1]["ctl_reward"])
        if protocol == "nats":
            assert carried == pytest.approx(rows[0]["ctl_baseline"])  # the epoch's mean
    # NATS' architecture-batch pass fills the arch meter of RANDOM-NAS and ENAS; SETN always trains alpha on it
    has_arch = name == "setn" or protocol == "nats"
    assert all((r["arch_loss"] is not None) == has_arch for r in rows)
    assert checkpoint_path(tmp_path).is_file()


# --- ENAS controller --------------------------------------------------------------------------------------------
def manual_distributions(ctl: Controller, ops: tuple[int, ...]) -> list[torch.Tensor]:
    """Per-step probabilities softmax(tanh_constant * tanh(logits / temperature)) re-computed by hand, feeding the
    LSTM one step at a time with the previous choice's embedding."""
    out = []
    with torch.no_grad():
        x, state = ctl.start, None
        for op in ops:
            h, state = ctl.lstm(x, state)
            raw = h.view(-1) @ ctl.head.weight.T + ctl.head.bias
            bounded = ctl.tanh_constant * torch.tanh(raw / ctl.temperature)
            out.append(torch.exp(bounded) / torch.exp(bounded).sum())
            x = ctl.embed.weight[op].view(1, 1, -1)
    return out


def test_controller_log_prob_and_entropy_match_a_manual_recomputation():
    gen = torch.Generator().manual_seed(3)
    ctl = Controller(generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        drawn = ctl(gen)
        probs = manual_distributions(ctl, drawn.arch.ops)
        assert len(probs) == NUM_EDGES and all(p.shape == (NUM_OPS,) for p in probs)
        for p in probs:
            assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)
            # bounded logits: no op is ever more than e^5 times likelier than another
            assert float(p.max() / p.min()) <= math.exp(2 * 2.5) + 1e-3
        want_logp = sum(math.log(float(p[o])) for p, o in zip(probs, drawn.arch.ops, strict=True))
        want_h = sum(float(-(p * p.log()).sum()) for p in probs)
        assert float(drawn.log_prob.detach()) == pytest.approx(want_logp, abs=1e-5)
        assert float(drawn.entropy.detach()) == pytest.approx(want_h, abs=1e-5)
        forced = ctl(arch=drawn.arch)  # teacher forcing reports the same numbers
        assert float(forced.log_prob.detach()) == float(drawn.log_prob.detach()) and float(forced.entropy.detach()) == float(drawn.entropy.detach())
    # REINFORCE needs the gradient of log p to reach every part of the controller
    ctl.zero_grad()
    ctl(gen).log_prob.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ctl.parameters())
    # seeded draws repeat
    a = [ctl(torch.Generator().manual_seed(9)).arch for _ in range(3)]
    b = [ctl(torch.Generator().manual_seed(9)).arch for _ in range(3)]
    assert a == b


def test_controller_sequence_probabilities_sum_to_one():
    """Over every sequence of a 2-choice controller, the probabilities of the whole sequences sum to 1."""
    ctl = Controller(num_edges=2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        total = sum(math.exp(float(ctl(arch=seq).log_prob)) for seq in itertools.product(range(NUM_OPS), repeat=2))
    assert total == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="expected 2 op ids"):
        ctl(arch=(0, 1, 2))


def _epoch(rule: str, carried: float | None, accs: list[float], entropies: list[float]):
    """(baseline of each sample, advantage of each sample, the value carried to the next epoch) of one epoch."""
    b = ReinforceBaseline(rule, 0.99, carried)
    base, adv = [], []
    for a, h in zip(accs, entropies, strict=True):
        reward = torch.tensor(a, dtype=torch.float64) + 1e-4 * torch.tensor(h, dtype=torch.float64)
        value = b.update(reward, torch.tensor(a, dtype=torch.float64))
        base.append(float(value))
        adv.append(float(reward - value))
    return base, adv, b.carry()


# two epochs of made-up one-batch accuracies and entropies: rewards 0.2502, 0.5001, 0.7503 | 0.5001, 0.2501
ACCS, ENTS = ([0.25, 0.5, 0.75], [0.5, 0.25]), ([2.0, 1.0, 3.0], [1.0, 1.0])


def test_enas_nb201_baseline_is_frozen_per_epoch_and_carries_the_last_sample():
    """bb2f405 ENAS.py: the baseline is read-only inside the epoch (a namedtuple); epoch 0 has none (b = accuracy)."""
    base, adv, carry = _epoch("nb201-script", None, ACCS[0], ENTS[0])
    assert base == pytest.approx([0.25, 0.5, 0.75], abs=1e-12)
    assert adv == pytest.approx([0.0002, 0.0001, 0.0003], abs=1e-12)  # the entropy bonus alone
    assert carry == pytest.approx(0.75, abs=1e-12)  # the last sample's baseline
    base, adv, carry = _epoch("nb201-script", carry, ACCS[1], ENTS[1])
    # 0.75 - 0.01 * (0.75 - 0.5001) and 0.75 - 0.01 * (0.75 - 0.2501): both one step from 0.75, not chained
    assert base == pytest.approx([0.747501, 0.745001], abs=1e-12)
    assert adv == pytest.approx([-0.247401, -0.494901], abs=1e-12)
    assert carry == pytest.approx(0.745001, abs=1e-12)


def test_enas_nats_baseline_is_frozen_per_epoch_and_carries_the_epoch_mean():
    base, adv, carry = _epoch("nats-script", None, ACCS[0], ENTS[0])
    assert base == pytest.approx([0.25, 0.5, 0.75], abs=1e-12)
    assert adv == pytest.approx([0.0002, 0.0001, 0.0003], abs=1e-12)
    assert carry == pytest.approx(0.5, abs=1e-12)  # the mean of the epoch's baselines
    base, adv, carry = _epoch("nats-script", carry, ACCS[1], ENTS[1])
    assert base == pytest.approx([0.500001, 0.497501], abs=1e-12)  # 0.5 - 0.01 * (0.5 - r)
    assert adv == pytest.approx([0.000099, -0.247401], abs=1e-12)
    assert carry == pytest.approx(0.498751, abs=1e-12)


def test_enas_sample_baseline_is_an_ema_over_every_sample():
    base, adv, carry = _epoch("sample", None, ACCS[0], ENTS[0])
    # starts at the first reward, then chains: 0.2502 -> 0.2502 - 0.01 (0.2502 - 0.5001) -> ...
    assert base == pytest.approx([0.2502, 0.252699, 0.25767501], abs=1e-12)
    assert adv[0] == 0.0 and carry == pytest.approx(0.25767501, abs=1e-12)
    base, _, _ = _epoch("sample", carry, ACCS[1], ENTS[1])
    assert base[0] == pytest.approx(0.25767501 - 0.01 * (0.25767501 - 0.5001), abs=1e-12)


def test_enas_presets_use_their_eras_baseline():
    enas = get_searcher("enas")
    assert enas.PRESETS["nb201"].baseline_update == "nb201-script"
    assert enas.PRESETS["nats"].baseline_update == "nats-script"
    assert EnasConfig().baseline_update == "nb201-script"
    # the advantage keeps the entropy's gradient, as the original (reward - baseline with the reward inside)
    ent = torch.tensor(2.0, requires_grad=True)
    for rule, carried in (("nb201-script", None), ("nb201-script", 0.3), ("nats-script", 0.3)):
        reward = torch.tensor(0.5) + 1e-4 * ent
        (grad,) = torch.autograd.grad(reward - ReinforceBaseline(rule, 0.99, carried).update(reward, torch.tensor(0.5)),
                                      ent)
        assert float(grad) == pytest.approx(1e-4 if carried is None else 0.99e-4)


# --- SETN selection ---------------------------------------------------------------------------------------------
def test_setn_candidates_are_the_top_100_by_log_probability():
    alpha = torch.randn(NUM_EDGES, NUM_OPS, generator=torch.Generator().manual_seed(4))
    logp = torch.log_softmax(alpha.double(), dim=-1)
    brute = sorted(product_order(), key=lambda a: -sum(float(logp[e, o]) for e, o in enumerate(a.ops)))
    assert top_k_by_log_prob(alpha, 100) == brute[:100]
    assert top_k_by_log_prob(alpha, 1)[0] == Arch(tuple(int(i) for i in alpha.argmax(dim=-1)))
    assert len(top_k_by_log_prob(alpha, NUM_ARCHS + 5)) == NUM_ARCHS
    # log_probs' rows are the cells in enumeration (base-5 code) order
    codes = np.array([Arch.from_index(i).code for i in range(NUM_ARCHS)])
    by_index = [sum(float(logp[e, o]) for e, o in enumerate(Arch.from_index(i).ops)) for i in (0, 11472, 15624)]
    np.testing.assert_allclose(log_probs(alpha)[codes[[0, 11472, 15624]]], by_index, atol=1e-5)
    with pytest.raises(ValueError, match="positive integer"):
        top_k_by_log_prob(alpha, 0)


@torch.no_grad()
def one_batch_accuracies(run, archs, epoch: int) -> list[float]:
    """Each candidate's top-1 % on the next batch of the valid loader's stream of ``epoch``, computed by hand."""
    run.network.eval()
    stream = run.data.valid.cycle(epoch)
    accs = []
    for arch in archs:
        x, y = next(stream)
        run.network.set_mode("fixed", arch)
        accs.append(100.0 * float((run.network(x).argmax(dim=-1) == y).float().mean()))
    return accs


def test_setn_picks_the_best_of_its_top_100_on_one_batch_each(default_bench):
    cls, cfg = tiny("setn", candidates=100, test_batch_size=8)
    searcher = cls(cfg)
    run = searcher._start(context(default_bench))
    with torch.no_grad():
        run.network.alpha.normal_(generator=torch.Generator().manual_seed(2))
    cands = top_k_by_log_prob(run.alpha(), 100)
    assert len(run.data.valid) < 100  # the valid stream restarts mid-selection, as the original's loader does
    chosen = searcher.choose(run)
    accs = one_batch_accuracies(run, cands, run.epoch)
    assert list(chosen.accs) == accs
    assert chosen.arch == cands[int(np.argmax(accs))] and chosen.acc == max(accs)
    assert chosen.position == int(np.argmax(accs)) and len(set(accs)) > 1


# --- RANDOM-NAS selection ---------------------------------------------------------------------------------------
def test_random_candidates_independent_or_distinct():
    a = random_candidates(np.random.default_rng(0), 100, distinct=False)
    rng = np.random.default_rng(0)
    assert a == [Arch.sample(rng) for _ in range(100)]
    many = random_candidates(np.random.default_rng(1), 3000, distinct=False)
    assert len(set(many)) < 3000  # independent draws repeat (birthday bound: ~250 repeats expected)
    d = random_candidates(np.random.default_rng(0), 100, distinct=True)
    assert len(set(d)) == 100
    assert len(set(random_candidates(np.random.default_rng(1), NUM_ARCHS, distinct=True))) == NUM_ARCHS
    with pytest.raises(ValueError, match="15625"):
        random_candidates(np.random.default_rng(0), NUM_ARCHS + 1, distinct=True)


@pytest.mark.parametrize("protocol", ["nb201", "nats"])
def test_random_nas_picks_the_best_of_100_random_cells(protocol, default_bench):
    cls, cfg = tiny("random-nas", protocol, candidates=100, test_batch_size=8)
    searcher = cls(cfg)
    run = searcher._start(context(default_bench))
    twin = np.random.Generator(np.random.PCG64())
    twin.bit_generator.state = run.ctx.rng.bit_generator.state
    cands = random_candidates(twin, 100, distinct=protocol == "nats")
    chosen = searcher.choose(run)
    accs = one_batch_accuracies(run, cands, run.epoch)
    assert list(chosen.accs) == accs and len(accs) == 100
    assert chosen.arch == cands[int(np.argmax(accs))] and chosen.acc == max(accs)


def test_random_nas_urs_paths_give_every_cell_its_own_draw(default_bench):
    cls, cfg = tiny("random-nas", "nats")
    searcher = cls(cfg)
    run = searcher._start(context(default_bench))
    paths = [searcher.sample_path(run) for _ in range(50)]
    assert all(len(p) == run.network.num_cells for p in paths)
    cells = [a for p in paths for a in p]
    for a in cells:  # no node is fed by `none` alone
        assert all(any(a.ops[e] != 0 for e, _src in incoming) for incoming in INCOMING)
    assert len(set(cells)) > len(cells) // 2
    shared = get_searcher("random-nas")(tiny("random-nas", "nb201")[1]).sample_path(run)
    assert isinstance(shared, Arch)


# --- resume after a kill ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["enas", "setn"])
def test_resume_after_kill_equals_uninterrupted(name, default_bench, tmp_path):
    cls, cfg = tiny(name)
    straight = cls(cfg).search(context(default_bench, seed=11, run_dir=tmp_path / "straight"))

    killed = tmp_path / "killed"
    status = run_and_kill(cls, cfg, context(default_bench, seed=11, run_dir=killed), kill_at=1.6)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    saved = torch.load(checkpoint_path(killed), weights_only=False)
    assert saved["epoch"] == 1
    if name == "enas":
        assert set(saved["modules"]) == {"controller"} and "controller" in saved["optimizers"]
        assert saved["state"]["baseline"] is not None

    resumed = cls(cfg).search(context(default_bench, seed=11, run_dir=killed))
    assert resumed.info["resumed_from_epoch"] == 1 and len(resumed.trace) == 2
    assert resumed.arch == straight.arch
    assert comparable_rows(resumed.trace) == comparable_rows(straight.trace)
    same = ("final_select_acc", "final_select_position", "controller_baseline", "alpha", "initial_arch")
    assert {k: resumed.info.get(k) for k in same} == {k: straight.info.get(k) for k in same}
    a = torch.load(checkpoint_path(killed), weights_only=False)
    b = torch.load(checkpoint_path(tmp_path / "straight"), weights_only=False)
    assert all(torch.equal(a["network"][k], b["network"][k]) for k in a["network"])
    for m in a["modules"]:
        assert all(torch.equal(a["modules"][m][k], b["modules"][m][k]) for k in a["modules"][m])
    assert a["state"] == b["state"]
