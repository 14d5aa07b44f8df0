"""`AANASBenchAPI`: the names and answers of AA-NAS-Bench, NAS-Bench-201's first release (``aa_nas_api``, 2019).

Its README's calls, over the 200-epoch figures of any source we read: ``len`` / ``api[i]`` / iteration,
``show(index=-1)``, ``query_meta_info_by_index(i)`` -> an `AAArchResults` whose ``get_metrics(dataset, setname,
iepoch=None, is_random=False)`` is a ``(loss, accuracy)`` pair and ``get_comput_costs(dataset)`` a ``(flops, params,
latency)`` triple, ``query_by_index(i, dataset)`` -> a *list* of trials whose ``get_train(iepoch)`` /
``get_eval(name, iepoch)`` are ``{'loss', 'accuracy'}``, ``query_index_by_arch``, ``query_by_arch(arch)`` (the
information text), ``find_best(dataset, metric_on_set, FLOP_max, Param_max)`` (an index), ``arch(i)``. A tuple
cannot leave out what the source lacks, so a missing loss or latency raises `MissingFigureError` naming it (the
published figures have no losses: use `NASBench201API`'s dict answers there).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import numpy as np

from bench.api.nb201 import NASBench201API
from bench.api.results import ArchResults, ResultsCount
from bench.oracle import Benchmark
from bench.table import Table

#: AA-NAS-Bench kept the 200-epoch schedule only.
AA_HP = "200"


class AANASBenchAPI:
    """``AANASBenchAPI(file_path_or_dict, verbose=True)`` over our sources (None: the embedded default)."""

    def __init__(self, file_path_or_dict: str | os.PathLike | Benchmark | Table | None = None, verbose: bool = True,
                 *, substitutes: Collection[str] | str = (), rng: np.random.Generator | None = None,
                 seed: int | None = None) -> None:
        if verbose:
            print(f"try to create AA-NAS-Bench api from {file_path_or_dict or 'the embedded default'}")
        self._api = NASBench201API(file_path_or_dict, False, substitutes=substitutes, rng=rng, seed=seed)
        self._api.figures.hp(AA_HP)  # a source without 200-epoch figures cannot answer as AA-NAS-Bench did
        self.verbose = verbose

    @property
    def api(self) -> NASBench201API:
        """The `NASBench201API` underneath (dict answers, every schedule)."""
        return self._api

    @property
    def meta_archs(self) -> tuple[str, ...]:
        return self._api.meta_archs

    @property
    def evaluated_indexes(self) -> list[int]:
        return self._api.evaluated_indexes

    def __getitem__(self, index: int) -> str:
        return self._api[index]

    def __len__(self) -> int:
        return len(self._api)

    def __iter__(self):  # noqa: ANN204 - an iterator of strings
        return iter(self._api)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.evaluated_indexes)}/{len(self)} architectures)"

    def query_index_by_arch(self, arch: Any) -> int:
        return self._api.query_index_by_arch(arch)

    def arch(self, index: int) -> str:
        return self._api.arch(index)

    def query_by_arch(self, arch: Any) -> str | None:
        """The information text of a cell (None when it is not in the space, as AA-NAS-Bench answered)."""
        index = self.query_index_by_arch(arch)
        if index == -1:
            return None
        return self._api.query_info_str_by_arch(index, AA_HP)

    def query_meta_info_by_index(self, arch_index: int) -> AAArchResults:
        return AAArchResults(self._api, self._api._index(arch_index), self._api.figures.hp(AA_HP))

    def query_by_index(self, arch_index: int, dataname: str) -> list[AAResultsCount]:
        """Every trial of a cell on ``dataname``, as a list (AA-NAS-Bench's answer)."""
        info = self.query_meta_info_by_index(arch_index)
        if dataname not in info.get_dataset_names():
            raise ValueError(f"invalid dataset-name : {dataname}; valid: {info.get_dataset_names()}")
        return info.query(dataname)  # type: ignore[return-value]

    def find_best(self, dataset: str, metric_on_set: str, FLOP_max: float | None = None,  # noqa: N803
                  Param_max: float | None = None) -> int:  # noqa: N803
        """The index of the best cell (trial means, 200 epochs) under FLOPs / params caps."""
        return self._api._find_best(dataset, metric_on_set, FLOP_max, Param_max, AA_HP)[0]

    def show(self, index: int = -1) -> None:
        if index == -1:
            print(self)
            cells = self.evaluated_indexes
            for n, i in enumerate(cells):
                print("\n" + "-" * 10 + f" The ({n:5d}/{len(cells):5d}) {i:06d}-th architecture! " + "-" * 10)
                print(f"arch : {self[i]}")
                print(">" * 20)
                print("\n".join(self.query_meta_info_by_index(i).show()))
                print("<" * 20)
        elif 0 <= index < len(self):
            print("\n".join(self.query_meta_info_by_index(index).show()))
        else:
            print(f"This index ({index}) is out of range (0~{len(self)}).")


class AAArchResults(ArchResults):
    """AA-NAS-Bench's ``ArchResults``: tuples where the later API answers dicts."""

    def get_comput_costs(self, dataset: str) -> tuple[float, float, float]:  # type: ignore[override]
        """``(flops, params, latency)`` trial means (FLOPs/params counted where the source lacks them)."""
        costs = self.get_compute_costs(dataset)
        return costs["flops"], costs["params"], costs["latency"]

    def get_metrics(self, dataset: str, setname: str, iepoch: int | None = None,  # type: ignore[override]
                    is_random: bool = False) -> tuple[float, float]:
        """``(loss, accuracy)``: the trial mean, or a random trial (``is_random``)."""
        m = super().get_metrics(dataset, setname, iepoch, bool(is_random))
        return m["loss"], m["accuracy"]

    def query(self, dataset: str, seed: int | None = None) -> list[AAResultsCount] | AAResultsCount:  # type: ignore[override]
        """Every trial of ``dataset`` as a list (AA-NAS-Bench's answer), or the one of ``seed``."""
        trials = super().query(dataset, seed)
        return list(trials.values()) if isinstance(trials, dict) else trials  # type: ignore[return-value]


class AAResultsCount(ResultsCount):
    """AA-NAS-Bench's ``ResultsCount``: ``get_train`` / ``get_eval`` answer ``{'loss', 'accuracy'}``."""

    def get_train(self, iepoch: int | None = None) -> dict[str, float]:  # type: ignore[override]
        m = super().get_train(iepoch)
        return {"loss": m["loss"], "accuracy": m["accuracy"]}

    def get_eval(self, name: str, iepoch: int | None = None) -> dict[str, float]:  # type: ignore[override]
        m = super().get_eval(name, iepoch)
        return {"loss": m["loss"], "accuracy": m["accuracy"]}

    def valid_evaluation_set(self) -> list[str]:
        return self.get_eval_set()


AAArchResults._trial_class = AAResultsCount

__all__ = ["AA_HP", "AAArchResults", "AAResultsCount", "AANASBenchAPI"]
