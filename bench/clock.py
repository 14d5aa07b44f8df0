"""The simulated clock of query-only search (PROTOCOLS.md sections 3.1 and 3.2).

One query "trains" a cell on the proxy schedule (12 epochs) of the search dataset (CIFAR-10 searches query
`cifar10-valid`), reads the final valid accuracy of one random trial, and costs the schedule's whole training
time plus one evaluation pass (``train-all-time + valid-per-time``). Searchers decide how the budget ends a run
(their protocols differ); the clock only answers and adds up.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from bench.oracle import ArchLike, Benchmark, index_of, proxy_dataset


@dataclass(frozen=True)
class Evaluation:
    """What one simulated training run returns."""

    index: int
    #: Final valid accuracy in percent on the proxy schedule (or the epoch asked for).
    accuracy: float
    #: Simulated seconds this run costs.
    cost: float
    #: Which trial answered (None when the trial mean stood in).
    trial: int | None


class SimulatedClock:
    """Answers proxy queries from a Benchmark and keeps the simulated time spent."""

    def __init__(self, bench: Benchmark, dataset: str, budget: float, *, epochs: int = 12,
                 random_trial: bool = True, charge_eval: bool = True, substitutes: Collection[str] = (),
                 rng: np.random.Generator | None = None) -> None:
        self.bench = bench
        self.dataset = dataset
        self.proxy = proxy_dataset(dataset)
        self.budget = float(budget)
        self.epochs = epochs
        self.rng = rng if rng is not None else np.random.default_rng()
        self.random_trial = random_trial
        self._acc = bench.resolve(f"{self.proxy}/x-valid@{epochs}", substitutes, need_trials=random_trial)
        self._train = bench.resolve(f"{self.proxy}/train_seconds@{epochs}", substitutes)
        self._eval = bench.resolve(f"{self.proxy}/eval_seconds@{epochs}", substitutes) if charge_eval else None
        self._ntrials = (np.sum(~np.isnan(self._acc.trials), axis=1) if self._acc.trials is not None else None)
        #: Substitutes this clock actually relies on; recorded in every result.
        self.substitutes_used = tuple(dict.fromkeys(
            self._acc.used + self._train.used + (self._eval.used if self._eval else ())))
        self.used = 0.0

    # --- queries ----------------------------------------------------------------------------
    def cost(self, arch: ArchLike) -> float:
        i = index_of(arch)
        c = float(self._train.values(i))
        if self._eval is not None:
            c += float(self._eval.values(i))
        return c

    def train_and_eval(self, arch: ArchLike) -> Evaluation:
        """Simulate training ``arch`` on the proxy schedule; charges nothing (the searcher decides)."""
        i = index_of(arch)
        trial = None
        if self.random_trial and self._ntrials is not None:
            trial = int(self.rng.integers(self._ntrials[i]))
            acc = float(self._acc.trials[i, trial]) * self._acc.scale  # type: ignore[index]
        else:
            acc = float(self._acc.mean[i]) * self._acc.scale
        return Evaluation(i, acc, self.cost(i), trial)

    # --- time -------------------------------------------------------------------------------
    def charge(self, seconds: float) -> float:
        self.used += float(seconds)
        return self.used

    def would_exceed(self, seconds: float) -> bool:
        return self.used + seconds > self.budget

    @property
    def remaining(self) -> float:
        return self.budget - self.used

    @property
    def exhausted(self) -> bool:
        return self.used >= self.budget

    def reset(self) -> None:
        self.used = 0.0

    def simulate_train_eval(self, arch: ArchLike) -> tuple[float, float | None, float, float]:
        """NATS-Bench's ``simulate_train_eval``: (valid acc, latency, cost, cumulative time), charging the cost."""
        ev = self.train_and_eval(arch)
        self.charge(ev.cost)
        lat_name = f"{self.proxy}/latency_s"
        latency = self.bench.value(ev.index, lat_name) if self.bench.has(lat_name) else None
        return ev.accuracy, latency, ev.cost, self.used
