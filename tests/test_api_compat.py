"""The compatibility suite of the user API (`bench.api`).

1. The official packages side by side: the small files in the official schemas (tests/official.py) are read by
   ``nas_201_api`` / ``nats_bench`` and by our importers, and every call of the user API is made on both; each
   answer of ours equals the official one, key by key, except the keys documented as missing here (`DOCUMENTED`:
   figures the table does not keep), which our answer leaves out and explains.
2. The READMEs' usage snippets (NAS-Bench-201's API section, AA-NAS-Bench's, NATS-Bench's), run as written against
   the embedded default (the published figures) and against a small benchmark built by ``bench.generate`` that
   kept its weights: every call answers, or raises an error naming the figure the source lacks and where it is.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from official import CELLS, SPLITS

from bench import Benchmark, MissingFigureError
from bench.api import (
    API,
    AANASBenchAPI,
    AbsentFigureError,
    NASBench201API,
    NATStopology,
    NoWeightsError,
    create,
    get_cell_based_tiny_net,
    str2lists,
    str2matrix,
)
from bench.api.figures import EVAL_TIME_SPLIT
from bench.importers.nats import read_nats
from bench.importers.nb201 import ALL_SPLITS
from search_space import NUM_ARCHS, Arch

README_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
HPS = ("12", "200")


# --- the two sides -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_pair(nb201_official: Any, nb201_bench: Benchmark) -> tuple[Any, NASBench201API]:
    return nb201_official, API(nb201_bench, verbose=False, seed=0)


@pytest.fixture(scope="module")
def nats_pair(nats_file: Path) -> tuple[Any, NATStopology]:
    import nats_bench

    official = nats_bench.create(str(nats_file), "tss", fast_mode=False, verbose=False)
    ours = create(Benchmark(read_nats(nats_file, curve_splits=ALL_SPLITS)), "tss", verbose=False, seed=0)
    return official, ours


def pairs(request: pytest.FixtureRequest, which: str) -> tuple[Any, NASBench201API]:
    return request.getfixturevalue(f"{which}_pair")


# --- comparing answers ---------------------------------------------------------------------------------------
def _eval_splits(dataset: str) -> list[str]:
    return list(SPLITS[dataset])


def documented(call: str, dataset: str, split: str | None = None, iepoch: int | None = None) -> set[str]:
    """Keys an answer of ours may leave out where the official one has a value: figures our tables do not keep.

    - ``cur_time`` (one epoch's time): tables keep whole-schedule times (``final-for-epoch`` gives them pro rata);
    - evaluation times of any split but the one a search is charged for (`EVAL_TIME_SPLIT`);
    - after an epoch before the last: times (pro rata only with ``final-for-epoch``), losses and training
      accuracies (tables keep accuracy curves of the evaluation splits only).
    """
    timed = EVAL_TIME_SPLIT[dataset]
    if call == "metrics":
        out = {"cur_time"}
        if split not in ("train", timed):
            out.add("all_time")
        if iepoch is not None:
            out |= {"all_time", "loss"}
        return out
    if call == "costs":
        return {f"T-{s}@{w}" for s in _eval_splits(dataset) if s != timed for w in ("epoch", "total")}
    if call == "more":
        from bench.api.nb201 import EVAL_SETS

        out = {f"{p}-{t}" for p, s in EVAL_SETS[dataset].items() if s != timed for t in ("per-time", "all-time")}
        if iepoch is not None:  # no training curves either
            out |= {f"{p}-{f}" for p in ("train", *EVAL_SETS[dataset]) for f in ("per-time", "all-time", "loss")}
            out.add("train-accuracy")
        return out
    raise AssertionError(call)


def same(ours: dict, official: dict, allowed_missing: set[str], where: str, rel: float = 1e-9) -> int:
    """Every official key: the same value in ours, or (official None, or documented) left out with a reason.
    Ours holds no key the official answer lacks. Returns how many values were compared. ``rel``: 1e-6 for values
    read from per-epoch curves, which tables keep as float32."""
    assert set(ours) <= set(official), f"{where}: keys the official answer lacks: {set(ours) - set(official)}"
    compared = 0
    for key, theirs in official.items():
        if key in ours:
            assert theirs is not None, f"{where}: {key} is None officially, {ours[key]} here"
            if isinstance(theirs, str):
                assert ours[key] == theirs, where
            else:
                assert ours[key] == pytest.approx(float(theirs), rel=rel, abs=1e-9), f"{where}: {key}"
            compared += 1
        else:
            assert key in ours.missing, f"{where}: {key} neither answered nor explained"
            assert theirs is None or key in allowed_missing, f"{where}: {key} ({theirs}) missing: {ours.missing[key]}"
            with pytest.raises(AbsentFigureError):
                ours[key]
    return compared


def official_or_none(call: Any) -> Any:
    try:
        return call()
    except (KeyError, ValueError, AssertionError, IndexError, TypeError):
        return None


# --- 1. the official packages side by side ------------------------------------------------------------------
@pytest.mark.parametrize("which", ["nb201", "nats"])
def test_the_space(request: pytest.FixtureRequest, which: str) -> None:
    official, ours = pairs(request, which)
    assert len(ours) == len(official) == NUM_ARCHS
    for i in (0, 1, 6111, 11472, NUM_ARCHS - 1):
        assert ours[i] == official[i] and ours.arch(i) == official.arch(i)
    assert list(ours)[:100] == [official[i] for i in range(100)]
    for arch in (README_ARCH, official[11472], README_ARCH.replace("avg_pool_3x3", "max_pool_3x3"), 1234):
        assert ours.query_index_by_arch(arch) == official.query_index_by_arch(arch)
    for bad in (NUM_ARCHS, -1):
        with pytest.raises(ValueError):
            official.query_index_by_arch(bad)
        with pytest.raises(ValueError):
            ours.query_index_by_arch(bad)
    assert sorted(ours.avaliable_hps) == sorted(official.avaliable_hps)
    assert ours.evaluated_indexes == sorted(official.evaluated_indexes) == sorted(CELLS)
    assert 0 <= ours.random() < NUM_ARCHS
    assert type(ours).__name__ in repr(ours) and f"{len(CELLS)}/{NUM_ARCHS} architectures" in repr(ours)
    assert repr(official).split(" architectures")[0].split("(")[1] == repr(ours).split(" architectures")[0].split("(")[1]


@pytest.mark.parametrize("which", ["nb201", "nats"])
def test_arch_results_and_trials(request: pytest.FixtureRequest, which: str) -> None:
    """query_meta_info_by_index -> ArchResults: dataset names, seeds, get_metrics (mean, every seed, epochs),
    get_compute_costs / get_comput_costs; query_by_index -> ResultsCount: get_train / get_eval / get_latency /
    get_config / get_times."""
    official, ours = pairs(request, which)
    compared = 0
    for i in CELLS:
        for hp in HPS:
            theirs, mine = official.query_meta_info_by_index(i, hp), ours.query_meta_info_by_index(i, hp)
            assert mine.arch_index == theirs.arch_index and mine.arch_str == theirs.arch_str
            assert mine.arch_idx_str() == theirs.arch_idx_str()
            assert mine.get_dataset_names() == theirs.get_dataset_names()
            assert mine.get_total_epoch() == theirs.get_total_epoch() == int(hp)
            for ds in theirs.get_dataset_names():
                seeds = theirs.get_dataset_seeds(ds)
                assert mine.get_dataset_seeds(ds) == seeds and mine.dataset_seed[ds] == seeds
                epochs = int(hp)
                for split in ("train", *SPLITS[ds]):
                    for iepoch in (None, epochs // 2, 0):
                        for pick in (False, *seeds):
                            where = f"{which} cell {i} hp {hp} {ds} {split} iepoch {iepoch} is_random {pick}"
                            want = theirs.get_metrics(ds, split, iepoch, pick)
                            if split == "train" and iepoch is not None:  # no training curves kept: an error
                                with pytest.raises(MissingFigureError, match="final-for-epoch"):
                                    mine.get_metrics(ds, split, iepoch, pick)
                                continue
                            got = mine.get_metrics(ds, split, iepoch, pick)
                            want["iepoch"] = int(want["iepoch"])
                            compared += same(got, want, documented("metrics", ds, split, iepoch), where,
                                             rel=1e-9 if iepoch is None else 1e-6)
                if hp == "200":  # model figures come from the 200-epoch runs (see test_documented_differences)
                    costs = theirs.get_compute_costs(ds)
                    compared += same(mine.get_compute_costs(ds), costs, documented("costs", ds), f"costs {i} {ds}")
                    assert dict(mine.get_comput_costs(ds)) == dict(mine.get_compute_costs(ds))  # the old spelling
                trials_theirs, trials_mine = official.query_by_index(i, ds, hp), ours.query_by_index(i, ds, hp)
                assert list(trials_mine) == list(trials_theirs) == seeds
                for seed, rc in trials_theirs.items():
                    mc = trials_mine[seed]
                    assert mc.seed == rc.seed and mc.name == rc.name and mc.get_total_epoch() == rc.get_total_epoch()
                    assert sorted(mc.get_eval_set()) == sorted(rc.get_eval_set())
                    assert mc.get_config(None) == rc.get_config(None)
                    assert mc.get_config(str2lists) == rc.get_config(str2lists)
                    compared += same(mc.get_train(), rc.get_train(), documented("metrics", ds, "train"), "train")
                    for split in rc.get_eval_set():
                        compared += same(mc.get_eval(split), rc.get_eval(split), documented("metrics", ds, split),
                                         f"eval {split}")
                    if "x-valid" in rc.get_eval_set():
                        assert dict(mc.get_eval("valid")) == dict(mc.get_eval("x-valid"))
                    if hp == "200":
                        assert (mc.params, mc.flop) == (pytest.approx(rc.params), pytest.approx(rc.flop))
                        if rc.get_latency() > 0:
                            assert mc.get_latency() == pytest.approx(rc.get_latency())
                        else:  # officially -1.0 ("not available"): here an error saying so
                            with pytest.raises(MissingFigureError):
                                mc.get_latency()
                    times = rc.get_times()
                    compared += same(mc.get_times(), times, documented("costs", ds), "times")
    assert compared > 1500


@pytest.mark.parametrize("which", ["nb201", "nats"])
def test_get_more_info(request: pytest.FixtureRequest, which: str) -> None:
    """Every dataset, schedule, epoch and trial choice; a random trial is one of the official trials, whole."""
    official, ours = pairs(request, which)
    compared = 0
    for i in CELLS:
        for hp in HPS:
            names = official.query_meta_info_by_index(i, hp).get_dataset_names()
            for ds in names:
                seeds = official.query_meta_info_by_index(i, hp).get_dataset_seeds(ds)
                for iepoch in (None, int(hp) // 2):
                    per_seed = {}
                    for pick in (False, *seeds):
                        where = f"{which} more {i} {ds} hp {hp} iepoch {iepoch} {pick}"
                        want = official.get_more_info(i, ds, iepoch, hp, pick)
                        got = ours.get_more_info(i, ds, iepoch, hp, pick)
                        compared += same(got, want, documented("more", ds, iepoch=iepoch), where,
                                         rel=1e-9 if iepoch is None else 1e-6)
                        per_seed[pick] = got
                    drawn = ours.get_more_info(i, ds, iepoch, hp)  # the defaults: a random trial
                    assert any(dict(drawn) == dict(per_seed[s]) for s in seeds), "a random trial is one trial"
    assert compared > 300
    # the official defaults (hp='12', a random trial) on a cell with 12-epoch figures
    random.seed(0)
    assert ours.get_more_info(0, "cifar10-valid")["valid-accuracy"] in [
        official.get_more_info(0, "cifar10-valid", None, "12", s)["valid-accuracy"] for s in (777, 888, 999)]


@pytest.mark.parametrize("which", ["nb201", "nats"])
def test_costs_latency_config_best(request: pytest.FixtureRequest, which: str) -> None:
    official, ours = pairs(request, which)
    for i in CELLS:
        for ds in official.query_meta_info_by_index(i, "200").get_dataset_names():
            want = official_or_none(lambda i=i, ds=ds: official.get_net_config(i, ds))  # reads the 12-epoch runs
            assert want is None or ours.get_net_config(i, ds) == want
            same(ours.get_cost_info(i, ds, "200"), official.get_cost_info(i, ds, "200"), documented("costs", ds), "c")
            latency = official.get_latency(i, ds, "200")
            if latency is not None:
                assert ours.get_latency(i, ds, "200") == pytest.approx(latency)
    for ds, on_set in [("cifar10", "valid"), ("cifar10", "test"), ("cifar100", "valid"), ("cifar100", "test"),
                       ("ImageNet16-120", "valid"), ("ImageNet16-120", "x-test"), ("cifar10-valid", "x-valid")]:
        for hp in HPS:
            if which == "nb201":
                want = official_or_none(lambda ds=ds, on_set=on_set, hp=hp: official.find_best(ds, on_set, None, None,
                                                                                            hp))
                got = ours.find_best(ds, on_set, None, None, hp)
            else:
                want = official_or_none(lambda ds=ds, on_set=on_set, hp=hp: official.find_best(ds, on_set, hp=hp))
                got = ours.find_best(ds, on_set, hp=hp)
            if want is not None:
                assert got == (want[0], pytest.approx(want[1]))
        caps = {"FLOP_max": 100.0, "Param_max": 1.0} if which == "nb201" else {"flop_max": 100.0, "param_max": 1.0}
        want = official_or_none(lambda ds=ds, on_set=on_set, caps=caps: official.find_best(ds, on_set, hp="200",
                                                                                          **caps))
        if want is not None:
            got = ours.find_best(ds, on_set, hp="200", **caps)
            assert got[0] == want[0] and (want[1] is None or got[1] == pytest.approx(want[1]))


def test_statistics_simulate_and_unique_strings(nats_pair) -> None:
    official, ours = nats_pair
    for ds in SPLITS:
        for hp in HPS:
            assert ours.statistics(ds, hp) == official.statistics(ds, hp)
    for i in CELLS:  # the official NATS-Bench answer: a random trial's accuracy, its cost, the cumulative time
        options = {s: official.get_more_info(i, "cifar10-valid", None, "200", s) for s in (777, 888, 999)
                   if s in official.query_meta_info_by_index(i, "200").get_dataset_seeds("cifar10-valid")}
        before = ours.used_time
        acc, latency, cost, total = ours.simulate_train_eval(i, "cifar10", hp="200")
        assert any(acc == o["valid-accuracy"] and cost == pytest.approx(o["train-all-time"] + o["valid-per-time"])
                   for o in options.values())
        assert total == pytest.approx(before + cost) and latency == pytest.approx(official.get_latency(i, "cifar10",
                                                                                                      "200"))
    ours.reset_time()
    assert ours.used_time == 0
    for arch in (README_ARCH, *[str(Arch.from_index(i)) for i in range(0, NUM_ARCHS, 997)]):
        assert ours.get_unique_str(arch) == official.get_unique_str(arch)
    assert (ours.is_topology, ours.is_size, ours.search_space_name) == (official.is_topology, official.is_size,
                                                                        official.search_space_name)
    assert ours.full_train_epochs == official.full_train_epochs and ours.fast_mode == official.fast_mode


def test_info_strings_and_encodings(nb201_pair) -> None:
    official, ours = nb201_pair
    for i in CELLS:
        assert ours.query_info_str_by_arch(i, "200") == official.query_info_str_by_arch(i, "200")
        assert ours.query_by_arch(i, "200") == official.query_by_arch(i, "200")
        from nas_201_api.api_201 import print_information

        info = official.query_meta_info_by_index(i, "200")
        with pytest.raises(NameError):  # nas-bench-201 2.1's ArchResults.show calls a function of another module
            info.show()
        assert ours.query_meta_info_by_index(i, "200").show() == print_information(info, None)
    for arch in (README_ARCH, *[str(Arch.from_index(i)) for i in range(0, NUM_ARCHS, 311)]):
        assert str2lists(arch) == official.str2lists(arch) == ours.str2lists(arch)
        np.testing.assert_array_equal(str2matrix(arch), official.str2matrix(arch))
        assert str2matrix(arch).dtype == official.str2matrix(arch).dtype
    with pytest.raises(ValueError, match=r"this op \(max_pool_3x3\) is not in"):
        str2matrix(README_ARCH.replace("avg_pool_3x3", "max_pool_3x3"))
    with pytest.raises(ValueError):
        official.str2matrix(README_ARCH.replace("avg_pool_3x3", "max_pool_3x3"))


def test_documented_differences(nb201_pair) -> None:
    """What the closing note lists: answers that differ in shape, with the reason, checked."""
    official, ours = nb201_pair
    i = 11472
    # 1. no weights in the official results files: the official API answers None, ours says why
    assert official.get_net_param(i, "cifar10", None, "200") == {777: None, 888: None}
    with pytest.raises(NoWeightsError, match="official NAS-Bench-201 files.*--keep-weights"):
        ours.get_net_param(i, "cifar10", None, "200")
    # 2. an unmeasured latency: -1.0 officially (in a trial), an error here
    rc = official.query_by_index(6111, "cifar10-valid", "200")
    assert [r.get_latency() for r in rc.values()][1] == -1.0
    with pytest.raises(MissingFigureError):
        ours.query_by_index(6111, "cifar10-valid", "200")[list(rc)[1]].get_latency()
    # 3. absent times: None officially, left out (and explained) here
    theirs = official.get_more_info(6111, "cifar10", None, "200", False)
    assert theirs["train-all-time"] is None
    mine = ours.get_more_info(6111, "cifar10", None, "200", False)
    assert "train-all-time" not in mine and "cifar10/train_seconds@200" in mine.missing["train-all-time"]
    # 4. model figures: from the 200-epoch runs whatever hp (the official answer reads each schedule's records)
    assert ours.get_cost_info(i, "cifar100", "12")["params"] == ours.get_cost_info(i, "cifar100", "200")["params"]


# --- 2. the READMEs' snippets --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A benchmark built by bench.generate that kept its weights: the READMEs' cells (1, 3, 112, 123) on the four
    settings with two seeds, on the offline digits, 12-epoch smoke schedule (~10 s)."""
    from bench.generate.job import JobOptions
    from bench.generate.plan import Plan
    from bench.generate.protocol import SCHEDULES
    from bench.generate.smoke import build_smoke

    root = tmp_path_factory.mktemp("smoke-bench")
    plan = Plan(archs=(1, 3, 112, 123), settings=("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"),
                seeds=(777, 888), schedules=(SCHEDULES["12"].smoke(epochs=12, batch_size=32),),
                data=(("cifar10", "smoke"), ("cifar100", "smoke"), ("ImageNet16-120", "smoke")),
                options=JobOptions(device="cpu", subset=32, eval_subset=32, threads=1, keep_weights=True))
    build_smoke(root, plan)
    return root


def nb201_readme(api: NASBench201API, out: list[str], weights_root: Path | None) -> dict[str, Any]:
    """NAS-Bench-201's README, "How to Use NAS-Bench-201" and "Detailed Instruction", as written (the API is made
    by the caller). Returns what it computed; a call the source cannot answer raises."""
    got: dict[str, Any] = {}
    num = len(api)
    for i, arch_str in enumerate(api):
        if i < 3:
            out.append(f"{i:5d}/{len(api):5d} : {arch_str}")
    got["num"] = num
    api.show(1)
    api.show(2)
    index = api.query_index_by_arch(README_ARCH)
    api.show(index)
    got["index"] = index
    config = api.get_net_config(123, "cifar10")
    network = get_cell_based_tiny_net(config)
    out.append(str(network)[:40])
    got["network"] = network
    info = api.query_meta_info_by_index(1)
    got["cost_metrics"] = info.get_comput_costs("cifar100")
    got["res_metrics"] = info.get_metrics("cifar10", "train")
    results = api.query_by_index(1, "cifar100")
    out.append(f"There are {len(results)} trials for this architecture [{api[1]}] on cifar100")
    for _seed, result in results.items():
        out.append(f"Latency : {result.get_latency()}")
        out.append(f"Train Info : {result.get_train()}")
        out.append("Valid Info : {:}".format(result.get_eval("x-valid")))
        out.append("Test  Info : {:}".format(result.get_eval("x-test")))
        out.append(f"Train Info [10-th epoch] : {result.get_train(10)}")
    got["results"] = results
    got["more"] = api.get_more_info(112, "cifar10", None, hp="12", is_random=True)
    if weights_root is not None:
        api.reload(str(weights_root), 3)
        weights = api.get_net_param(3, "cifar10", None)
        got["weights"] = weights
    return got


def test_nb201_readme_on_a_built_benchmark(smoke_root: Path) -> None:
    """Every call of the README answers on a benchmark this harness built (12-epoch schedule, weights kept)."""
    from bench.generate.merge import BENCHMARK

    api = API(str(smoke_root / BENCHMARK), verbose=False, seed=0)
    out: list[str] = []
    got = nb201_readme(api, out, smoke_root)
    assert got["num"] == NUM_ARCHS and got["index"] == 1
    assert got["res_metrics"]["accuracy"] == pytest.approx(api.bench.value(1, "cifar10/train@12"))
    assert got["res_metrics"]["loss"] == pytest.approx(api.bench.value(1, "cifar10/train-loss@12"))
    assert set(got["cost_metrics"]) >= {"flops", "params", "latency", "T-train@epoch", "T-train@total"}
    assert list(got["results"]) == [777, 888]  # the build records its seeds
    weights = got["weights"]
    assert sorted(weights) == [777, 888] and next(iter(weights)) == 777  # the README loads the first: seed 777's
    config = api.get_net_config(3, "cifar10")
    net = get_cell_based_tiny_net(config)
    net.load_state_dict(next(iter(weights.values())))  # the README's last step: the trained network
    assert api.get_net_param(3, "cifar10", 888, hp="12").keys() == weights[888].keys()
    import torch

    # the trained network runs: finite logits of the dataset's classes, other than a freshly initialised one's
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    fresh = get_cell_based_tiny_net(config)
    net.eval(), fresh.eval()
    with torch.no_grad():
        logits = net(x)
        assert logits.shape == (4, config["num_classes"]) == (4, 10) and torch.isfinite(logits).all()
        assert not torch.allclose(logits, fresh(x))
    api.clear_params(3)
    with pytest.raises(NoWeightsError, match="cleared"):
        api.get_net_param(3, "cifar10", None)
    api.reload(index=3)  # archive_root None: the build the table came from
    assert sorted(api.get_net_param(3, "cifar10", None)) == [777, 888]
    with pytest.raises(NoWeightsError, match=r"cells \[5\] are not in the build"):
        api.reload(str(smoke_root), 5)
    with pytest.raises(ValueError, match="unknown hp '200'.*valid for .*: 12"):  # the README's hp='200' example
        api.get_more_info(112, "cifar10", None, hp="200", is_random=True)


def test_nb201_readme_on_the_embedded_default() -> None:
    """On the published figures: every call answers that the figures allow; the others raise naming the figure,
    the source, the files that have it (and the substitute, where one is documented)."""
    from runners.plan import DEFAULT_SOURCE_SUBSTITUTES

    api = API(None, verbose=False, seed=0)
    out: list[str] = []
    with pytest.raises(MissingFigureError, match=r"cifar10/train@12.*NAS-Bench-201-v1_1"):
        nb201_readme(api, out, None)  # info.get_metrics('cifar10', 'train'): training accuracy is not published
    costs = api.query_meta_info_by_index(1).get_comput_costs("cifar100")
    assert "supernet.flops" in costs.computed["flops"] and costs["params"] == api.bench.value(1, "cifar100/params_M")
    with pytest.raises(MissingFigureError, match="trials of cell 1 on cifar100 \\(hp=12\\).*means only"):
        api.query_by_index(1, "cifar100")  # 12-epoch figures are published as trial means only
    results = api.query_by_index(1, "cifar100", hp="200")
    assert list(results) == [0, 1, 2]  # trials known by position: the CSV records no seeds
    valid = results[0].get_eval("x-valid")
    assert valid["accuracy"] == api.bench.value(1, "cifar100/x-valid@200", trial=0)
    assert "loss" in valid.missing and "cur_time" in valid.missing
    with pytest.raises(MissingFigureError, match="train@200"):
        results[0].get_train()
    with pytest.raises(MissingFigureError, match="trial-mean"):
        results[0].get_latency()  # published as a mean over trials
    with pytest.raises(MissingFigureError, match="trial-mean"):
        api.get_more_info(112, "cifar10", None, hp="200", is_random=True)
    with pytest.raises(NoWeightsError, match="embedded default"):
        api.reload(None, 3)
    with pytest.raises(NoWeightsError, match="reload"):
        api.get_net_param(3, "cifar10", None)
    lenient = API(None, verbose=False, seed=0, substitutes=DEFAULT_SOURCE_SUBSTITUTES)
    more = lenient.get_more_info(112, "cifar10", None, hp="200", is_random=True)
    assert more["test-accuracy"] == lenient.bench.value(112, "cifar10/ori-test@200")
    assert more.substitutes == ("trial-mean", "no-eval-time") and more["test-per-time"] == 0.0
    more = lenient.get_more_info(112, "ImageNet16-120", None, hp="200", is_random=True)
    assert more["valid-accuracy"] in lenient.bench.table.trials["ImageNet16-120/x-valid@200"][112]
    assert lenient.query_by_index(1, "cifar100", hp="200")[1].get_latency() == lenient.bench.value(
        1, "cifar100/latency_s")


def aa_readme(api: AANASBenchAPI, out: list[str]) -> dict[str, Any]:
    """AA-NAS-Bench's README, "How to Use AA-NAS-Bench", as written."""
    got: dict[str, Any] = {"num": len(api)}
    for i, arch_str in enumerate(api):
        if i < 2:
            out.append(f"{i:5d}/{len(api):5d} : {arch_str}")
    api.show(1)
    api.show(2)
    info = api.query_meta_info_by_index(1)
    loss, accuracy = info.get_metrics("cifar10", "train")
    flops, params, latency = info.get_comput_costs("cifar100")
    got.update(loss=loss, accuracy=accuracy, flops=flops, params=params, latency=latency)
    results = api.query_by_index(1, "cifar100")
    out.append(f"There are {len(results)} trials for this architecture [{api[1]}] on cifar100")
    out.append(f"Latency : {results[0].get_latency()}")
    out.append(f"Train Info : {results[0].get_train()}")
    out.append("Valid Info : {:}".format(results[0].get_eval("x-valid")))
    out.append("Test  Info : {:}".format(results[0].get_eval("x-test")))
    out.append(f"Train Info [10-th epoch] : {results[0].get_train(10)}")
    got["results"] = results
    index = api.query_index_by_arch(README_ARCH)
    api.show(index)
    got["index"] = index
    got["best"] = api.find_best("cifar100", "x-valid")
    got["by_arch"] = api.query_by_arch(README_ARCH)
    return got


def test_aa_readme_on_the_embedded_default_and_a_built_benchmark(smoke_root: Path) -> None:
    from bench.generate.merge import BENCHMARK

    with pytest.raises(MissingFigureError, match=r"cifar10/train@200"):  # no training figures published
        aa_readme(AANASBenchAPI(None, verbose=False), [])
    api = AANASBenchAPI(None, verbose=False)
    info = api.query_meta_info_by_index(1)
    flops, params, latency = info.get_comput_costs("cifar100")
    assert params == api.api.bench.value(1, "cifar100/params_M") and flops == pytest.approx(113.96, abs=0.01)
    with pytest.raises(AbsentFigureError, match="x-valid-loss"):  # a (loss, accuracy) pair: the loss is missing
        info.get_metrics("cifar100", "x-valid")
    assert api.find_best("cifar100", "x-test") == api.api.find_best("cifar100", "x-test", hp="200")[0] == 9930
    # a built benchmark has every figure AA-NAS-Bench answered, but AA-NAS-Bench kept the 200-epoch schedule only
    with pytest.raises(ValueError, match="unknown hp '200'"):
        AANASBenchAPI(str(smoke_root / BENCHMARK), verbose=False)


def test_nats_readme_on_the_embedded_default(smoke_root: Path) -> None:
    """NATS-Bench's README (topology space): create, get_more_info, get_cost_info, simulate_train_eval, then the
    weights (on a build that kept them)."""
    from bench.generate.merge import BENCHMARK
    from runners.plan import DEFAULT_SOURCE_SUBSTITUTES

    api = create(None, "tss", fast_mode=True, verbose=False, substitutes=DEFAULT_SOURCE_SUBSTITUTES)
    info = api.get_more_info(1234, "cifar10")  # hp='12', a random trial: the published 12-epoch mean
    assert info["test-accuracy"] == api.bench.value(1234, "cifar10/ori-test@12") and "comment" in info
    valid = api.get_more_info(1234, "cifar10-valid")
    assert list(valid)[:4] == ["train-per-time", "train-all-time", "comment", "valid-accuracy"]  # NATS-Bench's order
    info = api.get_cost_info(12, "cifar10")
    assert "flops" in info.computed and "latency" in info.missing  # cifar10 (train+valid) has no published latency
    with pytest.raises(MissingFigureError, match="cifar10-valid-latency"):
        api.simulate_train_eval(1224, dataset="cifar10", hp="12")
    api = create(None, "tss", fast_mode=True, verbose=False,
                 substitutes=(*DEFAULT_SOURCE_SUBSTITUTES, "cifar10-valid-latency"))
    acc, latency, time_cost, total = api.simulate_train_eval(1224, dataset="cifar10", hp="12")
    assert acc == api.bench.value(1224, "cifar10-valid/x-valid@12")
    assert time_cost == pytest.approx(api.bench.value(1224, "cifar10-valid/train_seconds@200") * 12 / 200)
    assert latency == api.bench.value(1224, "cifar10-valid/latency_s") and total == time_cost
    with pytest.raises(ValueError, match="size space"):
        create(None, "sss")
    built = create(str(smoke_root / BENCHMARK), "tss", fast_mode=True, verbose=False)
    built.clear_params(3)
    built.reload(index=3)
    config = built.get_net_config(3, "cifar10")
    network = get_cell_based_tiny_net(config)
    params = built.get_net_param(3, "cifar10", None)
    network.load_state_dict(next(iter(params.values())))
    import torch

    with torch.no_grad():
        assert math.isfinite(float(network(torch.zeros(1, 3, 16, 16)).sum()))


def test_verbose_prints_the_official_call_lines(capsys: pytest.CaptureFixture[str]) -> None:
    api = API()  # verbose=True, as officially
    api.get_more_info(11472, "cifar100", None, "200", False)
    out = capsys.readouterr().out
    assert "try to create the NAS-Bench-201 api" in out
    assert "Call the get_more_info function with index=11472, dataset=cifar100, iepoch=None, hp=200" in out
