"""How the benchmark trains every cell, as data: the schedules, the four split settings and the seeds.

Read from NAS-Bench-201's benchmark configs (PROTOCOLS.md 1.1-1.3 and the NB201 paper, section 2.3):

- schedules: ``200`` (the full schedule) and ``12`` (the short proxy schedule the query-only searchers read); both SGD
  with Nesterov momentum 0.9, LR 0.1 annealed by cosine to 0 (evaluated once per epoch, T_max = the epoch count),
  weight decay 5e-4 on every parameter, batch 256, cross-entropy; the network is the stand-alone cell network
  (`supernet.build_network`, C=16, N=5, every BN affine and tracking);
- settings (which images train the weights, which are evaluated): ``cifar10-valid`` (the 25k train half -> the 25k
  valid half, ``x-valid``), ``cifar10`` (all 50k -> the 10k test set, ``ori-test``), ``cifar100`` and
  ``ImageNet16-120`` (the whole training set -> the two halves of the test set, ``x-valid`` and ``x-test``);
- seeds 777, 888 and 999.

Everything is a frozen dataclass a user can print (``python -m runners.generate show``) and override
(``--set epochs=2``); `Schedule.smoke` shrinks a schedule for CPU smoke runs and renames it, so a smoke result is
never mistaken for the benchmark's.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

#: The benchmark's trial seeds.
SEEDS: tuple[int, ...] = (777, 888, 999)


@dataclass(frozen=True)
class Schedule:
    """One training schedule: optimiser, LR schedule, batch sizes and network size."""

    #: Folder name and label (``200``, ``12``, ``smoke-2`` ...); metrics are named by ``epochs``, not by this.
    name: str
    epochs: int
    lr: float = 0.1
    #: Cosine annealing floor (the benchmark anneals to 0).
    eta_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 256
    eval_batch_size: int = 256
    #: Stand-alone network width and cells per stage.
    C: int = 16
    N: int = 5
    #: Evaluate every this many epochs (and always after the last); 1 = the benchmark's per-epoch curves.
    eval_every: int = 1

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"schedule name {self.name!r} must be a non-empty folder name")
        for key in ("epochs", "batch_size", "eval_batch_size", "C", "N", "eval_every"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Schedule.{key} must be a positive integer, got {value!r}")
        for key in ("lr", "eta_min", "momentum", "weight_decay"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"Schedule.{key} must be a finite number >= 0, got {value!r}")
        if self.eta_min > self.lr:
            raise ValueError(f"Schedule.eta_min ({self.eta_min}) is above lr ({self.lr})")

    def lr_at(self, epoch: int) -> float:
        """LR of epoch ``epoch`` (0-based): cosine from ``lr`` to ``eta_min`` over ``epochs``, once per epoch."""
        if not 0 <= epoch < self.epochs:
            raise ValueError(f"epoch {epoch} is outside the {self.epochs}-epoch schedule (0..{self.epochs - 1})")
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.epochs)) / 2

    def evaluates(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) ends with an evaluation pass."""
        return (epoch + 1) % self.eval_every == 0 or epoch == self.epochs - 1

    def replace(self, **changes: Any) -> Schedule:
        return dataclasses.replace(self, **changes)

    def smoke(self, epochs: int = 2, C: int = 2, N: int = 1, batch_size: int = 64) -> Schedule:
        """A CPU-sized copy (same optimiser and LR rule), named ``smoke-E`` so its results say what they are."""
        return dataclasses.replace(self, name=f"smoke-{epochs}", epochs=epochs, C=C, N=N, batch_size=batch_size,
                                   eval_batch_size=batch_size, eval_every=1)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Schedule:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ValueError(f"unknown schedule field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return cls(**raw)


#: The benchmark's two schedules (NB201 hyper-opts ``200E`` and ``12E``).
SCHEDULES: dict[str, Schedule] = {"200": Schedule("200", 200), "12": Schedule("12", 12)}


def schedule(name: str) -> Schedule:
    """A preset schedule by name; an unknown name lists the valid ones."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    return SCHEDULES[name]


def override(sched: Schedule, settings: dict[str, str]) -> Schedule:
    """``key=value`` strings (command lines) applied to a schedule, typed from its fields."""
    hints = typing.get_type_hints(Schedule)
    changes: dict[str, Any] = {}
    for key, raw in settings.items():
        if key not in hints:
            raise ValueError(f"unknown schedule setting {key!r}; valid: {', '.join(hints)}")
        kind = hints[key]
        try:
            if kind is bool:
                if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(raw)
                changes[key] = raw.lower() in ("1", "true", "yes")
            else:
                changes[key] = kind(raw)
        except ValueError:
            raise ValueError(f"invalid value {raw!r} for schedule setting {key} ({kind.__name__})") from None
    return sched.replace(**changes)


@dataclass(frozen=True)
class Setting:
    """One split setting: the benchmark dataset it fills and which images train and evaluate.

    ``weights``: ``train-half`` (the 25k train half of CIFAR-10's training set) or ``train-all`` (the whole
    training set). ``evals``: the evaluation splits (``x-valid``, ``x-test``, ``ori-test``), all with the test
    transform; ``primary`` is the one whose pass time is the table's ``eval_seconds`` (what the simulated clock
    charges as ``valid-per-time``).
    """

    name: str
    #: Data family: cifar10, cifar100 or ImageNet16-120.
    family: str
    weights: str
    evals: tuple[str, ...]
    primary: str

    def __post_init__(self) -> None:
        if self.weights not in WEIGHT_PARTS:
            raise ValueError(f"Setting.weights {self.weights!r} invalid; valid: {', '.join(WEIGHT_PARTS)}")
        valid = EVAL_SPLITS[self.family] if self.family in EVAL_SPLITS else ()
        if not valid:
            raise ValueError(f"unknown data family {self.family!r}; valid: {', '.join(EVAL_SPLITS)}")
        bad = [s for s in self.evals if s not in valid]
        if bad or not self.evals:
            raise ValueError(f"setting {self.name}: evaluation splits {list(self.evals)} invalid; valid: "
                             f"{', '.join(valid)}")
        if self.family == "cifar10" and self.weights == "train-all" and "x-valid" in self.evals:
            raise ValueError(f"setting {self.name}: x-valid is part of the training images when training on all of "
                             "them; evaluate ori-test")
        if self.primary not in self.evals:
            raise ValueError(f"setting {self.name}: primary split {self.primary!r} is not among {list(self.evals)}")


WEIGHT_PARTS = ("train-half", "train-all")
#: Evaluation splits each data family has (CIFAR-10's x-valid is its training set's valid half).
EVAL_SPLITS: dict[str, tuple[str, ...]] = {
    "cifar10": ("x-valid", "ori-test"),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}

#: The benchmark's four settings. NB201 also evaluated ``ori-test`` in every setting; add it with
#: ``dataclasses.replace(SETTINGS[name], evals=...)`` when the extra passes are worth their time.
SETTINGS: dict[str, Setting] = {
    "cifar10-valid": Setting("cifar10-valid", "cifar10", "train-half", ("x-valid",), "x-valid"),
    "cifar10": Setting("cifar10", "cifar10", "train-all", ("ori-test",), "ori-test"),
    "cifar100": Setting("cifar100", "cifar100", "train-all", ("x-valid", "x-test"), "x-valid"),
    "ImageNet16-120": Setting("ImageNet16-120", "ImageNet16-120", "train-all", ("x-valid", "x-test"), "x-valid"),
}

#: Data sources each family may be trained on: the official files, or stand-ins whose results are labelled so.
DATA_SOURCES: dict[str, tuple[str, ...]] = {
    "cifar10": ("cifar10", "cifar10-jpeg", "smoke"),
    "cifar100": ("cifar100", "smoke"),
    "ImageNet16-120": ("ImageNet16-120", "smoke"),
}


def setting(name: str) -> Setting:
    """A preset setting by name; an unknown name lists the valid ones."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; valid: {', '.join(SETTINGS)}")
    return SETTINGS[name]


def check_source(sett: Setting, data: str) -> str:
    """``data`` if it can stand for ``sett``'s family, else an error naming the valid sources."""
    valid = DATA_SOURCES[sett.family]
    if data not in valid:
        raise ValueError(f"data source {data!r} cannot train setting {sett.name}; valid: {', '.join(valid)}")
    return data


__all__ = ["DATA_SOURCES", "EVAL_SPLITS", "SCHEDULES", "SEEDS", "SETTINGS", "WEIGHT_PARTS", "Schedule", "Setting",
           "check_source", "override", "schedule", "setting"]
