"""The meta step of a benchmark build: which cells, settings, seeds and schedules to train, as a plan file.

`make_plan` turns a selection (``all``, a range ``FROM..TO`` of official indices, inclusive, ``resnet`` for index
11472, an index, an architecture string, or a comma-separated mix) into a `Plan`; `write_plan` stores it as
``ROOT/plan.json`` (atomic), which every later step reads (`read_plan`): the drivers take its `Plan.jobs`, and
`bench.generate.merge` its layout. A plan is fixed once written: writing a different plan into a root that already
holds one is refused, so the results under a root always belong to the plan beside them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generate.files import read_json, write_json
from bench.generate.job import Job, JobOptions, options_from_dict
from bench.generate.protocol import SCHEDULES, SEEDS, SETTINGS, Schedule, check_source, setting
from search_space import NUM_ARCHS, Arch

PLAN = "plan.json"
PLAN_FORMAT = "nb201-harness-generate-plan"
PLAN_VERSION = 1
#: The ResNet-like cell of the NAS-Bench-201 paper.
RESNET_INDEX = 11472
NAMED = {"resnet": RESNET_INDEX}


def select_archs(spec: str | int | Iterable[str | int]) -> tuple[int, ...]:
    """Official indices of a selection, in the order given, without repeats."""
    if isinstance(spec, int):
        items: list[str] = [str(spec)]
    elif isinstance(spec, str):
        items = [spec]
    else:
        items = [str(s) for s in spec]
    out: list[int] = []
    for item in items:
        # Arch strings contain no commas, so a comma always separates items.
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            out.extend(_select_one(part))
    if not out:
        raise ValueError(f"the selection {spec!r} names no architecture; valid: all, FROM..TO, resnet, an index "
                         f"0..{NUM_ARCHS - 1}, an architecture string")
    return tuple(dict.fromkeys(out))


def _select_one(part: str) -> list[int]:
    if part == "all":
        return list(range(NUM_ARCHS))
    if part.lower() in NAMED:
        return [NAMED[part.lower()]]
    if ".." in part:
        lo, _, hi = part.partition("..")
        try:
            a, b = int(lo), int(hi)
        except ValueError:
            raise ValueError(f"range {part!r} must be FROM..TO with integers (inclusive)") from None
        if not (0 <= a <= b < NUM_ARCHS):
            raise ValueError(f"range {part!r} must satisfy 0 <= FROM <= TO <= {NUM_ARCHS - 1}")
        return list(range(a, b + 1))
    try:
        return [Arch.parse(part).index]
    except ValueError as exc:
        raise ValueError(f"cannot read {part!r} as an architecture ({exc}); valid: all, FROM..TO, resnet, an index "
                         f"0..{NUM_ARCHS - 1}, an architecture string") from None


@dataclass(frozen=True)
class Plan:
    """Cells x settings x seeds x schedules, plus the data sources and the `JobOptions` every job shares."""

    archs: tuple[int, ...]
    settings: tuple[str, ...] = tuple(SETTINGS)
    seeds: tuple[int, ...] = SEEDS
    schedules: tuple[Schedule, ...] = (SCHEDULES["12"], SCHEDULES["200"])
    #: Data source per family (cifar10, cifar100, ImageNet16-120); the family's own set when absent.
    data: tuple[tuple[str, str], ...] = ()
    options: JobOptions = JobOptions()

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", tuple(sorted(dict(self.data).items())))  # one spelling, comparable plans
        if not self.archs or not self.settings or not self.seeds or not self.schedules:
            raise ValueError("a plan needs at least one architecture, setting, seed and schedule")
        for s in self.settings:
            setting(s)
        sources = dict(self.data)
        for s in self.settings:
            sett = setting(s)
            check_source(sett, sources.get(sett.family, sett.family))
        epochs = [s.epochs for s in self.schedules]
        names = [s.name for s in self.schedules]
        if len(set(epochs)) != len(epochs) or len(set(names)) != len(names):
            raise ValueError(f"the schedules of a plan need distinct names and epoch counts (metrics are named "
                             f"@EPOCHS), got {list(zip(names, epochs, strict=True))}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"repeated seeds in {list(self.seeds)}")

    def source(self, setting_name: str) -> str:
        family = setting(setting_name).family
        return dict(self.data).get(family, family)

    def jobs(self) -> list[Job]:
        """Every job, shortest schedule first, then cell by cell, so a partial build fills whole cells early."""
        out = []
        for sched in sorted(self.schedules, key=lambda s: s.epochs):
            for index in self.archs:
                for sett in self.settings:
                    for seed in self.seeds:
                        out.append(Job(index, sett, seed, sched, self.source(sett), self.options))
        return out

    @property
    def is_smoke(self) -> bool:
        return any(self.source(s) == "smoke" for s in self.settings)

    def as_dict(self) -> dict[str, Any]:
        """Flat, like a job: the options sit beside the selection (the layout of ``plan.json``)."""
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "archs": list(self.archs),
                "settings": list(self.settings), "seeds": list(self.seeds),
                "schedules": [s.as_dict() for s in self.schedules], "data": dict(self.data),
                **dataclasses.asdict(self.options)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        if raw.get("format") != PLAN_FORMAT or raw.get("version") != PLAN_VERSION:
            raise ValueError(f"not a version-{PLAN_VERSION} plan file (format {raw.get('format')!r}, "
                             f"version {raw.get('version')!r})")
        return cls(archs=tuple(raw["archs"]), settings=tuple(raw["settings"]), seeds=tuple(raw["seeds"]),
                   schedules=tuple(Schedule.from_dict(s) for s in raw["schedules"]),
                   data=tuple(sorted(raw["data"].items())), options=options_from_dict(raw))


def make_plan(archs: str | int | Iterable[str | int], *, settings: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None, schedules: Sequence[str | Schedule] | None = None,
              data: dict[str, str] | None = None, **options: Any) -> Plan:
    """A `Plan` from a selection and names (defaults: the four settings, seeds 777/888/999, schedules 12 and 200);
    ``options`` are the `JobOptions` fields (``data_dir=``, ``device=``, ``threads=`` ...)."""
    scheds = tuple(SCHEDULES[s] if isinstance(s, str) and s in SCHEDULES else s for s in (schedules or ("12", "200")))
    for s in scheds:
        if not isinstance(s, Schedule):
            raise ValueError(f"unknown schedule {s!r}; valid: {', '.join(SCHEDULES)} (or a Schedule)")
    return Plan(archs=select_archs(archs), settings=tuple(settings or SETTINGS), seeds=tuple(seeds or SEEDS),
                schedules=scheds, data=tuple(sorted((data or {}).items())), options=JobOptions(**options))


def plan_path(root: Path | str) -> Path:
    return Path(root) / PLAN


def write_plan(plan: Plan, root: Path | str, *, replace: bool = False) -> Path:
    """Store ``plan`` as ``ROOT/plan.json``; a different plan already there is an error unless ``replace``."""
    path = plan_path(root)
    if path.is_file() and not replace:
        old = read_plan(root)
        if old != plan:
            raise ValueError(f"{path} already holds a different plan; use another root, or replace it knowingly "
                             f"(results of the old plan stay in {Path(root) / 'runs'})")
        return path
    return write_json(path, plan.as_dict())


def read_plan(root: Path | str) -> Plan:
    """The plan of a build root (or a plan file given directly)."""
    path = Path(root)
    path = path if path.is_file() else plan_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no plan at {path}; write one first: python -m runners.generate plan ...")
    return Plan.from_dict(read_json(path))


__all__ = ["NAMED", "PLAN", "RESNET_INDEX", "Plan", "make_plan", "plan_path", "read_plan", "select_archs",
           "write_plan"]
