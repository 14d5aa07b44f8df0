"""Import the official NAS-Bench-201 files (``NAS-Bench-201-v1_0-e61699.pth``, ``NAS-Bench-201-v1_1-096897.pth``).

The file is a ``torch.save`` pickle of plain data in the `nas-bench-201` package's schema: ``meta_archs`` (the
15,625 arch strings), ``arch2infos[index]['less' | 'full']`` (12- and 200-epoch `ArchResults` state dicts), each
holding one `ResultsCount` state dict per (dataset, seed) with per-epoch train/eval accuracies, losses and times,
FLOPs, parameters and latency. `read_nb201` reads it with `bench.importers.safe_pickle.read_plain`: the stream
reader (`bench.importers.stream_pickle`), which reads each per-epoch record as a `Record` (its keys and a float64
array of its values), or the C unpickler for a file that reader gives up on; both admit only the classes that schema
uses (a downloaded file can build nothing else). `collect` then turns the results into our metrics, one row per
trial filed by its layout; the NATS-Bench importer shares `collect` (on the official objects). A file that holds
tensors is read through ``torch.load(weights_only=True)`` instead (safe, slower). ``python -m runners.perf.pth_import``
measures the whole import beside the official loader.

Metrics, per dataset and schedule E (the trial's own epoch count):

- ``DATASET/SPLIT@E`` and ``DATASET/SPLIT-loss@E``: accuracy and loss after the last epoch per trial (trials in
  ascending seed order, the seeds kept in ``Table.seeds``) and the trial mean, for every split the file has;
  per-epoch accuracy curves for the splits in ``curve_splits`` (default: the validation split, the only one a
  search may look at; a (15625, 3, 200) float32 curve is 37.5 MB, read and checksummed the first time it is used,
  not at `Benchmark.load`);
- ``DATASET/train_seconds@E``: the whole schedule's training time (the official ``train-all-time``);
- ``DATASET/eval_seconds@E``: one evaluation pass over ``x-valid`` (the official ``valid-per-time``), which is
  what the official ``simulate_train_eval`` charges on top of the training time (``cifar10``, which has no
  validation split: over ``ori-test``, `bench.table.EVAL_TIME_SPLIT`);
- ``DATASET/latency_s``, ``params_M``, ``flops_M`` from the 200-epoch runs, means as the official
  ``get_compute_costs`` computes them (``cost_rule``: NAS-Bench-201 averages the trials; NATS-Bench takes seed
  888's FLOPs/params where trials disagree).

A figure the file lacks (a cell it has no results for, a dataset its 12-epoch runs skipped, a missing time) is
NaN, or the metric is absent; never zero.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import zipfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.importers.isolated import run_isolated
from bench.importers.safe_pickle import ALLOWED, HoldsTensors, collector_paused, read_plain
from bench.importers.stream_pickle import Record, epoch_keys
from bench.table import DATASETS, EVAL_TIME_SPLIT, MODEL_FIELDS, MODEL_MEANS_EXACT, Table, TableError, cause, metric
from search_space import NUM_ARCHS, Arch, string_to_index

PACKAGE = "nas-bench-201"
#: Official file name -> version, e.g. ``NAS-Bench-201-v1_1-096897.pth`` -> ``v1_1``.
_FILE_NAME = re.compile(r"NAS-Bench-201-(?P<version>v\d+_\d+)-(?P<md5>[0-9a-f]+)\.pth$")
#: Schedule whose runs give the model figures (latency, params, FLOPs): the one the published tables use.
MODEL_HP = "200"
#: Splits whose per-epoch curves are kept by default (pass ``curve_splits=ALL_SPLITS`` for every one).
CURVE_SPLITS: tuple[str, ...] = ("x-valid",)
ALL_SPLITS: tuple[str, ...] = tuple(sorted({s for splits in DATASETS.values() for s in splits if s != "train"}))
#: How a source averages model figures over trials (`ArchResults.get_compute_costs` of each official package).
COST_RULES = ("nb201", "nats")
#: The official hyper-parameter keys of the NAS-Bench-201 file -> the schedule they name.
NB201_HPS = {"less": "12", "full": "200"}


def read_nb201(path: str | os.PathLike, curve_splits: Collection[str] = CURVE_SPLITS, *,
               out: str | os.PathLike | None = None) -> Table:
    """Read an official NAS-Bench-201 ``.pth`` file into a table (saved to ``out`` too, when given).

    The file's graph is built and converted in a forked child process (`bench.importers.isolated`), so this
    process never holds it and nobody waits for it to be taken apart; ``python -m runners.perf.pth_import`` measures
    the whole call beside the official loader.
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(f"NAS-Bench-201 file {str(path)!r} does not exist")
    curve_splits = check_curve_splits(curve_splits)
    return run_isolated(_read_nb201, path, curve_splits, out=out)


def _read_nb201(path: Path, curve_splits: tuple[str, ...]) -> Table:
    try:
        with collector_paused():  # reading and converting plain data: nothing for the cyclic collector to find
            try:
                data, reader = read_plain(path)
            except HoldsTensors:
                data = _torch_load(path)
                reader = "torch.load(weights_only=True) (the file holds tensors)"
            if not isinstance(data, dict):
                raise TableError(f"{str(path)!r} holds a {type(data).__name__}, not the official dict")
            for key in ("meta_archs", "arch2infos", "evaluated_indexes"):
                if key not in data:
                    raise TableError(f"{str(path)!r} has no {key!r}: not an official NAS-Bench-201 file")
            info = provenance(path, "nb201", PACKAGE, _FILE_NAME, file_bytes=path.stat().st_size, unpickler=reader)
            return collect(data["meta_archs"], _nb201_cells(data["arch2infos"]), info, curve_splits=curve_splits,
                           source=str(path))
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, KeyError, IndexError,
            ValueError, TypeError, AttributeError, MemoryError) as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(f"cannot read {str(path)!r} as an official NAS-Bench-201 file "
                         f"({cause(exc)})") from exc


def _torch_load(path: Path) -> Any:
    import torch

    with _numpy_scalars_allowed():
        return torch.load(str(path), map_location="cpu", weights_only=True)


def _nb201_cells(arch2infos: dict) -> Iterable[tuple[int, Mapping[str, Any]]]:
    """(file index, {hp: ArchResults state}) per cell. The graph is left whole: the import process ends without
    taking it apart (`bench.importers.isolated`)."""
    for i in sorted(arch2infos):
        yield i, {NB201_HPS.get(k, k): v for k, v in arch2infos[i].items()}


def collect(meta_archs: list[str], cells: Iterable[tuple[int, Mapping[str, Any]]], info: dict, *, source: str,
            curve_splits: Collection[str] = CURVE_SPLITS, cost_rule: str = "nb201") -> Table:
    """Turn official results (file index -> {hp: ArchResults or its state dict}) into a table in our index order.

    ``cost_rule`` names the package whose ``get_compute_costs`` the model means follow (`COST_RULES`).
    """
    curve_splits = check_curve_splits(curve_splits)
    if cost_rule not in COST_RULES:
        raise ValueError(f"unknown cost rule {cost_rule!r}; valid: {', '.join(COST_RULES)}")
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
            state = _fields(archres)
            for dataset, seeds in state["dataset_seed"].items():
                if dataset not in DATASETS:
                    skipped.add(f"dataset {dataset!r}")
                    continue
                results = [_fields(state["all_results"][(dataset, s)]) for s in seeds]
                for k, (seed, res) in enumerate(zip(seeds, results, strict=True)):
                    skipped |= _put_trial(cols, i, k, seed, dataset, res, curve_splits)
                if str(hp) == MODEL_HP and results:
                    _put_model(cols, i, dataset, list(seeds), results, cost_rule)
    table = cols.table(info)
    missing = int(NUM_ARCHS - seen.sum())
    notes = list(info.get("notes", []))
    if missing:
        notes.append(f"{missing} cells have no results in the source: their figures are NaN")
    if skipped:
        notes.append("not imported (no metric for them here): " + ", ".join(sorted(skipped)))
    table.info.update({"hps": sorted(hps, key=int), "cells_with_results": int(seen.sum()),
                       "trial_order": "ascending seed", "curve_splits": sorted(curve_splits), "notes": notes,
                       "model_means": MODEL_MEANS_EXACT})
    return table


def _fields(obj: Any) -> Mapping[str, Any]:
    """The fields of an official result: its state dict as stored, or the attributes of the object built from it
    (the official `state_dict` is exactly its ``__dict__``)."""
    return obj if isinstance(obj, Mapping) else vars(obj)


# --- one trial -----------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _metric(dataset: str, field: str, epochs: int | None = None) -> str:
    """`bench.table.metric`, validated once per name (a full file asks for each name millions of times)."""
    return metric(dataset, field, epochs)


def _per_epoch(record: Any, keys: Iterable[Any]) -> list[Any]:
    """Values of a per-epoch record (a dict keyed by epoch or ``split@epoch``, or a list), None where absent."""
    if record is None:
        return [None for _ in keys]
    if isinstance(record, Mapping):
        return list(map(record.get, keys))
    return [record[e] if isinstance(e, int) and 0 <= e < len(record) else None for e in keys]


def _floats(values: list[Any]) -> np.ndarray:
    if None in values:
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


class _TrialLayout:
    """Where the figures of a trial of one dataset, schedule and ``eval_names`` go: the metric of each value of its
    row, the keys its last epoch has in the evaluation records, the curves it keeps. Worked out once per layout (a
    full file has a few dozen), not once per trial."""

    def __init__(self, dataset: str, epochs: int, names: tuple[str, ...], curve_splits: tuple[str, ...]) -> None:
        last = epochs - 1
        self.dataset, self.epochs = dataset, epochs
        kept = [s for s in names if s in DATASETS[dataset]]
        self.skipped = {f"eval set {s!r} of {dataset}" for s in names if s not in DATASETS[dataset]}
        self.last_keys = tuple(f"{s}@{last}" for s in kept)
        self.columns = (_metric(dataset, "train", epochs), _metric(dataset, "train-loss", epochs),
                        *(_metric(dataset, s, epochs) for s in kept),
                        *(_metric(dataset, s + "-loss", epochs) for s in kept),
                        _metric(dataset, "train_seconds", epochs), _metric(dataset, "eval_seconds", epochs))
        self.curves = tuple((_metric(dataset, s, epochs), s) for s in kept if s in curve_splits)
        timed = EVAL_TIME_SPLIT[dataset]
        self.timed = timed if timed in names else None


@lru_cache(maxsize=1024)
def _layout(dataset: str, epochs: int, names: tuple[str, ...], curve_splits: tuple[str, ...]) -> _TrialLayout:
    return _TrialLayout(dataset, epochs, names, curve_splits)


def _put_trial(cols: _Columns, i: int, k: int, seed: int, dataset: str, res: Mapping[str, Any],
               curve_splits: tuple[str, ...]) -> set[str]:
    """File one ResultsCount (trial k of cell i, run with ``seed``) as one row of its layout; returns what it
    skipped.

    The hot loop of a full file (about 230,000 trials): per-epoch records read as `Record` s are indexed, sliced and
    summed as arrays, dicts with ``map``; a record with a gap takes the slow path, which makes the gap NaN."""
    epochs = int(res["epochs"])
    last = epochs - 1
    names = res.get("eval_names") or ()
    lay = _layout(dataset, epochs, tuple(names), curve_splits)
    accs, losses = res.get("eval_acc1es") or {}, res.get("eval_losses") or {}
    train_times = res.get("train_times")
    eval_times = res.get("eval_times")
    row = [_at(res.get("train_acc1es"), last), _at(res.get("train_losses"), last),
           *_values(accs, lay.last_keys), *_values(losses, lay.last_keys),
           _train_sum(train_times, epochs) if train_times is not None else math.nan,
           _epoch_sum(eval_times, lay.timed, epochs) / epochs
           if lay.timed is not None and isinstance(eval_times, Mapping) and eval_times else math.nan]
    cols.row(lay, i, k, seed, row)
    for name, split in lay.curves:
        cols.curve(name, i, k, _epoch_series(accs, split, epochs))
    return lay.skipped


def _values(record: Any, keys: tuple[Any, ...]) -> list[float]:
    """The record's value at each key, NaN where it has none."""
    if type(record) is Record:
        at = record.keys_.positions(keys)
        if at is not None:
            return record.values_[at].tolist()
    return [_num(record.get(key)) for key in keys]


def _series(record: Any, keys: Sequence[Any]) -> np.ndarray:
    """A per-epoch record as float64 values in epoch order (NaN where an epoch is missing)."""
    try:
        return np.fromiter(map(record.__getitem__, keys), dtype=np.float64, count=len(keys))
    except (KeyError, IndexError, TypeError):
        return _floats(_per_epoch(record, keys))


def _sum(record: Any, keys: Sequence[Any]) -> float:
    """The sum over epochs in epoch order, as the official ``all_time``; NaN if any epoch is missing (a partial sum
    is not the schedule's time)."""
    try:
        return float(sum(map(record.__getitem__, keys)))
    except (KeyError, IndexError, TypeError):
        return _total(_per_epoch(record, keys))


def _block(record: Any, split: str, epochs: int) -> np.ndarray | None:
    """The values of ``split@0 .. split@E-1`` of a `Record` where they stand as one run in it, read in place (the
    official scripts add one split after another, epochs in order: ``update_eval``). None for any other record,
    or one laid out otherwise: then the keys are looked up one by one."""
    if type(record) is not Record:
        return None
    at = record.keys_.block(split, epochs)
    return None if at is None else record.values_[at:at + epochs]


def _epoch_series(record: Mapping[str, Any], split: str, epochs: int) -> np.ndarray:
    block = _block(record, split, epochs)
    if block is not None:
        return block
    return _series(record, epoch_keys(split, epochs))


def _epoch_sum(record: Mapping[str, Any], split: str, epochs: int) -> float:
    block = _block(record, split, epochs)
    if block is not None:
        return float(sum(block.tolist()))
    return _sum(record, epoch_keys(split, epochs))


def _train_sum(record: Any, epochs: int) -> float:
    """Total training time: a record of every epoch in order is summed in place, anything else epoch by epoch."""
    if type(record) is Record:
        if record.keys_.is_range and len(record) == epochs:
            return float(sum(record.values_.tolist()))
    elif isinstance(record, dict) and len(record) == epochs and list(record) == _epoch_range(epochs):
        try:
            return float(sum(record.values()))
        except TypeError:
            pass
    return _sum(record, range(epochs))


@lru_cache(maxsize=64)
def _epoch_range(epochs: int) -> list[int]:
    return list(range(epochs))


def _put_model(cols: _Columns, i: int, dataset: str, seeds: list[int], results: list[Mapping[str, Any]],
               rule: str) -> None:
    """Model figures of cell i: per-trial values, and the official mean (which may differ, see NATS-Bench)."""
    per_trial = {
        "params_M": [_num(r.get("params")) for r in results],
        "flops_M": [_num(r.get("flop")) for r in results],
        "latency_s": [_positive(_latency(r.get("latency"))) for r in results],
    }
    for fld, values in per_trial.items():
        name = _metric(dataset, fld)
        cols.trials(name, i, values)
        if fld == "latency_s":  # both packages: the mean of the measured (positive) latencies
            measured = [v for v in values if not math.isnan(v)]
            cols.mean(name, i, sum(measured) / len(measured) if measured else math.nan)
        else:
            cols.mean(name, i, _official_mean(values, seeds, rule))


def _official_mean(values: list[float], seeds: list[int], rule: str) -> float:
    """FLOPs/params over trials as the official ``get_compute_costs`` answers: NAS-Bench-201 the mean; NATS-Bench
    the figure of seed 888 when the trials disagree at five decimals (its fix of a legacy weight-migration issue)."""
    if rule == "nats" and len({f"{v:.5f}" for v in values}) > 1:
        return values[seeds.index(888)]
    if len(values) < 8:  # numpy sums fewer than 8 values in order: the same figure without its call
        return sum(values) / len(values) if len(values) > 1 else values[0]
    return float(np.mean(values))


def _latency(latency: Any) -> float:
    """A trial's latency as ``ResultsCount.get_latency`` reads it: the mean of its list, -1 when not measured."""
    if latency is None:
        return -1.0
    if isinstance(latency, (list, tuple)):
        return sum(latency) / len(latency) if latency else -1.0
    return float(latency)


# --- accumulation ---------------------------------------------------------------------------------
class _Columns:
    """The figures of the file as they arrive, one pass: scalars appended to lists (cell, trial, value) and turned
    into NaN-filled arrays at the end, per-epoch curves written into their arrays at once."""

    _MODEL = MODEL_FIELDS

    def __init__(self) -> None:
        self._trials: dict[str, tuple[list[int], list[int], list[float]]] = {}
        self._means: dict[str, tuple[list[int], list[float]]] = {}
        self._rows: dict[_TrialLayout, tuple[list[int], list[int], list[int], list[list[float]]]] = {}
        self.curves: dict[str, np.ndarray] = {}

    def row(self, layout: _TrialLayout, i: int, k: int, seed: int, values: list[float]) -> None:
        """Trial k of cell i, run with ``seed``: one value per column of its layout."""
        rows = self._rows.get(layout)
        if rows is None:
            rows = self._rows[layout] = ([], [], [], [])
        rows[0].append(i)
        rows[1].append(k)
        rows[2].append(int(seed))
        rows[3].append(values)

    def trials(self, name: str, i: int, values: list[float]) -> None:
        """Every trial of cell i, in order."""
        rows = self._trials.get(name)
        if rows is None:
            rows = self._trials[name] = ([], [], [])
        rows[0].extend([i] * len(values))
        rows[1].extend(range(len(values)))
        rows[2].extend(values)

    def curve(self, name: str, i: int, k: int, values: np.ndarray) -> None:
        a = self.curves.get(name)
        if a is None or k >= a.shape[1]:
            a = self.curves[name] = _grow(a, (NUM_ARCHS, max(3, k + 1), len(values)), np.float32)
        if a.shape[2] != len(values):
            raise TableError(f"{name}: a trial has {len(values)} epochs of curve, others {a.shape[2]}")
        a[i, k] = values

    def mean(self, name: str, i: int, value: float) -> None:
        rows = self._means.get(name)
        if rows is None:
            rows = self._means[name] = ([], [])
        rows[0].append(i)
        rows[1].append(value)

    @staticmethod
    def _array(rows: tuple[list[Any], list[Any], list[Any]], fill: float, dtype: type) -> np.ndarray:
        """NaN-filled (or ``fill``) per-trial array; rows hold values or arrays of values (one per layout)."""
        i, k, v = (np.concatenate(r) if r and isinstance(r[0], np.ndarray) else np.asarray(r) for r in rows)
        out = np.full((NUM_ARCHS, max(3, int(k.max()) + 1)), fill, dtype=dtype)
        out[i, k] = v
        return out

    def _unpack_rows(self) -> dict[tuple[str, int], tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]]:
        """The rows of each layout filed under their metrics (column by column, in order); the seeds by schedule."""
        seeds: dict[tuple[str, int], tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}
        for layout, (cells, trials, seed, values) in self._rows.items():
            i, k, v = np.asarray(cells), np.asarray(trials), np.asarray(values, dtype=np.float64)
            for j, name in enumerate(layout.columns):
                rows = self._trials.setdefault(name, ([], [], []))
                rows[0].append(i)
                rows[1].append(k)
                rows[2].append(v[:, j])
            rows = seeds.setdefault((layout.dataset, layout.epochs), ([], [], []))
            rows[0].append(i)
            rows[1].append(k)
            rows[2].append(np.asarray(seed, dtype=np.int64))
        self._rows.clear()
        return seeds

    def table(self, info: dict) -> Table:
        table = Table(info=dict(info))
        by_schedule = self._unpack_rows()
        for name in sorted(self._trials):
            trials = self._array(self._trials[name], np.nan, np.float64)
            used = ~np.isnan(trials)
            if not used.any():
                continue  # a figure no trial has: the metric is absent, not a column of NaN
            trials = trials[:, : int(np.max(np.nonzero(used.any(axis=0))[0])) + 1]
            mean = None
            if name in self._means:
                mean = np.full(NUM_ARCHS, np.nan)
                mean[np.asarray(self._means[name][0])] = self._means[name][1]
            if name.split("/")[1] in self._MODEL and _same_across_trials(trials):
                table.add(name, mean=mean if mean is not None else _nanmean(trials))
                continue
            curve = self.curves.get(name)
            if curve is not None:
                curve = curve[:, : trials.shape[1]]
            table.add(name, mean=mean, trials=trials, curve=curve)
        for (dataset, epochs), rows in sorted(by_schedule.items()):
            seeds = self._array(rows, -1, np.int64)
            used = seeds >= 0
            if used.any():
                table.add_seeds(dataset, epochs, seeds[:, : int(np.max(np.nonzero(used.any(axis=0))[0])) + 1])
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
    if type(seq) is Record:
        at = seq.keys_.position.get(e)
        return math.nan if at is None else float(seq.values_[at])
    if isinstance(seq, Mapping):
        return _num(seq.get(e))
    return _num(seq[e]) if 0 <= e < len(seq) else math.nan


def _total(values: list[Any]) -> float:
    """The sum over epochs; NaN if any epoch is missing (a partial sum is not the schedule's time)."""
    return math.nan if None in values else float(sum(values))


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
    known = string_to_index()
    try:
        order = np.array([known[s] if s in known else Arch.from_str(s).index for s in meta_archs], dtype=np.int64)
    except ValueError as exc:
        raise TableError(f"{source!r} is not a NAS-Bench-201 topology file: {exc}") from exc
    if len(np.unique(order)) != NUM_ARCHS:
        raise TableError(f"{source!r} lists some architectures twice")
    return order


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


def _numpy_scalars_allowed() -> AbstractContextManager:
    """torch.load reads only plain data (weights_only): let it admit what our own readers admit (`ALLOWED`: numpy
    scalars, which older files may hold, and the official format's few classes), so both read the same files."""
    import torch

    return torch.serialization.safe_globals([(obj, f"{module}.{name}") for (module, name), obj in ALLOWED.items()])


__all__ = ["ALL_SPLITS", "COST_RULES", "CURVE_SPLITS", "MODEL_HP", "check_curve_splits", "collect", "package_version",
           "provenance", "read_nb201"]
