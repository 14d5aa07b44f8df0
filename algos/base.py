"""One interface for every searcher, query-only or weight-sharing (as NASLib's single optimizer interface).

A searcher is a class with a frozen `Config` dataclass of its hyper-parameters, named presets of it per protocol
(``nb201``, ``nats``), and a `search` method that takes a `SearchContext` and returns a `SearchResult`: the chosen
cell and a `Trace` of what happened on the way (one row per query, or one per epoch).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench import SEARCH_DATASETS, Benchmark
from search_space import Arch


@dataclass(frozen=True)
class Protocol:
    """What a protocol fixes beyond each searcher's hyper-parameters: what is searched and how it is reported."""

    name: str
    #: Datasets searched when none are named. NAS-Bench-201 searched CIFAR-10 only, for all ten baselines, and
    #: reported the found cell on all three datasets (bb2f405's query-only scripts assert ``dataset == 'cifar10'``;
    #: maintainer, AutoDL-Projects #64, #96); NATS-Bench searched each dataset on its own.
    search_datasets: tuple[str, ...]
    #: How the table lays runs out: ``transfer`` (a row per searcher and search dataset, its cells reported on all
    #: three datasets: NAS-Bench-201's Table 5) or ``own`` (a row per searcher, each dataset's columns from the runs
    #: searched on that dataset: NATS-Bench's tables).
    layout: str


#: The two code eras (PROTOCOLS.md section 6), by name.
PROTOCOL_SPECS: dict[str, Protocol] = {
    "nb201": Protocol("nb201", ("cifar10",), "transfer"),
    "nats": Protocol("nats", SEARCH_DATASETS, "own"),
}
PROTOCOLS = tuple(PROTOCOL_SPECS)
#: Table layouts (`Protocol.layout`).
LAYOUTS = ("transfer", "own")


@dataclass
class Trace:
    """Rows of a search, each a flat dict of plain values (written as CSV/Parquet, read with pandas)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def append(self, **row: Any) -> None:
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        return [r.get(name) for r in self.rows]

    def to_frame(self):  # noqa: ANN201 - pandas is imported lazily to keep searchers light
        import pandas as pd

        return pd.DataFrame(self.rows)


@dataclass
class SearchResult:
    """The chosen cell, the trace, and anything the run must record (e.g. substitutes used, device)."""

    arch: Arch
    trace: Trace
    info: dict[str, Any] = field(default_factory=dict)


# --- runner options: the keys of SearchContext.options ------------------------------------------------------
@dataclass(frozen=True)
class RunnerOption:
    """One runner option (``--option KEY=VALUE``, make's ``OPTIONS=``): how the runner passes something that is not
    a hyper-parameter to a searcher, in `SearchContext.options`."""

    name: str
    help: str
    #: ``parse(key, text)``: the value, or a ValueError naming the option, the bad value and what is valid.
    parse: Callable[[str, str], Any]
    #: What of the value goes into a run's fingerprint (`runners.identity`), or None when the value cannot change
    #: a result (where the data lives, which device runs it, how many loader processes read it); a function may
    #: also return None for the values that change nothing (an option's default).
    identity: Callable[[Any], Any] | None = None


def parse_count(what: str, raw: str | int, minimum: int = 1) -> int:
    """An integer >= ``minimum`` from text; a ValueError names ``what``, the bad value and what is valid."""
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {what} {raw!r}; valid: an integer >= {minimum}") from None
    if n < minimum:
        raise ValueError(f"invalid {what} {n}; valid: an integer >= {minimum}")
    return n


def _count(minimum: int) -> Callable[[str, str], int]:
    return lambda key, raw: parse_count(f"runner option {key}", raw, minimum)


def _text(key: str, raw: str) -> str:
    if not str(raw).strip():
        raise ValueError(f"invalid runner option {key}={raw!r}; valid: a non-empty value")
    return str(raw)


def _data_name(key: str, raw: str) -> str:
    from supernet.datasets import dataset_name  # torch: only when a weight-sharing option is given

    try:
        return dataset_name(raw)
    except ValueError as exc:
        raise ValueError(f"invalid runner option {key}={raw!r}: {exc}") from None


def _same(value: Any) -> Any:
    return value


def _one_of(module: str, values: str) -> Callable[[str, str], str]:
    """A choice among the values ``module.values``, the one list of the layer that uses them (imported when the
    option is given, as `_data_name`: those layers import torch)."""
    def parse(key: str, raw: str) -> str:
        valid = getattr(importlib.import_module(module), values)
        if str(raw) not in valid:
            raise ValueError(f"invalid runner option {key}={raw!r}; valid: {', '.join(valid)}")
        return str(raw)
    return parse


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_flag(what: str, raw: Any) -> bool:
    """A switch: True or False, 1 or 0, or (any case) true/false, yes/no, on/off; anything else is a ValueError
    naming ``what`` (e.g. ``runner option cuda_graphs``) and the bad value. The one reading of an on/off value."""
    if isinstance(raw, bool) or (is_int(raw) and raw in (0, 1)):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{what}={raw!r} is invalid; valid: 0, 1")


def _flag(key: str, raw: str) -> int:
    return int(parse_flag(f"runner option {key}", raw))


#: The ``splits_dir`` value that asks for a seeded split (`supernet.splits.SEEDED`, not imported: torch).
_SEEDED = "seeded"


def _unless(default: Any) -> Callable[[Any], Any]:
    """Identity of an option that changes results only away from its default (the default leaves no trace, so
    naming it explicitly keeps a run's fingerprint)."""
    return lambda value: None if value == default else value


#: Every runner option a searcher reads, in one place: the runner refuses any other key before a run starts, and
#: a new option (e.g. a device data path, a precision) is added here. The weight-sharing searchers read them in
#: `algos.oneshot` (device) and `algos.oneshot.load_search_data` (the rest).
RUNNER_OPTIONS: dict[str, RunnerOption] = {o.name: o for o in (
    RunnerOption("device", "device of the weight-sharing searches: auto, cpu, cuda, cuda:N (also --device, DEVICE=)",
                 _text),
    RunnerOption("data", "images a weight-sharing search trains on, e.g. cifar10-jpeg (default: the search dataset; "
                 "smoke runs: digits)", _data_name, identity=_same),
    RunnerOption("data_dir", "folder of the images (default $TORCH_HOME; make's DATA=)", _text),
    RunnerOption("splits_dir", "folder of the official split files as JSON (default: the shipped official lists), "
                 "or 'seeded' for a seeded split of the same sizes (make's SPLITS=)", _text,
                 identity=lambda value: _SEEDED if value == _SEEDED else "official split files"),
    RunnerOption("subset", "images kept on each side of the split (CPU-sized runs)", _count(1), identity=_same),
    RunnerOption("workers", "data-loader worker processes (default 0: in the searching process)", _count(0)),
    RunnerOption("data_path", "where batches are made: auto (on the device when it is a GPU), host, device; the "
                 "same batches either way", _one_of("supernet.device_data", "DATA_PATHS")),
    RunnerOption("precision", "fp32 (default: the original's numerics, TF32 off), tf32, bf16 (autocast)",
                 _one_of("supernet.runtime", "PRECISIONS"), identity=_unless("fp32")),
    RunnerOption("channels_last", "1 (default) or 0: memory format of the activations (changes the rounding only)",
                 _flag, identity=_unless(1)),
    RunnerOption("cuda_graphs", "0 (default) or 1: capture the mixture/joint passes as CUDA graphs (CUDA only)",
                 _flag),
)}


def parse_runner_options(items: Mapping[str, str]) -> dict[str, Any]:
    """Runner options from ``KEY=VALUE`` text, each checked by its `RunnerOption`; an unknown key or a bad value
    raises ValueError naming the valid ones."""
    out: dict[str, Any] = {}
    for key, raw in items.items():
        option = RUNNER_OPTIONS.get(key)
        if option is None:
            raise ValueError(f"unknown runner option {key!r}; valid: {', '.join(RUNNER_OPTIONS)}")
        out[key] = option.parse(key, raw)
    return out


@dataclass
class SearchContext:
    """Everything a search needs from outside; no globals."""

    bench: Benchmark
    dataset: str
    seed: int
    rng: np.random.Generator
    #: Folder the run may write checkpoints into (weight-sharing searchers resume from it).
    run_dir: Path | None = None
    #: Substitutes the user allowed for figures the source lacks.
    substitutes: tuple[str, ...] = ()
    #: Called with (done, total) as the search advances, for progress bars.
    progress: Callable[[float, float], None] | None = None
    #: Runner options (device, data dir, ...): the keys of `RUNNER_OPTIONS`.
    options: dict[str, Any] = field(default_factory=dict)


class Searcher(ABC):
    """Base of every searcher in `algos/`."""

    #: Command-line name, e.g. ``rea``, ``darts-v1``.
    name: ClassVar[str]
    #: ``query`` (queries the benchmark under a simulated clock) or ``weight-sharing`` (trains a supernet).
    kind: ClassVar[str]
    #: The hyper-parameter dataclass (frozen).
    Config: ClassVar[type]
    #: Protocol name -> preset Config.
    PRESETS: ClassVar[Mapping[str, Any]]

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def preset(cls, protocol: str, overrides: Mapping[str, str] | None = None) -> Any:
        """The protocol's Config with ``key=value`` overrides applied (values typed from the field annotations)."""
        if protocol not in cls.PRESETS:
            raise ValueError(f"unknown protocol {protocol!r} for {cls.name}; valid: {', '.join(cls.PRESETS)}")
        return apply_overrides(cls.PRESETS[protocol], overrides or {})

    @abstractmethod
    def search(self, ctx: SearchContext) -> SearchResult:
        """Run one search and return the chosen cell with its trace."""


# --- settings: the domain of each hyper-parameter -------------------------------------------------------------
def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (a bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require(name: str, value: Any, valid: str, ok: Callable[[Any], bool]) -> None:
    """Refuse a setting no run could use, naming the field, the bad value and what is valid. Config dataclasses call
    it from ``__post_init__``, so a ``--set`` is checked once, when the run is planned, not inside every run."""
    if not ok(value):
        raise ValueError(f"setting {name}={value!r} is invalid; valid: {valid}")


def parse_assignments(items: Iterable[str] | None) -> dict[str, str]:
    """``["key=value", ...]`` from a command line -> ``{key: value}``; a malformed item names itself."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"invalid setting {item!r}; expected key=value (e.g. time_budget=20000)")
        out[key.strip()] = value.strip()
    return out


def apply_overrides(config: Any, overrides: Mapping[str, str]) -> Any:
    """Replace fields of a frozen dataclass from strings; an unknown key or bad value names the valid choices."""
    if not overrides:
        return config
    hints = typing.get_type_hints(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    changes: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key not in names:
            raise ValueError(f"unknown setting {key!r} for {type(config).__name__}; valid: {', '.join(names)}")
        changes[key] = _coerce(key, raw, hints[key])
    return dataclasses.replace(config, **changes)


def _coerce(key: str, raw: Any, hint: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and type(None) in args):
        if raw.lower() in ("none", "null"):
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        for c in choices:
            if str(c) == raw:
                return c
        raise ValueError(f"invalid value {raw!r} for {key}; valid: {', '.join(map(str, choices))}")
    try:
        if hint is bool:
            return parse_flag(key, raw)
        if hint in (int, float, str):
            return hint(raw)
        if origin is tuple:
            inner = args[0] if args else str
            return tuple(inner(x) for x in raw.replace(",", " ").split())
    except ValueError:
        raise ValueError(f"invalid value {raw!r} for {key}: expected {getattr(hint, '__name__', hint)}") from None
    raise ValueError(f"setting {key} of type {hint} cannot be set from the command line")
