"""What the four query-only searchers share: the query protocols, the clock of a run and its trace.

A query-only searcher "trains" cells by asking the benchmark (`bench.clock.SimulatedClock`) and stops when its
simulated time budget is spent. The two code eras differ (PROTOCOLS.md 3.1, 3.2, 6):

- ``nb201`` (NAS-Bench-201, ICLR 2020): 12,000 s for every dataset; each query reads the 12-epoch schedule of one
  random trial and costs its training time plus one evaluation pass; each searcher checks the budget its own way
  (see its module).
- ``nats`` (NATS-Bench, topology space): 20,000 / 40,000 / 120,000 s for CIFAR-10 / CIFAR-100 / ImageNet16-120;
  same query; every loop runs ``while time used < budget``, so the query that crosses the budget is kept and the
  analysis reads the curve at the budget.

Each searcher's ``Config`` extends `QueryProtocol` with its own hyper-parameters; ``SEARCHER.PRESETS`` holds one
Config per protocol, built by `presets`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from algos.base import SearchContext, SearchResult, Trace, is_int, is_number, require
from bench.clock import SimulatedClock
from bench.oracle import SEARCH_DATASETS, search_dataset
from search_space import NUM_ARCHS, NUM_EDGES, NUM_OPS, Arch, code_to_index, index_to_code

BudgetRule = Literal["nb201", "nats"]


@dataclass(frozen=True)
class QueryProtocol:
    """How a query-only search is clocked; the fields every query-only Config starts with."""

    #: Whose loop semantics decide how the budget ends a run: ``nb201`` (a query that would overflow the budget is
    #: not charged and ends the run, per searcher as in PROTOCOLS.md 3.1) or ``nats`` (loop while used < budget;
    #: the crossing query counts).
    budget_rule: BudgetRule = "nb201"
    #: Simulated seconds per search dataset, in the order cifar10, cifar100, ImageNet16-120.
    budgets: tuple[float, float, float] = (12000.0, 12000.0, 12000.0)
    #: One budget for every dataset; overrides ``budgets`` when set.
    time_budget: float | None = None
    #: Epochs of the proxy schedule a query reads (the benchmark's short 12-epoch schedule).
    proxy_epochs: int = 12
    #: Read one uniformly drawn trial per query (the original ``is_random=True``), not the trial mean.
    random_trial: bool = True
    #: Charge one evaluation pass on top of training time (``train-all-time + valid-per-time``).
    charge_eval: bool = True
    #: The NB201 scripts added the real Python time of R-EA's sampling and of REINFORCE's policy step into the
    #: simulated clock. That makes a run depend on the machine and breaks bit-reproducibility, so it is off by
    #: default; turn it on to mimic the original accounting.
    charge_wall_overhead: bool = False

    def __post_init__(self) -> None:
        """Refuse a clock no search could run under (a zero or negative budget would "finish" with no query)."""
        require("budget_rule", self.budget_rule, "nb201, nats", lambda v: v in ("nb201", "nats"))
        require("budgets", self.budgets, f"{len(SEARCH_DATASETS)} numbers > 0 (seconds for "
                f"{', '.join(SEARCH_DATASETS)})",
                lambda v: isinstance(v, tuple) and len(v) == len(SEARCH_DATASETS)
                and all(is_number(b) and b > 0 for b in v))
        require("time_budget", self.time_budget, "None or a number > 0 (seconds)",
                lambda v: v is None or (is_number(v) and v > 0))
        require("proxy_epochs", self.proxy_epochs, "an integer >= 1", lambda v: is_int(v) and v >= 1)
        for name in ("random_trial", "charge_eval", "charge_wall_overhead"):
            require(name, getattr(self, name), "true or false", lambda v: isinstance(v, bool))

    def budget(self, dataset: str) -> float:
        """Seconds of simulated time for a search on ``dataset``."""
        if self.time_budget is not None:
            return float(self.time_budget)
        return float(self.budgets[SEARCH_DATASETS.index(search_dataset(dataset))])


#: The query protocols of the two eras (PROTOCOLS.md 3.1 and 3.2).
PROTOCOLS: dict[str, QueryProtocol] = {
    "nb201": QueryProtocol(budget_rule="nb201", budgets=(12000.0, 12000.0, 12000.0)),
    "nats": QueryProtocol(budget_rule="nats", budgets=(20000.0, 40000.0, 120000.0)),
}


def presets(config_cls: type, nb201: dict[str, Any] | None = None, nats: dict[str, Any] | None = None) -> dict:
    """One ``config_cls`` per protocol: the protocol's clock fields plus the searcher's own settings."""
    out = {}
    for name, own in (("nb201", nb201 or {}), ("nats", nats or {})):
        base = {f.name: getattr(PROTOCOLS[name], f.name) for f in dataclasses.fields(QueryProtocol)}
        out[name] = config_cls(**{**base, **own})
    return out


# --- cells as integers ------------------------------------------------------------------------------------
# The hot loops keep a cell as its official index (an int) and never build an Arch per query.

_CODE_TO_INDEX = code_to_index()
_INDEX_TO_CODE = index_to_code()


class Draws:
    """Uniform numbers from a run's Generator, fetched in blocks.

    A Generator call costs microseconds whatever its size, and a search makes thousands of tiny draws; one call
    per block keeps the hot loops cheap. Everything still comes from ``ctx.rng``, so a seed fixes every draw.
    """

    def __init__(self, rng: np.random.Generator, block: int = 512) -> None:
        self.rng = rng
        self.block = block
        self._buf: list[float] = []
        self._i = 0

    def uniform(self) -> float:
        """One number in [0, 1)."""
        i = self._i
        if i == len(self._buf):
            self._buf = self.rng.random(self.block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def below(self, n: int) -> int:
        """A uniform integer in 0..n-1."""
        return int(self.uniform() * n)


def random_cell(draws: Draws) -> int:
    """A uniformly random cell (every edge's op uniform and independent), as an official index."""
    return int(_CODE_TO_INDEX[draws.below(NUM_ARCHS)])


def cell_code(index: int) -> int:
    """Base-5 op code of a cell (first edge most significant), see `Arch.code`."""
    return int(_INDEX_TO_CODE[index])


def cell_index(code: int) -> int:
    return int(_CODE_TO_INDEX[code])


#: Place value of each edge's digit in the base-5 op code (first edge most significant), see `Arch.code`.
PLACE = tuple(NUM_OPS ** (NUM_EDGES - 1 - e) for e in range(NUM_EDGES))


def cell_of_ops(ops: Iterable[int]) -> int:
    """Official index of the cell with op id ``ops[e]`` (`search_space.OPS` order) on edge ``e``."""
    return cell_index(sum(op * p for op, p in zip(ops, PLACE, strict=True)))


@lru_cache(maxsize=NUM_ARCHS)
def arch_str(index: int) -> str:
    """The official string of a cell (cached: traces name every queried cell)."""
    return str(Arch.from_index(index))


# --- one run ----------------------------------------------------------------------------------------------
class QueryRun:
    """The clock of one search and its trace: one row per query, with the incumbent after it.

    The incumbent is the cell with the best observed proxy accuracy so far; ties keep the earlier cell (Python's
    ``max`` over the history, as the original scripts pick their result).
    """

    def __init__(self, ctx: SearchContext, config: QueryProtocol, *, epochs: int | None = None,
                 partial_epochs: bool = False) -> None:
        self.ctx = ctx
        self.config = config
        self.clock = SimulatedClock(ctx.bench, ctx.dataset, config.budget(ctx.dataset),
                                    epochs=epochs or config.proxy_epochs,
                                    random_trial=config.random_trial, charge_eval=config.charge_eval,
                                    substitutes=ctx.substitutes, rng=ctx.rng, partial_epochs=partial_epochs)
        self.trace = Trace()
        self._rows = self.trace.rows
        self.best_index: int | None = None
        self.best_accuracy = -np.inf
        self.wall_overhead = 0.0
        self._t0 = 0.0

    # --- time -------------------------------------------------------------------------------------------
    @property
    def used(self) -> float:
        return self.clock.used

    @property
    def budget(self) -> float:
        return self.clock.budget

    def spent(self) -> bool:
        """Whether the budget is used up (every loop's ``while used < budget`` test)."""
        return self.clock.exhausted

    def would_exceed(self, cost: float) -> bool:
        return self.clock.would_exceed(cost)

    def start_overhead(self) -> None:
        """Mark the start of real work the NB201 scripts charged (only measured when the protocol asks)."""
        if self.config.charge_wall_overhead:
            self._t0 = time.perf_counter()

    def charge_overhead(self) -> None:
        """Charge the real seconds since `start_overhead` (NB201 accounting; off by default)."""
        if self.config.charge_wall_overhead:
            dt = time.perf_counter() - self._t0
            self.wall_overhead += dt
            self.clock.charge(dt)

    # --- queries ----------------------------------------------------------------------------------------
    def record(self, index: int, accuracy: float, cost: float, *, charge: bool = True,
               incumbent: tuple[int, float] | None = None, **extra: Any) -> None:
        """Charge a query (unless ``charge=False``) and append its trace row.

        ``incumbent`` (cell, proxy accuracy) overrides the best-seen incumbent in the row, for a searcher whose
        own rule differs (BOHB's hpbandster incumbent); extra keyword arguments become extra columns.
        """
        if charge:
            self.clock.charge(cost)
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_index = accuracy, index
        inc, inc_acc = incumbent if incumbent is not None else (self.best_index, self.best_accuracy)
        row = {"time": self.clock.used, "index": index, "arch": arch_str(index), "accuracy": accuracy, "cost": cost,
               "charged": charge, "incumbent": inc, "incumbent_accuracy": inc_acc}
        if extra:
            row.update(extra)
        self._rows.append(row)
        progress = self.ctx.progress
        if progress is not None:
            progress(min(self.clock.used, self.budget), self.budget)

    # --- result -----------------------------------------------------------------------------------------
    def result(self, searcher: str, index: int | None = None, **info: Any) -> SearchResult:
        """The chosen cell (default: the incumbent) with the trace and what a reader needs to interpret it."""
        chosen = self.best_index if index is None else index
        if chosen is None:
            raise RuntimeError(f"{searcher} made no query: the budget of {self.budget:g} s allows none")
        base = {
            "searcher": searcher,
            "protocol": self.config.budget_rule,
            "config": dataclasses.asdict(self.config),
            "dataset": self.ctx.dataset,
            "proxy_dataset": self.clock.proxy,
            "seed": self.ctx.seed,
            "budget": self.budget,
            "time_used": self.clock.used,
            "queries": len(self.trace),
            "substitutes": list(self.clock.substitutes_used),
            "clock_notes": list(self.clock.notes),
            "benchmark": self.ctx.bench.source,
        }
        if self.config.charge_wall_overhead:
            base["wall_overhead_charged"] = self.wall_overhead
        base.update(info)
        return SearchResult(Arch.from_index(chosen), self.trace, base)


__all__ = ["PROTOCOLS", "BudgetRule", "Draws", "QueryProtocol", "QueryRun", "arch_str", "cell_code", "cell_index",
           "presets", "random_cell"]
