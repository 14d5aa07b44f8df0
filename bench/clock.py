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

from bench.oracle import OFFICIAL_FILES, ArchLike, Benchmark, index_of, proxy_dataset
from bench.substitutes import MissingFigureError, check_substitutes
from search_space import NUM_ARCHS, Arch


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
                 rng: np.random.Generator | None = None, partial_epochs: bool = False) -> None:
        self.bench = bench
        self.dataset = dataset
        self.proxy = proxy_dataset(dataset)
        self.budget = float(budget)
        self.epochs = epochs
        self.rng = rng if rng is not None else np.random.default_rng()
        self.random_trial = random_trial
        self._acc_name = f"{self.proxy}/x-valid@{epochs}"
        self._acc = bench.resolve(self._acc_name, substitutes, need_trials=random_trial)
        self._train = bench.resolve(f"{self.proxy}/train_seconds@{epochs}", substitutes)
        self._eval = bench.resolve(f"{self.proxy}/eval_seconds@{epochs}", substitutes) if charge_eval else None
        self._ntrials = (np.sum(~np.isnan(self._acc.trials), axis=1) if self._acc.trials is not None else None)
        used = self._acc.used + self._train.used + (self._eval.used if self._eval else ())
        #: Notes on how figures are read, for results (e.g. how partial-schedule time is charged).
        self.notes: list[str] = []
        # Hot-path arrays, resolved once: queries are then two array lookups (`query`).
        train = self._train.mean * self._train.scale
        self._eval_all = self._eval.mean * self._eval.scale if self._eval is not None else np.zeros_like(train)
        self._cost_all = train + self._eval_all
        self._train_all = train
        scale = self._acc.scale
        self._acc_mean = self._acc.mean * scale if scale != 1.0 else self._acc.mean
        trials = self._acc.trials if random_trial else None
        self._acc_trials = trials * scale if trials is not None and scale != 1.0 else trials
        self._curve = None
        #: Whether runs stopped after k < E epochs may be asked for (`query(index, epochs=k)`).
        self.partial_epochs = partial_epochs
        if partial_epochs:
            used += self._partial_epoch_source(substitutes)
        #: Substitutes this clock actually relies on; recorded in every result.
        self.substitutes_used = tuple(dict.fromkeys(used))
        self.used = 0.0

    def _partial_epoch_source(self, substitutes: Collection[str]) -> tuple[str, ...]:
        """Where "accuracy after k < E epochs" comes from: the per-epoch curve, or the named substitute."""
        curve = self.bench.table.curves.get(self._acc.name) if self._acc.name == self._acc_name else None
        self.notes.append(f"time of a run stopped after k of {self.epochs} epochs: k/{self.epochs} of the schedule's "
                          "training time plus one evaluation pass (per-epoch times are not stored)")
        if curve is not None:
            self._curve = curve
            return ()
        if "final-for-epoch" not in check_substitutes(substitutes):
            raise MissingFigureError(f"per-epoch curves of {self._acc_name!r}", self.bench.source,
                                     f"They are in {OFFICIAL_FILES}.", ("final-for-epoch",))
        return ("final-for-epoch",)

    # --- queries ----------------------------------------------------------------------------
    def cost(self, arch: ArchLike) -> float:
        """Seconds charged for one full proxy run of ``arch`` (training, plus one evaluation when charged)."""
        return float(self._cost_all[index_of(arch)])

    def train_and_eval(self, arch: ArchLike) -> Evaluation:
        """Simulate training ``arch`` on the proxy schedule; charges nothing (the searcher decides)."""
        i = index_of(arch)
        acc, trial = self._draw(i)
        cost = float(self._cost_all[i])
        if acc != acc or cost != cost:
            self._missing(i)
        return Evaluation(i, acc, cost, None if trial < 0 else trial)

    def _draw(self, index: int) -> tuple[float, int]:
        """The proxy accuracy of one run of ``index``: a random trial (as Benchmark.random_trials draws), or the
        trial mean (trial -1) when the protocol asks for it."""
        trials = self._acc_trials
        if trials is None:
            return float(self._acc_mean[index]), -1
        trial = int(self.rng.random() * self._ntrials[index])  # type: ignore[index]
        return float(trials[index, trial]), trial

    def query(self, index: int, epochs: int | None = None) -> tuple[float, float]:
        """(accuracy, cost) of one simulated run of cell ``index``, charging nothing: the searchers' hot path.

        Same answers (and the same draws from ``rng``, `_draw`) as `train_and_eval`, without building objects. With
        ``epochs=k`` (the clock built with ``partial_epochs=True``) the run stops after ``k`` epochs of the
        schedule: NATS-Bench's ``iepoch = k - 1``, charged k/E of the training time plus one evaluation pass.
        """
        if not (type(index) is int and 0 <= index < NUM_ARCHS):  # the hot path: a plain int in range
            index = index_of(index)  # anything else is converted or refused (numpy would wrap -1 round)
        acc, trial = self._draw(index)
        if epochs is None or epochs == self.epochs:
            cost = float(self._cost_all[index])
            if acc != acc or cost != cost:  # NaN: a cell the source has no figures for (e.g. a partial benchmark)
                self._missing(index)
            return acc, cost
        if not 1 <= epochs <= self.epochs:
            raise ValueError(f"epochs={epochs} is outside the {self.epochs}-epoch schedule (1..{self.epochs})")
        if self._curve is not None:
            curve = self._curve[index, trial] if trial >= 0 else np.nanmean(self._curve[index], axis=0)
            acc = float(curve[epochs - 1]) * self._acc.scale
        elif not self.partial_epochs:
            raise RuntimeError("this clock was built without partial_epochs=True; it answers full schedules only")
        cost = float(self._train_all[index] * epochs / self.epochs + self._eval_all[index])
        if acc != acc or cost != cost:
            self._missing(index)
        return acc, cost

    def _missing(self, index: int) -> None:
        """A search must never run on NaN: it would poison the clock and the loop would never end."""
        raise MissingFigureError(
            f"the proxy figures of cell {index} ({Arch.from_index(int(index))}) on {self.proxy}",
            self.bench.source, "This source has no result for that cell (a partly built benchmark?); "
            "build it with `python -m runners.generate` or use a complete source.")

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
