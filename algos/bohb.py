"""BOHB (Falkner et al., ICML 2018) through the real hpbandster, as NAS-Bench-201 and NATS-Bench ran it.

    ConfigSpace: one categorical per edge ("1<-0", "2<-0", ...) over the five ops
    Hyperband brackets (eta 3 between min_budget and max_budget), each a successive-halving run whose new
    configurations come from BOHB's KDE model (num_samples 4, random_fraction 0, bandwidth_factor 3,
    min_bandwidth 0.3), for n_iters iterations; one local worker answers each (config, budget):
        nb201: budget ignored; a 12-epoch proxy query, charged while it fits the budget; once one does not fit,
               every later call returns loss 100 uncharged.  Result: hpbandster's incumbent (best loss on the
               largest budget).
        nats:  budget b -> the 12-epoch schedule stopped after int(b) epochs (NATS-Bench's iepoch = int(b) - 1),
               charged up to that epoch; no stop on time in the loop (truncated at analysis).  Result: the best
               proxy accuracy seen.

The trace has one row per charged query (with the hpbandster ``budget`` it was asked on); under nb201 its
incumbent column follows hpbandster's rule (best loss on the largest budget) once such a run exists, the best
proxy accuracy seen before that. Calls answered with loss 100 after the budget are counted in the info only.

NB201-algos since the API-v2.0 port (commit 6effb6f, June 2020) made the worker query the 200-epoch figures and
charge full 200-epoch training (hp='200'); set ``proxy_epochs=200`` for that variant (it needs the
``no-eval-time`` substitute where the source has no evaluation time). [inferred] The switch may be unintended, so
the ICLR-era proxy is the ``nb201`` preset.

Engineering around hpbandster 0.7.4 (PROTOCOLS.md section 5):
- every server (Pyro name server, dispatcher, worker) binds 127.0.0.1 on a free port and is shut down and joined
  at the end of the run, also on errors; a unique run id per run keeps concurrent runs apart (HpBandSter #101);
- Pyro's serpent serializer is taught numpy scalars (numpy 2 / ConfigSpace >= 1.1 otherwise hang it silently);
- a watchdog turns a hang into `BOHBTimeoutError` after ``timeout_s`` of wall-clock time;
- hpbandster draws from numpy's global RNG and ConfigSpace's own: both are seeded from ``ctx.rng``, and each run
  swaps its own global-RNG state in under a lock, so concurrent runs in one process stay reproducible;
- the all-categorical space makes hpbandster log "non-finite EI" warnings (HpBandSter #100); it already handles
  them (it keeps such a sample when the good-KDE density is finite), so they are counted into the result's info
  instead of printed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from algos.base import SearchContext, Searcher, SearchResult, is_int, is_number, require
from algos.query import QueryProtocol, QueryRun, arch_str, cell_of_ops, presets
from search_space import EDGES, OPS

LOCALHOST = "127.0.0.1"
#: ConfigSpace names of the six edges, in the official string order (as the original scripts name them).
EDGE_NAMES = tuple(f"{target}<-{source}" for target, source in EDGES)
#: hpbandster logs through this logger (its own default would reconfigure the root logger at DEBUG level).
_LOG = logging.getLogger("algos.bohb.hpbandster")
_LOG.setLevel(logging.WARNING)
#: hpbandster's config generator uses numpy's global RNG; runs swap their own state in under this lock.
_GLOBAL_RNG_LOCK = threading.RLock()


def _quiet_known_warnings() -> None:
    """Drop two warnings every BOHB run would repeat, which a user cannot act on (idempotent)."""
    # hpbandster 0.7.4 calls ConfigSpace methods that ConfigSpace 1.x deprecates; they still work.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"hpbandster(\.|$)")
    # statsmodels' KDE (inside hpbandster) announces a future change of its default random generator.
    warnings.filterwarnings("ignore", message="After 0.17 or January 2028", category=FutureWarning)
    # Pyro4 4.82 polls its daemons with Event.isSet(), which Python 3.10+ deprecates.
    warnings.filterwarnings("ignore", message=r"isSet\(\) is deprecated", category=DeprecationWarning)


@dataclass(frozen=True)
class Config(QueryProtocol):
    eta: float = 3.0
    min_budget: float = 12.0
    max_budget: float = 200.0
    #: Hyperband iterations (the NB201 script passes 50, its default is 100; NATS-Bench 300).
    n_iters: int = 50
    num_samples: int = 4
    random_fraction: float = 0.0
    bandwidth_factor: float = 3.0
    min_bandwidth: float = 0.3
    #: hpbandster's defaults, not set by the scripts.
    top_n_percent: int = 15
    min_points_in_model: int | None = None
    #: What the worker does with hpbandster's budget: ``ignored`` (NB201: always the full proxy schedule) or
    #: ``epochs`` (NATS: stop the proxy schedule after int(budget) epochs, charged up to there).
    fidelity: Literal["ignored", "epochs"] = "ignored"
    #: Stop hpbandster once nothing that is reported can change any more, instead of running all n_iters:
    #: nats: after the query that spends the budget (the scripts run on and cut the curve at the budget when
    #: analysing; the rows up to there are the same); nb201: once the budget has ended the run (every later call
    #: returns loss 100, uncharged) and some run on the largest budget exists, which fixes hpbandster's incumbent.
    #: The trace and the chosen cell are identical either way (tested); it only saves time.
    stop_when_spent: bool = True
    #: Seconds between the dispatcher's worker pings (both scripts pass 10).
    ping_interval: int = 10
    #: Wall-clock seconds after which a run is abandoned with `BOHBTimeoutError` (not a protocol setting).
    timeout_s: float = 600.0

    #: Settings that cannot change a finished run's result (they only save time or bound a hung one): left out of
    #: its fingerprint (`runners.identity`), so changing them never forces a finished run to be redone.
    RESULT_NEUTRAL: ClassVar[tuple[str, ...]] = ("stop_when_spent", "ping_interval", "timeout_s")

    def __post_init__(self) -> None:
        super().__post_init__()
        require("eta", self.eta, "a number > 1", lambda v: is_number(v) and v > 1)
        require("min_budget", self.min_budget, "a number > 0", lambda v: is_number(v) and v > 0)
        require("max_budget", self.max_budget, f"a number >= min_budget ({self.min_budget!r}): the budgets of the "
                "rungs increase from min_budget to max_budget", lambda v: is_number(v) and v >= self.min_budget)
        for name in ("n_iters", "num_samples", "ping_interval"):
            require(name, getattr(self, name), "an integer >= 1", lambda v: is_int(v) and v >= 1)
        require("random_fraction", self.random_fraction, "a number in [0, 1]", lambda v: is_number(v) and 0 <= v <= 1)
        require("bandwidth_factor", self.bandwidth_factor, "a number > 0", lambda v: is_number(v) and v > 0)
        require("min_bandwidth", self.min_bandwidth, "a number >= 0", lambda v: is_number(v) and v >= 0)
        require("top_n_percent", self.top_n_percent, "an integer in 1..99", lambda v: is_int(v) and 1 <= v <= 99)
        require("min_points_in_model", self.min_points_in_model, "None or an integer >= 1",
                lambda v: v is None or (is_int(v) and v >= 1))
        require("fidelity", self.fidelity, "ignored, epochs", lambda v: v in ("ignored", "epochs"))
        require("stop_when_spent", self.stop_when_spent, "true or false", lambda v: isinstance(v, bool))
        require("timeout_s", self.timeout_s, "a number > 0 (seconds)", lambda v: is_number(v) and v > 0)
        if self.fidelity == "epochs":
            require("max_budget", self.max_budget, f"with fidelity='epochs' the budgets are epochs of the "
                    f"{self.proxy_epochs}-epoch schedule: 1 <= min_budget <= max_budget <= {self.proxy_epochs}",
                    lambda v: 1 <= self.min_budget <= v <= self.proxy_epochs)


class BOHBTimeoutError(TimeoutError):
    """A BOHB run took longer than its ``timeout_s`` (hpbandster or Pyro hung); everything it started is stopped."""


def register_numpy_with_pyro() -> None:
    """Let Pyro's serpent serializer write numpy scalars (as Python scalars); idempotent."""
    import Pyro4.util

    Pyro4.util.SerpentSerializer.register_type_replacement(np.generic, lambda o: o.item())


def config_space(seed: int):  # noqa: ANN201 - ConfigSpace is imported lazily
    """One categorical hyper-parameter per edge over the five ops, seeded."""
    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    cs.add([CS.CategoricalHyperparameter(name, list(OPS)) for name in EDGE_NAMES])
    return cs


def cell_of(config: dict[str, Any]) -> int:
    """Official index of the cell a configuration names."""
    return cell_of_ops(OPS.index(str(config[name])) for name in EDGE_NAMES)


class _WarningCounter:
    """Stands in for the config generator's logger: counts warnings by kind instead of printing them."""

    #: (text in hpbandster's message, what it means or None to skip); one non-finite EI logs five lines.
    KINDS: tuple[tuple[str, str | None], ...] = (
        ("EI value", "non-finite EI: a good-KDE column is constant (all-categorical space, HpBandSter #100)"),
        ("data in the KDE", None),
        ("bandwidth of the KDE", None),
        ("l(x)", None),
        ("g(x)", None),
        ("converting configuration", "no model-based pick could be converted; hpbandster sampled at random"),
        ("Sampling based optimization", "model-based sampling failed; hpbandster sampled at random"),
    )

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def warning(self, msg: str, *args: Any) -> None:
        text = str(msg)
        kind = next((k for needle, k in self.KINDS if needle in text), "")
        if kind == "":
            kind = (text % args if args else text).splitlines()[0][:120]
        if kind is not None:
            self.counts[kind] += 1

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = debug

    def error(self, msg: str, *args: Any) -> None:
        _LOG.error(msg, *args)


class BOHB(Searcher):
    """Bayesian optimisation + Hyperband over the benchmark's proxy queries."""

    name = "bohb"
    kind = "query"
    Config = Config
    PRESETS = presets(
        Config,
        nb201={"eta": 3.0, "min_budget": 12.0, "max_budget": 200.0, "n_iters": 50, "fidelity": "ignored"},
        nats={"eta": 3.0, "min_budget": 1.0, "max_budget": 12.0, "n_iters": 300, "fidelity": "epochs"},
    )

    def search(self, ctx: SearchContext) -> SearchResult:
        cfg: Config = self.config
        run = QueryRun(ctx, cfg, partial_epochs=cfg.fidelity == "epochs")
        _quiet_known_warnings()
        cs_seed, np_seed = (int(s) for s in ctx.rng.integers(0, 2**31 - 1, size=2))
        worker = _Evaluator(run, cfg)
        with _HpBandSter(cfg, config_space(cs_seed), np_seed, worker) as hb:
            result = hb.run()
        if cfg.budget_rule == "nb201":
            incumbent = result.get_incumbent_id()
            if incumbent is None:
                raise RuntimeError("hpbandster finished without a run on the largest budget; no incumbent")
            chosen = cell_of(result.get_id2config_mapping()[incumbent]["config"])
            choice = "hpbandster's incumbent (best loss on the largest budget)"
        else:
            chosen = run.best_index
            choice = "best proxy accuracy seen"
        return run.result(self.name, chosen, choice=choice, best_seen=arch_str(run.best_index)
                          if run.best_index is not None else None,
                          hpbandster_runs=len(result.get_all_runs()), calls_after_budget=worker.calls_after_budget,
                          stopped_early=hb.stopped_early, hpbandster_warnings=dict(hb.warnings.counts),
                          seeds={"configspace": cs_seed, "numpy_global": np_seed}, wall_s=hb.wall_s,
                          run_id=hb.run_id, nameserver=hb.nameserver)


class _Evaluator:
    """What the worker computes for one (configuration, budget): the protocol's answer from the clock."""

    def __init__(self, run: QueryRun, cfg: Config) -> None:
        self.run = run
        self.cfg = cfg
        self.ended = False  # nb201: a query has not fitted the budget; everything after is loss 100
        self.calls_after_budget = 0
        self.stop = threading.Event()
        self._max_budget = float(cfg.max_budget)
        self.max_budget_runs = 0
        # nb201 trace incumbent follows hpbandster's rule: the best loss on the largest budget (ties: lower id).
        self._hb_best: tuple[float, tuple[int, ...], int, float] | None = None

    def __call__(self, config_id: tuple[int, ...], config: dict[str, Any], budget: float) -> dict[str, Any]:
        run = self.run
        cell = cell_of(config)
        if self.cfg.fidelity == "epochs":
            acc, cost = run.clock.query(cell, int(budget))
        else:
            acc, cost = run.clock.query(cell)
        if self.cfg.budget_rule == "nats":
            run.record(cell, acc, cost, budget=float(budget))
            if self.cfg.stop_when_spent and run.spent():
                self.stop.set()
            return {"loss": 100.0 - acc, "info": cell}
        on_max_budget = float(budget) == self._max_budget
        self.max_budget_runs += on_max_budget
        if self.ended or run.would_exceed(cost):
            self.ended = True
            self.calls_after_budget += 1
            if self.cfg.stop_when_spent and self.max_budget_runs:
                # From here every call returns loss 100: the trace is final, and so is hpbandster's incumbent
                # (a loss of 100 cannot beat an earlier run on the largest budget; among loss-100 runs the
                # earliest has the lowest config id).
                self.stop.set()
            return {"loss": 100.0, "info": None}
        loss = 100.0 - acc
        incumbent = None
        if on_max_budget:
            key = (loss, tuple(config_id))
            if self._hb_best is None or key < self._hb_best[:2]:
                self._hb_best = (loss, tuple(config_id), cell, acc)
        if self._hb_best is not None:
            incumbent = (self._hb_best[2], self._hb_best[3])
        run.record(cell, acc, cost, budget=float(budget), incumbent=incumbent)
        return {"loss": loss, "info": cell}


class _HpBandSter:
    """One hpbandster BOHB run on 127.0.0.1: name server, worker and master, all stopped on exit."""

    def __init__(self, cfg: Config, cs: Any, np_seed: int, evaluate: _Evaluator) -> None:
        register_numpy_with_pyro()
        self.cfg, self.cs, self.np_seed, self.evaluate = cfg, cs, np_seed, evaluate
        self.run_id = f"nb201-bohb-{uuid.uuid4().hex}"
        self.warnings = _WarningCounter()
        self.stopped_early = False
        self.timed_out = False
        self.wall_s = 0.0
        self.ns: Any = None
        self.nameserver = ""
        self.worker: Any = None
        self.master: Any = None

    def __enter__(self) -> _HpBandSter:
        from hpbandster.core.worker import Worker

        evaluate = self.evaluate

        class _Worker(Worker):
            def compute(self, config_id: Any, config: dict, budget: float, working_directory: str) -> dict:
                return evaluate(config_id, config, budget)

        # The watchdog covers start-up too; like the original scripts, the worker starts before the master.
        self._t0 = time.perf_counter()
        self._watchdog = threading.Timer(self.cfg.timeout_s, self._on_timeout)
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            self.ns = _NameServer(self.run_id)
            host, port = self.ns.start()
            self.nameserver = f"{host}:{port}"
            self.worker = _Worker(run_id=self.run_id, nameserver=host, nameserver_port=port, host=LOCALHOST,
                                  logger=_LOG, id=0)
            self.worker.run(background=True)
            while not _serving(self.worker) and self.worker.thread.is_alive() and not self.timed_out:
                time.sleep(0.002)
            if not _serving(self.worker) and not self.timed_out:
                raise RuntimeError(f"the hpbandster worker of BOHB run {self.run_id} did not start")
            self._check_timeout()
            self.master = _make_master(self.cfg, self.cs, self.np_seed, self.run_id, host, port, self.evaluate.stop,
                                       self.warnings)
        except BaseException:
            self._watchdog.cancel()
            self._shutdown()
            raise
        return self

    def run(self) -> Any:
        try:
            result = self.master.run(n_iterations=self.cfg.n_iters, min_n_workers=1)
        finally:
            self._watchdog.cancel()
            self.wall_s = time.perf_counter() - self._t0
        self._check_timeout()
        self.stopped_early = self.evaluate.stop.is_set()
        return result

    def _check_timeout(self) -> None:
        if self.timed_out:
            raise BOHBTimeoutError(f"BOHB run {self.run_id} did not finish within timeout_s={self.cfg.timeout_s:g} "
                                   f"s of wall-clock time (hpbandster or Pyro hung); it was stopped")

    def _on_timeout(self) -> None:
        """Unblock the master wherever it waits: no more iterations, no job in flight."""
        self.timed_out = True
        self.evaluate.stop.set()
        master = self.master
        if master is not None:
            with master.thread_cond:
                master.num_running_jobs = 0
                master.thread_cond.notify_all()

    def __exit__(self, *exc: Any) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        """Stop dispatcher and worker, then the name server; join every thread they started.

        Pyro's daemon shutdown sleeps ~0.2 s of fixed pauses, so the three daemons are stopped in parallel: the
        name server goes as soon as dispatcher and worker have left their loops (which is when they unregister
        from it), while their own daemons still finish shutting down. (hpbandster's ``Master.shutdown`` would
        hold the dispatcher's lock through those pauses and serialise everything; this does the same steps.)
        The dispatcher's proxies to the worker are released too: an open client connection keeps a Pyro server
        thread waiting on its socket.
        """
        join_s = 10.0
        master, worker, self.master, self.worker = self.master, self.worker, None, None
        stoppers: list[threading.Thread] = []

        def stop(target: Any, name: str) -> None:
            t = threading.Thread(target=target, name=f"{name} {self.run_id}", daemon=True)
            t.start()
            stoppers.append(t)

        def stop_when_serving(owner: Any, thread: threading.Thread, name: str) -> None:
            """Stop ``owner``'s daemon once its loop runs (it may still be starting), then join its thread."""
            deadline = time.monotonic() + join_s
            stopping = False
            while thread.is_alive() and time.monotonic() < deadline:
                if not stopping and _serving(owner):
                    stop(owner.pyro_daemon.shutdown, name)
                    stopping = True
                thread.join(0.002)

        if master is not None:
            stop_when_serving(master.dispatcher, master.dispatcher_thread, "stop BOHB dispatcher")
        if worker is not None and worker.thread is not None:
            stop_when_serving(worker, worker.thread, "stop BOHB worker")
        if self.ns is not None:
            self.ns.shutdown()
            self.ns = None
        for t in stoppers:
            t.join(join_s)
        if master is not None:
            for w in list(master.dispatcher.worker_pool.values()):
                w.proxy._pyroRelease()


def _serving(owner: Any) -> bool:
    """Whether a worker's or dispatcher's Pyro daemon runs its request loop (Pyro4 4.82 name-mangles the flag)."""
    daemon = getattr(owner, "pyro_daemon", None)
    return daemon is not None and not daemon._Daemon__loopstopped.is_set()


def _make_master(cfg: Config, cs: Any, np_seed: int, run_id: str, host: str, port: int, stop: threading.Event,
                 counter: _WarningCounter) -> Any:
    """hpbandster's BOHB master with its config generator seeded and its waits made interruptible."""
    from hpbandster.optimizers.bohb import BOHB as HpBandSterBOHB
    from hpbandster.optimizers.config_generators.bohb import BOHB as ConfigGenerator

    class _SeededGenerator(ConfigGenerator):
        """hpbandster's BOHB model, drawing from its own numpy global-RNG state (swapped in under a lock)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._np_state = np.random.RandomState(np_seed).get_state()
            self.logger = counter

        def _own_rng(self, fn: Any, *args: Any) -> Any:
            # errstate / printoptions are context-local: they quieten only this thread. Summarised printing keeps
            # hpbandster from formatting whole KDE data arrays into warnings that are only counted.
            with _GLOBAL_RNG_LOCK, np.errstate(divide="ignore", invalid="ignore"), \
                    np.printoptions(threshold=0, edgeitems=1):
                outer = np.random.get_state()
                np.random.set_state(self._np_state)
                try:
                    return fn(*args)
                finally:
                    self._np_state = np.random.get_state()
                    np.random.set_state(outer)

        def get_config(self, budget: float) -> Any:
            return self._own_rng(super().get_config, budget)

        def new_result(self, job: Any, update_model: bool = True) -> Any:
            return self._own_rng(super().new_result, job, update_model)

    class _Master(HpBandSterBOHB):
        def active_iterations(self) -> list[int]:
            return [] if stop.is_set() else super().active_iterations()

        def wait_for_workers(self, min_n_workers: int = 1) -> None:
            with self.thread_cond:
                while self.dispatcher.number_of_workers() < min_n_workers and not stop.is_set():
                    self.thread_cond.wait(0.005)
                    self.dispatcher.trigger_discover_worker()

    generator_args = {"min_points_in_model": cfg.min_points_in_model, "top_n_percent": cfg.top_n_percent,
                      "num_samples": cfg.num_samples, "random_fraction": cfg.random_fraction,
                      "bandwidth_factor": cfg.bandwidth_factor, "min_bandwidth": cfg.min_bandwidth}
    master = _Master(configspace=cs, run_id=run_id, eta=cfg.eta, min_budget=cfg.min_budget,
                     max_budget=cfg.max_budget, nameserver=host, nameserver_port=port, host=LOCALHOST,
                     ping_interval=cfg.ping_interval, logger=_LOG, **generator_args)
    master.config_generator = _SeededGenerator(configspace=cs, **generator_args)
    master.dispatcher.logger = _LOG
    return master


class _NameServer:
    """A Pyro name server on 127.0.0.1, free port, no broadcast responder; its thread is joined on shutdown."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.daemon: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        import Pyro4.naming

        _, self.daemon, _ = Pyro4.naming.startNS(host=LOCALHOST, port=0, enableBroadcast=False)
        host, port = self.daemon.locationStr.rsplit(":", 1)
        self.thread = threading.Thread(target=self.daemon.requestLoop, name=f"Pyro name server {self.run_id}",
                                       daemon=True)
        self.thread.start()
        return host, int(port)

    def shutdown(self) -> None:
        if self.daemon is not None:
            self.daemon.shutdown()
            self.daemon = None
        if self.thread is not None:
            self.thread.join(10.0)
            self.thread = None


SEARCHER = BOHB
