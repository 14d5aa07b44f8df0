"""From what a user typed to the list of runs to do: validation, seeds, benchmark source and substitutes.

Every bad value stops here with a `UsageError` that names it and the valid choices (the CLI prints it and exits
with status 2), before any searcher runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import algos
from algos.base import PROTOCOL_SPECS, PROTOCOLS, Searcher, parse_assignments, parse_count, parse_runner_options
from algos.oneshot_protocol import smoke_sizes
from bench import SEARCH_DATASETS, Benchmark, TableError, check_substitutes
from bench.sources import NAMED_SOURCES, is_default
from runners.identity import fingerprint
from runners.lock import command_line
from runners.run import RunSpec, canonical_source, load_bench
from runners.seeds import (
    DEFAULT_MASTER_SEED,
    DERIVED_HIGH,
    QUERY_RUNS,
    SEED_HIGH,
    WEIGHT_SHARING_RUNS,
    derive_seeds,
    draw_seed,
)

#: What the embedded default (the published figures, bench/default.py) lacks and what stands in for it unless the
#: user names substitutes: it has the 12-epoch accuracy as a trial mean only, no 12-epoch training time, no
#: evaluation time and no per-epoch curves (its 200-epoch figures, valid and test, are complete).
DEFAULT_SOURCE_SUBSTITUTES = ("trial-mean", "train200-scaled", "no-eval-time", "final-for-epoch")
DEFAULT_SOURCE_NOTE = ("the embedded default benchmark (the published NAS-Bench-201 figures, nb201_tss) has the "
                       "12-epoch proxy accuracy as a trial mean only, and no 12-epoch training time, evaluation time "
                       "or per-epoch curves, so its documented substitutes are used: "
                       + ", ".join(DEFAULT_SOURCE_SUBSTITUTES)
                       + " (the search sees no trial noise and its clock charges 12/200 of the 200-epoch training "
                       "time, no evaluation pass). The 200-epoch valid and test figures the table reports are the "
                       "published ones. For the paper's exact search protocol pass BENCH= (the official .pth or a "
                       "NATS-Bench file), or SUBSTITUTES= to choose explicitly.")


class UsageError(ValueError):
    """A bad value on the command line (exit status 2, no traceback)."""


@dataclass(frozen=True)
class Algo:
    name: str
    module: str
    kind: str
    cls: type[Searcher]


def choice(what: str, value: str, valid: Iterable[str]) -> str:
    valid = list(valid)
    if value not in valid:
        raise UsageError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
    return value


def check_protocol(protocol: str) -> str:
    return choice("protocol", protocol, PROTOCOLS)


def check_dataset(dataset: str) -> str:
    return choice("dataset", dataset, SEARCH_DATASETS)


def check_seed(raw: str | int) -> int:
    try:
        seed = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"invalid seed {raw!r}; valid: -1 (the paper's runs) or an integer >= 0") from None
    if seed < -1:
        raise UsageError(f"invalid seed {seed}; valid: -1 (the paper's runs) or an integer >= 0")
    return seed


def check_count(what: str, raw: str | int, minimum: int = 1) -> int:
    try:
        return parse_count(what, raw, minimum)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def resolve_algo(name: str, protocol: str, overrides: dict[str, str] | None = None) -> Algo:
    """The registered searcher ``name``, with its preset for ``protocol`` and the overrides checked."""
    choice("algorithm", name, algos.SEARCHERS)
    module = algos.SEARCHERS[name]
    try:
        cls = algos.get_searcher(name)
    except ImportError as exc:
        raise UsageError(f"algorithm {name!r} is registered as module {module!r}, which cannot be imported "
                         f"({exc}); it may not be written yet") from exc
    if protocol not in cls.PRESETS:
        raise UsageError(f"unknown protocol {protocol!r} for {name}; valid: {', '.join(cls.PRESETS)}")
    try:
        cls.preset(protocol, overrides or {})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Algo(name, module, cls.kind, cls)


def smoke_overrides(cls: type[Searcher], protocol: str) -> dict[str, Any]:
    """The CPU-sized shrink of a weight-sharing config as ``--set`` overrides (`algos.oneshot_protocol.smoke_sizes`),
    limited to the fields its Config has; query-only searchers are fast already: nothing."""
    if cls.kind == "query":
        return {}
    names = {f.name for f in dataclasses.fields(cls.PRESETS[protocol])}
    return {k: v for k, v in smoke_sizes(cls.Config).items() if k in names}


def parse_overrides(items: Sequence[str] | None) -> dict[str, str]:
    try:
        return parse_assignments(items)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def parse_options(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` runner options for `SearchContext.options`, each checked against `algos.base.RUNNER_OPTIONS`
    (an unknown key or a bad value is a `UsageError` naming the valid ones)."""
    try:
        return parse_runner_options(parse_overrides(items))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def resolve_bench(source: str | None) -> tuple[str | None, Benchmark]:
    """The source as runs record it (`runners.run.canonical_source`), loaded once here (building its cache before
    workers need it)."""
    if not is_default(source) and source not in NAMED_SOURCES and not Path(source).exists():
        raise UsageError(f"benchmark source {source!r} does not exist; valid: 'default' (the embedded default), "
                         f"{', '.join(map(repr, NAMED_SOURCES))}, a path to a table (*.nbt.npz), a CSV, an official "
                         "NAS-Bench-201 .pth or a NATS-Bench file")
    source = canonical_source(source)  # recorded in every run
    try:
        return source, load_bench(source)
    except TableError as exc:
        raise UsageError(str(exc)) from None


def resolve_substitutes(source: str | None, names: Sequence[str] | None) -> tuple[tuple[str, ...], str]:
    """The substitutes a run may use and why; the embedded default gets its documented set when none are named."""
    try:
        subs = check_substitutes(list(names or ()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if subs:
        return subs, "named by the user"
    if source is None:
        return DEFAULT_SOURCE_SUBSTITUTES, DEFAULT_SOURCE_NOTE
    return (), "none"


def seeds_for(algo: Algo, seed: int, *, runs: int | None, master_seed: int, batch: bool,
              ws_runs: int | None = None) -> list[tuple[int, dict]]:
    """The (seed, origin) of each run that ``seed`` stands for.

    Query-only, ``-1``: the paper's 500 runs (``runs`` to change), seeds derived from ``master_seed``.
    Weight-sharing, ``-1``: one seed drawn at random in 1..100000 as the original scripts do; in a batch, the
    paper's 3 runs (``ws_runs`` to change) with seeds derived from ``master_seed`` (so that re-running the batch
    skips finished runs).
    """
    if seed >= 0:
        return [(seed, {"how": "given"})]
    if algo.kind == "query" or batch:
        if algo.kind == "query":
            n = runs if runs is not None else QUERY_RUNS
        else:
            n = ws_runs if ws_runs is not None else WEIGHT_SHARING_RUNS
        derived = derive_seeds(master_seed, n, DERIVED_HIGH if algo.kind == "query" else SEED_HIGH)
        return [(s, {"how": "derived", "master_seed": master_seed, "run": i, "runs": n}) for i, s in enumerate(derived)]
    return [(draw_seed(), {"how": "drawn", "range": [1, SEED_HIGH]})]


def plan_runs(algo_names: Sequence[str], datasets: Sequence[str] | None, seeds: Sequence[int | str], protocol: str,
              *, results: str | Path = "results", bench: str | None = None, substitutes: Sequence[str] | None = None,
              overrides: Sequence[str] | None = None, master_seed: int = DEFAULT_MASTER_SEED,
              runs: int | None = None, ws_runs: int | None = None, options: dict[str, Any] | None = None,
              batch: bool = False, smoke: bool = False) -> tuple[list[RunSpec], list[str]]:
    """Validate everything and list the runs; also returns notes to print (substitutes in use).

    ``datasets`` are the search datasets; none means the protocol's (`algos.base.Protocol.search_datasets`:
    CIFAR-10 only under ``nb201``, as NAS-Bench-201 searched, each dataset under ``nats``). ``smoke`` shrinks
    weight-sharing configs to a CPU-sized run (see `smoke_overrides`); ``--set`` still wins."""
    check_protocol(protocol)
    datasets = list(datasets) if datasets else list(PROTOCOL_SPECS[protocol].search_datasets)
    for d in datasets:
        check_dataset(d)
    seed_values = [check_seed(s) for s in seeds]
    if master_seed < 0:
        raise UsageError(f"invalid master seed {master_seed}; valid: an integer >= 0")
    if runs is not None:
        check_count("number of runs", runs)
    if ws_runs is not None:
        check_count("number of weight-sharing runs", ws_runs)
    sets = parse_overrides(overrides)
    chosen = [resolve_algo(a, protocol, sets) for a in dict.fromkeys(algo_names)]
    shrink = {a.name: smoke_overrides(a.cls, protocol) if smoke else {} for a in chosen}
    source, bench_obj = resolve_bench(bench)
    subs, note = resolve_substitutes(source, substitutes)
    notes = []
    if source is None and not substitutes:
        notes.append("NOTE: " + DEFAULT_SOURCE_NOTE)
    command = command_line()
    specs: list[RunSpec] = []
    for a in chosen:
        algo_sets = {**shrink[a.name], **sets}
        config = a.cls.preset(protocol, algo_sets)
        for d in dict.fromkeys(datasets):
            for s in dict.fromkeys(seed_values):
                for seed, origin in seeds_for(a, s, runs=runs, ws_runs=ws_runs, master_seed=master_seed,
                                               batch=batch):
                    # what the run will record, and what a finished run must match to be reused
                    fp = fingerprint(algo=a.name, protocol=protocol, dataset=d, seed=seed, bench=bench_obj,
                                     substitutes=subs, config=config, options=dict(options or {}))
                    specs.append(RunSpec(algo=a.name, module=a.module, kind=a.kind, protocol=protocol, dataset=d,
                                         seed=seed, results=str(results), bench=source, substitutes=subs,
                                         substitutes_note=note, overrides=dict(algo_sets), seed_origin=origin,
                                         options=dict(options or {}), command=command, fingerprint=fp))
    default = PROTOCOL_SPECS[protocol].search_datasets
    other = [d for d in dict.fromkeys(datasets) if d not in default]
    if other:
        notes.append(f"searching on {', '.join(other)} under {protocol}, whose own search is on "
                     f"{', '.join(default)}: these runs get their own table rows, labelled with the search dataset")
    return specs, notes


