"""The figures behind every call of the user API: one cell, dataset, schedule, trial and epoch at a time.

`Figures` reads a `Benchmark`'s table the way the official records (`ArchResults` / `ResultsCount`) are read:

- a *trial* is a column of the table's per-trial arrays; the user API names it by its seed where the source
  records seeds (``Table.seeds``: the official files, a built benchmark) and by its position 0, 1, 2 where it does
  not (the published CSV, the embedded default);
- a figure of one trial that the table keeps as a trial mean only needs the ``trial-mean`` substitute (FLOPs and
  parameters excepted: they are properties of the network, and the table keeps per-trial values where they
  differ; so is the latency of a source whose importer stores identical trials as one mean);
- an accuracy after an epoch before the last comes from the per-epoch curve, or needs ``final-for-epoch``; a time
  up to such an epoch needs ``final-for-epoch`` always (the table keeps totals: charged pro rata);
- FLOPs and parameters a source lacks are counted in closed form by ``supernet.flops`` for the stand-alone network
  (the benchmark's own convention) and marked computed; every other missing figure raises `MissingFigureError`
  naming it, the source, the files that have it and the substitute (if any) that would stand in.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from bench.oracle import OFFICIAL_FILES, Benchmark, Resolved
from bench.substitutes import MissingFigureError, check_substitutes
from bench.table import COST_FIELDS, DATASETS, EVAL_TIME_SPLIT, LOSS_SUFFIX, MODEL_FIELDS, MODEL_MEANS_EXACT, MetricName
from search_space import NUM_ARCHS, is_integer

if TYPE_CHECKING:
    from supernet.datasets import DatasetSpec

#: The official files with everything, and where losses and weights also come from.
WHERE = f"It is in {OFFICIAL_FILES}."
#: Where the per-trial figures a source keeps only the means of are.
TRIALS_WHERE = f"They are in {OFFICIAL_FILES}."
#: Datasets as the official API orders them.
DATASET_ORDER = tuple(DATASETS)


@dataclass(frozen=True)
class Figure:
    """One value, the substitutes it relied on, and how it was computed when it was not read from the table."""

    value: float
    used: tuple[str, ...] = ()
    computed: str | None = None


class Figures:
    """A source's figures per cell, dataset, schedule (``epochs``), trial (a column) and epoch."""

    def __init__(self, bench: Benchmark, substitutes: Collection[str] | str = ()) -> None:
        self.bench = bench
        self.table = bench.table
        self.substitutes = check_substitutes(substitutes)
        self._resolved: dict[tuple[str, bool], Resolved | MissingFigureError] = {}
        self._counted: dict[tuple[str, str], np.ndarray] = {}
        present: dict[int | None, set[str]] = {}  # schedule -> datasets with any figure (or trial seeds) on it
        for m in bench.metrics:
            name = MetricName.parse(m)
            present.setdefault(name.epochs, set()).add(name.dataset)
        for k in self.table.seeds:
            dataset, epochs = k.rsplit("@", 1)
            present.setdefault(int(epochs), set()).add(dataset)
        self._datasets = {e: tuple(d for d in DATASET_ORDER if d in ds) for e, ds in present.items()}
        #: The schedules (epochs) the source has figures of: the official API's ``avaliable_hps``.
        self.hps: tuple[int, ...] = tuple(sorted(e for e in present if e is not None))
        self._has: dict[tuple[str, int], np.ndarray] = {}
        self._has_cell: dict[int, np.ndarray] = {}
        self.C, self.N = self._shape()

    @property
    def source(self) -> str:
        return self.bench.source

    def _shape(self) -> tuple[int, int]:
        """Channels and cells per stage of the trained networks: a built benchmark records them, the official
        benchmark's are C=16, N=5."""
        sizes = {(s.get("C"), s.get("N")) for s in self.table.info.get("schedules", [])}
        if len(sizes) == 1:
            c, n = sizes.pop()
            if isinstance(c, int) and isinstance(n, int):
                return c, n
        return 16, 5

    def num_classes(self, dataset: str) -> int:
        """Classes of the network trained on ``dataset``."""
        return self._images(dataset).num_classes

    def input_size(self, dataset: str) -> int:
        return self._images(dataset).image_size

    def _images(self, dataset: str) -> DatasetSpec:
        """The image data the networks of ``dataset`` were trained on: its setting's family, or the source a built
        benchmark records (which may be a stand-in, e.g. smoke)."""
        from bench.generate.protocol import SETTINGS
        from supernet.datasets import DATASETS as IMAGES

        data = self.table.info.get("data", {}).get(dataset, {}).get("data") or SETTINGS[dataset].family
        return IMAGES[data]

    # --- argument checks -----------------------------------------------------------------------------
    def hp(self, hp: str | int) -> int:
        """The schedule ``hp`` names (its epochs), checked against what the source has."""
        try:
            epochs = int(str(hp))
        except ValueError:
            epochs = -1
        if epochs not in self.hps:
            raise ValueError(f"unknown hp {hp!r} (the schedule's epochs); valid for {self.source}: "
                             f"{', '.join(map(str, self.hps))}")
        return epochs

    @staticmethod
    def dataset(dataset: str) -> str:
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
        return dataset

    @staticmethod
    def split(dataset: str, setname: str) -> str:
        """An official set name of ``dataset`` (``valid`` is ``x-valid``, as the official ``get_eval`` reads it)."""
        split = "x-valid" if setname == "valid" else setname
        if split not in DATASETS[dataset]:
            raise ValueError(f"unknown set {setname!r} of {dataset}; valid: {', '.join(DATASETS[dataset])}")
        return split

    @staticmethod
    def iepoch(iepoch: int | None, epochs: int) -> int | None:
        """None for the last epoch, else the epoch index (checked)."""
        if iepoch is None:
            return None
        if not is_integer(iepoch) or not 0 <= iepoch < epochs:
            raise ValueError(f"iepoch {iepoch!r} is out of range 0..{epochs - 1} for the {epochs}-epoch schedule")
        return None if iepoch == epochs - 1 else int(iepoch)

    def datasets(self, epochs: int) -> list[str]:
        """Datasets with any figure on the ``epochs`` schedule, in the official order."""
        return list(self._datasets.get(epochs, ()))

    def has(self, i: int, dataset: str, epochs: int) -> bool:
        """Whether the source has any accuracy of cell ``i`` on ``dataset`` on the ``epochs`` schedule."""
        return bool(self._has_array(dataset, epochs)[i])

    def has_cell(self, i: int, epochs: int) -> bool:
        """Whether the source has any accuracy of cell ``i`` on the ``epochs`` schedule (on any dataset)."""
        if epochs not in self._has_cell:
            has = np.zeros(NUM_ARCHS, dtype=bool)
            for ds in self.datasets(epochs):
                has |= self._has_array(ds, epochs)
            self._has_cell[epochs] = has
        return bool(self._has_cell[epochs][i])

    def _has_array(self, dataset: str, epochs: int) -> np.ndarray:
        key = (dataset, epochs)
        if key not in self._has:  # the table is fixed once built: each answer is worked out once, for every cell
            has = np.zeros(NUM_ARCHS, dtype=bool)
            for split in DATASETS[dataset]:
                mean = self.table.means.get(f"{dataset}/{split}@{epochs}")
                if mean is not None:
                    has |= ~np.isnan(mean)
            self._has[key] = has
        return self._has[key]

    @cached_property
    def evaluated(self) -> np.ndarray:
        """Cells with any figure on any schedule but the training time (the official ``evaluated_indexes``)."""
        has = np.zeros(NUM_ARCHS, dtype=bool)
        for name, mean in self.table.means.items():
            if "/train_seconds" not in name and "@" in name:
                has |= ~np.isnan(mean)
        cells = np.flatnonzero(has)
        cells.setflags(write=False)
        return cells

    # --- trials --------------------------------------------------------------------------------------
    def seeds_known(self, dataset: str, epochs: int) -> bool:
        return f"{dataset}@{epochs}" in self.table.seeds

    def trials(self, i: int, dataset: str, epochs: int) -> dict[int, int] | None:
        """Trial key (seed, or position where seeds are not recorded) -> column, in the source's order; None when
        the source keeps only trial means of this dataset and schedule."""
        seeds = self.table.seeds.get(f"{dataset}@{epochs}")
        if seeds is not None:
            return {int(s): c for c, s in enumerate(seeds[i]) if s >= 0}
        for name in [f"{dataset}/{s}@{epochs}" for s in DATASETS[dataset]] + [f"{dataset}/{f}@{epochs}"
                                                                            for f in COST_FIELDS]:
            t = self.table.trials.get(name)
            if t is not None:
                return {c: c for c in range(t.shape[1]) if not math.isnan(t[i, c])}
        return None

    def trial_counts(self, dataset: str, epochs: int) -> np.ndarray | None:
        """Trials per cell (official ``statistics``); None when the source keeps only means."""
        seeds = self.table.seeds.get(f"{dataset}@{epochs}")
        if seeds is not None:
            return np.sum(seeds >= 0, axis=1)
        for name in [f"{dataset}/{s}@{epochs}" for s in DATASETS[dataset]]:
            t = self.table.trials.get(name)
            if t is not None:
                return np.sum(~np.isnan(t), axis=1)
        return None

    def no_trials(self, i: int, dataset: str, epochs: int) -> MissingFigureError:
        return MissingFigureError(f"the trials of cell {i} on {dataset} (hp={epochs})", self.source,
                                  f"It keeps their means only. {TRIALS_WHERE}")

    def column(self, i: int, dataset: str, epochs: int, key: int) -> int:
        """The column of trial ``key`` (a seed, or a position where the source records no seeds)."""
        trials = self.trials(i, dataset, epochs)
        if trials is None:
            raise self.no_trials(i, dataset, epochs)
        if not is_integer(key) or int(key) not in trials:
            what = "seed" if self.seeds_known(dataset, epochs) else "trial position (this source records no seeds)"
            raise ValueError(f"can not find {what} {key!r} among the trials of cell {i} on {dataset} (hp={epochs}): "
                             f"{list(trials)}")
        return trials[int(key)]

    # --- one figure ----------------------------------------------------------------------------------
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

    def _needs(self, substitute: str, what: str, where: str) -> tuple[str, ...]:
        if substitute not in self.substitutes:
            raise MissingFigureError(what, self.source, where, (substitute,))
        return (substitute,)

    def value(self, i: int, dataset: str, field: str, epochs: int | None, column: int | None = None, *,
              iepoch: int | None = None) -> Figure:
        """One figure of cell ``i``: trial ``column`` (None: the trial mean), after the last epoch or after
        ``iepoch`` (accuracies and losses; times up to an epoch are `train_time` / `eval_time`)."""
        if field in MODEL_FIELDS:
            return self._model(i, dataset, field, column)
        name = f"{dataset}/{field}@{epochs}"
        res = self._resolve(name, need_trials=column is not None)
        used = res.used
        trial = "" if column is None else f" (trial {column})"
        if iepoch is not None:
            curve = (self.table.curves.get(res.name)
                     if MetricName.parse(name).is_accuracy and res.name == name and not res.used else None)
            if curve is not None and curve.shape[2] == epochs:
                with np.errstate(invalid="ignore"):
                    v = float(np.nanmean(curve[i, :, iepoch]) if column is None else curve[i, column, iepoch])
                if math.isnan(v):
                    raise MissingFigureError(f"{name!r} after epoch {iepoch} of cell {i}{trial}", self.source,
                                             "This cell has no such figure in the table.")
                return Figure(v, used)
            kind = "loss" if MetricName.parse(name).is_loss else "accuracy"
            used += self._needs("final-for-epoch", f"the {kind} after epoch {iepoch} of {name!r}",
                                f"The table keeps the schedule's final figures only. {WHERE}")
        if column is None or res.trials is None:
            v = res.mean[i]
        else:
            v = res.trials[i, column] if column < res.trials.shape[1] else math.nan
        if math.isnan(v):
            raise MissingFigureError(f"{res.name!r} of cell {i}{trial}", self.source,
                                     "This cell has no such figure in the table.")
        return Figure(float(v) * res.scale, used)

    def _model(self, i: int, dataset: str, field: str, column: int | None) -> Figure:
        name = f"{dataset}/{field}"
        means, trials = self.table.means.get(name), self.table.trials.get(name)
        if means is None:
            if field != "latency_s":
                return Figure(float(self.counted(dataset, field)[i]), (), self.counted_note(field))
            if dataset != "cifar10" or "cifar10-valid/latency_s" not in self.table.means:
                raise MissingFigureError(f"metric {name!r}", self.source, WHERE)
            used = self._needs("cifar10-valid-latency", f"metric {name!r}", WHERE)
            fig = self._model(i, "cifar10-valid", field, column)
            return Figure(fig.value, used + fig.used)
        used: tuple[str, ...] = ()
        if column is not None and trials is not None:
            v = trials[i, column] if column < trials.shape[1] else math.nan
        else:
            v = means[i]
            if column is not None and field == "latency_s" and self.table.info.get("model_means") != MODEL_MEANS_EXACT:
                used = self._needs("trial-mean", f"per-trial values of {name!r}", WHERE)
        if math.isnan(v):
            raise MissingFigureError(f"{name!r} of cell {i}", self.source, "This cell has no such figure in the table.")
        return Figure(float(v), used)

    def counted(self, dataset: str, field: str) -> np.ndarray:
        """Closed-form parameters or FLOPs (millions) of every cell's stand-alone network on ``dataset``."""
        key = (dataset, field)
        if key not in self._counted:
            from supernet.flops import flops_counts, param_counts  # torch: only when a source lacks the counts

            classes = self.num_classes(dataset)
            if field == "params_M":
                self._counted[key] = param_counts(classes, self.C, self.N) / 1e6
            else:
                self._counted[key] = flops_counts(classes, self.input_size(dataset), self.C, self.N)
        return self._counted[key]

    def counted_note(self, field: str) -> str:
        what = "parameters" if field == "params_M" else "FLOPs (multiply-accumulates)"
        return (f"{what} counted by supernet.flops for the stand-alone network (C={self.C}, N={self.N}), the "
                f"benchmark's convention; not a figure of {self.source}")

    # --- times ---------------------------------------------------------------------------------------
    def train_time(self, i: int, dataset: str, epochs: int, column: int | None, done: int) -> Figure:
        """Training time of the first ``done`` epochs (the official ``all_time`` of ``get_train``)."""
        fig = self.value(i, dataset, "train_seconds", epochs, column)
        if done == epochs:
            return fig
        used = fig.used + self._needs("final-for-epoch", f"the training time up to epoch {done - 1} of "
                                      f"{dataset}/train_seconds@{epochs}", f"The table keeps totals. {WHERE}")
        return Figure(fig.value * done / epochs, used)

    def eval_time(self, i: int, dataset: str, split: str, epochs: int, column: int | None, done: int) -> Figure:
        """Evaluation time on ``split`` over the first ``done`` epochs (one pass after each; official ``all_time``)."""
        if split != EVAL_TIME_SPLIT[dataset]:
            raise MissingFigureError(f"the evaluation time on {split!r} of {dataset}", self.source,
                                     f"Tables keep the time of one pass over {EVAL_TIME_SPLIT[dataset]!r} only. "
                                     f"{WHERE}")
        fig = self.value(i, dataset, "eval_seconds", epochs, column)
        used = fig.used
        if done != epochs:
            used += self._needs("final-for-epoch", f"the evaluation time up to epoch {done - 1} of "
                                f"{dataset}/eval_seconds@{epochs}", f"The table keeps the mean pass. {WHERE}")
        return Figure(fig.value * done, used)

    def epoch_time(self, fig: Figure, epochs: int, what: str) -> Figure:
        """The time of one epoch (official ``cur_time``) from a whole schedule's: pro rata, a substitute."""
        used = fig.used + self._needs("final-for-epoch", f"the per-epoch time of {what}",
                                      f"The table keeps totals. {WHERE}")
        return Figure(fig.value / epochs, used)

    # --- all cells at once (find_best) ---------------------------------------------------------------
    def column_of_means(self, dataset: str, field: str, epochs: int | None) -> tuple[np.ndarray, tuple[str, ...],
                                                                                      str | None]:
        """Trial means of every cell: (values, substitutes used, how they were computed if not read)."""
        if field in MODEL_FIELDS:
            name = f"{dataset}/{field}"
            if name in self.table.means:
                return self.table.means[name], (), None
            if field == "latency_s":
                raise MissingFigureError(f"metric {name!r}", self.source, WHERE)
            return self.counted(dataset, field), (), self.counted_note(field)  # FLOPs / params: counted
        res = self._resolve(f"{dataset}/{field}@{epochs}", need_trials=False)
        return res.mean * res.scale, res.used, None


def loss_field(split: str) -> str:
    return split + LOSS_SUFFIX


__all__ = ["DATASET_ORDER", "EVAL_TIME_SPLIT", "NUM_ARCHS", "TRIALS_WHERE", "WHERE", "Figure", "Figures", "loss_field"]
