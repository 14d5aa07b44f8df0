"""Import the NATS-Bench topology files (the NAS-Bench-201 space re-released), through `nats_bench`'s own reader.

Two layouts exist and `nats_bench.create(path, 'tss', fast_mode=...)` reads both: one file
``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (everything, loaded at once), or a folder ``NATS-tss-v1_0-3ffb9-simple/`` with
``meta.pickle.pbz2`` and one ``NNNNNN.pickle.pbz2`` per cell (loaded one cell at a time here, so memory stays flat).
`nats_bench` reads them with plain `pickle`, so import only files from a source you trust (the official release).
Each cell maps its hyper-parameter set ``'12'``/``'200'`` (the epochs of the schedule) to the same `ArchResults`
schema as NAS-Bench-201, so the metrics are those of `bench.importers.nb201.collect`. Model means follow
NATS-Bench's own ``get_compute_costs`` (``cost_rule="nats"``), which uses seed 888's FLOPs/params where trials
disagree (a legacy quirk of the source).
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.importers.nb201 import CURVE_SPLITS, check_curve_splits, collect, provenance
from bench.table import Table, TableError, cause
from search_space import NUM_ARCHS

PACKAGE = "nats-bench"
PICKLE_EXT = "pickle.pbz2"
_NAME = re.compile(r"NATS-tss-(?P<version>v\d+_\d+)-(?P<md5>[0-9a-f]+)")


def read_nats(path: str | os.PathLike, curve_splits: Collection[str] = CURVE_SPLITS) -> Table:
    """Read a NATS-Bench topology file (``*.pickle.pbz2``) or folder of per-cell files into a table."""
    path = Path(path)
    curve_splits = check_curve_splits(curve_splits)
    if not path.exists():
        raise TableError(f"NATS-Bench source {str(path)!r} does not exist")
    import nats_bench

    folder = path.is_dir()
    if folder and not (path / f"meta.{PICKLE_EXT}").is_file():
        raise TableError(f"{str(path)!r} is not a NATS-Bench topology folder: it has no meta.{PICKLE_EXT}")
    try:
        api = nats_bench.create(str(path), "tss", fast_mode=folder, verbose=False)
        info = provenance(path, "nats", PACKAGE, _NAME,
                          layout="folder of per-cell files" if folder else "single file")
        cells = _folder_cells(api, path) if folder else _loaded_cells(api)
        return collect(api.meta_archs, cells, info, curve_splits=curve_splits, source=str(path), cost_rule="nats")
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError, AttributeError, TypeError,
            AssertionError) as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(f"cannot read {str(path)!r} as a NATS-Bench topology source "
                         f"({cause(exc)})") from exc


def _loaded_cells(api: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for i in sorted(api.arch2infos_dict):
        yield i, api.arch2infos_dict[i]


def _folder_cells(api: Any, folder: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Each cell through the official per-cell loader, dropped again once read; absent files are absent cells."""
    if len(api.meta_archs) != NUM_ARCHS:
        return  # collect() reports the wrong size with the file named
    present = set(os.listdir(folder))
    for i in range(NUM_ARCHS):
        if f"{i:06d}.{PICKLE_EXT}" not in present and f"{i}.{PICKLE_EXT}" not in present:
            continue
        api.reload(str(folder), i)
        yield i, api.arch2infos_dict.pop(i)
        api.evaluated_indexes.discard(i)


__all__ = ["read_nats"]
