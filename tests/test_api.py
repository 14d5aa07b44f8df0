"""The user API over the published figures (the CSV and the embedded default): official keys, means vs random
trials, substitutes only when named, errors that name what is missing. The comparison with the official packages
and the READMEs' snippets are in test_api_compat.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import Benchmark, MissingFigureError
from bench.api import API, AbsentFigureError, NASBench201API
from bench.clock import SimulatedClock
from search_space import Arch, all_archs

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
FULL_SUBS = ("trial-mean", "train200-scaled", "no-eval-time", "cifar10-valid-latency")


@pytest.fixture(scope="module")
def api(csv_bench: Benchmark) -> NASBench201API:
    return API(csv_bench, verbose=False, seed=0)


def _trials(bench: Benchmark, name: str, i: int) -> np.ndarray:
    t = bench.table.trials[name][i]
    return t[~np.isnan(t)]


def test_space_interface(api: NASBench201API) -> None:
    assert API is NASBench201API
    assert len(api) == 15625
    assert api[11472] == RESNET == api.arch(11472)
    assert api[-1] == api[15624]
    assert list(api)[:50] == [str(a) for a, _ in zip(all_archs(), range(50), strict=False)]
    assert api.query_index_by_arch(RESNET) == 11472
    assert api.query_index_by_arch(Arch.from_str(RESNET)) == 11472
    assert api.query_index_by_arch(11472) == 11472
    assert api.query_index_by_arch(RESNET.replace("none~1", "conv_7x7~1")) == -1  # like the official: -1

    class WithToStr:
        def tostr(self) -> str:
            return RESNET

    assert api.query_index_by_arch(WithToStr()) == 11472
    with pytest.raises(ValueError, match="out of range 0..15624"):
        api.query_index_by_arch(15625)
    assert api.avaliable_hps == ["12", "200"]
    assert 0 <= api.random() < 15625
    assert api.archstr2index[RESNET] == 11472 and len(api.archstr2index) == 15625
    assert api.archstr2index is api.archstr2index  # one dict, as the official attribute


def test_archstr2index_is_each_apis_own(csv_bench: Benchmark) -> None:
    mine, other = API(csv_bench, verbose=False), API(csv_bench, verbose=False)
    mine.archstr2index[RESNET] = -5  # official code may write into it; no other API sees that
    assert mine.archstr2index[RESNET] == -5 and other.archstr2index[RESNET] == 11472


def test_source_by_path_and_repr(csv_path) -> None:
    api = NASBench201API(csv_path, verbose=False, substitutes="trial-mean")
    assert "nb201_tss" in repr(api) and "trial-mean" in repr(api) and "15625/15625 architectures" in repr(api)
    assert api.substitutes == ("trial-mean",)
    with pytest.raises(ValueError, match="unknown substitute 'bogus'; valid: trial-mean"):
        NASBench201API(api.bench, substitutes=["bogus"])
    default = API(verbose=False)  # the embedded default, as API(None) / API('default')
    assert default.filename == "nb201_tss.nbt.npz" and default.avaliable_hps == ["12", "200"]


def test_keys_per_dataset(api: NASBench201API) -> None:
    c100 = api.get_more_info(11472, "cifar100", hp="200", is_random=False)
    assert {"train-per-time", "train-all-time", "valid-accuracy", "test-accuracy", "valtest-accuracy"} <= set(c100)
    assert not any(k.endswith("-loss") for k in c100)  # the CSV keeps no losses: left out, not invented
    assert "valid-loss" in c100.missing and "test-per-time" in c100.missing
    c10 = api.get_more_info(11472, "cifar10", hp="200", is_random=False)
    assert "test-accuracy" in c10
    # cifar10 (trained on all 50k) has no validation set in the official API either: not even "missing"
    assert not any(k.startswith(("valid-", "valtest-")) for k in list(c10) + list(c10.missing))
    c10v = api.get_more_info(11472, "cifar10-valid", hp="200", is_random=False)
    assert "valid-accuracy" in c10v and "test-accuracy" not in c10v  # cifar10-valid/ori-test is not in the CSV
    assert "valtest-accuracy" not in c10v.missing
    with pytest.raises(AbsentFigureError, match=r"'valid-loss'.*cifar100/x-valid-loss@200.*NAS-Bench-201-v1_1") as info:
        c100["valid-loss"]
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError):
        c100["no-such-key"]


def test_means_match_the_table(api: NASBench201API, csv_bench: Benchmark) -> None:
    for i in (0, 11472, 6111):
        c100 = api.get_more_info(i, "cifar100", hp=200, is_random=False)
        assert c100["valid-accuracy"] == pytest.approx(csv_bench.value(i, "cifar100/x-valid@200"))
        assert c100["test-accuracy"] == pytest.approx(csv_bench.value(i, "cifar100/x-test@200"))
        assert c100["train-all-time"] == pytest.approx(csv_bench.value(i, "cifar100/train_seconds@200"))
        assert c100["train-per-time"] == pytest.approx(c100["train-all-time"] / 200)
        c10 = api.get_more_info(i, "cifar10", hp="200", is_random=False)
        assert c10["test-accuracy"] == pytest.approx(csv_bench.value(i, "cifar10/ori-test@200"))
        short = api.get_more_info(i, "cifar10-valid", hp="12", is_random=False)
        assert short["valid-accuracy"] == pytest.approx(csv_bench.value(i, "cifar10-valid/x-valid@12"))


def test_random_trials_come_from_one_trial(csv_bench: Benchmark) -> None:
    api = API(csv_bench, seed=1)
    i = next(j for j in range(100) if len(_trials(csv_bench, "cifar100/x-valid@200", j)) == 3)
    valid = _trials(csv_bench, "cifar100/x-valid@200", i)
    test = _trials(csv_bench, "cifar100/x-test@200", i)
    pairs = set()
    for _ in range(60):
        info = api.get_more_info(i, "cifar100", hp="200", is_random=True)
        t = int(np.flatnonzero(np.isclose(valid, info["valid-accuracy"]))[0])
        assert info["test-accuracy"] == pytest.approx(test[t])  # the same trial as the valid figure
        assert info["valtest-accuracy"] == pytest.approx((valid[t] + test[t]) / 2)
        pairs.add(t)
    assert pairs == {0, 1, 2}  # every trial gets drawn
    mean = api.get_more_info(i, "cifar100", hp="200", is_random=False)
    assert mean["valid-accuracy"] == pytest.approx(valid.mean())


def test_random_trial_without_trials_needs_a_substitute(csv_bench: Benchmark) -> None:
    """The official defaults (hp='12', a random trial) on figures published as trial means: an error naming what
    is missing and the substitute, never an empty answer; with the substitute named, the mean, recorded."""
    strict = API(csv_bench, verbose=False, seed=0)
    with pytest.raises(MissingFigureError, match=r"per-trial values of cell 11472 on cifar10-valid \(hp=12\).*"
                                                 r"NAS-Bench-201-v1_1.*'trial-mean'"):
        strict.get_more_info(11472, "cifar10-valid")
    with pytest.raises(MissingFigureError, match="cifar10.*hp=200.*trial-mean"):
        strict.get_more_info(112, "cifar10", None, hp="200", is_random=True)  # the README's own example
    assert strict.substitutes_used == ()
    lenient = API(csv_bench, verbose=False, seed=0, substitutes=["trial-mean"])
    info = lenient.get_more_info(11472, "cifar10-valid", hp="12", is_random=True)
    assert info["valid-accuracy"] == pytest.approx(csv_bench.value(11472, "cifar10-valid/x-valid@12"))
    assert info.substitutes == ("trial-mean",) and lenient.substitutes_used == ("trial-mean",)
    assert "train200-scaled" in info.missing["train-all-time"]


def test_epochs_before_the_last(csv_bench: Benchmark) -> None:
    api = API(csv_bench, verbose=False, seed=0)
    last = api.get_more_info(11472, "cifar100", iepoch=199, hp="200", is_random=False)
    assert dict(last) == dict(api.get_more_info(11472, "cifar100", hp="200", is_random=False))
    with pytest.raises(MissingFigureError, match="after epoch 10.*final-for-epoch"):  # no curves, no accuracy
        api.get_more_info(11472, "cifar100", iepoch=10, hp="200", is_random=False)
    sub = API(csv_bench, verbose=False, substitutes="final-for-epoch")
    early = sub.get_more_info(11472, "cifar100", iepoch=10, hp="200", is_random=False)
    total = csv_bench.value(11472, "cifar100/train_seconds@200")
    assert early["train-all-time"] == pytest.approx(total * 11 / 200)
    assert early["train-per-time"] == pytest.approx(total / 200)
    assert early["valid-accuracy"] == pytest.approx(csv_bench.value(11472, "cifar100/x-valid@200"))
    assert sub.substitutes_used == ("final-for-epoch",) and early.substitutes == ("final-for-epoch",)


def test_cost_info(api: NASBench201API, csv_bench: Benchmark) -> None:
    cost = api.get_cost_info(11472, "cifar100", hp="200")
    assert cost["params"] == pytest.approx(csv_bench.value(11472, "cifar100/params_M"))
    assert cost["latency"] == pytest.approx(csv_bench.value(11472, "cifar100/latency_s"))
    assert cost["T-train@total"] == pytest.approx(csv_bench.value(11472, "cifar100/train_seconds@200"))
    assert cost["T-train@epoch"] == pytest.approx(cost["T-train@total"] / 200)
    assert cost["flops"] == pytest.approx(78.57, abs=5e-3)  # not published: counted, and marked so
    assert "supernet.flops" in cost.computed["flops"] and "params" not in cost.computed
    assert api.get_latency(11472, "cifar100") == cost["latency"]
    c10 = api.get_cost_info(11472, "cifar10", hp="200")  # cifar10 (train+valid): no model figures published
    assert "params" in c10.computed and "latency" in c10.missing and "cifar10-valid-latency" in c10.missing["latency"]
    short = api.get_cost_info(11472, "cifar100", hp="12")
    assert "T-train@total" not in short and "train200-scaled" in short.missing["T-train@total"]
    scaled = API(csv_bench, verbose=False, substitutes="train200-scaled").get_cost_info(11472, "cifar100", hp="12")
    assert scaled["T-train@total"] == pytest.approx(cost["T-train@total"] * 12 / 200)
    assert scaled["T-train@epoch"] == pytest.approx(scaled["T-train@total"] / 12)


def test_simulate_train_eval_matches_the_clock(csv_bench: Benchmark) -> None:
    strict = API(csv_bench, verbose=False, seed=0)
    with pytest.raises(MissingFigureError, match="trial-mean"):
        strict.simulate_train_eval(RESNET, "cifar10")
    api = API(csv_bench, verbose=False, seed=0, substitutes=FULL_SUBS)
    clock = SimulatedClock(csv_bench, "cifar10", 12_000, substitutes=FULL_SUBS[:3])
    acc, latency, cost, total = api.simulate_train_eval(RESNET, "cifar10")
    assert acc == pytest.approx(csv_bench.value(11472, "cifar10-valid/x-valid@12"))
    assert cost == pytest.approx(clock.cost(11472))
    assert cost == pytest.approx(csv_bench.value(11472, "cifar10-valid/train_seconds@200") * 12 / 200)
    assert latency == pytest.approx(csv_bench.value(11472, "cifar10-valid/latency_s"))  # cifar10-valid-latency
    assert total == cost == api.used_time
    _, _, cost2, total2 = api.simulate_train_eval(0, "cifar10")
    assert total2 == pytest.approx(cost + cost2)  # NATS semantics: cumulative until reset_time
    api.simulate_train_eval(0, "cifar10", account_time=False)
    assert api.used_time == pytest.approx(total2)
    api.reset_time()
    assert api.used_time == 0
    assert set(api.substitutes_used) == set(FULL_SUBS)
    acc200, _, cost200, _ = api.simulate_train_eval(11472, "cifar100", hp="200")
    assert acc200 in _trials(csv_bench, "cifar100/x-valid@200", 11472)
    assert cost200 == pytest.approx(csv_bench.value(11472, "cifar100/train_seconds@200"))
    with pytest.raises(ValueError, match="unknown dataset 'cifar10-valid'; valid: cifar10, cifar100, ImageNet16-120"):
        api.simulate_train_eval(0, "cifar10-valid")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": 0, "dataset": "cifar1000"}, "unknown dataset 'cifar1000'; valid: cifar10-valid, cifar10, cifar100"),
        ({"index": 15625, "dataset": "cifar10"}, "out of range 0..15624"),
        ({"index": -1, "dataset": "cifar10"}, "out of range 0..15624"),
        ({"index": "|bogus~0|", "dataset": "cifar10"}, "not in the NAS-Bench-201 space"),
        ({"index": 0, "dataset": "cifar10", "hp": "90"}, "unknown hp '90'.*valid .*: 12, 200"),
        ({"index": 0, "dataset": "cifar10", "hp": "200", "iepoch": 200}, "iepoch 200 is out of range 0..199"),
        ({"index": 0, "dataset": "cifar10", "is_random": 777}, "cifar10.*hp=12.*keeps their means only"),
        ({"index": 0, "dataset": "cifar100", "hp": "200", "is_random": 777},
         r"can not find trial position \(this source records no seeds\) 777.*\[0, 1, 2\]"),
        ({"index": 0, "dataset": "cifar10", "is_random": "yes"}, "invalid value for is_random: 'yes'"),
    ],
)
def test_bad_arguments(api: NASBench201API, kwargs: dict, message: str) -> None:
    with pytest.raises((ValueError, MissingFigureError), match=message):
        api.get_more_info(**kwargs)


def test_cost_info_errors(api: NASBench201API) -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        api.get_cost_info(0, "imagenet")
    with pytest.raises(ValueError, match="out of range"):
        api.get_cost_info(99999, "cifar10")


def test_show(api: NASBench201API, capsys: pytest.CaptureFixture[str]) -> None:
    api.show(11472)
    out = capsys.readouterr().out
    assert RESNET in out and "cifar100" in out and "ImageNet16-120" in out and " 200 epochs " in out
    assert "valid : [loss = n/a, top1 = 70.50%]" in out  # cifar100 x-valid@200 trial mean of the ResNet cell
    assert "FLOP= 78.56 M" in out  # counted (the CSV has no FLOPs)
    assert api.query_info_str_by_arch(RESNET, "200") == api.query_by_arch(RESNET, "200")
    assert "arch-index=11472" in api.query_by_arch(RESNET, "200")


def test_no_nan_leaks_into_answers(csv_bench: Benchmark) -> None:
    api = API(csv_bench, verbose=False, seed=5, substitutes=FULL_SUBS)
    rng = np.random.default_rng(5)
    for i in rng.integers(0, 15625, size=50):
        for ds in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
            for rnd in (True, False):
                info = api.get_more_info(int(i), ds, hp="200", is_random=rnd)
                assert all(not math.isnan(v) for v in info.values())
