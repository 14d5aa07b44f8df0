"""The on-disk benchmark table: one compact, versioned, checksummed file of per-architecture figures.

A table is a set of named *metrics*, each an array over the 15,625 cells in official index order.
Metric names follow the layout of the published CSV, ``DATASET/FIELD``:

- accuracy in percent: ``cifar10-valid/x-valid@200``, ``cifar10/ori-test@12``, ``cifar100/x-test@200``, ...
- costs: ``DATASET/train_seconds@EPOCHS`` (whole schedule), ``DATASET/eval_seconds@EPOCHS`` (one evaluation pass)
- model: ``DATASET/latency_s``, ``DATASET/params_M``, ``DATASET/flops_M``

Every metric stores its trial mean (shape ``(N,)``) and, when the source has them, the per-trial values
(``(N, T)``, NaN where a cell has fewer trials) and per-epoch curves (``(N, T, E)``). A figure a source lacks is
NaN or an absent metric, never zero. The file is an uncompressed ``.npz`` whose ``__meta__`` entry holds the
format name and version, the source's provenance and a SHA-256 of every array; it is written to a temporary name
and renamed, so a reader never sees half a table.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.atomic import atomic_open
from search_space import NUM_ARCHS

FORMAT = "nb201-harness-table"
FORMAT_VERSION = 1
SUFFIX = ".nbt.npz"

#: The benchmark's datasets and the evaluation splits each may have.
DATASETS: dict[str, tuple[str, ...]] = {
    "cifar10-valid": ("x-valid", "ori-test", "train"),
    "cifar10": ("ori-test", "train"),
    "cifar100": ("x-valid", "x-test", "ori-test", "train"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test", "train"),
}
MODEL_FIELDS = ("latency_s", "params_M", "flops_M")
COST_FIELDS = ("train_seconds", "eval_seconds")

_METRIC = re.compile(r"^(?P<dataset>[A-Za-z0-9-]+)/(?P<field>[A-Za-z_-]+)(@(?P<epochs>\d+))?$")
TRIALS = "#trials"
CURVE = "#curve"
META = "__meta__"


class TableError(ValueError):
    """A benchmark table file that is missing, truncated, corrupted or of another format."""


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
        valid_fields = DATASETS[dataset] + MODEL_FIELDS + COST_FIELDS
        if fld not in valid_fields:
            raise ValueError(f"unknown field {fld!r} in metric {name!r}; valid for {dataset}: {', '.join(valid_fields)}")
        epochs = int(m.group("epochs")) if m.group("epochs") else None
        if (fld in MODEL_FIELDS) != (epochs is None):
            raise ValueError(f"metric {name!r}: {'no' if fld in MODEL_FIELDS else 'an'} @EPOCHS is expected for {fld!r}")
        return cls(dataset, fld, epochs)

    @property
    def is_accuracy(self) -> bool:
        return self.field in DATASETS[self.dataset]

    def __str__(self) -> str:
        return f"{self.dataset}/{self.field}" + (f"@{self.epochs}" if self.epochs is not None else "")


def metric(dataset: str, fld: str, epochs: int | None = None) -> str:
    """Build and validate a metric name."""
    return str(MetricName.parse(f"{dataset}/{fld}" + (f"@{epochs}" if epochs is not None else "")))


@dataclass
class Table:
    """In-memory benchmark table: metric name -> mean array, plus optional trials and curves."""

    means: dict[str, np.ndarray] = field(default_factory=dict)
    trials: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    #: Provenance: ``source`` (what was imported), ``importer``, ``notes`` (what the source lacks), ...
    info: dict = field(default_factory=dict)

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

    # --- persistence ---------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.means)
        arrays.update({k + TRIALS: v for k, v in self.trials.items()})
        arrays.update({k + CURVE: v for k, v in self.curves.items()})
        return arrays

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: a temporary file in the same folder, fsynced, then renamed over ``path``."""
        path = Path(path)
        arrays = {k: np.ascontiguousarray(v) for k, v in self._arrays().items()}
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "num_archs": NUM_ARCHS,
            "info": self.info,
            "sha256": {k: _digest(v) for k, v in arrays.items()},
        }
        with atomic_open(path) as fh:
            np.savez(fh, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> Table:
        """Read a table; a missing, truncated, corrupted or foreign file raises TableError naming it."""
        path = Path(path)
        if not path.is_file():
            raise TableError(f"benchmark table {str(path)!r} does not exist")
        try:
            with _open_npz(path) as npz:
                if META not in npz.files:
                    raise TableError(f"{str(path)!r} is not a benchmark table (no {META} entry)")
                meta = json.loads(npz[META].tobytes().decode())
                if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                    found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                    raise TableError(f"{str(path)!r} has format {found!r}, expected {FORMAT!r}")
                if meta.get("version") != FORMAT_VERSION:
                    raise TableError(
                        f"{str(path)!r} is table version {meta.get('version')!r}; this harness reads version "
                        f"{FORMAT_VERSION}: convert it again with `python -m bench convert SRC DST`"
                    )
                arrays = {k: npz[k] for k in npz.files if k != META}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            if isinstance(exc, TableError):
                raise
            raise TableError(f"benchmark table {str(path)!r} is truncated or corrupted ({type(exc).__name__}: {exc})") from exc
        expected = meta.get("sha256", {})
        if set(expected) != set(arrays):
            raise TableError(f"benchmark table {str(path)!r} is corrupted: its arrays do not match its index")
        if verify:
            for k, v in arrays.items():
                if _digest(v) != expected[k]:
                    raise TableError(f"benchmark table {str(path)!r} is corrupted: checksum mismatch in {k!r}")
        table = cls(info=meta.get("info", {}))
        for k, v in arrays.items():
            v.setflags(write=False)
            if k.endswith(TRIALS):
                table.trials[k[: -len(TRIALS)]] = v
            elif k.endswith(CURVE):
                table.curves[k[: -len(CURVE)]] = v
            else:
                table.means[k] = v
        return table


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """np.load returns a bare array for a .npy file (no context manager, no entries): that is not a table."""
    npz = np.load(path, allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise TableError(f"{str(path)!r} is not a benchmark table (a single array, not an .npz archive)")
    return npz


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


__all__ = ["DATASETS", "FORMAT", "FORMAT_VERSION", "SUFFIX", "MetricName", "Table", "TableError", "metric",
           "pack_trials"]
