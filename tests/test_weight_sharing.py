"""The weight-sharing machinery and DARTS-V1 / DARTS-V2 / GDAS, at toy sizes on the offline smoke data (CPU).

- the protocol presets and the per-epoch cosine LR (incl. ENAS' never-reset oscillation) and GDAS' tau;
- each searcher runs end to end and records what the protocol asks for;
- DARTS-V2 takes its steps in the era's order (its gradient and steps are checked against the original in
  tests/test_xautodl_reference.py);
- a run killed mid-epoch (SIGKILL) and started again ends bit-for-bit like an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_and_kill

from algos import SearchContext, get_searcher
from algos.oneshot import comparable_rows, supernet_config
from algos.oneshot_protocol import OneShotConfig, cosine_lr, protocol_settings, smoke
from search_space import Arch
from supernet.checkpoint import checkpoint_path
from supernet.network import Supernet
from supernet.runtime import seed_everything

MINE = ("darts-v1", "darts-v2", "gdas")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(name: str, **extra):
    """A smoke-sized config of ``name``: 2 epochs of 2 steps, one valid batch."""
    cls = get_searcher(name)
    return cls, smoke(cls.PRESETS["nb201"], **{"epochs": 2, "steps_per_epoch": 2, "valid_batches": 1, **extra})


def context(bench, seed: int = 5, run_dir: Path | None = None, progress=None) -> SearchContext:
    return SearchContext(bench=bench, dataset="cifar10", seed=seed, rng=np.random.default_rng(seed), run_dir=run_dir,
                         progress=progress)


# --- protocol ---------------------------------------------------------------------------------------------------
def test_presets_follow_the_protocol_tables():
    d1 = get_searcher("darts-v1").PRESETS["nb201"]
    assert (d1.epochs, d1.batch_size, d1.lr, d1.eta_min, d1.weight_decay, d1.grad_clip) == (50, 64, 0.025, 0.001,
                                                                                               5e-4, 5.0)
    assert (d1.momentum, d1.nesterov, d1.channels, d1.cells, d1.affine) == (0.9, True, 16, 5, False)
    assert (d1.arch_lr, d1.arch_betas, d1.arch_weight_decay) == (3e-4, (0.5, 0.999), 1e-3)
    assert get_searcher("gdas").PRESETS["nb201"].epochs == 250
    assert get_searcher("darts-v2").PRESETS["nb201"].unroll_r == 0.01
    # each era's DARTS-V2 step order and cell conv bias (bb2f405 vs NATS' search-cell.py / b9a5d28)
    v2 = get_searcher("darts-v2").PRESETS
    assert (v2["nb201"].step_order, v2["nats"].step_order) == ("alpha-first", "weights-first")
    assert get_searcher("darts-v2").preset("nb201", {"step_order": "weights-first"}).step_order == "weights-first"
    with pytest.raises(ValueError, match="valid: alpha-first, weights-first"):
        get_searcher("darts-v2").preset("nb201", {"step_order": "both"})
    for name in ("darts-v1", "darts-v2", "gdas", "setn", "enas", "random-nas"):
        presets = get_searcher(name).PRESETS
        assert (presets["nb201"].conv_bias, presets["nats"].conv_bias) == ("never", "if-not-affine")
    nats = get_searcher("gdas").PRESETS["nats"]
    assert (nats.epochs, nats.grad_clip, nats.track_running_stats, nats.affine, nats.test_batch_size,
            nats.candidates) == (100, None, False, False, 512, 100)
    assert protocol_settings("setn", "nb201")["grad_clip"] is None
    enas = OneShotConfig(**protocol_settings("enas", "nb201"))
    assert (enas.lr, enas.eta_min, enas.t_max, enas.weight_decay, enas.batch_size) == (0.05, 5e-4, 10, 2.5e-4, 128)
    with pytest.raises(ValueError, match="valid: nb201, nats"):
        protocol_settings("gdas", "nb202")
    # overrides from the command line are typed; BN=0 is the track_running_stats switch
    cfg = get_searcher("gdas").preset("nb201", {"track_running_stats": "0", "grad_clip": "none", "epochs": "7"})
    assert (cfg.track_running_stats, cfg.grad_clip, cfg.epochs) == (False, None, 7)
    s = smoke(d1)
    assert s.size == "smoke" and s.channels < 16 and d1.size == "protocol"
    for bad, match in (({"epochs": "0"}, "epochs=0"), ({"grad_clip": "-1"}, "grad_clip"),
                       ({"momentum": "1"}, "momentum"), ({"tau_min": "0"}, "tau_min")):
        with pytest.raises(ValueError, match=match):
            get_searcher("gdas").preset("nb201", bad)


def test_runner_smoke_overrides_set_what_smoke_sets():
    from runners.plan import smoke_overrides

    for name in ("darts-v1", "enas"):
        cls = get_searcher(name)
        for protocol, preset in cls.PRESETS.items():
            assert cls.preset(protocol, smoke_overrides(cls, protocol)) == smoke(preset)
    assert smoke_overrides(get_searcher("enas"), "nb201")["controller_steps"] == 2  # its own SMOKE_SIZES
    assert smoke_overrides(get_searcher("rea"), "nb201") == {}  # query-only: already fast


def test_cosine_schedule_per_epoch_and_enas_oscillation():
    d1 = get_searcher("darts-v1").PRESETS["nb201"]
    lrs = [d1.lr_at(e) for e in range(d1.epochs)]
    assert lrs[0] == pytest.approx(0.025)
    assert lrs[-1] == pytest.approx(0.001 + 0.024 * (1 + math.cos(math.pi * 49 / 50)) / 2)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))  # T_max = epochs: monotone, ends above eta_min
    enas = OneShotConfig(**protocol_settings("enas", "nb201"))
    lr = np.array([enas.lr_at(e) for e in range(enas.epochs)])
    assert lr[0] == pytest.approx(0.05) and lr[10] == pytest.approx(5e-4) and lr[20] == pytest.approx(0.05)
    np.testing.assert_allclose(lr[20:], lr[:-20], rtol=0, atol=1e-15)  # period 20, no warm restart jump at 10
    assert lr[11] == pytest.approx(lr[9])  # it climbs back up after t_max
    assert cosine_lr(5, 1.0, 0.0, 10) == pytest.approx(0.5)


def test_gdas_tau_falls_linearly_from_10_to_0_1():
    cfg = get_searcher("gdas").PRESETS["nb201"]
    taus = [cfg.tau_at(e) for e in range(cfg.epochs)]
    assert taus[0] == 10.0 and taus[-1] == pytest.approx(0.1)
    np.testing.assert_allclose(np.diff(taus), -9.9 / 249)


# --- end to end -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MINE)
def test_searcher_runs_end_to_end_on_smoke_data(name, default_bench, tmp_path):
    cls, cfg = tiny(name)
    assert cls.name == name and cls.kind == "weight-sharing"
    result = cls(cfg).search(context(default_bench, run_dir=tmp_path))
    rows = result.trace.rows
    assert [r["epoch"] for r in rows] == [0, 1]
    assert [r["lr"] for r in rows] == [cfg.lr_at(0), cfg.lr_at(1)]
    for r in rows:
        assert Arch.from_str(r["arch"]).index == r["arch_index"]
        assert r["cifar10_valid"] == default_bench.reported(r["arch_index"], "cifar10")["valid"]
        assert set(r) >= {"train_loss", "train_acc", "arch_loss", "arch_acc", "valid_loss", "valid_acc",
                          "cifar100_valid", "ImageNet16-120_test", "epoch_seconds"}
        assert 0 <= r["train_acc"] <= 100 and r["train_loss"] > 0 and r["arch_loss"] > 0
    # reported = the last epoch's argmax of alpha; alpha moved away from its 1e-3 init
    alpha = torch.tensor(result.info["alpha"])
    assert result.arch == Arch(tuple(int(i) for i in alpha.argmax(dim=-1))) and str(result.arch) == rows[-1]["arch"]
    seed_everything(5)  # the loop's start: seed, then the supernet (reading the data touches no torch RNG)
    alpha0 = Supernet(supernet_config(cfg, 10)).alpha.detach()
    moved = (alpha - alpha0).abs().max()
    assert 0.1 * cfg.arch_lr < moved < 4 * 4 * cfg.arch_lr  # 4 Adam steps of ~lr each (betas (0.5, 0.999))
    assert result.info["size"] == "smoke" and result.info["smoke"] and result.info["bn"] == 1
    assert result.info["best_valid_epoch"]["epoch"] in (0, 1)
    if name == "gdas":
        assert [r["tau"] for r in rows] == [10.0, pytest.approx(0.1)]
    assert checkpoint_path(tmp_path).is_file()


# --- resume after a kill ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gdas", "darts-v2"])  # Gumbel draws; the unrolled step reads SGD's momentum
def test_resume_after_kill_equals_uninterrupted(name, default_bench, tmp_path):
    cls = get_searcher(name)
    cfg = smoke(cls.PRESETS["nb201"], epochs=3, steps_per_epoch=2, valid_batches=1)
    straight = cls(cfg).search(dataclasses.replace(context(default_bench, seed=11), run_dir=tmp_path / "straight"))

    killed = tmp_path / "killed"
    status = run_and_kill(cls, cfg, context(default_bench, seed=11, run_dir=killed), kill_at=2.5)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL  # killed in the middle of epoch 3
    saved = torch.load(checkpoint_path(killed), weights_only=False)
    assert saved["epoch"] == 2 and len(saved["trace"]) == 2

    resumed = cls(cfg).search(dataclasses.replace(context(default_bench, seed=11), run_dir=killed))
    assert resumed.info["resumed_from_epoch"] == 2
    assert resumed.arch == straight.arch
    assert resumed.info["alpha"] == straight.info["alpha"]  # bit for bit (lists of Python floats)
    assert comparable_rows(resumed.trace) == comparable_rows(straight.trace)
    a = torch.load(checkpoint_path(killed), weights_only=False)["network"]
    b = torch.load(checkpoint_path(tmp_path / "straight"), weights_only=False)["network"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    # a finished run started again returns the same result without training; other settings refuse the folder
    again = cls(cfg).search(dataclasses.replace(context(default_bench, seed=11), run_dir=killed))
    assert again.arch == straight.arch and comparable_rows(again.trace) == comparable_rows(straight.trace)
    other = dataclasses.replace(cfg, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        cls(other).search(dataclasses.replace(context(default_bench, seed=11), run_dir=killed))
