"""The on-disk benchmark table: one compact, versioned, checksummed file of per-architecture figures.

A table is a set of named *metrics*, each an array over the 15,625 cells in official index order.
Metric names follow the layout of the published CSV, ``DATASET/FIELD``:

- accuracy in percent: ``cifar10-valid/x-valid@200``, ``cifar10/ori-test@12``, ``cifar100/x-test@200``, ...
- losses (cross-entropy, as the official files keep them): ``DATASET/SPLIT-loss@EPOCHS``, e.g. ``cifar10/train-loss@200``
- costs: ``DATASET/train_seconds@EPOCHS`` (whole schedule), ``DATASET/eval_seconds@EPOCHS`` (one evaluation pass
  over ``EVAL_TIME_SPLIT[DATASET]``)
- model: ``DATASET/latency_s``, ``DATASET/params_M``, ``DATASET/flops_M``

Every metric stores its trial mean (shape ``(N,)``) and, when the source has them, the per-trial values
(``(N, T)``, NaN where a cell has fewer trials) and per-epoch curves (``(N, T, E)``). Where the source records
which seed each trial ran with, ``seeds["DATASET@EPOCHS"]`` holds them (``(N, T)`` int64, -1 where a cell has
fewer trials), in the trial order of every metric of that dataset and schedule. A figure a source lacks is NaN or
an absent metric, never zero. The file is an ``.npz`` (uncompressed, or deflated for a file that travels with the
project: `Table.save`'s ``compress``) whose ``__meta__`` entry holds the format name and version, the source's
provenance and a SHA-256 of every array; it is written to a temporary name and renamed, so a reader never sees
half a table.

Loading is lazy for the curves, which are most of a file imported from the official releases (~140 MB) and which
almost no query needs: `Table.load` reads and checks the means and trials at once and only the headers of the
curves, and reads and checks a curve the first time it is asked for (see `Curves`). The table keeps the archive
open, so a table file replaced by rename while a `Table` is open (every writer here renames) leaves that `Table`
reading the old file, whole and consistent. A file overwritten *in place* is not supported: a curve not yet read
then fails its checksum or cannot be read, which is reported at first access.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from bench.atomic import atomic_open
from search_space import NUM_ARCHS

FORMAT = "nb201-harness-table"
FORMAT_VERSION = 2
#: Versions this harness reads: version 1 tables are version 2 without losses and seeds.
READ_VERSIONS = (1, 2)
SUFFIX = ".nbt.npz"

#: The benchmark's datasets and the evaluation splits each may have.
DATASETS: dict[str, tuple[str, ...]] = {
    "cifar10-valid": ("x-valid", "ori-test", "train"),
    "cifar10": ("ori-test", "train"),
    "cifar100": ("x-valid", "x-test", "ori-test", "train"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test", "train"),
}
#: The split whose evaluation time ``DATASET/eval_seconds@E`` is (one pass): the validation split, or the test set
#: of ``cifar10`` (trained on train+valid, it has no validation split).
EVAL_TIME_SPLIT = {ds: "x-valid" if "x-valid" in splits else "ori-test" for ds, splits in DATASETS.items()}
MODEL_FIELDS = ("latency_s", "params_M", "flops_M")
COST_FIELDS = ("train_seconds", "eval_seconds")
LOSS_SUFFIX = "-loss"
#: `Table.info["model_means"]` of a source whose model figures without per-trial values are every trial's figure.
MODEL_MEANS_EXACT = "a model figure stored without per-trial values is the same for every trial"

_METRIC = re.compile(r"^(?P<dataset>[A-Za-z0-9-]+)/(?P<field>[A-Za-z_-]+)(@(?P<epochs>\d+))?$")
TRIALS = "#trials"
CURVE = "#curve"
SEEDS = "#seeds"
_SEEDS_KEY = re.compile(r"^(?P<dataset>[A-Za-z0-9-]+)@(?P<epochs>\d+)$")
META = "__meta__"


class TableError(ValueError):
    """A benchmark table file that is missing, truncated, corrupted or of another format."""


def cause(exc: BaseException) -> str:
    """``Type: first line`` of a library's exception, for a one-line error (torch's run to paragraphs)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__


@dataclass(frozen=True)
class MetricName:
    """A parsed metric name, e.g. ``cifar100/x-test@200``."""

    dataset: str
    field: str
    epochs: int | None

    @classmethod
    def parse(cls, name: str) -> MetricName:
        m = _METRIC.match(name)
        if m is None:
            raise ValueError(f"metric name {name!r} is not of the form DATASET/FIELD[@EPOCHS]; datasets: "
                             f"{', '.join(DATASETS)}")
        dataset, fld = m.group("dataset"), m.group("field")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r} in metric {name!r}; valid: {', '.join(DATASETS)}")
        valid_fields = (DATASETS[dataset] + tuple(s + LOSS_SUFFIX for s in DATASETS[dataset]) + MODEL_FIELDS
                        + COST_FIELDS)
        if fld not in valid_fields:
            raise ValueError(f"unknown field {fld!r} in metric {name!r}; valid for {dataset}: {', '.join(valid_fields)}")
        epochs = int(m.group("epochs")) if m.group("epochs") else None
        if (fld in MODEL_FIELDS) != (epochs is None):
            raise ValueError(f"metric {name!r}: {'no' if fld in MODEL_FIELDS else 'an'} @EPOCHS is expected for {fld!r}")
        return cls(dataset, fld, epochs)

    @property
    def is_accuracy(self) -> bool:
        return self.field in DATASETS[self.dataset]

    @property
    def is_loss(self) -> bool:
        return self.field.endswith(LOSS_SUFFIX)

    @property
    def lower_is_better(self) -> bool:
        """Losses, costs and model sizes: the smaller the better (accuracies: the larger)."""
        return self.is_loss or self.field in COST_FIELDS or self.field in MODEL_FIELDS

    def __str__(self) -> str:
        return f"{self.dataset}/{self.field}" + (f"@{self.epochs}" if self.epochs is not None else "")


def metric(dataset: str, fld: str, epochs: int | None = None) -> str:
    """Build and validate a metric name."""
    return str(MetricName.parse(f"{dataset}/{fld}" + (f"@{epochs}" if epochs is not None else "")))


def seeds_key(dataset: str, epochs: int) -> str:
    """The key of the trial seeds of one dataset and schedule, e.g. ``cifar100@200`` (validated)."""
    key = f"{dataset}@{epochs}"
    m = _SEEDS_KEY.match(key)
    if m is None or dataset not in DATASETS:
        raise ValueError(f"trial seeds key {key!r} is not DATASET@EPOCHS; datasets: {', '.join(DATASETS)}")
    return key


@dataclass(frozen=True)
class _Member:
    """One array of an open table file: where to read it (``zipfile``) and what its header and index say."""

    path: Path
    key: str
    archive: zipfile.ZipFile
    dtype: np.dtype
    shape: tuple[int, ...]
    digest: str | None  # None: load(verify=False), nothing is checked

    def read(self) -> np.ndarray:
        """The array, read from the archive (read-only); a damaged member raises TableError naming it."""
        try:
            with self.archive.open(self.key + ".npy") as fh:
                array = npy_format.read_array(fh, allow_pickle=False)
        except zipfile.BadZipFile as exc:  # the archive's own CRC-32 of the member caught it first
            raise TableError(f"benchmark table {str(self.path)!r} is corrupted: checksum mismatch in {self.key!r} "
                             f"({exc})") from exc
        except (EOFError, OSError, ValueError) as exc:
            raise TableError(f"benchmark table {str(self.path)!r}: cannot read {self.key!r} ({type(exc).__name__}: "
                             f"{exc}); was it truncated in place while open? Table files are replaced by rename, "
                             "never rewritten") from exc
        if self.digest is not None and _digest(array) != self.digest:
            raise TableError(f"benchmark table {str(self.path)!r} is corrupted: checksum mismatch in {self.key!r}")
        array.setflags(write=False)
        return array


class Curves(MutableMapping[str, np.ndarray]):
    """Metric name -> per-epoch curves ``(N, T, E)``; in a loaded table each is read and checked at first access.

    A plain mapping to its callers (``name in``, ``[name]``, ``get``, ``items``); only `items`/`values` and item
    access read a curve, and a curve read once is kept. A damaged curve raises `TableError` naming the file and
    the array when it is first asked for, not at load. `shape` answers without reading.
    """

    def __init__(self, curves: Mapping[str, np.ndarray] | None = None) -> None:
        self._entries: dict[str, np.ndarray | _Member] = {}
        self._lock = threading.Lock()  # two threads asking for one curve read and check it once
        if curves is not None:
            self.update(curves)

    def _add_lazy(self, name: str, member: _Member) -> None:
        self._entries[name] = member

    def __getitem__(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        if isinstance(entry, np.ndarray):
            return entry
        with self._lock:
            entry = self._entries[name]
            if isinstance(entry, _Member):
                self._entries[name] = entry = entry.read()
        return entry

    def __setitem__(self, name: str, curve: np.ndarray) -> None:
        self._entries[name] = curve

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # Mapping's default would read the curve

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` has been read (and checked) already."""
        return not isinstance(self._entries[name], _Member)

    def digest(self, name: str) -> str:
        """SHA-256 of a curve (`_digest`): from the file's index when it has not been read (checked when it is)."""
        entry = self._entries[name]
        if isinstance(entry, _Member) and entry.digest is not None:
            return entry.digest
        return _digest(self[name])

    def shape(self, name: str) -> tuple[int, ...]:
        """The curve's shape, from the file's header when it has not been read."""
        return tuple(self._entries[name].shape)

    def __repr__(self) -> str:
        return f"Curves({', '.join(f'{k!r}' + ('' if self.is_loaded(k) else ' (not read)') for k in self)})"

    def __reduce__(self) -> tuple:
        # An open file cannot travel to another process: a pickled table carries its curves' values.
        return (type(self), (dict(self.items()),))


@dataclass
class Table:
    """In-memory benchmark table: metric name -> mean array, plus optional trials and curves (read lazily)."""

    means: dict[str, np.ndarray] = field(default_factory=dict)
    trials: dict[str, np.ndarray] = field(default_factory=dict)
    curves: Curves = field(default_factory=Curves)
    #: ``DATASET@EPOCHS`` -> the seed of each trial, ``(N, T)`` int64, -1 where a cell has fewer trials.
    seeds: dict[str, np.ndarray] = field(default_factory=dict)
    #: Provenance: ``source`` (what was imported), ``importer``, ``notes`` (what the source lacks), ...
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.curves, Curves):
            self.curves = Curves(self.curves)

    def add(self, name: str, mean: np.ndarray | None = None, trials: np.ndarray | None = None,
            curve: np.ndarray | None = None) -> None:
        """Add a metric; the mean is the NaN-aware trial mean unless the source gives its own."""
        name = str(MetricName.parse(name))
        if trials is not None:
            trials = np.asarray(trials, dtype=np.float64)
            if trials.ndim != 2 or trials.shape[0] != NUM_ARCHS:
                raise ValueError(f"trials of {name} must have shape ({NUM_ARCHS}, T), got {trials.shape}")
            self.trials[name] = trials
            if mean is None:
                with np.errstate(invalid="ignore"), _quiet_nanmean():
                    mean = np.nanmean(trials, axis=1)
        if mean is None:
            raise ValueError(f"metric {name} needs a mean or per-trial values")
        mean = np.asarray(mean, dtype=np.float64)
        if mean.shape != (NUM_ARCHS,):
            raise ValueError(f"mean of {name} must have shape ({NUM_ARCHS},), got {mean.shape}")
        self.means[name] = mean
        if curve is not None:
            curve = np.asarray(curve, dtype=np.float32)
            if curve.ndim != 3 or curve.shape[0] != NUM_ARCHS:
                raise ValueError(f"curve of {name} must have shape ({NUM_ARCHS}, T, E), got {curve.shape}")
            self.curves[name] = curve

    def checksum(self) -> str:
        """SHA-256 of the table's content (every array's name and digest; provenance left out): equal content gives
        an equal checksum whatever file or source it was read from. Means and trials are hashed (a few MB); curves
        not yet read give the digest the file's index holds, so this never reads the ~140 MB of official curves."""
        digests = {k: _digest(v) for k, v in self.means.items()}
        digests.update({k + TRIALS: _digest(v) for k, v in self.trials.items()})
        digests.update({k + CURVE: self.curves.digest(k) for k in self.curves})
        digests.update({"seeds:" + k: _digest(v) for k, v in self.seeds.items()})
        return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()

    def add_seeds(self, dataset: str, epochs: int, seeds: np.ndarray) -> None:
        """Record which seed each trial of ``dataset`` on the ``epochs`` schedule ran with (-1: no such trial)."""
        key = seeds_key(dataset, epochs)
        seeds = np.asarray(seeds)
        if seeds.ndim != 2 or seeds.shape[0] != NUM_ARCHS or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds of {key} must be integers of shape ({NUM_ARCHS}, T), got {seeds.dtype} "
                             f"{seeds.shape}")
        self.seeds[key] = seeds.astype(np.int64)

    # --- persistence ---------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.means)
        arrays.update({k + TRIALS: v for k, v in self.trials.items()})
        arrays.update({k + CURVE: v for k, v in self.curves.items()})
        arrays.update({k + SEEDS: v for k, v in self.seeds.items()})
        return arrays

    def save(self, path: str | os.PathLike, *, compress: bool = False, durable: bool = True) -> Path:
        """Write atomically: a temporary file in the same folder, fsynced, then renamed over ``path``.

        ``compress`` deflates every array (a third of the size for the published figures, read back a little
        slower): for a table that travels with the project; caches stay uncompressed. ``durable=False`` skips the
        fsync, for a file that is rebuilt when damaged (a cache entry, an import's hand-over: its checksums find it).
        """
        path = Path(path)
        arrays = {k: np.ascontiguousarray(v) for k, v in self._arrays().items()}
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "num_archs": NUM_ARCHS,
            "info": self.info,
            "sha256": {k: _digest(v) for k, v in arrays.items()},
        }
        with atomic_open(path, durable) as fh:
            (np.savez_compressed if compress else np.savez)(
                fh, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> Table:
        """Read a table; a missing, truncated, corrupted or foreign file raises TableError naming it.

        Means and trials are copied and checked now; curves when first used (`Curves`). ``verify=False`` skips
        the checksums (not the file's structure).
        """
        path = Path(path)
        if not path.is_file():
            raise TableError(f"benchmark table {str(path)!r} does not exist")
        try:
            members = _members(path)
            if META not in members:
                raise TableError(f"{str(path)!r} is not a benchmark table (no {META} entry)")
            meta = json.loads(members[META].read().tobytes().decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                raise TableError(f"{str(path)!r} has format {found!r}, expected {FORMAT!r}")
            if meta.get("version") not in READ_VERSIONS:
                raise TableError(
                    f"{str(path)!r} is table version {meta.get('version')!r}; this harness reads versions "
                    f"{' and '.join(map(str, READ_VERSIONS))}: convert it again with `python -m bench convert SRC DST`"
                )
            del members[META]
            expected = meta.get("sha256", {})
            if not isinstance(expected, dict) or set(expected) != set(members):
                raise TableError(f"benchmark table {str(path)!r} is corrupted: its arrays do not match its index")
            table = cls(info=meta.get("info", {}))
            for k, m in members.items():
                m = replace(m, digest=expected[k] if verify else None)
                if k.endswith(CURVE):
                    table.curves._add_lazy(k[: -len(CURVE)], m)
                    continue
                v = m.read()  # small and hot: read and checked now
                if k.endswith(TRIALS):
                    table.trials[k[: -len(TRIALS)]] = v
                elif k.endswith(SEEDS):
                    table.seeds[k[: -len(SEEDS)]] = v
                else:
                    table.means[k] = v
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            if isinstance(exc, TableError):
                raise
            raise TableError(f"benchmark table {str(path)!r} is truncated or corrupted ({cause(exc)})") from exc
        return table


def _members(path: Path) -> dict[str, _Member]:
    """Open the archive and read the header (dtype, shape) of every ``.npy`` member, not its data. The archive stays
    open with the members: a curve read later comes from this file even if another was renamed over its path."""
    with open(path, "rb") as fh:
        if fh.read(len(_NPY_MAGIC)) == _NPY_MAGIC:  # np.load would return a bare array: that is not a table
            raise TableError(f"{str(path)!r} is not a benchmark table (a single array, not an .npz archive)")
    archive = zipfile.ZipFile(path)
    members = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue  # np.load also ignores other entries; __meta__ decides whether this is a table
        key = info.filename[: -len(".npy")]
        with archive.open(info) as fh:
            version = npy_format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = npy_format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version} of {key!r}")
        if dtype.hasobject:
            raise TableError(f"{str(path)!r} is not a benchmark table ({key!r} holds Python objects)")
        members[key] = _Member(path, key, archive, dtype, tuple(shape), None)
    return members


_NPY_MAGIC = b"\x93NUMPY"


def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(a.dtype).encode() + str(a.shape).encode())
    h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return h.hexdigest()


class _quiet_nanmean:
    """Silence numpy's 'Mean of empty slice' for cells with no trials (their mean is NaN, as it should be)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def pack_trials(values: list[list[float]]) -> np.ndarray:
    """Ragged per-trial lists -> (N, max T) array padded with NaN."""
    width = max((len(v) for v in values), default=0)
    out = np.full((len(values), width), np.nan)
    for i, v in enumerate(values):
        out[i, : len(v)] = v
    return out


__all__ = ["DATASETS", "EVAL_TIME_SPLIT", "FORMAT", "FORMAT_VERSION", "LOSS_SUFFIX", "MODEL_MEANS_EXACT", "READ_VERSIONS", "SUFFIX", "Curves",
           "MetricName", "Table", "TableError", "cause", "metric", "pack_trials", "seeds_key"]
