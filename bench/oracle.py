"""`Benchmark`: the fast oracle over a benchmark table.

Loading reads one small `.npz` (milliseconds); scalar queries are an array lookup; vectorised queries take index
arrays. Figures a source lacks raise `MissingFigureError` unless the caller names a substitute.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.substitutes import MissingFigureError, check_substitutes
from bench.table import DATASETS, MetricName, Table, TableError
from search_space import NUM_ARCHS, Arch, check_index, is_integer

ArchLike = Arch | int | str | np.integer

#: Search dataset name -> (benchmark dataset of its valid figure, valid split, dataset of test, test split).
#: As the papers report: CIFAR-10's valid is `cifar10-valid`/x-valid, its test is `cifar10`/ori-test.
REPORTED: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "cifar10": (("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": (("cifar100", "x-valid"), ("cifar100", "x-test")),
    "ImageNet16-120": (("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
}
SEARCH_DATASETS = tuple(REPORTED)
#: The two splits the papers report for each search dataset.
REPORTED_SPLITS = ("valid", "test")


def reported_metric(dataset: str, split: str, epochs: int = 200) -> str:
    """The metric behind a reported figure, e.g. (``cifar10``, ``test``) -> ``cifar10/ori-test@200``."""
    if split not in REPORTED_SPLITS:
        raise ValueError(f"unknown reported split {split!r}; valid: {', '.join(REPORTED_SPLITS)}")
    d, s = REPORTED[search_dataset(dataset)][REPORTED_SPLITS.index(split)]
    return f"{d}/{s}@{epochs}"

#: Where the official figures live, for error messages.
OFFICIAL_FILES = ("the official NAS-Bench-201 v1.1 file (NAS-Bench-201-v1_1-096897.pth), the NATS-Bench topology "
                  "file (NATS-tss-v1_0-3ffb9-simple), or a CSV in the layout of nb201_tss.csv.gz")


def search_dataset(name: str) -> str:
    """Validate a dataset name as users type it (cifar10, cifar100, ImageNet16-120)."""
    if name not in REPORTED:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(REPORTED)}")
    return name


def proxy_dataset(name: str) -> str:
    """The benchmark dataset a search on ``name`` queries: CIFAR-10 searches see `cifar10-valid` only."""
    return "cifar10-valid" if search_dataset(name) == "cifar10" else name


@dataclass(frozen=True)
class Resolved:
    """Where a metric's figures come from once substitutes are applied."""

    name: str
    mean: np.ndarray
    trials: np.ndarray | None
    #: Multiplier applied to every value (e.g. 12/200 for scaled train time).
    scale: float
    used: tuple[str, ...]


class Benchmark:
    """Answers questions about the 15,625 cells from one loaded source."""

    def __init__(self, table: Table, path: Path | None = None) -> None:
        self.table = table
        self.path = path
        self._means = table.means
        self._trials = table.trials
        self._ntrials = {k: np.sum(~np.isnan(v), axis=1) for k, v in table.trials.items()}
        self._checksum: str | None = None

    # --- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, source: str | os.PathLike | None = None) -> Benchmark:
        """Load any source the harness reads; see `bench.sources.open_table`."""
        from bench.sources import open_table

        table, path = open_table(source)
        return cls(table, path)

    @property
    def source(self) -> str:
        return str(self.table.info.get("source", self.path or "<in memory>"))

    @property
    def checksum(self) -> str:
        """`Table.checksum` of the loaded figures, computed once (runs record it: equal figures, equal checksum)."""
        if self._checksum is None:
            self._checksum = self.table.checksum()
        return self._checksum

    def __repr__(self) -> str:
        return f"Benchmark(source={self.source!r}, metrics={len(self._means)})"

    # --- metrics ---------------------------------------------------------------------------------
    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(sorted(self._means))

    def has(self, name: str) -> bool:
        return name in self._means

    def has_trials(self, name: str) -> bool:
        return name in self._trials

    def _require(self, name: str) -> None:
        if name not in self._means:
            MetricName.parse(name)  # a malformed name is a ValueError naming the valid choices
            raise MissingFigureError(f"metric {name!r}", self.source, f"Metrics here: {', '.join(self.metrics)}. "
                                     f"The official figures are in {OFFICIAL_FILES}.")

    def resolve(self, name: str, substitutes: Collection[str] = (), need_trials: bool = False) -> Resolved:
        """The figures behind ``name``, using only the substitutes the caller names."""
        subs = check_substitutes(substitutes)
        m = MetricName.parse(name)
        used: list[str] = []
        scale = 1.0
        actual = name
        if name not in self._means:
            alt = None
            options: tuple[str, ...] = ()
            if m.is_accuracy and m.epochs is not None and m.epochs != 200:
                options = ("acc200-for-acc12",)
                if "acc200-for-acc12" in subs:
                    alt = f"{m.dataset}/{m.field}@200"
            elif m.field == "train_seconds" and m.epochs is not None and m.epochs != 200:
                options = ("train200-scaled",)
                if "train200-scaled" in subs:
                    alt, scale = f"{m.dataset}/train_seconds@200", m.epochs / 200
            elif m.field == "eval_seconds":
                options = ("no-eval-time",)
                if "no-eval-time" in subs:
                    zeros = np.zeros(NUM_ARCHS)
                    return Resolved(name, zeros, None, 1.0, ("no-eval-time",))
            if alt is None or alt not in self._means:
                raise MissingFigureError(f"metric {name!r}", self.source, f"It is in {OFFICIAL_FILES}.", options)
            used.append(options[0])
            actual = alt
        trials = self._trials.get(actual)
        if need_trials and trials is None:
            if "trial-mean" not in subs:
                raise MissingFigureError(f"per-trial values of {actual!r}", self.source,
                                         f"They are in {OFFICIAL_FILES}.", ("trial-mean",))
            used.append("trial-mean")
        return Resolved(actual, self._means[actual], trials, scale, tuple(used))

    # --- scalar queries --------------------------------------------------------------------------
    def value(self, arch: ArchLike, name: str, trial: int | None = None) -> float:
        """One figure of one cell: the trial mean, or trial number ``trial``."""
        i = index_of(arch)
        if trial is None:
            try:
                return float(self._means[name][i])
            except KeyError:
                self._require(name)
                raise
        self._require(name)
        if name not in self._trials:
            raise MissingFigureError(f"per-trial values of {name!r}", self.source, f"They are in {OFFICIAL_FILES}.")
        n = int(self._ntrials[name][i])
        if n == 0:
            raise MissingFigureError(f"{name!r} of cell {i}", self.source, "The source has no trial of it.")
        if not is_integer(trial) or not 0 <= trial < n:
            raise ValueError(f"trial {trial} is out of range for cell {i} on {name!r}: it has trials 0..{n - 1}")
        return float(self._trials[name][i, trial])

    def accuracy(self, arch: ArchLike, dataset: str, split: str, epochs: int = 200, trial: int | None = None) -> float:
        return self.value(arch, f"{dataset}/{split}@{epochs}", trial)

    def num_trials(self, name: str) -> np.ndarray:
        """Trials per cell of a metric (1 where the source keeps only a mean)."""
        self._require(name)
        return self._ntrials.get(name, np.ones(NUM_ARCHS, dtype=np.int64))

    # --- vectorised queries ----------------------------------------------------------------------
    def values(self, indices: np.ndarray, name: str, trials: np.ndarray | None = None) -> np.ndarray:
        """Figures of many cells: trial means, or the given trial of each cell (indices checked as `indices_of`)."""
        self._require(name)
        idx = indices_of(indices)
        if trials is None:
            return self._means[name][idx]
        if name not in self._trials:
            raise MissingFigureError(f"per-trial values of {name!r}", self.source, f"They are in {OFFICIAL_FILES}.")
        per_cell = self._trials[name]
        return per_cell[idx, _positions(trials, per_cell.shape[1], "trial")]

    def random_trials(self, indices: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
        """One uniformly drawn trial per cell, respecting each cell's own trial count."""
        idx = indices_of(indices)
        n = self.num_trials(name)[idx]
        return (rng.random(idx.shape) * n).astype(np.int64)

    # --- rankings --------------------------------------------------------------------------------
    def optimum(self, name: str, maximize: bool | None = None) -> tuple[int, float]:
        """(index, value) of the best cell on a metric (trial means; ties go to the lowest index)."""
        self._require(name)
        v = self._means[name]
        if maximize is None:
            maximize = not MetricName.parse(name).lower_is_better
        if np.all(np.isnan(v)):
            raise MissingFigureError(f"every cell's {name!r}", self.source, f"It is in {OFFICIAL_FILES}.")
        i = int(np.nanargmax(v) if maximize else np.nanargmin(v))
        return i, float(v[i])

    def rank(self, arch: ArchLike, name: str, maximize: bool | None = None) -> int:
        """1 for the best cell; ties share the better rank."""
        self._require(name)
        v = self._means[name]
        if maximize is None:
            maximize = not MetricName.parse(name).lower_is_better
        i = index_of(arch)
        x = v[i]
        if np.isnan(x):  # NaN compares false with everything: it would rank first
            raise MissingFigureError(f"{name!r} of cell {i}", self.source, "A cell without the figure has no rank.")
        return int(np.sum(v > x) if maximize else np.sum(v < x)) + 1

    def percentile(self, arch: ArchLike, name: str, maximize: bool | None = None) -> float:
        """Share of cells (in %) that this cell is at least as good as."""
        self._require(name)
        valid = np.sum(~np.isnan(self._means[name]))
        return 100.0 * (valid - self.rank(arch, name, maximize) + 1) / valid

    # --- the papers' figures ---------------------------------------------------------------------
    def reported(self, arch: ArchLike, dataset: str, epochs: int = 200) -> dict[str, float | None]:
        """Trial-mean valid and test accuracy of a cell as the papers report them; None where the source lacks one."""
        i = index_of(arch)
        out: dict[str, float | None] = {}
        for key in REPORTED_SPLITS:
            name = reported_metric(dataset, key, epochs)
            out[key] = float(self._means[name][i]) if name in self._means else None
            out[f"{key}_metric"] = name  # type: ignore[assignment]
        return out


def index_of(arch: ArchLike) -> int:
    """Official index of an Arch, an index or an arch string; out-of-range indices name the valid range, and a
    float (even 3.0), a bool or anything else is refused rather than truncated or wrapped."""
    if is_integer(arch):
        return check_index(arch)
    if isinstance(arch, Arch):
        return arch.index
    if isinstance(arch, str):
        return Arch.parse(arch).index
    raise ValueError(f"{arch!r} ({type(arch).__name__}) is not an architecture; valid: an integer index "
                     f"0..{NUM_ARCHS - 1}, an arch string or an Arch")


def indices_of(indices: object) -> np.ndarray:
    """Cell indices of a vectorised query as an int64 array, every one checked as `index_of` checks one: numpy
    would wrap -1 round to cell 15624 and truncate nothing, but index with floats or bools in ways nobody meant.
    Integer arrays are checked in one pass; arrays of arch strings or Archs are converted one by one."""
    idx = np.asarray(indices)
    if idx.dtype.kind in "iu":
        if idx.size and (idx.min() < 0 or idx.max() >= NUM_ARCHS):
            bad = idx[(idx < 0) | (idx >= NUM_ARCHS)].flat[0]
            raise ValueError(f"architecture index {bad} is out of range 0..{NUM_ARCHS - 1}")
        return idx.astype(np.int64, copy=False)
    if idx.dtype.kind in "OU" and idx.size:
        return np.array([index_of(a) for a in idx.flat], dtype=np.int64).reshape(idx.shape)
    if idx.size == 0:
        return idx.astype(np.int64)
    raise ValueError(f"architecture indices must be integers 0..{NUM_ARCHS - 1}; got an array of {idx.dtype} "
                     f"(first value {idx.flat[0].item()!r})")


def _positions(values: object, size: int, what: str) -> np.ndarray:
    """Positions 0..size-1 along one axis (e.g. trials), checked: no wrap-around, no floats."""
    pos = np.asarray(values)
    if pos.size and (pos.dtype.kind not in "iu" or pos.min() < 0 or pos.max() >= size):
        bad = pos.flat[0] if pos.dtype.kind not in "iu" else pos[(pos < 0) | (pos >= size)].flat[0]
        raise ValueError(f"{what} {getattr(bad, 'item', lambda: bad)()!r} is out of range: valid are integers "
                         f"0..{size - 1}")
    return pos.astype(np.int64, copy=False)


__all__ = ["DATASETS", "REPORTED", "REPORTED_SPLITS", "SEARCH_DATASETS", "Benchmark", "MissingFigureError", "Resolved", "TableError",
           "index_of", "indices_of", "proxy_dataset", "reported_metric", "search_dataset"]
