"""`NASBench201API`: the ``nas_201_api`` (v2.x) user API over any source the harness reads.

Same method names, argument orders, defaults and answer keys as ``nas_201_api.NASBench201API``; the sources are
ours (the embedded default, a table, a CSV, an official ``.pth`` or NATS-Bench file, a benchmark we built). What
differs, and why:

- a figure the source lacks is never invented: a dict answer (`Answer`) leaves its key out and raises on access,
  naming the figure, the source and the files that have it; an answer that would hold no accuracy at all raises
  `MissingFigureError` at once. Documented substitutes apply only when named (``substitutes=``) and are recorded
  (``substitutes_used``, ``answer.substitutes``);
- trials are keyed by seed where the source records seeds, else by position (the published CSV records none);
- FLOPs and parameters a source lacks are counted by ``supernet.flops`` and marked (``answer.computed``);
- ``verbose`` prints the official "Call ..." lines; ``None`` as the source is the embedded default (the official
  API looks for its file in ``$TORCH_HOME``); ``rng`` / ``seed`` drive the random trial draws (the official API
  uses Python's global ``random``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import numpy as np

from bench.api.answer import Answer
from bench.api.encoding import str2lists, str2matrix
from bench.api.figures import DATASET_ORDER, Figures
from bench.api.results import ArchResults, ResultsCount
from bench.api.weights import NO_WEIGHTS, NoWeightsError, WeightStore
from bench.oracle import SEARCH_DATASETS, Benchmark, proxy_dataset
from bench.substitutes import SUBSTITUTES, MissingFigureError
from bench.table import DATASETS, Table
from search_space import NUM_ARCHS, Arch, arch_strings, check_index, is_integer, string_to_index

#: Datasets ``get_more_info`` and the costs accept; those ``simulate_train_eval`` accepts.
INFO_DATASETS = DATASET_ORDER
SIM_DATASETS = SEARCH_DATASETS
#: key prefix -> split, per dataset, exactly as the official ``get_more_info`` collects them.
EVAL_SETS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"valid": "x-valid", "test": "ori-test"},
    "cifar10": {"test": "ori-test"},
    "cifar100": {"valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
    "ImageNet16-120": {"valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
}
INFO_FIELDS = ("loss", "accuracy", "per-time", "all-time")
#: The official remap of (dataset, 'valid'/'test'/'train') in ``find_best``.
_REMAP = {("cifar10", "valid"): ("cifar10-valid", "x-valid"), ("cifar10", "test"): ("cifar10", "ori-test"),
          ("cifar100", "valid"): ("cifar100", "x-valid"), ("cifar100", "test"): ("cifar100", "x-test"),
          ("ImageNet16-120", "valid"): ("ImageNet16-120", "x-valid"),
          ("ImageNet16-120", "test"): ("ImageNet16-120", "x-test")}


def remap_dataset_set_names(dataset: str, metric_on_set: str) -> tuple[str, str]:
    """``('cifar10', 'valid')`` -> ``('cifar10-valid', 'x-valid')`` and the like, as the official API remaps."""
    return _REMAP.get((dataset, metric_on_set), (dataset, metric_on_set))


class NASBench201API:
    """``NASBench201API(file_path_or_dict=None, verbose=True)``: the official query interface over our sources.

    ``file_path_or_dict``: a path (table, CSV, official ``.pth``, NATS-Bench file or folder, a build's
    ``benchmark.nbt.npz``), ``None`` / ``'default'`` for the embedded default, a loaded `Benchmark` or `Table`.
    Keyword-only: ``substitutes`` (documented stand-ins the caller accepts), ``rng`` / ``seed`` (random trials).
    """

    def __init__(self, file_path_or_dict: str | os.PathLike | Benchmark | Table | None = None, verbose: bool = True,
                 *, substitutes: Collection[str] | str = (), rng: np.random.Generator | None = None,
                 seed: int | None = None) -> None:
        if isinstance(file_path_or_dict, Benchmark):
            self.bench = file_path_or_dict
        elif isinstance(file_path_or_dict, Table):
            self.bench = Benchmark(file_path_or_dict)
        elif isinstance(file_path_or_dict, Mapping):
            raise ValueError("a dict of official results is read by the official package; pass its file's path "
                             "(it is imported into a table once and cached)")
        else:
            if verbose:
                print(f"try to create the NAS-Bench-201 api from {file_path_or_dict or 'the embedded default'}")
            self.bench = Benchmark.load(file_path_or_dict)
        self.figures = Figures(self.bench, substitutes)
        self.substitutes = self.figures.substitutes
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.verbose = verbose
        self.filename = self.bench.path.name if self.bench.path is not None else self.bench.source
        self.weights = WeightStore()
        self._used: dict[str, None] = {}
        self._archstr2index: dict[str, int] | None = None
        self.reset_time()

    # --- the space -----------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.verbose:
            print(text)

    @property
    def meta_archs(self) -> tuple[str, ...]:
        return arch_strings()

    @property
    def evaluated_indexes(self) -> list[int]:
        """Cells the source has figures of (on any schedule); a new list each time, as the scan is done once."""
        return self.figures.evaluated.tolist()

    @property
    def arch2infos_dict(self) -> Mapping[int, Mapping[str, ArchResults]]:
        """index -> {hp: ArchResults}, built on access (the official attribute)."""
        return _Infos(self)

    @property
    def archstr2index(self) -> dict[str, int]:
        """This API's own dict (built once), as the official attribute: changing it changes no other API."""
        if self._archstr2index is None:
            self._archstr2index = dict(string_to_index())
        return self._archstr2index

    def __len__(self) -> int:
        return NUM_ARCHS

    def __getitem__(self, index: int) -> str:
        return self.meta_archs[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.meta_archs)

    def __repr__(self) -> str:
        subs = f", substitutes={list(self.substitutes)}" if self.substitutes else ""
        return (f"{type(self).__name__}({len(self.evaluated_indexes)}/{NUM_ARCHS} architectures, "
                f"file={self.filename}{subs})")

    def arch(self, index: int) -> str:
        self._say(f"Call the arch function with index={index}")
        return self[check_index(index)]

    @property
    def avaliable_hps(self) -> list[str]:  # the official (misspelt) name
        return [str(e) for e in self.figures.hps]

    def random(self) -> int:
        """A uniformly random architecture index."""
        return int(self.rng.integers(NUM_ARCHS))

    def query_index_by_arch(self, arch: Any) -> int:
        """Index of an index, arch string, `Arch` or object with ``tostr()``; -1 when it is not in the space; an
        integer out of range is a ValueError, as officially."""
        self._say(f"Call query_index_by_arch with arch={arch}")
        if is_integer(arch):
            return check_index(arch)
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

    def _index(self, arch: Any) -> int:
        verbose, self.verbose = self.verbose, False
        try:
            i = self.query_index_by_arch(arch)
        finally:
            self.verbose = verbose
        if i < 0:
            detail = ""
            if isinstance(arch, str):
                try:
                    Arch.from_str(arch)
                except ValueError as exc:
                    detail = f": {exc}"
            raise ValueError(f"architecture {arch!r} is not in the NAS-Bench-201 space{detail}")
        return i

    # --- substitutes ---------------------------------------------------------------------------------
    @property
    def substitutes_used(self) -> tuple[str, ...]:
        """Substitutes that answers so far relied on, in catalogue order."""
        return tuple(s for s in SUBSTITUTES if s in self._used)

    def note(self, used: Collection[str]) -> None:
        for u in used:
            self._used[u] = None

    # --- records -------------------------------------------------------------------------------------
    def query_meta_info_by_index(self, arch_index: int, hp: str = "12") -> ArchResults:
        """The `ArchResults` of a cell on the ``hp``-epoch schedule."""
        self._say(f"Call query_meta_info_by_index with arch_index={arch_index}, hp={hp}")
        i = self._index(arch_index)
        epochs = self.figures.hp(hp)
        if not self.figures.has_cell(i, epochs):
            raise ValueError(f"arch_index [{arch_index}] does not in arch2infos: {self.figures.source} has no "
                             f"figure of it at hp={hp}")
        return ArchResults(self, i, epochs)

    def query_by_index(self, arch_index: int, dataname: str | None = None,
                       hp: str = "12") -> ArchResults | dict[int, ResultsCount]:
        """The `ArchResults` (``dataname`` None) or ``{seed: ResultsCount}`` of the trials on ``dataname``."""
        self._say(f"Call query_by_index with arch_index={arch_index}, dataname={dataname}, hp={hp}")
        info = self.query_meta_info_by_index(arch_index, hp)
        if dataname is None:
            return info
        if dataname not in info.get_dataset_names():
            raise ValueError(f"invalid dataset-name : {dataname} vs. {info.get_dataset_names()}")
        return info.query(dataname)  # type: ignore[return-value]

    def query_info_str_by_arch(self, arch: Any, hp: str = "12") -> str:
        """The `show` text of one cell on one schedule."""
        self._say(f"Call query_info_str_by_arch with arch={arch} and hp={hp}")
        i = self._index(arch)
        info = self.query_meta_info_by_index(i, hp)
        return "\n".join(self.information(info, f"arch-index={i}"))

    def query_by_arch(self, arch: Any, hp: str) -> str:
        """The old name of `query_info_str_by_arch`."""
        return self.query_info_str_by_arch(arch, hp)

    # --- the figures of the papers -------------------------------------------------------------------
    def get_more_info(self, index: Any, dataset: str, iepoch: int | None = None, hp: str = "12",
                      is_random: bool | int = True) -> Answer:
        """Loss, accuracy and times of one cell on ``dataset`` with the ``hp``-epoch schedule, after ``iepoch``
        (None: the last): a random trial (``is_random=True``, the default, as officially), the trial mean (False)
        or the trial of one seed (an int). Keys as the official answer's, those with figures here."""
        self._say(f"Call the get_more_info function with index={index}, dataset={dataset}, iepoch={iepoch}, "
                  f"hp={hp}, and is_random={is_random}.")
        i = self._index(index)
        ds = self.figures.dataset(dataset)
        epochs = self.figures.hp(hp)
        ie = self.figures.iepoch(iepoch, epochs)
        info = ArchResults(self, i, epochs)
        column, picked = info.pick(ds, is_random)
        done = epochs if ie is None else ie + 1
        values: dict[str, Any] = {}
        missing: dict[str, str] = {}
        computed: dict[str, str] = {}
        used = list(picked)

        def put(prefix: str, split: str) -> None:
            m = info.gather(ds, split, ie, column, keys=("loss", "accuracy", "all_time"))
            used.extend(m.substitutes)
            computed.update({f"{prefix}-{k}": v for k, v in m.computed.items()})
            for key, theirs in (("loss", "loss"), ("accuracy", "accuracy"), ("all-time", "all_time")):
                if theirs in m:
                    values[f"{prefix}-{key}"] = m[theirs]
                else:
                    missing[f"{prefix}-{key}"] = m.missing[theirs]
            if "all_time" in m:
                values[f"{prefix}-per-time"] = m["all_time"] / done
            else:
                missing[f"{prefix}-per-time"] = m.missing["all_time"]

        put("train", "train")
        for prefix, split in EVAL_SETS[ds].items():
            put(prefix, split)
        if not any(k.endswith("-accuracy") for k in values):
            reasons = "; ".join(f"{k}: {v}" for k, v in missing.items() if k.endswith("-accuracy"))
            raise MissingFigureError(f"every accuracy of cell {i} on {ds} (hp={epochs})", self.figures.source,
                                     f"({reasons})")
        self.note(used)
        order = [f"{p}-{f}" for p in ("train", *EVAL_SETS[ds]) for f in INFO_FIELDS]
        extra = self._more_info_extra(ds, epochs)
        ordered = {k: values[k] for k in order[:4] if k in values}
        ordered.update(extra)
        ordered.update({k: values[k] for k in order[4:] if k in values})
        return Answer(ordered, {k: missing[k] for k in order if k in missing}, computed, tuple(dict.fromkeys(used)))

    def _more_info_extra(self, dataset: str, epochs: int) -> dict[str, Any]:
        """Keys the official answer adds beside the figures (NATS-Bench: a comment)."""
        return {}

    def get_cost_info(self, index: int, dataset: str, hp: str = "12") -> Answer:
        """FLOPs (M), params (M), latency (s) and times of a cell, trial means (FLOPs/params counted and marked
        where the source lacks them)."""
        self._say(f"Call the get_cost_info function with index={index}, dataset={dataset}, and hp={hp}.")
        info = self.query_meta_info_by_index(self._index(index), hp)
        return info.get_compute_costs(dataset)

    def get_latency(self, index: int, dataset: str, hp: str = "12") -> float:
        """Latency in seconds (per batch of the benchmark's evaluation, 256 officially)."""
        self._say(f"Call the get_latency function with index={index}, dataset={dataset}, and hp={hp}.")
        return self.get_cost_info(index, dataset, hp)["latency"]

    # --- the simulated clock (cumulative until reset_time) -------------------------------------------
    @property
    def used_time(self) -> float:
        return self._used_time

    def reset_time(self) -> None:
        self._used_time = 0.0

    def simulate_train_eval(self, arch: Any, dataset: str, hp: str = "12",
                            account_time: bool = True) -> tuple[float, float, float, float]:
        """Pretend to train ``arch``: (valid accuracy of a random trial, latency, cost, cumulative time); CIFAR-10
        queries ``cifar10-valid``; cost = train-all-time + valid-per-time of that trial."""
        return self._simulate(arch, dataset, None, hp, account_time)

    def _simulate(self, arch: Any, dataset: str, iepoch: int | None, hp: str,
                  account_time: bool) -> tuple[float, float, float, float]:
        i = self._index(arch)
        if dataset not in SIM_DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(SIM_DATASETS)}")
        verbose, self.verbose = self.verbose, False
        try:
            info = self.get_more_info(i, proxy_dataset(dataset), iepoch=iepoch, hp=hp, is_random=True)
            cost = info["train-all-time"] + info["valid-per-time"]
            latency = self.get_latency(i, dataset, hp=hp)  # officially the searched dataset's, cifar10 included
        finally:
            self.verbose = verbose
        if account_time:
            self._used_time += cost
        return info["valid-accuracy"], latency, cost, self._used_time

    # --- over all cells ------------------------------------------------------------------------------
    def find_best(self, dataset: str, metric_on_set: str, FLOP_max: float | None = None,  # noqa: N803
                  Param_max: float | None = None, hp: str = "12") -> tuple[int, float]:  # noqa: N803
        """(index, accuracy) of the best cell on ``metric_on_set`` (trial means) under FLOPs / params caps."""
        self._say(f"Call find_best with dataset={dataset}, metric_on_set={metric_on_set}, hp={hp} | with #FLOPs < "
                  f"{FLOP_max} and #Params < {Param_max}")
        return self._find_best(dataset, metric_on_set, FLOP_max, Param_max, hp)

    def _find_best(self, dataset: str, metric_on_set: str, flop_max: float | None, param_max: float | None,
                   hp: str) -> tuple[int, float]:
        ds, split = remap_dataset_set_names(dataset, metric_on_set)
        ds = self.figures.dataset(ds)
        split = self.figures.split(ds, split)
        epochs = self.figures.hp(hp)
        acc, used, _ = self.figures.column_of_means(ds, split, epochs)
        ok = ~np.isnan(acc)
        for cap, field in ((flop_max, "flops_M"), (param_max, "params_M")):
            if cap is not None:
                values, _, _ = self.figures.column_of_means(ds, field, None)
                ok &= ~(values > cap)
        self.note(used)
        if not ok.any():
            return -1, None  # type: ignore[return-value]  # as officially: no cell meets the caps
        best = int(np.flatnonzero(ok)[np.argmax(acc[ok])])
        return best, float(acc[best])

    def statistics(self, dataset: str, hp: str | int) -> dict[int, int]:
        """``{number of trials: number of cells}`` on ``dataset`` with the ``hp`` schedule."""
        self._say(f"Call the statistics function with dataset={dataset} and hp={hp}.")
        if dataset not in DATASETS:
            raise ValueError(f"{dataset} not in {list(DATASETS)}")
        epochs = self.figures.hp(hp)
        counts = self.figures.trial_counts(dataset, epochs)
        if counts is None:
            raise MissingFigureError(f"the number of trials of each cell on {dataset} (hp={epochs})",
                                     self.figures.source, "It keeps trial means only; the official files keep "
                                     "every trial.")
        counts = counts[self._statistics_cells()]
        values, n = np.unique(counts, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, n, strict=True)}

    def _statistics_cells(self) -> np.ndarray:
        return np.arange(NUM_ARCHS)  # NAS-Bench-201 counts every cell (NATS-Bench: the evaluated ones)

    # --- networks and weights ------------------------------------------------------------------------
    def get_net_config(self, index: int, dataset: str) -> dict[str, Any]:
        """The config of the cell's network on ``dataset`` (``infer.tiny``), for `get_cell_based_tiny_net`."""
        self._say(f"Call the get_net_config function with index={index}, dataset={dataset}.")
        i = self._index(index)
        ds = self.figures.dataset(dataset)
        return {"name": "infer.tiny", "C": self.figures.C, "N": self.figures.N, "arch_str": self[i],
                "num_classes": self.figures.num_classes(ds)}

    def reload(self, archive_root: str | os.PathLike | None = None, index: int | None = None) -> None:
        """Load the trained weights of cell ``index`` (None: every cell of the build) from a benchmark this
        harness built with ``--keep-weights`` (``archive_root`` None: the build the loaded table came from)."""
        self._say(f"Call reload with archive_root={archive_root} and index={index}")
        if archive_root is None:
            if self.bench.table.info.get("importer") != "bench.generate":
                raise NoWeightsError(f"{self.figures.source} holds no weights and names no build to read them "
                                     f"from. No weights in {NO_WEIGHTS}")
            archive_root = self.bench.table.info["source"]
        indices = None if index is None else [check_index(index)]
        self.weights.reload(archive_root, indices)

    def get_net_param(self, index: int, dataset: str, seed: int | None, hp: str = "12") -> Any:
        """Trained weights of a cell on ``dataset``: ``{seed: state dict}`` (``seed`` None) or one trial's."""
        self._say(f"Call the get_net_param function with index={index}, dataset={dataset}, seed={seed}, hp={hp}")
        info = self.query_meta_info_by_index(index, hp)
        return info.get_net_param(dataset, seed)

    def clear_params(self, index: int, hp: str | None = None) -> None:
        """Drop the loaded weights of a cell (``hp`` None: of every schedule)."""
        self._say(f"Call clear_params with index={index} and hp={hp}")
        i = check_index(index)
        if hp is not None and str(hp) not in self.avaliable_hps:
            raise ValueError(f"The {i}-th architecture only has hyper-parameters of {self.avaliable_hps} instead "
                             f"of {hp}.")
        self.weights.clear(i, self.figures.hps if hp is None else [int(hp)])

    # --- printing ------------------------------------------------------------------------------------
    def information(self, info: ArchResults, extra_info: Any = None, show: bool = False) -> list[str]:
        """The official ``print_information`` lines of an `ArchResults`; ``n/a`` where the source lacks a figure."""
        lines = [info.arch_str, f"datasets : {info.get_dataset_names()}, extra-info : {extra_info}"]

        def get(call: Any) -> Any:
            try:
                return call()
            except (MissingFigureError, KeyError):
                return None

        def metric(dataset: str, split: str) -> str:
            m = get(lambda: info.get_metrics(dataset, split))
            if m is None:
                return "n/a"
            loss = f"{m['loss']:.3f}" if "loss" in m else "n/a"
            return f"loss = {loss}, top1 = {m['accuracy']:.2f}%"

        for ds in info.get_dataset_names():
            cost = info.get_compute_costs(ds)
            flop = f"{cost['flops']:6.2f}" if "flops" in cost else "   n/a"
            param = f"{cost['params']:.3f}" if "params" in cost else "n/a"
            lat = f"{cost['latency'] * 1000:.2f}" if "latency" in cost and cost["latency"] > 0 else None
            lines.append(f"{ds:14s} FLOP={flop} M, Params={param} MB, latency={lat} ms.")
            parts = [f"train : [{metric(ds, 'train')}]"]
            if ds == "cifar10-valid":
                parts.append(f"valid : [{metric(ds, 'x-valid')}]")
            elif ds == "cifar10":
                parts.append(f"test  : [{metric(ds, 'ori-test')}]")
            else:
                parts += [f"valid : [{metric(ds, 'x-valid')}]", f"test : [{metric(ds, 'x-test')}]"]
            lines.append(f"{ds:14s} " + ", ".join(parts))
        if show:
            print("\n".join(lines))
        return lines

    def show(self, index: int = -1) -> None:
        """Print the figures of one cell on every schedule (a negative index: of every cell, as officially)."""
        if index < 0:
            print(self)
            cells = self.evaluated_indexes
            for n, i in enumerate(cells):
                print("\n" + "-" * 10 + f" The ({n:5d}/{len(cells):5d}) {i:06d}-th architecture! " + "-" * 10)
                print(f"arch : {self[i]}")
                self._show_one(i)
            return
        if not 0 <= index < NUM_ARCHS:
            print(f"This index ({index}) is out of range (0~{NUM_ARCHS}).")
            return
        self._show_one(index)

    def _show_one(self, i: int) -> None:
        shown = False
        for epochs in self.figures.hps:
            if not self.figures.has_cell(i, epochs):
                continue
            info = ArchResults(self, i, epochs)
            print(">" * 40 + f" {epochs:03d} epochs " + ">" * 40)
            print("\n".join(self.information(info)))
            shown = True
        if shown:
            print("<" * 40 + "------------" + "<" * 40)
        else:
            print(f"The {i}-th architecture has not been evaluated or not saved.")

    # --- encodings -----------------------------------------------------------------------------------
    str2lists = staticmethod(str2lists)
    str2matrix = staticmethod(str2matrix)


class _Infos(Mapping):
    """``api.arch2infos_dict``: index -> {hp: ArchResults}, built on access."""

    def __init__(self, api: NASBench201API) -> None:
        self._api = api

    def __getitem__(self, index: int) -> dict[str, ArchResults]:
        i = check_index(index)
        out = {str(e): ArchResults(self._api, i, e) for e in self._api.figures.hps if self._api.figures.has_cell(i, e)}
        if not out:
            raise KeyError(index)
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self._api.evaluated_indexes)

    def __len__(self) -> int:
        return len(self._api.evaluated_indexes)


API = NASBench201API

__all__ = ["API", "EVAL_SETS", "INFO_DATASETS", "SIM_DATASETS", "NASBench201API", "remap_dataset_set_names"]
