"""Import the official NAS-Bench-201 files (``NAS-Bench-201-v1_0-e61699.pth``, ``NAS-Bench-201-v1_1-096897.pth``).

The file is read by the `nas-bench-201` package's own reader (`nas_201_api.NASBench201API`), so the schema is the
package's: ``meta_archs`` (the 15,625 arch strings), ``arch2infos[index]['less' | 'full']`` (12- and 200-epoch
`ArchResults`), each holding one `ResultsCount` per (dataset, seed) with per-epoch train/eval accuracies and times,
FLOPs, parameters and latency. `collect` turns such results into our metrics; the NATS-Bench importer shares it.

Metrics, per dataset and schedule E (the trial's own epoch count):

- ``DATASET/SPLIT@E``: accuracy after the last epoch per trial (trials in ascending seed order) and the trial
  mean, for every split the file has; per-epoch curves for the splits in ``curve_splits`` (default: the
  validation split, the only one a search may look at; a (15625, 3, 200) float32 curve is 37.5 MB, read and
  checksummed the first time it is used, not at `Benchmark.load`);
- ``DATASET/train_seconds@E``: the whole schedule's training time (the official ``train-all-time``);
- ``DATASET/eval_seconds@E``: one evaluation pass over ``x-valid`` (the official ``valid-per-time``), which is
  what the official ``simulate_train_eval`` charges on top of the training time;
- ``DATASET/latency_s``, ``params_M``, ``flops_M`` from the 200-epoch runs, means as the official
  ``get_compute_costs`` computes them.

A figure the file lacks (a cell it has no results for, a dataset its 12-epoch runs skipped, a missing time) is
NaN, or the metric is absent; never zero.

The official reader calls ``torch.load``, which (torch >= 2.6) unpickles plain data only, in pure Python: safe
for a downloaded file, but slow for the gigabyte files (importing is once; the table is cached). For a file you
trust, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` lets torch use the native unpickler.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.table import DATASETS, MODEL_FIELDS, Table, TableError, cause, metric
from search_space import NUM_ARCHS, Arch

PACKAGE = "nas-bench-201"
#: Official file name -> version, e.g. ``NAS-Bench-201-v1_1-096897.pth`` -> ``v1_1``.
_FILE_NAME = re.compile(r"NAS-Bench-201-(?P<version>v\d+_\d+)-(?P<md5>[0-9a-f]+)\.pth$")
#: Schedule whose runs give the model figures (latency, params, FLOPs): the one the published tables use.
MODEL_HP = "200"
#: The split whose per-epoch time is one evaluation pass (official ``valid-per-time``).
EVAL_SPLIT = "x-valid"
#: Splits whose per-epoch curves are kept by default (pass ``curve_splits=ALL_SPLITS`` for every one).
CURVE_SPLITS: tuple[str, ...] = ("x-valid",)
ALL_SPLITS: tuple[str, ...] = tuple(sorted({s for splits in DATASETS.values() for s in splits if s != "train"}))


def read_nb201(path: str | os.PathLike, curve_splits: Collection[str] = CURVE_SPLITS) -> Table:
    """Read an official NAS-Bench-201 ``.pth`` file into a table (minutes and tens of GB for the real files)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"NAS-Bench-201 file {str(path)!r} does not exist")
    from nas_201_api import NASBench201API

    try:
        with _numpy_scalars_allowed():
            api = NASBench201API(str(path), verbose=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, AssertionError, KeyError, IndexError,
            ValueError, TypeError, AttributeError) as exc:
        raise TableError(f"cannot read {str(path)!r} as an official NAS-Bench-201 file "
                         f"({cause(exc)})") from exc
    info = provenance(path, "nb201", PACKAGE, _FILE_NAME, file_bytes=path.stat().st_size)
    cells = ((i, api.arch2infos_dict[i]) for i in sorted(api.arch2infos_dict))
    return collect(api.meta_archs, cells, info, curve_splits=curve_splits, source=str(path))


def collect(meta_archs: list[str], cells: Iterable[tuple[int, Mapping[str, Any]]], info: dict, *, source: str,
            curve_splits: Collection[str] = CURVE_SPLITS,
            cost_mean: Callable[[Any, str], dict] | None = None) -> Table:
    """Turn official results (file index -> {hp: ArchResults}) into a table in our index order.

    ``cost_mean(arch_results, dataset)`` gives the official mean FLOPs/params/latency (default: the results'
    own ``get_compute_costs``, which is what both official APIs answer).
    """
    curve_splits = check_curve_splits(curve_splits)
    order = _index_map(meta_archs, source)
    cols = _Columns()
    hps: set[str] = set()
    skipped: set[str] = set()
    seen = np.zeros(NUM_ARCHS, dtype=bool)
    for file_index, hp2results in cells:
        i = int(order[file_index])
        seen[i] = True
        for hp, archres in hp2results.items():
            if not str(hp).isdigit():
                skipped.add(f"hp {hp!r}")
                continue
            hps.add(str(hp))
            for dataset, seeds in archres.dataset_seed.items():
                if dataset not in DATASETS:
                    skipped.add(f"dataset {dataset!r}")
                    continue
                results = [archres.all_results[(dataset, s)] for s in seeds]
                for k, res in enumerate(results):
                    skipped |= _put_trial(cols, i, k, dataset, res, curve_splits)
                if str(hp) == MODEL_HP and results:
                    _put_model(cols, i, dataset, results, (cost_mean or _compute_costs)(archres, dataset))
    table = cols.table(info)
    missing = int(NUM_ARCHS - seen.sum())
    notes = list(info.get("notes", []))
    if missing:
        notes.append(f"{missing} cells have no results in the source: their figures are NaN")
    if skipped:
        notes.append("not imported (no metric for them here): " + ", ".join(sorted(skipped)))
    table.info.update({"hps": sorted(hps, key=int), "cells_with_results": int(seen.sum()),
                       "trial_order": "ascending seed", "curve_splits": sorted(curve_splits), "notes": notes})
    return table


# --- one trial -----------------------------------------------------------------------------------
def _put_trial(cols: _Columns, i: int, k: int, dataset: str, res: Any,
               curve_splits: tuple[str, ...]) -> set[str]:
    """File one ResultsCount (trial k of cell i) under its metrics; returns the eval sets it skipped."""
    epochs = int(res.get_total_epoch())
    last = epochs - 1
    skipped = set()
    cols.trial(metric(dataset, "train", epochs), i, k, _at(res.train_acc1es, last))
    for split in res.get_eval_set():
        if split not in DATASETS[dataset]:
            skipped.add(f"eval set {split!r} of {dataset}")
            continue
        name = metric(dataset, split, epochs)
        cols.trial(name, i, k, _num(res.eval_acc1es.get(f"{split}@{last}")))
        if split in curve_splits:
            cols.curve(name, i, k, [_num(res.eval_acc1es.get(f"{split}@{e}")) for e in range(epochs)])
    train_times = res.train_times
    cols.trial(metric(dataset, "train_seconds", epochs), i, k,
               _total([_at(train_times, e) for e in range(epochs)]) if train_times is not None else math.nan)
    if EVAL_SPLIT in res.get_eval_set() and isinstance(res.eval_times, dict) and res.eval_times:
        total = _total([_num(res.eval_times.get(f"{EVAL_SPLIT}@{e}")) for e in range(epochs)])
        cols.trial(metric(dataset, "eval_seconds", epochs), i, k, total / epochs)
    return skipped


def _put_model(cols: _Columns, i: int, dataset: str, results: list[Any], costs: dict) -> None:
    """Model figures of cell i: per-trial values, and the official mean (which may differ, see NATS-Bench)."""
    per_trial = {
        "params_M": [_num(r.params) for r in results],
        "flops_M": [_num(r.flop) for r in results],
        "latency_s": [_positive(r.get_latency()) for r in results],
    }
    official = {"params_M": costs.get("params"), "flops_M": costs.get("flops"), "latency_s": costs.get("latency")}
    for fld, values in per_trial.items():
        name = metric(dataset, fld)
        for k, v in enumerate(values):
            cols.trial(name, i, k, v)
        cols.mean(name, i, _num(official[fld]))


def _compute_costs(archres: Any, dataset: str) -> dict:
    return archres.get_compute_costs(dataset)


# --- accumulation ---------------------------------------------------------------------------------
class _Columns:
    """NaN-filled arrays that grow as trials arrive, so the whole file is read in one pass."""

    _MODEL = MODEL_FIELDS

    def __init__(self) -> None:
        self.trials: dict[str, np.ndarray] = {}
        self.curves: dict[str, np.ndarray] = {}
        self.means: dict[str, np.ndarray] = {}

    def trial(self, name: str, i: int, k: int, value: float) -> None:
        a = self.trials.get(name)
        if a is None or k >= a.shape[1]:
            a = self.trials[name] = _grow(a, (NUM_ARCHS, max(3, k + 1)), np.float64)
        a[i, k] = value

    def curve(self, name: str, i: int, k: int, values: list[float]) -> None:
        a = self.curves.get(name)
        if a is None or k >= a.shape[1]:
            a = self.curves[name] = _grow(a, (NUM_ARCHS, max(3, k + 1), len(values)), np.float32)
        if a.shape[2] != len(values):
            raise TableError(f"{name}: a trial has {len(values)} epochs of curve, others {a.shape[2]}")
        a[i, k] = values

    def mean(self, name: str, i: int, value: float) -> None:
        if name not in self.means:
            self.means[name] = np.full(NUM_ARCHS, np.nan)
        self.means[name][i] = value

    def table(self, info: dict) -> Table:
        table = Table(info=dict(info))
        for name in sorted(self.trials):
            trials = self.trials[name]
            used = ~np.isnan(trials)
            if not used.any():
                continue  # a figure no trial has: the metric is absent, not a column of NaN
            trials = trials[:, : int(np.max(np.nonzero(used.any(axis=0))[0])) + 1]
            mean = self.means.get(name)
            if name.split("/")[1] in self._MODEL and _same_across_trials(trials):
                table.add(name, mean=mean if mean is not None else _nanmean(trials))
                continue
            curve = self.curves.get(name)
            if curve is not None:
                curve = curve[:, : trials.shape[1]]
            table.add(name, mean=mean, trials=trials, curve=curve)
        return table


def _grow(a: np.ndarray | None, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    out = np.full(shape, np.nan, dtype=dtype)
    if a is not None:
        out[:, : a.shape[1]] = a
    return out


def _same_across_trials(trials: np.ndarray) -> bool:
    """True when every cell's trials agree (then only the mean is worth keeping)."""
    hi = np.max(np.where(np.isnan(trials), -np.inf, trials), axis=1)
    lo = np.min(np.where(np.isnan(trials), np.inf, trials), axis=1)
    ok = np.isfinite(hi)
    return not np.any(hi[ok] > lo[ok])


def _nanmean(a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[0], np.nan)
    n = np.sum(~np.isnan(a), axis=1)
    ok = n > 0
    out[ok] = np.nansum(a[ok], axis=1) / n[ok]
    return out


# --- values ---------------------------------------------------------------------------------------
def _num(x: Any) -> float:
    """A figure from the file; None (the official 'not available') becomes NaN."""
    return math.nan if x is None else float(x)


def _positive(x: Any) -> float:
    """Latency: the official API uses -1 (or any value <= 0) for 'not measured'."""
    v = _num(x)
    return v if v > 0 else math.nan


def _at(seq: Any, e: int) -> float:
    """Epoch e of a per-epoch record, which the files keep as a dict keyed by epoch or as a list."""
    if seq is None:
        return math.nan
    if isinstance(seq, Mapping):
        return _num(seq.get(e))
    return _num(seq[e]) if 0 <= e < len(seq) else math.nan


def _total(values: list[float]) -> float:
    return float(sum(values))  # NaN if any epoch is missing: a partial sum is not the schedule's time


def check_curve_splits(splits: Collection[str]) -> tuple[str, ...]:
    """Validate the splits whose curves to keep; one name is one split, not its letters."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    for s in splits:
        if s not in ALL_SPLITS:
            raise ValueError(f"unknown split {s!r} for curves; valid: {', '.join(ALL_SPLITS)}")
    return splits


def _index_map(meta_archs: list[str], source: str) -> np.ndarray:
    """File index -> our official index, by arch string (so a reordered file still lands right)."""
    if len(meta_archs) != NUM_ARCHS:
        raise TableError(f"{source!r} lists {len(meta_archs)} architectures, expected the {NUM_ARCHS} "
                         "NAS-Bench-201 cells (a NATS-Bench size-space file?)")
    known = _official_strings()
    try:
        order = np.array([known[s] if s in known else Arch.from_str(s).index for s in meta_archs], dtype=np.int64)
    except ValueError as exc:
        raise TableError(f"{source!r} is not a NAS-Bench-201 topology file: {exc}") from exc
    if len(np.unique(order)) != NUM_ARCHS:
        raise TableError(f"{source!r} lists some architectures twice")
    return order


@lru_cache(maxsize=1)
def _official_strings() -> dict[str, int]:
    return {str(Arch.from_index(i)): i for i in range(NUM_ARCHS)}


def provenance(path: Path, importer: str, package: str, official_name: re.Pattern, **extra: Any) -> dict[str, Any]:
    """A table's ``info`` for an official file: what was read, by which reader, and the release its name says."""
    m = official_name.search(path.name)
    return {"source": str(path), "importer": importer, "reader": f"{package}=={package_version(package)}",
            "file_version": m.group("version") if m else "unknown (not an official file name)", **extra}


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


class _numpy_scalars_allowed:
    """torch.load reads only plain data (weights_only); numpy scalars, which older files may hold, are plain too."""

    def __enter__(self) -> None:
        import torch

        scalar = np._core.multiarray.scalar
        allowed: list = [np.dtype, *{type(np.dtype(t)) for t in ("f8", "f4", "i8", "i4")},
                         (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
        self._ctx = torch.serialization.safe_globals(allowed)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


__all__ = ["ALL_SPLITS", "CURVE_SPLITS", "MODEL_HP", "check_curve_splits", "collect", "package_version", "provenance",
           "read_nb201"]
