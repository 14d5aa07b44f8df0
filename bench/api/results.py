"""`ArchResults` and `ResultsCount` over our table: one cell on one schedule, and one trial of it.

Same method names, arguments and answer keys as the official classes (``nas_201_api`` v2.x and ``nats_bench``),
built on `Figures` instead of per-epoch records. Where the official classes return a dict, these return an
`Answer` (the keys that have figures; a missing one raises, naming what is missing); where the official
records would hold ``None`` for an absent time or ``-1`` for an unmeasured latency, these raise instead. Trials are
keyed by seed where the source records seeds, else by position (0, 1, 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.api.answer import Answer
from bench.api.figures import EVAL_TIME_SPLIT, TRIALS_WHERE, Figure, Figures, loss_field
from bench.substitutes import MissingFigureError
from bench.table import DATASETS
from search_space import is_integer

#: The two halves of the test set whose mean is the whole set's figure (equal sizes: 5k/5k, 3k/3k).
HALVES = ("x-valid", "x-test")
HALVES_NOTE = "the mean of x-valid and x-test (two equal halves of the test set), as the source lacks ori-test"


class _Collected:
    """The figures of one answer as they are asked for: values, the reason each missing one is missing, how
    computed ones were made, and the substitutes they used."""

    def __init__(self, used: tuple[str, ...] = ()) -> None:
        self.values: dict[str, Any] = {}
        self.missing: dict[str, str] = {}
        self.computed: dict[str, str] = {}
        self.used = list(used)

    def put(self, key: str, get: Callable[[], Figure]) -> None:
        try:
            fig = get()
        except MissingFigureError as exc:
            self.missing[key] = str(exc)
            return
        self.values[key] = fig.value
        self.used.extend(fig.used)
        if fig.computed:
            self.computed[key] = fig.computed

    def answer(self, order: list[str] | None = None) -> Answer:
        keys = order if order is not None else list(self.values) + list(self.missing)
        return Answer({k: self.values[k] for k in keys if k in self.values},
                      {k: self.missing[k] for k in keys if k in self.missing}, self.computed,
                      tuple(dict.fromkeys(self.used)))


class UnknownTrialError(ValueError, KeyError):
    """A seed (or trial position) the cell does not have; a ValueError as in ``get_metrics``, a KeyError as in
    ``query``."""

    def __str__(self) -> str:
        return str(self.args[0])


class ArchResults:
    """All trials of one cell on one schedule (``hp``), as the official ``ArchResults``."""

    #: The class of one trial (`ResultsCount`; AA-NAS-Bench's answers tuples and dicts of its own).
    _trial_class: type[ResultsCount]

    def __init__(self, owner: Any, index: int, epochs: int) -> None:
        self._owner = owner
        self._figs: Figures = owner.figures
        self.arch_index = int(index)
        self.arch_str = owner[index]
        self.epochs = epochs

    # --- what the official object holds --------------------------------------------------------------
    @property
    def dataset_seed(self) -> dict[str, list[int]]:
        """Dataset -> trial keys, for the datasets whose trials the source keeps."""
        out = {}
        for ds in self.get_dataset_names():
            trials = self._figs.trials(self.arch_index, ds, self.epochs)
            if trials is not None:
                out[ds] = list(trials)
        return out

    @property
    def all_results(self) -> dict[tuple[str, int], ResultsCount]:
        return {(ds, key): res for ds in self.dataset_seed for key, res in self.query(ds).items()}

    @property
    def clear_net_done(self) -> bool:
        return self._owner.weights.cleared(self.arch_index, self.epochs)

    def arch_idx_str(self) -> str:
        return f"{self.arch_index:06d}"

    def __repr__(self) -> str:
        runs = sum(len(v) for v in self.dataset_seed.values())
        return (f"{type(self).__name__}(arch-index={self.arch_index}, arch={self.arch_str}, {runs} runs, "
                f"clear={self.clear_net_done})")

    # --- datasets and trials -------------------------------------------------------------------------
    def get_dataset_names(self) -> list[str]:
        return [ds for ds in self._figs.datasets(self.epochs) if self._figs.has(self.arch_index, ds, self.epochs)]

    def _dataset(self, dataset: str) -> str:
        ds = self._figs.dataset(dataset)
        if ds not in self.get_dataset_names():
            raise ValueError(f"invalid dataset-name : {dataset} vs. {self.get_dataset_names()} (cell "
                             f"{self.arch_index}, hp={self.epochs}, {self._figs.source})")
        return ds

    def get_dataset_seeds(self, dataset: str) -> list[int]:
        ds = self._dataset(dataset)
        trials = self._figs.trials(self.arch_index, ds, self.epochs)
        if trials is None:
            raise self._figs.no_trials(self.arch_index, ds, self.epochs)
        return list(trials)

    def _column(self, ds: str, key: Any) -> int:
        try:
            return self._figs.column(self.arch_index, ds, self.epochs, key)
        except ValueError as exc:
            raise UnknownTrialError(str(exc)) from None

    def pick(self, ds: str, is_random: bool | int) -> tuple[int | None, tuple[str, ...]]:
        """The trial column ``is_random`` names: True a random trial, False the mean (None), an int that seed."""
        if isinstance(is_random, (bool, np.bool_)):
            if not is_random:
                return None, ()
            trials = self._figs.trials(self.arch_index, ds, self.epochs)
            if trials is None or not trials:
                if "trial-mean" in self._figs.substitutes:
                    return None, ("trial-mean",)
                raise MissingFigureError(f"per-trial values of cell {self.arch_index} on {ds} (hp={self.epochs})",
                                         self._figs.source, f"It keeps trial means only. {TRIALS_WHERE}",
                                         ("trial-mean",))
            keys = list(trials)
            return trials[keys[int(self._owner.rng.integers(len(keys)))]], ()
        if is_integer(is_random):
            return self._column(ds, int(is_random)), ()
        raise ValueError(f"invalid value for is_random: {is_random!r}; valid: True (a random trial), False (the "
                         "trial mean) or a seed of the cell")

    def query(self, dataset: str, seed: int | None = None) -> dict[int, ResultsCount] | ResultsCount:
        """The trials of ``dataset``: ``{seed: ResultsCount}``, or the one of ``seed``."""
        ds = self._dataset(dataset)
        trial = self._trial_class
        if seed is not None:
            return trial(self, ds, seed, self._column(ds, seed))
        trials = self._figs.trials(self.arch_index, ds, self.epochs)
        if trials is None:
            raise self._figs.no_trials(self.arch_index, ds, self.epochs)
        return {key: trial(self, ds, key, col) for key, col in trials.items()}

    def get_total_epoch(self, dataset: str | None = None) -> int:
        if dataset is not None:
            self._dataset(dataset)
        return self.epochs

    # --- figures -------------------------------------------------------------------------------------
    def get_metrics(self, dataset: str, setname: str, iepoch: int | None = None,
                    is_random: bool | int = False) -> Answer:
        """``{iepoch, loss, accuracy, cur_time, all_time}`` on ``setname`` after ``iepoch`` (None: the last):
        the trial mean (``is_random=False``), a random trial (True) or the trial of seed ``is_random``."""
        ds = self._dataset(dataset)
        split = self._figs.split(ds, setname)
        ie = self._figs.iepoch(iepoch, self.epochs)
        column, used = self.pick(ds, is_random)
        return self.metrics(ds, split, ie, column, used)

    def metrics(self, ds: str, split: str, ie: int | None, column: int | None,
                used: tuple[str, ...] = ()) -> Answer:
        """`get_metrics` of a chosen trial column; raises when the source lacks the accuracy itself."""
        answer = self.gather(ds, split, ie, column, used)
        if "accuracy" not in answer:
            self.accuracy(ds, split, column, ie)  # raises the accuracy's own MissingFigureError
        self._owner.note(answer.substitutes)
        return answer

    def gather(self, ds: str, split: str, ie: int | None, column: int | None, used: tuple[str, ...] = (),
               keys: tuple[str, ...] = ("loss", "accuracy", "cur_time", "all_time")) -> Answer:
        """The figures of ``keys`` (those of `get_metrics`) the source has, the others listed as missing; raises
        nothing."""
        epochs = self.epochs
        done = epochs if ie is None else ie + 1
        got = _Collected(used)
        got.values["iepoch"] = done - 1
        for key, get in (("loss", lambda: self.accuracy(ds, split, column, ie, loss=True)),
                         ("accuracy", lambda: self.accuracy(ds, split, column, ie)),
                         ("cur_time", lambda: self._time(ds, split, column, epochs, one_epoch=True)),
                         ("all_time", lambda: self._time(ds, split, column, done))):
            if key in keys:
                got.put(key, get)
        return got.answer()

    def accuracy(self, ds: str, split: str, column: int | None, ie: int | None, *, loss: bool = False) -> Figure:
        """Accuracy (or loss) on ``split``; the whole test set of CIFAR-100 / ImageNet16-120 (``ori-test``) from its
        two equal halves where the source lacks it."""
        field = loss_field(split) if loss else split
        try:
            return self._figs.value(self.arch_index, ds, field, self.epochs, column, iepoch=ie)
        except MissingFigureError:
            if split != "ori-test" or not all(h in DATASETS[ds] for h in HALVES):
                raise
            halves = [self._figs.value(self.arch_index, ds, loss_field(h) if loss else h, self.epochs, column,
                                       iepoch=ie) for h in HALVES]
            return Figure(sum(h.value for h in halves) / 2, halves[0].used + halves[1].used, HALVES_NOTE)

    def _time(self, ds: str, split: str, column: int | None, done: int, one_epoch: bool = False) -> Figure:
        figs, i, epochs = self._figs, self.arch_index, self.epochs
        if split == "train":
            fig = figs.train_time(i, ds, epochs, column, epochs if one_epoch else done)
        else:
            fig = figs.eval_time(i, ds, split, epochs, column, epochs if one_epoch else done)
        return figs.epoch_time(fig, epochs, f"{ds}/{split}@{epochs}") if one_epoch else fig

    def get_compute_costs(self, dataset: str) -> Answer:
        """FLOPs (M), params (M), latency (s) and times (``T-train@epoch`` / ``@total``, ``T-SPLIT@epoch`` /
        ``@total``), trial means, as the official ``get_compute_costs``."""
        return self.costs(self._dataset(dataset), None)

    get_comput_costs = get_compute_costs  # the first API's spelling, still in the NAS-Bench-201 README

    def costs(self, ds: str, column: int | None) -> Answer:
        figs, i, epochs = self._figs, self.arch_index, self.epochs
        got = _Collected()
        got.put("flops", lambda: figs.value(i, ds, "flops_M", None, column))
        got.put("params", lambda: figs.value(i, ds, "params_M", None, column))
        got.put("latency", lambda: figs.value(i, ds, "latency_s", None, column))
        for split in [s for s in DATASETS[ds] if s != "train"] + ["train"]:
            total, per = f"T-{split}@total", f"T-{split}@epoch"
            if split == "train":
                got.put(total, lambda: figs.train_time(i, ds, epochs, column, epochs))
            else:
                got.put(total, lambda s=split: figs.eval_time(i, ds, s, epochs, column, epochs))
            if total in got.values:
                got.values[per] = got.values[total] / epochs  # the mean of the epochs' times: total / E
            else:
                got.missing[per] = got.missing[total]
        self._owner.note(got.used)
        order = ["flops", "params", "latency", "T-train@epoch", "T-train@total"]
        order += [f"T-{s}@{w}" for s in DATASETS[ds] if s != "train" for w in ("epoch", "total")]
        return got.answer(order)

    def get_latency(self, dataset: str) -> float:
        """Mean latency over the trials, seconds (per batch of the benchmark's evaluation)."""
        fig = self._figs.value(self.arch_index, self._dataset(dataset), "latency_s", None, None)
        return fig.value

    def get_net_param(self, dataset: str, seed: int | None = None) -> Any:
        """Trained weights: ``{seed: state dict}`` of every trial, or one trial's (after ``api.reload``)."""
        return self._owner.weights.get(self.arch_index, self.epochs, self._dataset(dataset), seed, self._figs.source)

    def clear_params(self) -> None:
        self._owner.weights.clear(self.arch_index, [self.epochs])

    def show(self, is_print: bool = False) -> list[str]:
        return self._owner.information(self, None, is_print)


class ResultsCount:
    """One trial of one cell on one dataset and schedule, as the official ``ResultsCount``."""

    def __init__(self, arch: ArchResults, dataset: str, key: int, column: int) -> None:
        self._arch = arch
        self._figs = arch._figs
        self.name = dataset
        #: The trial's seed where the source records seeds, else its position (see ``seed_known``).
        self.seed = key
        self.seed_known = self._figs.seeds_known(dataset, arch.epochs)
        self.trial = column
        self.epochs = arch.epochs
        self.arch_config = {"channel": self._figs.C, "num_cells": self._figs.N, "arch_str": arch.arch_str,
                            "class_num": self._figs.num_classes(dataset)}

    @property
    def params(self) -> float:
        return self._figs.value(self._arch.arch_index, self.name, "params_M", None, self.trial).value

    @property
    def flop(self) -> float:
        return self._figs.value(self._arch.arch_index, self.name, "flops_M", None, self.trial).value

    def __repr__(self) -> str:
        sets = self.get_eval_set()
        try:
            flop, param = f"{self.flop:.2f}", f"{self.params:.3f}"
        except MissingFigureError:
            flop = param = "n/a"
        who = f"seed={self.seed}" if self.seed_known else f"trial={self.trial}"
        return (f"{type(self).__name__}({self.name}, arch={self.arch_config['arch_str']}, FLOP={flop}M, "
                f"Param={param}MB, {who}, {len(sets)} eval-sets: [{', '.join(sets)}])")

    def get_total_epoch(self) -> int:
        return self.epochs

    def get_eval_set(self) -> list[str]:
        """The evaluation sets this trial has accuracies of."""
        i, table = self._arch.arch_index, self._figs.table
        out = []
        for split in DATASETS[self.name]:
            name = f"{self.name}/{split}@{self.epochs}"
            if split != "train" and name in table.means and not np.isnan(table.means[name][i]):
                out.append(split)
        return out

    def get_latency(self) -> float:
        """This trial's latency in seconds (the official API answers -1 when it was not measured; this raises)."""
        return self._figs.value(self._arch.arch_index, self.name, "latency_s", None, self.trial).value

    def get_train(self, iepoch: int | None = None) -> Answer:
        ie = self._figs.iepoch(iepoch, self.epochs)
        return self._arch.metrics(self.name, "train", ie, self.trial)

    def get_eval(self, name: str, iepoch: int | None = None) -> Answer:
        ie = self._figs.iepoch(iepoch, self.epochs)
        return self._arch.metrics(self.name, self._figs.split(self.name, name), ie, self.trial)

    def get_times(self) -> Answer:
        costs = self._arch.costs(self.name, self.trial)
        keys = [k for k in list(costs) + list(costs.missing) if k.startswith("T-")]
        return Answer({k: costs[k] for k in keys if k in costs}, {k: costs.missing[k] for k in keys
                                                                  if k in costs.missing},
                      {k: v for k, v in costs.computed.items() if k in keys}, costs.substitutes)

    def get_net_param(self, clone: bool = False) -> Any:
        weights = self._arch._owner.weights.get(self._arch.arch_index, self.epochs, self.name, self.seed,
                                                self._figs.source)
        if clone:
            import copy

            return copy.deepcopy(weights)
        return weights

    def get_config(self, str2structure: Callable[[str], Any] | None) -> dict[str, Any]:
        """The network config (``infer.tiny``); with ``str2structure`` the arch string becomes its ``genotype``."""
        cfg = self.arch_config
        out: dict[str, Any] = {"name": "infer.tiny", "C": cfg["channel"], "N": cfg["num_cells"]}
        if str2structure is None:
            out["arch_str"] = cfg["arch_str"]
        else:
            out["genotype"] = str2structure(cfg["arch_str"])
        out["num_classes"] = cfg["class_num"]
        return out


ArchResults._trial_class = ResultsCount


__all__ = ["EVAL_TIME_SPLIT", "HALVES", "ArchResults", "ResultsCount", "UnknownTrialError"]
