"""The benchmark generator: presets, plans, data settings, resumable deterministic jobs, merging, and a query-only
searcher running on a self-made smoke benchmark (digits, C=2, N=1, one epoch, a few cells)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bench.generate import RESNET_INDEX, SCHEDULES, SETTINGS, Job, build_benchmark, make_plan, read_plan, train_job
from bench.generate.data import setting_data
from bench.generate.files import is_done, read_json
from bench.generate.local import parse_shard, pending_jobs, run_local
from bench.generate.merge import merge
from bench.generate.plan import select_archs, write_plan
from bench.generate.protocol import Schedule, override
from bench.generate.smoke import smoke_plan
from bench.generate.train import CHECKPOINT, RESULT, JobOptions
from bench.oracle import Benchmark
from runners.generate import __main__ as cli
from search_space import NUM_ARCHS, Arch
from supernet import param_count

TINY = dict(subset=128, eval_subset=128, threads=1)


def tiny_job(index: int = RESNET_INDEX, setting: str = "cifar10-valid", seed: int = 777, epochs: int = 2) -> Job:
    return Job(index, setting, seed, SCHEDULES["12"].smoke(epochs=epochs), "smoke", JobOptions(device="cpu", **TINY))


# --- presets ----------------------------------------------------------------------------------------------
def test_schedules_are_the_benchmarks() -> None:
    for name, epochs in (("200", 200), ("12", 12)):
        s = SCHEDULES[name]
        assert (s.epochs, s.lr, s.eta_min, s.momentum, s.nesterov, s.weight_decay, s.batch_size, s.C, s.N) == (
            epochs, 0.1, 0.0, 0.9, True, 5e-4, 256, 16, 5)
        assert s.lr_at(0) == pytest.approx(0.1)
        assert s.lr_at(epochs // 2) == pytest.approx(0.05)
        assert 0 < s.lr_at(epochs - 1) < 0.01
        lrs = [s.lr_at(e) for e in range(epochs)]
        assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEDULES["12"].epochs = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="epoch 12 is outside"):
        SCHEDULES["12"].lr_at(12)
    with pytest.raises(ValueError, match="positive integer"):
        Schedule("x", 0)
    assert override(SCHEDULES["12"], {"epochs": "3", "nesterov": "false"}).epochs == 3
    with pytest.raises(ValueError, match="valid: name, epochs"):
        override(SCHEDULES["12"], {"epoch": "3"})


def test_settings_and_sources() -> None:
    assert set(SETTINGS) == {"cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"}
    assert SETTINGS["cifar10-valid"].weights == "train-half" and SETTINGS["cifar10-valid"].evals == ("x-valid",)
    assert SETTINGS["cifar10"].weights == "train-all" and SETTINGS["cifar10"].evals == ("ori-test",)
    assert SETTINGS["cifar100"].evals == ("x-valid", "x-test")
    with pytest.raises(ValueError, match="valid: cifar100, smoke"):
        Job(0, "cifar100", 777, SCHEDULES["12"], "cifar10-jpeg")
    with pytest.raises(ValueError, match="out of range"):
        Job(NUM_ARCHS, "cifar10", 777, SCHEDULES["12"], "cifar10")


# --- plans ------------------------------------------------------------------------------------------------
def test_select_archs() -> None:
    assert select_archs("resnet") == (RESNET_INDEX,)
    assert select_archs("0..3") == (0, 1, 2, 3)
    resnet = str(Arch.from_index(RESNET_INDEX))
    assert select_archs([resnet, "5", "3..5"]) == (RESNET_INDEX, 5, 3, 4)
    assert len(select_archs("all")) == NUM_ARCHS
    for bad in ("5..3", "0..15625", "nonsense", ""):
        with pytest.raises(ValueError, match="FROM|valid"):
            select_archs(bad)


def test_plan_file_roundtrip_and_jobs(tmp_path) -> None:
    plan = make_plan("0..2", seeds=[777, 888], schedules=["12", "200"], data={"cifar10": "cifar10-jpeg"},
                     data_dir="/data", threads=1)
    assert len(plan.jobs()) == 3 * 4 * 2 * 2
    assert [j.schedule.epochs for j in plan.jobs()][:24] == [12] * 24  # the short schedule first, cell by cell
    assert {j.data for j in plan.jobs() if j.setting in ("cifar10", "cifar10-valid")} == {"cifar10-jpeg"}
    path = write_plan(plan, tmp_path)
    assert read_plan(tmp_path) == plan == read_plan(path)
    assert write_plan(plan, tmp_path) == path  # the same plan again is fine
    with pytest.raises(ValueError, match="different plan"):
        write_plan(make_plan("resnet"), tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        make_plan("resnet", schedules=[SCHEDULES["12"], SCHEDULES["12"].replace(name="other")])
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ValueError, match="0 <= I < N"):
        parse_shard("4/4")


# --- data -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SETTINGS))
def test_setting_data_keeps_training_and_evaluation_apart(name: str) -> None:
    sett = SETTINGS[name]
    data = setting_data(sett, "smoke", seed=1, batch_size=64, eval_batch_size=64)
    train = set(data.train.indices.tolist())
    assert data.train.train_transform and all(not v.train_transform for v in data.evals.values())
    assert set(data.evals) == set(sett.evals)
    for loader in data.evals.values():
        assert not train & set(loader.indices.tolist())
    if name == "cifar10-valid":
        assert len(train) == data.split.sizes()["train"]
    else:  # trained on the whole training set (the digits' train + valid parts)
        assert len(train) == data.split.sizes()["train"] + data.split.sizes()["valid"]
    if "x-test" in data.evals:
        xv, xt = (set(data.evals[k].indices.tolist()) for k in ("x-valid", "x-test"))
        assert not xv & xt and xv | xt == set(data.split["test"].tolist())
    assert data.describe()["smoke"] is True


# --- one job ----------------------------------------------------------------------------------------------
def test_job_resumes_to_the_same_result(tmp_path) -> None:
    job = tiny_job(epochs=2)
    whole = train_job(job, tmp_path / "a")
    assert whole.status == "done" and is_done(job.folder(tmp_path / "a"))
    assert not (job.folder(tmp_path / "a") / CHECKPOINT).exists()
    assert train_job(job, tmp_path / "a").status == "skipped"

    first = train_job(job, tmp_path / "b", stop_after=1)  # as if killed after epoch 1
    assert first.status == "stopped" and first.epochs_done == 1
    assert (job.folder(tmp_path / "b") / CHECKPOINT).is_file() and not is_done(job.folder(tmp_path / "b"))
    assert train_job(job, tmp_path / "b").status == "done"

    a, b = (read_json(job.folder(tmp_path / r) / RESULT) for r in ("a", "b"))
    for key in ("loss", "acc", "lr"):
        assert a["train"][key] == b["train"][key]
    assert a["eval"]["x-valid"]["acc"] == b["eval"]["x-valid"]["acc"]
    assert a["eval"]["x-valid"]["loss"] == b["eval"]["x-valid"]["loss"]
    assert len(a["train"]["seconds"]) == 2 and all(s > 0 for s in a["train"]["seconds"])
    assert a["summary"]["params_M"] * 1e6 == pytest.approx(param_count(job.arch, 10, C=2, N=1))
    assert a["data"]["smoke"] is True and a["data"]["num_train"] == 128

    other = dataclasses.replace(job, seed=888)  # another run's checkpoint is refused, never resumed
    folder = other.folder(tmp_path / "b")
    folder.mkdir(parents=True)
    train_job(job, tmp_path / "c", stop_after=1)
    (folder / CHECKPOINT).write_bytes((job.folder(tmp_path / "c") / CHECKPOINT).read_bytes())
    with pytest.raises(ValueError, match="was written by a run with job="):
        train_job(other, tmp_path / "b")


# --- a smoke benchmark, and a query-only searcher on it ----------------------------------------------------
def test_smoke_benchmark_serves_random_search(tmp_path) -> None:
    from algos.base import SearchContext
    from algos.query import Draws, random_cell
    from algos.random_search import RandomSearch

    seed = 3
    draws = Draws(np.random.default_rng(seed))  # the cells random search will draw first, given this seed
    first = [random_cell(draws) for _ in range(10)]
    cells = list(dict.fromkeys(first)) + [RESNET_INDEX]
    plan = smoke_plan(cells=cells, seeds=(777, 888), epochs=1, settings=("cifar10-valid",), **TINY)
    write_plan(plan, tmp_path)

    partial = run_local(tmp_path, shard=(0, 2), log=None)  # half the jobs, as one of two workers would
    assert len(partial) == len(plan.jobs()) // 2 + len(plan.jobs()) % 2
    half = merge(tmp_path)
    trials = half.trials["cifar10-valid/x-valid@1"]
    assert np.sum(~np.isnan(trials)) == len(partial)
    assert np.isnan(half.means["cifar10-valid/x-valid@1"][[i for i in range(NUM_ARCHS) if i not in cells]]).all()
    assert len(pending_jobs(tmp_path)) == len(plan.jobs()) - len(partial)
    run_local(tmp_path, log=None)
    bench = Benchmark.load(build_benchmark(tmp_path))

    name = "cifar10-valid/x-valid@1"
    acc = bench.table.means[name]
    assert np.flatnonzero(~np.isnan(acc)).tolist() == sorted(cells)  # untrained cells NaN, never zero
    assert bench.table.trials[name].shape == (NUM_ARCHS, 2) and bench.table.curves[name].shape == (NUM_ARCHS, 2, 1)
    assert ((acc[cells] >= 0) & (acc[cells] <= 100)).all()
    for metric in ("cifar10-valid/train_seconds@1", "cifar10-valid/eval_seconds@1", "cifar10-valid/latency_s"):
        assert (bench.table.means[metric][cells] > 0).all()
    for i in (RESNET_INDEX, 0, 15624):  # counts need no training: every cell has them
        assert bench.value(i, "cifar10-valid/params_M") * 1e6 == pytest.approx(param_count(Arch.from_index(i), 10,
                                                                                           C=2, N=1))
    assert np.isnan(bench.table.means["cifar10-valid/latency_s"]).sum() == NUM_ARCHS - len(cells)
    assert bench.table.info["smoke"] is True and bench.table.info["importer"] == "bench.generate"
    # final losses and the seed of each trial (plan order), -1 where nothing was trained
    losses = bench.table.trials["cifar10-valid/x-valid-loss@1"]
    assert np.isfinite(losses[cells]).all() and (losses[cells] > 0).all()
    seeds = bench.table.seeds["cifar10-valid@1"]
    assert (seeds[cells] == [777, 888]).all() and (np.delete(seeds, cells, axis=0) == -1).all()
    assert bench.table.trials["cifar10-valid/latency_s"].shape == (NUM_ARCHS, 2)

    cost = bench.table.means["cifar10-valid/train_seconds@1"] + bench.table.means["cifar10-valid/eval_seconds@1"]
    m = 6  # the budget lets exactly the first m draws run; the (m+1)-th would overflow it (nb201 rule)
    budget = float(sum(cost[c] for c in first[:m]) + 0.5 * cost[first[m]])
    searcher = RandomSearch(RandomSearch.preset("nb201", {"proxy_epochs": "1", "time_budget": str(budget)}))
    ctx = SearchContext(bench=bench, dataset="cifar10", seed=seed, rng=np.random.default_rng(seed))
    result = searcher.search(ctx)
    rows = result.trace.rows
    assert [r["index"] for r in rows] == first[:m]
    for r in rows:  # every answer is one trial of the trained cell, costed as the clock charges
        assert any(math.isclose(r["accuracy"], t) for t in bench.table.trials[name][r["index"]])
        assert r["cost"] == pytest.approx(cost[r["index"]])
    best = max(rows, key=lambda r: r["accuracy"])
    assert result.arch.index == best["index"] and result.info["time_used"] <= budget


def test_cli(tmp_path, capsys) -> None:
    assert cli.main(["show"]) == 0
    assert '"weight_decay": 0.0005' in capsys.readouterr().out
    assert cli.main(["plan", str(tmp_path), "--archs", "nonsense"]) == 2
    assert "valid: all, FROM..TO" in capsys.readouterr().err
    assert cli.main(["plan", str(tmp_path), "--archs", "resnet", "--settings", "cifar10", "--schedules", "12",
                     "--set", "epochs=1", "--data", "cifar10=smoke", "--seeds", "777"]) == 0
    plan = read_plan(tmp_path)
    assert plan.schedules[0].name == "12-epochs1" and plan.schedules[0].epochs == 1
    assert plan.archs == (RESNET_INDEX,) and plan.source("cifar10") == "smoke"
