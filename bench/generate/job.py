"""A job of a benchmark build, as data: one (cell, setting, seed, schedule) with the options it runs under, where its
files live, and the status it reports. Plain and torch-free, so planning, status and merging load fast; the
training itself is `bench.generate.train.train_job`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generate.protocol import Schedule, check_source, setting
from search_space import Arch

#: The devices `supernet.runtime.pick_device` takes, checked when a plan is made (not hours later, in a job).
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")

RESULT = "result.json"
CHECKPOINT = "checkpoint.pt"
#: The final weights of a job (a state dict of `supernet.Network`), kept when the plan asks (`keep_weights`).
WEIGHTS = "weights.pt"
RESULT_FORMAT = "nb201-harness-train-result"
RESULT_VERSION = 1
#: Values of `JobOptions.data_path`: `supernet.device_data.DATA_PATHS` (whose rule `JobOptions.on_device` applies),
#: repeated here so that a plan is checked when it is made without importing torch (a test keeps the two equal).
DATA_PATHS = ("auto", "host", "device")


@dataclass(frozen=True)
class JobOptions:
    """Where a job finds its data and how it runs: the same for every job of a plan, so a plan holds it once.

    None of it is part of a job's identity except the two caps (a checkpoint moves between machines, devices and
    thread counts; it does not move between different training sets)."""

    data_dir: str | None = None
    splits_dir: str | None = None
    #: Caps on training images and on each evaluation split (a seeded choice; CPU-sized runs).
    subset: int | None = None
    eval_subset: int | None = None
    #: ``cpu``, ``cuda``, ``cuda:N`` or None (CUDA when present).
    device: str | None = None
    #: torch intra-op threads (None: leave torch's default).
    threads: int | None = None
    #: Data-loading worker processes (0: in this process); the batches do not depend on it.
    loader_workers: int = 0
    #: Keep each trial's final weights (``weights.pt`` in the job's folder), for the user API's ``get_net_param``.
    keep_weights: bool = False
    #: Where batches are made: ``host`` (NumPy), ``device`` (`supernet.device_data`: images held on the device) or
    #: ``auto`` (the device when it is a GPU and no loader workers are asked for); the batches are the same.
    data_path: str = "auto"

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        for name in ("subset", "eval_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.device is not None and not _DEVICE.match(self.device):
            raise ValueError(f"unknown device {self.device!r}; valid: auto, cpu, cuda, cuda:N")
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers must be >= 0, got {self.loader_workers}")
        if not isinstance(self.keep_weights, bool):
            raise ValueError(f"keep_weights must be True or False, got {self.keep_weights!r}")
        if self.data_path not in DATA_PATHS:
            raise ValueError(f"unknown data_path {self.data_path!r}; valid: {', '.join(DATA_PATHS)}")
        if self.data_path == "device" and self.loader_workers:
            raise ValueError(f"data_path='device' makes batches on the device in the job's process; "
                             f"loader_workers={self.loader_workers} asks for loader processes (use 0)")

    def on_device(self, device_type: str) -> bool:
        """Whether a job on a ``device_type`` device makes its batches there (`supernet.device_data.batches_on_device`;
        torch is imported here, when a job trains)."""
        from supernet.device_data import batches_on_device

        return batches_on_device(self.data_path, device_type, self.loader_workers, "loader_workers")


@dataclass(frozen=True)
class Job:
    """One (cell, setting, seed, schedule) training run and everything needed to run it anywhere."""

    index: int
    setting: str
    seed: int
    schedule: Schedule
    #: Data source: the official set of the setting's family, ``cifar10-jpeg`` or ``smoke``.
    data: str
    options: JobOptions = JobOptions()

    def __post_init__(self) -> None:
        Arch.from_index(self.index)  # range check with a clear message
        check_source(setting(self.setting), self.data)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def arch(self) -> Arch:
        return Arch.from_index(self.index)

    def folder(self, root: Path | str) -> Path:
        return Path(root) / "runs" / f"{self.index:05d}" / self.setting / f"seed-{self.seed}" / self.schedule.name

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (a checkpoint from a different one is refused)."""
        return {"index": self.index, "setting": self.setting, "seed": self.seed, "schedule": self.schedule.as_dict(),
                "data": self.data, "subset": self.options.subset, "eval_subset": self.options.eval_subset}

    def as_dict(self) -> dict[str, Any]:
        """Flat: the job's own fields and its options side by side (the layout of ``result.json``'s ``job``)."""
        return {"index": self.index, "setting": self.setting, "seed": self.seed,
                "schedule": self.schedule.as_dict(), "data": self.data, **dataclasses.asdict(self.options)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Job:
        return cls(raw["index"], raw["setting"], raw["seed"], Schedule.from_dict(raw["schedule"]), raw["data"],
                   options_from_dict(raw))


def options_from_dict(raw: dict[str, Any]) -> JobOptions:
    """The `JobOptions` fields of a flat dict (a plan or a job as written); absent ones take their defaults."""
    raw = {"loader_workers": raw["workers"], **raw} if "workers" in raw else raw  # its name in the first plans
    return JobOptions(**{f.name: raw[f.name] for f in dataclasses.fields(JobOptions) if f.name in raw})


@dataclass(frozen=True)
class JobStatus:
    """What a job reports back to its dispatcher (small; the figures stay in the job's folder)."""

    folder: str
    #: ``done`` (trained now), ``skipped`` (was already done), ``stopped`` (left resumable after ``stop_after``) or
    #: ``failed`` (set by a dispatcher).
    status: str
    epochs_done: int
    seconds: float
    #: Why a job failed (a dispatcher's record; `train_job` raises instead).
    error: str | None = None


__all__ = ["CHECKPOINT", "RESULT", "RESULT_FORMAT", "RESULT_VERSION", "WEIGHTS", "Job", "JobOptions", "JobStatus",
           "options_from_dict"]
