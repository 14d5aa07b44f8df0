"""`NATStopology` and ``create``: the ``nats_bench`` (topology space) user API over any source the harness reads.

The same calls as `NASBench201API` with NATS-Bench's own signatures and answers where they differ:
``create(file_path_or_dict, search_space, fast_mode=False, verbose=True)``; ``simulate_train_eval(arch, dataset,
iepoch=None, hp='12', account_time=True)`` (a run stopped after epoch ``iepoch``); ``find_best(dataset,
metric_on_set, flop_max=None, param_max=None, hp='12', enforce_all=None)``; a ``comment`` key in
``get_more_info`` of cifar10-valid and cifar10; ``statistics`` over the evaluated cells; ``get_unique_str``. Our
sources load whole and fast, so ``fast_mode`` changes nothing but what `fast_mode` reports. The size space
(``sss``) is not NAS-Bench-201's: ``create`` refuses it by name.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import numpy as np

from bench.api.nb201 import NASBench201API
from bench.oracle import Benchmark
from bench.table import Table
from search_space.canonical import nb201_unique_key

TOPOLOGY_NAMES = ("tss", "topology")
SIZE_NAMES = ("sss", "size")


class NATStopology(NASBench201API):
    """``NATStopology(file_path_or_dict=None, fast_mode=False, verbose=True)``: NATS-Bench's topology API."""

    def __init__(self, file_path_or_dict: str | os.PathLike | Benchmark | Table | None = None, fast_mode: bool = False,
                 verbose: bool = True, *, substitutes: Collection[str] | str = (),
                 rng: np.random.Generator | None = None, seed: int | None = None) -> None:
        self._fast_mode = fast_mode
        self._archive_dir = None
        super().__init__(file_path_or_dict, verbose, substitutes=substitutes, rng=rng, seed=seed)

    def __repr__(self) -> str:
        subs = f", substitutes={list(self.substitutes)}" if self.substitutes else ""
        return (f"{type(self).__name__}({len(self.evaluated_indexes)}/{len(self)} architectures, "
                f"fast_mode={self.fast_mode}, file={self.filename}{subs})")

    # --- NATS-Bench's properties ---------------------------------------------------------------------
    @property
    def fast_mode(self) -> bool:
        return self._fast_mode

    def reset_fast_mode(self, fast_mode: bool) -> None:
        self._fast_mode = fast_mode

    @property
    def archive_dir(self) -> str | None:
        return self._archive_dir

    def reset_archive_dir(self, archive_dir: str | None) -> None:
        self._archive_dir = archive_dir

    @property
    def search_space_name(self) -> str:
        return "topology"

    @property
    def is_size(self) -> bool:
        return False

    @property
    def is_topology(self) -> bool:
        return True

    @property
    def full_epochs_in_paper(self) -> int:
        return 200

    @property
    def full_train_epochs(self) -> int:
        return 200

    def get_unique_str(self, arch: Any) -> str:
        """NATS-Bench's string shared by isomorphic cells (zeros considered)."""
        return nb201_unique_key(self._index(arch))

    # --- calls whose signature or answer differs -----------------------------------------------------
    def simulate_train_eval(self, arch: Any, dataset: str, iepoch: int | None = None,  # type: ignore[override]
                            hp: str = "12", account_time: bool = True) -> tuple[float, float, float, float]:
        """(valid accuracy of a random trial after ``iepoch``, latency, cost, cumulative time); cost =
        train-all-time up to ``iepoch`` + valid-per-time."""
        return self._simulate(arch, dataset, iepoch, hp, account_time)

    def find_best(self, dataset: str, metric_on_set: str, flop_max: float | None = None,  # type: ignore[override]
                  param_max: float | None = None, hp: str = "12",
                  enforce_all: bool | None = None) -> tuple[int, float]:
        """(index, accuracy) of the best cell (trial means) under the caps; ``enforce_all`` is accepted as in fast
        mode (every cell is loaded here)."""
        self._say(f"Call find_best with dataset={dataset}, metric_on_set={metric_on_set}, hp={hp} | with #FLOPs < "
                  f"{flop_max} and #Params < {param_max}")
        if enforce_all and not self.fast_mode:
            raise AssertionError("enforce_all can only be set when fast_mode=True; if you are using non-fast-mode, "
                                 "please set it as False")
        return self._find_best(dataset, metric_on_set, flop_max, param_max, hp)

    def _statistics_cells(self) -> np.ndarray:
        return np.asarray(self.evaluated_indexes, dtype=np.int64)

    def _more_info_extra(self, dataset: str, epochs: int) -> dict[str, Any]:
        if dataset == "cifar10-valid":
            return {"comment": "In this dict, train-loss/accuracy/time is the metric on the train set of CIFAR-10. "
                               "The test-loss/accuracy/time is the performance of the CIFAR-10 test set after "
                               f"training on the train set by {epochs} epochs. The per-time and total-time "
                               "indicate the per epoch and total time costs, respectively."}
        if dataset == "cifar10":
            return {"comment": "In this dict, train-loss/accuracy/time is the metric on the train+valid sets of "
                               "CIFAR-10. The test-loss/accuracy/time is the performance of the CIFAR-10 test set "
                               f"after training on the train+valid sets by {epochs} epochs. The per-time and "
                               "total-time indicate the per epoch and total time costs, respectively."}
        return {}


def create(file_path_or_dict: str | os.PathLike | Benchmark | Table | None, search_space: str, fast_mode: bool = False,
           verbose: bool = True, **options: Any) -> NATStopology:
    """``nats_bench.create``: the API of the topology space (``'tss'`` / ``'topology'``) over a source; keyword
    ``options`` are `NATStopology`'s (``substitutes``, ``rng``, ``seed``)."""
    if search_space in TOPOLOGY_NAMES:
        return NATStopology(file_path_or_dict, fast_mode, verbose, **options)
    if search_space in SIZE_NAMES:
        raise ValueError(f"search space {search_space!r} is NATS-Bench's size space, which is not NAS-Bench-201's "
                         f"and has no source here; valid: {', '.join(TOPOLOGY_NAMES)}")
    raise ValueError(f"invalid search space : {search_space}; valid: {', '.join(TOPOLOGY_NAMES + SIZE_NAMES)}")


__all__ = ["SIZE_NAMES", "TOPOLOGY_NAMES", "NATStopology", "create"]
