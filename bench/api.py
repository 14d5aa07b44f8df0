"""The NAS-Bench-201 / NATS-Bench user API over our `Benchmark`, so code written for the official packages runs here.

Same method names, arguments, dictionary keys and meanings as ``nas_201_api.NASBench201API`` and
``nats_bench`` (topology space), with three differences that keep the figures honest:

- A figure the loaded source lacks is *left out* of the returned dict, as the official API leaves out sets it
  cannot find; indexing such a key raises `AbsentFigureError` saying why and which documented substitute (if any)
  would stand in. The official files keep losses and per-epoch curves that a CSV or the embedded default lack.
- Substitutes are never applied implicitly: pass ``substitutes=("trial-mean", ...)`` to the constructor; every
  substitute an answer relied on is recorded in `substitutes_used`.
- ``is_random`` is a bool (a random trial, or the trial mean); the official integer "seed" form is refused because
  tables store trials by position, not by seed.

Meanings kept from the official API:

- datasets: ``cifar10-valid`` (trained on the 25k train half; valid = x-valid, test = ori-test of that run),
  ``cifar10`` (trained on all 50k; only test = ori-test), ``cifar100`` and ``ImageNet16-120`` (valid = x-valid,
  test = x-test, valtest = ori-test, the whole test set);
- ``hp`` is the schedule length, '12' or '200'; ``iepoch`` an epoch index in 0..hp-1, None for the last;
- ``*-all-time`` is the time summed over epochs 0..iepoch, ``*-per-time`` that sum divided by iepoch+1;
- a random trial is drawn once per call and every figure in the answer comes from that same trial.

Where our tables differ in what they store, the convention is documented here:

- ``valtest-accuracy`` of cifar100 / ImageNet16-120 is the table's ``ori-test`` when present, else the mean of
  ``x-valid`` and ``x-test`` of the same trial (the two halves have equal size, so this is the whole-set accuracy);
- ``valid-per-time`` is ``eval_seconds`` (one pass over the validation split); test sets have no eval times here;
- times use the drawn trial where the table keeps per-trial times, else their trial mean (as `SimulatedClock` does);
- an epoch before the last needs per-epoch curves, or the ``final-for-epoch`` substitute (final accuracy, time
  pro rata).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterator
from typing import Any

import numpy as np

from bench.clock import SimulatedClock
from bench.oracle import SEARCH_DATASETS, Benchmark, Resolved, proxy_dataset
from bench.substitutes import SUBSTITUTES, MissingFigureError, check_substitutes
from bench.table import DATASETS, Table
from search_space import NUM_ARCHS, Arch

#: Schedules the official topology benchmarks have (`avaliable_hps` there).
HPS = ("12", "200")
#: Datasets `get_more_info` accepts, and those `simulate_train_eval` accepts (the search datasets).
INFO_DATASETS = tuple(DATASETS)
SIM_DATASETS = SEARCH_DATASETS
#: key prefix -> split, per dataset, exactly as the official `get_more_info` collects them.
EVAL_SETS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"valid": "x-valid", "test": "ori-test"},
    "cifar10": {"test": "ori-test"},
    "cifar100": {"valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
    "ImageNet16-120": {"valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
}
INFO_FIELDS = ("loss", "accuracy", "per-time", "all-time")


class AbsentFigureError(MissingFigureError, KeyError):
    """A key of an API answer whose figure the loaded source does not have (also a KeyError, like a dict's)."""


class MoreInfo(dict):
    """An answer of `get_more_info` / `get_cost_info`: the official keys that have figures here.

    ``missing`` maps each official key left out to the reason; indexing one raises `AbsentFigureError`.
    """

    def __init__(self, values: dict[str, float], missing: dict[str, str], source: str, where: str) -> None:
        super().__init__(values)
        self.missing = missing
        self._source = source
        self._where = where

    def __missing__(self, key: str) -> Any:
        if key in self.missing:
            raise AbsentFigureError(f"{key!r} ({self._where})", self._source, self.missing[key])
        raise KeyError(key)


class NASBench201API:
    """``NASBench201API(source)``: the official query interface over any source the harness reads.

    ``source`` is a path, None / 'default' for the embedded default, or a loaded `Benchmark`. ``rng`` (or
    ``seed``) drives the random trial draws; the official API uses Python's global ``random``.
    """

    def __init__(self, source: str | os.PathLike | Benchmark | Table | None = None, *,
                 substitutes: Collection[str] | str = (), rng: np.random.Generator | None = None,
                 seed: int | None = None, verbose: bool = False) -> None:
        if isinstance(source, Benchmark):
            self.bench = source
        elif isinstance(source, Table):
            self.bench = Benchmark(source)
        else:
            self.bench = Benchmark.load(source)
        self.substitutes = check_substitutes(substitutes)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.verbose = verbose
        self.filename = self.bench.source
        self._used: dict[str, None] = {}
        self._resolved: dict[tuple[str, bool], Resolved | MissingFigureError] = {}
        self._clocks: dict[tuple[str, int], SimulatedClock] = {}
        self._strs: tuple[str, ...] | None = None
        self.reset_time()

    # --- the space -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return NUM_ARCHS

    def _all_strs(self) -> tuple[str, ...]:
        if self._strs is None:
            self._strs = tuple(str(Arch.from_index(i)) for i in range(NUM_ARCHS))
        return self._strs

    def __getitem__(self, index: int) -> str:
        """The architecture string of an index (negative indices count from the end, as on a list)."""
        return self._all_strs()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all_strs())

    def __repr__(self) -> str:
        subs = f", substitutes={list(self.substitutes)}" if self.substitutes else ""
        return f"{type(self).__name__}({NUM_ARCHS}/{NUM_ARCHS} architectures, source={self.bench.source}{subs})"

    def arch(self, index: int) -> str:
        return self[self._check_index(index)]

    @property
    def avaliable_hps(self) -> list[str]:  # the official (misspelt) name
        return list(HPS)

    def random(self) -> int:
        """A uniformly random architecture index."""
        return int(self.rng.integers(NUM_ARCHS))

    def query_index_by_arch(self, arch: Any) -> int:
        """Index of an index, arch string, `Arch` or object with ``tostr()``; -1 when it is not in the space.

        An integer out of range raises ValueError, like the official API.
        """
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            return self._check_index(int(arch))
        if isinstance(arch, Arch):
            return arch.index
        if not isinstance(arch, str) and hasattr(arch, "tostr"):
            arch = arch.tostr()
        if isinstance(arch, str):
            try:
                return Arch.from_str(arch).index
            except ValueError:
                return -1
        return -1

    def _check_index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < NUM_ARCHS:
            raise ValueError(f"architecture index {index!r} is out of range 0..{NUM_ARCHS - 1}")
        return int(index)

    def _index(self, arch: Any) -> int:
        i = self.query_index_by_arch(arch)
        if i < 0:
            detail = ""
            if isinstance(arch, str):
                try:
                    Arch.from_str(arch)
                except ValueError as exc:
                    detail = f": {exc}"
            raise ValueError(f"architecture {arch!r} is not in the NAS-Bench-201 space{detail}")
        return i

    # --- argument checks -----------------------------------------------------------------------------
    @staticmethod
    def _dataset(dataset: str, valid: tuple[str, ...] = INFO_DATASETS) -> str:
        if dataset not in valid:
            raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(valid)}")
        return dataset

    @staticmethod
    def _epochs(hp: str | int) -> int:
        if str(hp) not in HPS:
            raise ValueError(f"unknown hp {hp!r} (training schedule in epochs); valid: {', '.join(HPS)}")
        return int(hp)

    @staticmethod
    def _iepoch(iepoch: int | None, epochs: int) -> int | None:
        """None for the last epoch, else the epoch index (validated)."""
        if iepoch is None:
            return None
        if not isinstance(iepoch, (int, np.integer)) or isinstance(iepoch, bool) or not 0 <= iepoch < epochs:
            raise ValueError(f"iepoch {iepoch!r} is out of range 0..{epochs - 1} for the {epochs}-epoch schedule")
        return None if iepoch == epochs - 1 else int(iepoch)

    # --- figures -------------------------------------------------------------------------------------
    @property
    def substitutes_used(self) -> tuple[str, ...]:
        """Substitutes that answers so far relied on, in catalogue order."""
        return tuple(s for s in SUBSTITUTES if s in self._used)

    def _resolve(self, name: str, need_trials: bool) -> Resolved:
        key = (name, need_trials)
        if key not in self._resolved:
            try:
                self._resolved[key] = self.bench.resolve(name, self.substitutes, need_trials=need_trials)
            except MissingFigureError as exc:
                self._resolved[key] = exc
        res = self._resolved[key]
        if isinstance(res, MissingFigureError):
            raise res
        return res

    def _note(self, used: Collection[str]) -> None:
        for u in used:
            self._used[u] = None

    @staticmethod
    def _at(res: Resolved, i: int, trial: int | None) -> float:
        """The figure of cell i at a trial position (or its mean); NaN when that trial does not exist."""
        if trial is None or res.trials is None:
            v = res.mean[i]
        else:
            v = res.trials[i, trial] if trial < res.trials.shape[1] else math.nan
        return float(v) * res.scale

    def _accuracy(self, ds: str, split: str, epochs: int, i: int, trial: int | None, random_trial: bool,
                  iepoch: int | None) -> tuple[float, tuple[str, ...]]:
        """One accuracy figure and the substitutes it used; MissingFigureError when the source lacks it."""
        res = self._resolve(f"{ds}/{split}@{epochs}", need_trials=random_trial)
        used = res.used
        if iepoch is not None:
            curve = self.bench.table.curves.get(res.name) if res.scale == 1.0 and not res.used else None
            if curve is not None and curve.shape[2] == epochs:
                if trial is None or not random_trial:
                    with np.errstate(invalid="ignore"):
                        return float(np.nanmean(curve[i, :, iepoch])), used
                return float(curve[i, trial, iepoch]), used
            if "final-for-epoch" not in self.substitutes:
                raise MissingFigureError(f"the accuracy after epoch {iepoch} of {res.name!r}", self.bench.source,
                                         "The official files keep per-epoch curves.", ("final-for-epoch",))
            used = used + ("final-for-epoch",)
        value = self._at(res, i, trial if random_trial else None)
        if math.isnan(value):
            raise MissingFigureError(f"{res.name!r} of cell {i}" + (f" (trial {trial})" if random_trial else ""),
                                     self.bench.source, "This cell has no such figure in the table.")
        return value, used

    def _draw_trial(self, names: list[str], i: int, random_trial: bool) -> int | None:
        """One trial position for the whole answer, drawn among the trials of the first metric that has them."""
        if not random_trial:
            return None
        for name in names:
            trials = self.bench.table.trials.get(name)
            if trials is not None:
                n = int(np.sum(~np.isnan(trials[i])))
                if n > 0:
                    return int(self.rng.integers(n))
        return None

    def get_more_info(self, index: Any, dataset: str, iepoch: int | None = None, hp: str | int = "12",
                      is_random: bool = True) -> MoreInfo:
        """Loss, accuracy and time of one cell trained on ``dataset`` with the ``hp``-epoch schedule.

        ``is_random=True``: one random trial; False: the mean over trials. Keys as the official API's, minus those
        whose figures the source lacks (see ``.missing`` on the answer).
        """
        i = self._index(index)
        ds = self._dataset(dataset)
        epochs = self._epochs(hp)
        ie = self._iepoch(iepoch, epochs)
        if not isinstance(is_random, (bool, np.bool_)):
            raise ValueError(f"is_random must be True (a random trial) or False (the trial mean), got {is_random!r}; "
                             "tables keep trials by position, not by seed")
        random_trial = bool(is_random)
        sets = EVAL_SETS[ds]
        resolved_names = []
        for split in ["train", *sets.values()]:
            try:
                resolved_names.append(self._resolve(f"{ds}/{split}@{epochs}", need_trials=random_trial).name)
            except MissingFigureError:
                continue
        trial = self._draw_trial(resolved_names, i, random_trial)
        n_epochs_done = (epochs if ie is None else ie + 1)
        values: dict[str, float] = {}
        missing: dict[str, str] = {}
        used: list[str] = []
        no_loss = "The table keeps no losses (the official .pth / NATS files do)."

        def put(prefix: str, split: str) -> None:
            missing[f"{prefix}-loss"] = no_loss
            try:
                acc, u = self._accuracy(ds, split, epochs, i, trial, random_trial, ie)
                values[f"{prefix}-accuracy"] = acc
                used.extend(u)
            except MissingFigureError as exc:
                if prefix == "valtest" and split == "ori-test":
                    try:  # equal halves: the whole test set's accuracy is the mean of x-valid and x-test
                        a, ua = self._accuracy(ds, "x-valid", epochs, i, trial, random_trial, ie)
                        b, ub = self._accuracy(ds, "x-test", epochs, i, trial, random_trial, ie)
                        values[f"{prefix}-accuracy"] = (a + b) / 2
                        used.extend(ua + ub)
                    except MissingFigureError as exc2:
                        missing[f"{prefix}-accuracy"] = str(exc2)
                else:
                    missing[f"{prefix}-accuracy"] = str(exc)

        def times(prefix: str, field: str) -> None:
            per, total = f"{prefix}-per-time", f"{prefix}-all-time"
            try:
                res = self._resolve(f"{ds}/{field}@{epochs}", need_trials=False)
                if ie is not None and "final-for-epoch" not in self.substitutes:
                    raise MissingFigureError(f"the time up to epoch {ie} of {res.name!r}", self.bench.source,
                                             "The official files keep per-epoch times.", ("final-for-epoch",))
            except MissingFigureError as exc:
                missing[per] = missing[total] = str(exc)
                return
            one = self._at(res, i, trial)
            if math.isnan(one):
                missing[per] = missing[total] = f"{res.name!r} of cell {i} is not in the table"
                return
            used.extend(res.used + (("final-for-epoch",) if ie is not None else ()))
            if field == "train_seconds":  # the whole schedule's time; pro rata up to epoch ie
                all_time = one * n_epochs_done / epochs
            else:  # one evaluation pass, repeated after every epoch
                all_time = one * n_epochs_done
            values[total] = all_time
            values[per] = all_time / n_epochs_done

        put("train", "train")
        times("train", "train_seconds")
        for prefix, split in sets.items():
            put(prefix, split)
            if prefix == "valid":
                times(prefix, "eval_seconds")
            else:
                missing[f"{prefix}-per-time"] = missing[f"{prefix}-all-time"] = (
                    f"The table keeps evaluation times of the validation split only, not of {split!r}.")
        self._note(used)
        order = [f"{p}-{f}" for p in ("train", *sets) for f in INFO_FIELDS]
        where = f"cell {i}, {ds}, hp={epochs}" + (f", iepoch={ie}" if ie is not None else "")
        return MoreInfo({k: values[k] for k in order if k in values},
                        {k: missing[k] for k in order if k in missing}, self.bench.source, where)

    def get_cost_info(self, index: Any, dataset: str, hp: str | int = "12") -> MoreInfo:
        """FLOPs (M), params (M), latency (s) and train / eval times (``T-train@epoch``, ``T-train@total``,
        ``T-x-valid@epoch``, ...) of one cell, as far as the source has them."""
        i = self._index(index)
        ds = self._dataset(dataset)
        epochs = self._epochs(hp)
        values: dict[str, float] = {}
        missing: dict[str, str] = {}
        used: list[str] = []
        for key, name in (("flops", f"{ds}/flops_M"), ("params", f"{ds}/params_M"), ("latency", f"{ds}/latency_s")):
            if self.bench.has(name) and not math.isnan(self.bench.value(i, name)):
                values[key] = self.bench.value(i, name)
            else:
                missing[key] = f"{name!r} is not in the table"
        spans = [("train", "train_seconds", True)]
        spans += [(split, "eval_seconds", split == "x-valid") for split in EVAL_SETS[ds].values()]
        for label, field, has_source in spans:
            k_epoch, k_total = f"T-{label}@epoch", f"T-{label}@total"
            if not has_source:
                missing[k_epoch] = missing[k_total] = f"The table keeps no evaluation times of {label!r}."
                continue
            try:
                res = self._resolve(f"{ds}/{field}@{epochs}", need_trials=False)
                if "no-eval-time" in res.used:
                    raise MissingFigureError(f"{ds}/{field}@{epochs}", self.bench.source,
                                             "('no-eval-time' only waives charging it.)")
            except MissingFigureError as exc:
                missing[k_epoch] = missing[k_total] = str(exc)
                continue
            one = self._at(res, i, None)
            if math.isnan(one):
                missing[k_epoch] = missing[k_total] = f"{res.name!r} of cell {i} is not in the table"
                continue
            used.extend(res.used)
            total = one if field == "train_seconds" else one * epochs
            values[k_epoch], values[k_total] = total / epochs, total
        self._note(used)
        return MoreInfo(values, missing, self.bench.source, f"cell {i}, {ds}, hp={epochs}")

    def get_latency(self, index: Any, dataset: str, hp: str | int = "12") -> float:
        """Latency in seconds (the official figure is per batch of 256)."""
        return self.get_cost_info(index, dataset, hp)["latency"]

    # --- the simulated clock (NATS-Bench semantics: cumulative time until reset_time) -----------------
    @property
    def used_time(self) -> float:
        return self._used_time

    def reset_time(self) -> None:
        self._used_time = 0.0

    def _clock(self, dataset: str, epochs: int) -> SimulatedClock:
        key = (dataset, epochs)
        if key not in self._clocks:
            self._clocks[key] = SimulatedClock(self.bench, dataset, math.inf, epochs=epochs, random_trial=True,
                                               charge_eval=True, substitutes=self.substitutes, rng=self.rng)
        return self._clocks[key]

    def simulate_train_eval(self, arch: Any, dataset: str, iepoch: int | None = None, hp: str | int = "12",
                            account_time: bool = True) -> tuple[float, float | None, float, float]:
        """Pretend to train ``arch``: (valid accuracy of a random trial, latency, cost, cumulative time).

        CIFAR-10 queries ``cifar10-valid``; cost = train-all-time + valid-per-time, as in `SimulatedClock`.
        """
        i = self._index(arch)
        ds = self._dataset(dataset, SIM_DATASETS)
        epochs = self._epochs(hp)
        ie = self._iepoch(iepoch, epochs)
        if ie is None:
            clock = self._clock(ds, epochs)
            ev = clock.train_and_eval(i)
            acc, cost = ev.accuracy, ev.cost
            self._note(clock.substitutes_used)
        else:
            info = self.get_more_info(i, proxy_dataset(ds), iepoch=ie, hp=str(epochs), is_random=True)
            acc, cost = info["valid-accuracy"], info["train-all-time"] + info["valid-per-time"]
        lat_name = f"{proxy_dataset(ds)}/latency_s"
        latency = self.bench.value(i, lat_name) if self.bench.has(lat_name) else None
        if account_time:
            self._used_time += cost
        return acc, latency, cost, self._used_time

    # --- printing ------------------------------------------------------------------------------------
    def show(self, index: Any = -1) -> None:
        """Print the figures of one cell (or, for a negative index, what the source is)."""
        if isinstance(index, (int, np.integer)) and index < 0:
            print(self)
            return
        for line in self.describe(index):
            print(line)

    def describe(self, index: Any) -> list[str]:
        """The lines `show` prints."""
        i = self._index(index)
        lines = [f"{i:05d} {self[i]}"]

        def fmt(info: MoreInfo, key: str, unit: str = "%") -> str:
            v = info.get(key)
            return "n/a" if v is None else (f"{v:.2f}%" if unit == "%" else f"{v:.1f}s")

        for ds in INFO_DATASETS:
            cost = self.get_cost_info(i, ds, "200")
            flops = f"{cost['flops']:.2f}M" if "flops" in cost else "n/a"
            params = f"{cost['params']:.3f}M" if "params" in cost else "n/a"
            lat = f"{cost['latency'] * 1000:.2f}ms" if "latency" in cost else "n/a"
            lines.append(f"  {ds:14s} FLOPs={flops} params={params} latency={lat}")
            for hp in HPS:
                info = self.get_more_info(i, ds, hp=hp, is_random=False)
                parts = [f"{p}={fmt(info, f'{p}-accuracy')}" for p in ("train", *EVAL_SETS[ds])]
                parts.append(f"train-time={fmt(info, 'train-all-time', 's')}")
                lines.append(f"    hp={hp:>3s} (trial mean) " + " ".join(parts))
        return lines


API = NASBench201API

__all__ = ["API", "EVAL_SETS", "HPS", "INFO_DATASETS", "SIM_DATASETS", "AbsentFigureError", "MoreInfo",
           "NASBench201API"]
